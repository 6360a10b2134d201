"""The tuner's protocol: one grid of rates for every method of a comparison, trials on a seed no
table reports, short trials that rank and full-length trials that decide, the grid widened at its
edge, a bounded cost, progress that moves and time said."""
import math
import re

import pytest

from spectral_lab import RunConfig
from spectral_lab.lab import LiveComparison
from spectral_lab.signals import make_synthetic
from spectral_lab import tuning
from spectral_lab.stepper import schedule_factor
from spectral_lab.tuning import (FINAL_SEEDS, FINALISTS, MAX_FINALISTS, MAX_WIDEN, USUAL_FULL_RUNS, comparison_grid, describe_trials, finalists,
                                 lr_grid, search_lr, search_steps, trial_config, trial_steps, tune_lr)

SIGNAL = make_synthetic("sines", length=256)


def test_one_grid_covers_every_methods_default_and_is_shared():
    grid = comparison_grid([RunConfig(method="relu"), RunConfig(method="siren")], SIGNAL)
    assert grid == lr_grid([1e-3, 1e-4])  # the defaults for a 1D signal
    assert min(grid) <= 1e-4 / 4 and max(grid) >= 1e-3 * 8
    assert all(b / a == pytest.approx(2, rel=0.01) for a, b in zip(grid, grid[1:]))


@pytest.mark.parametrize("schedule", ["step", "drop", "exp", "constant"])
def test_a_short_trial_keeps_the_runs_schedule_shape_and_moves_the_seed(schedule):
    full = RunConfig(steps=400, lr_schedule=schedule, lr_every=40, lr_gamma=0.5, seed=3, ntk_every=10)
    short = trial_config(full, 100)
    assert short.seed == 3 + tuning.TUNE_SEED_OFFSET and short.ntk_every == 0
    for fraction in (0.25, 0.5, 1.0):  # the same decay at the same share of each run
        assert schedule_factor(short, round(100 * fraction)) == pytest.approx(
            schedule_factor(full, round(400 * fraction)))


def test_trials_rank_short_unless_every_rate_at_full_length_costs_no_more():
    assert trial_steps(RunConfig(steps=20), trials=6) == 20  # 120 steps: less than 6 × 25 short + 2 × 20
    assert trial_steps(RunConfig(steps=300), trials=7) == 38  # an eighth of the run
    assert trial_steps(RunConfig(steps=100), trials=6) == 25  # at least 25 steps
    assert search_steps(300, 7) == 7 * 38 + USUAL_FULL_RUNS * 300 and search_steps(20, 6) == 6 * 20


def test_trials_never_train_a_reported_seed(monkeypatch):
    import spectral_lab.train as train

    seeds = []
    original = train.Run.__init__

    def record(self, config, signal=None):
        seeds.append(config.seed)
        original(self, config, signal)

    monkeypatch.setattr(train.Run, "__init__", record)
    result = tune_lr(RunConfig(method="siren", width=8, steps=10, seed=0), SIGNAL, grid=[1e-4, 2e-4])
    trial_seeds = {tuning.TUNE_SEED_OFFSET + offset for offset in range(FINAL_SEEDS)}
    assert len(seeds) >= 2 and set(seeds) == trial_seeds and result.seed == tuning.TUNE_SEED_OFFSET
    monkeypatch.setattr(tuning, "TUNE_SEED_OFFSET", 0)  # the broken protocol: tuned on the reported seed
    seeds.clear()
    tune_lr(RunConfig(method="siren", width=8, steps=10, seed=0), SIGNAL, grid=[1e-4])
    assert 0 in seeds  # what the first assertion rules out


def _search_to_end(search):
    progress = []
    while True:
        try:
            progress.append(next(search))
        except StopIteration as done:
            return progress, done.value


def test_the_search_yields_its_progress_and_picks_the_best_full_length_trial():
    config = RunConfig(method="siren", width=16, steps=100, seed=1, log_every=10)
    # six rates: with fewer, every rate at full length costs no more than the two stages (tiny runs)
    grid = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3]
    progress, result = _search_to_end(search_lr(config, SIGNAL, grid=grid))
    assert progress[:6] == [(i + 1, 6, lr) for i, lr in enumerate(grid)]  # each trial said before any trains
    moving = [p for p in progress if p.stage == "short" and p.step]  # within a batch, at its log points
    assert sorted({p.step for p in moving}) == [10, 20] and {p.steps for p in moving} == {result.trial_steps} == {25}
    assert result.finals and {lr for lr, _ in result.finals} <= {lr for lr, _ in result.trials} | set(result.widened)
    assert result.best_lr == max(result.finals, key=lambda t: t[1])[0]  # the full-length trials decide
    assert result.seconds > 0 and not math.isinf(max(p for _, p in result.finals))
    assert "ran at full length on 2 seeds (the worse counts" in describe_trials(result)
    assert "25-step trials" in describe_trials(result)


