"""Lesson 5's sceptic: how far do plain training's own speed-ups move the bands at equal PSNR?

    .venv/bin/python bench/bench_steering.py [--seeds 0,1,2,3,4] [--twins lr4,lr8,lr16,steps2]

For each seed: the lesson's plain ReLU + PE run, against (a) the same network sped up — lr × 4, × 8,
× 16, or twice the steps — and (b) the lesson's IGA run. Each pair is read by the lesson's own
compare_paths (Δ per band averaged over equal-PSNR levels). A row: the largest band gain (the twin
left less error there), the largest loss, and the verdict the lesson would print. steering.HELPED and
HURT must sit above every speed-up's numbers (its claim "steered" holds only beyond all of them) and
below IGA's on every seed.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

from spectral_lab.lab.lessons import LESSONS, lesson_comparison
from spectral_lab.lab.lessons.steering import HELPED, HURT, compare_paths

TWINS = {"lr4": {"lr": 8e-3}, "lr8": {"lr": 1.6e-2}, "lr16": {"lr": 3.2e-2}, "steps2": {"steps": 600}}


def trained(seed: int, methods, **changes):
    live = lesson_comparison(LESSONS["steering"], seed=seed, changes=changes, methods=methods)
    for _ in live.frames():
        pass
    return live.views


def pair_row(seed: int, name: str, plain, twin) -> tuple:
    path = compare_paths(plain, twin)
    if path is None:
        return seed, name, float("nan"), float("nan"), "no shared PSNR range"
    return seed, name, float(path.gain.max()), float(-path.gain.min()), path.verdict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--twins", default=",".join(TWINS))
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        plain, iga = trained(seed, None)
        for name in args.twins.split(","):
            rows.append(pair_row(seed, name, plain, trained(seed, ["relu_pe"], **TWINS[name])[0]))
            print(*rows[-1], flush=True, file=sys.stderr)
        rows.append(pair_row(seed, "iga", plain, iga))
        print(*rows[-1], flush=True, file=sys.stderr)
    print(f"thresholds: helped ≥ {HELPED:.3f}, hurt ≥ {HURT:.3f} (Δ, averaged over the levels)")
    print("| seed | twin | largest gain | largest loss | verdict (0 = steered) |\n|---|---|---|---|---|")
    for seed, name, gain, loss, verdict in rows:
        print(f"| {seed} | {name} | {gain:.3f} | {loss:.3f} | {verdict} |")
    for name in [*args.twins.split(","), "iga"]:
        mine = [r for r in rows if r[1] == name]
        print(f"{name}: gain max {max(r[2] for r in mine):.3f} min {min(r[2] for r in mine):.3f}; "
              f"loss max {max(r[3] for r in mine):.3f} min {min(r[3] for r in mine):.3f}")


if __name__ == "__main__":
    main()
