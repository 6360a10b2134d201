"""Training throughput: spectral_lab's `fit` vs a minimal hand-written PyTorch loop, same model.

    python bench/bench_train.py            # CPU figures (and CUDA when a GPU is present)
    python bench/bench_train.py --quick    # fewer steps

The hand-written loop is the reference a researcher would write: SIREN, full-batch Adam, MSE,
no logging. Our `fit` adds the schedule, the loss buffer, the Snapshot cadence (log_every=10)
and best-state tracking. Ratio = ours / hand-written steps per second (1.0 = no overhead).
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from spectral_lab import RunConfig, Run, load_signal


class HandSiren(nn.Module):
    """SIREN written out by hand (Sitzmann et al.), independent of spectral_lab's modules."""

    def __init__(self, in_dim, out_dim, width, depth, first_omega0=30.0, omega0=30.0):
        super().__init__()
        dims = [in_dim] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(width, out_dim)
        self.omegas = [first_omega0] + [omega0] * (depth - 1)
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                bound = 1 / layer.in_features if i == 0 else math.sqrt(6 / layer.in_features) / omega0
                layer.weight.uniform_(-bound, bound)

    def forward(self, x):
        for layer, omega in zip(self.layers, self.omegas):
            x = torch.sin(omega * layer(x))
        return self.head(x)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_hand_loop(signal, width, depth, first_omega0, steps, device) -> float:
    torch.manual_seed(0)
    model = HandSiren(signal.in_dim, signal.channels, width, depth, first_omega0).to(device)
    coords = torch.from_numpy(signal.coords).to(device)
    target = torch.from_numpy(signal.values).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(coords) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(5):  # warm-up (allocator, kernels)
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    sync(device)
    return steps / (time.perf_counter() - start)


def time_fit(signal, width, depth, first_omega0, steps, device) -> float:
    config = RunConfig(signal="given", method="siren", width=width, depth=depth, first_omega0=first_omega0,
                       steps=steps + 5, lr=1e-4, device=device.type, log_every=10, preview_every=0)
    run = Run(config, signal)
    start = end = None
    for snapshot in run.snapshots():
        if snapshot.done:  # the final Snapshot evaluates the best parameters: not a training step
            break
        sync(device)
        if start is None:  # first Snapshot at step 10: warm-up done; time from here
            start, first_step = time.perf_counter(), snapshot.step
        end, last_step = time.perf_counter(), snapshot.step
    return (last_step - first_step) / (end - start)


def cases(device: torch.device, quick: bool):
    from spectral_lab.signals import make_synthetic, shared_data, load_audio

    if device.type == "cpu":
        yield "1D 16k samples, SIREN 4×256", make_synthetic("chiptune", length=16384), 256, 4, 3000.0, 20 if quick else 40
        yield "image 128², SIREN 4×256", load_signal("camera", image_size=128), 256, 4, 30.0, 20 if quick else 30
        return
    steps = 200 if quick else 1000
    yield "image 256², SIREN 5×256", load_signal("camera", image_size=256), 256, 5, 30.0, steps
    tetris = shared_data("audio/tetris.wav")
    if tetris is not None:
        yield "tetris.wav 150k, SIREN 4×222", load_audio(tetris, length=150_000), 222, 4, 3000.0, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (CI machines have 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {args.threads} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA"))
    print(f"{'device':<6} {'case':<32} {'hand steps/s':>12} {'fit steps/s':>12} {'ms/step (fit)':>13} {'ratio':>6}")
    for device in devices:
        for label, signal, width, depth, first_omega0, steps in cases(device, args.quick):
            hand = time_hand_loop(signal, width, depth, first_omega0, steps, device)
            ours = time_fit(signal, width, depth, first_omega0, steps, device)
            print(f"{device.type:<6} {label:<32} {hand:12.2f} {ours:12.2f} {1000 / ours:13.2f} {ours / hand:6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
