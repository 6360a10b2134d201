"""What a comparison's panels draw, from its method views: curves, the reconstruction gallery or fit
panels, eNTK, error maps, band errors, one method's details, and the downloads (CSV, PNG)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .. import plots
from ..config import RunConfig
from ..errors import ConfigError
from ..methods import resolve
from ..metrics import psnr
from ..modifiers import describe_preconditioner, fr_preconditioner
from ..signals import Signal
from ..tasks import TaskSplit, split_task
from .variants import display_name, variant_config


class ComparisonFigures:
    """Figures of one signal's comparison. Frequencies read in Hz for audio, cycles per signal
    otherwise; every method keeps its colour (the plots module assigns it by label order)."""

    def __init__(self, config: RunConfig, signal: Signal):
        self.config, self.signal = config, signal
        self.audio = (signal.sample_rate, signal.num_points) if signal.kind == "audio" and signal.sample_rate else None
        self.hz_per_cycle = self.audio[0] / self.audio[1] if self.audio else None
        self._task: TaskSplit | None = None

    @property
    def task(self) -> TaskSplit | None:
        """The comparison's task split, when it holds samples out (every method draws the same one: the
        split follows the shared seed and task settings); None for a fit, or settings its runs refuse."""
        if self._task is None and self.config.task != "fit":
            try:
                self._task = split_task(self.config, self.signal)
            except ConfigError:
                return None
        return self._task if self._task is not None and self._task.holds_out else None

    def given(self) -> tuple[str, float | None]:
        """What the networks were given, in a few words, and for a denoiser its PSNR against the clean
        target (the level a network that reproduces its input, noise and all, ends at)."""
        task, config = self.task, self.config
        if task.task == "denoise":
            level = psnr(task.observed.values, self.signal.values)
            return f"given: target + noise σ {config.noise_std:g} ({level:.1f} dB)", level
        if task.task == "superres":
            return f"given: {'×'.join(map(str, task.observed.grid))} (every {config.factor}th sample)", None
        return f"given: {task.num_train:,} of {self.signal.num_points:,} samples ({config.keep:.0%})", None

    def curves(self, views, x_axis: str = "step", marker: int | None = None) -> plots.FigureSpec:
        """PSNR and loss per method against steps or seconds of training (`x_axis`), with a line at
        the replayed step (`marker`); a task's held-out PSNR beside each method's train PSNR."""
        curves, heldout = {}, {}
        for view in views:
            if not view.curve_steps:
                continue
            steps, losses = view.curve()
            name = display_name(view.method)
            curves[name] = (_on_axis(view, steps, x_axis), losses)
            if view.heldout_steps:
                steps, values = view.heldout_curve()
                heldout[name] = (_on_axis(view, steps, x_axis), values)
        at = marker
        if marker is not None and x_axis == "seconds":
            at = max((float(np.interp(marker, *np.array(v.elapsed, dtype=np.float64).T)) for v in views
                      if v.elapsed), default=None)
        if not heldout:
            return plots.psnr_figure(curves, "PSNR and loss, one line per method", x_unit=x_axis, marker=at)
        _, level = self.given()
        reference = (f"noisy input itself: {level:.1f} dB", level) if level is not None else None
        return plots.psnr_figure(curves, "PSNR and loss, one colour per method", x_unit=x_axis, marker=at,
                                 heldout=heldout, reference=reference)

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
        kernels = {display_name(method): kernel for method, kernel in self.kernels(views).items()}
        return plots.ntk_figure(kernels, title, audio=self.audio) if kernels else None

    def errors(self, views, title: str = "Where the error is, one panel per method") -> plots.FigureSpec | None:
        maps = {v.label: v.error_map for v in views if v.error_map is not None}
        return plots.error_figure(maps, title, trained=self._trained_mask()) if maps else None

    def _trained_mask(self) -> np.ndarray | None:
        """An image task's pixels trained on, (H, W), when it scores others (inpaint, superres)."""
        task = self.task
        if task is None or task.train_rows is None or self.signal.kind != "image":
            return None
        mask = np.zeros(self.signal.num_points, bool)
        mask[task.train_rows] = True
        return mask.reshape(self.signal.grid)

    def bands(self, views, title: str = "Relative error per frequency band over training") -> plots.FigureSpec | None:
        histories = {v.label: v.bands() for v in views if v.band_columns}
        return plots.band_error_figure(histories, title, hz_per_cycle=self.hz_per_cycle) if histories else None

    def gallery(self, views, minimum: int = 256) -> list[tuple[np.ndarray, str]]:
        """Target, then every method's current fit, upscaled with nearest neighbour to ≥ `minimum` px; a task
        shows what the networks were given first, then the clean target they are scored against."""
        items = [(upscale(self.signal.to_original(), minimum), "target")]
        if self.task is not None:
            items = [(upscale(self.task.observed.to_original(), minimum), self.given()[0]),
                     (upscale(self.signal.to_original(), minimum), "clean target (scored against)")]
        scored = " held-out" if self.task is not None else ""  # the label's PSNR: on the samples held out
        items += [(upscale(self.signal.to_original(v.prediction), minimum), v.label + scored) for v in views
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
        spectrum = fr_preconditioner(resolve(variant_config(self.config, method), self.signal))
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


def _on_axis(view, steps: np.ndarray, x_axis: str) -> np.ndarray:
    """A method's logged steps on the curves' x axis: as they are, or at their seconds of training."""
    if x_axis != "seconds" or not view.elapsed:
        return steps
    seen, seconds = np.array(view.elapsed, dtype=np.float64).T
    return np.interp(steps, seen, seconds)


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
