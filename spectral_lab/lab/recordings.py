"""A lesson's own run, recorded once per server and device and served to every student who runs it.

A lesson trains fixed settings at a pinned seed, so its run is deterministic on one device: the
first student trains it (live, in a training slot), every later one is served the recording — its
last frame, every panel, and the history replay keeps — at once, with the takeaway for their own
prediction. Students who press Run while the first run trains wait for it instead of training it
again. Changed settings (a seed of a teacher's link is part of the key) train live.

The recordings are a cache with a byte budget (least recently used out first): a server keeps at
most SPECTRAL_LAB_RECORDINGS_MB of them (default: 1/64 of the machine's memory, 64 MB–1 GB; see
lab/budget.py).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .budget import budget_bytes

Key = tuple  # (lesson key, seed, device, settings)


@dataclass
class Recording:
    """A finished lesson run: whatever the lesson shows of it (a LiveComparison, or the CNN lesson's
    NeRN run and its spectra), its last frame, and the UI's rendered values once it has made them."""

    run: object
    last_frame: object = None
    seconds: float = 0.0  # how long it trained
    extra: dict = field(default_factory=dict)  # the CNN lesson: its kernel spectra
    rendered: dict = field(default_factory=dict)  # the UI's cache of drawn panels (drawn once, served to all)
    # held while the UI draws them: a class served a new recording at once drew it 30 times over (~15 s)
    drawing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    served: int = 0
    nbytes: int = 0


def recordings_budget() -> int:
    return budget_bytes("recordings")


class Recordings:
    """key -> Recording, least recently used evicted past the byte budget; one trainer per key."""

    def __init__(self, budget_bytes: int | None = None):
        self.budget = recordings_budget() if budget_bytes is None else budget_bytes
        self._lock = threading.Lock()
        self._done: OrderedDict[Key, Recording] = OrderedDict()
        self._training: dict[Key, threading.Event] = {}  # key -> set when its run ends (stored or not)
        self.evicted = 0

    def lookup(self, key: Key) -> Recording | None:
        with self._lock:
            recording = self._done.get(key)
            if recording is not None:
                self._done.move_to_end(key)
                recording.served += 1
            return recording

    def has(self, key: Key) -> bool:
        """Whether `key` is recorded (not a visit: the recording's use stays as it was)."""
        with self._lock:
            return key in self._done

    def claim(self, key: Key) -> tuple[bool, threading.Event]:
        """(True, event) for the first caller, who trains the run; (False, event) for the others, who
        wait on the event: it is set when the run ends, stored or abandoned."""
        with self._lock:
            if key in self._training:
                return False, self._training[key]
            event = self._training[key] = threading.Event()
            return True, event

    def store(self, key: Key, recording: Recording) -> None:
        recording.nbytes = recording.nbytes or size_of(recording.run)
        with self._lock:
            self._done[key] = recording
            self._done.move_to_end(key)
            self._evict()
            self._release(key)

    def abandon(self, key: Key) -> None:
        """The trainer stopped or failed: nothing stored; the waiting ones may claim it again."""
        with self._lock:
            self._release(key)

    def training(self, key: Key) -> bool:
        with self._lock:
            return key in self._training

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(r.nbytes for r in self._done.values())

    def clear(self) -> None:
        with self._lock:
            self._done.clear()

    def _release(self, key: Key) -> None:
        event = self._training.pop(key, None)
        if event is not None:
            event.set()

    def _evict(self) -> None:
        while len(self._done) > 1 and sum(r.nbytes for r in self._done.values()) > self.budget:
            self._done.popitem(last=False)
            self.evicted += 1


def size_of(thing, depth: int = 0, seen: set | None = None) -> int:
    """Bytes of the arrays held by `thing` (numpy arrays in its attributes, lists, tuples, dicts):
    what a recording or a replay history weighs."""
    seen = set() if seen is None else seen
    if id(thing) in seen or depth > 6:
        return 0
    seen.add(id(thing))
    if isinstance(thing, np.ndarray):
        return int(thing.nbytes)
    if isinstance(thing, dict):
        return sum(size_of(v, depth + 1, seen) for v in thing.values())
    if isinstance(thing, (list, tuple)):
        return sum(size_of(v, depth + 1, seen) for v in thing)
    if hasattr(thing, "__dict__") and not isinstance(thing, type):
        return sum(size_of(v, depth + 1, seen) for v in vars(thing).values())
    return 0
