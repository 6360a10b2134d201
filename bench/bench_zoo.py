"""Every method's defaults on the three kinds of signal: PSNR after 200 steps vs a zero output, and
the wall time (issue 18, item 3). The same runs as `SPECTRAL_LAB_ZOO_DEFAULTS=1 pytest -k defaults_learn`.

    python bench/bench_zoo.py                          # 20 methods × (sines, chip_melody 8000, camera 64²)
    python bench/bench_zoo.py --methods gauss,wire --no-flush   # with subnormal floats computed in full

--no-flush turns off the flush of subnormal floats to zero that `import spectral_lab` sets: Gaussian-
type activations underflow into subnormals, which x86 CPUs compute several times slower.
Measured here (2 cores, sines, 200 steps, 1 thread): gauss 18.3 s → 3.3 s, wire 48.8 s → 8.3 s with
the flush, same PSNR.
"""
from __future__ import annotations

import argparse
import time

import torch

from spectral_lab.config import RunConfig
from spectral_lab.methods import METHODS
from spectral_lab.train import run_to_end

SIGNALS = {"1d": {"signal": "sines"}, "audio": {"signal": "chip_melody", "length": 8000},
           "image": {"signal": "camera", "image_size": 64}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", help="comma-separated methods [all]")
    parser.add_argument("--kinds", default="1d,audio,image", help="comma-separated: 1d, audio, image [all three]")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--no-flush", action="store_true", help="compute subnormal floats in full")
    args = parser.parse_args()
    if args.no_flush:
        torch.set_flush_denormal(False)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    print(f"{'kind':6} {'method':12} {'PSNR':>7} {'zero':>6} {'margin':>7} {'params':>7} {'seconds':>8}")
    for kind in args.kinds.split(","):
        for method in methods:
            start = time.perf_counter()
            _, final = run_to_end(RunConfig.from_dict({**SIGNALS[kind], "method": method, "steps": args.steps}))
            zero = final.metrics["zero_output_psnr"]
            print(f"{kind:6} {method:12} {final.psnr:7.2f} {zero:6.2f} {final.psnr - zero:+7.2f} "
                  f"{final.metrics['params']:7d} {time.perf_counter() - start:8.1f}", flush=True)


if __name__ == "__main__":
    main()
