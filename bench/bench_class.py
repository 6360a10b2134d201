"""A class pressing "Run lesson N" together: how long until each student sees their takeaway.

    python bench/bench_class.py [--students 30] [--lesson 1] [--within 5] [--server URL]

The lab layer (no browser): one LessonRunner as the app has it (its recordings, CONCURRENCY training
slots). The students press Run at random moments within `--within` seconds; the first one trains the
lesson's own run (live, in a slot), the others wait for it or are served its recording. Meanwhile a
lab comparison (ReLU and SIREN on camera 64², 200 steps) trains in a slot of its own and must finish.
Printed: time to the takeaway per student (median, p95, max), how many trained, how long the live
run took. Target (issue 28, 2 CPU cores): p95 ≤ 3 s once the lesson is recorded; the first press of
a fresh server waits for one training (the lesson's own time, 2–25 s).

With `--server http://127.0.0.1:7860/` the same class drives a running app through gradio_client
(its lesson-run endpoint, `/run_lesson`).
"""
from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

from spectral_lab import RunConfig
from spectral_lab.lab import AppLimits, LiveComparison, load_ui_signal, with_app_cadence
from spectral_lab.lab.lesson_runs import LessonRunner
from spectral_lab.lab.lessons import BY_NUMBER
from spectral_lab.lab.recordings import Recordings
from spectral_lab.lab.slots import TrainingSlots


def student(runner: LessonRunner, lesson, delay: float, prediction: int, times: list, served: list) -> None:
    time.sleep(delay)
    pressed = time.perf_counter()
    for event in runner.run(lesson, None, prediction):
        if event.kind == "done":
            times.append(time.perf_counter() - pressed)
            served.append(event.served)


def live_run(slots: TrainingSlots, result: dict) -> None:
    config = with_app_cadence(RunConfig(signal="camera", image_size=64, steps=200), "cpu")
    live = LiveComparison(config, ["relu", "siren"], load_ui_signal(config, None, AppLimits()))
    turn = slots.enter("relu, siren", 20)
    started = time.perf_counter()
    try:
        for _ in slots.wait(turn):
            pass
        for frame in live.frames():
            result["outcome"] = frame.outcome
    finally:
        slots.leave(turn)
    result["seconds"] = time.perf_counter() - started


def run_class(students: int, lesson_number: int, within: float, slots: int, warm: bool) -> None:
    lesson = BY_NUMBER[lesson_number]
    runner = LessonRunner(Recordings(), TrainingSlots(slots), "cpu", AppLimits())
    if warm:  # the lesson recorded before the class arrives (a teacher tried it first)
        started = time.perf_counter()
        list(runner.run(lesson, None, lesson.expected))
        print(f"recorded lesson {lesson_number} first: {time.perf_counter() - started:.1f} s")
    times, served, live = [], [], {}
    threads = [threading.Thread(target=live_run, args=(runner.slots, live))]
    threads += [threading.Thread(target=student, args=(runner, lesson, random.uniform(0, within), i % 3, times, served))
                for i in range(students)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(times)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    print(f"{students} students, lesson {lesson_number}, pressed within {within:g} s, {slots} training slots"
          f"{' (recorded beforehand)' if warm else ' (a fresh server)'}: takeaway after median "
          f"{statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s; "
          f"{served.count(False)} trained, {served.count(True)} served; the live lab run {live.get('outcome')} "
          f"in {live.get('seconds', float('nan')):.1f} s")


def run_server(url: str, students: int, lesson_number: int, within: float) -> None:
    from gradio_client import Client

    from spectral_lab.lab.lessons import FIRST_LESSON, LESSONS, find_lesson

    times, failures = [], []
    key = find_lesson(lesson_number).key
    # a fresh session's question holds the first lesson's choices (the page sets each lesson's own when
    # it opens one): the endpoint takes a choice's words, and the lesson reads its index
    choices = LESSONS[FIRST_LESSON].choices

    def press(delay: float, prediction: int) -> None:
        time.sleep(delay)
        try:
            client = Client(url, verbose=False)
            pressed = time.perf_counter()
            client.predict(key, choices[prediction], api_name="/run_lesson")
            times.append(time.perf_counter() - pressed)
        except Exception as exc:  # said below, with the count: one failed student is a finding, not a crash
            failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    threads = [threading.Thread(target=press, args=(random.uniform(0, within), i % 3)) for i in range(students)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        print(f"{len(failures)} of {students} students failed; the first: {failures[0]}")
    if not times:
        raise SystemExit("no student got a takeaway")
    ordered = sorted(times)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    print(f"server {url}: {len(times)} students, lesson {lesson_number}: takeaway after median "
          f"{statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--lesson", type=int, default=1)
    parser.add_argument("--within", type=float, default=5.0, help="seconds over which the students press Run")
    parser.add_argument("--slots", type=int, default=2, help="training slots (the app's CONCURRENCY)")
    parser.add_argument("--server", help="drive a running app at this URL instead (gradio_client)")
    args = parser.parse_args()
    random.seed(0)
    if args.server:
        run_server(args.server, args.students, args.lesson, args.within)
        return
    run_class(args.students, args.lesson, args.within, args.slots, warm=False)
    run_class(args.students, args.lesson, args.within, args.slots, warm=True)


if __name__ == "__main__":
    main()
