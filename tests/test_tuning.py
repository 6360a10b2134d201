"""The tuner's protocol: one grid of rates for every method of a comparison, trials on a seed no
table reports, full length when cheap or the run's schedule shape kept, progress and time said."""
import math

import pytest

from spectral_lab import RunConfig
from spectral_lab.lab import LiveComparison
from spectral_lab.signals import make_synthetic
from spectral_lab import tuning
from spectral_lab.stepper import schedule_factor
from spectral_lab.tuning import comparison_grid, lr_grid, search_lr, trial_config, trial_steps, tune_lr

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


def test_trials_are_full_length_when_cheap_and_a_quarter_otherwise():
    assert trial_steps(RunConfig(steps=200), trials=6) == 200  # 1,200 steps of trials
    assert trial_steps(RunConfig(steps=1000), trials=6) == 250


def test_trials_never_train_a_reported_seed(monkeypatch):
    import spectral_lab.train as train

    seeds = []
    original = train.Run.__init__

    def record(self, config, signal=None):
        seeds.append(config.seed)
        original(self, config, signal)

    monkeypatch.setattr(train.Run, "__init__", record)
    result = tune_lr(RunConfig(method="siren", width=8, steps=10, seed=0), SIGNAL, grid=[1e-4, 2e-4])
    assert seeds == [tuning.TUNE_SEED_OFFSET] * 2 and result.seed == tuning.TUNE_SEED_OFFSET
    monkeypatch.setattr(tuning, "TUNE_SEED_OFFSET", 0)  # the broken protocol: tuned on the reported seed
    seeds.clear()
    tune_lr(RunConfig(method="siren", width=8, steps=10, seed=0), SIGNAL, grid=[1e-4])
    assert seeds == [0]  # what the first assertion rules out


def test_the_search_yields_its_progress_and_picks_the_best_full_length_trial():
    search = search_lr(RunConfig(method="siren", width=16, steps=60, seed=1), SIGNAL, grid=[1e-5, 1e-4, 1e-3])
    progress = []
    while True:
        try:
            progress.append(next(search))
        except StopIteration as done:
            result = done.value
            break
    assert progress == [(1, 3, 1e-5), (2, 3, 1e-4), (3, 3, 1e-3)]
    assert result.trial_steps == 60 and result.best_lr == max(result.trials, key=lambda t: t[1])[0]
    assert result.seconds > 0 and not math.isinf(max(p for _, p in result.trials))


def test_a_tuned_comparison_says_which_rate_it_tries_and_counts_the_search_in_its_time():
    config = RunConfig(signal="sines", length=256, width=8, steps=20, log_every=10)
    live = LiveComparison(config, ["relu", "siren"], SIGNAL, tune=True, curve_hz=1e9)
    lines = [frame.status for frame in live.frames()]
    assert any("rate 1 of 10" in line and "relu" in line for line in lines)
    rows = {row["method"]: row for row in live.table()}
    grids = {m: [float(x.split(" (")[0]) for x in r["tuned"].split(" of ", 1)[1].split(", ")] for m, r in rows.items()}
    assert grids["relu"] == grids["siren"] and len(grids["relu"]) == 10
    assert all(0 < r["tuning_s"] < r["seconds"] for r in rows.values())
