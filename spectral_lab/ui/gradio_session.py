"""A new visitor's session in Gradio, made once and cheaply: what a class opening a link at once needs.

Gradio (6.31, pinned in requirements.txt) makes a `SessionState` for each new page on the first event
it receives, and two things in it cost a class:

- it builds the configuration of every block of the page up front (264 here: 35 ms of the server's one
  Python thread per visitor) for one use, a deep link's saved page, which this app never offers;
- the first events of a page arrive together (its load events) and each, finding no session yet, built
  its own (no lock), so a page paid that cost up to six times.

`install()` makes the per-block configuration lazy (built for a block when Gradio first writes it, and
for all of them if a deep link ever asks) and the session's creation single, under a lock. Measured
with bench/bench_class.py --page-loads (30 pages at once, 2 cores): see docs/performance.md.
tests/test_page_load.py checks that a lazy session reads exactly as Gradio's own.
"""
from __future__ import annotations

import os
import threading
from copy import copy

from gradio import state_holder

_INSTALLED: list[bool] = []


class LazyConfigValues(dict):
    """block id -> its configuration, built on first use; iterating builds the rest (a deep link's page)."""

    def __init__(self, blocks_config, ids):
        super().__init__()
        self._blocks_config, self._ids = blocks_config, list(ids)

    def __missing__(self, key):
        value = self[key] = self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key])
        return value

    def fill(self) -> None:
        for key in self._ids:
            if not dict.__contains__(self, key):
                self.__missing__(key)

    def items(self):
        self.fill()
        return super().items()

    def values(self):
        self.fill()
        return super().values()


def _session_state_init(self, blocks) -> None:
    """Gradio 6.31's SessionState.__init__, its per-block configuration made lazy (the rest as it is)."""
    self.blocks_config = copy(blocks.default_config)
    self.config_values = LazyConfigValues(self.blocks_config,
                                          [k for k in self.blocks_config.blocks if k in blocks.blocks])
    self.state_data = {}
    self._state_ttl = {}
    self.is_closed = False
    self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


def _get_session(self, session_id: str):
    """StateHolder.__getitem__, the session made once under the holder's lock."""
    if session_id not in self.session_data:
        with _CREATING:
            if session_id not in self.session_data:
                self.session_data[session_id] = state_holder.SessionState(self.blocks)
    return _ORIGINAL_GETITEM(self, session_id)


_CREATING = threading.Lock()
_ORIGINAL_GETITEM = state_holder.StateHolder.__getitem__


def install() -> None:
    """Once per process, before the server starts."""
    if _INSTALLED:
        return
    state_holder.SessionState.__init__ = _session_state_init
    state_holder.StateHolder.__getitem__ = _get_session
    _INSTALLED.append(True)


__all__ = ["LazyConfigValues", "install"]
