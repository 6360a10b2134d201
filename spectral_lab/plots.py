"""Diagnostics data -> figures. Each builder returns a backend-neutral `FigureSpec`; `render`
turns it into a plotly figure (the app) or a matplotlib figure (notebooks). So every plot
has one definition, with titles, axis labels and units a student can read.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from .diagnostics import ErrorMap, LayerStats
from .metrics import psnr_from_mse
from .ntk import NTKResult
from .signals import Signal

MATPLOTLIB_CMAPS = {"Viridis": "viridis", "Viridis_r": "viridis_r", "Magma": "magma", "RdBu": "RdBu_r"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


@dataclass
class Trace:
    kind: str  # "line" | "heatmap" | "image"
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    z: np.ndarray | None = None  # heatmap (rows, cols) / image (H, W[, 3]) in [0, 1]
    name: str = ""
    dash: bool = False
    color: str | None = None
    colorbar: str = ""  # heatmap colour-bar label
    colorscale: str = "Viridis"
    markers: bool = False  # line traces: also mark each point (sparse data such as a CR sweep)


@dataclass
class Panel:
    title: str
    xlabel: str = ""
    ylabel: str = ""
    traces: list[Trace] = field(default_factory=list)
    xlog: bool = False
    ylog: bool = False


@dataclass
class FigureSpec:
    title: str
    panels: list[Panel]
    cols: int = 1
    height: int = 320


_MATPLOTLIB_LOCK = threading.Lock()  # matplotlib's text/mathtext layout is not thread-safe


def save_png(spec: FigureSpec, path, dpi: int = 110) -> None:
    """Render with matplotlib and save, serialised: the app exports from several sessions at once."""
    with _MATPLOTLIB_LOCK:
        figure = _to_matplotlib(spec)
        figure.savefig(path, dpi=dpi)


def render(spec: FigureSpec, backend: str = "plotly"):
    if backend == "plotly":
        return _to_plotly(spec)
    if backend == "matplotlib":
        return _to_matplotlib(spec)
    raise ValueError("backend must be 'plotly' or 'matplotlib'")


def _positive(values: np.ndarray) -> np.ndarray:
    """For log axes: values ≤ 0 (clamped eigenvalues, empty bins) become NaN gaps."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------
def psnr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "Training curves") -> FigureSpec:
    """curves: label -> (steps, loss). Shows PSNR (R = 2) and the loss."""
    psnr_panel = Panel("PSNR (R = 2, targets in [-1, 1])", "step", "PSNR (dB)")
    loss_panel = Panel("Loss (MSE)", "step", "MSE", ylog=True)
    for i, (label, (steps, losses)) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        psnr = np.array([psnr_from_mse(float(v)) for v in losses])
        psnr_panel.traces.append(Trace("line", steps, psnr, name=label, color=color))
        loss_panel.traces.append(Trace("line", steps, _positive(losses), name=label, color=color))
    return FigureSpec(title, [psnr_panel, loss_panel], cols=2)


def ntk_figure(results: dict[str, NTKResult], title: str = "Empirical NTK") -> FigureSpec:
    """Eigenvalue decay, S(k) with the target's spectrum, and target projections |vᵢᵀy|."""
    decay = Panel("Eigenvalue decay", "index i", "λᵢ / λ₁", xlog=True, ylog=True)
    first = next(iter(results.values()), None)
    extent = "window" if first is not None and first.layout == "window" else "signal"
    spectrum = Panel("S(k) = Σ λᵢ|v̂ᵢ(k)|² (WINNER Eq. 6)", f"frequency k (cycles across the {extent})",
                     "fraction of energy", ylog=True)
    projections = Panel("Target along eigenvectors |vᵢᵀy|", "index i (fast → slow)", "|vᵢᵀy|",
                        xlog=True, ylog=True)
    target_drawn = False
    for i, (label, result) in enumerate(results.items()):
        color = PALETTE[i % len(PALETTE)]
        index = np.arange(1, result.eigenvalues.size + 1)
        decay.traces.append(Trace("line", index, _positive(result.eigenvalues / result.eigenvalues[0]),
                                  name=label, color=color))
        spectrum.traces.append(Trace("line", result.k, _positive(result.spectrum / result.spectrum.sum()),
                                     name=f"S(k) {label}", color=color))
        projections.traces.append(Trace("line", index, _positive(result.target_projections), name=label, color=color))
        if result.residual_projections is not None:
            projections.traces.append(Trace("line", index, _positive(result.residual_projections),
                                            name=f"residual {label}", color=color, dash=True))
        if not target_drawn:
            spectrum.traces.append(Trace("line", result.k, _positive(result.target_spectrum / result.target_spectrum.sum()),
                                         name="target |ŷ(k)|²", color="#444444", dash=True))
            target_drawn = True
    return FigureSpec(title, [decay, spectrum, projections], cols=3)


