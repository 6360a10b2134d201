"""The runtime install (requirements.txt, what a Space installs) is lean and sufficient: it pulls in
no test or notebook tooling, and the app and a short fit work with that tooling absent."""
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Distributions that only the tests, the notebook UI or optional extras need.
DEV_ONLY = {"pytest", "pytest-xdist", "playwright", "jupyterlab", "notebook", "nbclient", "nbformat", "ipykernel", "ray", "pyarrow"}
# Their top-level modules, blocked in the runtime check below.
DEV_MODULES = ["pytest", "_pytest", "xdist", "playwright", "jupyterlab", "notebook", "nbclient", "nbformat", "ipykernel",
               "ray", "pyarrow"]


def requirement_lines(path: Path) -> list[str]:
    """Requirement specifiers of a pip requirements file, following `-r` includes; `-e .` skipped."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-e"):
            continue
        if line.startswith("-r"):
            lines += requirement_lines(path.parent / line[2:].strip())
            continue
        lines.append(line)
    return lines


def runtime_closure(specifiers: list[str]) -> set[str]:
    """Every distribution the specifiers pull in, transitively, as installed in this venv (markers
    evaluated without extras)."""
    seen, todo = set(), [Requirement(s) for s in specifiers]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            child = Requirement(text)
            if child.marker is None or child.marker.evaluate({"extra": ""}):
                todo.append(child)
    return seen


def test_requirements_txt_pulls_in_no_test_or_notebook_tooling():
    runtime = runtime_closure(requirement_lines(ROOT / "requirements.txt"))
    assert {"torch", "gradio", "librosa", "scikit-image", "plotly"} <= runtime
    assert not runtime & DEV_ONLY, f"requirements.txt pulls in {sorted(runtime & DEV_ONLY)}"
    dev = {canonicalize_name(Requirement(s).name) for s in requirement_lines(ROOT / "requirements-dev.txt")}
    assert {"pytest", "playwright", "nbclient", "ipykernel"} <= dev


def test_readme_and_ci_install_the_dev_file_and_run_pytest():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    command = ("python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && "
               ".venv/bin/python -m pytest -q")
    assert command in readme and command in ci
    assert re.search(r"\.venv/bin/pip install -q -r requirements-dev\.txt", ci)
    assert ".venv/bin/python -m pytest -q" in ci


BLOCKER = """
import importlib.abc, sys
BLOCKED = set(json.loads(sys.argv[1]))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not a runtime requirement)")
        return None
sys.meta_path.insert(0, Block())
"""


def test_app_cli_and_a_five_step_fit_work_without_dev_tooling(tmp_path):
    # As in a Space that installed requirements.txt only: importing any dev tool fails.
    script = "import json\n" + BLOCKER + f"""
sys.path.insert(0, {str(ROOT)!r})
import app, spectral_lab
from spectral_lab.cli import main
assert app.build_demo is not None
code = main(["fit", "--signal", "sines", "--length", "256", "--width", "16", "--steps", "5",
             "--out", {str(tmp_path / "fit")!r}, "--quiet"])
assert code == 0, code
leaked = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)
assert not leaked, leaked
print("runtime ok")
"""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script, json.dumps(DEV_MODULES)], capture_output=True, text=True,
                            timeout=180, cwd=tmp_path, env=env)
    assert result.returncode == 0 and "runtime ok" in result.stdout, result.stderr[-3000:]
    assert json.loads((tmp_path / "fit" / "metrics.json").read_text())["steps"] == 5


def test_the_blocker_would_catch_a_runtime_import_of_a_dev_tool(tmp_path):
    # The check above can fail: code that imports pytest at run time is refused.
    script = "import json\n" + BLOCKER + "import pytest\n"
    result = subprocess.run([sys.executable, "-c", script, json.dumps(DEV_MODULES)], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode != 0 and "blocked" in result.stderr
