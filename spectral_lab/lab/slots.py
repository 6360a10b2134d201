"""Training slots: how many runs train at once on this server, and the line of those waiting.

Every training in the app (the lab's Train, a lesson's own run, the CNN tab) takes a slot; one that
finds none waits its turn in first-come order and hears, every second, where it stands ("2nd in
line, about 40 s"), from the estimates of the runs ahead of it. A cancelled wait (Stop, a closed
tab) leaves the line. Serving a recorded lesson run takes no slot (recordings.py).
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .estimate import duration


@dataclass
class Turn:
    """One run's place: waiting in line, then training (holding a slot) until released."""

    label: str  # what it trains, for the words of the others' wait
    estimate: float  # seconds it expects to train
    number: int = 0
    started: float | None = None  # when it got its slot
    granted: threading.Event = field(default_factory=threading.Event)
    thread: int = field(default_factory=threading.get_ident)  # the thread that entered it (whose run it is)


class TrainingSlots:
    def __init__(self, slots: int):
        self.slots = max(1, int(slots))
        self._lock = threading.Lock()
        self._line: list[Turn] = []  # waiting, first come first
        self._running: list[Turn] = []
        self._numbers = itertools.count(1)

    def enter(self, label: str, estimate: float) -> Turn:
        """Join the line (or take a free slot at once)."""
        turn = Turn(label, max(0.0, float(estimate)), next(self._numbers))
        with self._lock:
            self._line.append(turn)
            self._grant()
        return turn

    def wait(self, turn: Turn, cancelled: Callable[[], bool] = lambda: False,
             every: float = 1.0) -> Iterator[str]:
        """Yield the waiting words every `every` seconds until `turn` holds a slot (then return) or
        `cancelled()` turns true (it leaves the line; the caller sees turn.started is None)."""
        while not turn.granted.wait(timeout=0 if cancelled() else every):
            if cancelled():
                self.leave(turn)
                return
            yield self.words(turn)

    def leave(self, turn: Turn) -> None:
        """A finished run frees its slot; a waiting one leaves the line."""
        with self._lock:
            if turn in self._line:
                self._line.remove(turn)
            if turn in self._running:
                self._running.remove(turn)
            self._grant()

    def waiting(self) -> int:
        """How many runs wait in line for a slot."""
        with self._lock:
            return len(self._line)

    def idle_slot(self) -> bool:
        """A slot is free and nobody waits for it: background work may take it."""
        with self._lock:
            return not self._line and len(self._running) < self.slots

    def training_for_others(self, thread: int) -> int:
        """How many runs hold a slot that the thread `thread` did not enter (the background recorder's
        question: is a visitor training?)."""
        with self._lock:
            return sum(turn.thread != thread for turn in self._running)

    def position(self, turn: Turn) -> int:
        """1 for the first in line; 0 once it trains."""
        with self._lock:
            return self._line.index(turn) + 1 if turn in self._line else 0

    def expected_wait(self, turn: Turn) -> float:
        """Seconds until `turn` should get a slot: the runs ahead of it, shared among the slots."""
        now = time.perf_counter()
        with self._lock:
            if turn not in self._line:
                return 0.0
            ahead = self._line[:self._line.index(turn)]
            remaining = sorted(max(1.0, t.estimate - (now - t.started)) for t in self._running if t.started)
        finishing = remaining + [0.0] * (self.slots - len(remaining))  # when each slot frees
        for run in ahead:  # each one ahead takes the slot that frees first
            finishing.sort()
            finishing[0] += run.estimate
        return min(finishing) if finishing else 0.0

    def words(self, turn: Turn) -> str:
        position = self.position(turn)
        if position == 0:
            return "Starting…"
        ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(position, f"{position}th")
        with self._lock:
            busy = ", ".join(t.label for t in self._running)
        return (f"Waiting for a training slot: you are {ordinal} in line, about {duration(self.expected_wait(turn))} "
                f"(this server trains {self.slots} run{'s' if self.slots > 1 else ''} at a time"
                f"{': ' + busy if busy else ''}). Stop leaves the line.")

    def _grant(self) -> None:
        """Give free slots to the first in line (under the lock)."""
        while self._line and len(self._running) < self.slots:
            turn = self._line.pop(0)
            turn.started = time.perf_counter()
            self._running.append(turn)
            turn.granted.set()
