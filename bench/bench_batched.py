"""Many runs as one stacked model (batched.py) against the same runs one after the other.

    python bench/bench_batched.py [--runs 8] [--steps 300] [--threads 2] [--cases image,audio] [--no-winner]

Serial: each run trained alone by its own Run (the eager step on a CPU; on CUDA the fast path the
plan picks). Batched: the same configs through batched.train_runs (one stacked model, each run's
own Adam and rate; CUDA graphs on CUDA). Throughput = runs × steps / wall seconds, the runs' seeds
and rates differing as in a sweep (seeds 0…R−1, every other run at twice the rate). Every run's
final PSNR must agree within 0.01 dB between the two: the script exits with 1 on a breach.
Targets (issue "GPU-backed, measured"): on a CPU, 8 app-size runs (SIREN 3×128 on 64², 300 steps)
≥ 3× serial; on a GPU, 10 such runs ≥ 5×.

WINNER Table 1 at paper scale (11 clips × SIREN/SIREN² × 5 seeds × 30,000 steps, 150,000 samples,
4×222) must take under 3 hours on one H200: on CUDA the script trains one batch per method (as many
runs as fit, memory.runs_per_batch) for a few hundred steps, measures steps/s and extrapolates the
110 runs; on a CPU it runs the same arithmetic at a tiny size, as a smoke test of the script only.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from spectral_lab import Run, RunConfig
from spectral_lab.batched import train_runs
from spectral_lab.signals import load_audio, load_image, make_synthetic

SHARED_TETRIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "tetris.wav"
PSNR_TOLERANCE_DB = 0.01
TARGETS = {"cpu": 3.0, "cuda": 5.0}  # batched ÷ serial throughput, app-size runs
WINNER_HOURS = 3.0


def app_cases(names: list[str]) -> dict:
    cases = {"image": ("SIREN 3×128 on camera 64²", load_image("camera", size=64)),
             "audio": ("SIREN 3×128 on 2,048 samples", make_synthetic("sines", length=2048))}
    return {name: cases[name] for name in names}


def configs_for(runs: int, steps: int, device: str, **settings) -> list[RunConfig]:
    base = RunConfig(signal="given", method="siren", width=128, depth=3, steps=steps, log_every=100,
                     preview_every=0, device=device, **settings)
    return [base.replace(seed=seed, lr=(2e-4 if seed % 2 else 1e-4)) for seed in range(runs)]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def serial(configs: list[RunConfig], signal) -> tuple[float, list[float]]:
    started = time.perf_counter()
    finals = []
    for config in configs:
        run = Run(config, signal)
        for _ in run:
            pass
        finals.append(run.final.metrics["psnr"])
    sync(configs[0].device)
    return time.perf_counter() - started, finals


def batched(configs: list[RunConfig], signal) -> tuple[float, list[float], str]:
    started = time.perf_counter()
    outcomes = train_runs([Run(config, signal) for config in configs])
    sync(configs[0].device)
    seconds = time.perf_counter() - started
    return seconds, [o.run.final.metrics["psnr"] for o in outcomes], outcomes[0].batch


def app_size(args, device: str) -> list[str]:
    """The serial-vs-batched table; returns the breaches."""
    runs = args.runs or (10 if device == "cuda" else 8)
    print(f"| case | runs × steps | serial runs·steps/s | batched runs·steps/s | speed-up | target | "
          f"max |ΔPSNR| dB | how |")
    print("|---|---|---|---|---|---|---|---|")
    breaches = []
    for label, signal in app_cases(args.cases.split(",")).values():
        configs = configs_for(runs, args.steps, device)
        batched(configs_for(2, 10, device), signal)  # warm-up: kernels, allocator, imports
        serial_s, serial_psnr = serial(configs, signal)
        batch_s, batch_psnr, how = batched(configs, signal)
        work = runs * args.steps
        speedup = serial_s / batch_s
        worst = max(abs(a - b) for a, b in zip(serial_psnr, batch_psnr))
        target = TARGETS[device]
        verdict = "met" if speedup >= target else "MISSED"
        print(f"| {label} | {runs} × {args.steps} | {work / serial_s:.1f} | {work / batch_s:.1f} | {speedup:.2f}× | "
              f"≥ {target:.0f}× {verdict} | {worst:.4f} | {how} |", flush=True)
        if not worst <= PSNR_TOLERANCE_DB:
            breaches.append(f"{label}: batched PSNR differs from serial by {worst:.4f} dB")
    return breaches


def winner_table1(device: str, steps: int) -> None:
    """Measure one batch per method at paper size (CUDA) or a smoke size (CPU); extrapolate."""
    from spectral_lab import memory

    cuda = device == "cuda"
    samples = 150_000 if cuda else 4096
    if SHARED_TETRIS.is_file():
        signal = load_audio(SHARED_TETRIS, length=samples)
    else:
        signal = make_synthetic("chiptune", length=samples, options="sample_rate=44100")
    total_runs = 11 * 5  # per method: 11 clips × 5 seeds (clips of one length share a batch)
    paper_steps = 30_000
    hours = 0.0
    print(f"\nWINNER Table 1 ({'paper scale' if cuda else 'CPU smoke size, not the target'}): {signal.summary()}, "
          f"4×222, {steps} measured steps per method")
    for method in ("siren", "siren2"):
        base = RunConfig(signal="given", method=method, width=222, depth=4, steps=steps, log_every=max(1, steps // 4),
                         preview_every=0, device=device, lr=1e-4)
        probe = Run(base, signal)
        per_batch = memory.runs_per_batch(probe.memory.total, probe.device, total_runs)
        del probe
        configs = [base.replace(seed=seed) for seed in range(per_batch)]
        seconds, _, how = batched(configs, signal)
        rate = steps / seconds  # steps/s of the batch: every run advances one step per batch step
        batches = math.ceil(total_runs / per_batch)
        method_hours = batches * paper_steps / rate / 3600
        hours += method_hours
        print(f"  {method}: {per_batch} runs per batch ({how}), {rate:.2f} batch steps/s -> {batches} batch(es) × "
              f"{paper_steps:,} steps = {method_hours:.2f} h", flush=True)
    verdict = "under" if hours < WINNER_HOURS else "OVER"
    print(f"  extrapolated: {hours:.2f} h for 110 runs ({verdict} the {WINNER_HOURS:.0f} h target"
          f"{'' if cuda else '; a CPU smoke size says nothing about an H200'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=0, help="runs per case [8 on a CPU, 10 on CUDA]")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads [2]")
    parser.add_argument("--cases", default="image,audio")
    parser.add_argument("--winner-steps", type=int, default=0, help="steps measured per WINNER batch [200; CPU 10]")
    parser.add_argument("--no-winner", action="store_true", help="leave out the WINNER Table 1 extrapolation")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; PSNR with R = 2"
          + ("" if device == "cuda" else "; GPU targets unmeasured here"))
    breaches = app_size(args, device)
    if not args.no_winner:
        winner_table1(device, args.winner_steps or (200 if device == "cuda" else 10))
    if breaches:
        print("PSNR breach: " + "; ".join(breaches), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
