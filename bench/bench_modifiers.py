"""Training modifiers: cost per step and PSNR at equal steps (vanilla / +IGA / +FR / +BN).

    python bench/bench_modifiers.py [--steps 300]

Signals: IGA Eq. 9 (frequencies halved for ReLU, as the paper does; full for SIREN), 2048
samples, and the camera at 64². 3×128 networks, Adam with the IGA paper's schedule (exponential
decay to 0.1×; lr 2e-3 ReLU/PE, 5e-4 SIREN). IGA, FR and BN with their defaults (IGA: the
paper's groups and `end`, S̃ₑ every step; FR: 32 phases, α = 0.01).

    python bench/bench_modifiers.py --preset     # the app's modifiers preset only
The app's "Training modifiers" preset: camera 48², ReLU+PE 3×128, 300 steps, lr 2e-3 → 2e-4.
"""
from __future__ import annotations

import argparse

import torch

from spectral_lab import RunConfig, load_signal, run_to_end
from spectral_lab.signals import make_synthetic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", action="store_true", help="only the app's modifiers preset")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    preset = RunConfig(signal="camera", image_size=48, steps=300, lr=2e-3, lr_schedule="exp", log_every=50,
                       preview_every=0, device=device)
    camera = load_signal("camera", image_size=48)
    print(f"modifiers preset (camera 48², ReLU+PE, 300 steps, {device}):")
    for method in ("relu_pe", "relu_pe+iga", "relu_pe+fr", "relu_pe+bn"):
        run, final = run_to_end(preset.replace(method=method), camera)
        note = f"  ({run.modifier_note})" if run.modifier_note else ""
        print(f"  {method:<12} {final.metrics['psnr']:6.2f} dB  {1000 / final.steps_per_s:7.1f} ms/step{note}", flush=True)
    if args.preset:
        return
    print(f"{'method':<14} {'1D PSNR':>8} {'ms/step':>8} {'image PSNR':>11} {'ms/step':>8}   ({device}, {args.steps} steps)")
    for base in ("relu", "relu_pe", "siren"):
        lr = 5e-4 if base == "siren" else 2e-3
        signals = [make_synthetic("iga_eq9", length=2048, options="halve=1" if base != "siren" else ""),
                   load_signal("camera", image_size=64)]
        for modifier in ("", "+iga", "+fr", "+bn"):
            cells = []
            for signal in signals:
                config = RunConfig(signal="given", method=base + modifier, width=128, depth=3, steps=args.steps, lr=lr,
                                   lr_schedule="exp", log_every=50, preview_every=0, device=device)
                _, final = run_to_end(config, signal)
                cells += [f"{final.metrics['psnr']:8.2f}", f"{1000 / final.steps_per_s:8.1f}"]
            print(f"{base + modifier:<14} {cells[0]} {cells[1]} {cells[2]:>11} {cells[3]}", flush=True)


if __name__ == "__main__":
    main()
