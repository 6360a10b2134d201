"""The class's runs recorded from the server's start (spectral_lab.lab.prerecord runs them): each lesson's
own run as the Lessons tab trains it, then each follow-up as its link trains it in the lab, so a
recording's key is exactly the key a student's click looks up. The CNN lesson's follow-ups train in the
CNN tab, which records nothing: they still train per student."""
from __future__ import annotations

import time

from spectral_lab.lab import LiveComparison, parse_link, share_tune
from spectral_lab.lab.lessons import LESSONS, Lesson, expand_link
from spectral_lab.lab.prerecord import Job, Prerecorder, wanted
from spectral_lab.lab.recordings import Recording
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.ui.lab.runs import planned_run, recording_key
from spectral_lab.ui.lab.settings import _values_from, _within_sliders
from spectral_lab.ui.lessons import EVIDENCE
from spectral_lab.ui.widgets import FOLLOWUP_RECORDINGS, LESSON_RUNNER, LIMITS, SLOTS

_STARTED: list[Prerecorder] = []


def lesson_job(lesson: Lesson) -> Job:
    """The lesson's own run, through the lesson runner the Lessons tab uses (its panels too)."""
    def record(visitor_waits) -> bool:
        key = LESSON_RUNNER.key(lesson, None)
        if LESSON_RUNNER.recordings.has(key) or LESSON_RUNNER.recordings.training(key):
            return True  # recorded, or a student's run is recording it
        runs: list = []
        events = LESSON_RUNNER.run(lesson, None, 0, cancelled=visitor_waits, on_start=lambda run: runs.append(run) or True,
                                   stream=gpu_stream(), panels=("reconstruction", EVIDENCE[lesson.key][0]))
        for event in events:
            if runs and visitor_waits():
                runs[0].stop()
            if event.kind == "done":
                return event.recording is not None or not visitor_waits()
        return False
    return Job(f"{lesson.number}", record)


def followup_job(number: str) -> Job:
    """A lab follow-up, planned from its link as the lab plans it (the controls' values the link sets)."""
    def record(visitor_waits) -> bool:
        query, _ = expand_link({"followup": number})
        config, methods, dropped = parse_link(query, LIMITS)
        if dropped:  # a follow-up this server cannot run as written trains per student, with its note
            return True
        config, _ = _within_sliders(config)
        live = planned_run(None, [], "each", share_tune(query), *_values_from(config, methods)).live
        key = recording_key(live)
        if FOLLOWUP_RECORDINGS.has(key):
            return True
        owner, _ = FOLLOWUP_RECORDINGS.claim(key)
        if not owner:  # a student's click trains it now: their run is the recording
            return True
        return _train_and_keep(key, live, f"follow-up {number} (recording it for the class)", visitor_waits)
    return Job(number, record)


def _train_and_keep(key, live: LiveComparison, label: str, visitor_waits) -> bool:
    """Train `live` in a slot and store it; True unless a visitor's wait stopped it (then try again)."""
    stored, turn = False, SLOTS.enter(label, live.estimate or 10.0)
    try:
        for _ in SLOTS.wait(turn, cancelled=visitor_waits):
            pass
        if turn.started is None:
            return False
        last = None
        for last in live.frames():
            if visitor_waits():
                live.stop()
        if live.outcome() == "finished":
            FOLLOWUP_RECORDINGS.store(key, Recording(live.viewer_copy(), last, seconds=time.perf_counter() - live.started))
            stored = True
        return stored or live.outcome() != "stopped"  # a run that fails is not tried again
    finally:
        SLOTS.leave(turn)
        if not stored:
            FOLLOWUP_RECORDINGS.abandon(key)


def class_jobs() -> list[Job]:
    """The lessons first (1–6: a class starts there), then their follow-ups in order."""
    jobs = [lesson_job(lesson) for lesson in LESSONS.values()]
    jobs += [followup_job(f"{lesson.number}.{index + 1}") for lesson in LESSONS.values() if lesson.kind != "nern"
             for index in range(len(lesson.followups))]
    return [job for job in jobs if wanted(job.name)]


def start_prerecording() -> Prerecorder | None:
    """Start recording the class's runs in the background (once per server; SPECTRAL_LAB_PRERECORD)."""
    if _STARTED:
        return _STARTED[0]
    jobs = class_jobs()
    if not jobs:
        return None
    _STARTED.append(Prerecorder(SLOTS, jobs))
    _STARTED[0].start()
    return _STARTED[0]


def prerecording() -> Prerecorder | None:
    return _STARTED[0] if _STARTED else None


__all__ = ["class_jobs", "followup_job", "lesson_job", "prerecording", "start_prerecording"]
