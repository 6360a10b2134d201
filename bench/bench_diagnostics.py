"""Cost of the diagnostics: eNTK for M = 256/1024/2048 (layer-wise identity and torch.func),
the dense kernel against the matrix-free top-64 eigenpairs (Lanczos) for N up to 4k (CPU) /
16k (GPU), activation statistics, error maps, and training throughput with diagnostics on vs off.

    python bench/bench_diagnostics.py          # CPU (and CUDA when present)
    python bench/bench_diagnostics.py --full   # also torch.func at M = 2048 (slow on CPU)
    python bench/bench_diagnostics.py --only spectrum   # just dense vs matrix-free
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from spectral_lab import Run, RunConfig, build_model, load_signal
from spectral_lab.diagnostics import activation_stats, band_relative_error, error_map
from spectral_lab.ntk import empirical_ntk, ntk_diagnostics, subgrid
from spectral_lab.signals import make_synthetic


def timed(fn, device, repeat=3) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat * 1000


def bench_spectrum(device, full: bool) -> None:
    """Time and memory of the eNTK's top eigenpairs: dense (form K, eigh) vs matrix-free Lanczos.
    Memory: the arrays each path holds, K (8·N² bytes) vs the layers' inputs and output gradients
    (8·N·Σ(in + out)), and on CUDA the peak allocated."""
    from spectral_lab.ntk import TOP_EIGENPAIRS, float64_copy, top_eigenpairs

    signal = make_synthetic("chiptune", length=32768)
    model = float64_copy(build_model(RunConfig(method="siren", width=256, depth=4), signal)).to(device)
    per_point = sum(m.in_features + m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    sizes = (1024, 2048, 4096) + ((8192, 16384) if device.type == "cuda" or full else ())
    print(f"\n[{device.type}] eNTK top-{TOP_EIGENPAIRS} eigenvalues of SIREN 4×256, float64: dense vs matrix-free")
    print(f"{'N':>6} {'dense s':>9} {'dense MB':>9} {'Lanczos s':>10} {'Lanczos MB':>11} {'max rel. diff':>14}")
    for n in sizes:
        index, _ = subgrid(signal.grid, n, "window")
        points = torch.from_numpy(signal.coords[index]).to(device).double()
        dense, dense_values = "skipped", None
        if n <= 4096 or device.type == "cuda":
            started = time.perf_counter()
            dense_values = np.sort(np.linalg.eigvalsh(empirical_ntk(model, points)))[::-1][:TOP_EIGENPAIRS]
            dense = f"{time.perf_counter() - started:9.2f}"
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        values = np.sort(top_eigenpairs(model, points)[0])[::-1]
        lanczos = time.perf_counter() - started
        held = (torch.cuda.max_memory_allocated() if device.type == "cuda" else 8 * n * per_point) / 1e6
        diff = f"{np.max(np.abs(values - dense_values) / dense_values):.1e}" if dense_values is not None else "–"
        print(f"{n:>6} {dense:>9} {8 * n * n / 1e6:9.0f} {lanczos:10.2f} {held:11.0f} {diff:>14}", flush=True)


def bench_ntk(device, full: bool) -> None:
    signal = make_synthetic("chiptune", length=16384)
    model = build_model(RunConfig(method="siren", width=256, depth=4), signal).to(device)
    print(f"\n[{device.type}] eNTK of SIREN 4×256 ({sum(p.numel() for p in model.parameters())} params)")
    print(f"{'M':>6} {'layer-wise K ms':>16} {'torch.func K ms':>16} {'full diagnostic ms':>19} "
          f"{'float32 diagnostic ms':>22}")
    for m in (256, 1024, 2048):
        index, _ = subgrid(signal.grid, m, "window")
        points = torch.from_numpy(signal.coords[index]).to(device)
        fast = timed(lambda: empirical_ntk(model, points), device)
        generic = "skipped"
        if full or m <= 1024 or device.type == "cuda":
            generic = f"{timed(lambda: empirical_ntk(model, points, exact_layers=False), device, repeat=1):.1f}"
        whole = timed(lambda: ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=m), device,
                      repeat=1)  # float64 (the default)
        single = timed(lambda: ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=m,
                                               precision="float32"), device, repeat=1)
        print(f"{m:>6} {fast:16.1f} {generic:>16} {whole:19.1f} {single:22.1f}", flush=True)


def bench_others(device) -> None:
    print(f"\n[{device.type}] other diagnostics, ms")
    for signal in (load_signal("chip_melody"), load_signal("camera", image_size=128)):
        model = build_model(RunConfig(method="siren2", width=256, depth=4), signal).to(device)
        prediction = signal.values * 0.9
        error_map(signal, prediction)  # librosa's first STFT compiles (numba); not counted
        print(f"  {signal.summary():<44} activations {timed(lambda: activation_stats(model, signal), device):7.1f}"
              f"   error map {timed(lambda: error_map(signal, prediction), device):6.1f}"
              f"   band error {timed(lambda: band_relative_error(signal, prediction), device):6.1f}")


def bench_overhead(device) -> None:
    """Training steps/s with the app's diagnostic cadence vs none (the budget caps the cost)."""
    print(f"\n[{device.type}] training throughput with diagnostics (chip_melody 16k, SIREN² 3×128, 300 steps)")
    base = RunConfig(signal="chip_melody", method="siren2", width=128, depth=3, steps=300, log_every=10,
                     preview_every=50, device=device.type)
    with_diagnostics = base.replace(ntk_every=50, ntk_points=512, activations_every=100, errors_every=25,
                                    bands_every=10)
    for label, config in (("no diagnostics", base), ("app cadence, budget 15%", with_diagnostics)):
        run = Run(config)
        final = [s for s in run][-1]
        print(f"  {label:<26} {final.steps_per_s:7.1f} steps/s   diagnostics {final.diagnostics_seconds:5.2f} s "
              f"of {final.elapsed:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("ntk", "spectrum", "others", "overhead"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    parts = {"ntk": lambda d: bench_ntk(d, args.full), "spectrum": lambda d: bench_spectrum(d, args.full),
             "others": bench_others, "overhead": bench_overhead}
    for device in devices:
        for name, part in parts.items():
            if args.only in (None, name):
                part(device)


if __name__ == "__main__":
    main()
