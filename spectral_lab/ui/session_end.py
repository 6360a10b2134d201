"""A closed tab's memory, released: everything the tab owned on the server, in every tab of the page.

Gradio calls `on_unload` when a browser tab closes (its heartbeat connection ends). `release` then
drops, tab by tab, what the session kept: its training stopped and its queued tickets refused
(lab/sessions.py), the lab's last comparison with its replay history and its downloads' temp
folders, the lessons tab's per-session counter, the CNN tab's predictor; then collects their
reference cycles and hands the freed pages back to the system (lab/allocator.py: without it
glibc kept ~120 MB per session, bench/bench_soak.py).

Gradio itself keeps a SessionState per tab (a copy of every component's config and the last value
of every output: each plot's JSON, ~3 MB for the lab's image comparison) until 10,000 tabs, closed or
not. `ClosedTabs` drops a closed tab's SessionState SPECTRAL_LAB_CLOSED_TAB_S seconds (default 30)
after it closed, unless the tab was used since (a connection that dropped and came back; one that
comes back later starts from a fresh state: its upload must be uploaded again). At each sweep it
also releases what our registries hold for sessions Gradio no longer has (its own expiry: the
session capacity, `gradio_capacity`, sized from the `figures` budget).
"""
from __future__ import annotations

import os
import threading
import time

import gradio as gr

from spectral_lab.lab import session_key
from spectral_lab.lab.allocator import release_memory
from spectral_lab.lab.budget import budget_bytes
from spectral_lab.lab.files import CacheSweeper
from spectral_lab.ui import lab, lessons, nern
from spectral_lab.ui.widgets import LESSON_RUNNER, SESSIONS

COLLECT_EVERY_S = 5.0  # at most one full garbage collection this often (it holds the GIL ~0.25 s)
TAB_VALUES_BYTES = 4 * 2**20  # Gradio's stored values of one tab after an image comparison: 3.0 MB measured
CACHE = CacheSweeper()


def release(session: str, collect: bool = True) -> None:
    """Everything `session` owned on this server, dropped (its Gradio state follows, ClosedTabs)."""
    SESSIONS.close(session)  # its lab or lesson run stops; a run of it still queued will not start
    nern.SESSIONS.forget(session)  # the CNN tab's predictor (it never queues: no closed mark to clear)
    lab.release(session)  # its last comparison, replay history and downloads
    lessons.CONTEXT.generations.pop(session, None)
    if collect:
        release_memory()
        CACHE.sweep()


def on_unload(request: gr.Request) -> None:
    """Gradio's unload event: the browser tab closed (ui/page.py wires it)."""
    session = session_key(request)
    release(session)
    CLOSED_TABS.closed(session, gradio_states(request))


def gradio_states(request):
    """The running server's StateHolder (its App's), reached from the request; None outside a server."""
    app = getattr(getattr(request, "request", None), "app", None)
    return getattr(app, "state_holder", None)


def held() -> dict[str, int]:
    """Sessions each registry holds now (the soak bench's probe; a closed tab's count goes to 0)."""
    counts = {"lab_comparisons": len(lab.FINISHED), "lab_folders": len(lab.FOLDERS),
              "lesson_counters": len(lessons.CONTEXT.generations)}
    counts.update({f"train_{name}": count for name, count in SESSIONS.held().items() if name != "closed"})
    counts.update({f"cnn_{name}": count for name, count in nern.SESSIONS.held().items() if name != "closed"})
    return counts


def budgets() -> dict[str, int]:
    """Bytes each budgeted cache holds now."""
    return {"replays": lab.FINISHED.nbytes, "recordings": LESSON_RUNNER.recordings.nbytes}


def gradio_capacity() -> int:
    """How many tabs' states Gradio may keep (its `state_session_capacity`): the figures budget over
    what one tab's stored values take, at least 100."""
    return max(100, budget_bytes("figures") // TAB_VALUES_BYTES)


class ClosedTabs:
    """Drops Gradio's SessionState of closed tabs `grace` seconds after they closed (one thread,
    started when a tab closes and ended when none is due)."""

    def __init__(self, grace: float | None = None):
        self.grace = float(os.environ.get("SPECTRAL_LAB_CLOSED_TAB_S", "30")) if grace is None else grace
        self.holder = None  # Gradio's StateHolder, from the first unload's request (none in tests: nothing to drop)
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def closed(self, session: str, holder=None) -> None:
        with self._lock:
            self.holder = holder or self.holder
            if self.holder is None:
                return
            self._due[session] = time.monotonic() + self.grace
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="closed-tabs", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        collect_due, collected = False, -COLLECT_EVERY_S
        while True:
            with self._lock:
                if not self._due and not collect_due:
                    self._thread = None
                    return
                now = time.monotonic()
                ready = [s for s, due in self._due.items() if due <= now]
                for session in ready:
                    del self._due[session]
                wait = min(self._due.values(), default=now + COLLECT_EVERY_S) - now
            collect_due |= sum(self.drop(session) for session in ready) > 0
            if ready:
                self.release_orphans()
            if collect_due and now - collected >= COLLECT_EVERY_S:  # a state's cycles: one collection per batch
                release_memory(collect=True)
                collect_due, collected = False, now
            elif collect_due:
                wait = min(wait, collected + COLLECT_EVERY_S - now)
            time.sleep(min(max(wait, 0.2), 5.0))

    def drop(self, session: str) -> bool:
        """Drop the tab's SessionState unless it was used within `grace` (then look again later)."""
        holder = self.holder
        if holder is None or session not in holder.session_data:
            return False
        last = holder.time_last_used.get(session)
        idle = (time.time() - last.timestamp()) if last is not None else self.grace
        if idle < self.grace - 1:  # used since it closed: it came back
            with self._lock:
                self._due[session] = time.monotonic() + self.grace - idle
            return False
        with holder.lock:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
        self.dropped += 1
        return True

    def release_orphans(self) -> None:
        """Release what our registries hold for sessions Gradio no longer keeps (its capacity evicted
        them: no unload will come for those)."""
        if self.holder is None:
            return
        try:
            known = set(list(self.holder.session_data))
        except RuntimeError:  # Gradio added a session while we read: look again at the next sweep
            return
        for session in set(lab.FINISHED.keys()) | set(lessons.CONTEXT.generations):
            if session not in known and session != "local":
                release(session, collect=False)


CLOSED_TABS = ClosedTabs()

__all__ = ["CLOSED_TABS", "budgets", "gradio_capacity", "gradio_states", "held", "on_unload", "release"]
