"""Recording a class's runs before the class arrives: the six lessons' own runs, then every follow-up,
trained one at a time in the background from the server's start.

A class opens a lesson together: a run recorded before the first student presses Run is served to
all of them at once (recordings.py), instead of one student training it while the others wait.
Background work must never make a visitor wait, so a job takes a training slot only when one is free
and nobody is in line for it, and a job that is training stops as soon as a visitor joins the line
(it is tried again, from the start, once the line is empty). A run a student is already training is
not trained twice: their run records it.

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
MAX_TRIES = 20  # a job stopped this often by visitors (a busy class) is left to the students' own clicks
POLL_SECONDS = 0.5


@dataclass
class Job:
    """One run to record. `record(yield_now)` trains and stores it, calling `yield_now()` between
    frames (True: a visitor waits, stop); it returns True when there is nothing left to do (recorded,
    already recorded, or failed for good) and False to be tried again later."""

    name: str  # "lesson 1", "follow-up 1.1"
    record: Callable[[Callable[[], bool]], bool]


@dataclass
class PrerecordStatus:
    started: float = field(default_factory=time.perf_counter)
    done: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    current: str = ""
    all_ready_s: float | None = None  # seconds from start until the last job ended

    def line(self) -> str:
        if self.all_ready_s is not None:
            return f"all {len(self.done)} runs recorded, {self.all_ready_s:.0f} s after start"
        return (f"{len(self.done)} of {len(self.done) + len(self.pending) + bool(self.current)} runs recorded"
                f"{'; recording ' + self.current if self.current else ''}")


def wanted(name: str, spec: str | None = None) -> bool:
    """Whether SPECTRAL_LAB_PRERECORD asks for `name` ("1" for lesson 1, "1.1" for its first follow-up)."""
    spec = (os.environ.get("SPECTRAL_LAB_PRERECORD", "all") if spec is None else spec).strip()
    if spec in ("", "0", "none"):
        return False
    return spec == "all" or name in {item.strip() for item in spec.split(",")}


class Prerecorder:
    """Runs `jobs` in order in a daemon thread, each in an otherwise idle training slot."""

    def __init__(self, slots: TrainingSlots, jobs: list[Job], poll: float = POLL_SECONDS):
        self.slots, self.poll = slots, poll
        self.jobs = list(jobs)
        self.status = PrerecordStatus(pending=[job.name for job in self.jobs])
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="prerecord", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def visitor_waits(self) -> bool:
        return self._stop.is_set() or self.slots.waiting() > 0

    def run(self) -> None:
        pending, tries = deque(self.jobs), {}
        while pending and not self._stop.is_set():
            job = pending.popleft()
            if not self._wait_for_idle_slot():
                return
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
        return f"follow-up {name}" if "." in name else f"lesson {name}"

    def _wait_for_idle_slot(self) -> bool:
        while not self.slots.idle_slot():
            if self._stop.wait(self.poll):
                return False
        return True


__all__ = ["Job", "MAX_TRIES", "PrerecordStatus", "Prerecorder", "wanted"]
