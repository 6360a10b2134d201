"""The wheels a CUDA machine without a package index lacks, so the real app runs there: Gradio,
plotly, librosa and soundfile at this venv's versions, with what they need that the machine does not
hold (device_packages.txt, its package list), for CPython 3.12 on manylinux x86-64, into
`.gpu_carry/wheels/`, and ../shared's tetris.wav beside them (the benches' audio). The folder is
git-ignored; copy the checkout with it to that machine, where bench/gpu/run.sh installs the wheels.

    .venv/bin/python bench/gpu/fetch_wheels.py [--dest .gpu_carry]

Checks the set before it is copied: every requirement of every wheel (markers read for Python 3.12 on
Linux) is met by a wheel in the set or a package already there; one version of each; and the total
stays small (under 64 MiB).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent
TETRIS = HERE.parents[2] / "shared" / "data" / "audio" / "tetris.wav"
TOP = ["gradio", "plotly", "librosa", "soundfile"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]
DEVICE_PYTHON = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
                 "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
                 "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}
LIMIT_MB = 56  # of the 64 MiB a call may carry: room for the working tree itself


def device_packages() -> set[str]:
    lines = (HERE / "device_packages.txt").read_text().splitlines()
    return {canonicalize_name(line) for line in lines if line.strip() and not line.startswith("#")}


def download(into: Path) -> list[Path]:
    pins = [f"{name}=={version(name)}" for name in TOP]
    command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", "3.12",
               "--implementation", "cp", "-d", str(into), *(f"--platform={p}" for p in PLATFORMS), *pins]
    subprocess.run(command, check=True)
    return sorted(into.glob("*.whl"))


def unmet(wheels: list[Path], present: set[str]) -> list[str]:
    """Requirements no carried wheel and no package of the machine meets, by name."""
    missing = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            lines = archive.read(metadata).decode().splitlines()
        for line in lines:
            if not line.startswith("Requires-Dist:"):
                continue
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.marker and not requirement.marker.evaluate(DEVICE_PYTHON):
                continue
            if canonicalize_name(requirement.name) not in present:
                missing.append(f"{wheel.name} needs {requirement}")
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(".gpu_carry"))
    args = parser.parse_args()
    wheels_dir = args.dest / "wheels"
    there = device_packages()
    with tempfile.TemporaryDirectory() as tmp:
        every = download(Path(tmp))
        carried = [w for w in every if canonicalize_name(parse_wheel_filename(w.name)[0]) not in there]
        names = [canonicalize_name(parse_wheel_filename(w.name)[0]) for w in carried]
        if len(names) != len(set(names)):
            print("two versions of one package: the install there would stop", file=sys.stderr)
            return 1
        problems = unmet(carried, there | set(names))
        shutil.rmtree(args.dest, ignore_errors=True)
        wheels_dir.mkdir(parents=True)
        for wheel in carried:
            shutil.copy2(wheel, wheels_dir / wheel.name)
    if TETRIS.is_file():
        shutil.copy2(TETRIS, args.dest / TETRIS.name)
    megabytes = sum(f.stat().st_size for f in args.dest.rglob("*") if f.is_file()) / 2**20
    print(f"{len(carried)} wheels, {megabytes:.1f} MiB in {args.dest}/ with{'' if TETRIS.is_file() else 'out'} "
          f"tetris.wav (of {len(every)} wheels the app needs; the rest are on the GPU machine): "
          f"{', '.join(sorted(names))}")
    for problem in problems:
        print(f"unmet: {problem}", file=sys.stderr)
    if megabytes > LIMIT_MB:
        print(f"over {LIMIT_MB} MiB: the working tree could not travel with them", file=sys.stderr)
    return 1 if problems or megabytes > LIMIT_MB else 0


if __name__ == "__main__":
    sys.exit(main())
