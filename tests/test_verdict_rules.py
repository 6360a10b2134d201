"""The lessons' verdict rules against the runs a sceptic would try, and each rule's threshold mutated:
a test here proves its rule bites by loosening the threshold (monkeypatch) and seeing the honest
verdict turn into the dishonest one. Lesson runs are the cached ones of test_lessons.py; rules that
need a run shape no lesson makes (crossings between two band logs) read synthetic band logs.

Measured margins are quoted where used (2 CPU cores, seeds 0–2)."""
import copy
import dataclasses
import math

import numpy as np
import pytest

from spectral_lab import metrics
from spectral_lab.lab.lessons import LESSONS, kernel_low_share, lesson_takeaway
from spectral_lab.lab.lessons import bias, kernel
from spectral_lab.lab.lessons.cnn import cnn_weights_takeaway
from spectral_lab.lab.method_view import MethodView
from spectral_lab.nern import layer_spectra
from test_lessons import cnn_run, own_run, run_views


def _takeaway(key, views):
    return lesson_takeaway(LESSONS[key], views, prediction=LESSONS[key].expected)


# ----------------------------------------------------------------------------------------------
# Lesson 1: the order from the ratio of crossing steps, resolved by at least two band logs
# ----------------------------------------------------------------------------------------------
def _band_view(steps: int, low, high, method="densegrid") -> MethodView:
    """A finished run whose low and high band thirds follow `low(t)` and `high(t)` (Δ), logged every
    steps // 40 steps as the app logs bands; nine bands, three per third."""
    every = max(1, steps // 40)
    logged = np.arange(0, steps + 1, every)
    view = MethodView(method, 0, status="finished", total_steps=steps, psnr=40.0)
    view.row = {"psnr_db": 40.0}
    view.band_edges = np.arange(10, dtype=float)
    view.band_steps = list(logged)
    middle = lambda t: (low(t) + high(t)) / 2  # noqa: E731
    view.band_columns = [np.array([low(t)] * 3 + [middle(t)] * 3 + [high(t)] * 3) for t in logged]
    return view


def _halving(step: float):
    """Δ(t) = 2^(−t/step): crosses 50 % at `step`, smoothly."""
    return lambda t: 2.0 ** (-t / step)


def _verdict(view) -> int | None:
    return bias.read_order(view).verdict


@pytest.mark.parametrize("steps", [100, 140, 200])
def test_the_same_dynamics_read_the_same_at_every_run_length(steps, monkeypatch):
    # a dense grid on camera 48²: low bands cross 50 % at step ~15, high ones at ~31–34, at 100, 200 and
    # 1000 steps alike; the old rule (gap ≤ 10 % of the run = "together") read 200 steps as "together"
    view = _band_view(steps, _halving(15), _halving(31))
    assert _verdict(view) == 1
    monkeypatch.setattr(bias, "RATIO", 2.5)  # loosened: a 2× later crossing no longer counts as later
    assert _verdict(view) == 2


def test_crossings_within_the_same_band_logs_are_not_put_in_order(monkeypatch):
    # 1000 steps log bands every 25: the crossings at ~15 and ~31 fall within two logs of each other
    view = _band_view(1000, _halving(15), _halving(31))
    assert _verdict(view) is None
    text = _takeaway("spectral-bias", [view]).text
    assert "too close to put in order" in text and "spectral bias**" not in text and "together" not in text
    assert "band logs are too far apart" in text and "moved its high bands" not in text


def test_a_crossing_the_logs_cannot_place_is_not_read_as_an_order(monkeypatch):
    # the low bands drop sharply just before step 20, the high ones cross smoothly at 22: learned together.
    # Logged every 25 steps, interpolation puts the low crossing at ~14 and the high at ~23 (ratio 1.6)
    sharp = lambda t: 1.0 if t < 20 else 0.1  # noqa: E731
    view = _band_view(1000, sharp, _halving(22))
    assert _verdict(view) is None
    monkeypatch.setattr(bias, "APART_LOGS", 0)  # loosened: read as "high bands later"
    assert _verdict(view) == 1


def test_real_dense_grid_runs_of_100_and_200_steps_agree():
    # measured, seed 0: low 14.7 / 15.2, high 31.1 / 31.2 (ratio 2.1); the old rule said "later" at 100
    # and "together" at 200
    verdicts = {steps: bias.read_order(run_views("spectral-bias", methods=["densegrid"], steps=steps)[0]).verdict
                for steps in (100, 200)}
    assert verdicts == {100: 1, 200: 1}


def test_a_network_whose_high_bands_moved_early_is_not_said_to_have_never_started():
    # plain ReLU: high bands 98 % → 81 % while its low bands were learned, then flat (the old words: "it never
    # started on them")
    relu = own_run("spectral-bias")[0]
    reading = bias.read_order(relu)
    text = _takeaway("spectral-bias", [relu]).text
    assert reading.verdict is None and "never started" not in text
    assert f"fell from {round(100 * reading.bands.high[0])} %" in text, text


# ----------------------------------------------------------------------------------------------
# Lesson 2: a real share on both sides, read on the target; limits near what the formula achieves
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tones, words", [
    ("freqs=2 amps=1", "no slow part to compare"),  # 99.9 % on ReLU + PE's fast directions
    ("freqs=24 amps=1", "the network's own initial output"),  # 0.1 % / 0.8 % on them, PSNR 9–10 dB
])
def test_a_target_with_no_real_share_on_one_side_shows_no_order(tones, words, monkeypatch):
    views = run_views("ntk", signal_options=tones)
    takeaway = _takeaway("ntk", views)
    assert takeaway.supports is None, takeaway.text
    assert words in takeaway.text and "learns what its kernel makes fast" not in takeaway.text
    assert "the fast directions were not fitted first" not in takeaway.text
    monkeypatch.setattr(kernel, "SHARE_RANGE", (0.0, 1.0))  # loosened: every share reads
    loosened = _takeaway("ntk", views)
    assert loosened.supports is not None or "no slow part" not in loosened.text


