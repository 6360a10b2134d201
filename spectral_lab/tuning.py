"""Fair comparisons: each method at its own best learning rate, or at an equal parameter count.

One learning rate for every method decides a ranking as much as the methods do (camera 48²,
ReLU+PE, 300 steps: FR and BN swap places between lr 2e-3 and 4e-3). `tune_lr` searches each
method's rate with one protocol for every method of a comparison, so the search does not grade
its own homework:

- one absolute grid: rates 1e-3·2^k covering every compared method's default ÷4 … ×8
  (`lr_grid`; Adam's best rate for a short run sits above the papers' defaults more often than
  below), so each method gets the same rates and the same number of trials;
- trials on another seed (seed + TUNE_SEED_OFFSET, an initialisation no table reports): the
  pick is not fitted to the reported run's own noise;
- trials at full length when that is cheap (≤ FULL_LENGTH_STEPS steps of trials), else at a
  quarter of the steps with the run's schedule shape kept (the same decays, compressed), which
  still leans towards large rates — `describe_trials` says which.

`width_for_parameters` picks the hidden width that gives a method the parameter count of a
reference (RFF's doubled first layer, PE's wider input), so a table can compare at equal size.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Generator

from .config import RunConfig
from .errors import ConfigError, SpectralLabError
from .methods import build_model, count_parameters, resolve
from .signals import Signal

GRID_BASE, GRID_FACTOR = 1e-3, 2.0  # rates 1e-3·2^k
GRID_BELOW, GRID_ABOVE = 4.0, 8.0  # the grid covers every compared method's default ÷4 … ×8
TUNE_SEED_OFFSET = 10_007  # trials run at seed + this: a seed no table reports
FULL_LENGTH_STEPS = 2_000  # trials at full length while all of a method's trials take at most this many steps
SHORT_FRACTION = 0.25  # else each trial trains this share of the steps, the schedule's shape kept
PARAMETER_TOLERANCE = 0.05  # equal parameters: within 5% of the reference count
LR_LOW, LR_HIGH = (RunConfig.__dataclass_fields__["lr"].metadata[k] for k in ("low", "high"))  # lr's allowed range


@dataclass
class TuneResult:
    """A method's search: its trials (lr, PSNR dB; −inf for a failed or diverged trial), the winner,
    and what it cost."""

    best_lr: float
    trials: list[tuple[float, float]]
    trial_steps: int  # steps of each trial
    total_steps: int  # steps of the full run
    seed: int  # the seed the trials ran at
    seconds: float = 0.0  # wall time of the search
    stopped: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def at_edge(self) -> bool:
        """The winner is the grid's smallest or largest rate: a wider grid might do better."""
        rates = [lr for lr, _ in self.trials]
        return bool(rates) and self.best_lr in (min(rates), max(rates)) and len(rates) > 1


def lr_grid(centres: list[float]) -> list[float]:
    """The absolute rates 1e-3·2^k from min(centres)/4 to max(centres)·8, inside lr's allowed range."""
    low = max(LR_LOW, min(centres) / GRID_BELOW)
    high = min(LR_HIGH, max(centres) * GRID_ABOVE)
    first = math.floor(math.log(low / GRID_BASE, GRID_FACTOR) + 1e-9)
    last = math.ceil(math.log(high / GRID_BASE, GRID_FACTOR) - 1e-9)
    return [float(f"{GRID_BASE * GRID_FACTOR**k:.3g}") for k in range(first, last + 1)
            if LR_LOW <= GRID_BASE * GRID_FACTOR**k <= LR_HIGH]


def comparison_grid(configs: list[RunConfig], signal: Signal) -> list[float]:
    """One grid for every method of a comparison: around each one's default rate for this signal
    (or the rate it was given)."""
    return lr_grid([resolve(config, signal).lr for config in configs])


def trial_config(config: RunConfig, steps: int) -> RunConfig:
    """The run's config for a trial of `steps` steps: its seed moved by TUNE_SEED_OFFSET, diagnostics
    off, and its learning-rate schedule's shape kept (the same number of decays over fewer steps)."""
    scale = steps / config.steps
    changes = {"steps": steps, "seed": (config.seed + TUNE_SEED_OFFSET) % (2**31 - 1), "ntk_every": 0,
               "activations_every": 0, "errors_every": 0, "bands_every": 0, "preview_every": 0,
               "log_every": max(1, min(config.log_every, steps))}
    if config.lr_schedule in ("step", "drop"):
        changes["lr_every"] = max(1, round(config.lr_every * scale))
    return config.replace(**changes)


def trial_steps(config: RunConfig, trials: int) -> int:
    """Full length when all trials together stay within FULL_LENGTH_STEPS, else a quarter of it."""
    if config.steps * trials <= FULL_LENGTH_STEPS:
        return config.steps
    return max(1, round(config.steps * SHORT_FRACTION))


class TrialProgress(tuple):
    """(i, n, lr) said before trial i of n; `batched`: how many trials train with it as one stacked
    batch (1: it trains alone), so a caller can say "9 rates as one batch"."""

    def __new__(cls, index: int, total: int, lr: float, batched: int = 1):
        progress = super().__new__(cls, (index, total, lr))
        progress.batched = batched
        return progress


