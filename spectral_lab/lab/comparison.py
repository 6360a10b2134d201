"""What the UI shows while one or several methods train on the same signal.

`LiveComparison.frames()` iterates the training stream, keeps one `MethodView` per method and turns
updates into `Frame`s at the UI's pace: light panels (status, curves, table) at most `curve_hz` times a
second, heavy ones (reconstructions, eNTK, error maps, bands, details) at most `heavy_hz`, and
only the panels whose data changed.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .. import plots
from ..config import RunConfig
from ..errors import SpectralLabError
from ..methods import resolve
from ..metrics import PSNR_CONVENTION, ZERO_OUTPUT_HINT, ZERO_OUTPUT_MARGIN_DB, psnr_text
from ..modifiers import describe_preconditioner, fr_preconditioner
from ..signals import Signal
from ..train import pick_device
from ..tuning import TUNE_FACTORS, TUNE_FRACTION
from .replay import keep, prediction_limit, view_at
from .stream import Update, train_stream, user_message


@dataclass
class MethodView:
    method: str
    index: int
    status: str = "waiting"  # waiting | tuning | running | finished | stopped | diverged | failed | not run
    message: str = ""
    note: str = ""
    step: int = 0
    total_steps: int = 0
    psnr: float | None = None
    best_psnr: float | None = None
    psnr_limit: float | None = None  # the final fit's float32 limit (metrics["float32_limit_psnr"])
    steps_per_s: float = 0.0
    curve_steps: list = field(default_factory=list)
    curve_losses: list = field(default_factory=list)
    prediction: np.ndarray | None = None
    ntk: dict = field(default_factory=dict)  # "init" / "now" -> NTKResult
    activations: list | None = None
    error_map: object = None
    band_steps: list = field(default_factory=list)
    band_columns: list = field(default_factory=list)
    band_edges: np.ndarray | None = None
    row: dict | None = None
    metrics: dict = field(default_factory=dict)  # the final snapshot's (zero-output PSNR, float32 limit, ...)
    # replay history, (step, value) per checkpoint, capped (replay.keep)
    predictions: list = field(default_factory=list)  # float16 copies
    ntk_history: list = field(default_factory=list)
    error_history: list = field(default_factory=list)
    activation_history: list = field(default_factory=list)
    elapsed: list = field(default_factory=list)  # (step, seconds of training): the curves' time axis

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.curve_steps:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate(self.curve_steps), np.concatenate(self.curve_losses)

    def bands(self):
        return np.array(self.band_steps), self.band_edges, np.stack(self.band_columns, axis=1)

    @property
    def label(self) -> str:
        return f"{self.method} · {psnr_text(self.psnr, self.psnr_limit, 1)}" if self.psnr is not None else self.method


@dataclass
class Frame:
    """What changed in the UI at one moment. None = leave that panel as it is."""

    status: str
    curves: plots.FigureSpec | None = None
    table: list[dict] | None = None
    gallery: list[tuple[np.ndarray, str]] | None = None  # images: target + one per method, upscaled
    reconstruction: plots.FigureSpec | None = None  # 1D / audio: small multiples of target and fits
    audio: dict[int, tuple[tuple[int, np.ndarray], str]] | None = None  # slot -> ((rate, int16), label)
    ntk: plots.FigureSpec | None = None
    errors: plots.FigureSpec | None = None
    bands: plots.FigureSpec | None = None
    details: tuple[plots.FigureSpec | None, plots.FigureSpec | None] | None = None  # (activations, kernel)
    done: bool = False
    outcome: str = ""  # on the last frame: finished | stopped | diverged | failed
    step: int = 0


HEAVY_PANELS = ("reconstruction", "ntk", "errors", "bands", "details")
# One heavy panel per frame, one frame a second: each panel redraws every few seconds and no frame
# keeps the browser's main thread busy for long (bench/bench_browser.py).
HEAVY_PANELS_PER_FRAME = 1


class LiveComparison:
    """Train `methods` on `signal` with the same budget and stream Frames for the UI."""

    def __init__(self, config: RunConfig, methods: list[str], signal: Signal, curve_hz: float = 1.0,
                 heavy_hz: float = 1.0, stream: Callable[..., Iterator[Update]] = train_stream, tune: bool = False,
                 panels: tuple[str, ...] = HEAVY_PANELS):
        self.config, self.methods, self.signal = config, list(methods), signal
        self.tune = tune  # each method at its best learning rate (a short search first)
        # Measured in a browser (bench/bench_browser.py): curves at 1 Hz and one heavy panel a second
        # keep the page responsive; training keeps ≥ 0.85 of headless speed (bench/bench_app.py).
        self.curve_hz, self.heavy_hz = curve_hz, heavy_hz
        self.stream = stream
        self.views = [MethodView(m, i) for i, m in enumerate(self.methods)]
        self.selected: str | None = None  # the method whose details (activations, kernel) are shown
        self.failure = ""
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._dirty: set[str] = set()
        self.panels = tuple(p for p in HEAVY_PANELS if p in panels)  # the heavy panels this view draws
        self._heavy_order = list(self.panels)  # least recently sent first
        self._audio_dirty: set[int] = set()
        self._audio_sent: dict[int, float] = {}
        self.replay_step: int | None = None  # a step the user scrubbed to: live frames leave the panels alone
        self.x_axis = "step"  # the curves' x axis: "step" or "seconds"
        self._prediction_limit = prediction_limit(signal.values.size, len(self.methods))
        # one frequency unit per signal kind: Hz for audio, cycles per signal otherwise
        self._audio = (signal.sample_rate, signal.num_points) if signal.kind == "audio" and signal.sample_rate else None
        self._hz_per_cycle = self._audio[0] / self._audio[1] if self._audio else None

    # --------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _mark(self, panel: str) -> None:
        """A heavy panel's data changed: due for the next frame (if this view draws it)."""
        if panel in self.panels:
            self._dirty.add(panel)

    def view(self, method: str) -> MethodView:
        return next(v for v in self.views if v.method == method)

    def frames(self) -> Iterator[Frame]:
        """Train and yield Frames at the UI's pace, in the caller's thread.

        Training advances while this generator is being iterated and pauses while the consumer
        renders and sends a frame: no second thread competes for the GIL or the CPU (measured,
        bench/bench_app.py: a training thread beside the UI thread ran at 0.70 of headless, this
        at ≥ 0.85). Stop sets a flag the stream checks at every snapshot; closing this generator
        (a disconnected browser) closes the stream, which stops training."""
        stream = (self.stream(self.config, self.methods, self.signal, self._stop.is_set, tune=True) if self.tune
                  else self.stream(self.config, self.methods, self.signal, self._stop.is_set))
        last_light = last_heavy = 0.0
        try:
            for update in stream:
                table_changed = self._apply(update)
                now = time.perf_counter()
                heavy_due = bool(self._dirty or self._audio_dirty) and (
                    now - last_heavy >= 1.0 / self.heavy_hz or table_changed)
                if now - last_light < 1.0 / self.curve_hz and not heavy_due and not table_changed:
                    continue
                frame = Frame(status=self.status_line(), curves=self.curves_figure(), step=self._current_step())
                last_light = now
                if table_changed:
                    frame.table = self.table()
                if heavy_due and self.replay_step is None:  # while replaying, the panels show the past
                    self._fill_heavy(frame, limit=HEAVY_PANELS_PER_FRAME)
                    last_heavy = time.perf_counter()
                yield frame
        except (SpectralLabError, FloatingPointError, RuntimeError, MemoryError) as exc:
            self.failure = user_message(exc)
        finally:
            self.stop()
            stream.close()
        # The end: one frame with every panel. Not one panel per frame: Gradio 6's client applies
        # each streamed frame's diff to the previous frame's objects in place, so a panel sent in
        # one frame and skipped in the next is erased before a busy page has drawn it (seen in CI:
        # a final eNTK or a method's detail never shown). Nothing follows this frame.
        self._dirty.update(self.panels)
        self.replay_step = None  # the last frame shows the end
        frame = Frame(status=self.status_line(final=True), curves=self.curves_figure(), table=self.table(),
                      step=self._current_step(), done=True, outcome=self.outcome())
        self._fill_heavy(frame)
        if self.signal.kind == "audio":
            frame.audio = self._audio_updates(force=True)
        yield frame

    def _apply(self, update: Update) -> bool:
        """Fold one update into its method's view; True when the results table changed."""
        view = self.views[update.index]
        if update.event == "tuning":
            view.status, view.note = "tuning", update.note
            return True  # a frame now: the status line says what is happening
        if update.event == "start":
            view.status, view.note, view.total_steps = "running", update.note, self.config.steps
            if self.selected is None or self.view(self.selected).status in ("waiting",):
                self.selected = view.method
            self._mark("details")
            return True
        if update.event == "failed":
            view.status, view.message = "failed", update.note
            view.row = {"method": view.method, "status": "failed", "note": update.note}
            return True
        snapshot = update.snapshot
        view.step, view.total_steps = snapshot.step, snapshot.total_steps
        keep(view.elapsed, snapshot.step, snapshot.elapsed, limit=10**6)
        view.psnr, view.best_psnr, view.steps_per_s = snapshot.psnr, snapshot.best_psnr, snapshot.steps_per_s
        if snapshot.steps.size:
            view.curve_steps.append(snapshot.steps)
            view.curve_losses.append(snapshot.losses)
        if snapshot.prediction is not None:
            view.prediction = snapshot.prediction
            keep(view.predictions, snapshot.step, snapshot.prediction.astype(np.float16), self._prediction_limit)
            self._mark("reconstruction")
            self._audio_dirty.add(view.index)
        diagnostics = snapshot.diagnostics
        if "ntk" in diagnostics:
            view.ntk["init" if snapshot.step == 0 else "now"] = diagnostics["ntk"]
            keep(view.ntk_history, snapshot.step, diagnostics["ntk"])
            self._mark("ntk")
            self._mark("details")
        if "activations" in diagnostics:
            view.activations = diagnostics["activations"]
            keep(view.activation_history, snapshot.step, diagnostics["activations"])
            self._mark("details")
        if "error_map" in diagnostics:
            view.error_map = diagnostics["error_map"]
            keep(view.error_history, snapshot.step, diagnostics["error_map"])
            self._mark("errors")
        if "band_error" in diagnostics:
            view.band_edges = diagnostics["band_error"][0]
            view.band_steps.append(snapshot.step)
            view.band_columns.append(diagnostics["band_error"][1])
            self._mark("bands")
        if snapshot.done:
            view.status, view.message, view.row = snapshot.status, snapshot.message, update.row
            view.psnr = snapshot.metrics.get("psnr", view.psnr)
            view.psnr_limit = snapshot.metrics.get("float32_limit_psnr")
            view.metrics = dict(snapshot.metrics)
            self._dirty.update(self.panels)
            return True
        return False

    # --------------------------------------------------------------------------------------
    def _current_step(self) -> int:
        running = [v for v in self.views if v.status == "running"]
        return running[-1].step if running else max((v.step for v in self.views), default=0)

    def status_line(self, final: bool = False) -> str:
        if final:
            return self.final_status()
        running = [v for v in self.views if v.status == "running"]
        if self.stopping:
            return "Stopping at the next step…"
        tuning = [v for v in self.views if v.status == "tuning"]
        if tuning and not running:
            v = tuning[-1]
            return (f"Tuning **{v.method}** ({v.index + 1}/{len(self.views)}): short runs at {len(TUNE_FACTORS)} "
                    f"learning rates around its default, then the full run at the best")
        if not running:
            done = [f"{v.method} {v.status} ({psnr_text(v.psnr, v.psnr_limit, 1)})" for v in self.views
                    if v.row and v.psnr is not None]
            return ("; ".join(done) + " · starting…") if done else "Starting…"
        # the methods train round-robin: the time left is every running method's steps at its own rate
        eta = sum((v.total_steps - v.step) / v.steps_per_s for v in running if v.steps_per_s)
        if len(running) == 1 and len(self.views) == 1:
            v = running[0]
            best = f" (best {v.best_psnr:.2f})" if v.best_psnr is not None else ""
            psnr = f" · PSNR {v.psnr:.2f} dB{best}" if v.psnr is not None else ""
            return (f"Training **{v.method}** · step {v.step}/{v.total_steps} · {v.steps_per_s:.0f} steps/s · "
                    f"ETA {eta:.0f} s{psnr}")
        parts = [f"{v.method} {v.step}/{v.total_steps}" + (f" ({v.psnr:.1f} dB)" if v.psnr is not None else "")
                 if v.status == "running" else f"{v.method} {v.status}" for v in self.views]
        known = all(v.steps_per_s for v in running)  # no rate yet before a method's first interval
        return (f"Training {len(running)} of {len(self.views)} together · " + " · ".join(parts)
                + (f" · ETA {eta:.0f} s" if known else ""))

    def outcome(self) -> str:
        """failed > stopped > diverged > finished, over the whole comparison."""
        statuses = {v.status for v in self.views}
        if self.failure or "failed" in statuses:
            return "failed"
        if self.stopping and ({"stopped", "waiting", "tuning"} & statuses):
            return "stopped"
        if "diverged" in statuses:
            return "diverged"
        return "finished"

    def final_status(self) -> str:
        outcome = self.outcome()
        done = [v for v in self.views if v.row and v.row.get("psnr_db") is not None]
        seconds = time.perf_counter() - self.started
        best = max(done, key=lambda v: v.row["psnr_db"]) if done else None
        best_text = f" Best: **{best.method}** at {psnr_text(best.row['psnr_db'], best.psnr_limit)}." if best else ""
        if outcome == "failed":
            failed = [f"{v.method}: {v.message}" for v in self.views if v.status == "failed"]
            reason = "; ".join(failed) or self.failure
            return f"**Failed** — {reason}.{best_text}"
        if outcome == "stopped":
            parts = [f"{v.method} {'finished' if v.status == 'finished' else v.message or 'did not run'}"
                     for v in self.views]
            return f"**Stopped** by you: {'; '.join(parts)}.{best_text}"
        if outcome == "diverged":
            diverged = "; ".join(f"{v.method}: {v.message}" for v in self.views if v.status == "diverged")
            return f"**Finished, with divergence** — {diverged}.{best_text}"
        tuned = (" Each method at its own best learning rate (the table's lr; a short search at "
                 f"{TUNE_FRACTION:.0%} of the steps per rate)." if self.tune else "")
        best_text += tuned
        stalled = [v.method for v in done if ZERO_OUTPUT_HINT in v.row.get("note", "")]
        stalled = (f" ⚠ {', '.join(stalled)}: {ZERO_OUTPUT_HINT} (PSNR within {ZERO_OUTPUT_MARGIN_DB:g} dB of a "
                   "zero output; the table has the numbers)." if stalled else "")
        return f"**Finished**: {len(done)} method(s) in {seconds:.0f} s.{best_text}{stalled} {PSNR_CONVENTION}."

    def table(self) -> list[dict]:
        rows = []
        for v in self.views:
            if v.row is not None:
                row = dict(v.row)
                row["status"] = v.status
                rows.append(row)
            else:
                rows.append({"method": v.method, "status": "not run" if self.stopping else v.status,
                             "note": v.message})
        return rows

    def curves_figure(self, marker: int | None = None) -> plots.FigureSpec:
        """PSNR and loss per method against steps or seconds of training (`x_axis`), with a line at
        the replayed step (`marker`)."""
        curves = {}
        for view in self.views:
            if not view.curve_steps:
                continue
            steps, losses = view.curve()
            if self.x_axis == "seconds" and view.elapsed:
                seen, seconds = np.array(view.elapsed, dtype=np.float64).T
                steps = np.interp(steps, seen, seconds)  # each logged step at its training time
            curves[view.method] = (steps, losses)
        at = marker
        if marker is not None and self.x_axis == "seconds":
            at = max((float(np.interp(marker, *np.array(v.elapsed, dtype=np.float64).T)) for v in self.views
                      if v.elapsed), default=None)
        return plots.psnr_figure(curves, "PSNR and loss, one line per method", x_unit=self.x_axis, marker=at)

    def kernels(self, views=None) -> dict:
        return {v.method: dict(v.ntk) for v in (views or self.views) if v.ntk}

    def max_step(self) -> int:
        return max((v.step for v in self.views), default=0)

    def frame_at(self, step: int, panels: tuple[str, ...] | None = None) -> Frame:
        """Every panel (or those named) of every method as it stood at `step` (the replay slider),
        the curves marked at it."""
        views = [view_at(v, step) for v in self.views]
        frame = Frame(status="", curves=self.curves_figure(marker=step), step=step)
        for name in (p for p in self.panels if panels is None or p in panels):
            self._fill_panel(frame, name, views)
        return frame

    def _fill_heavy(self, frame: Frame, limit: int | None = None) -> int:
        """Put up to `limit` of the changed heavy panels into `frame`, the least recently sent first
        (the rest stay due for the next frame); returns how many were put. Panels with nothing to
        show yet count as sent."""
        filled = 0
        for name in list(self._heavy_order):
            if limit is not None and filled >= limit:
                break
            if name not in self._dirty:
                continue
            self._dirty.discard(name)
            self._heavy_order.remove(name)
            self._heavy_order.append(name)  # now the most recently sent
            filled += self._fill_panel(frame, name)
        if self.signal.kind == "audio" and not frame.done:
            frame.audio = self._audio_updates()
        return filled

    def _fill_panel(self, frame: Frame, name: str, views=None) -> bool:
        """One heavy panel of `views` (default: the live ones) into `frame`; False when it has
        nothing to show yet."""
        views = views or self.views
        if name == "reconstruction":
            if not any(v.prediction is not None for v in views):
                return False
            if self.signal.kind == "image":
                frame.gallery = self.gallery(views)
            else:
                frame.reconstruction = self.reconstruction_spec(views)
        elif name == "ntk":
            if not self.kernels(views):
                return False
            frame.ntk = plots.ntk_figure(self.kernels(views), "Empirical NTK per method", audio=self._audio)
        elif name == "errors":
            maps = {v.label: v.error_map for v in views if v.error_map is not None}
            if not maps:
                return False
            frame.errors = plots.error_figure(maps, "Where the error is, one panel per method")
        elif name == "bands":
            histories = {v.label: v.bands() for v in views if v.band_columns}
            if not histories:
                return False
            frame.bands = plots.band_error_figure(histories, hz_per_cycle=self._hz_per_cycle)
        elif name == "details":
            if self.selected is None:
                return False
            frame.details = self.details(self.selected, views)
        return True

    def gallery(self, views=None, minimum: int = 256) -> list[tuple[np.ndarray, str]]:
        """Target, then every method's current fit, upscaled with nearest neighbour to ≥ `minimum` px."""
        items = [(upscale(self.signal.to_original(), minimum), "target")]
        items += [(upscale(self.signal.to_original(v.prediction), minimum), v.label) for v in (views or self.views)
                  if v.prediction is not None]
        return items

    def reconstruction_spec(self, views=None, title: str = "Fit vs target, one panel per method") -> plots.FigureSpec:
        """1D / audio: the target and each method's fit, one panel per method."""
        seen = [v for v in (views or self.views) if v.prediction is not None]
        return plots.reconstruction_figure(self.signal, {v.label: v.prediction for v in seen}, title)

    def _audio_updates(self, force: bool = False, every: float = 5.0) -> dict:
        """Players are re-encoded at most every `every` seconds per method (and when it finishes)."""
        out, now = {}, time.perf_counter()
        for index in sorted(self._audio_dirty):
            view = self.views[index]
            finished = view.status not in ("running", "waiting", "tuning")
            if force or finished or now - self._audio_sent.get(index, -math.inf) >= every:
                out[index] = (to_audio(self.signal, view.prediction), view.label)
                self._audio_sent[index] = now
                self._audio_dirty.discard(index)
        return out

    def details(self, method: str, views=None) -> tuple[plots.FigureSpec | None, plots.FigureSpec | None]:
        """(activations, kernel) figures of one method: the heavy panels shown for one at a time."""
        view = next(v for v in (views or self.views) if v.method == method)
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

    def export(self, outdir: str | os.PathLike, figures: bool = True) -> list[str]:
        """results.csv and (with `figures`) PNG figures drawn with matplotlib, for download."""
        outdir = Path(outdir)
        rows = self.table()
        files = [rows_to_csv(rows, outdir / "results.csv")] if rows else []
        if not figures:
            return [str(f) for f in files]
        specs = {"psnr.png": self.curves_figure()}
        if self.kernels():
            specs["ntk.png"] = plots.ntk_figure(self.kernels(), audio=self._audio)
        maps = {v.label: v.error_map for v in self.views if v.error_map is not None}
        if maps:
            specs["errors.png"] = plots.error_figure(maps)
        histories = {v.label: v.bands() for v in self.views if v.band_columns}
        if histories:
            specs["bands.png"] = plots.band_error_figure(histories, hz_per_cycle=self._hz_per_cycle)
        for name, spec in specs.items():
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


def device_label() -> str:
    device = pick_device("auto")
    if device.type == "cuda":
        import torch

        return f"CUDA ({torch.cuda.get_device_name()})"
    return "CPU"
