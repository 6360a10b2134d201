"""A server that runs all day: does its memory plateau? Sessions one after another, and where the
memory of each one goes.

    nice python bench/bench_soak.py browser --sessions 30        # the real thing: app.py + Chromium
    nice python bench/bench_soak.py headless --sessions 100      # the lab layer alone, no Gradio
    nice python bench/bench_soak.py callbacks --sessions 100     # the app's callbacks, no server

browser:   starts `app.py` (through `serve`, below: the same page with a memory probe on a second
           port), then per session opens a new browser context at QUERY, presses Train, waits for
           the final status and closes the tab, as a visitor does; after the last one it stays idle
           `--idle` seconds and samples RSS, then asks the server for a malloc_trim to show what the
           allocator still held.
headless:  the same comparison through spectral_lab.lab (plan, LiveComparison, every frame's figures
           rendered to plotly JSON, the CSV download), in this process, each session released after.
callbacks: the app's own callbacks (on_queue, on_train, on_replay, on_unload) with a fake request,
           in this process: the UI layer without Gradio's server.

Per session it prints RSS and what owns memory: glibc's heap (in use / free but held: what
malloc_trim can give back), Gradio's per-session states (how many, how many closed, the bytes of
their stored component values) and its cache folder on disk, the lab's per-session registries, and
with `--trace N` tracemalloc's top owners (N frames; slower). torch: on CUDA its allocator's
allocated/reserved bytes; on a CPU torch has no allocator of its own (tensors come from malloc: the
heap figures are theirs), so it says "none".

Target (issue "A server that runs all day"): after 5 warm-up sessions RSS grows ≤ 5 MB a session
(≤ 1 GB above start in all) and falls back within 10 % of its plateau 60 s after the last tab closes.
`--env KEY=VALUE` passes settings to the server (SPECTRAL_LAB_MALLOC_TRIM=0: no trim after a
session ends, to measure what trimming does). `--json PATH` writes every sample.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

QUERY = "signal=camera&image_size=64&steps=120&methods=relu,siren,spder"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DONE = "['Finished', 'Stopped', 'Failed'].some(w => document.querySelector('#status').innerText.trim().startsWith(w))"
MB = 2**20


# ----------------------------------------------------------------------------------------------
# The probe: what holds memory, read inside the process that holds it
# ----------------------------------------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def mapped_mb() -> dict:
    """Resident MB by kind of mapping (/proc/self/smaps): glibc's main heap, anonymous maps (other
    arenas' heaps, big blocks, Python's arenas, thread stacks) and files (libraries)."""
    kinds, kind = {"main_heap": 0, "anon": 0, "files": 0}, "anon"
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:  # a mapping's first line: address range, perms, ..., path
                path = head[5] if len(head) > 5 else ""
                kind = "main_heap" if path == "[heap]" else "anon" if not path or path.startswith("[") else "files"
            elif head[0] == "Rss:":
                kinds[kind] += int(head[1])
    return {f"rss_{k}": round(v / 1024, 1) for k, v in kinds.items()}


def heap_stats() -> dict:
    """glibc's own count over all arenas (mallinfo2): bytes handed out, and bytes freed but kept."""
    from spectral_lab.lab.allocator import malloc_info

    info = malloc_info()
    return {k: round(v / MB, 1) for k, v in info.items()} if info else {"heap": "not glibc"}


def torch_stats() -> dict:
    import torch

    if torch.cuda.is_available():
        return {"cuda_allocated_mb": round(torch.cuda.memory_allocated() / MB, 1),
                "cuda_reserved_mb": round(torch.cuda.memory_reserved() / MB, 1)}
    return {"torch_allocator": "none (CPU: tensors come from malloc, counted in the heap)"}


def deep_size(thing, limit: int = 2_000_000) -> int:
    """Bytes of plain data under `thing` (dicts, lists, strings, arrays), each object once."""
    import numpy as np

    seen, stack, total = set(), [thing], 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += item.nbytes if isinstance(item, np.ndarray) else sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return total


