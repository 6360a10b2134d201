"""Fingerprints of every registered method (and each modifier on two bases): the resolved config
and the final PSNR of a short, fixed-seed run on a 1D signal, an audio clip and an image.

Run it before and after a restructuring and compare (`--compare before.json`): a move that
changes no behaviour leaves every PSNR equal to 1e-6 and every resolved setting equal.

    python scripts/method_fingerprints.py --out /tmp/before.json
    python scripts/method_fingerprints.py --compare /tmp/before.json
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import torch

from spectral_lab import RunConfig, resolve, run_to_end
from spectral_lab.methods import METHODS
from spectral_lab.signals import signal_for

SIGNALS = {"1d": dict(signal="sines", length=256), "audio": dict(signal="chip_melody", length=2000),
           "image": dict(signal="camera", image_size=16)}
MODIFIED = [f"{base}+{modifier}" for base in ("relu_pe", "siren") for modifier in ("iga", "fr", "bn")]


def fingerprints() -> dict:
    torch.set_num_threads(1)
    out = {}
    for kind, settings in SIGNALS.items():
        base = RunConfig(**settings, width=16, depth=2, steps=20, seed=3, log_every=5, preview_every=0)
        signal = signal_for(base)
        for method in list(METHODS) + MODIFIED:
            config = base.replace(method=method)
            key = f"{kind}/{method}"
            try:
                resolved = resolve(config, signal)
                _, final = run_to_end(config, signal)
                out[key] = {"psnr": final.metrics["psnr"], "config": resolved.to_dict()}
            except Exception as exc:  # a failure is a fingerprint too
                out[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def compare(before: dict, after: dict, tolerance: float = 1e-6) -> list[str]:
    problems = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            problems.append(f"{key}: only {'after' if a is None else 'before'}")
        elif "error" in a or "error" in b:
            if a.get("error") != b.get("error"):
                problems.append(f"{key}: {a.get('error')} -> {b.get('error')}")
        elif not (math.isclose(a["psnr"], b["psnr"], abs_tol=tolerance) or a["psnr"] == b["psnr"]):
            problems.append(f"{key}: PSNR {a['psnr']!r} -> {b['psnr']!r}")
        elif a["config"] != b["config"]:
            a_config, b_config = a["config"], b["config"]
            changed = {k for k in set(a_config) | set(b_config) if a_config.get(k) != b_config.get(k)}
            problems.append(f"{key}: resolved {', '.join(f'{k} {a_config.get(k)!r}->{b_config.get(k)!r}' for k in sorted(changed))}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the fingerprints here (JSON)")
    parser.add_argument("--compare", help="compare against fingerprints written before")
    args = parser.parse_args(argv)
    prints = fingerprints()
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(prints, handle, indent=1, sort_keys=True)
    if args.compare:
        with open(args.compare) as handle:
            problems = compare(json.load(handle), prints)
        print("\n".join(problems) or f"all {len(prints)} fingerprints equal")
        return 1 if problems else 0
    print(f"{len(prints)} fingerprints, {sum('error' in v for v in prints.values())} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
