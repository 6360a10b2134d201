"""Command line: `python -m spectral_lab {list,fit,compare,bench,nern}`.

Every RunConfig field is an option (`--first-omega0 3000`), generated from the dataclass, with
its one-line doc as help. Bad arguments and files end with one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from .config import RunConfig, coerce
from .errors import SpectralLabError
from .methods import get_method, list_methods
from .modifiers import expand_methods
from .metrics import PSNR_CONVENTION, psnr_from_mse
from .signals import Signal, list_signals, signal_for
from .train import Run

SIGNAL_FIELDS = ("signal", "length", "image_size", "gray", "signal_options")


def _add_config_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = (), config_cls: type = RunConfig,
                        title: str = "run settings (defaults: the method's own)") -> None:
    group = parser.add_argument_group(title)
    for f in fields(config_cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not None else "method default"
        choices = f.metadata.get("choices")
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, metavar=f.name.upper(),
                           choices=choices, help=f"{f.metadata['doc']} [{default}]")


def _given_options(args: argparse.Namespace, config_cls: type = RunConfig, skip: tuple[str, ...] = ()) -> dict:
    """The config fields given on the command line, parsed into their types."""
    values = {f.name: getattr(args, f.name, None) for f in fields(config_cls) if f.name not in skip}
    return {k: coerce(k, v, config_cls) for k, v in values.items() if v is not None}


def _config_from_args(args: argparse.Namespace, **overrides) -> RunConfig:
    given = _given_options(args)
    given.update(overrides)
    return RunConfig.from_dict(given)


def _default_out(kind: str, *names: str) -> Path:
    stem = "-".join(Path(n).stem for n in names)
    return Path("runs") / f"{kind}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_with_progress(config: RunConfig, signal: Signal, progress: bool, label: str = "") -> Run:
    from tqdm import tqdm

    run = Run(config, signal)
    bar = tqdm(total=run.config.steps, desc=label or run.config.method, unit="step", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for snapshot in run.snapshots():
        bar.update(snapshot.step - bar.n)
        bar.set_postfix_str(f"PSNR {snapshot.psnr:.2f} dB, best {snapshot.best_psnr:.2f}")
    bar.close()
    if run.final.message != "finished":
        print(f"note: {run.final.message}", file=sys.stderr)
    return run


# ----------------------------------------------------------------------------------------------
def save_outputs(run: Run, out: Path) -> list[Path]:
    """Reconstruction (PNG / WAV + plot), metrics.json, curve.csv, config.json."""
    out.mkdir(parents=True, exist_ok=True)
    signal, final = run.signal, run.final
    written = []
    metrics = {**final.metrics, "method": run.config.method, "signal": signal.summary(),
               "message": final.message, "psnr_convention": PSNR_CONVENTION}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    (out / "config.json").write_text(run.config.to_json())
    steps, losses = run.curve()
    with open(out / "curve.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss", "psnr_db"])
        for step, loss in zip(steps, losses):
            writer.writerow([int(step), f"{loss:.8g}", f"{psnr_from_mse(float(loss)):.4f}"])
    written += [out / "metrics.json", out / "config.json", out / "curve.csv"]
    if signal.kind == "image":
        from skimage import io, util

        image = util.img_as_ubyte(signal.to_original(final.prediction))
        io.imsave(out / "reconstruction.png", image, check_contrast=False)
        written.append(out / "reconstruction.png")
    else:
        if signal.kind == "audio":
            import soundfile as sf

            wave = np.clip(signal.to_original(final.prediction), -1.0, 1.0)
            sf.write(out / "reconstruction.wav", wave, signal.sample_rate)
            written.append(out / "reconstruction.wav")
        np.save(out / "reconstruction.npy", signal.to_original(final.prediction))
        written.append(out / "reconstruction.npy")
        written.append(_plot_1d(signal, final.prediction, out / "reconstruction.png"))
    return written


def _plot_1d(signal: Signal, prediction: np.ndarray, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 5))
    t = np.arange(signal.num_points) / (signal.sample_rate or signal.num_points)
    shown = slice(0, min(signal.num_points, 2000))
    axes[0].plot(t[shown], signal.values[shown, 0], lw=1, label="target")
    axes[0].plot(t[shown], prediction[shown, 0], lw=1, label="fit")
    axes[0].set_xlabel("time (s)" if signal.sample_rate else "position (fraction of signal)")
    axes[0].set_ylabel("value")
    axes[0].legend(loc="upper right")
    k = np.fft.rfftfreq(signal.num_points, d=1 / (signal.sample_rate or signal.num_points))
    axes[1].semilogy(k, np.abs(np.fft.rfft(signal.values[:, 0])) + 1e-12, lw=1, label="target")
    axes[1].semilogy(k, np.abs(np.fft.rfft(prediction[:, 0])) + 1e-12, lw=1, label="fit")
    axes[1].set_xlabel("frequency (Hz)" if signal.sample_rate else "frequency (cycles per signal)")
    axes[1].set_ylabel("|FFT|")
    axes[1].legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    print("Methods (add training modifiers with +, e.g. relu_pe+iga, siren+fr+iga):")
    for name, description, citation in list_methods():
        print(f"  {name:<10} {description}\n  {'':<10} [{citation}]")
    print("\nSignals (or pass any audio/image/.npy file path):")
    for name, description in list_signals():
        print(f"  {name:<16} {description}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    config = _config_from_args(args)
    signal = signal_for(config)
    run = train_with_progress(config, signal, progress=not args.quiet)
    out = Path(args.out) if args.out else _default_out("fit", config.signal, config.method)
    written = save_outputs(run, out)
    m = run.final.metrics
    extra = f", SSIM {m['ssim']:.4f}" if "ssim" in m else ""
    print(f"{run.config.method} on {signal.summary()}: PSNR {m['psnr']:.2f} dB{extra}, ρ_AG {m['rho_ag']:.4f}, "
          f"{run.num_parameters} params, {m['seconds']:.1f} s ({m['steps_per_s']:.1f} steps/s)")
    print(f"saved: {', '.join(str(p) for p in written)}")
    return 0


def compare(config: RunConfig, signals: list[str], methods: list[str], progress: bool = False) -> list[dict]:
    """Train every method on every signal with the same budget; one row per pair."""
    rows = []
    for signal_name in signals:
        signal = signal_for(config.replace(signal=signal_name))
        for method in methods:
            run = train_with_progress(config.replace(signal=signal_name, method=method), signal, progress,
                                      label=f"{Path(signal_name).stem}/{method}")
            rows.append(run.summary_row())
    return rows


def rows_to_markdown(rows: list[dict]) -> str:
    columns = ["signal", "method", "psnr_db", "ssim", "rho_ag", "params", "seconds"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("–" if row[c] is None else str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    signals = [s for s in args.signals.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    modifiers = [m for m in (args.with_modifiers or "").split(",") if m]
    methods = expand_methods(methods, modifiers, "combined" if args.combine_modifiers else "each")
    if not signals or not methods:
        raise SpectralLabError("give at least one signal (--signals) and one method (--methods)")
    config = _config_from_args(args, signal=signals[0], method=methods[0])
    for method in methods:  # fail fast on a typo before hours of training
        get_method(method)
    rows = compare(config, signals, methods, progress=not args.quiet)
    table = rows_to_markdown(rows)
    print(table)
    print(f"\n{PSNR_CONVENTION}")
    out = Path(args.out) if args.out else _default_out("compare", *signals)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.md").write_text(table + f"\n\n{PSNR_CONVENTION}\n")
    print(f"saved: {out / 'results.csv'}, {out / 'results.md'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import runpy

    script = Path(__file__).resolve().parent.parent / "bench" / "bench_train.py"
    if not script.is_file():
        raise SpectralLabError("bench/bench_train.py is not in this checkout")
    sys.argv = [str(script)] + args.rest
    runpy.run_path(str(script), run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spectral_lab",
                                     description="Spectral Lab: fit coordinate MLPs and see spectral bias.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list built-in signals and methods")
    fit = sub.add_parser("fit", help="fit one method to one signal and save the outputs")
    _add_config_options(fit)
    fit.add_argument("--out", help="output folder [runs/fit-SIGNAL-METHOD-TIME]")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    comp = sub.add_parser("compare", help="several methods × signals, same budget, one table")
    comp.add_argument("--signals", required=True, help="comma-separated signals")
    comp.add_argument("--methods", required=True, help="comma-separated methods (may carry +modifiers)")
    comp.add_argument("--with-modifiers", help="comma-separated modifiers (iga,fr,bn): each method also "
                                               "runs with each of them")
    comp.add_argument("--combine-modifiers", action="store_true",
                      help="instead: run each method once with all the modifiers together")
    _add_config_options(comp, skip=("signal", "method"))
    comp.add_argument("--out", help="output folder [runs/compare-SIGNALS-TIME]")
    comp.add_argument("--quiet", action="store_true", help="no progress bars")
    bench = sub.add_parser("bench", help="run bench/bench_train.py (our fit vs a hand-written loop)")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the bench script")
    from .nern_cli import add_nern_parser

    add_nern_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .nern_cli import cmd_nern

    commands = {"list": cmd_list, "fit": cmd_fit, "compare": cmd_compare, "bench": cmd_bench, "nern": cmd_nern}
    try:
        return commands[args.command](args)
    except SpectralLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        return 0
    except (OSError, MemoryError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
