"""The server's memory budgets: how many bytes each of its caches may hold, and the ledger that keeps
a cache under its budget by evicting the least recently used entries first.

A server runs all day for visitors who come and go; anything it keeps per visitor or per run must
have a cap, not a hope that visitors leave. Each budget defaults to a share of this machine's memory
(MemTotal, or a container's cgroup limit when lower), clamped, and an environment variable in MB
overrides it:

    replays     SPECTRAL_LAB_REPLAYS_MB     replay histories of the comparisons open tabs keep   1/16
    recordings  SPECTRAL_LAB_RECORDINGS_MB  lessons' and follow-ups' recorded runs (all students) 1/64
    figures     SPECTRAL_LAB_FIGURES_MB     Gradio's per-tab copies of every panel's last value  1/16
    files       SPECTRAL_LAB_FILES_MB       uploads and downloads on disk (a share of free disk) 1/8

(clamps in BUDGETS). `figures` becomes Gradio's session capacity (ui/session_end.py: measured
bytes a tab's stored values take); `files` is enforced by lab/files.py.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable

MB = 2**20


@dataclass(frozen=True)
class BudgetRule:
    env: str
    share: float  # of the machine's memory (files: of the free disk)
    floor_mb: float
    ceiling_mb: float


BUDGETS = {
    "replays": BudgetRule("SPECTRAL_LAB_REPLAYS_MB", 1 / 16, 256, 4096),
    "recordings": BudgetRule("SPECTRAL_LAB_RECORDINGS_MB", 1 / 64, 64, 1024),
    "figures": BudgetRule("SPECTRAL_LAB_FIGURES_MB", 1 / 16, 256, 4096),
    "files": BudgetRule("SPECTRAL_LAB_FILES_MB", 1 / 8, 256, 8192),
}


def machine_memory() -> int:
    """Bytes of memory this process may use: MemTotal, or a cgroup's limit (v2, else v1) when lower."""
    total = 8 * 2**30  # when nothing says: a laptop's
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
    except OSError:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def budget_bytes(name: str, memory: int | None = None) -> int:
    """The budget `name` in bytes: its environment variable (MB) if set, else its share of this
    machine's memory (files: of the free disk under the temp folder), clamped."""
    rule = BUDGETS[name]
    given = os.environ.get(rule.env, "").strip()
    if given:
        return int(float(given) * MB)
    if name == "files":
        basis = shutil.disk_usage(tempfile.gettempdir()).free
    else:
        basis = machine_memory() if memory is None else memory
    return int(min(max(basis * rule.share, rule.floor_mb * MB), rule.ceiling_mb * MB))


class ByteBudget:
    """A ledger of entries (key -> bytes) under a byte budget: charging past the budget evicts the
    least recently used entries (their `on_evict` called, outside the lock) until it fits; the entry
    just charged is kept even when it alone is over (a cache that keeps nothing serves nobody).
    `pinned(key)` entries (a run still training) are never evicted."""

    def __init__(self, name: str, limit: int | None = None):
        self.name = name
        self.limit = budget_bytes(name) if limit is None else int(limit)
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, list] = OrderedDict()  # key -> [bytes, on_evict, pinned]
        self.evicted = 0

    def charge(self, key: Hashable, nbytes: int, on_evict: Callable[[], None] | None = None,
               pinned: Callable[[], bool] | None = None) -> list:
        """Set `key`'s bytes (most recently used now) and evict what no longer fits; returns the keys evicted."""
        with self._lock:
            entry = self._entries.pop(key, None)
            self._entries[key] = [int(nbytes), on_evict or (entry[1] if entry else None),
                                  pinned or (entry[2] if entry else None)]
            victims = self._over_budget(keep=key)
        for _, (_, callback, _) in victims:
            if callback is not None:
                callback()
        return [victim for victim, _ in victims]

    def touch(self, key: Hashable) -> bool:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True
            return False

    def resize(self, key: Hashable, nbytes: int) -> None:
        """Re-measure `key` (its entry grew) without making it recent; eviction waits for a charge."""
        with self._lock:
            if key in self._entries:
                self._entries[key][0] = int(nbytes)

    def release(self, key: Hashable) -> None:
        """Forget `key` without calling its on_evict (its owner dropped it)."""
        with self._lock:
            self._entries.pop(key, None)

    def _over_budget(self, keep: Hashable) -> list:
        victims, total = [], sum(entry[0] for entry in self._entries.values())
        for key in list(self._entries):
            if total <= self.limit:
                break
            nbytes, _, pinned = self._entries[key]
            if key == keep or (pinned is not None and pinned()):
                continue
            victims.append((key, self._entries.pop(key)))
            total -= nbytes
            self.evicted += 1
        return victims

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(entry[0] for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries


__all__ = ["BUDGETS", "ByteBudget", "budget_bytes", "machine_memory"]
