"""Guided lessons (issue 17, item 1): each lesson, run at its own settings as the app runs it,
supports the answer its question expects, in a takeaway that quotes the run's numbers; a broken
run (frozen weights, or no smoothing) makes the same check fail."""
import re
from urllib.parse import parse_qsl

import pytest

from spectral_lab.lab import parse_link, parse_share_query
from spectral_lab.lab.lessons import (LESSONS, cnn_lesson_run, find_lesson, kernel_low_share, lesson_comparison,
                                      lesson_settings, lesson_takeaway)
from spectral_lab.nern import layer_spectra

LINK_KNOBS = ("setting", "smoothing", "encoding", "hidden", "sigma", "rule", "steps", "feature_weight", "kd_weight",
              "seed")  # spectral_lab.ui.nern.LINK_KNOBS (the UI is not imported here)

SIGNAL_LESSONS = [key for key, lesson in LESSONS.items() if lesson.kind == "signals"]
NUMBER = re.compile(r"\d+(\.\d+)? (dB|%)")


def _run(lesson, **changes):
    live = lesson_comparison(lesson, changes=changes)
    for _ in live.frames():
        pass
    return live.views


def test_six_lessons_with_a_question_settings_and_follow_ups():
    assert [lesson.number for lesson in LESSONS.values()] == [1, 2, 3, 4, 5, 6]
    for lesson in LESSONS.values():
        assert len(lesson.choices) == 3 and 0 <= lesson.expected < 3 and lesson.question.endswith("?")
        assert find_lesson(lesson.key) is lesson and find_lesson(str(lesson.number)) is lesson
        assert 2 <= len(lesson.followups) <= 3
        for followup in lesson.followups:  # every follow-up is a link the app opens without a dropped value
            if lesson.kind == "nern":  # the CNN tab's settings
                assert dict(parse_qsl(followup.query)).keys() <= {"tab", *LINK_KNOBS}, followup.query
                continue
            _, methods, dropped = parse_link(followup.query)
            assert methods and not dropped, (lesson.key, followup.label, dropped)
        if lesson.kind == "signals":
            config, methods, _ = lesson_settings(lesson, seed=7)
            assert config.seed == 7 and (config, methods) != parse_share_query(lesson.query)
    assert find_lesson("nope") is None and find_lesson("9") is None


@pytest.mark.parametrize("key", SIGNAL_LESSONS)
def test_each_lesson_run_supports_its_expected_answer_in_numbers(key):
    lesson = LESSONS[key]
    views = _run(lesson)
    takeaway = lesson_takeaway(lesson, views, prediction=lesson.expected)
    assert takeaway.supports == lesson.expected, takeaway.text
    assert "the run agrees" in takeaway.text and len(NUMBER.findall(takeaway.text)) >= 2, takeaway.text
    wrong = lesson_takeaway(lesson, views, prediction=(lesson.expected + 1) % 3)
    assert f"the run shows “{lesson.choices[lesson.expected]}”" in wrong.text


@pytest.mark.parametrize("key", SIGNAL_LESSONS)
def test_a_frozen_network_does_not_support_the_lesson(key):
    # 12 steps at lr 1e-8: nothing moves, so no lesson may read its point into the run
    lesson = LESSONS[key]
    frozen = lesson_takeaway(lesson, _run(lesson, steps=12, lr=1e-8, lr_schedule="constant"),
                             prediction=lesson.expected)
    assert frozen.supports != lesson.expected, frozen.text
    assert "the run agrees" not in frozen.text


def test_the_cnn_lesson_reads_the_smoothing_from_the_spectra_and_reports_the_rebuilt_cnn():
    lesson = LESSONS["cnn-weights"]
    run = cnn_lesson_run(steps=30)
    for _ in run.snapshots():
        pass
    takeaway = lesson_takeaway(lesson, run.result, kernel_low_share(layer_spectra(run.signal)), prediction=2)
    assert takeaway.supports == 0 and "the run shows “moves its energy to low frequencies”" in takeaway.text
    assert "4.6 %" in takeaway.text and len(NUMBER.findall(takeaway.text)) >= 4
    # without smoothing both orders are the same: the lesson's point is not in the run
    plain = cnn_lesson_run(steps=1, smoothing="none")
    unsmoothed = lesson_takeaway(lesson, run.result, kernel_low_share(layer_spectra(plain.signal)))
    assert unsmoothed.supports == 2
