"""The class's runs recorded from the server's start (spectral_lab.lab.prerecord runs them): each lesson's
own run as the Lessons tab trains it, then each follow-up as its link trains it in the lab, then the CNN
lesson's follow-ups as their links train them in the CNN tab, so a recording's key is exactly the key a
student's click looks up."""
from __future__ import annotations

import logging
import time

from spectral_lab import plots
from spectral_lab.lab import LiveComparison, parse_link, share_tune
from spectral_lab.lab.lessons import LESSONS, Lesson, expand_link
from spectral_lab.lab.estimate import RATES
from spectral_lab.lab.prerecord import CALIBRATION, WARM_UP, Job, Prerecorder, lesson_of, wanted
from spectral_lab.nern import NernRun, layer_spectra
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.ui.lab.runs import keep_recording, planned_run, recording_key
from spectral_lab.ui.lab.settings import _values_from, _within_sliders
from spectral_lab.ui import nern
from spectral_lab.ui.lessons import EVIDENCE, draw_recording
from spectral_lab.ui.widgets import DEVICE, FOLLOWUP_RECORDINGS, LESSON_RUNNER, LIMITS, SLOTS

_STARTED: list[Prerecorder] = []
LOG = logging.getLogger("spectral_lab.app")


def lesson_job(lesson: Lesson) -> Job:
    """The lesson's own run, through the lesson runner the Lessons tab uses (its panels too)."""
    def record(visitor_waits) -> bool:
        key = LESSON_RUNNER.key(lesson, None)
        if LESSON_RUNNER.recordings.has(key) or LESSON_RUNNER.recordings.training(key):
            return True  # recorded, or a student's run is recording it
        runs: list = []
        events = LESSON_RUNNER.run(lesson, None, 0, cancelled=visitor_waits,
                                   on_start=lambda run: runs.append(run) or True,
                                   stream=gpu_stream(), panels=("reconstruction", EVIDENCE[lesson.key][0]))
        for event in events:
            if runs:
                _pause_or_stop(runs[0], visitor_waits)
            if event.kind == "done":
                if event.recording is not None:
                    draw_recording(lesson, event.recording)
                return event.recording is not None or not visitor_waits()
        return False
    return Job(f"{lesson.number}", record)


def followup_job(number: str) -> Job:
    """A lab follow-up, planned from its link as the lab plans it (the controls' values the link sets)."""
    def record(visitor_waits) -> bool:
        live = followup_run(number)
        if live is None:  # a follow-up this server cannot run as written trains per student, with its note
            return True
        key = recording_key(live)
        if not _ours_to_record(key):
            return True
        return _train_and_keep(key, live, f"follow-up {number} (recording it for the class)", visitor_waits)
    return Job(number, record)


def _pause_or_stop(run, visitor_waits) -> None:
    """Between two frames of a background run: wait while a visitor's run trains, stop for one who waits in
    line (Prerecorder.visitor_waits). A pause is not the run's time: its start moves on by it."""
    paused = time.perf_counter()
    if visitor_waits():
        run.stop()
    if hasattr(run, "started"):  # a LiveComparison (its "Finished in … s"); a NernRun's clock skips it itself
        run.started += time.perf_counter() - paused


def _ours_to_record(key) -> bool:
    """True when the background recorder is now the one to train `key`: not recorded yet, and no student's click
    trains it (a student's run is the recording)."""
    if FOLLOWUP_RECORDINGS.has(key):
        return False
    owner, _ = FOLLOWUP_RECORDINGS.claim(key)
    return owner


def followup_run(number: str) -> LiveComparison | None:
    """The run a follow-up's link trains in the lab, planned as the lab plans it (None: this server cannot
    run it as written)."""
    query, _ = expand_link({"followup": number})
    config, methods, dropped = parse_link(query, LIMITS)
    if dropped:
        return None
    config, _ = _within_sliders(config)
    return planned_run(None, [], "each", share_tune(query), *_values_from(config, methods), follow_up=True).live


def _train_and_keep(key, live: LiveComparison, label: str, visitor_waits) -> bool:
    """Train `live` in a slot and store it; True unless a visitor's wait stopped it (then try again)."""
    last, turn = None, SLOTS.enter(label, live.estimate or 10.0)
    try:
        for _ in SLOTS.wait(turn, cancelled=visitor_waits):
            pass
        if turn.started is None:
            return False
        for last in live.frames():
            _pause_or_stop(live, visitor_waits)
    finally:
        SLOTS.leave(turn)
        stored = keep_recording(key, live, last)  # or abandoned: the next student trains it
    if stored:
        LOG.info("recorded %s: %s trained in %.0f s", label.split(" (")[0], ", ".join(live.methods),
                 time.perf_counter() - live.started)
    return stored or live.outcome() != "stopped"  # a run that fails is not tried again


def cnn_followup_jobs() -> list[Job]:
    """The CNN lesson's follow-ups SPECTRAL_LAB_PRERECORD asks for, in their order (6.1, 6.2, 6.3)."""
    return [cnn_followup_job(number) for number in nern.follow_ups() if wanted(number)]


def cnn_followup_job(number: str) -> Job:
    """A CNN follow-up, its predictor configured from its link as the CNN tab configures a student's click
    (nern.followup_config), stored where the tab looks it up."""
    def record(visitor_waits) -> bool:
        config = nern.followup_config(number)
        key = nern.recording_key(config)
        if not _ours_to_record(key):
            return True
        return _train_cnn_and_keep(key, config, f"follow-up {number} (recording it for the class)", visitor_waits)
    return Job(number, record)


