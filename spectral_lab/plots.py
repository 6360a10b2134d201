"""Diagnostics data -> figures. Each builder returns a backend-neutral `FigureSpec`; `render`
turns it into a plotly figure (the app) or a matplotlib figure (notebooks). So every plot
has one definition, with titles, axis labels and units a student can read.

Figures that compare methods are small multiples: one panel per method, the same axes and one
shared colour scale (one colour bar per row), so panels can be read against each other.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from .diagnostics import LayerStats
from .ntk import NTKResult
from .signals import Signal

MATPLOTLIB_CMAPS = {"Viridis": "viridis", "Viridis_r": "viridis_r", "Magma": "magma", "RdBu": "RdBu_r",
                    "Cividis": "cividis"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
TARGET_COLOUR = "#444444"
NO_DATA_GREY = "#cfcfcf"
TRAINED_BLUE = "#6baed6"  # pixels an image task trained on, in its held-out error (not in magma, unlike grey)
FONT_SIZE = 12  # px; nothing in a figure is drawn smaller than 11 px
MAX_CURVE_POINTS = 600  # per line: the browser draws a downsampled curve
EIGEN_DISPLAY_FLOOR = 1e-13  # below this share of λ₁ a float64 eigh returns noise: not drawn


@dataclass
class Trace:
    kind: str  # "line" | "heatmap" | "image"
    x: np.ndarray | None = None  # heatmap: cell centres, or edges (one more than the columns)
    y: np.ndarray | None = None
    z: np.ndarray | None = None  # heatmap (rows, cols) / image (H, W[, 3]) in [0, 1]
    name: str = ""
    dash: bool = False
    color: str | None = None
    colorbar: str = ""  # heatmap colour-bar label (when it has its own scale)
    colorscale: str = "Viridis"
    markers: bool = False  # line traces: also mark each point (sparse data such as a CR sweep)
    coloraxis: str = ""  # heatmaps sharing a colour scale name the same axis (FigureSpec.coloraxes)
    legend: bool = True  # line traces: show in the legend (one entry per name, the first time it appears)
    width: float = 1.6
    group: str = ""  # line traces: the legend entry that shows and hides this line too (default: its name)


@dataclass
class ColorAxis:
    """A colour scale shared by several heatmaps, drawn as one colour bar beside `row`."""

    label: str
    colorscale: str = "Viridis"
    zmin: float | None = None
    zmax: float | None = None
    row: int = 0


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
    rows: list[int] | None = None  # panels per row when rows differ (default: `cols` per row)
    coloraxes: dict[str, ColorAxis] = field(default_factory=dict)
    background: str = "white"  # plot area; NaN heatmap cells show it (grey = no data)
    caption: str = ""

    def row_sizes(self) -> list[int]:
        if self.rows:
            return list(self.rows)
        n = len(self.panels)
        return [min(self.cols, n - i) for i in range(0, n, self.cols)] or [0]


def grid_height(rows: int, per_row: int = 250, extra: int = 110) -> int:
    return extra + per_row * rows


_MATPLOTLIB_LOCK = threading.Lock()  # matplotlib's text/mathtext layout is not thread-safe


def save_png(spec: FigureSpec, path, dpi: int = 110) -> None:
    """Render with matplotlib and save, serialised: the app exports from several sessions at once."""
    with _MATPLOTLIB_LOCK:
        figure = _to_matplotlib(spec)
        figure.savefig(path, dpi=dpi)


class PNGFigure:
    """A figure drawn to PNG bytes. Jupyter shows it through `_repr_png_` in every front end
    (JupyterLab, `jupyter execute`, nbclient) and the image is stored in the executed notebook; a
    matplotlib Figure made without pyplot shows only its text repr in a fresh kernel."""

    def __init__(self, png: bytes, title: str = ""):
        self.png, self.title = png, title

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"<PNGFigure {self.title!r}, {len(self.png):,} bytes>"


def render(spec: FigureSpec, backend: str = "plotly", dpi: int = 90):
    """plotly (the app), matplotlib (a Figure to save or adjust), or png (a PNGFigure, for notebooks)."""
    if backend == "plotly":
        return _to_plotly(spec)
    if backend == "matplotlib":
        return _to_matplotlib(spec)
    if backend == "png":
        import io

        buffer = io.BytesIO()
        with _MATPLOTLIB_LOCK:
            _to_matplotlib(spec).savefig(buffer, format="png", dpi=dpi)
        return PNGFigure(buffer.getvalue(), spec.title)
    raise ValueError("backend must be 'plotly', 'matplotlib' or 'png'")


def _positive(values: np.ndarray) -> np.ndarray:
    """For log axes: values ≤ 0 (clamped eigenvalues, empty bins) become NaN gaps."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


ROUND_OFF_SHARE = 1e-10  # below this share of the largest bin, a spectrum's bin is round-off, not energy


def _above_round_off(shares: np.ndarray) -> np.ndarray:
    """A spectrum for a log axis with its round-off left out: the FFT of a sum of three sines has exact
    zeros that float arithmetic leaves at 1e-16…1e-34 of the total, and a log axis would draw them as
    a band of energy the target does not have."""
    shares = _positive(shares)
    return np.where(shares >= ROUND_OFF_SHARE * np.nanmax(shares, initial=0.0), shares, np.nan)


def _has_isolated_points(values: np.ndarray) -> bool:
    """A line with a point between two gaps (a pure tone's bin) draws nothing there unless it is marked."""
    finite = np.isfinite(np.asarray(values, dtype=np.float64))
    padded = np.concatenate([[False], finite, [False]])
    return bool((finite & ~padded[:-2] & ~padded[2:]).any())


