"""Snapshot: one look at a run, as host data (numpy, no tensors): what the app, notebooks and CLI
draw while a run trains."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Snapshot:
    """One look at a run. `prediction` (N, C) in the Signal's [-1, 1] units, when on its cadence."""

    step: int
    total_steps: int
    loss: float
    psnr: float
    best_psnr: float
    best_step: int
    elapsed: float
    steps_per_s: float
    lr: float
    steps: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    losses: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    prediction: np.ndarray | None = field(repr=False, default=None)
    done: bool = False
    message: str = ""
    status: str = "running"  # running | finished | stopped | diverged (on the final snapshot)
    metrics: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)  # ntk / activations / error_map / band_error
    diagnostics_seconds: float = 0.0  # wall time spent on diagnostics so far
    heldout_psnr: float | None = None  # a task holding samples out (tasks.py): PSNR on them vs the clean target
