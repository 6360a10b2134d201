"""Fair comparisons: each method at its own best learning rate, or at an equal parameter count.

One learning rate for every method decides a ranking as much as the methods do (camera 48²,
ReLU+PE, 300 steps: FR and BN swap places between lr 2e-3 and 4e-3). `tune_lr` runs a short
search on a log grid around the method's own default (×1/4 … ×4, a factor 2 apart) and the
comparison then trains each method at its winner (a winner at the grid's edge extends it by
another factor 2, at most twice). `width_for_parameters` picks the hidden width
that gives a method the parameter count of a reference (RFF's doubled first layer, PE's wider
input), so a table can compare at equal size.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

from .config import RunConfig
from .errors import ConfigError, SpectralLabError
from .methods import build_model, count_parameters, resolve
from .signals import Signal

TUNE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)  # × the method's default lr: 5 values, a factor 2 apart
TUNE_FRACTION = 0.25  # of the run's steps each candidate trains
MAX_EXTENSIONS = 2  # a winner at the grid's edge extends the grid by a factor 2, at most this often
PARAMETER_TOLERANCE = 0.05  # equal parameters: within 5% of the reference count
LR_LOW, LR_HIGH = (RunConfig.__dataclass_fields__["lr"].metadata[k] for k in ("low", "high"))  # lr's allowed range


def lr_candidates(config: RunConfig, signal: Signal, factors=TUNE_FACTORS) -> list[float]:
    """The log grid around the lr the run would use (given, or the method's default for this kind
    of signal), inside RunConfig's allowed range."""
    centre = resolve(config, signal).lr
    return sorted({float(f"{min(max(centre * f, LR_LOW), LR_HIGH):.3g}") for f in factors})


def tune_lr(config: RunConfig, signal: Signal, fraction: float = TUNE_FRACTION, factors=TUNE_FACTORS,
            should_stop: Callable[[], bool] = lambda: False) -> tuple[float, list[tuple[float, float]]]:
    """(best lr, [(lr, PSNR dB)] of every candidate): each candidate trains `fraction` of the
    steps (at least 1, diagnostics off); a candidate that diverges or fails scores −inf. When
    `should_stop()` turns true the current candidate stops and no further ones run."""
    from .train import Run

    if not 0 < fraction <= 1:
        raise ConfigError(f"tuning fraction must be in (0, 1], got {fraction}")
    short = config.replace(steps=max(1, round(config.steps * fraction)), ntk_every=0, activations_every=0,
                           errors_every=0, bands_every=0, preview_every=0)
    def score(lr: float) -> float:
        try:
            run = Run(short.replace(lr=lr), signal)
            for final in run:
                if should_stop():
                    run.stop()
        except (SpectralLabError, FloatingPointError, RuntimeError):
            return -math.inf
        psnr = final.metrics["psnr"] if final.status == "finished" else -math.inf
        return psnr if math.isfinite(psnr) else -math.inf

    trials = []
    for lr in lr_candidates(config, signal, factors):
        if should_stop():
            break
        trials.append((lr, score(lr)))
    for _ in range(MAX_EXTENSIONS):  # a best rate at the grid's edge: one more factor 2 that way
        if should_stop() or not trials:
            break
        best = max(trials, key=lambda trial: trial[1])[0]
        rates = [lr for lr, _ in trials]
        step = 2.0 if best == max(rates) else 0.5 if best == min(rates) else None
        if step is None or not LR_LOW <= best * step <= LR_HIGH:
            break
        extra = float(f"{best * step:.3g}")
        trials.append((extra, score(extra)))
    trials.sort()
    if not trials:
        return resolve(config, signal).lr, trials
    return max(trials, key=lambda trial: trial[1])[0], trials


def describe_trials(trials: list[tuple[float, float]], fraction: float = TUNE_FRACTION) -> str:
    """'tuned: best of 2.5e-04 (31.2 dB), 5e-04 (33.0 dB), … at 25% of the steps'."""
    shown = ", ".join(f"{lr:.3g} ({psnr:.1f} dB)" if math.isfinite(psnr) else f"{lr:.3g} (failed)"
                      for lr, psnr in trials)
    return f"tuned: best lr of {shown} at {fraction:.0%} of the steps"


def width_for_parameters(config: RunConfig, signal: Signal, target: int, max_width: int = 4096) -> int:
    """The hidden width whose parameter count is closest to `target` (checked within 5%)."""
    @functools.cache
    def count(width: int) -> int:
        return count_parameters(build_model(resolve(config.replace(width=width), signal), signal))

    low, high = 1, max_width
    while high - low > 1:  # parameter counts grow with the width
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    width = min((low, high), key=lambda w: abs(count(w) - target))
    if abs(count(width) - target) > PARAMETER_TOLERANCE * target:
        raise ConfigError(f"{config.method}: no width gives {target} parameters within 5% "
                          f"(closest: width {width}, {count(width)} parameters)")
    return width
