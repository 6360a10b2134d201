"""Estimates a class can rely on (issue 35, part 5): a calibration that agrees with itself from one
start to the next, finished runs that outweigh it, and a run over the server's budget shrunk as far
as its size, length and steps allow or refused in one line: never started as is. No test here times
this machine: the timings are fed in, the slow server is a cost multiplier."""
import math

import pytest

from spectral_lab import RunConfig
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import AppLimits, calibration, parse_link
from spectral_lab.lab.estimate import (CALIBRATION_WEIGHT, DEFAULT_COST, DEFAULT_OVERHEAD, DIAGNOSTICS_SHARE,
                                       RATE_SCALE_ENV, OverBudget, RateBook, plan_lab_run, plan_run, spread)
from spectral_lab.lab.uploads import load_ui_signal

TEACHER_LINK = "signal=camera&methods=relu,siren&hide=controls,presets"  # the README's
GUESS = DEFAULT_COST["cpu"]


def lab_plan(query: str, rates: RateBook, pinned=frozenset()):
    """The lab's plan for a link's settings (the Train button's path, estimate.plan_lab_run's), with `rates`."""
    config, methods, dropped = parse_link(query, AppLimits())
    assert not dropped

    def load(settings):
        return load_ui_signal(settings, None, AppLimits(), check_size=False)

    return plan_run(config, methods, load(config), "cpu", pinned=pinned, budget=60, rates=rates, load=load,
                    max_values=AppLimits().max_points)


@pytest.mark.parametrize("scale", [17, 1000, 1e6])
def test_a_slow_calibration_shrinks_or_refuses_the_teacher_link_and_never_plans_over_budget(monkeypatch, scale):
    monkeypatch.setenv(RATE_SCALE_ENV, str(scale))  # every cost × scale: 17 is the 13.8 h start
    try:
        plan = lab_plan(TEACHER_LINK, RateBook())
    except OverBudget as refusal:
        assert scale > 17 and "\n" not in str(refusal) and str(refusal).startswith("Not started: relu, siren on camera")
        assert "train fewer methods at once" in str(refusal) and "image size" not in str(refusal)  # it shrank that
        return
    assert scale == 17 and plan.seconds <= 60  # 512² × 500 steps would be ~13.7 h here
    assert plan.signal.grid[0] < 512 and plan.config.steps < 500 and "instead of 512² and 500" in plan.note
    assert plan.note.endswith("(this server allows 60 s a run)")


def test_the_teacher_link_through_the_lab_never_starts_over_budget(monkeypatch):
    """plan_lab_run (the server's RATES, whatever ran before in this process) × a slow calibration."""
    monkeypatch.setenv(RATE_SCALE_ENV, "1000")
    monkeypatch.setenv("SPECTRAL_LAB_RUN_BUDGET_S", "60")
    config, methods, _ = parse_link(TEACHER_LINK, AppLimits())
    try:
        plan = plan_lab_run(config, methods, None, AppLimits())
    except OverBudget:
        return
    assert plan.seconds <= 60


def test_a_size_the_user_pinned_over_budget_is_refused_in_one_line_naming_it(monkeypatch):
    monkeypatch.setenv(RATE_SCALE_ENV, "17")
    with pytest.raises(OverBudget) as refused:
        lab_plan("signal=camera&image_size=512&methods=relu,siren", RateBook(), pinned={"image_size"})
    words = str(refused.value)
    assert "\n" not in words and "even at 512² and 50 steps" in words and "lower the image size" in words
    # the steps went as low as they go first: a pinned size that fits at fewer steps trains
    plan = lab_plan("signal=camera&image_size=64&methods=relu&steps=2000", RateBook(), pinned={"image_size"})
    assert plan.signal.grid[0] == 64 and plan.config.steps < 2000 and plan.seconds <= 60
    assert "64² and" not in plan.note and "steps instead of 2000" in plan.note


def test_a_bad_rate_scale_is_one_clear_line(monkeypatch):
    monkeypatch.setenv(RATE_SCALE_ENV, "fast")
    with pytest.raises(SpectralLabError, match="SPECTRAL_LAB_RATE_SCALE='fast' is not a number"):
        RateBook().cost("siren", "cpu")
    monkeypatch.setenv(RATE_SCALE_ENV, "-3")
    with pytest.raises(SpectralLabError, match="positive"):
        RateBook().cost("siren", "cpu")


def fake_clock(per_repeat: list[float]):
    """A clock whose successive (start, end) readings are `per_repeat` seconds apart."""
    readings, now = [], 0.0
    for seconds in per_repeat:
        readings += [now, now + seconds]
        now += seconds + 1.0
    return iter(readings).__next__


def test_a_probe_is_the_median_of_its_repeats_after_a_discarded_warm_up():
    steps = []
    k = calibration.STEPS_PER_REPEAT
    # the warm-up step is not timed at all; one slow repeat among three does not move the median
    seconds = calibration.probe_seconds(lambda: steps.append(1), fake_clock([0.030, 0.033, 0.045]))
    assert seconds == pytest.approx(0.033 / k)
    assert len(steps) == 1 + calibration.REPEATS * k


