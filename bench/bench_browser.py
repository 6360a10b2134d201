"""How responsive the page stays while the lab trains: a real browser against `python app.py`.

Playwright drives headless Chromium (Debian's /usr/bin/chromium) at 1280×720 and measures, per
scenario, from Train to the final status:
  busy       share of the run the page's main thread spent in long tasks (> 50 ms each, the
             Long Tasks API's PerformanceObserver "longtask"; a lower bound of all main-thread work)
  longest    the longest single task, ms
  KB/s       bytes the page received per second (Chrome DevTools Network.dataReceived)
  first      seconds from Train to the first status line that shows a step
and, once, the Stop latency: seconds from pressing Stop to the status saying so.

    python bench/bench_browser.py                 # image (3 methods) and audio (2 methods)
    python bench/bench_browser.py --hogs 2        # the same beside two busy-looping processes

Goal (issue 19) on an otherwise idle 2-core machine: busy < 25 %, no task > 500 ms, Stop < 1 s.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCENARIOS = {
    "image, 3 methods": "signal=camera&image_size=64&steps=200&methods=relu,siren,spder",
    "audio, 2 methods": "signal=chip_melody&length=8000&steps=300&methods=siren,siren2",
}
STOP_QUERY = "signal=sines&length=1024&width=32&depth=2&steps=100000&methods=siren,relu"
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver(list => list.getEntries().forEach(e => window.__longTasks.push([e.startTime, e.duration])))
    .observe({type: 'longtask', buffered: true});
"""
DONE = "['Finished', 'Stopped', 'Failed'].some(w => document.querySelector('#status').innerText.trim().startsWith(w))"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(port: int) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "SPECTRAL_LAB_MAX_STEPS": "100000"}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise SystemExit("the app did not start")
            time.sleep(0.5)


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.add_init_script(LONG_TASKS)
    page = context.new_page()
    received = [0]
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on("Network.dataReceived", lambda event: received.__setitem__(0, received[0] + event["dataLength"]))
    page.goto(url)
    page.wait_for_selector("#train-button", timeout=60_000)
    page.wait_for_function("(document.querySelector('#signal-info')?.innerText || '').trim().length > 0",
                           timeout=60_000, polling=250)
    return page, received


def measure_run(browser, url: str) -> dict:
    page, received = open_page(browser, url)
    page.wait_for_timeout(1000)  # the load's own work is not the run's
    start_bytes, start_tasks = received[0], page.evaluate("window.__longTasks.length")
    started_at = page.evaluate("performance.now()")
    clock = time.perf_counter()
    page.click("#train-button")
    page.wait_for_function("/step|together/.test(document.querySelector('#status').innerText)", timeout=120_000,
                           polling=50)
    first = time.perf_counter() - clock
    page.wait_for_function(DONE, timeout=600_000, polling=250)
    seconds = time.perf_counter() - clock
    ended_at = page.evaluate("performance.now()")
    tasks = page.evaluate(f"window.__longTasks.slice({start_tasks})")
    tasks = [(start, duration) for start, duration in tasks if started_at <= start <= ended_at]
    busy = sum(duration for _, duration in tasks) / max(ended_at - started_at, 1e-9)
    top = sorted(tasks, key=lambda task: -task[1])[:4]
    result = {"top": [(round((start - started_at) / 1000, 1), round(duration)) for start, duration in top],
              "run_s": round((ended_at - started_at) / 1000, 1), "seconds": seconds, "busy": busy,
              "longest_ms": max((d for _, d in tasks), default=0.0),
              "tasks": len(tasks), "kb_per_s": (received[0] - start_bytes) / 1024 / seconds, "first_s": first}
    page.context.close()
    return result


def measure_stop(browser, url: str) -> float:
    page, _ = open_page(browser, url)
    page.click("#train-button")
    page.wait_for_function("document.querySelector('#status').innerText.includes('together')", timeout=120_000,
                           polling=50)
    page.wait_for_timeout(3000)  # well into the run
    clock = time.perf_counter()
    page.click("#stop-button")
    page.wait_for_function("/Stopp/.test(document.querySelector('#status').innerText)", timeout=60_000, polling=20)
    latency = time.perf_counter() - clock
    page.wait_for_function(DONE, timeout=60_000, polling=250)
    page.context.close()
    return latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hogs", type=int, default=0, help="busy-looping processes beside the app")
    parser.add_argument("--only", choices=list(SCENARIOS) + ["stop"], default=None)
    parser.add_argument("--verbose", action="store_true", help="also print when the longest tasks happened")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    port = free_port()
    app = start_app(port)
    url = f"http://127.0.0.1:{port}/?"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            print(f"{'scenario':<18} {'run s':>6} {'first s':>8} {'busy':>6} {'longest ms':>11} {'tasks':>6} "
                  f"{'KB/s':>7}   ({args.hogs} CPU hogs)")
            for name, query in SCENARIOS.items():
                if args.only in (None, name):
                    r = measure_run(browser, url + query)
                    print(f"{name:<18} {r['seconds']:6.1f} {r['first_s']:8.2f} {r['busy']:6.1%} "
                          f"{r['longest_ms']:11.0f} {r['tasks']:6d} {r['kb_per_s']:7.1f}", flush=True)
                    if args.verbose:
                        print(f"  longest tasks (s after Train, ms) of {r['run_s']} s: {r['top']}")
            if args.only in (None, "stop"):
                print(f"Stop latency (2 methods training): {measure_stop(browser, url + STOP_QUERY):.2f} s")
            browser.close()
    finally:
        app.terminate()
        for hog in hogs:
            hog.kill()


if __name__ == "__main__":
    main()