def folder_size(path: Path) -> tuple[int, float]:
    files, size = 0, 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                size += os.path.getsize(os.path.join(root, name))
                files += 1
            except OSError:
                pass
    return files, size / MB


def gradio_stats(demo) -> dict:
    """Gradio's per-session states (a copy of every component's config and its last value each) and
    its cache folder of files sent to browsers."""
    from gradio.utils import get_upload_folder

    holder = getattr(demo, "state_holder", None)
    states = dict(getattr(holder, "session_data", {}) or {})
    values = sum(deep_size(state.config_values) for state in states.values())
    files, disk = folder_size(Path(get_upload_folder()))
    queue = getattr(demo, "_queue", None)
    return {"gradio_sessions": len(states), "gradio_closed": sum(s.is_closed for s in states.values()),
            "gradio_values_mb": round(values / MB, 1), "cache_files": files, "cache_disk_mb": round(disk, 1),
            "temp_file_sets": sum(len(s) for s in getattr(demo, "temp_file_sets", [])),
            "queue_events": len(getattr(queue, "event_ids_to_events", {}) or {})}


def lab_stats() -> dict:
    """The app's own per-session registries and the objects a session's run is made of."""
    import gc

    counts = {}
    for thing in gc.get_objects():
        name = type(thing).__name__
        if name in ("LiveComparison", "MethodView", "SessionState", "Recording", "NernRun"):
            counts[name] = counts.get(name, 0) + 1
    stats = {"objects": counts}
    try:
        from spectral_lab.ui import session_end

        stats["registries"] = session_end.held()
        stats["caches_mb"] = {name: round(used / MB, 1) for name, used in session_end.budgets().items()}
    except Exception as exc:  # noqa: BLE001 (an app without the release module: the numbers before it)
        stats["registries_error"] = repr(exc)
    return stats


def tracemalloc_top(baseline, count: int) -> list[str]:
    """The allocations that grew most since the baseline, summed by owner: the innermost frame in
    spectral_lab or Gradio (the code that keeps it), with the innermost frame of all beside it."""
    import tracemalloc

    if not tracemalloc.is_tracing():
        return []
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snapshot.compare_to(baseline, "traceback") if baseline else snapshot.statistics("traceback")
    owners: dict[str, list] = {}
    for stat in stats:
        frames = list(stat.traceback)  # oldest first
        ours = [f for f in frames if "spectral_lab" in f.filename or "gradio" in f.filename]
        where = (f"{'/'.join(Path(ours[-1].filename).parts[-2:])}:{ours[-1].lineno}" if ours else "?")
        key = f"{where} ← {Path(frames[-1].filename).name}:{frames[-1].lineno}"
        total = owners.setdefault(key, [0, 0])
        total[0] += getattr(stat, "size_diff", stat.size)
        total[1] += getattr(stat, "count_diff", stat.count)
    top = sorted(owners.items(), key=lambda item: -item[1][0])[:count]
    return [f"{size / MB:+8.2f} MB ({blocks:+d} blocks) {key}" for key, (size, blocks) in top]


def probe(demo, baseline=None, top: int = 0) -> dict:
    result = {"rss_mb": round(rss_mb(), 1), **mapped_mb(), **heap_stats(), **torch_stats()}
    if demo is not None:
        result.update(gradio_stats(demo))
    result.update(lab_stats())
    if top:
        result["tracemalloc"] = tracemalloc_top(baseline, top)
    return result


