"""Every figure builder renders in both backends with titled, labelled axes."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from spectral_lab import Run, RunConfig
from spectral_lab import plots


@pytest.fixture(scope="module", params=["sines", "camera", "sweep"])
def finished_run(request):
    config = RunConfig(signal=request.param, length=2048, image_size=16, method="siren2", width=16, depth=2,
                       steps=10, log_every=5, ntk_every=5, ntk_points=64, activations_every=10, errors_every=5,
                       diagnostics_budget=0)
    run = Run(config)
    snapshots = list(run)
    return run, snapshots


def _figures(run, snapshots):
    last = {k: v for s in snapshots for k, v in s.diagnostics.items()}
    return [
        plots.psnr_figure({"siren2": run.curve()}),
        plots.ntk_figure({"init": snapshots[0].diagnostics["ntk"], "now": last["ntk"]}),
        plots.kernel_figure(last["ntk"]),
        plots.activations_figure(last["activations"]),
        plots.error_figure(last["error_map"]),
        plots.band_error_figure(*run.band_error_history()),
        plots.reconstruction_figure(run.signal, run.final.prediction),
    ]


@pytest.mark.parametrize("backend", ["plotly", "matplotlib"])
def test_every_figure_renders_with_titles_and_labels(finished_run, backend):
    run, snapshots = finished_run
    for spec in _figures(run, snapshots):
        assert spec.title and all(panel.title for panel in spec.panels)
        assert all(panel.xlabel or any(t.kind == "image" for t in panel.traces) for panel in spec.panels)
        figure = plots.render(spec, backend)
        if backend == "plotly":
            assert len(figure.data) >= len(spec.panels)
            figure.to_json()  # serialisable for the browser
        else:
            assert len(figure.axes) >= len(spec.panels)


def test_png_export_is_safe_from_several_threads(finished_run, tmp_path):
    # The app exports figures from several sessions at once; matplotlib's text layout is not
    # thread-safe (a ParseException from mathtext was seen before save_png took a lock).
    from concurrent.futures import ThreadPoolExecutor

    run, snapshots = finished_run
    spec = plots.ntk_figure({"init": snapshots[0].diagnostics["ntk"]})
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: plots.save_png(spec, tmp_path / f"ntk{i}.png"), range(8)))
    assert all((tmp_path / f"ntk{i}.png").stat().st_size > 1000 for i in range(8))


def test_log_axes_drop_non_positive_values():
    spec = plots.psnr_figure({"a": (np.arange(1, 4), np.array([0.1, 0.0, 0.01]))})
    loss = spec.panels[1].traces[0].y
    assert np.isnan(loss[1]) and loss[2] == pytest.approx(0.01)
