"""Sessions: which comparison a browser has running or waiting (the app's Stop finds it here)."""
from __future__ import annotations

import threading

def session_key(request) -> str:
    """Which browser session a request comes from ("local" outside a served page)."""
    return request.session_hash if request is not None and request.session_hash else "local"


RUNNING_STOPPED = "Stopping at the next step…"
NOTHING_RUNNING = "Nothing is training."


class Sessions:
    """Per-session state of the Train/Stop buttons, shared by the app's tabs.

    A Train click registers a *pending* ticket before the queue decides when the training
    starts; Stop on a pending ticket cancels it (the queued job then returns at once, without
    training); Stop on a running comparison asks it to end at the next step."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, object] = {}
        self._pending: dict[str, dict] = {}

    def queue(self, session: str) -> dict:
        ticket = {"cancelled": False}
        with self._lock:
            self._pending[session] = ticket
        return ticket

    def discard(self, session: str) -> None:
        """Drop the session's queued ticket (its Train click ended before training, e.g. bad input)."""
        with self._lock:
            self._pending.pop(session, None)

    def start(self, session: str, run) -> bool:
        """Mark `run` as the session's running one; False when Stop cancelled it while queued."""
        with self._lock:
            ticket = self._pending.pop(session, None)
            if ticket is not None and ticket["cancelled"]:
                return False
            previous = self._running.get(session)
            if previous is not None:
                previous.stop()
            self._running[session] = run
        return True

    def finish(self, session: str, run) -> None:
        with self._lock:
            if self._running.get(session) is run:
                del self._running[session]

    def running(self, session: str):
        with self._lock:
            return self._running.get(session)

    def stop(self, session: str) -> str:
        with self._lock:
            run = self._running.get(session)
            ticket = self._pending.get(session)
            if ticket is not None:
                ticket["cancelled"] = True
        if run is not None:
            run.stop()
            return RUNNING_STOPPED
        if ticket is not None:
            return "**Cancelled**: your run was waiting in the queue and will not start."
        return NOTHING_RUNNING
