"""Runs that fit the room and lessons at classroom scale: a time estimate before every run and a
plan that shrinks what would not fit, training slots with a line that says each visitor's place,
and a lesson's own run recorded once per server and served to every student."""
import threading
import time

import numpy as np
import pytest

from spectral_lab import RunConfig
from spectral_lab.lab import AppLimits
from spectral_lab.lab.estimate import OverBudget, RateBook, duration, estimate_seconds, plan_lab_run, plan_run
from spectral_lab.lab.lesson_runs import LessonRunner
from spectral_lab.lab.lessons import LESSONS
from spectral_lab.lab.recordings import Recording, Recordings, size_of
from spectral_lab.lab.slots import TrainingSlots
from spectral_lab.signals import signal_for


def slow_machine() -> RateBook:
    """A rate book of a slow server: SIREN-size steps on 512² take seconds."""
    rates = RateBook()
    for method in ("relu", "siren"):
        rates.observe(method, "cpu", 4096, 33_000, 1.0 / (2e-3 + 4096 * 33_000 * 1e-9))
    return rates


def test_a_run_over_the_budget_shrinks_its_image_and_says_so_in_one_line():
    config = RunConfig(signal="camera", steps=500)
    signal = signal_for(config)
    plan = plan_run(config, ["relu", "siren"], signal, budget=60, rates=slow_machine())
    assert plan.signal.grid[0] < 512 and plan.seconds <= 60 and plan.config.image_size == plan.signal.grid[0]
    side = plan.signal.grid[0]
    assert plan.note.startswith(f"camera at {side}² instead of 512²: ~") and plan.note.endswith(
        "here (this server allows 60 s a run)")
    with pytest.raises(OverBudget, match="^Not started: .* even at 256² and 500 steps, .*lower the image size"):
        plan_run(config.replace(image_size=256), ["relu", "siren"], signal_for(config.replace(image_size=256)),
                 budget=60, rates=slow_machine(), pinned={"image_size", "steps"})  # refused, never started as is


def test_a_small_run_is_left_alone_and_steps_shrink_only_when_sizes_cannot():
    config = RunConfig(signal="sines", length=2048, steps=200, width=32)
    # a fresh rate book (the built-in rates): the server's RATES learn from whatever ran before in this
    # process, so on a busy machine they would make this small run look big
    plan = plan_run(config, ["siren"], signal_for(config), budget=60, rates=RateBook())
    assert plan.config == config and plan.note == ""
    many = plan_run(config.replace(steps=5000), ["siren"], signal_for(config), budget=2, rates=slow_machine(),
                    pinned={"length"})
    assert many.config.steps < 5000 and "steps instead of 5000" in many.note


def test_an_upload_too_big_for_the_server_shrinks_to_its_cap(tmp_path):
    from skimage import data, io

    path = tmp_path / "photo.png"
    io.imsave(path, data.astronaut())  # 512² RGB: 786,432 values over the CPU cap of 300,000
    plan = plan_lab_run(RunConfig(steps=50, width=16), ["relu"], str(path), AppLimits())
    assert plan.signal.values.size <= AppLimits().max_points and "instead of 512²" in plan.note


def test_estimates_grow_with_points_and_tuning():
    config = RunConfig(signal="sines", length=1024, steps=100)
    small = estimate_seconds(config, ["siren"], signal_for(config))
    large = estimate_seconds(config.replace(length=16384), ["siren"], signal_for(config.replace(length=16384)))
    assert large > small and estimate_seconds(config, ["siren"], signal_for(config), tune=True) > 2 * small
    assert duration(20) == "20 s" and duration(1800) == "30 min" and duration(7200) == "2.0 h"


