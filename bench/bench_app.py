"""Training throughput inside the app vs headless `fit`, without a browser.

    python bench/bench_app.py [--repeats 3] [--preset "Audio: chip melody, SIREN vs SIREN²"] [--methods 1]

Three ways to train the same preset's methods, median steps/s of the first method over repeats:
  headless          Run(config) with no diagnostics (what the CLI does)
  app cadence       Run with the app's diagnostic cadences and budget, no UI
  app stream        spectral_lab.lab.LiveComparison (training thread + UI thread) with every Frame
                    turned into what spectral_lab.ui sends: plotly JSON for every figure, PNG for gallery images,
                    WAV bytes for players — i.e. the app short of the websocket.
The goal (issue 9): app stream ≥ 0.85 × headless.

    python bench/bench_app.py --latency [--size 256]

The stream as a visitor meets it (issue 26, item 3): time from Train to the first frame, frames a
second, the whole run, and the diagnostics' share of it, for the 3-method image preset and a
6-method comparison at `--size`² (on a CPU the default 64). Targets on an H200: first frame < 0.5 s,
diagnostics ≤ 10 %, the 3-method image preset in < 5 s (unmeasured here: no GPU).

    python bench/bench_app.py --latency --through-app [--size 256]

The same three numbers through the real server: the app launched in this process on a free port,
driven by gradio_client through its `/train_link` endpoint (the Train button's stream, from a
share link's settings): first frame = the first update after the one that clears the panels,
updates a second as the client receives them (figures as JSON, images and audio as files), and
the diagnostics' share read from the server's own comparison of that session.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

import torch

from spectral_lab import plots, run_to_end
from spectral_lab.lab import (PRESETS, AppLimits, LiveComparison, load_ui_signal, parse_share_query, share_query,
                              with_app_cadence)


def send(frame) -> None:
    """Serialise a frame as spectral_lab.ui + Gradio would: figures to JSON, images to PNG, audio to WAV."""
    for spec in (frame.curves, frame.reconstruction, frame.ntk, frame.errors, frame.bands,
                 *(frame.details or ())):
        if spec is not None:
            plots.render(spec).to_json()
    if frame.gallery:
        from PIL import Image

        for image, _ in frame.gallery:
            Image.fromarray(image).save(io.BytesIO(), format="png")
    if frame.audio:
        import soundfile as sf

        for (rate, wave), _ in frame.audio.values():
            sf.write(io.BytesIO(), wave, rate, format="WAV")


def report(label: str, first: float, frames: int, total: float, views, outcome: str) -> None:
    diagnostics = sum(v.diagnostics_seconds for v in views)
    seconds = sum(v.metrics.get("seconds", 0.0) for v in views) or total
    print(f"  {label}: first frame {first:.2f} s, {frames / total:.1f} frames/s, total {total:.1f} s, diagnostics "
          f"{100 * diagnostics / seconds:.0f} % of training ({outcome})", flush=True)


def latency(config, methods: list[str], label: str) -> None:
    """Train → first frame, frames/s, total seconds and the diagnostics' share, one comparison."""
    signal = load_ui_signal(config, None, AppLimits())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    live = LiveComparison(with_app_cadence(config.replace(device=device), device), methods, signal)
    pressed = time.perf_counter()
    first, frames = None, 0
    for frame in live.frames():
        send(frame)
        frames += 1
        first = first if first is not None else time.perf_counter() - pressed
    report(label, first, frames, time.perf_counter() - pressed, live.views, live.outcome())


def through_app(client, config, methods: list[str], label: str) -> None:
    """The same comparison through the server: Train (as `/train_link`) → updates at the client."""
    from spectral_lab.ui import lab as lab_tab

    pressed = time.perf_counter()
    first, frames, cleared, status = None, 0, False, ""
    for update in client.submit(share_query(config, methods), api_name="/train_link"):
        status = update[0] or status
        if cleared:
            frames += 1
            first = first if first is not None else time.perf_counter() - pressed
        cleared = cleared or update[1] is None  # the update that clears the panels comes just before the frames
    total = time.perf_counter() - pressed
    live = lab_tab.FINISHED.get(client.session_hash)
    if live is None or first is None:
        raise SystemExit(f"  {label}: no run came back through the server ({status})")
    report(label + " through the app", first, frames, total, live.views, live.outcome())


def latency_report(size: int, via_app: bool = False) -> None:
    config, methods = parse_share_query(PRESETS["Image: ReLU vs SIREN vs SPDER"].query)
    six = ["relu", "relu_pe", "siren", "siren2", "spder", "finer"]
    comparisons = [(methods, f"image preset, 3 methods at {size}²"), (six, f"6 methods at {size}²")]
    if not via_app:
        for chosen, label in comparisons:
            latency(config.replace(image_size=size), chosen, label)
        return
    from gradio_client import Client

    from spectral_lab.ui import CSS, HEAD, build_demo

    demo = build_demo()
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, css=CSS, head=HEAD, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        for chosen, label in comparisons:
            through_app(client, config.replace(image_size=size), chosen, label)
    finally:
        demo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="Audio: chip melody, SIREN vs SIREN²", choices=list(PRESETS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latency", action="store_true", help="the stream as a visitor meets it (issue 26)")
    parser.add_argument("--size", type=int, default=None, help="--latency: image side [256 on CUDA, 64 on CPU]")
    parser.add_argument("--through-app", action="store_true",
                        help="--latency through the real server (gradio_client, /train_link)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.latency:
        latency_report(args.size or (256 if torch.cuda.is_available() else 64), args.through_app)
        return
    config, methods = parse_share_query(PRESETS[args.preset].query)
    if args.steps:
        config = config.replace(steps=args.steps)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = config.replace(method=methods[0], device=device)
    signal = load_ui_signal(config, None, AppLimits())
    app_config = with_app_cadence(config, device)
    run_to_end(config.replace(steps=20), signal)  # warm-up: allocator, librosa, first NTK
    run_to_end(app_config.replace(steps=20), signal)

    def stream() -> None:
        live = LiveComparison(app_config, [methods[0]], signal)
        for frame in live.frames():
            send(frame)

    def wall_clock(work) -> float:
        """Steps per wall-clock second of the whole call (a run's own steps/s leaves out the time
        its consumer spends between snapshots, which is what this bench is about)."""
        started = time.perf_counter()
        work()
        return config.steps / (time.perf_counter() - started)

    ways = {
        "headless": lambda: wall_clock(lambda: run_to_end(config, signal)),
        "app cadence": lambda: wall_clock(lambda: run_to_end(app_config, signal)),
        "app stream": lambda: wall_clock(stream),
    }
    print(f"{args.preset}: {methods[0]} on {signal.summary()}, {config.steps} steps, {device}, "
          f"{torch.get_num_threads()} threads")
    results = {}
    for name, measure in ways.items():
        samples = [measure() for _ in range(args.repeats)]
        results[name] = statistics.median(samples)
        print(f"  {name:<12} {results[name]:7.1f} steps/s (median of {', '.join(f'{s:.1f}' for s in samples)})"
              f"  ratio {results[name] / results['headless']:.2f}", flush=True)


if __name__ == "__main__":
    main()
