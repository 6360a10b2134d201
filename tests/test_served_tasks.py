"""Tasks in the lab, through the served app (issue 36, part 2): a denoising or inpainting run trained by a
link through `/train_link`, as the Train button streams it, by a first and a third visitor. The held-out
PSNR curve arrives beside the train one, the table has both columns, the status ranks by held-out
PSNR, the presets train, and a bad task setting is one line before any work.

Small sizes and steps: the presets' own claims are tests/test_presets.py's, in process."""
import json

import pytest

from served_app import ARTIFACTS, served_app
from spectral_lab.lab.variants import display_name

gradio_client = pytest.importorskip("gradio_client")

DENOISE = "signal=camera&image_size=16&gray=true&task=denoise&noise_std=0.2&steps=30&seed=0&methods=relu_pe,siren"
STATUS, CURVES, TABLE, GALLERY, ERRORS = 0, 1, 2, 4, 14  # /train_link's outputs (ui/lab/events.py train_outputs)


@pytest.fixture(scope="module")
def url():
    with served_app("served-tasks.log", SPECTRAL_LAB_CALIBRATE="0", SPECTRAL_LAB_CONCURRENCY="1",
                    SPECTRAL_LAB_RUN_BUDGET_S="86400", OMP_NUM_THREADS="1") as address:
        yield address


def _visitor(url):
    return gradio_client.Client(url, verbose=False)


def _last(updates, index):
    """The last value the run sent for one output (a frame carries only what changed; an update wraps it)."""
    for update in reversed(updates):
        value = update[index]
        if isinstance(value, dict) and value.get("__type__") == "update":
            value = value.get("value")
        if value is not None:
            return value
    return None


def _traces(plot) -> list[dict]:
    """A plot output's plotly traces (gradio_client gives the figure as JSON text)."""
    figure = plot["plot"] if isinstance(plot, dict) else plot
    return json.loads(figure)["data"] if isinstance(figure, str) else figure["data"]


def _check_task_run(updates, methods):
    status = updates[-1][STATUS]
    assert status.startswith("**Finished**") and "held-out" in status.split("Best:")[1], status
    table = _last(updates, TABLE)
    assert table["headers"][:3] == ["method", "held-out PSNR (dB)", "train PSNR (dB)"], table["headers"]
    rows = {row[0]: row for row in table["data"]}
    assert set(rows) == set(methods), rows
    names = {trace.get("name"): trace for trace in _traces(_last(updates, CURVES))}
    for method in methods:  # a variant by its display name (siren ω₀=90)
        held_out, train = (names[f"{display_name(method)} · {which}"] for which in ("held-out", "train"))
        assert held_out["line"]["dash"] == "dash" and train["line"]["dash"] == "solid"  # as notebook 06 draws them
        assert held_out["line"]["color"] == train["line"]["color"]  # one colour per method
        assert len(held_out["x"]) > 3 and abs(held_out["y"][-1] - float(rows[method][1])) < 0.05  # ends at the table's
    return status, rows


def test_a_denoising_run_shows_held_out_and_train_curves_to_the_first_and_the_third_visitor(url):
    first, second, third = (_visitor(url) for _ in range(3))
    jobs = [first.submit(DENOISE, api_name="/train_link"),
            second.submit("signal=sines&length=256&steps=20&methods=relu", api_name="/train_link"),  # a fit between
            third.submit(DENOISE, api_name="/train_link")]
    results = [list(job) for job in jobs]
    rows = [_check_task_run(results[i], ["relu_pe", "siren"])[1] for i in (0, 2)]
    assert {m: r[1:3] for m, r in rows[0].items()} == {m: r[1:3] for m, r in rows[1].items()}  # same seed, same run
    fit = _last(results[1], TABLE)
    assert fit["headers"][1] == "PSNR (dB)" and "train PSNR (dB)" not in fit["headers"]  # a fit: as before
    assert all("held-out" not in (t.get("name") or "") for t in _traces(_last(results[1], CURVES)))
    gallery = [item["caption"] for item in _last(results[2], GALLERY)]
    assert gallery[0].startswith("given: target + noise σ 0.2") and gallery[1].startswith("clean target"), gallery


