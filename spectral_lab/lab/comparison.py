"""What the UI shows while one or several methods train on the same signal: the scheduling.

`LiveComparison.frames()` iterates the training stream, folds each update into its method's view
(method_view.py) and turns updates into `Frame`s at the UI's pace: light panels (status, curves,
table) at most `curve_hz` times a second, heavy ones (reconstructions, eNTK, error maps, bands,
details) at most `heavy_hz`, and only the panels whose data changed. Which of those go next is
pacing.py's job, what the panels draw figures.py's, the words status.py's, the replay's history
replay.py's.
"""
from __future__ import annotations

import copy
import os
import threading
import time
from typing import Callable, Iterator

import numpy as np

from .. import plots
from ..config import RunConfig
from ..errors import SpectralLabError
from ..signals import Signal
from ..train import pick_device
from . import status
from .estimate import RATES
from .figures import ComparisonFigures, to_audio
from .frame import Frame
from .method_view import MethodView
from .pacing import HEAVY_PANELS, PanelPacer
from .replay import prediction_limit, view_at
from .stream import Update, train_stream, user_message
from .variants import base_method

# One heavy panel per frame, one frame a second: each panel redraws every few seconds and no frame
# keeps the browser's main thread busy for long (bench/bench_browser.py).
HEAVY_PANELS_PER_FRAME = 1


