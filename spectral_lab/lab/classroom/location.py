"""Where the class database lives: SPECTRAL_LAB_CLASS_DB when set; on a Hugging Face Space its
persistent storage (/data, the only folder that survives a restart there); else the user's data
folder; else a temporary folder (a read-only home still gets a working, if short-lived, database)."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ENV = "SPECTRAL_LAB_CLASS_DB"
FILE_NAME = "classes.sqlite3"
SPACE_STORAGE = Path("/data")


def user_data_folder() -> Path:
    """The per-user data folder of this platform (what platformdirs would say, without the dependency)."""
    if sys.platform.startswith("win"):
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _writable_folder(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def database_path() -> Path:
    """The first of: the environment's path, the Space's storage, the user's data folder, a temp folder."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    candidates = [SPACE_STORAGE / "spectral_lab"] if SPACE_STORAGE.is_dir() else []
    candidates += [user_data_folder() / "spectral_lab", Path(tempfile.gettempdir()) / "spectral_lab"]
    for folder in candidates:
        if _writable_folder(folder):
            return folder / FILE_NAME
    return Path(tempfile.gettempdir()) / FILE_NAME