def _relative(eigenvalues: np.ndarray) -> np.ndarray:
    """λᵢ/λ₁; an all-zero kernel (a dead ReLU network) gives zeros, drawn as gaps, not 0/0."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    return eigenvalues / eigenvalues[0] if eigenvalues.size and eigenvalues[0] > 0 else np.zeros_like(eigenvalues)


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _downsample(x: np.ndarray, y: np.ndarray, points: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point (and the last), so a long curve costs the browser a bounded draw."""
    if x.size <= points:
        return x, y
    index = np.unique(np.r_[np.linspace(0, x.size - 1, points).astype(int), x.size - 1])
    return x[index], y[index]


def _grid(n: int, max_cols: int = 3) -> list[int]:
    cols = max(1, min(n, max_cols))
    return [min(cols, n - i) for i in range(0, n, cols)] or [1]


def _single(value, key: str = "") -> dict:
    """A builder accepts one item or a dict method -> item; normalise to the dict."""
    return dict(value) if isinstance(value, dict) else {key: value}


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------
# solid train, dashed held-out: as paired_psnr_figure draws them (notebook 06), and a fit's solid line stays its PSNR
HELDOUT_CAPTION = ("train PSNR (solid): against what the network was given (noisy, or only the kept samples) · "
                   "held-out PSNR (dashed): against the clean target, where the task scores")


def psnr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "Training curves",
                x_unit: str = "step", marker: float | None = None,
                heldout: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                reference: tuple[str, float] | None = None) -> FigureSpec:
    """curves: label -> (x, loss), x in steps or seconds of training (`x_unit`). Shows PSNR (R = 2)
    and the loss, one colour per method; `marker`: a dashed line at that x (the replayed step).
    `heldout`: label -> (x, held-out PSNR dB) of a task that holds samples out: drawn dashed beside
    that method's train PSNR (solid, from the loss) in the same colour, so the step where a network
    starts fitting the noise shows as its dashed line turning down while the solid one climbs. `reference`:
    (name, dB) drawn as a grey level across the PSNR panel (a denoiser's noisy input, scored as a fit)."""
    heldout = heldout or {}
    xlabel = "seconds of training" if x_unit == "seconds" else "step"
    psnr_title = "PSNR: train (solid), held-out (dashed)" if heldout else "PSNR (R = 2, targets in [-1, 1])"
    psnr_panel = Panel(psnr_title, xlabel, "PSNR (dB)")
    loss_panel = Panel("Loss (MSE) on what the networks were given" if heldout else "Loss (MSE)", xlabel, "MSE",
                       ylog=True)
    for i, (label, (steps, losses)) in enumerate(curves.items()):
        steps, losses = _downsample(np.asarray(steps), np.asarray(losses, dtype=np.float64))
        with np.errstate(divide="ignore"):
            psnr = 10 * np.log10(4.0 / np.where(losses > 0, losses, np.nan))
        if label in heldout:  # the legend names the held-out line; the train line is shown and hidden with it
            psnr_panel.traces.append(Trace("line", steps, psnr, name=f"{label} · train", color=_colour(i),
                                           legend=False, group=label))
            psnr_panel.traces.append(Trace("line", *_downsample(*map(np.asarray, heldout[label])),
                                           name=f"{label} · held-out", color=_colour(i), dash=True, group=label))
        else:
            psnr_panel.traces.append(Trace("line", steps, psnr, name=label, color=_colour(i)))
        loss_panel.traces.append(Trace("line", steps, _positive(losses), name=label, color=_colour(i),
                                       legend=label not in heldout, group=label))
    if reference is not None and psnr_panel.traces:
        ends = [float(np.max(t.x)) for t in psnr_panel.traces if np.size(t.x)]
        psnr_panel.traces.append(Trace("line", np.array([0.0, max(ends, default=1.0)]), np.full(2, reference[1]),
                                       name=reference[0], color=TARGET_COLOUR, dash=True, width=1.2))
    if marker is not None:
        for panel in (psnr_panel, loss_panel):
            values = np.concatenate([t.y for t in panel.traces]) if panel.traces else np.zeros(0)
            values = values[np.isfinite(values)]
            if values.size:
                panel.traces.append(Trace("line", np.array([marker, marker]), np.array([values.min(), values.max()]),
                                          name=f"{xlabel} {marker:g}", dash=True, color=TARGET_COLOUR, legend=False,
                                          width=1.2))
    return FigureSpec(title, [psnr_panel, loss_panel], cols=2, height=340, caption=HELDOUT_CAPTION if heldout else "")


def _as_kernels(kernels) -> dict[str, dict[str, NTKResult]]:
    """method -> {"init": NTKResult, "now": NTKResult}; a bare NTKResult counts as "now"."""
    out = {}
    for label, value in _single(kernels, "network").items():
        out[label] = dict(value) if isinstance(value, dict) else {"now": value}
    return out


NTK_CAPTION = "solid: trained network · dashed: at initialisation · grey dashed: the target's spectrum"


