"""What a comparison's panels draw, from its method views: curves, the reconstruction gallery or fit
panels, eNTK, error maps, band errors, one method's details, and the downloads (CSV, PNG)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .. import plots
from ..config import RunConfig
from ..methods import resolve
from ..modifiers import describe_preconditioner, fr_preconditioner
from ..signals import Signal


class ComparisonFigures:
    """Figures of one signal's comparison. Frequencies read in Hz for audio, cycles per signal
    otherwise; every method keeps its colour (the plots module assigns it by label order)."""

    def __init__(self, config: RunConfig, signal: Signal):
        self.config, self.signal = config, signal
        self.audio = (signal.sample_rate, signal.num_points) if signal.kind == "audio" and signal.sample_rate else None
        self.hz_per_cycle = self.audio[0] / self.audio[1] if self.audio else None

    def curves(self, views, x_axis: str = "step", marker: int | None = None) -> plots.FigureSpec:
        """PSNR and loss per method against steps or seconds of training (`x_axis`), with a line at
        the replayed step (`marker`)."""
        curves = {}
        for view in views:
            if not view.curve_steps:
                continue
            steps, losses = view.curve()
            if x_axis == "seconds" and view.elapsed:
                seen, seconds = np.array(view.elapsed, dtype=np.float64).T
                steps = np.interp(steps, seen, seconds)  # each logged step at its training time
            curves[view.method] = (steps, losses)
        at = marker
        if marker is not None and x_axis == "seconds":
            at = max((float(np.interp(marker, *np.array(v.elapsed, dtype=np.float64).T)) for v in views
                      if v.elapsed), default=None)
        return plots.psnr_figure(curves, "PSNR and loss, one line per method", x_unit=x_axis, marker=at)

    def fill(self, frame, name: str, views, selected: str | None) -> bool:
        """One heavy panel (pacing.HEAVY_PANELS) of `views` into `frame`, details of the `selected`
        method; False when it has nothing to show yet."""
        if name == "reconstruction":
            if not any(v.prediction is not None for v in views):
                return False
            if self.signal.kind == "image":
                frame.gallery = self.gallery(views)
            else:
                frame.reconstruction = self.reconstruction(views)
            return True
        if name == "details":
            if selected is None:
                return False
            frame.details = self.details(next(v for v in views if v.method == selected))
            return True
        spec = {"ntk": self.ntk, "errors": self.errors, "bands": self.bands}[name](views)
        setattr(frame, name, spec)
        return spec is not None

    @staticmethod
    def kernels(views) -> dict:
        return {v.method: dict(v.ntk) for v in views if v.ntk}

    def ntk(self, views, title: str = "Empirical NTK per method") -> plots.FigureSpec | None:
        kernels = self.kernels(views)
        return plots.ntk_figure(kernels, title, audio=self.audio) if kernels else None

    def errors(self, views, title: str = "Where the error is, one panel per method") -> plots.FigureSpec | None:
        maps = {v.label: v.error_map for v in views if v.error_map is not None}
        return plots.error_figure(maps, title) if maps else None

    def bands(self, views, title: str = "Relative error per frequency band over training") -> plots.FigureSpec | None:
        histories = {v.label: v.bands() for v in views if v.band_columns}
        return plots.band_error_figure(histories, title, hz_per_cycle=self.hz_per_cycle) if histories else None

    def gallery(self, views, minimum: int = 256) -> list[tuple[np.ndarray, str]]:
        """Target, then every method's current fit, upscaled with nearest neighbour to ≥ `minimum` px."""
        items = [(upscale(self.signal.to_original(), minimum), "target")]
        items += [(upscale(self.signal.to_original(v.prediction), minimum), v.label) for v in views
                  if v.prediction is not None]
        return items

    def reconstruction(self, views, title: str = "Fit vs target, one panel per method") -> plots.FigureSpec:
        """1D / audio: the target and each method's fit, one panel per method."""
        seen = [v for v in views if v.prediction is not None]
        return plots.reconstruction_figure(self.signal, {v.label: v.prediction for v in seen}, title)

    def details(self, view) -> tuple[plots.FigureSpec | None, plots.FigureSpec | None]:
        """(activations, kernel) figures of one method: the heavy panels shown for one at a time."""
        method = view.method
        activations = (plots.activations_figure(view.activations, f"Activations of {method}")
                       if view.activations else None)
        result = view.ntk.get("now") or view.ntk.get("init")
        kernel = plots.kernel_figure(result, f"Normalised eNTK of {method}") if result is not None else None
        spectrum = fr_preconditioner(resolve(self.config.replace(method=method), self.signal))
        if spectrum is not None:  # FR: what the reparameterisation does to each hidden layer's updates
            panel = plots.preconditioner_panel(spectrum, describe_preconditioner(spectrum))
            if kernel is None:
                kernel = plots.FigureSpec(f"FR preconditioner of {method}", [panel], height=380)
            else:  # one panel per row: the kernel's colour bar stays beside its own heatmap
                kernel.panels.append(panel)
                kernel.height *= 2
        return activations, kernel

    def export(self, rows: list[dict], views, curves: plots.FigureSpec, outdir: str | os.PathLike,
               figures: bool = True) -> list[str]:
        """results.csv and (with `figures`) PNG figures drawn with matplotlib, for download."""
        outdir = Path(outdir)
        files = [rows_to_csv(rows, outdir / "results.csv")] if rows else []
        if not figures:
            return [str(f) for f in files]
        # the figures' own (shorter) titles: a PNG stands alone, without the app's views around it
        specs = {"psnr.png": curves, "ntk.png": self.ntk(views, "Empirical NTK"),
                 "errors.png": self.errors(views, "Where the error is"), "bands.png": self.bands(views)}
        for name, spec in specs.items():
            if spec is not None:
                plots.save_png(spec, outdir / name)
                files.append(outdir / name)
        return [str(f) for f in files]


def upscale(image: np.ndarray, minimum: int = 256) -> np.ndarray:
    """uint8 image enlarged by an integer factor (nearest neighbour) so its short side is ≥ minimum."""
    factor = max(1, math.ceil(minimum / max(1, min(image.shape[:2]))))
    big = np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)
    return (np.clip(big, 0, 1) * 255).round().astype(np.uint8)


def to_audio(signal: Signal, values: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """(sample rate, int16) for an audio player, in the signal's original loudness."""
    wave = np.clip(signal.to_original(values), -1.0, 1.0)
    return signal.sample_rate or 16000, (wave * 32767).astype(np.int16)


def rows_to_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    import csv

    path = Path(path)
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["method"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
