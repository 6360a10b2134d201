"""Re-run the README's NeRN/SBS accuracy-vs-CR table with the command printed above it and check
that every cell's mean lands inside the README's stated mean ± std (and that every ranking the
README states still holds).

    python bench/bench_nern_claims.py            # ~6 min on 2 CPU cores (24 runs of 1000 steps)
    python -m spectral_lab bench nern_claims     # the same

Exit 0 when the table reproduces, 1 when a cell falls outside its interval. Not a test: the
suite never runs it (minutes), CI machines can.
"""
from __future__ import annotations

import argparse
import csv
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- nern-table -->", "<!-- /nern-table -->"


def readme_claims(readme: Path) -> tuple[list[str], dict[tuple[str, str], tuple[float, float]], list[str]]:
    """(the sweep command, {(setting, CR): (mean, std)}, the ranking lines) from the README block."""
    text = readme.read_text()
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    command = next(line for line in block.splitlines() if "spectral_lab nern sweep" in line).strip()
    cells = {}
    for line in block.splitlines():
        match = re.match(r"\|\s*(\w+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+) ± ([\d.]+)\s*\|", line)
        if match:
            cells[(match.group(1), match.group(2))] = (float(match.group(3)), float(match.group(4)))
    rankings = [line.strip("- ").strip() for line in block.splitlines() if line.startswith("- CR")]
    return shlex.split(command.split("#")[0]), cells, rankings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    args = parser.parse_args()
    command, claims, rankings = readme_claims(Path(args.readme))
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "spectral_lab"] + command[command.index("nern"):] + ["--out", out]
        print("running:", " ".join(argv[1:]), flush=True)
        subprocess.run(argv, check=True, cwd=ROOT)
        summary = list(csv.DictReader(open(Path(out) / "summary.csv")))
        now_rankings = (Path(out) / "summary.md").read_text().split("\n\n", 1)[-1].strip().splitlines()
    failures = 0
    print(f"\n{'setting':>8} {'CR %':>6}  README            now               inside?")
    for row in summary:
        key = (row["setting"], f"{float(row['CR_%']):g}")
        mean_now = float(row["accuracy_%"].split("±")[0])
        if key not in claims:
            print(f"{key[0]:>8} {key[1]:>6}  (not in the README)  {row['accuracy_%']}")
            continue
        mean, std = claims[key]
        inside = mean - std <= mean_now <= mean + std
        failures += not inside
        print(f"{key[0]:>8} {key[1]:>6}  {mean:5.1f} ± {std:4.1f}      {row['accuracy_%']:<16}  {'yes' if inside else 'NO'}")
    stated = [line for line in rankings if "ahead" in line]
    for line in stated:
        winner, cr = line.split(":")[1].split()[0], line.split(":")[0]
        held = any(r.startswith(cr) and f": {winner} ahead" in r for r in now_rankings)
        failures += not held
        print(f"ranking '{line.split(' (')[0]}': {'holds' if held else 'DOES NOT HOLD'}")
    print("reproduced" if not failures else f"{failures} claim(s) not reproduced")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
