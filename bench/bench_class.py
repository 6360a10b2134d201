"""A class opening a lesson together: how long until each student sees their takeaway.

    python bench/bench_class.py [--students 30] [--lesson 1] [--within 5]
    python bench/bench_class.py --fresh [--students 30] [--at 120] [--follow-ups 1.1,4.3]
    python bench/bench_class.py --server http://127.0.0.1:7860/ [--class-code CODE] [--page-loads]

Without a server, the lab layer (no browser): one LessonRunner as the app has it (its recordings,
CONCURRENCY training slots); the students press Run at random moments within `--within` seconds; the first
trains the lesson's run, the others wait for it or are served it, beside a lab comparison in a slot of its own.

`--fresh` starts `python app.py` as a Space would (calibration, the class's runs recorded in the background,
a class database of its own) and measures from its start: 30 students open lesson 1's class link as soon as
it answers (each a session of its own: the page's own requests replayed, bench/page_load.py), answer and press
Run; page load and open-to-takeaway, median and p95; answers stored vs sent; then, `--at` seconds after start,
Run to takeaway of lessons 1–5 and open-to-finished of the follow-ups. `--students 0`: no class opens the
server first (a class on lesson 1 has lesson 1's follow-ups recorded before the others: LessonDemand in
spectral_lab/lab/prerecord.py). `--server URL` drives a running app the same way (`--page-loads`: first page
loads only). Targets (issue 35, 2 cores): page load p95 ≤ 2 s, open-to-takeaway p95 ≤ 10 s from a fresh
start; at 120 s lessons ≤ 3 s after Run, follow-ups 1.1 and 4.3 ≤ 20 s after their link opens.
docs/performance.md has the numbers.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from spectral_lab import RunConfig
from spectral_lab.lab import AppLimits, LiveComparison, load_ui_signal, with_app_cadence
from spectral_lab.lab.lesson_runs import LessonRunner
from spectral_lab.lab.lessons import BY_NUMBER
from spectral_lab.lab.recordings import Recordings
from spectral_lab.lab.slots import TrainingSlots

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_load import Visitor, page_load  # noqa: E402  (bench/page_load.py)

ROOT = Path(__file__).resolve().parents[1]


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


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(share * len(ordered))) - 1)]


def _student(url: str, query: str, lesson, delay: float, choice: int, result: dict) -> None:
    """A student opens the class link, answers and presses Run at once (a browser of their own)."""
    time.sleep(delay)
    visitor = Visitor(url, query)
    try:
        opened = time.perf_counter()
        result["page"] = visitor.open()
        visitor.press("run_lesson", [lesson.key, lesson.choices[choice], None, None, None])
        result["takeaway"] = time.perf_counter() - opened
        status, takeaway = (visitor.outputs.get("run_lesson") or ["", ""])[:2]
        if "Takeaway" not in str(takeaway):
            raise RuntimeError(f"no takeaway: {str(status)[:120]}")
    except Exception as exc:  # said below, with the count: one failed student is a finding, not a crash
        result["failure"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        visitor.close()


def run_server(url: str, students: int, lesson_number: int, within: float, code: str | None = None) -> dict:
    """`students` open lesson N's class link within `within` s of each other (each its own session), answer
    and press Run at once: page load and open-to-takeaway, median and p95."""
    lesson = BY_NUMBER[lesson_number]
    query = f"?lesson={lesson_number}" + (f"&class={code}" if code else "")
    results = [{} for _ in range(students)]
    threads = [threading.Thread(target=_student, args=(url, query, lesson, random.uniform(0, within), i % 3, results[i]))
               for i in range(students)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [r["failure"] for r in results if "failure" in r]
    pages, takeaways = [r["page"] for r in results if "page" in r], [r["takeaway"] for r in results if "takeaway" in r]
    print(f"{url}{query.lstrip('/')}: {students} students within {within:g} s: page load median "
          f"{statistics.median(pages):.2f} s, p95 {_percentile(pages, 0.95):.2f} s; open to takeaway median "
          f"{statistics.median(takeaways):.2f} s, p95 {_percentile(takeaways, 0.95):.2f} s, max {max(takeaways):.2f} s"
          + (f"; {len(failures)} failed, the first: {failures[0]}" if failures else ""))
    return {"takeaways": takeaways, "pages": pages, "failures": failures}


def follow_up_time(url: str, number: str) -> float:
    """Seconds from opening a follow-up's link until its run finished (served or trained)."""
    visitor = Visitor(url, f"?followup={number}", timeout=900)
    try:
        seconds = visitor.open()
        status = str((visitor.outputs.get("on_autorun") or [""])[0])
        print(f"follow-up {number}: finished {seconds:.1f} s after its link opened"
              f"{' (served: recorded on this server)' if 'recorded on this server' in status else ''}")
        return seconds
    finally:
        visitor.close()


