"""Running a lesson for a class: serve the server's recording of the lesson's own run, or wait for the
one training now, or train it (in a training slot) and record it for the next student.

`LessonRunner.run` is a generator of `LessonEvent`s the UI turns into components and a bench
drives without a browser (bench/bench_class.py): status lines while waiting, the live frames of a
run that trains, and the takeaway for the student's own prediction at the end.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

from .estimate import estimate_seconds
from .recordings import Recording, Recordings
from .slots import TrainingSlots


@dataclass
class LessonEvent:
    kind: str  # "status" | "frame" (a LiveComparison frame) | "cnn" (a NeRN snapshot) | "done"
    text: str = ""  # the status line, or on "done" the takeaway
    frame: object = None  # "frame": the Frame; "done": the recording's last frame (every panel)
    run: object = None  # the LiveComparison or NernRun it comes from
    recording: Recording | None = None  # "done": what was served or recorded
    served: bool = False  # "done": the run came from the server's recording
    supports: int | None = None  # "done": the choice the run supports (None: it does not settle it)


class LessonRunner:
    """One per server: its recordings and its training slots."""

    def __init__(self, recordings: Recordings, slots: TrainingSlots, device: str = "cpu", limits=None,
                 changes: dict | None = None):
        """`changes`: settings over every lesson's own (a bench or a test at a smaller size)."""
        self.recordings, self.slots, self.device, self.limits = recordings, slots, device, limits
        self.changes = dict(changes or {})

    def key(self, lesson, seed) -> tuple:
        from .lessons import lesson_settings

        if lesson.kind == "nern":
            return lesson.key, int(seed or 0), self.device, "cnn"
        config, methods, tune = lesson_settings(lesson, seed)
        config = config.replace(**self.changes)
        return lesson.key, config.seed, self.device, config.to_query(), tuple(methods), tune

    def run(self, lesson, seed, prediction: int, cancelled: Callable[[], bool] = lambda: False,
            on_start: Callable[[object], bool] = lambda run: True, stream=None,
            panels: tuple[str, ...] = ("reconstruction", "bands")) -> Iterator[LessonEvent]:
        """Serve, wait for, or train the lesson's run; `on_start(run)` registers a run that trains
        (False: cancelled before it started); `cancelled()` ends a wait; `panels`: what a run that
        trains draws (its LiveComparison's heavy panels)."""
        key = self.key(lesson, seed)
        while True:
            recording = self.recordings.lookup(key)
            if recording is not None:
                yield self._done(lesson, recording, prediction, served=True)
                return
            owner, ended = self.recordings.claim(key)
            if owner:
                yield from self._train(lesson, seed, prediction, key, cancelled, on_start, stream, panels)
                return
            said = False
            while not ended.wait(timeout=1.0):  # another student trains it: their result is ours
                if cancelled():
                    yield LessonEvent("status", "Stopped before the run reached you.")
                    return
                if not said:  # said once: a class waiting here sent the server 30 unchanged lines a second
                    said = True
                    yield LessonEvent("status", "Another student's run of this lesson is training on this server; "
                                                "you will see its result (the same run, same seed) as soon as it "
                                                "ends.")

    def _done(self, lesson, recording: Recording, prediction: int, served: bool) -> LessonEvent:
        from .lessons import kernel_low_share, lesson_takeaway

        if lesson.kind == "nern":
            takeaway = lesson_takeaway(lesson, recording.run.result, kernel_low_share(recording.extra["spectra"]),
                                       prediction=prediction)
        else:
            takeaway = lesson_takeaway(lesson, recording.run.views, prediction=prediction)
        return LessonEvent("done", takeaway.text, recording.last_frame, recording.run, recording, served=served,
                           supports=takeaway.supports)

    def _train(self, lesson, seed, prediction, key, cancelled, on_start, stream, panels) -> Iterator[LessonEvent]:
        """Train the lesson's run in a training slot (waiting in line first), record it when it
        finishes; a stopped or failed run records nothing and lets the next student train it."""
        started = time.perf_counter()
        try:
            run = self._build(lesson, seed, stream, panels)
        except Exception:
            self.recordings.abandon(key)
            raise
        recording, turn = None, self.slots.enter(f"lesson {lesson.number}", getattr(run, "estimate", None) or 10.0)
        try:
            for words in self.slots.wait(turn, cancelled):
                yield LessonEvent("status", words)
            if turn.started is None or not on_start(run):
                yield LessonEvent("status", "**Cancelled** before it started: nothing was trained.")
                return
            recording = yield from (self._train_cnn(run) if lesson.kind == "nern" else self._train_live(run))
        finally:
            self.slots.leave(turn)
            if recording is None:
                self.recordings.abandon(key)
        if recording is None:
            yield LessonEvent("done", "", None, run, None)
            return
        recording.seconds = time.perf_counter() - getattr(run, "started", started)  # a recording's pauses skipped
        self.recordings.store(key, recording)
        yield self._done(lesson, recording, prediction, served=False)

    def _build(self, lesson, seed, stream, panels):
        from .lessons import cnn_lesson_run, lesson_comparison

        if lesson.kind == "nern":
            return cnn_lesson_run(seed, **{k: v for k, v in self.changes.items() if k == "steps"})
        kwargs = {"stream": stream} if stream is not None else {}
        live = lesson_comparison(lesson, self.device, seed=seed, limits=self.limits, changes=self.changes,
                                 panels=panels, **kwargs)
        live.estimate = estimate_seconds(live.config, live.methods, live.signal, self.device, live.tune)
        return live

    def _train_live(self, live):
        """A LiveComparison's frames; returns its Recording when it finished (None otherwise)."""
        last = None
        for frame in live.frames():
            last = frame
            yield LessonEvent("frame", frame.status, frame, live)
        return Recording(live, last) if live.outcome() == "finished" else None

    def _train_cnn(self, run):
        """The CNN lesson's NeRN run: its snapshots; returns its Recording unless it was stopped."""
        from ..nern import layer_spectra

        spectra = layer_spectra(run.signal)
        yield LessonEvent("cnn", "", spectra, run)
        for snapshot in run.snapshots():
            yield LessonEvent("cnn", "", snapshot, run)
        return None if run.result.stopped else Recording(run, None, extra={"spectra": spectra})