def test_an_inpainting_link_applies_its_keep_fraction_and_marks_the_trained_pixels(url):
    updates = list(_visitor(url).submit("?signal=camera&image_size=16&task=inpaint&keep=0.3&steps=20&methods=relu_pe",
                                        api_name="/train_link"))
    _check_task_run(updates, ["relu_pe"])
    share = next(value for update in updates for value in update if isinstance(value, str) and "methods=" in value)
    assert "task=inpaint" in share and "keep=0.3" in share, share
    gallery = [item["caption"] for item in _last(updates, GALLERY)]
    assert gallery[0] == "given: 77 of 256 samples (30%)", gallery  # round(0.3 · 256)
    titles = json.dumps(json.loads(_last(updates, ERRORS)["plot"])["layout"], ensure_ascii=False)
    assert "held-out error" in titles and "blue: a pixel the network was trained on" in titles


@pytest.mark.parametrize("link, words", [
    ("task=inpaint&keep=0", "keep must be in (0, 1]"),
    ("task=superres&factor=8", "factor=8 leaves 2×2 = 4 samples"),
    ("task=denoise&noise_std=-1", "noise_std=-1.0 is out of range"),
    ("task=denoise&methods=relu_pe%2Bbn", "+bn runs only with task fit")])
def test_a_bad_task_setting_is_one_line_before_any_work(url, link, words):
    base = "signal=camera&image_size=16&steps=10" + ("" if "methods=" in link else "&methods=relu")
    updates = list(_visitor(url).submit(f"{base}&{link}", api_name="/train_link"))
    status = updates[-1][STATUS]
    assert status.startswith("⚠️") and words in status and "\n" not in status.strip(), status
    assert _last(updates, TABLE) is None and _last(updates, CURVES) is None  # nothing trained
    assert "Traceback" not in (ARTIFACTS / "served-tasks.log").read_text()


@pytest.mark.parametrize("title", ["Denoising: ReLU+PE vs SIREN ω₀ 30 vs SIREN ω₀ 90",
                                   "Inpainting: ReLU+PE, SIREN ω₀ 30 and 90, hash grid"])
def test_a_task_preset_trains_its_method_variants(url, title):
    from spectral_lab.lab import parse_share_query, preset_query

    link = preset_query(title, "cpu")
    _, methods = parse_share_query(link)
    updates = list(_visitor(url).submit(f"{link}&image_size=16&steps=20", api_name="/train_link"))
    _check_task_run(updates, methods)


def test_a_replayed_or_recorded_task_run_carries_its_held_out_curve():
    """In process: the replay at an early step has the held-out curve up to that step; a recorded copy (what a
    later visitor is served, comparison.viewer_copy) draws the same curves as the run."""
    from spectral_lab import RunConfig
    from spectral_lab.lab import LiveComparison
    from spectral_lab.lab.replay import view_at
    from spectral_lab.signals import signal_for

    config = RunConfig.from_query(DENOISE.split("&methods=")[0]).replace(log_every=5)  # no diagnostics: quick
    live = LiveComparison(config, ["relu_pe", "siren@first_omega0=90@omega0=90"], signal_for(config))
    for _ in live.frames():
        pass
    early = view_at(live.views[0], 10)
    assert early.heldout_steps and max(early.heldout_steps) <= 10 < max(live.views[0].heldout_steps)
    assert early.heldout == early.heldout_psnrs[-1] and early.label.endswith(f"{early.heldout:.1f} dB")
    served = live.viewer_copy()
    assert _psnr_lines(served.frame_at(10)) == _psnr_lines(live.frame_at(10))
    assert ("siren ω₀=90 · held-out", True, len(live.views[1].heldout_steps)) in _psnr_lines(served.frame_at(10))


def _psnr_lines(frame) -> list[tuple]:
    """(name, dashed, points) of each line in a frame's PSNR panel."""
    return [(trace.name, trace.dash, len(trace.x)) for trace in frame.curves.panels[0].traces]
