"""Eager vs the fast path (CUDA graphs of forward+backward and Adam, stepper.py) on a GPU.

    python bench/bench_gpu.py [--steps 1000] [--tf32] [--cases siren_image,spder_image,siren_audio,relu_pe_image]

For each case: steps/s of eager and fast training (wall time of the whole run, logging every
100 steps, no diagnostics) and the PSNR after `--steps`, which must agree within PARITY_DB (fp32):
the script exits with 1 on a breach. Beside it, the run's own round-off sensitivity: eager again
from an init nudged by one ulp (a difference the fast path may not exceed by much either way).
On CUDA, TF32's PSNR cost (the fast path with TF32 matmuls) is a column of every row; `--no-tf32`
leaves it out. Goals (issue 13, H100): ≥ 1000 steps/s for SIREN 5×256 on a 256² image at equal PSNR;
SPDER's step ≤ 1.3× SIREN's. Without CUDA it runs the same table on the CPU at a tenth of the
size (the fast path's code without graphs), as a smoke test.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from spectral_lab import RunConfig, Run
from spectral_lab.signals import load_audio, load_image, make_synthetic

SHARED_TETRIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "tetris.wav"


def cases(scale: float) -> dict:
    side = max(16, int(256 * scale))
    samples = max(2048, int(150_000 * scale))
    image = load_image("camera", size=side)
    if SHARED_TETRIS.is_file():
        audio = load_audio(SHARED_TETRIS, length=samples)
    else:
        audio = make_synthetic("chiptune", length=samples, options="sample_rate=44100")
    return {
        "siren_image": ("SIREN 5×256, image", RunConfig(method="siren", width=256, depth=5), image),
        "spder_image": ("SPDER 5×256, image", RunConfig(method="spder", width=256, depth=5), image),
        "siren_audio": ("SIREN 4×222, audio", RunConfig(method="siren", width=222, depth=4), audio),
        "relu_pe_image": ("ReLU+PE 5×256, image", RunConfig(method="relu_pe", width=256, depth=5, lr=1e-3), image),
    }


PARITY_DB = 0.5  # fast vs eager, fp32


def measure(config: RunConfig, signal, fast: str, tf32: bool = False, nudge: bool = False) -> tuple[float, float, str]:
    run = Run(config.replace(fast=fast, tf32=tf32), signal)
    if nudge:  # every weight one ulp up: how far round-off alone moves this run
        with torch.no_grad():
            for parameter in run.model.parameters():
                parameter.copy_(torch.nextafter(parameter, torch.full_like(parameter, float("inf"))))
    start = time.perf_counter()
    for _ in run:
        pass
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return run.final.metrics["steps"] / seconds, run.final.metrics["psnr"], run.step_mode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--no-tf32", action="store_true", help="leave out the TF32 column (CUDA)")
    parser.add_argument("--cases", default="siren_image,spder_image,siren_audio,relu_pe_image")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    scale = 1.0 if cuda else 0.1
    steps = args.steps if cuda else min(args.steps, 100)
    tf32 = cuda and not args.no_tf32
    device = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads; smoke test at 1/10 size)"
    print(f"device: {device}; torch {torch.__version__}; {steps} steps; PSNR with R = 2")
    header = ("| case | signal | eager steps/s | fast steps/s | speed-up | PSNR eager | PSNR fast | Δ dB | "
              "Δ of a 1-ulp nudge |")
    if tf32:
        header += " fast+TF32 steps/s | PSNR TF32 | TF32 cost dB |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    table, breaches = cases(scale), []
    for key in [c for c in args.cases.split(",") if c]:
        label, config, signal = table[key]
        config = config.replace(steps=steps, log_every=100, preview_every=0, device="cuda" if cuda else "cpu")
        measure(config.replace(steps=20), signal, "off")  # warm-up: allocator, kernels
        eager_rate, eager_psnr, _ = measure(config, signal, "off")
        fast_rate, fast_psnr, mode = measure(config, signal, "on")
        _, nudged_psnr, _ = measure(config, signal, "off", nudge=True)
        row = (f"| {label} ({mode}) | {signal.summary()} | {eager_rate:.0f} | {fast_rate:.0f} | "
               f"{fast_rate / eager_rate:.2f}× | {eager_psnr:.2f} | {fast_psnr:.2f} | {fast_psnr - eager_psnr:+.2f} | "
               f"{nudged_psnr - eager_psnr:+.2f} |")
        if tf32:
            tf32_rate, tf32_psnr, _ = measure(config, signal, "on", tf32=True)
            row += f" {tf32_rate:.0f} | {tf32_psnr:.2f} | {tf32_psnr - fast_psnr:+.2f} |"
        print(row, flush=True)
        if not abs(fast_psnr - eager_psnr) <= PARITY_DB:
            breaches.append(f"{label}: fast {fast_psnr:.2f} vs eager {eager_psnr:.2f} dB")
    if breaches:
        print(f"parity breach (|Δ| > {PARITY_DB} dB): " + "; ".join(breaches), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