def _train_cnn_and_keep(key, config, label: str, visitor_waits) -> bool:
    """Train the predictor in a slot and store it; True unless a visitor's wait stopped it (then try again).
    A predictor that fails raises: the recorder logs it and goes on, and the key is released first (the next
    student trains it, and sees why it fails)."""
    stored, started = False, time.perf_counter()
    try:
        run = NernRun(config)
        turn = SLOTS.enter(label, 30.0)
        try:
            for _ in SLOTS.wait(turn, cancelled=visitor_waits):
                pass
            if turn.started is None:
                return False
            spectra = plots.render(plots.kernel_spectra_figure(layer_spectra(run.signal)))
            for _ in run.snapshots():
                _pause_or_stop(run, visitor_waits)  # stopped: its last snapshot comes next, and it is not stored
        finally:
            SLOTS.leave(turn)
        stored = nern.keep_recording(key, run, spectra)
    finally:
        if not stored:
            FOLLOWUP_RECORDINGS.abandon(key)
    if stored:
        LOG.info("recorded %s: CNN predictor %s, %d steps, trained in %.0f s", label.split(" (")[0],
                 nern.predictor_label(config), config.steps, time.perf_counter() - started)
    return stored


def calibration_job() -> Job:
    """This machine's speed per method (estimate.py), measured in a slot of its own, last: a class arriving at
    start finds the lessons and follow-ups recorded first (and those runs refine the estimates meanwhile)."""
    def record(visitor_waits) -> bool:
        turn = SLOTS.enter("measuring this server's speed", 20.0)
        try:
            for _ in SLOTS.wait(turn):
                pass
            RATES.calibrate(DEVICE)
        finally:
            SLOTS.leave(turn)
        return True
    return Job(CALIBRATION, record)


def lesson_jobs(warm_up=None) -> list[Job]:
    """The lessons first (1–7: a class starts there), `warm_up` (a compile the first visitor should not wait
    for) after lesson 1."""
    jobs = [lesson_job(lesson) for lesson in LESSONS.values() if wanted(f"{lesson.number}")]
    if warm_up is not None:
        jobs.insert(1 if jobs and jobs[0].name == "1" else 0, Job(WARM_UP, lambda _: warm_up() or True))
    return jobs


def later_jobs(calibrate: bool = False) -> list[Job]:
    """Then the follow-ups (followup_order), the CNN lesson's after them, then the speed calibration (until it
    runs, the estimates are the built-in guess refined by every finished run, these included)."""
    follow_ups = followup_order(wanted_follow_ups(), _estimated_seconds)
    return ([followup_job(number) for number in follow_ups] + cnn_followup_jobs()
            + ([calibration_job()] if calibrate else []))


def followup_order(numbers: list[str], seconds) -> list[str]:
    """Each lesson's slowest follow-up first, in lesson order, then the rest, the slowest first. The slowest is
    the longest a student who opens it unrecorded would wait, and a class meets lesson 1's follow-ups before
    lesson 4's: the slowest first overall recorded 5.2 (44 s) before 4.3 and 1.1 and left a student opening 4.3
    at 120 s to train it; lesson by lesson, 1.1 is ready at 80-100 s and 4.3 at 130-160 s (2 cores).
    `seconds(number)`: the follow-up's estimate (asked once each)."""
    estimate = {number: seconds(number) for number in numbers}
    by_lesson: dict[str, list[str]] = {}
    for number in numbers:
        by_lesson.setdefault(lesson_of(number), []).append(number)
    firsts = [max(group, key=estimate.get) for group in by_lesson.values()]
    return firsts + sorted((number for number in numbers if number not in firsts), key=estimate.get, reverse=True)


def wanted_follow_ups() -> list[str]:
    """The lab follow-ups SPECTRAL_LAB_PRERECORD asks for ("1.1", …)."""
    return [f"{lesson.number}.{index + 1}" for lesson in LESSONS.values() if lesson.kind != "nern"
            for index in range(len(lesson.followups)) if wanted(f"{lesson.number}.{index + 1}")]


def _estimated_seconds(number: str) -> float:
    live = followup_run(number)
    return (live.estimate or 0.0) if live is not None else 0.0


def start_prerecording(calibrate: bool = False, started: float | None = None, warm_up=None) -> Prerecorder | None:
    """Start recording the class's runs in the background (once per server; SPECTRAL_LAB_PRERECORD): the
    lessons, then the follow-ups, then (`calibrate`) the speed calibration."""
    if _STARTED:
        return _STARTED[0]
    if (not calibrate and not wanted_follow_ups() and not cnn_followup_jobs()
            and not any(wanted(f"{n}") for n in range(1, len(LESSONS) + 1))):
        return None
    jobs, later = lesson_jobs(warm_up), (lambda: later_jobs(calibrate))
    _STARTED.append(Prerecorder(SLOTS, jobs, started=started, later=later))
    _STARTED[0].start()
    return _STARTED[0]


def prerecording() -> Prerecorder | None:
    return _STARTED[0] if _STARTED else None


__all__ = ["calibration_job", "cnn_followup_job", "cnn_followup_jobs", "followup_job", "followup_order", "followup_run",
           "later_jobs", "lesson_job", "lesson_jobs", "prerecording", "start_prerecording", "wanted_follow_ups"]
