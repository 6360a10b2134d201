"""Layouts that hold for 1, 3, 4 and 6 methods (issue 17, item 3), checked on the plotly layouts the
app sends, for images, audio and 1D: panels of a row of one width, colour bars right of every panel,
panel titles that fit their panel, a long legend on a line of its own. (The browser test
test_every_view_keeps_panels_of_a_row_alike... checks the drawn boxes at 6 and 4 methods.)"""
import numpy as np
import pytest

from spectral_lab import Run, RunConfig, plots

RESULTS_WIDTH_PX = 850  # the results column of the lab at 1280 px
CHAR_PX = 6.0  # a 12 px sans-serif character, on the generous side


@pytest.fixture(scope="module", params=["camera", "chip_melody", "sines"])
def one_run(request):
    config = RunConfig(signal=request.param, method="siren", length=2000, image_size=16, width=16, depth=2, steps=6,
                       log_every=3, ntk_every=3, ntk_points=64, activations_every=6, errors_every=3, bands_every=3,
                       diagnostics_budget=0)
    run = Run(config)
    snapshots = list(run)
    return run, snapshots[0]


def _figures(run, first, count):
    labels = [f"method_{i} · 12.3 dB" for i in range(count)]
    final = run.final.diagnostics
    audio = (run.signal.sample_rate, run.signal.num_points) if run.signal.kind == "audio" else None
    return [plots.psnr_figure({label.split(" ")[0]: run.curve() for label in labels}, marker=3),
            plots.ntk_figure({label.split(" ")[0]: {"init": first.diagnostics["ntk"], "now": final["ntk"]}
                              for label in labels}, "Empirical NTK per method", audio=audio),
            plots.error_figure({label: final["error_map"] for label in labels}),
            plots.band_error_figure({label: run.band_error_history() for label in labels}),
            plots.reconstruction_figure(run.signal, {label: run.final.prediction for label in labels})]


def layout_problems(spec) -> list[str]:
    layout = plots.render(spec).layout.to_plotly_json()
    problems = []
    domains = {name: axis["domain"] for name, axis in layout.items() if name.startswith("xaxis")}
    rows = {}
    for name, domain in domains.items():
        y_domain = tuple(round(v, 3) for v in layout[name.replace("x", "y", 1)]["domain"])
        rows.setdefault(y_domain, []).append(domain[1] - domain[0])
    for widths in rows.values():
        if max(widths) > 1.5 * min(widths):
            problems.append(f"{spec.title}: panel widths {widths} in one row")
    right_edge = max(domain[1] for domain in domains.values())
    for name, value in layout.items():
        if name.startswith("coloraxis") and value["colorbar"]["x"] < right_edge:
            problems.append(f"{spec.title}: colour bar {name} over a panel")
    for annotation, panel in zip(layout["annotations"], spec.panels):
        axis = domains["xaxis" if spec.panels.index(panel) == 0 else f"xaxis{spec.panels.index(panel) + 1}"]
        room = (axis[1] - axis[0]) * RESULTS_WIDTH_PX + 24  # a title may reach into the gap beside its panel
        if len(annotation["text"]) * CHAR_PX > room:
            problems.append(f"{spec.title}: panel title {annotation['text']!r} wider than its panel")
    legend = [t.name for t in plots.render(spec).data if getattr(t, "showlegend", False)]
    if len(legend) > 3 and layout["legend"]["y"] != 0.0:
        problems.append(f"{spec.title}: {len(legend)} legend entries beside the title")
    return problems


@pytest.mark.parametrize("count", [1, 3, 4, 6])
def test_every_figure_holds_its_layout_for_one_to_six_methods(one_run, count):
    run, first = one_run
    problems = [p for spec in _figures(run, first, count) for p in layout_problems(spec)]
    assert not problems, problems


def test_the_layout_check_fails_on_a_stretched_panel_a_long_title_and_a_crowded_legend(monkeypatch):
    original = plots._to_plotly

    def broken(spec):  # the layout issue 17 saw: one panel stretched, the legend on the title's line
        figure = original(spec)
        figure.layout.xaxis2.domain = [0.3, 1.0]
        figure.layout.legend.y = 0.99
        return figure

    monkeypatch.setattr(plots, "_to_plotly", broken)
    spec = plots.psnr_figure({f"m{i}": (np.arange(3), np.ones(3)) for i in range(6)})
    spec.panels[0].title = "a panel title far too long to fit above its own panel at this width" * 2
    problems = " ".join(layout_problems(spec))
    assert "panel widths" in problems and "wider than its panel" in problems and "beside the title" in problems


def axis_problems(spec, band_steps: dict | None = None) -> list[str]:
    """What the axes of the drawn figure claim, against what the data are: a centred (fftshift-ed)
    spectrum must read in signed cycles with DC at 0; a band heatmap's columns must start at the
    steps their errors were measured at (gaps shown as gaps, not stretched columns)."""
    figure, problems = plots.render(spec), []
    for panel, trace in zip(spec.panels, figure.data):
        if trace.type != "heatmap":
            continue
        if "FFT" in panel.title or "|FFT|" in panel.title:
            x = np.asarray(trace.x, dtype=float)
            if not (x.min() < 0 < x.max() and 0.0 in x):
                problems.append(f"{panel.title}: axis {x.min():g}…{x.max():g}, not signed around DC")
        if "Δ per band" in panel.title and band_steps is not None:
            steps = np.asarray(band_steps[panel.title.split(":")[0]], dtype=float)
            edges = np.asarray(trace.x, dtype=float)
            starts = [e for e, value in zip(edges, np.asarray(trace.z, dtype=float).T) if np.isfinite(value).any()]
            if not np.array_equal(np.asarray(starts), steps):
                problems.append(f"{panel.title}: columns start at {starts[:6]}…, measured at {list(steps[:6])}…")
    return problems


def test_centred_spectra_read_in_signed_cycles_and_band_columns_sit_at_their_steps(one_run, monkeypatch):
    run, _ = one_run
    final = run.final.diagnostics
    steps, edges, heat = run.band_error_history()
    uneven = np.array([0, 3, 6, 30, 33])  # a history with a gap (a stopped-and-resumed stream, a budget)
    bands = {"even": (steps, edges, heat), "gap": (uneven, edges, np.resize(heat, (heat.shape[0], 5)))}
    specs = [plots.band_error_figure(bands)]
    if run.signal.kind == "image":
        specs.append(plots.error_figure({"fit": final["error_map"]}))
    measured = {"even": steps, "gap": uneven}
    assert not [p for spec in specs for p in axis_problems(spec, measured)]
    # the broken case: what issue 28 saw (0…N−1 on a centred spectrum, columns side by side)
    monkeypatch.setattr(plots, "signed_frequencies", lambda n: np.arange(n, dtype=float))
    monkeypatch.setattr(plots, "band_columns", lambda s, z: (np.arange(np.size(s) + 1, dtype=float), np.asarray(z)))
    broken = [plots.band_error_figure(bands)] + ([plots.error_figure({"fit": final["error_map"]})]
                                                 if run.signal.kind == "image" else [])
    problems = " ".join(p for spec in broken for p in axis_problems(spec, measured))
    assert "columns start at" in problems
    assert run.signal.kind != "image" or "not signed around DC" in problems