def kernel_figure(result: NTKResult, title: str = "Normalised kernel Kᵢⱼ/√(KᵢᵢKⱼⱼ)") -> FigureSpec:
    panel = Panel(f"M = {result.num_points}, cond = {result.condition_number:.2g}, "
                  f"eff. rank = {result.effective_rank:.1f}", "point j", "point i",
                  [Trace("heatmap", z=result.kernel_preview, colorbar="K (normalised)", colorscale="RdBu")])
    return FigureSpec(title, [panel], height=360)


def activations_figure(stats: list[LayerStats], title: str = "Activations per layer") -> FigureSpec:
    """Rows: pre-activation histograms, post-activation histograms, post-activation power spectra."""
    panels_pre, panels_post, panels_power = [], [], []
    for layer in stats:
        pre = Panel(f"layer {layer.layer} pre (std {layer.pre_std:.2f})", "argument of φ", "density",
                    [Trace("line", _centres(layer.pre_edges), layer.pre_density, name="measured", color=PALETTE[0])])
        post = Panel(f"layer {layer.layer} post (std {layer.post_std:.2f})", "φ(z)", "density",
                     [Trace("line", _centres(layer.post_edges), layer.post_density, name="measured", color=PALETTE[0])])
        if layer.pre_reference is not None:
            pre.traces.append(Trace("line", *layer.pre_reference, name="theory", dash=True, color="#444444"))
        if layer.post_reference is not None:
            post.traces.append(Trace("line", *layer.post_reference, name="theory", dash=True, color="#444444"))
        power = Panel(f"layer {layer.layer} power spectrum", "frequency k (cycles across the signal)",
                      "Σ|FFT|²", [Trace("line", layer.k, _positive(layer.power), name="PSD", color=PALETTE[1])],
                      ylog=True)
        panels_pre.append(pre)
        panels_post.append(post)
        panels_power.append(power)
    return FigureSpec(title, panels_pre + panels_post + panels_power, cols=max(1, len(stats)), height=720)


def _centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[1:] + edges[:-1])


def error_figure(maps: ErrorMap, title: str = "Where the error is") -> FigureSpec:
    if maps.kind == "image":
        return FigureSpec(title, [
            Panel("Pixel residual |fit − target|", "x (px)", "y (px)",
                  [Trace("heatmap", z=maps.residual[::-1], colorbar="|error|", colorscale="Magma")]),
            Panel("FFT error |log|F(fit)| − log|F(target)||", "kx", "ky",
                  [Trace("heatmap", z=maps.fft_log_error[::-1], colorbar="log-magnitude error", colorscale="Magma")]),
        ], cols=2, height=360)
    if maps.kind == "audio":
        heat = lambda z, label, scale: Trace("heatmap", x=maps.times, y=maps.frequencies, z=z, colorbar=label,
                                             colorscale=scale)
        return FigureSpec(title, [
            Panel("Target spectrogram", "time (s)", "frequency (Hz)", [heat(maps.target_db, "dB", "Viridis")]),
            Panel("Fit spectrogram", "time (s)", "frequency (Hz)", [heat(maps.fit_db, "dB", "Viridis")]),
            Panel("|fit − target| (dB): a missing band is the spectral bottleneck", "time (s)", "frequency (Hz)",
                  [heat(maps.difference_db, "dB", "Magma")]),
        ], cols=3, height=340)
    return FigureSpec(title, [Panel("Spectrum of target and fit", "frequency k (cycles across the signal)", "|FFT|", [
        Trace("line", maps.frequencies, _positive(maps.target_fft), name="target", color="#444444"),
        Trace("line", maps.frequencies, _positive(maps.fit_fft), name="fit", color=PALETTE[1])], ylog=True)])