def ntk_figure(kernels, title: str = "Empirical NTK", audio: tuple[float, int] | None = None) -> FigureSpec:
    """Eigenvalue decay and the target's cumulative share on the fastest eigenvectors (all methods,
    init dashed, now solid), then
    S(k) = Σ λᵢ|v̂ᵢ(k)|² (WINNER Eq. 6) as small multiples, one panel per method, with the
    target's spectrum dashed. `kernels`: method -> {"init": NTKResult, "now": NTKResult} (or
    method -> NTKResult, or one NTKResult). `audio`: (sample rate, samples) draws S(k) in Hz."""
    kernels = _as_kernels(kernels)
    first = next((r for k in kernels.values() for r in k.values()), None)
    extent = "window" if first is not None and first.layout == "window" else "signal"
    decay = Panel("Eigenvalue decay λᵢ/λ₁", "index i", "λᵢ / λ₁", xlog=True, ylog=True)
    # the target's energy on the first i eigenvectors, cumulated: one smooth rising line per method
    # (the raw |vᵢᵀy| of several methods tangle); the higher and earlier it rises, the more of the
    # target lies along fast directions
    projections = Panel("Target share: i fastest eigenvectors", "index i (fast → slow)",
                        "share of ‖y‖², cumulative", xlog=True)
    spectra = []
    for i, (label, pair) in enumerate(kernels.items()):
        colour = _colour(i)
        panel = Panel(f"S(k): {label}", "frequency (Hz)" if audio else f"frequency k (cycles per {extent})",
                      "share of energy", ylog=True)
        target_drawn = False
        for when in ("init", "now"):
            result = pair.get(when)
            if result is None:
                continue
            dash, name = when == "init", label
            index = np.arange(1, result.eigenvalues.size + 1)
            floor = result.eigenvalues[0] * EIGEN_DISPLAY_FLOOR
            shown = result.eigenvalues > floor
            decay.traces.append(Trace("line", index[shown], _positive(_relative(result.eigenvalues)[shown]),
                                      name=name, color=colour, dash=dash, legend=not dash))
            energy = result.target_projections ** 2
            projections.traces.append(Trace("line", index, np.cumsum(energy) / max(energy.sum(), 1e-300), name=name,
                                            color=colour, dash=dash, legend=False))
            # audio: k cycles across the sub-grid's extent (the signal, or a window of it) in Hz
            k = result.k * (audio[0] / (result.subgrid[0] if result.layout == "window" else audio[1])) if audio \
                else result.k
            panel.traces.append(Trace("line", k, _positive(result.spectrum / max(result.spectrum.sum(), 1e-300)),
                                      name=name, color=colour, dash=dash, legend=False))
            if not target_drawn:
                target = _above_round_off(result.target_spectrum / max(result.target_spectrum.sum(), 1e-300))
                panel.traces.append(Trace("line", k, target, name="target", color=TARGET_COLOUR, dash=True, width=1.2,
                                          legend=False, markers=_has_isolated_points(target)))
                target_drawn = True
        spectra.append(panel)
    rows = [3] if len(spectra) == 1 else [2] + _grid(len(spectra))  # one method: all three in a row
    notes = {r.note for k in kernels.values() for r in k.values() if r is not None and r.note}
    precisions = {r.precision for k in kernels.values() for r in k.values() if r is not None}
    caption = " · ".join([NTK_CAPTION, f"{'/'.join(sorted(precisions))} kernels"] + sorted(notes)
                         + _resolution_note(first))
    return FigureSpec(title, [decay, projections] + spectra, rows=rows, height=grid_height(len(rows), 250),
                      caption=caption)



def _resolution_note(result) -> list[str]:
    """A strided sub-grid resolves fewer cycles than the signal has: said, so that S(k) stopping at 8 cycles
    beside error heatmaps that reach 32 (a 64² image, a 16×16 kernel) is not read as the kernel's reach."""
    if result is None or result.layout != "strided" or len(result.subgrid) < 2:
        return []
    points = "×".join(str(n) for n in result.subgrid)
    return [f"S(k) is read on the kernel's {points} sub-grid of the image: it resolves k up to "
            f"{int(np.max(result.k))} cycles (more NTK points resolve more)"]


def kernel_figure(result: NTKResult, title: str = "Normalised kernel Kᵢⱼ/√(KᵢᵢKⱼⱼ)") -> FigureSpec:
    shown = result.kernel_preview.shape[0]
    drawn = f" (every {ordinal(result.num_points // shown)} point drawn)" if shown < result.num_points else ""
    panel = Panel(f"M = {result.num_points} points{drawn}, cond = {result.condition_number:.2g}, "
                  f"eff. rank = {result.effective_rank:.1f}", "point j", "point i",
                  [Trace("heatmap", z=result.kernel_preview, colorbar="K (normalised)", colorscale="RdBu")])
    return FigureSpec(title, [panel], height=380,
                      caption=" · ".join([f"{result.precision} kernel"] + ([result.note] if result.note else [])))


def preconditioner_panel(spectrum: np.ndarray, summary: str) -> Panel:
    """FR's BᵀB eigenvalues over their median, largest first (FR paper Theorem 2: SGD's step in W
    is −η·∂L/∂W·BᵀB, so each input direction learns at its eigenvalue's relative rate)."""
    index = np.arange(1, len(spectrum) + 1)
    relative = np.asarray(spectrum, dtype=np.float64) / max(float(np.median(spectrum)), 1e-300)
    return Panel(f"FR's preconditioner BᵀB: {summary}", "input direction "
                 "(eigenvector of BᵀB, fastest first)", "eigenvalue / median",
                 [Trace("line", index, relative, name="BᵀB", color=PALETTE[2], markers=True)])


def activations_figure(stats: list[LayerStats], title: str = "Activations per layer") -> FigureSpec:
    """Rows: pre-activation histograms, post-activation histograms, power spectra of each layer's
    pre-activations (dashed, WINNER Fig. 3) and post-activations (solid, WINNER Fig. 8)."""
    panels_pre, panels_post, panels_power = [], [], []
    for layer in stats:
        pre = Panel(f"layer {layer.layer}: argument of φ (std {layer.pre_std:.2f})", "value", "density",
                    [Trace("line", _centres(layer.pre_edges), layer.pre_density, name="measured", color=PALETTE[0])])
        post = Panel(f"layer {layer.layer}: φ(z) (std {layer.post_std:.2f})", "value", "density",
                     [Trace("line", _centres(layer.post_edges), layer.post_density, name="measured",
                            color=PALETTE[0])])
        if layer.pre_reference is not None:
            pre.traces.append(Trace("line", *layer.pre_reference, name="theory", dash=True, color=TARGET_COLOUR))
        if layer.post_reference is not None:
            post.traces.append(Trace("line", *layer.post_reference, name="theory", dash=True, color=TARGET_COLOUR))
        frequency = layer.k * layer.hz_per_k if layer.hz_per_k else layer.k
        power = Panel(f"layer {layer.layer}: power spectrum", layer.frequency_label, "Σ|FFT|²",
                      [Trace("line", frequency, _positive(layer.power), name="post-activation", color=PALETTE[1])],
                      ylog=True)
        if layer.pre_power is not None:
            power.traces.append(Trace("line", frequency, _positive(layer.pre_power), name="pre-activation",
                                      color=PALETTE[3], dash=True))
        panels_pre.append(pre)
        panels_post.append(post)
        panels_power.append(power)
    labels = list(dict.fromkeys(part for layer in stats for part in layer.reference_label.split("; ") if part))
    caption = "theory at initialisation (dashed grey): " + "; ".join(labels) if labels else ""
    cols = max(1, len(stats))
    return FigureSpec(title, panels_pre + panels_post + panels_power, cols=cols, height=grid_height(3, 240),
                      caption=caption)