def _misstated(view, factor: float):
    """The run's view with its η misstated ×factor: the formula predicts another run than this one."""
    twin = copy.copy(view)
    twin.row = {**view.row, "lr": view.row["lr"] * factor}
    return twin


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_the_formula_does_not_hold_with_eta_off_by_two(factor, monkeypatch):
    # measured (seeds 0–2): the right η fits within 0.0002 dB and 0.2 points at width 4,096 (0.013 dB, 0.7
    # points at 512); η × 2 or ÷ 2: 0.44–1.7 dB, ≥ 1.6 points
    views = [_misstated(view, factor) for view in own_run("ntk")]
    checks = [kernel.check_linear_dynamics(view) for view in views]
    assert not any(check.holds for check in checks), checks
    assert _takeaway("ntk", views).supports is None
    monkeypatch.setattr(kernel, "HOLDS_DB", 0.5)  # the old limits: ReLU's prediction with 2η still "held"
    monkeypatch.setattr(kernel, "HOLDS_SHARE", 0.05)
    assert any(check.holds for check in checks)


def test_the_lessons_own_run_holds_to_the_new_limits():
    checks = [kernel.check_linear_dynamics(view) for view in own_run("ntk")]
    assert all(check.holds and check.loss_gap_db < 0.01 for check in checks), checks
    # read on the target: ReLU's fast error at step 0 is mostly its own output, and still 91 % of the
    # target's fast part was fitted (9 % missed) against 2 % of its slow part
    assert all(check.fast_missed < 0.3 and check.slow_missed > 0.8 for check in checks), checks


# ----------------------------------------------------------------------------------------------
# Lesson 6 and every "≈ 0": two-sided
# ----------------------------------------------------------------------------------------------
def _with_fit_psnr(result, offset_db: float):
    fit = dataclasses.replace(result.fit, psnr=result.fit.zero_psnr + offset_db)
    return dataclasses.replace(result, fit=fit)


