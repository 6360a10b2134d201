"""Frame: what changed in the UI at one moment of a comparison (the stream, the replay and an evicted
replay all speak it), in a module of its own so the replay need not import the comparison."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import plots


@dataclass
class Frame:
    """What changed in the UI at one moment. None = leave that panel as it is."""

    status: str
    curves: plots.FigureSpec | None = None
    table: list[dict] | None = None
    gallery: list[tuple[np.ndarray, str]] | None = None  # images: target + one per method, upscaled
    reconstruction: plots.FigureSpec | None = None  # 1D / audio: small multiples of target and fits
    audio: dict[int, tuple[tuple[int, np.ndarray], str]] | None = None  # slot -> ((rate, int16), label)
    ntk: plots.FigureSpec | None = None
    errors: plots.FigureSpec | None = None
    bands: plots.FigureSpec | None = None
    details: tuple[plots.FigureSpec | None, plots.FigureSpec | None] | None = None  # (activations, kernel)
    done: bool = False
    outcome: str = ""  # on the last frame: finished | stopped | diverged | failed
    step: int = 0
