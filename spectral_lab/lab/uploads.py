"""Signals from the UI: a built-in by name, or an uploaded file, checked against the limits."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import RunConfig
from ..errors import SignalError
from ..signals import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, Signal, load_audio, load_image, signal_for
from .limits import AppLimits


def load_ui_signal(config: RunConfig, upload: str | os.PathLike | None, limits: AppLimits,
                   check_size: bool = True) -> Signal:
    """The built-in named by config.signal, or an uploaded file; checked against the limits (the
    signal's size only with `check_size`: a run plan may shrink it first, estimate.plan_run)."""
    if upload:
        path = Path(upload)
        if not path.is_file():
            raise SignalError("the upload did not arrive; try again")
        size_mb = path.stat().st_size / 1e6
        if size_mb > limits.max_upload_mb:
            raise SignalError(f"{path.name} is {size_mb:.1f} MB; this server accepts up to {limits.max_upload_mb:g} MB")
        suffix = path.suffix.lower()
        if suffix in AUDIO_EXTENSIONS:
            signal = load_audio(path, length=config.length, options=config.signal_options)
        elif suffix in IMAGE_EXTENSIONS:
            signal = load_image(path, size=config.image_size, gray=config.gray, options=config.signal_options)
        else:
            raise SignalError(f"{path.name}: upload an audio file ({', '.join(AUDIO_EXTENSIONS)}) "
                              f"or an image ({', '.join(IMAGE_EXTENSIONS)})")
    else:
        signal = signal_for(config)
    if check_size and signal.values.size > limits.max_points:
        raise SignalError(f"{signal.name} has {signal.values.size:,} values; this server's limit is "
                          f"{limits.max_points:,} (set 'length' for audio or 'image size' for images)")
    return signal
