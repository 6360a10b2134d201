"""Recording a class's runs before the class arrives: the seven lessons' own runs, then every follow-up,
trained one at a time in the background from the server's start.

A class opens a lesson together: a run recorded before the first student presses Run is served to
all of them at once (recordings.py), instead of one student training it while the others wait.
Background work must never make a visitor wait, so a job takes a training slot only when every slot is
free and nobody is in line for one; a job that is training pauses while a visitor's run trains in another
slot (two runs share the cores: a student's follow-up took 77 s beside a recording, ~30 s alone) and stops
as soon as a visitor joins the line (it is tried again, from the start, once the line is empty). A run a
student is already training is not trained twice: their run records it. The follow-ups of the lesson a
student has just run go before the others (LessonDemand).

The jobs themselves (what a lesson or a follow-up trains, and how it is stored) come from the UI's
own code paths, so a recording is keyed exactly as the run a student's click would train.
SPECTRAL_LAB_PRERECORD says what to record: "all" (the default), "none" (or "0"), or a list of
lessons and follow-ups ("1,2,1.1": lessons 1 and 2 and lesson 1's first follow-up).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from .slots import TrainingSlots

LOG = logging.getLogger("spectral_lab.app")
QUIET_SECONDS = 2.0  # a background run starts once the server has served no visitor for this long
CALIBRATION = "calibration"  # the job that measures the server's speed (not a recording)
WARM_UP = "warm-up"  # the job that compiles what a first visitor would otherwise wait for (not a recording)
MAX_TRIES = 20  # a job stopped this often by visitors (a busy class) is left to the students' own clicks
POLL_SECONDS = 0.5


@dataclass
class Job:
    """One run to record. `record(yield_now)` trains and stores it, calling `yield_now()` between
    frames (True: a visitor waits, stop); it returns True when there is nothing left to do (recorded,
    already recorded, or failed for good) and False to be tried again later."""

    name: str  # "1" (lesson 1), "1.1" (its first follow-up), CALIBRATION, WARM_UP
    record: Callable[[Callable[[], bool]], bool]


class VisitorActivity:
    """When the server last served a visitor (a page, a student waiting for or shown a recorded run): no
    background run starts until it has been quiet a moment. A training thread holds Python's one lock much
    of the time, and a class's pages and takeaways are served by the same process."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.last = clock, float("-inf")

    def touch(self) -> None:
        self.last = self.clock()

    def quiet(self, seconds: float = QUIET_SECONDS) -> bool:
        return self.clock() - self.last >= seconds


VISITORS = VisitorActivity()  # the server's (the UI touches it as it serves)


def lesson_of(name: str) -> str | None:
    """The lesson a follow-up's job belongs to ("4" for "4.3"); None for a lesson's own run and the others."""
    return name.split(".")[0] if "." in name else None


class LessonDemand:
    """The lessons students run now, the latest last: the recorder takes the follow-ups of the lesson a class is
    on before the others (a class clicks lesson 4's follow-ups after running lesson 4, whatever the order says)."""

    def __init__(self):
        self._lock, self._lessons = threading.Lock(), []

    def ask(self, lesson_number: int | str) -> None:
        with self._lock:
            number = str(lesson_number)
            self._lessons = [n for n in self._lessons if n != number] + [number]

    def next_of(self, names: list[str]) -> int:
        """The index in `names` of the job to run next: the first follow-up of the latest lesson asked for
        that has one left, else 0."""
        with self._lock:
            lessons = list(self._lessons)
        for number in reversed(lessons):
            for index, name in enumerate(names):
                if lesson_of(name) == number:
                    return index
        return 0


DEMAND = LessonDemand()  # the server's (a student's lesson run asks for its lesson)


@dataclass
class PrerecordStatus:
    started: float = field(default_factory=time.perf_counter)
    done: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    current: str = ""
    all_ready_s: float | None = None  # seconds from start until the last job ended

    def line(self) -> str:
        runs = [name for name in self.done if name not in (CALIBRATION, WARM_UP)]
        if self.all_ready_s is not None:
            return f"all {len(runs)} runs recorded, {self.all_ready_s:.0f} s after start"
        left = [name for name in self.pending + [self.current] if name and name not in (CALIBRATION, WARM_UP)]
        return f"{len(runs)} of {len(runs) + len(left)} runs recorded{'; now ' + self.current if self.current else ''}"


