"""Training throughput inside the app vs headless `fit`, without a browser.

    python bench/bench_app.py [--repeats 3] [--preset "Audio: chip melody, SIREN vs SIREN²"]

Three ways to train the same preset's first method, median steps/s over repeats:
  headless          Run(config) with no diagnostics (what the CLI does)
  app cadence       Run with the app's diagnostic cadences and 15% budget, no UI
  app stream        spectral_lab.live.LiveComparison (training thread + UI thread) with every
                    Frame rendered to plotly JSON, i.e. what app.py does short of the websocket
"""
from __future__ import annotations

import argparse
import statistics

import torch

from spectral_lab import plots, run_to_end
from spectral_lab.live import PRESETS, AppLimits, LiveComparison, load_ui_signal, parse_share_query, with_app_cadence


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

    def stream() -> float:
        live = LiveComparison(app_config, [methods[0]], signal)
        for frame in live.frames():
            for spec in (frame.curves, frame.ntk, frame.kernel, frame.activations, frame.errors, frame.bands,
                         frame.reconstruction):
                if spec is not None:
                    plots.render(spec).to_json()
        return live.runs[0].final.steps_per_s

    ways = {
        "headless": lambda: run_to_end(config, signal)[1].steps_per_s,
        "app cadence": lambda: run_to_end(app_config, signal)[1].steps_per_s,
        "app stream": stream,
    }
    print(f"{args.preset}: {methods[0]} on {signal.summary()}, {config.steps} steps, {device}")
    results = {}
    for name, measure in ways.items():
        samples = [measure() for _ in range(args.repeats)]
        results[name] = statistics.median(samples)
        print(f"  {name:<12} {results[name]:7.1f} steps/s (median of {', '.join(f'{s:.1f}' for s in samples)})"
              f"  ratio {results[name] / results['headless']:.2f}", flush=True)


if __name__ == "__main__":
    main()
