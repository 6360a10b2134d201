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