def run_fresh(students: int, lesson_number: int, within: float, at: float, follow_ups: list[str]) -> None:
    """Start `python app.py` (its defaults: calibration, the class's runs recorded in the background) on a
    free port with a class database of its own; a class arrives as soon as it answers; then, `at` s after
    its start, one student per lesson 1–5 and the follow-ups. Answers stored vs sent from the database."""
    from spectral_lab.lab.classroom import Classroom

    folder = tempfile.mkdtemp(prefix="bench-class-")
    database, port = os.path.join(folder, "class.db"), _free_port()
    code = Classroom(database).create_class("bench").code
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "SPECTRAL_LAB_CLASS_DB": database,
           "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    with open(os.path.join(folder, "app.log"), "w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url)
        print(f"fresh server answered {time.perf_counter() - started:.1f} s after its start")
        if students:  # --students 0: a server no class has opened (its recordings in their own order)
            run_server(url, students, lesson_number, within, code)
            with sqlite3.connect(database) as db:
                stored = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            print(f"answers stored: {stored} of {students} sent")
        time.sleep(max(0.0, at - (time.perf_counter() - started)))
        print(f"{time.perf_counter() - started:.0f} s after start:")
        for number in range(1, 6):
            run_server(url, 1, number, 0.0)
        for number in follow_ups:
            follow_up_time(url, number)
    finally:
        server.terminate()
        server.wait(timeout=30)
        print(f"server log: {os.path.join(folder, 'app.log')}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not answer in {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--lesson", type=int, default=1)
    parser.add_argument("--within", type=float, default=5.0, help="seconds over which the students open the link")
    parser.add_argument("--slots", type=int, default=2, help="training slots (the app's CONCURRENCY)")
    parser.add_argument("--server", help="drive a running app at this URL (its own requests, replayed)")
    parser.add_argument("--class-code", help="with --server: the class the students answer in")
    parser.add_argument("--fresh", action="store_true", help="start the app and measure from its start")
    parser.add_argument("--at", type=float, default=120.0, help="with --fresh: seconds after start for lessons "
                                                                  "1-5 and the follow-ups")
    parser.add_argument("--follow-ups", default="1.1,4.3", help="with --fresh: the follow-ups to time")
    parser.add_argument("--page-loads", action="store_true", help="with --server: page loads only (no Run)")
    args = parser.parse_args()
    random.seed(0)
    if args.fresh:
        run_fresh(args.students, args.lesson, args.within, args.at, [f for f in args.follow_ups.split(",") if f])
    elif args.server and args.page_loads:
        url = args.server.rstrip("/") + "/"
        loads = _page_loads(url, f"?lesson={args.lesson}", args.students, args.within)
        print(f"{args.students} first page loads of lesson {args.lesson} within {args.within:g} s: median "
              f"{statistics.median(loads):.2f} s, p95 {_percentile(loads, 0.95):.2f} s, max {max(loads):.2f} s")
    elif args.server:
        run_server(args.server.rstrip("/") + "/", args.students, args.lesson, args.within, args.class_code)
    else:
        run_class(args.students, args.lesson, args.within, args.slots, warm=False)
        run_class(args.students, args.lesson, args.within, args.slots, warm=True)


def _page_loads(url: str, query: str, students: int, within: float) -> list[float]:
    times: list[float] = []
    threads = [threading.Thread(target=lambda delay=random.uniform(0, within): (time.sleep(delay),
                                                                                 times.append(page_load(url, query))))
               for _ in range(students)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


if __name__ == "__main__":
    main()
