"""Training throughput inside the app vs headless `fit`, without a browser.

    python bench/bench_app.py [--repeats 3] [--preset "Audio: chip melody, SIREN vs SIREN²"] [--methods 1]

Three ways to train the same preset's methods, median steps/s of the first method over repeats:
  headless          Run(config) with no diagnostics (what the CLI does)
  app cadence       Run with the app's diagnostic cadences and budget, no UI
  app stream        spectral_lab.lab.LiveComparison (training thread + UI thread) with every Frame
                    turned into what spectral_lab.ui sends: plotly JSON for every figure, PNG for gallery images,
                    WAV bytes for players — i.e. the app short of the websocket.
The goal (issue 9): app stream ≥ 0.85 × headless.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

import torch

from spectral_lab import plots, run_to_end
from spectral_lab.lab import PRESETS, AppLimits, LiveComparison, load_ui_signal, parse_share_query, with_app_cadence


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="Audio: chip melody, SIREN vs SIREN²", choices=list(PRESETS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
