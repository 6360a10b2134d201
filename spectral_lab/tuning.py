"""Fair comparisons: each method at its own best learning rate, or at an equal parameter count.

One learning rate for every method decides a ranking as much as the methods do (camera 48², ReLU+PE,
300 steps: FR and BN swap places between lr 2e-3 and 4e-3). `tune_lr` searches each method's rate with
one protocol for every method of a comparison, so the search does not grade its own homework:

- one absolute grid: rates 1e-3·2^k covering every compared method's default ÷4 … ×8 (`lr_grid`), so
  each method gets the same rates;
- trials on another seed (seed + TUNE_SEED_OFFSET, an initialisation no table reports): the pick is not
  fitted to the reported run's own noise;
- short trials rank, full-length trials decide. Every grid rate trains SHORT_FRACTION of the steps (the
  run's schedule shape kept); the ranking's best, the rate below it (short trials lean towards large
  rates) and the rate above it when it ties within TIE_MARGIN_DB then train at full length on FINAL_SEEDS
  trial seeds, and the best *worst* PSNR over those seeds is the pick: a rate that wins on one
  initialisation and collapses on another is not picked. A rate whose first seed is already no better
  than a settled score cannot win and runs on one seed only (branch and bound: the pick running every
  rate on every seed gives, for fewer runs). Short trials alone mislead: SIREN on camera 48², 300 steps,
  ties 1e-3 and 2e-3 within 1 dB at 75 steps and loses 44–53 dB at 300 steps with 2e-3; SPDER on camera 64², 200 steps,
  ranks 5e-4 first at 25 steps, and 2.5e-4 beats it by 42 dB at full length;
- the grid widens (MAX_WIDEN rates at most) when a best sits at its edge, at either stage; at full
  length, when the best is the lowest or highest rate run there, the rate beyond it runs too (MAX_WIDEN
  at most);
- when every trial at full length costs no more steps than the two stages (tiny runs), every rate trains
  at full length on the first trial seed and the rates that can still win settle on the others.

`describe_trials` says which rates ran at full length; `TuneResult.steps_trained` is the search's cost in
steps (`search_steps` estimates it beforehand).

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
SHORT_FRACTION = 0.125  # a ranking trial trains this share of the steps, the schedule's shape kept
MIN_SHORT_STEPS = 25  # and at least this many: Adam's first few steps rank nothing
FINALISTS = 2  # the ranking's best and the rate below it re-run at full length
TIE_MARGIN_DB = 1.0  # the rate above the best, when this close to it, too: short trials that tie do not rank
MAX_FINALISTS = 3
# Each full-length trial runs on this many trial seeds and scores their worst PSNR (−inf if it fails on
# either): one trial seed alone picked a rate that is unstable on other initialisations (FINER on sines,
# 300 steps: 1e-3 beat 5e-4 at the trial seed, 74.7 vs 70.8 dB, and lost 56.4 vs 78.7 dB on seed 0), and
# the mean of two still picked the rate that happened to win on both (SIREN on sines lost 4.3 dB over
# seeds 0–2 to the steadiest rate; bench/bench_tuning.py)
FINAL_SEEDS = 2
# Full-length runs a search usually trains: the finalists on the first trial seed, the rate beyond the
# one of them that wins (it sits at their edge), then the best on the other seeds (the rest cannot beat it)
USUAL_FULL_RUNS = FINALISTS + 1 + FINAL_SEEDS - 1
MAX_WIDEN = 2  # rates added beyond an edge of the grid (per stage) when a best sits there
PARAMETER_TOLERANCE = 0.05  # equal parameters: within 5% of the reference count
LR_LOW, LR_HIGH = (RunConfig.__dataclass_fields__["lr"].metadata[k] for k in ("low", "high"))  # lr's allowed range


# The protocol in one sentence, for the tables a tuned command prints (cli, reproduce).
PROTOCOL_TEXT = ("one grid of rates shared by every method (1e-3·2^k from the lowest default ÷4 to the highest ×8, "
                 "widened when a best sits at its edge), tried at seed + 10007 (a seed no table reports): short "
                 f"trials ({SHORT_FRACTION:.1%} of the steps, at least {MIN_SHORT_STEPS}, the schedule's shape kept) "
                 f"rank the rates, then the best, the rate below it and the rate above it when it ties within "
                 f"{TIE_MARGIN_DB:g} dB train at full length on {FINAL_SEEDS} trial seeds (and the rate beyond those "
                 "while the lowest or highest wins), the best worst-of-the-seeds PSNR is the rate (a rate whose "
                 "first seed cannot beat a settled score runs on one); tiny runs try every rate at full length")


@dataclass
class TuneResult:
    """A method's search. `trials`: the ranking, (lr, PSNR dB) for every grid rate and any added beyond
    its edge, each `trial_steps` long; `finals`: the rates re-run at full length and their score, the
    worst PSNR over the trial seeds (the ranking itself when it ran at full length); `one_seed`: finals
    that ran on the first trial seed only, scored by it (it could not beat a settled score); −inf for a
    failed, diverged or stopped trial."""

    best_lr: float
    trials: list[tuple[float, float]]
    trial_steps: int  # steps of each ranking trial
    total_steps: int  # steps of the full run
    seed: int  # the seed the trials ran at
    grid: list[float] = field(default_factory=list)  # the comparison's grid (every rate beyond it: widened)
    finals: list[tuple[float, float]] = field(default_factory=list)
    one_seed: list[float] = field(default_factory=list)
    steps_trained: int = 0  # the search's cost: every trial's steps, summed
    seconds: float = 0.0  # wall time of the search
    stopped: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def full_length_rates(self) -> list[float]:
        return [lr for lr, _ in self.finals]

    @property
    def widened(self) -> list[float]:
        """Rates tried beyond the grid's edges."""
        tried = {lr for lr, _ in (*self.trials, *self.finals)}
        return sorted(tried - set(self.grid)) if self.grid else []

    @property
    def at_edge(self) -> bool:
        """The winner is the smallest or largest rate tried, after widening: a wider grid might do better."""
        rates = [lr for lr, _ in (*self.trials, *self.finals)]
        return len(set(rates)) > 1 and self.best_lr in (min(rates), max(rates))


