"""Every figure builder renders in both backends with titled, labelled, readable panels."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from spectral_lab import Run, RunConfig
from spectral_lab import plots


@pytest.fixture(scope="module", params=["sines", "camera", "sweep"])
def finished_runs(request):
    config = RunConfig(signal=request.param, length=2048, image_size=16, width=16, depth=2, steps=10, log_every=5,
                       ntk_every=5, ntk_points=64, activations_every=10, errors_every=5, bands_every=5,
                       diagnostics_budget=0)
    runs = {}
    for method in ("siren", "siren2"):
        run = Run(config.replace(method=method))
        snapshots = list(run)
        runs[method] = (run, snapshots)
    return runs


def _figures(runs):
    (run, _), kernels, maps, bands, predictions = runs["siren2"], {}, {}, {}, {}
    for method, (r, s) in runs.items():
        kernels[method] = {"init": s[0].diagnostics["ntk"], "now": r.final.diagnostics["ntk"]}
        maps[method] = r.final.diagnostics["error_map"]
        bands[method] = r.band_error_history()
        predictions[method] = r.final.prediction
    return [
        plots.psnr_figure({m: r.curve() for m, (r, _) in runs.items()}),
        plots.ntk_figure(kernels),
        plots.kernel_figure(run.final.diagnostics["ntk"]),
        plots.activations_figure(run.final.diagnostics["activations"]),
        plots.error_figure(maps),
        plots.band_error_figure(bands),
        plots.reconstruction_figure(run.signal, predictions),
    ]


@pytest.mark.parametrize("backend", ["plotly", "matplotlib"])
def test_every_figure_renders_with_titles_and_labels(finished_runs, backend):
    for spec in _figures(finished_runs):
        assert spec.title and all(panel.title for panel in spec.panels)
        assert all(panel.xlabel or any(t.kind == "image" for t in panel.traces) for panel in spec.panels)
        figure = plots.render(spec, backend)
        if backend == "plotly":
            assert len(figure.data) >= len(spec.panels)
            figure.to_json()  # serialisable for the browser
        else:
            assert len(figure.axes) >= len(spec.panels)


def test_plotly_figures_are_readable_at_1280_px(finished_runs):
    # The issue: colour bars over neighbouring axes, ~20 legend entries for 5 methods, 8 px text.
    for spec in _figures(finished_runs):
        layout = plots.render(spec).layout.to_plotly_json()
        axes = {k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))}
        for name, axis in axes.items():  # every panel has a valid domain inside the figure
            assert axis.get("domain") and 0 <= axis["domain"][0] < axis["domain"][1] <= 1, (spec.title, name)
            assert axis["tickfont"]["size"] >= 11 and axis["title"]["font"]["size"] >= 11
            assert axis["exponentformat"] == "e"  # issue 17: "1µ, 10B" read as units on ratios
        assert layout["font"]["size"] >= 11 and all(a["font"]["size"] >= 11 for a in layout["annotations"])
        right_edge = max(axis["domain"][1] for name, axis in axes.items() if name.startswith("xaxis"))
        for name, value in layout.items():  # shared colour bars sit right of every panel
            if name.startswith("coloraxis"):
                assert value["colorbar"]["x"] >= right_edge, (spec.title, name)
        figure = plots.render(spec)
        legend = [t.name for t in figure.data if getattr(t, "showlegend", False)]
        assert len(legend) == len(set(legend)) <= 4, (spec.title, legend)


def test_a_short_last_row_keeps_the_panel_width_of_the_row_above():
    # Issue 17: with 4 methods the last panel of a small multiple was drawn across the whole figure.
    panels = [plots.Panel(f"method {i}", "x", "y", [plots.Trace("line", np.arange(3), np.arange(3))])
              for i in range(4)]
    layout = plots.render(plots.FigureSpec("four", panels, rows=plots._grid(4))).layout.to_plotly_json()
    widths = [layout[f"xaxis{s}"]["domain"][1] - layout[f"xaxis{s}"]["domain"][0] for s in ("", "2", "3", "4")]
    assert max(widths) < 1.5 * min(widths), widths
    assert layout["xaxis4"]["domain"][0] == layout["xaxis"]["domain"][0]  # under the first column


def test_ntk_figure_has_one_legend_entry_per_method_and_s_k_per_method(finished_runs):
    spec = _figures(finished_runs)[1]
    figure = plots.render(spec)
    assert sorted(t.name for t in figure.data if t.showlegend) == ["siren", "siren2"]
    assert [p.title for p in spec.panels[2:]] == ["S(k): siren", "S(k): siren2"]
    for panel in spec.panels[2:]:
        assert any(t.name == "target" and t.dash for t in panel.traces)  # the target's spectrum, dashed
        assert {t.dash for t in panel.traces if t.name != "target"} == {True, False}  # init and now


def test_band_heatmap_runs_from_step_0_and_masks_empty_bands():
    steps = np.array([0, 10, 20])
    heat = np.array([[1.0, 0.5, 0.1], [np.nan, np.nan, np.nan]])
    spec = plots.band_error_figure({"siren": (steps, np.array([0.0, 4.0, 8.0]), heat)})
    trace = spec.panels[0].traces[0]
    assert trace.x[0] == 0 and trace.x.size == 4  # column edges: nothing left of step 0
    assert np.isnan(trace.z[1]).all() and spec.background == plots.NO_DATA_GREY
    assert "no target energy" in spec.caption and "after IGA Eq. 7" in spec.caption


def test_png_export_is_safe_from_several_threads(finished_runs, tmp_path):
    # The app exports figures from several sessions at once; matplotlib's text layout is not
    # thread-safe (a ParseException from mathtext was seen before save_png took a lock).
    from concurrent.futures import ThreadPoolExecutor

    spec = plots.kernel_figure(finished_runs["siren"][0].final.diagnostics["ntk"])
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: plots.save_png(spec, tmp_path / f"k{i}.png"), range(4)))
    assert all((tmp_path / f"k{i}.png").stat().st_size > 1000 for i in range(4))


def test_log_axes_drop_non_positive_values():
    spec = plots.psnr_figure({"a": (np.arange(1, 4), np.array([0.1, 0.0, 0.01]))})
    loss = spec.panels[1].traces[0].y
    assert np.isnan(loss[1]) and loss[2] == pytest.approx(0.01)


def test_readings_say_what_their_frequency_axis_counts(finished_runs):
    """Audio activation spectra in Hz; 1D ones per window of the sub-grid; an image's S(k) says how far its
    kernel's sub-grid resolves (8 cycles on 16×16 points beside error heatmaps that reach the image's own)."""
    run = finished_runs["siren2"][0]
    layers = run.final.diagnostics["activations"]
    kernel = run.final.diagnostics["ntk"]
    caption = plots.ntk_figure({"siren2": {"now": kernel}}).caption
    if run.signal.kind == "audio":
        assert layers[0].frequency_label == "frequency (Hz)"
        assert layers[0].hz_per_k == pytest.approx(run.signal.sample_rate / min(4096, run.signal.num_points))
    elif run.signal.kind == "image":
        assert layers[0].frequency_label == "frequency k (cycles across the image)" and layers[0].hz_per_k is None
        assert f"resolves k up to {int(kernel.k.max())} cycles" in caption
    else:
        assert layers[0].frequency_label.startswith("frequency k (cycles per") and layers[0].hz_per_k is None
        assert "sub-grid" not in caption


def test_a_target_s_round_off_is_not_drawn_as_energy():
    """The FFT of three exact sines leaves 1e-16…1e-34 in its empty bins; on a log axis that read as a
    band of target energy (lesson 2's S(k))."""
    shares = np.array([0.5, 1e-17, 0.49, 1e-34, 0.0, 1e-3])
    drawn = plots._above_round_off(shares)
    assert np.isnan(drawn[[1, 3, 4]]).all() and np.allclose(drawn[[0, 2, 5]], shares[[0, 2, 5]])
    assert np.isnan(plots._above_round_off(np.zeros(3))).all()
    # what is left of three tones is three isolated bins: marked, or the line would draw none of them
    assert plots._has_isolated_points(drawn) and not plots._has_isolated_points(np.array([1.0, 2.0, np.nan]))