def band_error_figure(steps: np.ndarray, edges: np.ndarray, heat: np.ndarray,
                      title: str = "Relative error per frequency band (IGA Eq. 7)") -> FigureSpec:
    centres = _centres(edges) if edges.size else edges
    panel = Panel("Δ per band over training (dark: not yet learned)", "step", "frequency band (cycles)",
                  [Trace("heatmap", x=steps, y=centres, z=np.clip(heat, 0, 1.5), colorbar="Δ", colorscale="Viridis_r")])
    return FigureSpec(title, [panel], height=320)


def reconstruction_figure(signal: Signal, prediction: np.ndarray | None, title: str = "Reconstruction",
                          max_samples: int = 3000) -> FigureSpec:
    """Target and fit (prediction None: the target alone, as a preview)."""
    if signal.kind == "image":
        panels = [Panel("target", traces=[Trace("image", z=signal.to_original())])]
        if prediction is not None:
            panels.append(Panel("fit", traces=[Trace("image", z=signal.to_original(prediction))]))
        return FigureSpec(title, panels, cols=len(panels), height=340)
    n = min(signal.num_points, max_samples)
    t = np.arange(n) / (signal.sample_rate or signal.num_points)
    xlabel = "time (s)" if signal.sample_rate else "position (fraction of the signal)"
    traces = [Trace("line", t, signal.values[:n, 0], name="target", color="#444444")]
    if prediction is not None:
        traces.append(Trace("line", t, np.asarray(prediction)[:n, 0], name="fit", color=PALETTE[1]))
    return FigureSpec(title, [Panel(f"first {n} samples" if n < signal.num_points else "signal", xlabel, "value",
                                    traces)])


# ----------------------------------------------------------------------------------------------
# Renderers
def nern_curves_figure(histories: dict[str, list], original_accuracy: float | None = None,
                       title: str = "NeRN: kernels and the rebuilt CNN") -> FigureSpec:
    """histories: label -> [NernSnapshot]. Kernel PSNR (peak = max |w|) and rebuilt-CNN accuracy."""
    psnr_panel = Panel("Kernel PSNR (peak = max |w| of the CNN's kernels)", "step", "PSNR (dB)")
    accuracy_panel = Panel("Accuracy of the CNN rebuilt from the MLP (test digits)", "step", "accuracy (%)")
    for i, (label, history) in enumerate(histories.items()):
        color = PALETTE[i % len(PALETTE)]
        psnr_panel.traces.append(Trace("line", np.array([s.step for s in history]),
                                       np.array([s.psnr for s in history]), name=label, color=color))
        evaluated = [s for s in history if s.accuracy is not None]
        accuracy_panel.traces.append(Trace("line", np.array([s.step for s in evaluated]),
                                           np.array([100 * s.accuracy for s in evaluated]), name=label, color=color))
    if original_accuracy is not None and histories:
        last = max((h[-1].step for h in histories.values() if h), default=1)
        accuracy_panel.traces.append(Trace("line", np.array([0, max(last, 1)]), np.full(2, 100 * original_accuracy),
                                           name="original CNN", color="#444444", dash=True))
    return FigureSpec(title, [psnr_panel, accuracy_panel], cols=2)


def kernel_spectra_figure(spectra: dict, title: str = "Kernel ordering and its spectrum (SBS Fig. 2 A–B)") -> FigureSpec:
    """spectra: nern.layer_spectra output. Centre tap of each kernel on the (filter, channel) grid,
    before and after smoothing, and the grids' 2D magnitude spectra (log10, DC centred)."""
    layer = spectra["layer"]

    def tap(grid):  # (F, C, 9) -> (F, C): the centre weight of each 3×3 kernel
        return grid[..., 4]

    def log_spectrum(power):
        return np.log10(power + power.max() * 1e-6 + 1e-30)

    return FigureSpec(title, [
        Panel(f"{layer.removesuffix('.weight')}, CNN order", "channel", "filter",
              [Trace("heatmap", z=tap(spectra["original_grid"]), colorbar="w", colorscale="RdBu")]),
        Panel("smoothed order", "channel", "filter",
              [Trace("heatmap", z=tap(spectra["smoothed_grid"]), colorbar="w", colorscale="RdBu")]),
        Panel("log₁₀|FFT|², CNN order", "channel frequency", "filter frequency",
              [Trace("heatmap", z=log_spectrum(spectra["original"]), colorbar="log₁₀ power")]),
        Panel("log₁₀|FFT|², smoothed", "channel frequency", "filter frequency",
              [Trace("heatmap", z=log_spectrum(spectra["smoothed"]), colorbar="log₁₀ power")]),
    ], cols=4, height=330)


