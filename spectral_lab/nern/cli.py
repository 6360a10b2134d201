"""`python -m spectral_lab nern {fit,sweep,orderings,train-cnn}`: NeRN/SBS from the command line.

    nern fit --setting sbs --hidden 64            one predictor; metrics, curve, rebuilt CNN
    nern sweep --settings nern,sbs --hidden 32,64,96   accuracy vs CR (SBS Fig. 5) as a table
    nern orderings                                S(w) and low-frequency energy per ordering
    nern train-cnn                                (re)train the digits CNN checkpoint
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..cli_common import (EXIT_NO_FINITE_LOSS, add_config_options, given_options, markdown_table, prepare_out,
                          write_csv)
from ..errors import ConfigError
from .predictor import (SETTINGS, NernConfig, NernRun, check_compresses, kernel_signal, ordering_report, rankings,
                        summarise_sweep, sweep)

NERN_SETTING_FIELDS = ("encoding", "smoothing", "rff_rule")


def add_nern_parser(sub) -> None:
    nern = sub.add_parser("nern", help="NeRN/SBS: represent the digits CNN's kernels with a coordinate MLP")
    commands = nern.add_subparsers(dest="nern_command", required=True)
    fit = commands.add_parser("fit", help="train one predictor and rebuild the CNN from it")
    fit.add_argument("--setting", choices=tuple(SETTINGS), default="sbs",
                     help="nern: PE + cosine smoothing; sbs: UOS-RFF + UOS; *_plain: no smoothing [sbs]")
    add_config_options(fit, config_cls=NernConfig, title="NeRN settings (override the --setting)")
    fit.add_argument("--out", help="output folder [runs/nern-SETTING-hHIDDEN]")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    sw = commands.add_parser("sweep", help="accuracy vs compression ratio for several settings")
    sw.add_argument("--settings", default="nern,sbs", help="comma-separated: " + ", ".join(SETTINGS) + " [nern,sbs]")
    sw.add_argument("--cr", default="2,4,6,8",
                    help="target compression ratios in %%: each setting gets the hidden width closest to each, so "
                         "settings are compared at equal CR [2,4,6,8]")
    sw.add_argument("--hidden", help="comma-separated hidden widths instead of --cr")
    sw.add_argument("--seeds", default="0,1,2",
                    help="comma-separated seeds: every cell runs once per seed; the summary gives mean ± std and "
                         "names a setting ahead only where the intervals separate [0,1,2]")
    add_config_options(sw, skip=("hidden",) + NERN_SETTING_FIELDS, config_cls=NernConfig,
                        title="NeRN settings shared by every run")
    sw.add_argument("--out", help="output folder [runs/nern-sweep]")
    orderings = commands.add_parser("orderings", help="S(w) (SBS Eq. 6) and low-frequency energy per ordering")
    orderings.add_argument("--checkpoint", default="", help="CNN checkpoint [assets/digits_resnet.pt]")
    cnn = commands.add_parser("train-cnn", help="train the digits ResNet and save the checkpoint")
    cnn.add_argument("--epochs", type=int, default=30, help="passes over the digits training split [30]")
    cnn.add_argument("--seed", type=int, default=0, help="seed for the CNN's initialisation and batch order [0]")
    cnn.add_argument("--out", default="", help="checkpoint path [assets/digits_resnet.pt]")


def _write_table(rows: list[dict], out: Path) -> None:
    write_csv(rows, out / "results.csv")
    (out / "results.md").write_text(markdown_table(rows) + "\n")


def cmd_nern(args: argparse.Namespace) -> int:
    if args.nern_command == "orderings":
        from .cnn import load_cnn

        model, info = load_cnn(args.checkpoint or None)
        rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                for row in ordering_report(model)]
        print(markdown_table(rows))
        print(f"\nCNN: {info['architecture']}; low_freq_energy: share of the largest layer's energy below "
              "1/8 cycle per kernel (SBS Fig. 2B).")
        return 0
    if args.nern_command == "train-cnn":
        from .cnn import CHECKPOINT, save_cnn, train_cnn

        model, info = train_cnn(epochs=args.epochs, seed=args.seed)
        path = Path(args.out) if args.out else CHECKPOINT
        save_cnn(model, info, path)
        print(f"test accuracy {100 * info['test_accuracy']:.2f}% in {info['train_seconds']} s; saved {path}")
        return 0
    if args.nern_command == "sweep":
        given = given_options(args, NernConfig, skip=("hidden",) + NERN_SETTING_FIELDS)
        settings = [s for s in args.settings.split(",") if s]
        unknown = [s for s in settings if s not in SETTINGS]
        if unknown or not settings:
            raise ConfigError(f"--settings must be among {', '.join(SETTINGS)}; got {args.settings!r}")
        try:
            hiddens = [int(h) for h in args.hidden.split(",") if h] if args.hidden else None
            crs = None if hiddens else [float(c) for c in args.cr.split(",") if c]
        except ValueError:
            raise ConfigError(f"--hidden / --cr expect comma-separated numbers, got {args.hidden or args.cr!r}") from None
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s]
        except ValueError:
            raise ConfigError(f"--seeds expects comma-separated integers, got {args.seeds!r}") from None
        if crs is not None and not all(0 < c <= 100 for c in crs):
            raise ConfigError("--cr values are percentages in (0, 100]")
        if not seeds or (hiddens is not None and not hiddens):
            raise ConfigError("give at least one seed and one width or CR")
        base = NernConfig.from_dict(given)
        for hidden in hiddens or []:  # range checks before any training
            base.replace(hidden=hidden)
        for seed in seeds:
            base.replace(seed=seed)
        out = prepare_out(args.out or Path("runs") / "nern-sweep")
        rows = sweep(base, settings, hiddens, crs, seeds=seeds, progress=lambda row: print(
            f"{row['setting']:>10} hidden {row['hidden']:>4}  seed {row['seed']}  CR {row['CR_%']:6.2f}%  "
            f"acc {row['accuracy_%']:6.2f}%  mse {row['kernel_mse']}", file=sys.stderr, flush=True))
        summary = summarise_sweep(rows)
        lines = rankings(summary)
        summary = [{k: v for k, v in row.items() if k not in ("mean", "std")} for row in summary]  # shown columns
        print(markdown_table(summary))
        if lines:
            print("\n" + "\n".join(lines))
        _write_table(rows, out)
        write_csv(summary, out / "summary.csv")
        (out / "summary.md").write_text(markdown_table(summary) + "\n\n" + "\n".join(lines) + "\n")
        print(f"saved: {out / 'results.csv'} (one row per run), {out / 'summary.md'}, {out / 'summary.csv'}")
        return 0
    config = NernConfig.for_setting(args.setting, **given_options(args, NernConfig))
    from .cnn import load_cnn

    cnn, _ = load_cnn(config.checkpoint or None)  # a bad checkpoint or width fails before the folder is made
    check_compresses(config, kernel_signal(cnn, "none"), cnn)
    out = prepare_out(args.out or Path("runs") / f"nern-{config.encoding}-{config.smoothing}-h{config.hidden}")
    try:
        return _fit(config, args, out)
    except FloatingPointError as exc:
        print(f"error: {exc} (outputs not written)", file=sys.stderr)
        return EXIT_NO_FINITE_LOSS


def _fit(config: NernConfig, args: argparse.Namespace, out: Path) -> int:
    from tqdm import tqdm

    run = NernRun(config)
    bar = tqdm(total=config.steps, desc=f"nern {config.encoding}+{config.smoothing}", unit="step",
               disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    curve = []
    for snapshot in run.snapshots():
        bar.update(snapshot.step - bar.n)
        curve.append((snapshot.step, snapshot.mse, snapshot.psnr, snapshot.accuracy, snapshot.seconds))
        postfix = f"kernel PSNR {snapshot.psnr:.2f} dB"
        if snapshot.accuracy is not None:
            postfix += f", acc {100 * snapshot.accuracy:.2f}%"
        bar.set_postfix_str(postfix)
    bar.close()
    result = run.result
    (out / "config.json").write_text(config.to_json() + "\n")
    (out / "metrics.json").write_text(json.dumps(result.row(), indent=2) + "\n")
    with open(out / "curve.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "kernel_mse", "kernel_psnr_db", "accuracy", "seconds"])
        writer.writerows(curve)
    # What a user needs to rebuild the CNN: the MLP, the permutation index and the rebuilt weights.
    torch.save(run.model.state_dict(), out / "predictor.pt")
    np.savez(out / "permutations.npz", **{name: perm for name, perm in zip(run.signal.names, run.signal.perms)})
    prediction = run.history[-1].prediction
    torch.save({name: torch.as_tensor(w) for name, w in run.signal.weights(prediction).items()},
               out / "rebuilt_kernels.pt")
    row = result.row()
    print(f"CR {row['CR_%']}% ({row['mlp_params']} / {result.cnn_parameters} parameters): accuracy "
          f"{row['accuracy_%']}% (original {row['original_accuracy_%']}%), kernel MSE {row['kernel_mse']}, "
          f"PSNR {row['kernel_psnr_dB']} dB")
    print(f"saved: {out}")
    return 0