def _fake_psnr(short_best: float, full_best: float):
    """A trial's PSNR from its rate and length, no training: the short trials peak at `short_best`,
    the full-length ones at `full_best` (short trials lean towards large rates)."""
    def score(run):
        peak = full_best if run.config.steps == run.final.total_steps and run.config.steps >= 100 else short_best
        return 40.0 - abs(math.log2(run.config.lr / peak)) * (10 if peak == full_best else 3)
    return score


def test_full_length_re_runs_overturn_a_short_ranking_that_misleads(monkeypatch):
    # short trials rank 1e-3 first; at full length 2.5e-4 is best (two rates lower): the finalists
    # (1e-3 and the rate below it) lose to their lower neighbours, so the search walks down to it.
    monkeypatch.setattr(tuning, "_score", _fake_psnr(short_best=1e-3, full_best=2.5e-4))
    config = RunConfig(signal="sines", length=64, method="relu", width=4, depth=1, steps=100, log_every=50)
    grid = [3.13e-5, 6.25e-5, 1.25e-4, 2.5e-4, 5e-4, 1e-3]
    result = tune_lr(config, make_synthetic("sines", length=64), grid)
    ranking = max(result.trials, key=lambda t: t[1])[0]
    assert result.trial_steps == 25 and ranking == 1e-3  # what short trials alone would pick
    assert result.best_lr == 2.5e-4 and set(result.full_length_rates) >= {2.5e-4, 5e-4, 1e-3}
    assert result.widened == [2e-3]  # 1e-3 sat at the grid's top edge: one more rate above, short
    shown = describe_trials(result)
    assert ("ranked them, 0.000125, 0.00025, 0.0005, 0.001 ran at full length on 2 seeds (the worse counts; "
            "0.000125, 0.0005, 0.001 on the first only: it could not beat a settled score); best 0.00025 of 0.000125 (") in shown
    # the cost is bounded: the ranking (grid + widening, short) plus the finalists and their neighbours
    bound = (len(grid) + MAX_WIDEN) * result.trial_steps + (MAX_FINALISTS + MAX_WIDEN) * FINAL_SEEDS * config.steps
    assert result.steps_trained <= bound
    # the walk down reads the first trial seed; the second runs once, at its end, for the one rate that can win
    full_runs = (result.steps_trained - len(result.trials) * result.trial_steps) // config.steps
    assert full_runs == len(result.full_length_rates) + 1


def test_finalists_are_the_best_the_rate_below_and_the_rate_above_when_it_ties():
    assert finalists([(1e-4, 30.0), (2e-4, 35.0), (4e-4, 36.0), (8e-4, 20.0)]) == [2e-4, 4e-4]
    assert finalists([(1e-4, 30.0), (2e-4, 35.0), (4e-4, 36.0), (8e-4, 35.5)]) == [2e-4, 4e-4, 8e-4]  # a tie
    assert finalists([(1e-4, 35.8), (2e-4, 30.0), (4e-4, 36.0), (8e-4, 20.0)]) == [2e-4, 4e-4]  # not a neighbour
    assert finalists([(1e-4, 36.0), (2e-4, 35.0), (4e-4, 20.0)]) == [1e-4, 2e-4]  # the best at the bottom
    assert finalists([(1e-4, -math.inf), (2e-4, 30.0)]) == [2e-4] and finalists([(1e-4, -math.inf)]) == []


def test_a_best_at_the_grids_top_edge_widens_the_grid(monkeypatch):
    monkeypatch.setattr(tuning, "_score", _fake_psnr(short_best=2e-3, full_best=2e-3))
    config = RunConfig(signal="sines", length=64, method="relu", width=4, depth=1, steps=100, log_every=50)
    result = tune_lr(config, make_synthetic("sines", length=64), [1.25e-4, 2.5e-4, 5e-4, 1e-3])
    assert result.best_lr == 2e-3 and result.widened[0] == 2e-3 and not result.at_edge


def test_a_tuned_comparison_says_which_rate_it_tries_and_counts_the_search_in_its_time():
    config = RunConfig(signal="sines", length=256, width=8, steps=20, log_every=10)
    live = LiveComparison(config, ["relu", "siren"], SIGNAL, tune=True, curve_hz=1e9)
    lines = [frame.status for frame in live.frames()]
    assert any(re.search(r"trials? 1(–\d+)? of 10", line) and "relu" in line for line in lines), lines
    rows = {row["method"]: row for row in live.table()}
    grids = {m: re.search(r"on a grid of (\d+) rates", r["tuned"]).group(1) for m, r in rows.items()}
    assert grids["relu"] == grids["siren"] == "10"
    assert all(0 < r["tuning_s"] < r["seconds"] for r in rows.values())


