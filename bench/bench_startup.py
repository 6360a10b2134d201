"""A server's start as a Space starts it: `python app.py`, then the first page, then the server idle.

    .venv/bin/python bench/bench_startup.py [--starts 3] [--idle 60]

Per start: seconds from launch to the first page (HTTP 200 on /, the page's HTML and config), the
server's RSS then, and its RSS after `--idle` seconds with nobody connected (the start-up's librosa
warm-up and speed calibration done). Prints each start and the median.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from served_app import free_port  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_start(idle: float) -> tuple[float, float, float]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    page.read()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10) as config:
                    config.read()
                break
            except OSError:
                if process.poll() is not None or time.perf_counter() - began > 180:
                    raise SystemExit("the app did not start")
                time.sleep(0.1)
        first_page = time.perf_counter() - began
        at_first_page = rss_mb(process.pid)
        time.sleep(idle)
        return first_page, at_first_page, rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds idle before the second RSS reading")
    args = parser.parse_args()
    rows = []
    for start in range(args.starts):
        rows.append(one_start(args.idle))
        print(f"start {start + 1}: first page {rows[-1][0]:.1f} s · RSS {rows[-1][1]:.0f} MB then, "
              f"{rows[-1][2]:.0f} MB after {args.idle:.0f} s idle", flush=True)
    medians = [statistics.median(column) for column in zip(*rows)]
    print(f"median of {args.starts}: first page {medians[0]:.1f} s · RSS {medians[1]:.0f} MB at the first page, "
          f"{medians[2]:.0f} MB idle ({os.cpu_count()} CPU cores)")


if __name__ == "__main__":
    main()