class LiveComparison:
    """Train `methods` on `signal` with the same budget and stream Frames for the UI."""

    def __init__(self, config: RunConfig, methods: list[str], signal: Signal, curve_hz: float = 1.0,
                 heavy_hz: float = 1.0, stream: Callable[..., Iterator[Update]] = train_stream, tune: bool = False,
                 panels: tuple[str, ...] = HEAVY_PANELS, note: str = "", estimate: float | None = None):
        self.config, self.methods, self.signal = config, list(methods), signal
        self.tune = tune  # each method at its best learning rate (a short search first)
        self.note = note  # what the plan changed to fit the server's time budget (estimate.plan_run)
        self.estimate = estimate  # seconds the plan expected, before the first measured rate
        # Measured in a browser (bench/bench_browser.py): curves at 1 Hz and one heavy panel a second
        # keep the page responsive; training keeps ≥ 0.85 of headless speed (bench/bench_app.py).
        self.curve_hz, self.heavy_hz = curve_hz, heavy_hz
        self.stream = stream
        self.views = [MethodView(m, i) for i, m in enumerate(self.methods)]
        self.figures = ComparisonFigures(config, signal)
        self.selected: str | None = None  # the method whose details (activations, kernel) are shown
        self.failure = ""
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self.pacer = PanelPacer(panels)
        self.panels = self.pacer.panels  # the heavy panels this view draws
        self.replay_step: int | None = None  # a step the user scrubbed to: live frames leave the panels alone
        self.x_axis = "step"  # the curves' x axis: "step" or "seconds"
        self._prediction_limit = prediction_limit(signal.values.size, len(self.methods))
        self.downloads: dict[str, str] = {}  # file name -> path: the CSV, the figures, the GIF
        self.device_type = pick_device(config.device).type
        self.recorded = False  # a copy of a run this server recorded (viewer_copy): its history is shared

    def viewer_copy(self) -> "LiveComparison":
        """This finished run for one more visitor: the views, figures and history shared (read only),
        what a visitor changes (the replay step, the curves' axis, the method shown, the downloads) their
        own, so one student's replay or download never lands on another's page."""
        viewer = copy.copy(self)
        viewer.replay_step, viewer.x_axis, viewer.downloads, viewer.recorded = None, "step", {}, True
        return viewer

    # --------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

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
                heavy_due = self.pacer.anything_due and (
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
        yield self._last_frame()

    def _last_frame(self) -> Frame:
        """The end: one frame with every panel. Not one panel per frame: Gradio 6's client applies
        each streamed frame's diff to the previous frame's objects in place, so a panel sent in one
        frame and skipped in the next is erased before a busy page has drawn it (seen in CI: a
        final eNTK or a method's detail never shown). Nothing follows this frame."""
        self.pacer.mark_all()
        self.replay_step = None  # the last frame shows the end
        frame = Frame(status=self.status_line(final=True), curves=self.curves_figure(), table=self.table(),
                      step=self._current_step(), done=True, outcome=self.outcome())
        self._fill_heavy(frame)
        if self.signal.kind == "audio":
            frame.audio = self._audio_updates(force=True)
        return frame

    def _apply(self, update: Update) -> bool:
        """Fold one update into its method's view; True when the results table changed."""
        view = self.views[update.index]
        if update.event == "tuning":
            began = view.status != "tuning"
            view.status, view.note = "tuning", update.note
            # a frame now when the search begins, its progress after that at the light frames' pace: a frame per
            # trial step (curves, table, panels each) made a visitor's tuned follow-up 4.3 send ~375 frames and
            # take 60 s served, 32-38 s now
            return began
        if update.event == "start":
            view.status, view.note, view.total_steps = "running", update.note, self.config.steps
            if self.selected is None or self.view(self.selected).status in ("waiting",):
                self.selected = view.method
            self.pacer.mark("details")
            return True
        if update.event == "failed":
            view.status, view.message = "failed", update.note
            view.row = {"method": view.method, "status": "failed", "note": update.note}
            return True
        changed = view.apply(update.snapshot, update.row, self._prediction_limit)
        if "audio" in changed:
            self.pacer.mark_audio(view.index)
        for panel in changed & set(HEAVY_PANELS):
            self.pacer.mark(panel)
        if "done" in changed:
            self.pacer.mark_all()
            if view.status == "finished" and update.row:  # this server's measured rate, for later estimates
                RATES.observe(base_method(view.method), self.device_type, self.signal.num_points, update.row.get("params", 0),
                              update.row.get("steps/s", 0.0))
            return True
        return False

    # --------------------------------------------------------------------------------------
    def _current_step(self) -> int:
        running = [v for v in self.views if v.status == "running"]
        return running[-1].step if running else max((v.step for v in self.views), default=0)

    def status_line(self, final: bool = False) -> str:
        line = self.final_status() if final else status.status_line(self.views, self.stopping, self.estimate)
        # at the end, what the plan changed stays said ("camera at 64² instead of 512²"); advice on how long
        # the run would take ("about 64 s here … lower the size") has served its turn
        note = self.note if not final or "instead of" in self.note else ""
        return f"{line} · ⓘ {note}" if note else line

    def outcome(self) -> str:
        """failed > stopped > diverged > finished, over the whole comparison."""
        return status.outcome(self.views, self.failure, self.stopping)

    def final_status(self) -> str:
        return status.final_status(self.views, self.outcome(), self.failure, time.perf_counter() - self.started,
                                   self.tune)

    def table(self) -> list[dict]:
        return status.table(self.views, self.stopping)

    # --------------------------------------------------------------------------------------
    # The panels, drawn by figures.py from the live views (or from views replayed to a step)
    def curves_figure(self, marker: int | None = None) -> plots.FigureSpec:
        return self.figures.curves(self.views, self.x_axis, marker)

    def kernels(self, views=None) -> dict:
        return self.figures.kernels(views or self.views)

    def gallery(self, views=None, minimum: int = 256) -> list[tuple[np.ndarray, str]]:
        return self.figures.gallery(views or self.views, minimum)

    def reconstruction_spec(self, views=None, title: str = "Fit vs target, one panel per method") -> plots.FigureSpec:
        return self.figures.reconstruction(views or self.views, title)

    def details(self, method: str, views=None):
        """(activations, kernel) figures of one method."""
        return self.figures.details(next(v for v in (views or self.views) if v.method == method))

    def export(self, outdir: str | os.PathLike, figures: bool = True) -> list[str]:
        """results.csv and (with `figures`) PNG figures drawn with matplotlib, for download; returns
        every download this comparison has made (a later file of the same name replaces the earlier)."""
        rows = self.table()
        for path in self.figures.export(rows, self.views, self.curves_figure(), outdir, figures):
            self.add_download(path)
        return list(self.downloads.values())

    def add_download(self, path: str | os.PathLike) -> list[str]:
        """Keep a file among the downloads (the GIF beside the CSV, not instead of it); returns them all."""
        self.downloads[os.path.basename(path)] = str(path)
        return list(self.downloads.values())

    def max_step(self) -> int:
        return max((v.step for v in self.views), default=0)

    def frame_at(self, step: int, panels: tuple[str, ...] | None = None) -> Frame:
        """Every panel (or those named) of every method as it stood at `step` (the replay slider),
        the curves marked at it."""
        views = [view_at(v, step) for v in self.views]
        frame = Frame(status="", curves=self.curves_figure(marker=step), step=step)
        for name in (p for p in self.panels if panels is None or p in panels):
            self.figures.fill(frame, name, views, self.selected)
        return frame

    def _fill_heavy(self, frame: Frame, limit: int | None = None) -> int:
        """Put up to `limit` of the due heavy panels into `frame`, the least recently sent first
        (the rest stay due for the next frame), and the due audio players; returns how many panels
        were put. A panel with nothing to show yet counts as sent, not against the limit."""
        filled = 0
        for name in self.pacer.due():
            if limit is not None and filled >= limit:
                break
            self.pacer.sent(name)
            filled += self.figures.fill(frame, name, self.views, self.selected)
        if self.signal.kind == "audio" and not frame.done:
            frame.audio = self._audio_updates()
        return filled

    def _audio_updates(self, force: bool = False) -> dict:
        """The players due now, re-encoded: slot -> ((rate, int16 samples), label)."""
        finished = {v.index for v in self.views if v.status not in ("running", "waiting", "tuning")}
        return {index: (to_audio(self.signal, self.views[index].prediction), self.views[index].label)
                for index in self.pacer.take_audio(finished, force)}


def device_label() -> str:
    device = pick_device("auto")
    if device.type == "cuda":
        import torch

        return f"CUDA ({torch.cuda.get_device_name()})"
    return "CPU"