def test_a_rate_that_wins_on_one_trial_seed_only_is_not_picked(monkeypatch):
    # FINER on sines: 1e-3 beat 5e-4 at the trial seed (74.7 vs 70.8 dB) and lost 56.4 vs 78.7 on seed 0.
    # Here 1e-3 scores 75 at the first trial seed and 55 at the second; 5e-4 scores 71 on both
    first_seed = trial_config(RunConfig(seed=0, steps=100), 100).seed

    def score(run):
        if run.config.steps < 100:  # the ranking: 1e-3 first
            return 40.0 - abs(math.log2(run.config.lr / 1e-3))
        if run.config.lr == 1e-3:
            return 75.0 if run.config.seed == first_seed else 55.0
        return 71.0 - abs(math.log2(run.config.lr / 5e-4))

    monkeypatch.setattr(tuning, "_score", score)
    config = RunConfig(signal="sines", length=64, method="relu", width=4, depth=1, steps=100, seed=0, log_every=50)
    grid = [3.13e-5, 6.25e-5, 1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3]
    assert tune_lr(config, make_synthetic("sines", length=64), grid).best_lr == 5e-4
    monkeypatch.setattr(tuning, "FINAL_SEEDS", 1)  # one trial seed: the unstable rate wins
    assert tune_lr(config, make_synthetic("sines", length=64), grid).best_lr == 1e-3


def _seeded_psnr(table: dict[float, tuple[float, float]], ranking_best: float, slope: float = 1.0):
    """A trial's PSNR with no training: short trials peak at `ranking_best`; a full-length trial reads
    `table[lr]` (first trial seed, second trial seed)."""
    first_seed = trial_config(RunConfig(seed=0, steps=100), 100).seed

    def score(run):
        if run.config.steps < 100:
            return 40.0 - slope * abs(math.log2(run.config.lr / ranking_best))
        first, second = table.get(run.config.lr, (0.0, 0.0))
        return first if run.config.seed == first_seed else second
    return score


@pytest.mark.parametrize("table", [
    {5e-4: (71.0, 70.0), 1e-3: (75.0, 55.0), 2e-3: (60.0, 80.0)},  # the first seed's best collapses
    {5e-4: (90.0, 89.0), 1e-3: (60.0, 61.0), 2e-3: (59.0, 95.0)},  # a clear winner: the others run once
    {5e-4: (70.0, 72.0), 1e-3: (71.0, 69.0), 2e-3: (69.5, 71.0)},  # three close rates: all run twice
    {5e-4: (70.0, 70.0), 1e-3: (80.0, 62.0)},  # the better mean (71 vs 70), the worse worst: not picked
    # settling moves the best to the lower edge (5e-4 collapses on the second seed): the walk goes on down
    {2.5e-4: (75.0, 55.0), 1.25e-4: (71.0, 70.0), 6.25e-5: (72.0, 73.0)},
])
def test_leaving_a_rate_on_one_seed_picks_what_every_rate_on_every_seed_picks(monkeypatch, table):
    ranking_best = 2.5e-4 if 6.25e-5 in table else 1e-3
    monkeypatch.setattr(tuning, "_score", _seeded_psnr(table, ranking_best=ranking_best))
    config = RunConfig(signal="sines", length=64, method="relu", width=4, depth=1, steps=100, seed=0, log_every=50)
    grid = [6.25e-5, 1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3]  # enough rates that the ranking runs short
    result = tune_lr(config, make_synthetic("sines", length=64), grid)
    assert result.trial_steps < config.steps
    finals = set(result.full_length_rates)
    exhaustive = max(finals, key=lambda lr: min(table.get(lr, (0.0, 0.0))))
    assert result.best_lr == exhaustive and (6.25e-5 not in table or result.best_lr == 6.25e-5)
    for lr in result.one_seed:  # a rate left on one seed could not have won on two
        assert table.get(lr, (0.0, 0.0))[0] <= min(table[result.best_lr])
    full_runs = (result.steps_trained - len(result.trials) * result.trial_steps) // config.steps
    assert full_runs == len(finals) * FINAL_SEEDS - len(result.one_seed)


def test_a_clear_winner_costs_the_usual_full_length_runs(monkeypatch):
    # the finalists and the rate beyond the winner on the first trial seed, the winner on the second:
    # USUAL_FULL_RUNS, not every rate on both seeds
    monkeypatch.setattr(tuning, "_score", _seeded_psnr({5e-4: (60.0, 61.0), 1e-3: (90.0, 89.0)}, ranking_best=1e-3,
                                                            slope=3.0))
    config = RunConfig(signal="sines", length=64, method="relu", width=4, depth=1, steps=100, seed=0, log_every=50)
    result = tune_lr(config, make_synthetic("sines", length=64), [6.25e-5, 1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3])
    # 1e-3, the higher finalist, wins: the rate above it (2e-3, 0 dB here) runs on the first seed, and loses
    assert result.best_lr == 1e-3 and result.one_seed == [5e-4, 2e-3] and result.trial_steps == 25
    assert result.steps_trained == len(result.trials) * result.trial_steps + USUAL_FULL_RUNS * config.steps
    assert search_steps(config.steps, len(result.trials)) == result.steps_trained
    assert "0.0005 (60.0 dB, one seed)" in describe_trials(result)
