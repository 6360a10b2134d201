"""Reading a run: band errors over time, *when* each band group crossed the learned threshold,
PSNR at a step, and band errors at equal PSNR (where two runs are compared along their paths).

Band errors Δ are IGA Eq. 7 per band (spectral_lab.diagnostics.band_relative_error): 1 = no better
than a zero output in that band, 0 = exact. A reading never looks at the last step alone: a
network that cannot represent a band sits still there from the start, one that learns it late
moves towards it; only the time course tells them apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...metrics import psnr_from_mse, psnr_text
from .base import LEARNED


@dataclass(frozen=True)
class BandReading:
    """One method's band errors split into its lowest and highest third of bands with target energy."""

    steps: np.ndarray
    low_top: float  # upper edge of the low third (cycles across the signal)
    high_bottom: float  # lower edge of the high third
    low: np.ndarray  # mean Δ of the low third per logged step
    high: np.ndarray  # mean Δ of the high third per logged step
    learned_below: float  # every band with target energy below this edge ended under LEARNED (0: none did)
    learned_by: int | None  # the first logged step at which all of those were under LEARNED
    edges: np.ndarray | None = None  # band edges (cycles)
    columns: np.ndarray | None = None  # Δ per (band, logged step); NaN where the target has no energy

    def first_below(self, series: np.ndarray, level: float = LEARNED) -> int | None:
        """The first logged step at which `series` (low or high) is under `level`."""
        return first_step_below(self.steps, series, level)


def first_step_below(steps, series, level: float) -> int | None:
    below = np.flatnonzero(np.asarray(series) < level)
    return int(np.asarray(steps)[below[0]]) if below.size else None


def crossing_step(steps, series, level: float) -> float | None:
    """When `series` first fell below `level`, interpolated between the band logs on each side (logs
    can be several steps apart: a crossing is not moved to the next log's step)."""
    steps, series = np.asarray(steps, dtype=float), np.asarray(series, dtype=float)
    below = np.flatnonzero(series < level)
    if not below.size:
        return None
    i = below[0]
    if i == 0:
        return float(steps[0])
    weight = (series[i - 1] - level) / max(series[i - 1] - series[i], 1e-12)
    return float(steps[i - 1] + weight * (steps[i] - steps[i - 1]))


def read_bands(view) -> BandReading | None:
    if not view.band_columns:
        return None
    steps, edges, columns = view.bands()  # columns: (bands, steps); NaN where the target has no energy
    energetic = np.flatnonzero(np.isfinite(columns[:, -1]))
    if energetic.size < 3:
        return None
    third = max(1, energetic.size // 3)
    low, high = energetic[:third], energetic[-third:]
    # the run of lowest bands that all ended learned, and when the last of them got there
    unlearned = np.flatnonzero(columns[energetic, -1] >= LEARNED)
    learned = energetic[:unlearned[0]] if unlearned.size else energetic
    learned_below, learned_by = 0.0, None
    if learned.size:
        learned_below = float(edges[learned[-1] + 1])
        all_below = np.flatnonzero((columns[learned] < LEARNED).all(axis=0))
        learned_by = int(np.asarray(steps)[all_below[0]]) if all_below.size else None
    return BandReading(np.asarray(steps), float(edges[low[-1] + 1]), float(edges[high[0]]),
                       np.nanmean(columns[low], axis=0), np.nanmean(columns[high], axis=0), learned_below,
                       learned_by, np.asarray(edges), columns)


def final_psnr(view) -> float | None:
    return view.psnr


def db(view) -> str:
    """The final PSNR as the gallery labels write it."""
    return psnr_text(view.psnr, view.psnr_limit, 1)


def psnr_at(view, step: int) -> float | None:
    """PSNR (R = 2) of the training loss at the last logged step ≤ `step`."""
    steps, losses = view.curve()
    seen = np.flatnonzero(steps <= step)
    if not seen.size or losses[seen[-1]] <= 0:
        return None
    return psnr_from_mse(float(losses[seen[-1]]))


def best_psnr_track(view) -> tuple[np.ndarray, np.ndarray]:
    """(logged steps, the best PSNR reached up to each): never falls, so a level is reached once."""
    steps, losses = view.curve()
    psnr = np.array([psnr_from_mse(float(loss)) for loss in losses]) if len(losses) else np.zeros(0)
    return steps, np.maximum.accumulate(np.minimum(psnr, 400.0)) if psnr.size else psnr


def step_reaching(view, level: float) -> int | None:
    """The first logged step at which the PSNR reached `level` dB."""
    steps, best = best_psnr_track(view)
    reached = np.flatnonzero(best >= level)
    return int(steps[reached[0]]) if reached.size else None


def bands_at_psnr(view, level: float) -> np.ndarray | None:
    """Δ per band at the moment the run's PSNR first reached `level` (interpolated between the
    band logs on each side of it); None if it never did."""
    steps, edges, columns = view.bands()
    curve_steps, best = best_psnr_track(view)
    if not best.size or level > best[-1]:
        return None
    at_logs = np.interp(steps, curve_steps, best)  # the PSNR reached by each band log
    after = int(np.searchsorted(at_logs, level))
    if after >= len(steps):
        return columns[:, -1]
    if after == 0:
        return columns[:, 0]
    weight = (level - at_logs[after - 1]) / max(at_logs[after] - at_logs[after - 1], 1e-12)
    return columns[:, after - 1] * (1 - weight) + columns[:, after] * weight


def pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def by_step(step: int | None) -> str:
    return f"by step {step}" if step is not None else "not by the end"


def finished(views) -> dict:
    """The views that finished with a result, by method id, in the comparison's order."""
    return {v.method: v for v in views if v.row and v.row.get("psnr_db") is not None}