def ladder_rate(k: int) -> float:
    """The k-th rate of the ladder 1e-3·2^k, at 3 significant digits (as tables print it)."""
    return float(f"{GRID_BASE * GRID_FACTOR**k:.3g}")


def ladder_index(lr: float) -> int:
    """k of the ladder rate nearest `lr`."""
    return round(math.log(lr / GRID_BASE, GRID_FACTOR))


def ladder_neighbour(lr: float, direction: int) -> float | None:
    """The rate a factor 2 above (+1) or below (−1) `lr` (the ladder's next when `lr` is on it); None
    outside lr's allowed range."""
    k = ladder_index(lr)
    on_ladder = math.isclose(ladder_rate(k), lr, rel_tol=1e-6)
    rate = ladder_rate(k + direction) if on_ladder else float(f"{lr * GRID_FACTOR**direction:.3g}")
    return rate if LR_LOW <= rate <= LR_HIGH else None


def lr_grid(centres: list[float]) -> list[float]:
    """The absolute rates 1e-3·2^k from min(centres)/4 to max(centres)·8, inside lr's allowed range."""
    low = max(LR_LOW, min(centres) / GRID_BELOW)
    high = min(LR_HIGH, max(centres) * GRID_ABOVE)
    first = math.floor(math.log(low / GRID_BASE, GRID_FACTOR) + 1e-9)
    last = math.ceil(math.log(high / GRID_BASE, GRID_FACTOR) - 1e-9)
    return [ladder_rate(k) for k in range(first, last + 1) if LR_LOW <= GRID_BASE * GRID_FACTOR**k <= LR_HIGH]


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


def short_steps(steps: int) -> int:
    """A ranking trial's length when short: SHORT_FRACTION of the run, at least MIN_SHORT_STEPS."""
    return min(steps, max(MIN_SHORT_STEPS, round(steps * SHORT_FRACTION)))


def trial_steps(config: RunConfig, trials: int) -> int:
    """The ranking trials' length: short, unless every trial at full length costs no more steps than
    short trials plus the finalists' full-length re-runs (tiny runs)."""
    short = short_steps(config.steps)
    return config.steps if trials * config.steps <= trials * short + USUAL_FULL_RUNS * config.steps else short


def search_steps(steps: int, rates: int) -> int:
    """The steps a search of `rates` grid rates usually trains: the ranking plus USUAL_FULL_RUNS
    full-length runs (widening, ties and close finalists add up to (MAX_FINALISTS + MAX_WIDEN) ·
    FINAL_SEEDS − USUAL_FULL_RUNS runs more)."""
    ranking = trial_steps(RunConfig(steps=steps), rates)
    return rates * steps if ranking == steps else rates * ranking + USUAL_FULL_RUNS * steps


