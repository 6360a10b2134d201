"""Rate limits: at most `limit` events per `window` seconds per key (a browser session), and as many
for everyone together (a session id is the browser's own choice: one script with fresh ids would
otherwise pass any per-session limit)."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

MAX_TRACKED = 100_000  # sessions remembered at once: past it, the idle ones are forgotten first


@dataclass(frozen=True)
class Limit:
    per_session: int
    overall: int
    window: float  # seconds


class RateLimiter:
    """Sliding-window counts per session and overall, in this process's memory (a restart forgets them)."""

    def __init__(self, limit: Limit, clock=time.monotonic):
        self.limit, self.clock = limit, clock
        self._lock = threading.Lock()
        self._times: dict[str, deque] = {}
        self._overall: deque = deque()

    def _recent(self, times: deque, now: float) -> deque:
        while times and times[0] <= now - self.limit.window:
            times.popleft()
        return times

    def allow(self, session: str) -> bool:
        """Count one event of `session` unless it or everyone is over the limit (then False, not counted)."""
        with self._lock:
            now = self.clock()
            mine = self._recent(self._times.get(session, deque()), now)
            if len(mine) >= self.limit.per_session or len(self._recent(self._overall, now)) >= self.limit.overall:
                return False
            if session not in self._times and len(self._times) >= MAX_TRACKED:
                self._forget_idle(now)
            mine.append(now)
            self._times[session] = mine
            self._overall.append(now)
            return True

    def _forget_idle(self, now: float) -> None:
        for session in [s for s, times in self._times.items() if not self._recent(times, now)]:
            del self._times[session]
        while len(self._times) >= MAX_TRACKED:  # all busy: the oldest first
            del self._times[next(iter(self._times))]
