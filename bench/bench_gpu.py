"""Eager vs the fast path on a GPU: CUDA graphs and torch.compile, side by side (stepper.py).

    python bench/bench_gpu.py [--steps 1000] [--no-tf32] [--cases siren_image,spder_image,siren_audio,relu_pe_image]

For each case: steps/s of eager, CUDA-graph and compiled training (wall time of the whole run,
logging every 100 steps, no diagnostics; compilation is warmed up first and not timed), the mode
the plan picks for the run (fast_path_plan: graphs when launch-bound, compiled when compute-bound)
and the PSNR after `--steps`, which must agree with eager within PARITY_DB (fp32). Beside it, the
run's own round-off sensitivity: eager again from an init nudged by one ulp. On CUDA, TF32's PSNR
cost (the planned fast path with TF32 matmuls) is a column; `--no-tf32` leaves it out (TF32 stays
off by default).

Exits with 1 on a breach: any fast mode more than PARITY_DB from eager, or — the compiled step's
target (issue "GPU-backed, measured") — SIREN 5×256 on 256² compiled below COMPILE_TARGET × eager's
steps/s or more than COMPILE_PARITY_DB from eager's PSNR at 1000 steps. Earlier goals (issue 13,
H100): ≥ 1000 steps/s for SIREN 5×256 on a 256² image at equal PSNR; SPDER's step ≤ 1.3× SIREN's.
Without CUDA it runs eager and the fast path's code without graphs on the CPU at a tenth of the
size, as a smoke test (no graphs, no compile: the GPU figures are unmeasured there).
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


PARITY_DB = 0.5  # any fast mode vs eager, fp32
COMPILE_TARGET, COMPILE_PARITY_DB = 1.25, 0.1  # compiled SIREN 5×256 on 256²: ≥ 1.25× eager, ±0.1 dB
COMPILE_CASE = "siren_image"


def measure(config: RunConfig, signal, mode: str, tf32: bool = False, nudge: bool = False) -> tuple[float, float, str]:
    """(steps/s, final PSNR, mode run) of one run in `mode`: eager, graphs, compiled, static, or
    plan (what fast_path_plan picks for this run by default, fast=auto)."""
    fast = {"eager": "off", "plan": "auto"}.get(mode, "on")
    run = Run(config.replace(fast=fast, tf32=tf32), signal)
    if mode in ("graphs", "compiled", "static"):
        run.step_mode = mode  # the bench compares every mode on every case, whatever the plan picks
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


def modes_for(cuda: bool) -> list[str]:
    """The fast modes this device can run: graphs and (where Inductor can) compiled on CUDA; the
    graph-less fast path elsewhere."""
    from spectral_lab.stepper import compile_blocker

    if not cuda:
        return ["static"]
    blocker = compile_blocker(torch.device("cuda"))
    if blocker:
        print(f"(no compiled column: {blocker})")
    return ["graphs"] + ([] if blocker else ["compiled"])


def bench_case(key: str, label: str, config: RunConfig, signal, modes: list[str], tf32: bool) -> tuple[str, list[str]]:
    """One row of the table and its breaches."""
    for mode in ["eager", *modes]:  # warm-up: allocator, kernels, and the compilation, untimed
        measure(config.replace(steps=20), signal, mode)
    eager_rate, eager_psnr, _ = measure(config, signal, "eager")
    _, nudged_psnr, _ = measure(config, signal, "eager", nudge=True)
    _, _, planned = measure(config.replace(steps=1), signal, "plan")
    cells, breaches = [], []
    for mode in modes:
        rate, psnr, _ = measure(config, signal, mode)
        cells.append(f"{rate:.0f} ({rate / eager_rate:.2f}×) | {psnr:.2f} ({psnr - eager_psnr:+.2f})")
        if not abs(psnr - eager_psnr) <= PARITY_DB:
            breaches.append(f"{label}, {mode}: {psnr:.2f} vs eager {eager_psnr:.2f} dB")
        if mode == "compiled" and key == COMPILE_CASE and not (
                rate >= COMPILE_TARGET * eager_rate and abs(psnr - eager_psnr) <= COMPILE_PARITY_DB):
            breaches.append(f"{label}, compiled: {rate / eager_rate:.2f}× eager (target ≥ {COMPILE_TARGET}×), "
                            f"{psnr - eager_psnr:+.2f} dB (target ±{COMPILE_PARITY_DB})")
    row = (f"| {label} | {signal.summary()} | {planned} | {eager_rate:.0f} | {eager_psnr:.2f} | "
           + " | ".join(cells) + f" | {nudged_psnr - eager_psnr:+.2f} |")
    if tf32:
        tf32_rate, tf32_psnr, _ = measure(config, signal, "plan", tf32=True)
        row += f" {tf32_rate:.0f} | {tf32_psnr - eager_psnr:+.2f} |"
    return row, breaches


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
    device = (torch.cuda.get_device_name() if cuda
              else f"CPU ({torch.get_num_threads()} threads; smoke test at 1/10 size)")
    print(f"device: {device}; torch {torch.__version__}; {steps} steps; PSNR with R = 2"
          + ("" if cuda else "; graphs and compiled are CUDA modes: unmeasured here"))
    modes = modes_for(cuda)
    header = ("| case | signal | plan picks | eager steps/s | PSNR eager | "
              + " | ".join(f"{m} steps/s (× eager) | PSNR {m} (Δ dB)" for m in modes) + " | Δ of a 1-ulp nudge |")
    if tf32:
        header += " planned+TF32 steps/s | TF32 Δ dB |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    table, breaches = cases(scale), []
    for key in [c for c in args.cases.split(",") if c]:
        label, config, signal = table[key]
        config = config.replace(steps=steps, log_every=100, preview_every=0, device="cuda" if cuda else "cpu")
        row, found = bench_case(key, label, config, signal, modes, tf32)
        print(row, flush=True)
        breaches += found
    if breaches:
        print("breach: " + "; ".join(breaches), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
