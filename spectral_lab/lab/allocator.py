"""Give freed memory back to the system: glibc keeps what Python and torch free in its heaps.

A CPU tensor, a numpy array and most Python objects come from malloc. glibc returns a freed block
to the system only when it sits at the top of a heap or was mmapped on its own; everything else
stays in the process as "free but held" (mallinfo2's fordblks), and each thread that allocates may
get an arena of its own (up to 8 per core), so a server whose worker threads train and draw keeps
the high-water mark of every one. bench/bench_soak.py measured it: after a session's objects were
all gone, most of its memory was still resident until `malloc_trim(0)` (which also releases whole
free pages inside the heaps, glibc ≥ 2.8) handed it back.

So: `release_memory()` after a closed tab's objects are dropped (ui/session_end.py), and
`limit_arenas()` at start-up. SPECTRAL_LAB_MALLOC_TRIM=0 turns the trim off (to measure it);
SPECTRAL_LAB_MALLOC_ARENAS sets the arena cap (0: glibc's default). Elsewhere than glibc (musl,
macOS) every call here does nothing.
"""
from __future__ import annotations

import ctypes
import gc
import os
import threading

M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
DEFAULT_ARENAS = 2  # two cores' worth: measured in bench/bench_soak.py, no slower than glibc's 16 here


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()
_TRIM_LOCK = threading.Lock()  # one trim at a time: it walks every arena under its lock


def malloc_info() -> dict:
    """Bytes in glibc's heaps over every arena: `heap` (from the system), `in_use` (handed out) and
    `free_held` (freed, kept by malloc: what a trim can give back); {} without glibc ≥ 2.33."""
    if _LIBC is None or not hasattr(_LIBC, "mallinfo2"):
        return {}
    _LIBC.mallinfo2.restype = _Mallinfo2
    info = _LIBC.mallinfo2()
    return {"heap": info.arena + info.hblkhd, "in_use": info.uordblks + info.hblkhd, "free_held": info.fordblks}


def trim() -> bool:
    """malloc_trim(0): hand free pages of every arena back to the system. True if glibc did it."""
    if _LIBC is None:
        return False
    with _TRIM_LOCK:
        _LIBC.malloc_trim(0)
    return True


def trim_enabled() -> bool:
    return os.environ.get("SPECTRAL_LAB_MALLOC_TRIM", "1") != "0"


def release_memory(collect: bool = False) -> None:
    """After a session's objects are dropped: with `collect`, free their reference cycles first (a
    full collection holds the GIL ~0.2–0.3 s in a server this size: only where cycles are expected,
    Gradio's per-tab states; a comparison goes by reference counting alone), then give the freed
    pages back (unless SPECTRAL_LAB_MALLOC_TRIM=0)."""
    if collect:
        gc.collect()
    if trim_enabled():
        trim()


def limit_arenas(count: int | None = None) -> int:
    """Cap glibc's arenas (as MALLOC_ARENA_MAX does, but settable after start-up: before the server's
    threads allocate). Returns the cap set, 0 when left to glibc."""
    if count is None:
        count = int(os.environ.get("SPECTRAL_LAB_MALLOC_ARENAS", str(DEFAULT_ARENAS)))
    if _LIBC is None or count <= 0:
        return 0
    _LIBC.mallopt(M_ARENA_MAX, count)
    return count


__all__ = ["limit_arenas", "malloc_info", "release_memory", "trim", "trim_enabled"]