def test_slots_let_two_train_and_tell_the_third_its_place_and_wait():
    slots = TrainingSlots(2)
    first, second = slots.enter("relu", 30), slots.enter("siren", 60)
    third = slots.enter("spder", 20)
    assert first.started and second.started and third.started is None
    assert slots.position(third) == 1 and slots.expected_wait(third) == pytest.approx(30, abs=2)
    words = slots.words(third)
    assert "1st in line" in words and "30 s" in words and "relu, siren" in words
    waiting = slots.wait(third, every=0.05)
    assert "1st in line" in next(waiting)
    slots.leave(first)
    assert list(waiting) == [] and third.started is not None  # its turn came: the wait ends
    cancelled = slots.enter("wire", 10)
    assert list(slots.wait(cancelled, cancelled=lambda: True)) == [] and slots.position(cancelled) == 0
    assert cancelled.started is None  # it left the line without a slot


def test_recordings_keep_within_their_byte_budget_least_recent_out():
    recordings = Recordings(budget_bytes=3_000)
    for key in "abc":
        owner, _ = recordings.claim(key)
        assert owner
        recordings.store(key, Recording(np.zeros(250)))  # 2,000 bytes each
    assert recordings.lookup("a") is None and recordings.lookup("c") is not None and recordings.evicted == 2
    assert size_of({"x": [np.zeros(4), (np.zeros(2, np.float16),)]}) == 36


SHORT = {"steps": 40}  # the lessons' own settings but their steps: the serving is what is tested


@pytest.fixture(scope="module")
def runner():
    return LessonRunner(Recordings(), TrainingSlots(2), "cpu", AppLimits(), changes=SHORT)


def _events(runner, lesson, prediction, seed=None):
    return list(runner.run(lesson, seed, prediction, panels=("reconstruction", "ntk")))


def test_a_lesson_run_trains_once_then_is_served_with_each_students_own_takeaway(runner, monkeypatch):
    import spectral_lab.lab.lessons as lessons

    built = []
    original = lessons.lesson_comparison
    monkeypatch.setattr(lessons, "lesson_comparison", lambda *a, **k: built.append(1) or original(*a, **k))
    lesson = LESSONS["ntk"]
    first = _events(runner, lesson, prediction=0)
    assert [e.kind for e in first][-1] == "done" and not first[-1].served and first[-1].text
    started = time.perf_counter()
    results, threads = {}, []
    for student in range(12):  # a class pressing Run together
        thread = threading.Thread(target=lambda s=student: results.__setitem__(s, _events(runner, lesson, s % 3)))
        threads.append(thread)
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - started < 30  # served, not trained twelve times (no timing claim beyond that)
    assert len(built) == 1  # trained once for the whole class
    for student, events in results.items():
        assert events[-1].served and events[-1].recording is first[-1].recording
        said = lessons.lesson_takeaway(lesson, first[-1].run.views, prediction=student % 3).text
        assert events[-1].text == said  # the takeaway for this student's own prediction
    other_seed = _events(runner, lesson, prediction=0, seed=5)
    assert not other_seed[-1].served and len(built) == 2  # a teacher's seed: its own run


def test_students_who_press_run_while_it_trains_wait_for_that_run(monkeypatch):
    runner = LessonRunner(Recordings(), TrainingSlots(1), "cpu", AppLimits(), changes=SHORT)
    lesson = LESSONS["bottleneck"]
    key = runner.key(lesson, None)
    owner, _ = runner.recordings.claim(key)  # someone else is training it now
    assert owner
    events = runner.run(lesson, None, 0)
    assert "Another student's run" in next(events).text
    runner.recordings.abandon(key)  # that run was stopped: this student trains it
    rest = list(events)
    assert rest[-1].kind == "done" and not rest[-1].served


def test_advice_on_a_run_s_length_goes_away_when_it_ends_and_a_shrink_stays_said():
    from spectral_lab.lab import LiveComparison

    config = RunConfig(signal="sines", length=256, width=8, depth=1, steps=5)
    for note, kept in (("about 64 s here (over this server's 60 s for one run): lower the size", False),
                       ("camera at 64² instead of 512²: ~49 s instead of ~48 min here", True)):
        live = LiveComparison(config, ["relu"], signal_for(config), note=note)
        statuses = [frame.status for frame in live.frames()]
        assert note in statuses[0] and (note in statuses[-1]) == kept, statuses[-1]
