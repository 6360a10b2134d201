"""Guided lessons (issue 17 item 1; the issues on takeaways and trust): each lesson, run at its own
settings as the app runs it, supports the answer its question expects, in a takeaway that quotes
the run's numbers; every symbol it uses is defined in the lesson, methods go by display names, and
follow-ups train a baseline beside the change. A frozen run makes the same check fail; the
counterfactuals a sceptical student would try are in test_lesson_counterfactuals.py, which shares
the runs cached here."""
import contextlib
import functools
import re
from urllib.parse import parse_qsl

import pytest
import torch

from spectral_lab.lab import parse_link, parse_share_query
from spectral_lab.lab.lessons import (LESSONS, SYMBOLS, cnn_lesson_run, find_lesson, kernel_low_share,
                                      lesson_comparison, lesson_settings, lesson_takeaway)
from spectral_lab.nern import layer_spectra

LINK_KNOBS = ("setting", "smoothing", "encoding", "hidden", "sigma", "rule", "steps", "feature_weight", "kd_weight",
              "seed")  # spectral_lab.ui.nern.LINK_KNOBS (the UI is not imported here)

SIGNAL_LESSONS = [key for key, lesson in LESSONS.items() if lesson.kind == "signals"]
NUMBER = re.compile(r"\d+(\.\d+)? (dB|%)")


@contextlib.contextmanager
def one_thread():
    """Train on one torch thread, as the app under the browser tests does: on a 2-core machine shared
    with other jobs, two threads spinning against them made a lesson run 13× slower (measured: 145 s
    instead of 11 s); restored afterwards, so other tests keep conftest's setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_views(key: str, methods=None, labels=None, seed=None, **changes):
    """Train a lesson's comparison (its settings with `changes`, other `methods`) to the end, as
    the app does; `labels` renames the views (a counterfactual fed to the takeaway as the lesson's
    method)."""
    live = lesson_comparison(LESSONS[key], seed=seed, changes=changes, methods=methods)
    with one_thread():
        for _ in live.frames():
            pass
    for view, label in zip(live.views, labels or ()):
        view.method = label or view.method
    return live.views


@functools.cache
def own_run(key: str, seed: int | None = None):
    """The lesson's own run (cached: shared by every test that reads it). Do not mutate the views."""
    return run_views(key, seed=seed)


@functools.cache
def cnn_run(seed: int = 0):
    run = cnn_lesson_run(seed)
    with one_thread():
        for _ in run.snapshots():
            pass
    return run


def cnn_takeaway(run, prediction=None):
    return lesson_takeaway(LESSONS["cnn-weights"], run.result, kernel_low_share(layer_spectra(run.signal)),
                           prediction=prediction)


def test_seven_lessons_with_a_question_settings_and_follow_ups_that_compare():
    assert [lesson.number for lesson in LESSONS.values()] == [1, 2, 3, 4, 5, 6, 7]
    for lesson in LESSONS.values():
        assert len(lesson.choices) == 3 and 0 <= lesson.expected < 3 and lesson.question.endswith("?")
        assert find_lesson(lesson.key) is lesson and find_lesson(str(lesson.number)) is lesson
        assert 2 <= len(lesson.followups) <= 3
        for followup in lesson.followups:  # every follow-up is a link the app opens without a dropped value
            if lesson.kind == "nern":  # the CNN tab trains one predictor: the comparison is with the lesson's run
                assert dict(parse_qsl(followup.query)).keys() <= {"tab", *LINK_KNOBS}, followup.query
                continue
            _, methods, dropped = parse_link(followup.query)
            assert methods and not dropped, (lesson.key, followup.label, dropped)
            assert len(methods) >= 2, f"{followup.label}: no baseline trains beside the change"
        if lesson.kind == "signals":
            config, methods, _ = lesson_settings(lesson, seed=7)
            assert config.seed == 7 and (config, methods) != parse_share_query(lesson.query)
    assert find_lesson("nope") is None and find_lesson("9") is None
    # the CNN lesson's first follow-up is its own-order twin: the same width and steps, the CNN's order
    own_order = dict(parse_qsl(LESSONS["cnn-weights"].followups[0].query))
    assert own_order["setting"] == "sbs_plain" and int(own_order["hidden"]) == 24 and int(own_order["steps"]) == 300


# the symbols a lesson may use, as they appear in its words and takeaway, and the definition each needs
SYMBOL_USES = {"PSNR": ("PSNR", "kernel PSNR"), "MSE": ("MSE", "PSNR"), "Δ": "Δ", "λ": "λ", "η": "GD",
               "S(k)": "S(k)", "eNTK": "eNTK", "ω₀": "ω₀", "s₀": "s₀ s₁", "s₁": "s₀ s₁", "cycles": "cycles",
               "all-zero output": "zero-output",
               "CR": "CR", "kernel PSNR": "kernel PSNR", "relative error": "relative error", "IGA": "IGA",
               "equal PSNR": "matched PSNR", "low bands": "band thirds", "distillation": "distillation",
               "FR": "FR BN", "BN": "FR BN"}
METHOD_IDS = re.compile(r"`|\b(relu(_pe|_rff)?|siren2?|spder|finer|mfn_\w+)\b|\+iga|\+fr|\+bn")


def _own_takeaway_texts():
    texts = {key: lesson_takeaway(LESSONS[key], own_run(key)).text for key in SIGNAL_LESSONS}
    texts["cnn-weights"] = cnn_takeaway(cnn_run()).text
    return texts