def wanted(name: str, spec: str | None = None) -> bool:
    """Whether SPECTRAL_LAB_PRERECORD asks for `name` ("1" for lesson 1, "1.1" for its first follow-up)."""
    spec = (os.environ.get("SPECTRAL_LAB_PRERECORD", "all") if spec is None else spec).strip()
    if spec in ("", "0", "none"):
        return False
    return spec == "all" or name in {item.strip() for item in spec.split(",")}


class Prerecorder:
    """Runs `jobs` in order in a daemon thread, each in an otherwise idle training slot."""

    def __init__(self, slots: TrainingSlots, jobs: list[Job], poll: float = POLL_SECONDS,
                 started: float | None = None, later: Callable[[], list[Job]] | None = None,
                 visitors: VisitorActivity = VISITORS, demand: LessonDemand = DEMAND):
        """`started`: the server's start (time.perf_counter()), from which the log counts; else now.
        `later()`: the jobs after `jobs`, made once those are done (their order may take a while to decide)."""
        self.slots, self.poll, self.later, self.visitors, self.demand = slots, poll, later, visitors, demand
        self.jobs = list(jobs)
        self.status = PrerecordStatus(pending=[job.name for job in self.jobs])
        if started is not None:
            self.status.started = started
        self._stop = threading.Event()
        self._thread = threading.get_ident()  # the recorder's thread (run() sets it)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="prerecord", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def visitor_waits(self) -> bool:
        """Called between a background run's frames: True (stop) when a visitor waits for a training slot.
        While a visitor's run trains in another slot it returns only when that run ends (this run pauses;
        a run's clock skips the time its consumer holds a frame, train.py) or a visitor joins the line. It
        does not pause for pages and served recordings: the next run starts once they have been served
        (`_wait_for_idle_slot`)."""
        while not self._stop.is_set() and not self.slots.waiting() and self._visitor_trains():
            self._stop.wait(self.poll)
        return self._stop.is_set() or self.slots.waiting() > 0

    def _visitor_trains(self) -> bool:
        return self.slots.training_for_others(self._thread) > 0

    def run(self) -> None:
        self._thread = threading.get_ident()  # the slots this thread takes are the recorder's, others a visitor's
        pending, tries = deque(self.jobs), {}
        while (pending or self.later) and not self._stop.is_set():
            if not pending:
                pending.extend(self.later())
                self.later = None
                continue
            if not self._wait_for_idle_slot():
                return
            index = self.demand.next_of([job.name for job in pending])  # the lesson a class is on first
            job = pending[index]
            del pending[index]
            self.status.current = job.name
            self.status.pending = [j.name for j in pending]
            try:
                finished = job.record(self.visitor_waits)
            except Exception:  # a bug of ours: logged, and the other jobs go on
                LOG.exception("recording %s failed", job.name)
                finished = True
            tries[job.name] = tries.get(job.name, 0) + 1
            if finished:
                self.status.done.append(job.name)
                LOG.info("ready for a class: %s (%.0f s after start)", self._label(job.name),
                         time.perf_counter() - self.status.started)
            elif tries[job.name] < MAX_TRIES:
                pending.append(job)  # a visitor came: tried again when the line is empty
            self.status.current = ""
        self.status.pending = []
        self.status.all_ready_s = time.perf_counter() - self.status.started
        LOG.info("prerecorded: %s", self.status.line())

    @staticmethod
    def _label(name: str) -> str:
        if name == CALIBRATION:
            return "this server's speed per method (the estimates before each run)"
        if name == WARM_UP:
            return "librosa's compiled spectrogram (the audio error maps)"
        return f"follow-up {name}" if lesson_of(name) else f"lesson {name}"

    def _wait_for_idle_slot(self) -> bool:
        while not self.slots.idle_slot() or self._visitor_trains() or not self.visitors.quiet():
            if self._stop.wait(self.poll):
                return False
        return True


__all__ = ["CALIBRATION", "DEMAND", "VISITORS", "WARM_UP", "Job", "LessonDemand", "MAX_TRIES", "PrerecordStatus",
           "Prerecorder", "VisitorActivity", "lesson_of", "wanted"]
