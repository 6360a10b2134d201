"""What a task (denoise, inpaint, superres) adds to a run's time, against a fit of the same size.

    .venv/bin/python bench/bench_tasks.py [--repeats 5] [--threads 1] [--quick] [--tasks fit,superres]
                                          [--preview-every 0]

A task's step costs what a fit's step costs on the samples it trains on; on top of it a task
measures its held-out PSNR at each log point (one forward over ≤ max(training samples, 1024) held-out
samples; a denoiser reads its own step's output and needs none), and a task that trains on part of the
grid (inpaint, superres) renders the whole grid for each preview (every 100 steps by default; here every
50, so that a short run times one: an upper bound; `--preview-every 0` times the curve alone). So each
task run is timed beside a fit on a signal with as many samples as its training set (the same signal
for denoise; for inpaint the first rows of the image or the first samples of the recording; for
superres the sub-grid itself), with the task run's resolved settings (the same network). Time per
step: from the first log point to the last (the warm-up and the final evaluation left out, as
bench_train does); the overhead is the median over `--repeats` pairs, a task run and its fit back to back
(so both meet the same load), of (task ms/step) / (fit ms/step) − 1. On the
process's CPU clock with one torch thread (the default): on a machine other work shares, wall time
swung ±25 % between identical runs, the CPU time of a one-thread run counts its own work; the wall
clock's overhead is printed beside it. The fit row (a fit against itself) shows how far two identical
runs differ. The issue's target is ≤ 10 %.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from spectral_lab import Run, RunConfig, load_signal
from spectral_lab.signals import Signal
from spectral_lab.tasks import split_task

TASKS = {"fit": {}, "denoise": {"noise_std": 0.1}, "inpaint": {"keep": 0.5}, "superres": {"factor": 4}}
METHODS = ("relu_pe", "siren")


def signals(quick: bool) -> list[tuple[str, Signal, int]]:
    """(label, signal, steps): steps enough for ≥ 4 log points after the warm-up, ~1–5 s a run on 2 cores."""
    cases = [("camera 64²", lambda: load_signal("camera", image_size=64, gray=True), 110),
             ("camera 128²", lambda: load_signal("camera", image_size=128, gray=True), 60),
             ("chip_melody 16,000", lambda: load_signal("chip_melody"), 60)]
    return [(label, load(), steps) for label, load, steps in cases[:1 if quick else None]]


def training_sized(signal: Signal, config: RunConfig) -> Signal:
    """A signal of the same kind with as many samples as `config`'s task trains on, on a regular grid."""
    split = split_task(config, signal)
    if config.task == "superres":
        return split.observed  # the sub-grid at its true coordinates: exactly the training set
    if split.num_train == signal.num_points:
        return signal
    if signal.kind == "image":  # the first rows: as many pixels (keep 0.5 of 64² is 32 rows of 64)
        grid = (split.num_train // signal.grid[1], signal.grid[1])
    else:  # the first samples of the recording
        grid = (split.num_train,)
    count = int(np.prod(grid))
    return Signal(values=signal.values[:count], grid=grid, kind=signal.kind, name=f"{signal.name} (first {count:,})",
                  sample_rate=signal.sample_rate, scale=signal.scale, offset=signal.offset)


def ms_per_step(config: RunConfig, signal: Signal) -> tuple[float, float]:
    """(CPU, wall) milliseconds per training step between the first and the last log point."""
    run = Run(config, signal)
    start = end = None
    for snapshot in run:
        if snapshot.done:  # the final evaluation is not a training step
            break
        if start is None:
            start, first = (time.process_time(), time.perf_counter()), snapshot.step
        end, last = (time.process_time(), time.perf_counter()), snapshot.step
    return tuple(1000 * (b - a) / (last - first) for a, b in zip(start, end))


def resolved(config: RunConfig, signal: Signal) -> RunConfig:
    """`config` with every signal-derived default filled in (PE levels, lr, …) from the task's observed
    signal: the fit beside it builds the same network."""
    return Run(config.replace(steps=1), signal).config.replace(steps=config.steps)


def measure(method: str, signal: Signal, steps: int, task: str, repeats: int,
            preview_every: int) -> tuple[float, tuple[float, float], tuple[float, float], int]:
    """(task CPU ms/step, (CPU, wall) overhead against a fit on the training-sized signal, training
    samples): medians of `repeats` pairs, each pair run back to back, so that both meet the same load."""
    config = resolved(RunConfig(method=method, steps=steps, task=task, preview_every=preview_every, **TASKS[task]),
                      signal)
    reference = training_sized(signal, config)
    fit = config.replace(task="fit")
    pairs = [(ms_per_step(config, signal), ms_per_step(fit, reference)) for _ in range(repeats)]
    task_ms, fit_ms = (statistics.median(pair[run][0] for pair in pairs) for run in (0, 1))
    overhead = tuple(statistics.median(ours[clock] / theirs[clock] - 1 for ours, theirs in pairs) for clock in (0, 1))
    return task_ms, fit_ms, overhead, reference.num_points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (1: the CPU clock then counts this run's own work alone)")
    parser.add_argument("--quick", action="store_true", help="camera 64² only")
    parser.add_argument("--tasks", default=",".join(TASKS), help="which tasks, comma-separated")
    parser.add_argument("--preview-every", type=int, default=50,
                        help="steps between previews (the default run's 100 is doubled so a 60-step run times one; "
                             "0: none, the held-out curve's cost alone)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, median of {args.repeats}; log every 10 steps, "
          f"preview every {args.preview_every or 'never'}")
    print(f"{'signal':<20} {'method':<8} {'task':<9} {'trains on':>9} {'task ms/step':>12} {'fit ms/step':>11} "
          f"{'overhead':>8} {'(wall)':>7}")
    worst = []
    for label, signal, steps in signals(args.quick):
        for method in METHODS:
            for task in args.tasks.split(","):
                ours, fit, (overhead, wall), samples = measure(method, signal, steps, task, args.repeats,
                                                               args.preview_every)
                worst.append((overhead, f"{label} {method} {task}"))
                print(f"{label:<20} {method:<8} {task:<9} {samples:>9,} {ours:12.2f} {fit:11.2f} "
                      f"{overhead:8.1%} {wall:7.1%}", flush=True)
    overhead, where = max(worst)
    print(f"largest overhead: {overhead:.1%} ({where})")


if __name__ == "__main__":
    main()