def test_a_busy_probe_is_timed_again_and_the_quietest_try_kept():
    # first try: repeats 30× apart (something else ran); second try agrees
    clock = fake_clock([0.03, 0.9, 0.031, 0.060, 0.061, 0.062])
    assert calibration.probe_seconds(lambda: None, clock) == pytest.approx(0.061 / calibration.STEPS_PER_REPEAT)
    # never quiet: the try whose repeats agree best, after RETRIES more
    tries = [[0.01, 0.5, 0.02], [0.01, 0.03, 0.02], [0.01, 0.9, 0.02]]
    clock = fake_clock([s for t in tries for s in t])
    assert calibration.probe_seconds(lambda: None, clock) == pytest.approx(0.02 / calibration.STEPS_PER_REPEAT)


def test_probes_pool_their_work_and_a_reading_far_from_the_guess_is_guarded():
    overhead = DEFAULT_OVERHEAD["cpu"]
    # 1e8 point-parameters at 0.032 s a step and 1e7 at 0.005: (0.030 + 0.003) / 1.1e8
    assert calibration.pooled_cost([(10**8, 0.032), (10**7, 0.005)], overhead) == pytest.approx(0.033 / 1.1e8)
    assert calibration.pooled_cost([(10**6, 0.001)], overhead) == pytest.approx(0.0002 / 1e6)  # ≥ 1/5 of a step
    assert calibration.guarded(3 * GUESS, GUESS) == (3 * GUESS, "")
    kept, note = calibration.guarded(500 * GUESS, GUESS)
    assert kept == pytest.approx(calibration.GUARD * GUESS) and "500× the built-in guess" in note
    assert calibration.guarded(GUESS / 1000, GUESS)[0] == pytest.approx(GUESS / calibration.GUARD)


def test_calibrate_keeps_each_method_s_guarded_cost_and_skips_one_that_cannot_run(monkeypatch):
    monkeypatch.setattr(calibration, "wait_for_quiet", lambda: 0.0)
    readings = {"relu": 0.5 * GUESS, "siren": 1000 * GUESS}

    def measure(method, device, overhead):
        if method not in readings:
            raise RuntimeError("not on this machine")
        return readings[method]

    rates = RateBook()
    rates.calibrate("cpu", ["relu", "siren", "wire"], measure)
    assert rates.calibrated and rates.cost("relu", "cpu") == pytest.approx(0.5 * GUESS)
    assert rates.cost("siren", "cpu") == pytest.approx(calibration.GUARD * GUESS)  # absurd: guarded
    assert rates.cost("wire", "cpu") == GUESS  # the built-in guess


def steps_per_s_at(cost: float, points: int, parameters: int) -> float:
    """The app's steps/s (its diagnostics included) of a run whose bare cost is `cost`."""
    return 1.0 / ((DEFAULT_OVERHEAD["cpu"] + cost * points * parameters) * (1 + DIAGNOSTICS_SHARE))


def test_a_finished_run_outweighs_the_calibration_and_the_newest_run_always_counts(monkeypatch):
    monkeypatch.setattr(calibration, "wait_for_quiet", lambda: 0.0)
    rates = RateBook()
    rates.calibrate("cpu", ["siren"], lambda *_: 4 * GUESS)  # a start-up read on a busy machine
    points, parameters = 4096, 33_537
    rates.observe("siren", "cpu", points, parameters, steps_per_s_at(GUESS, points, parameters))
    # in log space, 1 / (1 + CALIBRATION_WEIGHT) of the way from 4× to the run's 1×
    expected = math.exp(math.log(4) * CALIBRATION_WEIGHT / (1 + CALIBRATION_WEIGHT))
    assert rates.cost("siren", "cpu") / GUESS == pytest.approx(expected, rel=1e-6)
    for _ in range(50):  # many runs at 1×, then the machine slows down: the next run still moves it
        rates.observe("siren", "cpu", points, parameters, steps_per_s_at(GUESS, points, parameters))
    before = rates.cost("siren", "cpu")
    rates.observe("siren+iga", "cpu", points, parameters, steps_per_s_at(2 * GUESS, points, parameters))
    assert rates.cost("siren", "cpu") / before == pytest.approx(2 ** 0.2, rel=1e-3)  # 1/(1 + MAX_WEIGHT) of ×2
    rates.observe("siren", "cpu", points, parameters, 0.0)  # no rate: nothing learnt
    rates.observe("siren", "cpu", points, parameters, float("nan"))
    assert rates.cost("siren", "cpu") / before == pytest.approx(2 ** 0.2, rel=1e-3)


def test_the_calibration_waits_for_its_process_to_go_quiet():
    used = iter([0.0, 0.4, 0.4, 0.42])  # the page build uses 80 % of a core, then 4 %
    assert calibration.wait_for_quiet(lambda: next(used), lambda s: None, window=0.5) == 1.0
    always_busy = iter(range(0, 1000))
    assert calibration.wait_for_quiet(lambda: next(always_busy), lambda s: None, window=0.5, most=3) == 3.0


def test_start_to_start_agreement_is_max_over_min():
    assert spread([1800, 1500, 2100]) == pytest.approx(1.4)
    assert spread([30.0]) == 1.0
    with pytest.raises(ValueError):
        spread([])
    with pytest.raises(ValueError):
        spread([10, 0])


def test_a_small_run_is_planned_as_asked():
    config = RunConfig(signal="sines", length=2048, steps=200, width=32)
    plan = lab_plan("signal=sines&length=2048&steps=200&width=32&methods=siren", RateBook())
    assert plan.config == config and plan.note == ""
