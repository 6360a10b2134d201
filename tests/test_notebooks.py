"""The companion notebooks run top to bottom in QUICK mode on the venv's own `python3` kernel,
and are stored without outputs. Each ends by asserting what it teaches, so a broken engine
breaks its notebook."""
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_there_are_six_notebooks_stored_without_outputs():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]
    for path in NOTEBOOKS:
        book = json.loads(path.read_text())
        assert book["metadata"]["kernelspec"]["name"] == "python3", path.name
        for cell in book["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has stored outputs"
        sources = ["".join(c["source"]) for c in book["cells"]]
        assert any("QUICK = True" in s for s in sources) and "Questions" in sources[-1], path.name
        assert "assert" in sources[-2], f"{path.name}: the last code cell asserts what it teaches"


# What a reader should never see in a notebook's output (the issue: a tqdm warning from pooch's
# import, and numpy scalars printed as np.float64(10.66)).
NOISE = ("TqdmWarning", "np.float64(", "np.int64(", "Traceback")


def _execute(path: Path) -> str:
    """Run one notebook on a fresh kernel; '' when it ran to the end with clean output, else the
    failure or the noisy output."""
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        # two kernels share two cores: one torch thread each, no oversubscription
        client.execute(env={**os.environ, "OMP_NUM_THREADS": "1"})
    except Exception as exc:  # CellExecutionError carries the cell and its traceback
        return f"{type(exc).__name__}: {exc}"
    for index, cell in enumerate(book.cells):
        for output in cell.get("outputs", []):
            text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
            noise = [n for n in NOISE if n in text]
            if noise:
                return f"cell {index} printed {noise}: {text[:300]}"
        missing = figures_without_an_image(cell)
        if missing:
            return f"cell {index}: {missing}"
    return ""


def figures_without_an_image(cell) -> str:
    """'' when every figure the cell draws (a show(...) call) left a PNG in its outputs; else why not.
    (A matplotlib Figure made without pyplot stores only `<Figure size ... with N Axes>`.)"""
    if cell.get("cell_type") != "code":
        return ""
    drawn = sum(line.lstrip().startswith("show(") for line in "".join(cell.source).splitlines())
    images = sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
    texts = [str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", [])]
    if drawn and images < drawn:
        return f"{drawn} figure(s) drawn, {images} PNG(s) stored; text instead: {[t for t in texts if 'Figure' in t][:2]}"
    return ""


def test_a_figure_cell_without_an_image_is_caught():
    # the check the executed notebooks go through, on a figure cell as the old show() left it
    cell = nbformat.v4.new_code_cell("show(plots.psnr_figure(curves))")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "<Figure size 1260x990 with 6 Axes>"})]
    assert "1 figure(s) drawn, 0 PNG(s)" in figures_without_an_image(cell)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<PNG>"})]
    assert figures_without_an_image(cell) == ""


@pytest.fixture(scope="module")
def executed(request):
    """Every notebook whose test was selected (`-k 06` runs one) run once, two at a time (each on its own
    kernel process; CI has two cores)."""
    selected = [p for p in NOTEBOOKS if any(f"[{p.stem}]" in item.nodeid for item in request.session.items)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(selected, pool.map(_execute, selected)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_quick_mode(path, executed):
    assert not executed[path], executed[path]