def nern_projection_figure(result: NTKResult, unsmoothed_projections: np.ndarray,
                           title: str = "eNTK of the predictor (SBS Fig. 2 C–F)") -> FigureSpec:
    """Eigenvalue decay and the kernels projected on the eigenvectors, smoothed vs CNN order:
    smoothing puts more of the target on the large-λ (fast) directions."""
    index = np.arange(1, result.eigenvalues.size + 1)
    decay = Panel("Eigenvalue decay", "index i", "λᵢ / λ₁",
                  [Trace("line", index, _positive(result.eigenvalues / result.eigenvalues[0]), name="λ",
                         color=PALETTE[0])], xlog=True, ylog=True)
    projections = Panel("Kernels along eigenvectors |vᵢᵀy|", "index i (fast → slow)", "|vᵢᵀy|", [
        Trace("line", index, _positive(result.target_projections), name="smoothed order", color=PALETTE[1]),
        Trace("line", index, _positive(unsmoothed_projections), name="CNN order", color="#444444", dash=True)],
        xlog=True, ylog=True)
    return FigureSpec(title, [decay, projections], cols=2)


def accuracy_vs_cr_figure(rows: list[dict], original_accuracy: float | None = None,
                          title: str = "Accuracy vs compression ratio (SBS Fig. 5)") -> FigureSpec:
    """rows: NernResult.row() dicts with a 'setting' (or encoding+smoothing) label."""
    panel = Panel("Rebuilt CNN on the test digits", "CR = MLP / CNN parameters (%)", "accuracy (%)")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row.get("setting") or f"{row['encoding']}+{row['smoothing']}", []).append(row)
    for i, (label, group) in enumerate(groups.items()):
        group = sorted(group, key=lambda r: r["CR_%"])
        panel.traces.append(Trace("line", np.array([r["CR_%"] for r in group]),
                                  np.array([r["accuracy_%"] for r in group]), name=label,
                                  color=PALETTE[i % len(PALETTE)], markers=True))
    if original_accuracy is not None and rows:
        span = [min(r["CR_%"] for r in rows), max(r["CR_%"] for r in rows)]
        panel.traces.append(Trace("line", np.array(span), np.full(2, 100 * original_accuracy), name="original CNN",
                                  color="#444444", dash=True))
    return FigureSpec(title, [panel])


