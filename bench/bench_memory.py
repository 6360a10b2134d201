"""The memory estimate (spectral_lab/memory.py) beside what a run really takes.

    python bench/bench_memory.py [--cases siren_64,siren_128,relu_pe_128,hashgrid_128,spder_128,siren_256]

Each case runs in a fresh process: a first run of the same config loads every library and kernel;
then freed memory goes back to the system (malloc_trim), the peak resident set size is reset
(`5 > /proc/self/clear_refs`, Linux), and a second run is built and trained a few steps: its
VmHWM − VmRSS before it is what the run took. glibc's dynamic mmap threshold is pinned
(MALLOC_MMAP_THRESHOLD_), so a freed activation goes back to the system instead of staying in the
heap and reading as use. On CUDA the case reports torch.cuda.max_memory_allocated instead.
A `_batch4` case trains four seeds as one stacked batch: its estimate is the four runs' sum, what
memory.runs_per_batch splits batches by. Ratio = estimate / measured (above 1: the check errs on
the safe side).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASES = {
    "siren_64": dict(signal="camera", image_size=64, method="siren", width=128, depth=3),
    "siren_128": dict(signal="camera", image_size=128, method="siren", width=256, depth=4),
    "siren_256": dict(signal="camera", image_size=256, method="siren", width=256, depth=5),
    "relu_pe_128": dict(signal="camera", image_size=128, method="relu_pe", width=256, depth=4),
    "hashgrid_128": dict(signal="camera", image_size=128, method="hashgrid", width=64, depth=2),
    "spder_128": dict(signal="camera", image_size=128, method="spder", width=256, depth=4),
    "siren_128_batch4": dict(signal="camera", image_size=128, method="siren", width=256, depth=4, runs=4),
    "siren_audio": dict(signal="chiptune", length=65536, signal_options="sample_rate=44100", method="siren", width=222,
                        depth=4),
}

CHILD = r"""
import ctypes, json, re, sys, torch
torch.set_num_threads(1)
from spectral_lab import RunConfig, Run
from spectral_lab.signals import signal_for


def status(key):
    return int(re.search(key + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024


settings = json.loads(sys.argv[1])
device = settings.pop("device")
count = settings.pop("runs", 1)  # more than 1: that many seeds as one stacked batch (batched.py)
config = RunConfig(**settings, steps=3, log_every=1, preview_every=0, device=device)
signal = signal_for(config)
for _ in Run(config, signal):  # every library and kernel loaded: not the run's memory
    pass
ctypes.CDLL("libc.so.6").malloc_trim(0)
if device == "cuda":
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
else:
    open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
    base = status("VmRSS")
runs = [Run(config.replace(seed=seed), signal) for seed in range(count)]
if count == 1:
    for _ in runs[0]:
        pass
else:
    import spectral_lab.batched as batched

    batched.CPU_BATCH_BYTES = 1e18  # all of them as one batch: the memory of a stack, not the CPU's cap
    assert batched.train_runs(runs)[0].batch == f"{count} runs stacked"
peak = torch.cuda.max_memory_allocated() if device == "cuda" else status("VmHWM")
print(json.dumps({"estimate": sum(r.memory.total for r in runs), "measured": peak - base,
                  "activations": sum(r.memory.activations for r in runs), "points": signal.num_points}))
"""


def measure(settings: dict, device: str) -> dict:
    environment = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps({**settings, "device": device})],
                          capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        raise SystemExit(f"{settings}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    import torch

    from spectral_lab.memory import format_bytes

    device = "cuda" if torch.cuda.is_available() else "cpu"
    what = "torch.cuda.max_memory_allocated" if device == "cuda" else "VmHWM − VmRSS around a second run"
    print(f"device: {device}; measured = {what}")
    print("| case | points | estimate | of which activations | measured | estimate / measured |")
    print("|---|---|---|---|---|---|")
    for name in [c for c in args.cases.split(",") if c]:
        result = measure(CASES[name], device)
        print(f"| {name} | {result['points']:,} | {format_bytes(result['estimate'])} | "
              f"{format_bytes(result['activations'])} | {format_bytes(result['measured'])} | "
              f"{result['estimate'] / max(result['measured'], 1):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
