"""Wall time of one 24-cell sweep on this machine: local sequential, a local process pool, Ray.

    python bench/bench_sweep.py [--workers 2] [--steps 150]

Grid: 2 signals (sines 2048, camera 48²) × 3 methods (relu, siren, siren2) × 2 seeds × 2 widths
(32, 64) = 24 tiny fits. Each backend writes to its own temporary folder (nothing resumed); the
tables must agree. Ray, if installed, is started here with num_cpus = --workers.
"""
from __future__ import annotations

import argparse
import tempfile
import time

from spectral_lab import RunConfig
from spectral_lab.sweep import grid_cells, run_sweep


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    base = RunConfig(length=2048, image_size=48, depth=3, steps=args.steps, log_every=50, preview_every=0)
    cells = grid_cells(base, ["sines", "camera"], ["relu", "siren", "siren2"], [0, 1], {"width": [32, 64]})
    ways = {"local, sequential": dict(backend="local"),
            f"local, --workers {args.workers}": dict(backend="local", workers=args.workers)}
    try:
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        ways[f"ray, {args.workers} CPUs"] = dict(backend="ray")
    except ImportError:
        print("(ray is not installed: pip install -e '.[ray]')")
    tables = {}
    print(f"{len(cells)} cells, {args.steps} steps each")
    for name, options in ways.items():
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            rows = run_sweep(cells, out, progress=False, **options)
            seconds = time.perf_counter() - start
        tables[name] = [(r["signal"], r["method"], r["seed"], r["width"], r["psnr_db"]) for r in rows]
        print(f"  {name:<22} {seconds:6.1f} s  ({sum(r['status'] == 'finished' for r in rows)} finished)", flush=True)
    first = next(iter(tables.values()))
    print("tables agree:", all(t == first for t in tables.values()))


if __name__ == "__main__":
    main()