class TrialProgress(tuple):
    """(i, n, lr): trial i of the n planned so far (lr its rate) starts or is training. `batched`: how
    many trials train with it as one stacked batch (1: alone); `stage`: "short" or "full" (length);
    `step`/`steps`: where that batch is (0 before it starts); `rates`: the batch's rates. `text` says
    it all in a progress line."""

    def __new__(cls, index: int, total: int, lr: float, batched: int = 1, stage: str = "full",
                step: int = 0, steps: int = 0, rates: tuple[float, ...] = ()):
        progress = super().__new__(cls, (index, total, lr))
        progress.batched, progress.stage, progress.step, progress.steps = batched, stage, step, steps
        progress.rates = rates or (lr,)
        return progress

    @property
    def text(self) -> str:
        index, total, _ = self
        length = "short trial" if self.stage == "short" else "full-length trial"
        rates = ", ".join(f"{rate:.3g}" for rate in self.rates)
        which = (f"{length}s {index}–{index + len(self.rates) - 1} of {total} (lr {rates}, one batch)"
                 if len(self.rates) > 1 else f"{length} {index} of {total} (lr {rates})")
        return which + (f", step {self.step} of {self.steps}" if self.step else "")


def search_lr(config: RunConfig, signal: Signal, grid: list[float] | None = None,
              should_stop: Callable[[], bool] = lambda: False,
              batch: bool = True) -> Generator[TrialProgress, None, TuneResult]:
    """Rank every rate of `grid` (default: the grid around this method alone) by short trials, re-run
    the best at full length, pick the best full-length PSNR (module docstring); a trial that diverges
    or fails scores −inf. Yields a TrialProgress before each batch of trials and at each of its log
    points, so a caller can say where the search is; returns the TuneResult. When `should_stop()`
    turns true the current trials stop, no more run, and the result says so. `batch`: trials that
    differ only in their rate train as one stacked batch (batched.py) where the method allows."""
    grid = sorted(grid or comparison_grid([config], signal))
    steps = trial_steps(config, len(grid))
    search = _Search(config, signal, should_stop, batch)
    result = TuneResult(resolve(config, signal).lr, [], steps, config.steps, search.seed, grid=list(grid))
    result.trials = yield from search.widened(trial_config(config, steps), grid, "short" if steps < config.steps
                                              else "full")
    if steps == config.steps:  # the ranking ran at full length on the first trial seed: settle it on the others
        scores, one_seed = {}, []
        yield from search.settle(trial_config(config, steps), dict(result.trials), scores, one_seed)
        result.finals, result.one_seed = sorted(scores.items()), sorted(one_seed)
    elif not should_stop():
        result.finals, result.one_seed = yield from search.confirmed(trial_config(config, config.steps), result.trials)
    result.steps_trained, result.seconds = search.steps_trained, search.seconds()
    result.stopped = should_stop() or len(result.trials) < len(grid)
    finite = [trial for trial in _settled(result.finals, result.one_seed) if math.isfinite(trial[1])]
    if finite:
        result.best_lr = max(finite, key=lambda trial: trial[1])[0]
    else:
        result.notes.append(f"{'stopped' if result.stopped else 'every trial failed'}: the method's default rate is used")
    return result


def finalists(trials: list[tuple[float, float]]) -> list[float]:
    """The ranking's rates worth a full-length run: its best, the rate below it (short trials lean
    towards large rates: the one below often wins at full length) and the rate above it when that ties
    within TIE_MARGIN_DB (or when nothing is below): FINALISTS to MAX_FINALISTS rates."""
    finite = sorted(trial for trial in trials if math.isfinite(trial[1]))
    if not finite:
        return []
    best = max(range(len(finite)), key=lambda i: finite[i][1])
    chosen = [finite[best][0]]
    if best > 0:
        chosen.append(finite[best - 1][0])
    if best + 1 < len(finite) and (best == 0 or finite[best][1] - finite[best + 1][1] <= TIE_MARGIN_DB):
        chosen.append(finite[best + 1][0])
    return sorted(chosen)