def probe_server(demo, port: int) -> None:
    """/probe?top=N (the numbers), /baseline (tracemalloc's reference), /trim (malloc_trim, before and
    after) on 127.0.0.1:port, beside the app."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    state = {"baseline": None}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            import tracemalloc

            from spectral_lab.lab.allocator import trim

            url = urlparse(self.path)
            top = int(parse_qs(url.query).get("top", ["0"])[0])
            if url.path == "/baseline" and tracemalloc.is_tracing():
                state["baseline"] = tracemalloc.take_snapshot()
            before = rss_mb()
            trimmed = trim() if url.path == "/trim" else None
            body = probe(demo, state["baseline"], top)
            if trimmed is not None:
                body["trim"] = {"rss_before_mb": round(before, 1), "rss_after_mb": body["rss_mb"]}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def serve(args) -> None:
    """The app as app.py launches it, plus the probe (and tracemalloc from the start when asked)."""
    if args.trace:
        import tracemalloc

        tracemalloc.start(args.trace)
    import app

    demo = app.build()
    probe_server(demo, args.probe_port)
    app.launch(demo)


# ----------------------------------------------------------------------------------------------
# The drivers
# ----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, port: int, probe_port: int) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "GRADIO_TEMP_DIR": tempfile.mkdtemp(prefix="soak-gradio-"),  # its cache folder, counted alone
           **dict(pair.split("=", 1) for pair in args.env)}
    command = [sys.executable, __file__, "serve", "--probe-port", str(probe_port), "--trace", str(args.trace)]
    log = open(args.log, "w") if args.log else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            fetch(probe_port, "/probe")
            return process
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise SystemExit("the app did not start (see --log)")
            time.sleep(0.5)


def fetch(probe_port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{probe_port}{path}", timeout=600) as response:
        return json.loads(response.read())


def browser_session(browser, url: str, timeout_s: float, keep: list | None = None) -> tuple[float, str]:
    """One visitor: open the link in a new context, press Train, wait for the end, close the tab
    (or, with `keep`, leave it open and add it there: visitors at once)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#train-button", timeout=60_000)
        page.wait_for_function("(document.querySelector('#signal-info')?.innerText || '').trim().length > 0",
                               timeout=60_000, polling=250)
        clock = time.perf_counter()
        page.evaluate("document.querySelector('#train-button').click()")
        page.wait_for_function(DONE, timeout=timeout_s * 1000, polling=250)
        status = page.inner_text("#status").strip().split("\n")[0][:60]
        return time.perf_counter() - clock, status
    finally:
        if keep is None:
            context.close()
        else:
            keep.append(context)


def row_line(index: int, sample: dict) -> str:
    held = sum(v for v in sample.get("registries", {}).values() if isinstance(v, int))
    return (f"{index:4d} {sample['rss_mb']:8.1f} {sample.get('rss_main_heap', 0):6.0f} {sample.get('rss_anon', 0):6.0f} "
            f"{sample.get('rss_files', 0):5.0f} {sample.get('in_use', float('nan')):8.1f} "
            f"{sample.get('free_held', float('nan')):8.1f} {sample.get('gradio_sessions', 0):5d}"
            f"{sample.get('gradio_closed', 0):5d} {sample.get('gradio_values_mb', 0):7.1f} "
            f"{sample.get('cache_files', 0):6d} {sample.get('cache_disk_mb', 0):7.1f} {held:5d} "
            f"{sample.get('objects', {}).get('LiveComparison', 0):4d} {sample.get('seconds', 0):6.1f}")


HEADER = (f"{'sess':>4} {'RSS MB':>8} {'brk':>6} {'anon':>6} {'libs':>5} {'heap use':>8} {'heapfree':>8} {'grad':>5}{'clos':>5} {'vals MB':>7} "
          f"{'files':>6} {'disk MB':>7} {'held':>5} {'live':>4} {'run s':>6}")


