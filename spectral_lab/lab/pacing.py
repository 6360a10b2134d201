"""Which heavy panels and audio players a comparison sends next (comparison.py's pacing).

A heavy panel (reconstructions, eNTK, error maps, bands, details) is *due* once its data changed;
a frame takes the least recently sent due ones first, so every panel redraws every few seconds and
no frame carries them all (bench/bench_browser.py measured the page's main thread). An audio
player is re-encoded at most every AUDIO_EVERY seconds while its method trains.
"""
from __future__ import annotations

import time

HEAVY_PANELS = ("reconstruction", "ntk", "errors", "bands", "details")
AUDIO_EVERY = 5.0  # seconds between re-encodings of a method's audio player while it trains


class PanelPacer:
    """The due heavy panels (of those a view draws) in least-recently-sent order, and the due players."""

    def __init__(self, panels: tuple[str, ...] = HEAVY_PANELS):
        self.panels = tuple(p for p in HEAVY_PANELS if p in panels)  # the heavy panels this view draws
        self._due: set[str] = set()
        self._order = list(self.panels)  # least recently sent first
        self._audio_due: set[int] = set()
        self._audio_sent: dict[int, float] = {}

    def mark(self, panel: str) -> None:
        """A heavy panel's data changed: due for the next frame (if this view draws it)."""
        if panel in self.panels:
            self._due.add(panel)

    def mark_all(self) -> None:
        self._due.update(self.panels)

    def mark_audio(self, index: int) -> None:
        self._audio_due.add(index)

    @property
    def anything_due(self) -> bool:
        return bool(self._due or self._audio_due)

    def due(self) -> list[str]:
        """The due panels, least recently sent first."""
        return [name for name in self._order if name in self._due]

    def sent(self, name: str) -> None:
        self._due.discard(name)
        self._order.remove(name)
        self._order.append(name)  # now the most recently sent

    def take_audio(self, finished: set[int], force: bool = False, every: float = AUDIO_EVERY) -> list[int]:
        """The players to re-encode now: due ones whose method `finished`, or last sent `every`
        seconds ago or more (all due ones with `force`)."""
        taken, now = [], time.perf_counter()
        for index in sorted(self._audio_due):
            if force or index in finished or now - self._audio_sent.get(index, -float("inf")) >= every:
                taken.append(index)
                self._audio_sent[index] = now
                self._audio_due.discard(index)
        return taken
