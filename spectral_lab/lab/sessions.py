"""Sessions: which comparison a browser has running or waiting (the app's Stop finds it here), and
which tabs have closed (a run queued for a closed tab must not start: nobody would see it, and what
it kept would outlive the tab's release, ui/session_end.py)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

def session_key(request) -> str:
    """Which browser session a request comes from ("local" outside a served page)."""
    return request.session_hash if request is not None and request.session_hash else "local"


RUNNING_STOPPED = "Stopping at the next step…"
NOTHING_RUNNING = "Nothing is training."
CLOSED_KEPT = 10_000  # closed tabs remembered (oldest forgotten first): a few hundred kB at most


class Sessions:
    """Per-session state of the Train/Stop buttons, shared by the app's tabs.

    A Train click registers a *pending* ticket before the queue decides when the training
    starts; Stop on a pending ticket cancels it (the queued job then returns at once, without
    training); Stop on a running comparison asks it to end at the next step."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, object] = {}
        self._pending: dict[str, dict] = {}
        self._closed: OrderedDict[str, float] = OrderedDict()  # session -> when its tab closed

    def queue(self, session: str) -> dict:
        """A Train click: a ticket Stop can cancel. The click also says the tab is open (a tab whose
        connection dropped and came back trains again)."""
        ticket = {"cancelled": False}
        with self._lock:
            self._pending[session] = ticket
            self._closed.pop(session, None)
        return ticket

    def cancelled(self, session: str) -> bool:
        """Whether Stop cancelled the session's queued ticket (a run waiting for its slot leaves the
        line), or its tab closed."""
        with self._lock:
            ticket = self._pending.get(session)
            return session in self._closed or (ticket is not None and ticket["cancelled"])

    def discard(self, session: str) -> None:
        """Drop the session's queued ticket (its Train click ended before training, e.g. bad input)."""
        with self._lock:
            self._pending.pop(session, None)

    def start(self, session: str, run) -> bool:
        """Mark `run` as the session's running one; False when Stop cancelled it while queued."""
        with self._lock:
            ticket = self._pending.pop(session, None)
            if session in self._closed or (ticket is not None and ticket["cancelled"]):
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

    def forget(self, session: str) -> None:
        """Stop the session's run and drop it and its queued ticket from here (its tab closed)."""
        self.stop(session)
        with self._lock:
            self._pending.pop(session, None)
            self._running.pop(session, None)

    def close(self, session: str) -> None:
        """The tab closed: forget it, and refuse a run of it that still waits in the queue (start()
        is False, cancelled() True) until a Train click of it again (a connection that came back)."""
        self.forget(session)
        with self._lock:
            self._closed[session] = time.time()
            self._closed.move_to_end(session)
            while len(self._closed) > CLOSED_KEPT:
                self._closed.popitem(last=False)

    def closed(self, session: str) -> bool:
        with self._lock:
            return session in self._closed

    def held(self) -> dict[str, int]:
        """How many sessions have a run, a queued ticket, a closed mark (the soak bench reads it)."""
        with self._lock:
            return {"running": len(self._running), "queued": len(self._pending), "closed": len(self._closed)}