def run_browser(args) -> list[dict]:
    from playwright.sync_api import sync_playwright

    port, probe_port = free_port(), free_port()
    server = start_server(args, port, probe_port)
    samples = [{"session": 0, **fetch(probe_port, "/probe")}]
    print(HEADER)
    print(row_line(0, samples[0]), flush=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            kept = [] if args.keep_open else None
            for index in range(1, args.sessions + 1):
                seconds, status = browser_session(browser, f"http://127.0.0.1:{port}/?{args.query}", args.timeout,
                                                  kept)
                time.sleep(args.settle)  # the tab's unload reaches the server
                if index == args.warmup:
                    fetch(probe_port, "/baseline")
                sample = {"session": index, "seconds": seconds, "status": status,
                          **fetch(probe_port, f"/probe?top={args.top if index % args.every == 0 else 0}")}
                samples.append(sample)
                print(row_line(index, sample), flush=True)
                for line in sample.get("tracemalloc", []):
                    print("        ", line)
            for context in kept or []:  # the visitors at once leave together
                context.close()
            browser.close()
        samples += idle_samples(lambda: fetch(probe_port, f"/probe?top={args.top}"), args.idle)
        samples.append({"session": "trim", **fetch(probe_port, "/trim")})
        print(f"malloc_trim(0) now: RSS {samples[-1]['trim']['rss_before_mb']} → {samples[-1]['trim']['rss_after_mb']} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return samples


def idle_samples(read, idle: float) -> list[dict]:
    out, start = [], time.time()
    for at in (0, 20, 40, 60, 90, 120):
        if at > idle:
            break
        time.sleep(max(0.0, start + at - time.time()))
        sample = {"session": f"idle {at}s", **read()}
        out.append(sample)
        print(f"idle {at:3d}s: RSS {sample['rss_mb']:.1f} MB · heap in use {sample.get('in_use')} MB, free held "
              f"{sample.get('free_held')} MB · Gradio sessions {sample.get('gradio_sessions')} · "
              f"registries {sample.get('registries')}", flush=True)
        for line in sample.get("tracemalloc", [])[:8]:
            print("        ", line)
    return out


def run_in_process(args) -> list[dict]:
    """headless / callbacks: the sessions in this process (its probe is read directly)."""
    import tracemalloc

    if args.trace:
        tracemalloc.start(args.trace)
    session = headless_session if args.mode == "headless" else callbacks_session(args.query)
    baseline, samples = None, [{"session": 0, **probe(None)}]
    print(HEADER)
    print(row_line(0, samples[0]), flush=True)
    for index in range(1, args.sessions + 1):
        clock = time.perf_counter()
        status = session(args.query, f"soak-{index}")
        if index == args.warmup and args.trace:
            baseline = tracemalloc.take_snapshot()
        sample = {"session": index, "seconds": time.perf_counter() - clock, "status": status,
                  **probe(None, baseline, args.top if index % args.every == 0 else 0)}
        samples.append(sample)
        print(row_line(index, sample), flush=True)
        for line in sample.get("tracemalloc", []):
            print("        ", line)
    samples += idle_samples(lambda: probe(None, baseline, args.top), min(args.idle, 20))
    return samples


def headless_session(query: str, session: str) -> str:
    """One visitor through spectral_lab.lab alone: plan, train with every frame's figures rendered as
    the app sends them (plotly JSON), the CSV download in a temp folder; then everything released."""
    import shutil
    import tempfile

    from spectral_lab import plots
    from spectral_lab.lab import LiveComparison, parse_share_query, with_app_cadence
    from spectral_lab.lab.allocator import release_memory
    from spectral_lab.lab.estimate import plan_lab_run
    from spectral_lab.ui.widgets import DEVICE, LIMITS

    config, methods = parse_share_query(query)
    plan = plan_lab_run(config, methods, None, LIMITS, DEVICE, False, {"steps", "image_size"})
    live = LiveComparison(with_app_cadence(plan.config, DEVICE), methods, plan.signal, note=plan.note,
                          estimate=plan.seconds)
    outdir = tempfile.mkdtemp(prefix="spectral-lab-soak-")
    frame = None
    for frame in live.frames():
        for spec in (frame.curves, frame.reconstruction, frame.ntk, frame.errors, frame.bands, *(frame.details or ())):
            if spec is not None:
                plots.render(spec).to_json()
    live.export(outdir, figures=False)
    live.frame_at(live.max_step() // 2)  # a replay
    shutil.rmtree(outdir, ignore_errors=True)
    status = frame.status.split("·")[0].strip() if frame else ""
    del live, frame
    release_memory()
    return status


def callbacks_session(query: str):
    """One visitor through the app's own callbacks (no server): load the link, Train, scrub the
    replay, close the tab (the unload event)."""
    from urllib.parse import parse_qsl

    from spectral_lab.ui import build_demo, lab

    build_demo()  # the components the callbacks address

    class Request:
        def __init__(self, session: str):
            self.query_params = dict(parse_qsl(query))
            self.headers, self.session_hash = {"referer": "http://127.0.0.1/"}, session

    def session(_query: str, name: str) -> str:
        from spectral_lab.ui import session_end

        request = Request(name)
        values = lab.on_load(request)[:len(lab.CONTROL_FIELDS) + 1]
        lab.on_queue(request)
        last = None
        for last in lab.on_train(request, None, [], "each", False, *values):
            pass
        lab.on_replay(10, request)
        session_end.on_unload(request)
        return str(last.get(lab.ui.status, ""))[:40] if isinstance(last, dict) else ""

    return session


# ----------------------------------------------------------------------------------------------
def summarise(samples: list[dict], warmup: int) -> dict:
    """Growth a session after the warm-up (least squares), the plateau, and the idle fall-back."""
    import numpy as np

    runs = [s for s in samples if isinstance(s["session"], int)]
    after = [s for s in runs if s["session"] >= warmup]
    out = {"start_mb": runs[0]["rss_mb"], "end_mb": runs[-1]["rss_mb"],
           "above_start_mb": round(max(s["rss_mb"] for s in runs) - runs[0]["rss_mb"], 1)}
    if len(after) >= 3:
        x = np.array([s["session"] for s in after], float)
        y = np.array([s["rss_mb"] for s in after], float)
        out["mb_per_session"] = round(float(np.polyfit(x, y, 1)[0]), 2)
        out["plateau_mb"] = round(float(np.median(y[-10:])), 1)
        out["growth_after_warmup_mb"] = round(float(y[-1] - y[0]), 1)
    idle = [s for s in samples if str(s["session"]).startswith("idle")]
    if idle and "plateau_mb" in out:
        out["idle_last_mb"] = idle[-1]["rss_mb"]
        out["idle_vs_plateau"] = round(idle[-1]["rss_mb"] / out["plateau_mb"] - 1, 3)
    seconds = [s["seconds"] for s in runs if "seconds" in s]
    if seconds:
        out["seconds_per_session"] = round(float(np.median(seconds)), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["browser", "headless", "callbacks", "serve"])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="sessions before the growth is measured")
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--idle", type=float, default=60, help="seconds idle after the last tab closes")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after a tab closes before the probe")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a run may take")
    parser.add_argument("--keep-open", action="store_true",
                        help="browser: keep every tab open until the end (memory per open tab)")
    parser.add_argument("--trace", type=int, default=0, help="tracemalloc frames (0: off, it slows the app)")
    parser.add_argument("--top", type=int, default=12, help="tracemalloc owners printed")
    parser.add_argument("--every", type=int, default=10, help="print the owners every N sessions")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (browser)")
    parser.add_argument("--log", default="", help="the server's log file (browser)")
    parser.add_argument("--json", default="", help="write every sample here")
    parser.add_argument("--probe-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "serve":
        return serve(args)
    for pair in args.env if args.mode != "browser" else ():
        os.environ.__setitem__(*pair.split("=", 1))
    samples = run_browser(args) if args.mode == "browser" else run_in_process(args)
    summary = summarise(samples, args.warmup)
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "args": vars(args), "samples": samples}, indent=1))


if __name__ == "__main__":
    main()