def test_a_kernel_fit_below_the_zero_output_is_not_called_a_fit_by_its_peak(monkeypatch):
    run = cnn_run()
    share = kernel_low_share(layer_spectra(run.signal))
    below = cnn_weights_takeaway(_with_fit_psnr(run.result, -3.2), share).text
    assert "looks like a fit" not in below and "further from the CNN's than an all-zero output" in below
    at = cnn_weights_takeaway(_with_fit_psnr(run.result, 0.4), share).text
    assert "looks like a fit only because its peak" in at
    monkeypatch.setattr(metrics, "ZERO_OUTPUT_MARGIN_DB", 5.0)  # loosened: 3.2 dB below reads as "≈ 0"
    assert "looks like a fit" in cnn_weights_takeaway(_with_fit_psnr(run.result, -3.2), share).text


@pytest.mark.parametrize("psnr, energy, says", [
    (11.0, 0.01, metrics.ZERO_OUTPUT_HINT),  # WINNER's SIREN: 10.66 dB at a 10.66 dB floor, output ≈ 0
    (9.1, 0.9, metrics.WORSE_HINT),  # the 10.52 vs 11.62 dB lies 1.1 dB below: not "stayed ≈ 0"
    (11.3, 0.6, metrics.NO_BETTER_HINT),  # at the floor, but the output carries 60 % of the target's energy
    (13.0, 0.5, ""),  # learned
])
def test_the_zero_output_note_is_two_sided(psnr, energy, says, monkeypatch):
    note = metrics.zero_output_note({"psnr": psnr, "zero_output_psnr": 10.62, "output_energy_share": energy})
    assert (says in note) if says else note == "", note
    if says == metrics.WORSE_HINT:
        monkeypatch.setattr(metrics, "ZERO_OUTPUT_MARGIN_DB", 2.0)  # loosened: 1.5 dB below reads "≈ 0"-ish
        assert metrics.WORSE_HINT not in metrics.zero_output_note(
            {"psnr": psnr, "zero_output_psnr": 10.62, "output_energy_share": energy})


def test_the_output_energy_share_is_measured_in_float64():
    target = np.array([1.0, -1.0, 0.5, 0.0])
    assert metrics.output_energy_share(np.zeros(4), target) == 0.0
    assert math.isclose(metrics.output_energy_share(target / 2, target), 0.25, rel_tol=1e-12)


# ----------------------------------------------------------------------------------------------
# Lesson 4: one shared learning rate, or no verdict
# ----------------------------------------------------------------------------------------------
def test_spder_beating_siren_at_another_rate_is_not_an_answer():
    # the lesson's own pair (SPDER ahead at one shared rate), with SIREN's row saying it trained at 3× the
    # rate: without the equal-rate guard this read "SPDER wins" (supports 1)
    siren, spder = own_run("damping")[:2]
    assert _takeaway("damping", [siren, spder]).supports == 1
    other_rate = _misstated(siren, 3.0)
    takeaway = _takeaway("damping", [other_rate, spder])
    assert takeaway.supports is None and "does not compare them at one shared rate" in takeaway.text


# ----------------------------------------------------------------------------------------------
# Lesson 5: "steered" only beyond every speed-up twin
# ----------------------------------------------------------------------------------------------
def test_plain_training_at_16x_the_rate_on_seed_2_is_not_read_as_steering(monkeypatch):
    # the run: ReLU + PE at lr × 16 on seed 2, labelled IGA, lowered a band by 7.6 points and raised
    # one by 7.1 (it ended lower: 30.7 vs 32.4 dB). Every speed-up on seeds 0–4 stays ≤ 8.9, IGA ≥ 11.1
    from spectral_lab.lab.lessons import steering

    plain = own_run("steering", seed=2)[0]
    twin = run_views("steering", methods=["relu_pe"], labels=["relu_pe+iga"], seed=2, lr=3.2e-2)[0]
    takeaway = _takeaway("steering", [plain, twin])
    assert takeaway.supports == 2 and "**steered**" not in takeaway.text, takeaway.text
    assert _takeaway("steering", own_run("steering", seed=2)).supports == 0  # IGA itself, same seed
    monkeypatch.setattr(steering, "HELPED", 0.07)  # the old threshold: the speed-up reads "steered"
    assert _takeaway("steering", [plain, twin]).supports == 0