# ----------------------------------------------------------------------------------------------
def _to_plotly(spec: FigureSpec):
    """Build the figure as a plain dict and skip plotly's validation: make_subplots + templates
    cost ~100 ms a figure, too slow for a live view (measured in bench/bench_app.py)."""
    import plotly.graph_objects as go

    rows = math.ceil(len(spec.panels) / spec.cols)
    gap_x, gap_y = 0.07, (0.16 if rows > 1 else 0.0)
    width = (1 - gap_x * (spec.cols - 1)) / spec.cols
    height = (1 - gap_y * (rows - 1)) / rows
    data, layout, annotations, legend_names = [], {}, [], set()
    for index, panel in enumerate(spec.panels):
        row, col = divmod(index, spec.cols)
        n = index + 1
        suffix = "" if n == 1 else str(n)
        x0 = col * (width + gap_x)
        y1 = 1 - row * (height + gap_y)
        layout[f"xaxis{suffix}"] = _axis(panel.xlabel, panel.xlog, [x0, x0 + width], f"y{suffix}")
        layout[f"yaxis{suffix}"] = _axis(panel.ylabel, panel.ylog, [y1 - height, y1], f"x{suffix}")
        annotations.append(dict(text=panel.title, x=x0 + width / 2, y=y1, xref="paper", yref="paper",
                                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=12)))
        axes = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        for trace in panel.traces:
            if trace.kind == "line":
                show = bool(trace.name) and trace.name not in legend_names
                legend_names.add(trace.name)
                data.append(dict(type="scatter", mode="lines+markers" if trace.markers else "lines", x=_list(trace.x), y=_list(trace.y), name=trace.name,
                                 legendgroup=trace.name, showlegend=show,
                                 line=dict(color=trace.color, dash="dash" if trace.dash else "solid"), **axes))
            elif trace.kind == "heatmap":
                data.append(dict(type="heatmap", z=_list(trace.z), x=_list(trace.x), y=_list(trace.y),
                                 colorscale=_colorscale(trace.colorscale), reversescale=trace.colorscale.endswith("_r"),
                                 showscale=len(spec.panels) <= 3,
                                 colorbar=dict(title=dict(text=trace.colorbar), len=height * 0.9,
                                               x=x0 + width + 0.005, y=y1 - height / 2, thickness=12), **axes))
            elif trace.kind == "image":
                image = np.asarray(trace.z)
                if image.ndim == 2:
                    image = np.repeat(image[..., None], 3, axis=-1)
                data.append(dict(type="image", z=(np.clip(image, 0, 1) * 255).astype(np.uint8).tolist(), **axes))
                layout[f"yaxis{suffix}"].update(autorange="reversed", scaleanchor=f"x{suffix}")
    layout.update(title=dict(text=spec.title), height=spec.height, margin=dict(l=60, r=30, t=70, b=50),
                  annotations=annotations, legend=dict(orientation="h", y=-0.18), plot_bgcolor="white",
                  paper_bgcolor="white", font=dict(size=11))
    return go.Figure(dict(data=data, layout=layout), skip_invalid=True, _validate=False)


def _colorscale(name: str) -> list:
    """Plotly's named scale as explicit [position, colour] pairs (validation is skipped above)."""
    from plotly.colors import get_colorscale

    return get_colorscale(name.removesuffix("_r"))


def _axis(title: str, log: bool, domain: list[float], anchor: str) -> dict:
    return dict(title=dict(text=title), type="log" if log else "linear", domain=domain, anchor=anchor,
                gridcolor="#e5e5e5", zerolinecolor="#cccccc", linecolor="#999999", showline=True)


def _list(values):
    """numpy -> lists with NaN as None (JSON null), so plotly draws gaps."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.dtype.kind == "f":
        return np.where(np.isfinite(array), array, None).tolist()
    return array.tolist()


def _to_matplotlib(spec: FigureSpec):
    """A matplotlib Figure built without pyplot (no global figure registry; Jupyter shows it)."""
    from matplotlib.figure import Figure

    rows = math.ceil(len(spec.panels) / spec.cols)
    fig = Figure(figsize=(4.2 * spec.cols, 3.2 * rows))
    axes = fig.subplots(rows, spec.cols, squeeze=False)
    for index, panel in enumerate(spec.panels):
        ax = axes[index // spec.cols][index % spec.cols]
        for trace in panel.traces:
            if trace.kind == "line":
                ax.plot(trace.x, trace.y, label=trace.name or None, color=trace.color, marker="o" if trace.markers else None,
                        linestyle="--" if trace.dash else "-", lw=1.2)
            elif trace.kind == "heatmap":
                extent = None
                if trace.x is not None and trace.y is not None and len(trace.x) > 1 and len(trace.y) > 1:
                    extent = [trace.x[0], trace.x[-1], trace.y[0], trace.y[-1]]
                # origin="lower" draws row 0 at the bottom, as plotly's heatmap does
                image = ax.imshow(trace.z, aspect="auto", origin="lower", extent=extent,
                                  cmap=MATPLOTLIB_CMAPS.get(trace.colorscale, "viridis"))
                fig.colorbar(image, ax=ax, label=trace.colorbar)
            elif trace.kind == "image":
                ax.imshow(np.clip(trace.z, 0, 1), cmap="gray" if np.ndim(trace.z) == 2 else None, vmin=0, vmax=1)
                ax.axis("off")
        if panel.xlog:
            ax.set_xscale("log")
        if panel.ylog:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        if any(t.kind == "line" and t.name for t in panel.traces) and len(panel.traces) > 1:
            ax.legend(fontsize=7)
    for index in range(len(spec.panels), rows * spec.cols):
        axes[index // spec.cols][index % spec.cols].axis("off")
    fig.suptitle(spec.title)
    fig.tight_layout()
    return fig
