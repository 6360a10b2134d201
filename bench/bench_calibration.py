"""The start-up speed calibration, start to start: does it agree with itself?

    .venv/bin/python bench/bench_calibration.py [--starts 5] [--alone]

Each start is a fresh process that starts as the server starts (app.build(): the page is built while
the start-up thread warms librosa and calibrates, as `python app.py` does; `--alone` calibrates with
nothing beside it), waits for the calibration, and prints the estimates it gives for the README's
teacher link (`?signal=camera&methods=relu,siren`: camera 512², 500 steps, 3×128) and for the same
run at 64², with the calibration's own time and the machine's load average (other work on the machine
slows a calibration: the load says how quiet each start was). Then, per estimate, max/min across starts (target:
within 2×, estimate.spread) and the median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEACHER_LINK = "signal=camera&methods=relu,siren"


def one_start(alone: bool) -> dict:
    """In this (fresh) process: the calibration as a server's start runs it, then the two estimates."""
    sys.path.insert(0, str(ROOT))
    from spectral_lab.lab import AppLimits, parse_link
    from spectral_lab.lab.estimate import RATES, estimate_seconds
    from spectral_lab.signals import signal_for

    began = time.perf_counter()
    if alone:
        RATES.calibrate("cpu")
    else:
        import app

        app.build()  # the start-up thread (warm-up, calibration) beside the page's construction
        while not RATES.calibrated:
            time.sleep(0.1)
    took = time.perf_counter() - began
    config, methods, _ = parse_link(TEACHER_LINK, AppLimits())
    small = config.replace(image_size=64)
    return {"teacher_512": estimate_seconds(config, methods, signal_for(config), "cpu", rates=RATES),
            "camera_64": estimate_seconds(small, methods, signal_for(small), "cpu", rates=RATES),
            "calibration_s": took, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--alone", action="store_true", help="calibrate with nothing else starting beside it")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single start, as JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_start(args.alone)), flush=True)
        # at once: the page's daemon threads, torn down by a normal exit mid-work, abort the process
        # ("terminate called without an active exception") after the numbers are out
        os._exit(0)
    from spectral_lab.lab.estimate import spread

    rows = []
    for start in range(1, args.starts + 1):
        command = [sys.executable, __file__, "--one"] + (["--alone"] if args.alone else [])
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"start {start}: teacher link 512² {row['teacher_512']:9.0f} s · camera 64² {row['camera_64']:6.1f} s "
              f"· calibration took {row['calibration_s']:.1f} s · load average {row['load']:.1f}", flush=True)
    for key, words in (("teacher_512", "teacher link 512²"), ("camera_64", "camera 64²")):
        values = [row[key] for row in rows]
        print(f"{words}: median {statistics.median(values):.1f} s, max/min across starts {spread(values):.2f}×")


if __name__ == "__main__":
    main()