class _Search:
    """One search's trials: built, trained (batched where they can), timed and said."""

    def __init__(self, config: RunConfig, signal: Signal, should_stop, batch: bool):
        self.signal, self.should_stop, self.batch = signal, should_stop, batch
        self.seed = trial_config(config, 1).seed
        self.started = time.perf_counter()
        self.paused = 0.0  # time the caller spent between our yields: not the search's
        self.steps_trained = 0
        self.said = 0  # trials started so far (progress numbers them)
        self.planned = 0

    def seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def widened(self, config: RunConfig, rates: list[float], stage: str):
        """Trials of `rates`, then while the best sits at an edge of the rates tried, one more beyond
        it (MAX_WIDEN at most); returns every (lr, PSNR) in rate order."""
        trials = yield from self.trials(config, rates, stage)
        for _ in range(MAX_WIDEN):
            beyond = _beyond_edge(trials)
            if beyond is None or self.should_stop():
                break
            trials += yield from self.trials(config, [beyond], stage)
        return sorted(trials)

    def confirmed(self, config: RunConfig, ranking: list[tuple[float, float]]):
        """The finalists at full length on the first trial seed; while the best of them is the lowest or the
        highest rate run at full length, the rate beyond it (MAX_WIDEN at most). Short trials often lean
        large (a smaller rate that lost the ranking wins at full length) and sometimes small: ReLU+PE on
        sines ranks 4e-3 over 8e-3 at 38 of 300 steps (36.2 vs 33.4 dB) and 8e-3 wins at 300 on every
        seed (55.7 vs 52.4 dB on seed 1). The walk reads the first seed, so the other seeds run once, at
        its end, for the rates that can still win (`settle`); when settling moves the best to an edge,
        the walk goes on. Returns ([(lr, score)] in rate order, the rates that ran on one trial seed only)."""
        first = dict((yield from self.trials(config, finalists(ranking), "full")))
        scores, one_seed, widened = {}, [], 0
        while True:
            while widened < MAX_WIDEN and not self.should_stop():
                beyond = _beyond_edge(list(first.items()))
                if beyond is None:
                    break
                first.update((yield from self.trials(config, [beyond], "full")))
                widened += 1
            yield from self.settle(config, first, scores, one_seed)
            # a rate left on one seed scores below the settled best: the edge is the settled best's
            beyond = _beyond_edge(list(scores.items()))
            if beyond is None or widened >= MAX_WIDEN or self.should_stop():
                return sorted(scores.items()), sorted(one_seed)
            first.update((yield from self.trials(config, [beyond], "full")))
            widened += 1

    def settle(self, config: RunConfig, first: dict[float, float], scores: dict[float, float],
               one_seed: list[float]):
        """Score the rates of `first` (their first trial seed's PSNR) not yet in `scores`: best first,
        each on the further trial seeds while it can still win. A rate scores its worst PSNR over
        FINAL_SEEDS seeds (−inf when any fails), so a rate whose first-seed PSNR is no better than a
        settled score cannot win and runs on no other seed: the pick is the one running every rate on
        every seed gives (branch and bound), for fewer runs. Such a rate joins `one_seed`, scored by its
        first seed (an upper bound). Fills `scores` and `one_seed` in place."""
        settled = max((db for lr, db in scores.items() if lr not in one_seed), default=-math.inf)
        for lr in sorted(set(first) - set(scores), key=first.get, reverse=True):
            worst, seeds_run = first[lr], 1
            while seeds_run < FINAL_SEEDS and worst > settled and not self.should_stop():
                seeded = config.replace(seed=(config.seed + seeds_run) % (2**31 - 1))
                worst = min(worst, dict((yield from self.trials(seeded, [lr], "full"))).get(lr, -math.inf))
                seeds_run += 1
            scores[lr] = worst
            if seeds_run == FINAL_SEEDS or not math.isfinite(worst):
                settled = max(settled, worst)
            else:
                one_seed.append(lr)

    def trials(self, config: RunConfig, rates: list[float], stage: str):
        """One trial per rate of `config`, trained together where they can; returns [(lr, PSNR)]."""
        from .batched import Progress, plan_batches, train_each
        from .train import Run

        if self.should_stop():
            return []
        built = {}
        for lr in rates:
            try:
                built[lr] = Run(config.replace(lr=lr), self.signal)
            except (SpectralLabError, RuntimeError, MemoryError):  # this rate cannot train: it scores −inf
                pass
        runs, rate_of = list(built.values()), list(built)
        batches, _ = plan_batches(runs) if self.batch else ([], {})
        together = {i: len(members) for members in batches for i in members}
        self.planned += len(rates)
        first = self.said + 1
        scores = {}
        for index, lr in enumerate(rate_of):  # said before any trains: where the search is, and how
            yield from self._said(TrialProgress(first + index, self.planned, lr, together.get(index, 1), stage))
        for event in train_each(runs, self.batch, should_stop=self.should_stop, progress=True):
            if isinstance(event, Progress):
                members = [rate_of[i] for i in event.runs]
                yield from self._said(TrialProgress(first + rate_of.index(members[0]), self.planned, members[0],
                                                    len(members), stage, event.step, event.steps, tuple(members)))
                continue
            index, outcome = event
            scores[rate_of[index]] = _score(outcome.run if outcome.error is None else None)
            self.steps_trained += outcome.run.final.step if outcome.run.final is not None else 0
        self.said += len(rates)
        return [(lr, scores.get(lr, -math.inf)) for lr in rates]

    def _said(self, progress: TrialProgress):
        """Yield `progress`; the caller's time is not the search's."""
        paused = time.perf_counter()
        yield progress
        self.paused += time.perf_counter() - paused