def test_every_symbol_a_lesson_uses_is_defined_in_the_lesson_and_methods_go_by_display_names():
    for key, takeaway in _own_takeaway_texts().items():
        lesson = LESSONS[key]
        words = lesson.text + " " + lesson.question + " " + " ".join(lesson.choices) + " " + takeaway
        for use, symbol in SYMBOL_USES.items():
            if use in words.replace("**", "").replace("the IGA paper", "a paper"):
                defined = [s for s in ((symbol,) if isinstance(symbol, str) else symbol) if s in lesson.symbols]
                assert defined and SYMBOLS[defined[0]] in lesson.text, (key, use)
        assert "Eq." not in words, (key, "an equation is named in words: equation N of the X paper")
        assert not METHOD_IDS.search(words.replace("SIREN", "").replace("SPDER", "")), \
            (key, METHOD_IDS.search(words.replace("SIREN", "").replace("SPDER", "")))


@pytest.mark.parametrize("key", SIGNAL_LESSONS)
def test_each_lesson_run_supports_its_expected_answer_in_numbers(key):
    lesson = LESSONS[key]
    views = own_run(key)
    takeaway = lesson_takeaway(lesson, views, prediction=lesson.expected)
    assert takeaway.supports == lesson.expected, takeaway.text
    assert "the run agrees" in takeaway.text and len(NUMBER.findall(takeaway.text)) >= 2, takeaway.text
    wrong = lesson_takeaway(lesson, views, prediction=(lesson.expected + 1) % 3)
    assert f"the run shows “{lesson.choices[lesson.expected]}”" in wrong.text


@pytest.mark.parametrize("key", SIGNAL_LESSONS)
def test_a_frozen_network_does_not_support_the_lesson(key):
    # 12 steps at lr 1e-8: nothing moves, so no lesson may read its point into the run
    lesson = LESSONS[key]
    frozen = lesson_takeaway(lesson, run_views(key, steps=12, lr=1e-8, lr_schedule="constant"),
                             prediction=lesson.expected)
    assert frozen.supports != lesson.expected, frozen.text
    assert "the run agrees" not in frozen.text


def test_lesson_runs_stay_short():
    """Each lesson's run is sized to take seconds: its estimate at the built-in rates (a fresh RateBook, not
    this machine's speed, so a busy machine cannot fail it) stays under 30 s. Wall-clock seconds per lesson
    are measured by bench/bench_class.py, not asserted here."""
    from spectral_lab.lab.estimate import RateBook, estimate_seconds
    from spectral_lab.signals import signal_for

    for key in SIGNAL_LESSONS:
        config, methods, tune = lesson_settings(LESSONS[key])
        seconds = estimate_seconds(config, methods, signal_for(config), "cpu", tune, rates=RateBook())
        assert 1 < seconds < 30, (key, seconds)
    assert cnn_lesson_run().config.steps <= 300  # the CNN lesson: two predictors of 300 steps (~10 s)


def test_the_cnn_lesson_reads_the_smoothing_from_the_spectra_and_states_what_the_predictor_learned():
    run = cnn_run()
    takeaway = cnn_takeaway(run, prediction=2)
    assert takeaway.supports == 0 and "the run shows “moves its energy to low frequencies”" in takeaway.text
    result = run.result
    assert "4.6 %" in takeaway.text and len(NUMBER.findall(takeaway.text)) >= 8
    # both the kernel error and the accuracy, with the all-zero PSNR they are read against
    fit = result.fit
    assert f"kernel PSNR {fit.psnr:.1f} dB" in takeaway.text and f"scores {fit.zero_psnr:.1f} dB" in takeaway.text
    assert f"scores {100 * fit.accuracy:.1f} %" in takeaway.text
    # at 4.6 % of the CNN the predictor stays within 1 dB of an all-zero output (measured: +0.1 dB, relative
    # error ≥ 96 % in every layer): the takeaway says it learned almost nothing, and claims no easier learning
    assert fit.psnr - fit.zero_psnr < 1 and min(fit.layer_errors) > 0.9
    assert "learned almost nothing" in takeaway.text and "more easily" not in takeaway.text


def test_lesson_3_says_what_its_k_counts():
    """Its kernel sits on a window of 256 consecutive samples: Nyquist there is 128 cycles per window, which
    beside "4,096 samples" read as a mistake when the unit was not said."""
    text = lesson_takeaway(LESSONS["bottleneck"], own_run("bottleneck")).text
    assert "cycles per window of 256 consecutive samples, where Nyquist is 128" in text, text


def _followup_views(number: str):
    """A follow-up's run as the lab trains it (its link's settings at the app's cadences)."""
    from spectral_lab.lab import AppLimits, LiveComparison, load_ui_signal, parse_link, with_app_cadence
    from spectral_lab.lab.lessons import expand_link

    config, methods, dropped = parse_link(expand_link({"followup": number})[0], AppLimits())
    assert dropped == []
    live = LiveComparison(with_app_cadence(config, "cpu"), methods, load_ui_signal(config, None, AppLimits()))
    with one_thread():
        for _ in live.frames():
            pass
    return live.views


def test_lesson_1_s_follow_ups_on_1d_and_without_fine_detail_read_as_the_lesson_says():
    """1.2's tones sit in three of the 1D bands (the default sines left too few bands to read: "too few
    bands"); 1.3's FourierNet at filter scale 20 cannot make the high bands and is read so, beside ReLU +
    PE, whose order is the lesson's."""
    tones = lesson_takeaway(LESSONS["spectral-bias"], _followup_views("1.2"))
    assert tones.supports == 1 and "too few bands" not in tones.text, tones.text
    no_detail = lesson_takeaway(LESSONS["spectral-bias"], _followup_views("1.3"))
    assert "FourierNet" in no_detail.text and "cannot tell *learned late*" in no_detail.text, no_detail.text
