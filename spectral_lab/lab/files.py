"""The server's files on disk: each tab's download folders, and a byte budget over the folder where
Gradio keeps uploads and every file it sent to a browser.

A run's downloads (results.csv, figures, the replay GIF) are written to a temp folder of the tab's
own, removed when the tab trains again or closes (ui/session_end.py). Gradio copies every file it
sends, and every upload, into its cache folder and deletes none while the server runs; `sweep`
keeps that folder under the `files` budget (lab/budget.py, SPECTRAL_LAB_FILES_MB), the least
recently written files out first. A tab that then asks for a swept file gets the usual messages
(an upload: "the upload did not arrive; try again").
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .budget import budget_bytes

PREFIX = "spectral-lab-"
SWEEP_EVERY_S = 60.0  # a walk of the cache folder at most this often


class SessionFolders:
    """session -> the temp folders its downloads were written to."""

    def __init__(self):
        self._lock = threading.Lock()
        self._folders: dict[str, list[Path]] = {}

    def make(self, session: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=PREFIX))
        with self._lock:
            self._folders.setdefault(session, []).append(folder)
        return folder

    def remove(self, session: str) -> int:
        """Delete the session's folders (its downloads are no longer shown); returns how many."""
        with self._lock:
            folders = self._folders.pop(session, [])
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        return len(folders)

    def __len__(self) -> int:
        return len(self._folders)

    def __contains__(self, session: str) -> bool:
        return session in self._folders


def gradio_cache_folder() -> Path:
    """Where Gradio keeps uploads and the files it sends (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


class CacheSweeper:
    """Keeps a folder under a byte budget, oldest written files out first, at most every `every` s."""

    def __init__(self, folder: Path | None = None, budget: int | None = None, every: float = SWEEP_EVERY_S):
        self.folder = gradio_cache_folder() if folder is None else Path(folder)
        self.budget = budget_bytes("files") if budget is None else int(budget)
        self.every, self._last = every, 0.0
        self._lock = threading.Lock()
        self.removed = 0

    def sweep(self, force: bool = False) -> int:
        """Delete the oldest files until the folder fits its budget; returns the bytes deleted."""
        if not self._lock.acquire(blocking=False):
            return 0  # another thread sweeps now
        try:
            if not force and time.monotonic() - self._last < self.every:
                return 0
            self._last = time.monotonic()
            return self._sweep()
        finally:
            self._lock.release()

    def _sweep(self) -> int:
        files, total = [], 0
        for root, _, names in os.walk(self.folder):
            for name in names:
                path = os.path.join(root, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                files.append((stat.st_mtime, stat.st_size, path))
                total += stat.st_size
        deleted = 0
        for _, size, path in sorted(files):
            if total - deleted <= self.budget:
                break
            try:
                os.remove(path)
            except OSError:
                continue
            deleted += size
            self.removed += 1
            if os.path.dirname(path) == str(self.folder):
                continue
            try:
                os.rmdir(os.path.dirname(path))  # Gradio's one folder per file (named by its hash), if empty now
            except OSError:
                pass
        return deleted


__all__ = ["CacheSweeper", "SessionFolders", "gradio_cache_folder"]