def _beyond_edge(trials: list[tuple[float, float]]) -> float | None:
    """The ladder's next rate beyond the best of `trials` when the best is their lowest or highest rate
    (of two or more) and that rate is untried; None otherwise."""
    finite = [trial for trial in trials if math.isfinite(trial[1])]
    tried = {lr for lr, _ in trials}
    if len(tried) < 2 or not finite:
        return None
    best_lr = max(finite, key=lambda trial: trial[1])[0]
    direction = -1 if best_lr == min(tried) else +1 if best_lr == max(tried) else 0
    beyond = ladder_neighbour(best_lr, direction) if direction else None
    if beyond is None or beyond in tried:
        return None
    return beyond


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


def describe_trials(result: TuneResult) -> str:
    """'tuned at seed 10007 (not a reported one) on a grid of 7 rates (+1 beyond its edge: 0.002): 38-step
    trials (13% of the run, its schedule's shape kept) ranked them, 0.001, 0.002 ran at full length on 2
    seeds (the worse counts; 0.002 on the first only: …); best 0.001 of 0.001 (145.4 dB), 0.002 (93.0 dB,
    one seed); ranking: 1.56e-05 (31.2 dB), …' (the best of the
    full-length trials, then the ranking)."""
    def listed(trials, one_seed=()) -> str:
        return ", ".join(f"{lr:.3g} ({psnr:.1f} dB{', one seed' if lr in one_seed else ''})" if math.isfinite(psnr)
                         else f"{lr:.3g} (failed)" for lr, psnr in trials)

    widened = f" (+{len(result.widened)} beyond its edge: {', '.join(f'{lr:.3g}' for lr in result.widened)})" \
        if result.widened else ""
    head = f"tuned at seed {result.seed} (not a reported one) on a grid of {len(result.grid)} rates{widened}"
    if result.trial_steps == result.total_steps:
        how = "every rate ran at full length"
    else:
        full = ", ".join(f"{lr:.3g}" for lr in result.full_length_rates) or "none (stopped)"
        cut = (f"; {', '.join(f'{lr:.3g}' for lr in result.one_seed)} on the first only: it could not beat a "
               "settled score") if result.one_seed else ""
        how = (f"{result.trial_steps}-step trials ({result.trial_steps / result.total_steps:.0%} of the run, its "
               f"schedule's shape kept) ranked them, {full} ran at full length on {FINAL_SEEDS} seeds (the worse "
               f"counts{cut})")
    ranking = f"; ranking: {listed(result.trials)}" if result.trial_steps < result.total_steps else ""
    edge = "; the best sits at the edge of every rate tried" if result.at_edge else ""
    notes = "".join(f"; {note}" for note in result.notes)
    return f"{head}: {how}; best {result.best_lr:.3g} of {listed(result.finals, result.one_seed)}{ranking}{edge}{notes}"


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


def _settled(finals: list[tuple[float, float]], one_seed: list[float]) -> list[tuple[float, float]]:
    """The full-length trials whose score is settled: every trial seed ran (or the first failed)."""
    return [(lr, db) for lr, db in finals if lr not in one_seed]