def search_lr(config: RunConfig, signal: Signal, grid: list[float] | None = None,
              should_stop: Callable[[], bool] = lambda: False,
              batch: bool = True) -> Generator[TrialProgress, None, TuneResult]:
    """Train one trial per rate of `grid` (default: the grid around this method alone) and pick the
    best final PSNR; a trial that diverges or fails scores −inf. Yields (i, n, lr) before trial i of
    n, so a caller can say where the search is; returns the TuneResult. When `should_stop()` turns
    true the current trial stops, no more run, and the result says so. `batch`: the trials differ
    only in their rate, so they train as one stacked batch (batched.py) where the method allows;
    then every (i, n, lr) is said before the batch starts."""
    grid = sorted(grid or comparison_grid([config], signal))
    steps = trial_steps(config, len(grid))
    short = trial_config(config, steps)
    result = TuneResult(resolve(config, signal).lr, [], steps, config.steps, short.seed)
    clock = [time.perf_counter()]
    trials = _batched_trials(short, signal, grid, should_stop, clock) if batch else \
        _serial_trials(short, signal, grid, should_stop, clock)
    result.trials = yield from trials
    result.stopped = should_stop() or len(result.trials) < len(grid)
    result.seconds = time.perf_counter() - clock[0]
    finite = [trial for trial in result.trials if math.isfinite(trial[1])]
    if finite:
        result.best_lr = max(finite, key=lambda trial: trial[1])[0]
    else:
        result.notes.append("every trial failed: the method's default rate is used")
    return result


def _said(progress: TrialProgress, clock: list[float]):
    """Yield `progress`; the caller's time is not the search's (clock[0] moves on by it)."""
    paused = time.perf_counter()
    yield progress
    clock[0] += time.perf_counter() - paused


def _serial_trials(short: RunConfig, signal: Signal, grid: list[float], should_stop, clock):
    """One trial after the other; returns [(lr, PSNR)]."""
    from .train import Run

    trials = []
    for index, lr in enumerate(grid):
        if should_stop():
            break
        yield from _said(TrialProgress(index + 1, len(grid), lr), clock)
        trials.append((lr, _trial_psnr(Run, short.replace(lr=lr), signal, should_stop)))
    return trials


def _batched_trials(short: RunConfig, signal: Signal, grid: list[float], should_stop, clock):
    """Every trial built, said, then trained together (stacked where the method allows); returns
    [(lr, PSNR)]."""
    from .batched import plan_batches, train_runs
    from .train import Run

    built = {}
    for lr in grid:
        try:
            built[lr] = Run(short.replace(lr=lr), signal)
        except (SpectralLabError, RuntimeError, MemoryError):  # this rate cannot train: it scores −inf
            pass
    runs = list(built.values())
    batches, _ = plan_batches(runs)
    together = {id(runs[i]): len(members) for members in batches for i in members}
    for index, lr in enumerate(grid):
        if should_stop():
            return []
        batched = together.get(id(built[lr]), 1) if lr in built else 1
        yield from _said(TrialProgress(index + 1, len(grid), lr, batched), clock)
    scores = {id(run): _score(outcome.run if outcome.error is None else None)
              for run, outcome in zip(runs, train_runs(runs, should_stop=should_stop))}
    return [(lr, scores.get(id(built[lr]), -math.inf) if lr in built else -math.inf) for lr in grid]


def _score(run) -> float:
    """A trial's final PSNR, or −inf when it failed, diverged or was stopped."""
    if run is None or run.final is None or run.final.status != "finished":
        return -math.inf
    psnr = run.final.metrics["psnr"]
    return psnr if math.isfinite(psnr) else -math.inf


def tune_lr(config: RunConfig, signal: Signal, grid: list[float] | None = None,
            should_stop: Callable[[], bool] = lambda: False, batch: bool = True) -> TuneResult:
    """search_lr to its end."""
    search = search_lr(config, signal, grid, should_stop, batch)
    while True:
        try:
            next(search)
        except StopIteration as done:
            return done.value


def _trial_psnr(run_class, config: RunConfig, signal: Signal, should_stop) -> float:
    try:
        run = run_class(config, signal)
        for _ in run:
            if should_stop():
                run.stop()
    except (SpectralLabError, FloatingPointError, RuntimeError, MemoryError):
        return -math.inf
    return _score(run)


def describe_trials(result: TuneResult) -> str:
    """'tuned at seed 10007 on 9 rates × 75 steps (a quarter of the run, same schedule shape): best 5e-04;
    2.5e-04 (31.2 dB), 5e-04 (33.0 dB), …'."""
    shown = ", ".join(f"{lr:.3g} ({psnr:.1f} dB)" if math.isfinite(psnr) else f"{lr:.3g} (failed)"
                      for lr, psnr in result.trials)
    length = ("full length" if result.trial_steps == result.total_steps
              else f"{result.trial_steps} steps each (a quarter of the run, its schedule's shape kept)")
    edge = "; the best sits at the grid's edge" if result.at_edge else ""
    notes = "".join(f"; {note}" for note in result.notes)
    return (f"tuned at seed {result.seed} (not a reported one) on {len(result.trials)} rates, {length}: best "
            f"{result.best_lr:.3g} of {shown}{edge}{notes}")


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