def _centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[1:] + edges[:-1])


def _shared_range(arrays: list[np.ndarray], upper_percentile: float = 99.5) -> tuple[float, float]:
    values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.zeros(1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    return float(values.min()), float(max(np.percentile(values, upper_percentile), values.min() + 1e-12))


def error_figure(maps, title: str = "Where the error is", trained: np.ndarray | None = None) -> FigureSpec:
    """Error maps, one panel per method on one colour scale. Images: FFT log-magnitude error and
    the pixel residual; audio: the target's spectrogram and each
    fit's dB difference (a band that stays bright is one not learned); 1D: spectra. `trained`: an
    image task's (H, W) mask of the pixels trained on (inpaint, superres): blue in the pixel error,
    which then shows the held-out pixels alone."""
    maps = _single(maps, "fit")
    kinds = {m.kind for m in maps.values()}
    kind = kinds.pop() if len(kinds) == 1 else "1d"
    if kind == "image":
        # the spectrum is centred (fftshift): its axes are signed, −N/2 … N/2 − 1 cycles, DC at 0
        panels = [Panel(f"{label}: FFT error", "kx (cycles per image)", "ky (cycles per image)",
                        [Trace("heatmap", x=signed_frequencies(m.fft_log_error.shape[1]),
                               y=signed_frequencies(m.fft_log_error.shape[0]), z=m.fft_log_error, coloraxis="fft")])
                  for label, m in maps.items()]
        rows = _grid(len(panels))
        axes = {"fft": ColorAxis("log-magnitude error", "Magma", *_shared_range([m.fft_log_error for m in maps.values()]),
                                 row=0)}
        # the pixel residual for every method, below the spectra (not dropped past three methods)
        residuals = {label: m.residual if trained is None else np.where(trained, np.nan, m.residual)
                     for label, m in maps.items()}
        where = "held-out error" if trained is not None else "pixel error"
        panels += [Panel(f"{label}: {where}", "x (px)", "y (px)",
                         [Trace("heatmap", z=residual[::-1], coloraxis="residual")])
                   for label, residual in residuals.items()]
        axes["residual"] = ColorAxis("|error|", "Magma", *_shared_range(list(residuals.values())), row=len(rows))
        rows = rows + rows
        held_out = " · blue: a pixel the network was trained on" if trained is not None else ""
        return FigureSpec(title, panels, rows=rows, coloraxes=axes, height=grid_height(len(rows), 270),
                          background=TRAINED_BLUE if trained is not None else "white",
                          caption="FFT error: |log|F(fit)| − log|F(target)|| per frequency (kx, ky), bright = not "
                                  f"learned · pixel error: |fit − clean target|{held_out}")
    if kind == "audio":
        first = next(iter(maps.values()))
        heat = lambda z, axis: Trace("heatmap", x=first.times, y=first.frequencies, z=z, coloraxis=axis)
        panels = [Panel("target spectrogram", "time (s)", "frequency (Hz)", [heat(first.target_db, "level")])]
        panels += [Panel(f"{label}: dB difference", "time (s)", "frequency (Hz)",
                         [heat(m.difference_db, "difference")]) for label, m in maps.items()]
        rows = _grid(len(panels), 3)
        axes = {"level": ColorAxis("dB", "Viridis", -80.0, 0.0, row=0),
                "difference": ColorAxis("dB difference", "Magma", 0.0, 40.0, row=min(1, len(rows) - 1))}
        return FigureSpec(title, panels, rows=rows, coloraxes=axes, height=grid_height(len(rows), 260),
                          background=NO_DATA_GREY,
                          caption="bright in a difference panel: not learned · grey: the target is more than 60 dB "
                                  "below its peak there (nothing to learn)")
    panels = []
    for i, (label, m) in enumerate(maps.items()):  # each method in its own colour, as in every figure
        panels.append(Panel(f"{label}: spectrum", "frequency k (cycles per signal)", "|FFT|", [
            Trace("line", m.frequencies, _positive(m.target_fft), name="target", color=TARGET_COLOUR, dash=True),
            Trace("line", m.frequencies, _positive(m.fit_fft), name=label.split(" · ")[0], color=_colour(i))],
                            ylog=True))
    rows = _grid(len(panels))
    return FigureSpec(title, panels, rows=rows, height=grid_height(len(rows), 250))


# short enough for a lesson's half-width panel (the formula is in the glossary, "Symbols, in words")
BAND_CAPTION = "Δ per band (after IGA Eq. 7) · dark: not yet learned · bright: learned · grey: no target energy there"


def band_error_figure(histories, title: str = "Relative error per frequency band over training",
                      hz_per_cycle: float | None = None) -> FigureSpec:
    """histories: method -> (steps, band edges in cycles per signal, Δ (bands, steps)) (or one such
    tuple). x is the true step axis: each column sits at its step, one cadence wide; a gap in the
    history is a grey gap (band_columns).
    Audio: `hz_per_cycle` (sample rate / samples) labels the bands in Hz."""
    scale, unit = (hz_per_cycle, "Hz") if hz_per_cycle else (1.0, "cycles per signal")
    if isinstance(histories, tuple):
        histories = {"fit": histories}
    panels = []
    for label, (steps, edges, heat) in histories.items():
        x, z = band_columns(steps, heat)
        centres = _centres(np.asarray(edges)) if np.size(edges) else np.asarray(edges)
        panels.append(Panel(f"{label}: Δ per band", "step", f"frequency band ({unit})",
                            [Trace("heatmap", x=x, y=centres * scale, z=np.clip(z, 0, 1.0), coloraxis="delta")]))
    rows = _grid(len(panels))
    return FigureSpec(title, panels, rows=rows, coloraxes={"delta": ColorAxis("Δ (1 = zero output)", "Viridis_r",
                                                                              0.0, 1.0, row=0)},
                      background=NO_DATA_GREY, height=grid_height(len(rows), 250), caption=BAND_CAPTION)


def ordinal(n: int) -> str:
    """2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def signed_frequencies(n: int) -> np.ndarray:
    """The frequencies, in cycles across the n samples, of an fftshift-ed axis: −n/2 … n/2 − 1 (DC at 0)."""
    return np.fft.fftshift(np.fft.fftfreq(n, 1.0 / n))


def _centred_heatmap(z: np.ndarray, coloraxis: str) -> Trace:
    """A centred (fftshift-ed) 2D spectrum on signed frequency axes."""
    return Trace("heatmap", x=signed_frequencies(z.shape[1]), y=signed_frequencies(z.shape[0]), z=z,
                 coloraxis=coloraxis)


def band_columns(steps: np.ndarray, heat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap column edges and values on the true step axis: column i spans [steps[i], steps[i] + c)
    with c the usual cadence (the median spacing), cut at the next column; where the next column
    comes later than that, an empty (NaN, grey) column shows the gap instead of stretching a value
    over steps that were never measured. Returns (x edges, z with the gap columns)."""
    steps = np.asarray(steps, dtype=np.float64)
    heat = np.asarray(heat, dtype=np.float64)
    if steps.size == 0:
        return steps, heat
    cadence = float(np.median(np.diff(steps))) if steps.size > 1 else 1.0
    edges, columns = [], []
    for i, step in enumerate(steps):
        end = steps[i + 1] if i + 1 < steps.size else step + cadence
        edges.append(step)
        columns.append(heat[:, i])
        if end - step > 1.5 * cadence:  # a gap: this column ends after one cadence, then grey
            edges.append(step + cadence)
            columns.append(np.full(heat.shape[0], np.nan))
    edges.append(steps[-1] + cadence)
    return np.asarray(edges), np.stack(columns, axis=1)


def reconstruction_figure(signal: Signal, predictions=None, title: str = "Reconstruction",
                          max_samples: int | None = None) -> FigureSpec:
    """Target and fits, one panel per method (predictions: method -> (N, C), one array, or None
    for the target alone as a preview)."""
    if predictions is not None and not isinstance(predictions, dict):
        predictions = {"fit": predictions}
    predictions = predictions or {}
    if signal.kind == "image":
        panels = [Panel("target", traces=[Trace("image", z=signal.to_original())])]
        panels += [Panel(label, traces=[Trace("image", z=signal.to_original(p))]) for label, p in predictions.items()]
        rows = _grid(len(panels), 4)
        return FigureSpec(title, panels, rows=rows, height=grid_height(len(rows), 280))
    # a few hundred samples, where single periods can be seen (a short 1D signal whole)
    default = 400 if signal.kind == "audio" else (signal.num_points if signal.num_points <= 1024 else 512)
    n = min(signal.num_points, max_samples or default)
    t = np.arange(n) / (signal.sample_rate or signal.num_points)
    xlabel = "time (s)" if signal.sample_rate else "position (fraction of the signal)"
    span = f"first {n} samples" if n < signal.num_points else "signal"
    target = Trace("line", t, signal.values[:n, 0], name="target", color=TARGET_COLOUR, width=1.2)
    if not predictions:
        return FigureSpec(title, [Panel(f"target ({span})", xlabel, "value", [target])], height=300)
    panels = [Panel(f"{label} ({span})", xlabel, "value",
                    [target, Trace("line", t, np.asarray(p)[:n, 0], name=label.split(" · ")[0], color=_colour(i))])
              for i, (label, p) in enumerate(predictions.items())]
    rows = _grid(len(panels), 2)
    return FigureSpec(title, panels, rows=rows, height=grid_height(len(rows), 230))


# ----------------------------------------------------------------------------------------------
# NeRN / SBS
# ----------------------------------------------------------------------------------------------
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

    taps = [tap(spectra["original_grid"]), tap(spectra["smoothed_grid"])]
    powers = [log_spectrum(spectra["original"]), log_spectrum(spectra["smoothed"])]
    limit = float(np.abs(np.concatenate([t.ravel() for t in taps])).max()) or 1.0
    # two rows sharing one colour bar each, right of the panels (four bars printed over neighbours)
    return FigureSpec(title, [
        Panel(f"{layer.removesuffix('.weight')}, CNN order", "channel", "filter",
              [Trace("heatmap", z=taps[0], coloraxis="w")]),
        Panel("smoothed order", "channel", "filter", [Trace("heatmap", z=taps[1], coloraxis="w")]),
        Panel("log₁₀|FFT|², CNN order", "channel frequency (cycles)", "filter frequency (cycles)",
              [_centred_heatmap(powers[0], "power")]),
        Panel("log₁₀|FFT|², smoothed", "channel frequency (cycles)", "filter frequency (cycles)",
              [_centred_heatmap(powers[1], "power")]),
    ], cols=2, height=grid_height(2, 260),
        coloraxes={"w": ColorAxis("centre weight w", "RdBu", -limit, limit, row=0),
                   "power": ColorAxis("log₁₀ power", "Viridis", *_shared_range(powers), row=1)})


def nern_projection_figure(result: NTKResult, unsmoothed_projections: np.ndarray,
                           title: str = "eNTK of the predictor (SBS Fig. 2 C–F)") -> FigureSpec:
    """Eigenvalue decay and the kernels projected on the eigenvectors, smoothed vs CNN order:
    smoothing puts more of the target on the large-λ (fast) directions."""
    index = np.arange(1, result.eigenvalues.size + 1)
    decay = Panel("Eigenvalue decay", "index i", "λᵢ / λ₁",
                  [Trace("line", index, _positive(_relative(result.eigenvalues)), name="λ",
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
# Renderers
# ----------------------------------------------------------------------------------------------
def _layout_cells(spec: FigureSpec) -> list[tuple[int, int, int]]:
    """(row, column, columns in that row) for every panel."""
    cells = []
    for row, size in enumerate(spec.row_sizes()):
        cells += [(row, col, size) for col in range(size)]
    return cells[:len(spec.panels)]


def _to_plotly(spec: FigureSpec):
    """Build the figure as a plain dict and skip plotly's validation: make_subplots + templates
    cost ~100 ms a figure, too slow for a live view (measured in bench/bench_app.py)."""
    import plotly.graph_objects as go

    sizes = spec.row_sizes()
    rows = len(sizes)
    has_bars = bool(spec.coloraxes) or any(t.kind == "heatmap" and not t.coloraxis for p in spec.panels for t in p.traces)
    right = 0.90 if has_bars else 1.0  # room for colour bars beside the panels
    gap_x, gap_y = 0.08, (0.14 if rows > 2 else 0.2) if rows > 1 else 0.0
    height = (1 - gap_y * (rows - 1)) / rows
    data, layout, annotations, legend_names = [], {}, [], set()
    for index, (panel, (row, col, size)) in enumerate(zip(spec.panels, _layout_cells(spec))):
        # a short row after a fuller one (the last row of a small multiple) keeps that row's panel
        # width: 4 methods give 3 + 1 panels of one size, not a last panel stretched across the figure
        columns = max(size, sizes[row - 1]) if row > 0 else size
        width = (right - gap_x * (columns - 1)) / columns
        suffix = "" if index == 0 else str(index + 1)
        x0 = col * (width + gap_x)
        y1 = 1 - row * (height + gap_y)
        layout[f"xaxis{suffix}"] = _axis(panel.xlabel, panel.xlog, _domain(x0, x0 + width), f"y{suffix}",
                                         _decades(panel, "x"))
        layout[f"yaxis{suffix}"] = _axis(panel.ylabel, panel.ylog, _domain(y1 - height, y1), f"x{suffix}",
                                         _decades(panel, "y"))
        annotations.append(dict(text=panel.title, x=x0 + width / 2, y=y1, xref="paper", yref="paper",
                                xanchor="center", yanchor="bottom", yshift=4, showarrow=False,
                                font=dict(size=FONT_SIZE)))
        axes = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        bar = dict(len=height * 0.9, x=x0 + width + 0.01, y=y1 - height / 2)  # a heatmap's own colour bar
        for trace in panel.traces:
            data.append(_plotly_trace(trace, spec, axes, legend_names, bar))
            if trace.kind == "image":
                layout[f"yaxis{suffix}"].update(autorange="reversed", scaleanchor=f"x{suffix}", showticklabels=False)
                layout[f"xaxis{suffix}"].update(showticklabels=False)
    for name, axis in spec.coloraxes.items():
        # colour bars of one row share its height, stacked top to bottom
        same_row = [n for n, a in spec.coloraxes.items() if a.row == axis.row]
        share, k = height / len(same_row), same_row.index(name)
        row_top = 1 - axis.row * (height + gap_y)
        layout[_coloraxis_name(spec, name)] = dict(
            colorscale=_colorscale(axis.colorscale), reversescale=axis.colorscale.endswith("_r"),
            cmin=axis.zmin, cmax=axis.zmax,
            colorbar=dict(title=dict(text=axis.label, side="right"), x=0.935, xanchor="left",
                          y=row_top - share * (k + 0.5), len=share * 0.9, thickness=12))
    top = 80
    title = dict(text=spec.title, x=0.01, xanchor="left", y=1.0, yanchor="top", yref="container", pad=dict(t=12),
                 font=dict(size=FONT_SIZE + 3))
    if spec.caption:  # notes on what exactly is drawn (precision, detached Jacobians, ...) under the title
        title["subtitle"] = dict(text=spec.caption, font=dict(size=FONT_SIZE - 1, color="#555555"))
    layout.update(title=title,
                  height=spec.height, margin=dict(l=64, r=24, t=top, b=56), annotations=annotations,
                  legend=dict(orientation="h", x=1.0, xanchor="right", y=1.0, yanchor="top", yref="container",
                              font=dict(size=FONT_SIZE)),
                  plot_bgcolor=spec.background, paper_bgcolor="white", font=dict(size=FONT_SIZE))
    if len(legend_names) > 3:  # a long legend gets a line of its own under the panels: beside a title it
        # ran into it (six methods on the eNTK)
        layout["legend"].update(x=0.5, xanchor="center", y=0.0, yanchor="bottom")
        layout["margin"]["b"] += 30
        layout["height"] = spec.height + 30
    elif legend_names:  # on the title's line, at the right: it never covers an axis or a panel title
        layout["legend"].update(y=1 - 8 / spec.height)
    return go.Figure(dict(data=data, layout=layout), skip_invalid=True, _validate=False)


def _plotly_trace(trace: Trace, spec: FigureSpec, axes: dict, legend_names: set, bar: dict) -> dict:
    """One trace as plotly's dict on the panel's `axes`; a line's name enters the legend once."""
    if trace.kind == "line":
        show = trace.legend and bool(trace.name) and trace.name not in legend_names
        if show:
            legend_names.add(trace.name)
        return dict(type="scatter", mode="lines+markers" if trace.markers else "lines", x=_list(trace.x),
                    y=_list(trace.y), name=trace.name, legendgroup=trace.group or trace.name, showlegend=show,
                    line=dict(color=trace.color, width=trace.width, dash="dash" if trace.dash else "solid"), **axes)
    if trace.kind == "heatmap":
        heat = dict(type="heatmap", z=_list(trace.z), x=_list(trace.x), y=_list(trace.y), **axes)
        if trace.coloraxis:
            heat["coloraxis"] = _coloraxis_name(spec, trace.coloraxis)
        else:
            heat.update(colorscale=_colorscale(trace.colorscale), reversescale=trace.colorscale.endswith("_r"),
                        colorbar=dict(title=dict(text=trace.colorbar, side="right"), **bar, thickness=12))
        return heat
    image = np.asarray(trace.z)  # an image: RGB bytes
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return dict(type="image", z=(np.clip(image, 0, 1) * 255).astype(np.uint8).tolist(), **axes)


def _domain(low: float, high: float) -> list[float]:
    """Clamped to [0, 1]: a domain off by 1e-17 is invalid, and validation is skipped."""
    return [round(min(max(low, 0.0), 1.0), 6), round(min(max(high, 0.0), 1.0), 6)]


def _coloraxis_name(spec: FigureSpec, name: str) -> str:
    index = list(spec.coloraxes).index(name) + 1
    return "coloraxis" if index == 1 else f"coloraxis{index}"


def _colorscale(name: str) -> list:
    """Plotly's named scale as explicit [position, colour] pairs (validation is skipped above)."""
    from plotly.colors import get_colorscale

    return get_colorscale(name.removesuffix("_r"))


def _decades(panel: Panel, axis: str) -> float:
    """How many decades a log axis of a panel spans (0 for a linear axis or no positive data)."""
    if not (panel.xlog if axis == "x" else panel.ylog):
        return 0.0
    values = [np.asarray(getattr(t, axis), dtype=np.float64).ravel() for t in panel.traces
              if t.kind == "line" and getattr(t, axis) is not None]
    values = np.concatenate(values) if values else np.zeros(0)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.log10(values.max() / values.min())) if values.size else 0.0


def _axis(title: str, log: bool, domain: list[float], anchor: str, decades: float = 0.0) -> dict:
    axis = dict(title=dict(text=title, font=dict(size=FONT_SIZE), standoff=4), type="log" if log else "linear",
                domain=domain, anchor=anchor, gridcolor="#e5e5e5", zerolinecolor="#cccccc", linecolor="#999999",
                showline=True, tickfont=dict(size=FONT_SIZE - 1), automargin=True,
                exponentformat="e")  # 1e-06, not SI prefixes (1µ, 10B) on ratios and counts
    if log and decades >= 2:  # label whole decades only: "1, 5, 2, 0.1, 5, 2" read as a broken scale
        axis["dtick"] = 1 if decades < 8 else 2
    return axis


def _list(values):
    """numpy -> lists with NaN as None (JSON null), so plotly draws gaps."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.dtype.kind == "f":
        return np.where(np.isfinite(array), array, None).tolist()
    return array.tolist()


def _to_matplotlib(spec: FigureSpec):
    """A matplotlib Figure built without pyplot (no global figure registry; render(spec, "png") for
    notebooks: a Figure alone shows only its text in a fresh Jupyter kernel)."""
    import matplotlib
    from matplotlib.figure import Figure

    sizes = spec.row_sizes()
    cols = max(sizes)
    fig = Figure(figsize=(4.2 * cols, 3.3 * len(sizes)), layout="constrained")
    grid = fig.add_gridspec(len(sizes), cols)
    shared = {}
    for name, axis in spec.coloraxes.items():
        cmap = matplotlib.colormaps[MATPLOTLIB_CMAPS.get(axis.colorscale, "viridis")].with_extremes(bad=NO_DATA_GREY)
        shared[name] = (cmap, matplotlib.colors.Normalize(axis.zmin, axis.zmax), [])
    for panel, (row, col, size) in zip(spec.panels, _layout_cells(spec)):
        ax = fig.add_subplot(grid[row, col])
        for trace in panel.traces:
            if trace.kind == "line":
                ax.plot(trace.x, trace.y, label=trace.name if trace.legend and trace.name else None, color=trace.color,
                        marker="o" if trace.markers else None, linestyle="--" if trace.dash else "-", lw=trace.width)
            elif trace.kind == "heatmap":
                z = np.ma.masked_invalid(np.asarray(trace.z, dtype=np.float64))
                if trace.coloraxis:
                    cmap, norm, axes_list = shared[trace.coloraxis]
                    axes_list.append(ax)
                else:
                    cmap = matplotlib.colormaps[MATPLOTLIB_CMAPS.get(trace.colorscale, "viridis")].with_extremes(
                        bad=NO_DATA_GREY)
                    norm = None
                if trace.x is not None and trace.y is not None and len(trace.x) > 1 and len(trace.y) > 1:
                    x, y = np.asarray(trace.x, float), np.asarray(trace.y, float)
                    if x.size == z.shape[1]:
                        x = _edges_from_centres(x)
                    if y.size == z.shape[0]:
                        y = _edges_from_centres(y)
                    image = ax.pcolormesh(x, y, z, cmap=cmap, norm=norm, shading="flat")
                else:  # origin="lower" draws row 0 at the bottom, as plotly's heatmap does
                    image = ax.imshow(z, aspect="auto", origin="lower", cmap=cmap, norm=norm)
                if not trace.coloraxis:
                    fig.colorbar(image, ax=ax, label=trace.colorbar)
            elif trace.kind == "image":
                ax.imshow(np.clip(trace.z, 0, 1), cmap="gray" if np.ndim(trace.z) == 2 else None, vmin=0, vmax=1,
                          interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
        if panel.xlog:
            ax.set_xscale("log")
        if panel.ylog:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        if sum(1 for t in panel.traces if t.kind == "line" and t.name and t.legend) > 1:
            ax.legend(fontsize=8)
    for name, (cmap, norm, axes_list) in shared.items():
        if axes_list:
            fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes_list,
                         label=spec.coloraxes[name].label)
    fig.suptitle(spec.title + (f"\n{spec.caption}" if spec.caption else ""), fontsize=11)
    return fig


def _edges_from_centres(centres: np.ndarray) -> np.ndarray:
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = 0.5 * (centres[1:] + centres[:-1])
    return np.r_[2 * centres[0] - middle[0], middle, 2 * centres[-1] - middle[-1]]


# ----------------------------------------------------------------------------------------------
# Figures for the notebooks (and anyone comparing curves)
# ----------------------------------------------------------------------------------------------
def eigen_dynamics_figure(steps: np.ndarray, predicted: np.ndarray, measured: np.ndarray, directions: list[int],
                          eigenvalues: np.ndarray, title: str = "Training error per eNTK eigen-direction") -> FigureSpec:
    """Predicted (dashed, linear dynamics |1 − η(2/N)λᵢ|ᵗ) against measured (solid) |vᵢᵀ r(t)| for a few
    eigen-directions i (0-based, fast → slow), one colour each: fast directions are learnt first."""
    panel = Panel("|vᵢᵀ (f − y)| over training", "gradient updates", "|vᵢᵀ r|", ylog=True)
    for colour, i in enumerate(directions):
        label = f"i = {i + 1} (λᵢ/λ₁ = {_relative(eigenvalues)[i]:.1e})"
        panel.traces.append(Trace("line", steps, _positive(measured[i]), name=label, color=_colour(colour)))
        panel.traces.append(Trace("line", steps, _positive(predicted[i]), name=label, color=_colour(colour), dash=True,
                                  legend=False))
    return FigureSpec(title, [panel], height=380, caption="solid: measured · dashed: linear-dynamics prediction "
                                                          "from the eNTK at initialisation")


def line_figure(series: dict[str, tuple[np.ndarray, np.ndarray]], title: str, xlabel: str, ylabel: str,
                xlog: bool = False, ylog: bool = False, markers: bool = True) -> FigureSpec:
    """One panel of labelled lines (e.g. PSNR against a swept knob, one line per method)."""
    panel = Panel(title, xlabel, ylabel, xlog=xlog, ylog=ylog)
    for i, (label, (x, y)) in enumerate(series.items()):
        panel.traces.append(Trace("line", np.asarray(x), np.asarray(y, dtype=np.float64), name=label, color=_colour(i),
                                  markers=markers))
    return FigureSpec(title, [panel], height=360)


def paired_psnr_figure(pairs: dict[str, tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]],
                       title: str, names: tuple[str, str] = ("train", "held-out"),
                       reference: tuple[str, float] | None = None,
                       stops: dict[str, tuple[float, float]] | None = None) -> FigureSpec:
    """Two PSNR curves per method in one colour, solid and dashed (`names` says which is which).
    pairs: label -> ((steps, solid dB), (steps, dashed dB)); reference: (name, dB) drawn as a grey level
    (e.g. the noisy input's own PSNR); stops: label -> (step, dB), a point marked in that label's colour
    (e.g. where an early stop stopped)."""
    panel = Panel(f"solid: {names[0]} · dashed: {names[1]}", "step", "PSNR (dB, R = 2)")
    colours = {label: _colour(i) for i, label in enumerate(pairs)}
    for label, (solid, dashed) in pairs.items():
        for (x, y), name, dash in ((solid, names[0], False), (dashed, names[1], True)):
            x, y = _downsample(np.asarray(x), np.asarray(y, dtype=np.float64))
            panel.traces.append(Trace("line", x, y, name=f"{label} · {name}", color=colours[label], dash=dash))
    if reference is not None:
        last = max((float(np.max(t.x)) for t in panel.traces if len(t.x)), default=1.0)
        panel.traces.append(Trace("line", np.array([0.0, last]), np.array([reference[1]] * 2), name=reference[0],
                                  color=TARGET_COLOUR, dash=True, width=1.2))
    for label, (step, value) in (stops or {}).items():
        panel.traces.append(Trace("line", np.array([step]), np.array([value]), name=f"{label} · stopped",
                                  color=colours.get(label, TARGET_COLOUR), markers=True))
    return FigureSpec(title, [panel], height=380)


def train_heldout_figure(curves: dict[str, tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]],
                         title: str = "Train and held-out PSNR", reference: tuple[str, float] | None = None,
                         stops: dict[str, tuple[float, float]] | None = None) -> FigureSpec:
    """A task's runs: solid, the PSNR on the samples trained on (from the loss: noisy ones for a
    denoiser); dashed, the held-out PSNR against the clean target. curves: label -> ((steps, training
    loss), `Run.heldout_curve()`); reference and stops as in `paired_psnr_figure`."""
    pairs = {}
    for label, ((steps, losses), heldout) in curves.items():
        losses = np.asarray(losses, dtype=np.float64)
        with np.errstate(divide="ignore"):
            pairs[label] = ((steps, 10 * np.log10(4.0 / np.where(losses > 0, losses, np.nan))), heldout)
    return paired_psnr_figure(pairs, title, ("train", "held-out"), reference, stops)
