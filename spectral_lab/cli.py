"""Command line: `python -m spectral_lab {list,fit,predict,compare,sweep,reproduce,bench,nern}`.

Every RunConfig field is an option (`--first-omega0 3000`), generated from the dataclass, with
its one-line doc as help. Bad arguments and files end with one line on stderr and exit code 2;
a fit that never produced a finite loss exits with 3.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from .cli_common import (CREATED_FOLDERS, EXIT_BAD_INPUT, EXIT_NO_FINITE_LOSS, OneLineErrors, add_batch_option,
                         add_config_options, default_out, finite_or_none, given_options, markdown_table, parse_seeds,
                         prepare_out, remove_empty_outputs, report_failed_cells)
from .config import RunConfig
from .errors import ConfigError, SpectralLabError
from .memory import is_out_of_memory, out_of_memory_message
from .methods import PLUGIN_PROBLEMS, family_of, list_methods
from .metrics import PSNR_CONVENTION, psnr_from_mse, psnr_text, zero_output_note
from .modifiers import expand_methods
from .signals import Signal, list_signals, signal_for
from .train import Run
from .tuning import PROTOCOL_TEXT

COMPARE_COLUMNS = ["signal", "method", "psnr_db", "ssim", "rho_ag", "params", "lr", "seconds", "status", "note"]
TUNED_LINE = (f"Tuned: each method at its own best learning rate: {PROTOCOL_TEXT}. The tuned column of results.csv "
              "lists every trial and which ran at full length; seconds include the search (tuning_s: the search "
              "alone).")


def train_with_progress(config: RunConfig, signal: Signal, progress: bool, label: str = "",
                        run: Run | None = None) -> Run:
    """Train `run` (or a new Run of `config`) with a progress bar on stderr."""
    from tqdm import tqdm

    run = run or Run(config, signal)
    if run.modifier_note:
        print(run.modifier_note, file=sys.stderr)
    bar = tqdm(total=run.config.steps, desc=label or run.config.method, unit="step", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for snapshot in run.snapshots():
        # one refresh per snapshot, none for the final one: close() draws the last line once
        bar.set_postfix_str(f"PSNR {snapshot.psnr:.2f} dB, best {snapshot.best_psnr:.2f}", refresh=False)
        if snapshot.done:
            bar.n = snapshot.step
        else:
            bar.update(snapshot.step - bar.n)
    bar.close()
    if run.final.status != "finished":
        print(f"note: {run.final.message}", file=sys.stderr)
    return run


# ----------------------------------------------------------------------------------------------
def save_outputs(run: Run, out: Path) -> list[Path]:
    """Reconstruction (PNG / WAV + plot), model.pt, metrics.json, curve.csv, config.json."""
    from .predict import save_model

    out.mkdir(parents=True, exist_ok=True)
    signal, final = run.signal, run.final
    metrics = {**{k: finite_or_none(v) for k, v in final.metrics.items()}, "method": run.config.method,
               "signal": signal.summary(), "status": final.status, "message": final.message,
               "step_mode": run.step_note, "modifiers": run.modifier_note, "psnr_convention": PSNR_CONVENTION,
               "signal_changes": list(signal.changes)}  # what loading did to the file, in words
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    (out / "config.json").write_text(run.config.to_json() + "\n")
    steps, losses = run.curve()
    with open(out / "curve.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss", "psnr_db"])
        for step, loss in zip(steps, losses):
            writer.writerow([int(step), f"{loss:.8g}", f"{psnr_from_mse(float(loss)):.4f}"])
    written = [out / "metrics.json", out / "config.json", out / "curve.csv", save_model(run, out / "model.pt")]
    written += _save_task_outputs(run, out)
    if signal.kind == "image":
        written.append(_save_image(signal.to_original(final.prediction), out / "reconstruction.png"))
    else:
        if signal.kind == "audio":
            written.append(_save_audio(signal.to_original(final.prediction), signal.sample_rate,
                                       out / "reconstruction.wav"))
        np.save(out / "reconstruction.npy", signal.to_original(final.prediction))
        written.append(out / "reconstruction.npy")
        written.append(_plot_1d(signal, final.prediction, out / "reconstruction.png"))
    return written


def _save_task_outputs(run: Run, out: Path) -> list[Path]:
    """A task holding samples out: its held-out curve (heldout.csv) and what the network was given
    (observed.png / .npy: the noisy target, the sub-sampled grid, the kept samples with the rest at their mean)."""
    if run.task.task == "fit":
        return []
    steps, values = run.heldout_curve()
    with open(out / "heldout.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "heldout_psnr_db"])
        writer.writerows([int(step), f"{value:.4f}"] for step, value in zip(steps, values))
    observed = run.task.observed
    if observed.kind == "image":
        return [out / "heldout.csv", _save_image(observed.to_original(), out / "observed.png")]
    np.save(out / "observed.npy", observed.to_original())
    return [out / "heldout.csv", out / "observed.npy"]


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def _save_image(image: np.ndarray, path: Path) -> Path:
    from skimage import io, util

    io.imsave(path, util.img_as_ubyte(np.clip(image, 0, 1)), check_contrast=False)
    return path


def _save_audio(wave: np.ndarray, rate: int, path: Path) -> Path:
    import soundfile as sf

    sf.write(path, np.clip(wave, -1.0, 1.0), int(rate))
    return path


def _plot_1d(signal: Signal, prediction: np.ndarray, path: Path) -> Path:
    from .plots import reconstruction_figure, save_png

    save_png(reconstruction_figure(signal, prediction, f"{signal.name}: fit vs target"), path)
    return path


def load_config_file(path: str) -> tuple[dict, Path]:
    """A saved config.json (from fit, sweep cells or the app's share link) as a dict; a relative
    signal path is taken relative to the config file when it exists there."""
    config_path = Path(path)
    try:
        data = json.loads(config_path.read_text())
    except OSError:
        raise ConfigError(f"config file not found: {config_path}") from None
    except ValueError as exc:
        raise ConfigError(f"{config_path.name}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{config_path.name}: expected a JSON object of settings")
    signal = data.get("signal")
    if isinstance(signal, str) and Path(signal).suffix and not Path(signal).is_absolute():
        beside = config_path.resolve().parent / signal
        if beside.exists():
            data["signal"] = str(beside)
    return data, config_path


# ----------------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    print("Methods (add training modifiers with +, e.g. relu_pe+iga, siren+fr+iga):")
    for name, description, citation in list_methods():
        family = f" ({family_of(name)})" if not name.startswith("+") else ""
        print(f"  {name:<11} {description}{family}\n  {'':<11} [{citation}]")
    for problem in PLUGIN_PROBLEMS:  # a broken plug-in is named, and the rest works
        print(f"  ⚠ {problem}")
    print("\nSignals (or pass any audio/image/.npy file path):")
    for name, description in list_signals():
        print(f"  {name:<16} {description}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    settings = {}
    if args.config:
        settings, _ = load_config_file(args.config)
    settings.update(given_options(args))
    config = RunConfig.from_dict(settings)
    if Path(config.signal).suffix and Path(config.signal).exists():
        config = config.replace(signal=str(Path(config.signal).resolve()))  # config.json re-runs from anywhere
    signal = signal_for(config)
    run = Run(config, signal)  # the model is built and its memory checked before the output folder is made
    out = prepare_out(args.out or default_out("fit", config.signal, config.method))  # before any training
    for line in before_training(run):
        print(line, file=sys.stderr)
    run = train_with_progress(config, signal, progress=not args.quiet, run=run)
    written = save_outputs(run, out)
    m = run.final.metrics
    if not math.isfinite(run.best_loss):
        print(f"error: {run.final.message}; outputs in {out}", file=sys.stderr)
        return EXIT_NO_FINITE_LOSS
    extra = f", SSIM {m['ssim']:.4f}" if "ssim" in m else ""
    stalled = zero_output_note(m)
    if run.task.task != "fit":
        print(f"task: {run.task.description}")
    score = "held-out PSNR" if run.task.holds_out else "PSNR"
    trained = f" (train PSNR {m['train_psnr']:.2f} dB)" if run.task.task != "fit" else ""
    print(f"{run.config.method} on {signal.summary()}: {score} {psnr_text(m['psnr'], m['float32_limit_psnr'])}"
          f"{trained}{extra}, "
          f"ρ_AG {m['rho_ag']:.4f}, "
          f"{run.num_parameters} params, {m['seconds']:.1f} s ({m['steps_per_s']:.1f} steps/s; {run.step_note})"
          + (f"; {stalled}" if stalled else ""))
    print(f"saved: {', '.join(str(p) for p in written)}")
    return 0


def before_training(run: Run) -> list[str]:
    """What a fit says before step 1: what loading did to the file ("mixed 2 channels to mono", "cropped
    to the first 4,096 of 252,000 samples"), and the app's time estimate when it is more than a few
    seconds (a whole 252,000-sample clip at the defaults: minutes a step on a CPU)."""
    from .lab.estimate import duration, estimate_seconds

    lines = [f"signal: {run.signal.summary()} — {'; '.join(run.signal.changes)}"] if run.signal.changes else []
    seconds = estimate_seconds(run.config, [run.config.method], run.signal, run.device.type)
    if seconds > 30:
        lines.append(f"estimate: about {duration(seconds)} for {run.config.steps} steps on this {run.device.type} "
                     "(lower --steps, --length or --image-size to shorten it)")
    return lines


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import load_model

    saved = load_model(args.model)
    rendered = saved.render(args.scale)
    kind = saved.shape.kind
    default = {"image": ".png", "audio": ".wav"}.get(kind, ".npy")
    model_path = Path(args.model)
    folder = model_path if model_path.is_dir() else model_path.parent
    out = Path(args.out) if args.out else folder / f"render-x{args.scale:g}{default}"
    if out.suffix.lower() not in {".npy", *({"image": IMAGE_SUFFIXES, "audio": (".wav", ".flac")}.get(kind, ()))}:
        raise ConfigError(f"{out.name}: write images as .png (or .jpg, .tif), audio as .wav or .flac, anything as "
                          ".npy")
    prepare_out(out.parent)
    if out.suffix.lower() == ".npy":
        np.save(out, rendered)
    elif kind == "image" and out.suffix.lower() in IMAGE_SUFFIXES:
        _save_image(rendered, out)
    elif kind == "audio" and out.suffix.lower() in (".wav", ".flac"):
        _save_audio(rendered, round(saved.shape.sample_rate * args.scale), out)
    else:
        raise ConfigError(f"{out.name}: write images as .png, audio as .wav, anything as .npy")
    rate = f" at {round(saved.shape.sample_rate * args.scale)} Hz" if kind == "audio" else ""
    print(f"{saved.config.method} ({saved.shape.name}, trained on {'x'.join(map(str, saved.shape.grid))}) rendered "
          f"×{args.scale:g}: {'x'.join(map(str, rendered.shape))}{rate} -> {out}")
    return 0


def compare(config: RunConfig, signals: list[str], methods: list[str], out: Path, progress: bool = False,
            on_row=None, tune: bool = False, equal_params: bool = False, seeds: list[int] | None = None,
            batch: bool = True) -> list[dict]:
    """Every method on every signal with the same budget: a local sweep (one seed, or `seeds`).
    Signals are all loaded first, so a bad one fails before any training. `tune`: each method at
    its own best lr; `equal_params`: widths chosen so parameter counts match the first method's;
    `batch`: runs that share an architecture and a signal size (the seeds) train as one."""
    from .sweep import grid_cells, run_sweep

    for name in signals:
        signal_for(config.replace(signal=name))
    cells = grid_cells(config, signals, methods, seeds or [config.seed], tune=tune, equal_params=equal_params)
    return run_sweep(cells, out, backend="local", progress=progress, on_row=on_row, batch=batch)


def cmd_compare(args: argparse.Namespace) -> int:
    from .sweep import parse_values

    signals, methods = parse_values(args.signals), parse_values(args.methods)
    methods = expand_methods(methods, parse_values(args.with_modifiers or ""),
                             "combined" if args.combine_modifiers else "each")
    if not signals or not methods:
        raise SpectralLabError("give at least one signal (--signals) and one method (--methods)")
    config = RunConfig.from_dict({**given_options(args, skip=("signal", "method")), "signal": signals[0],
                                  "method": methods[0]})
    seeds = parse_seeds(args.seeds)
    out = prepare_out(args.out or default_out("compare", *signals))
    rows = compare(config, signals, methods, out, progress=not args.quiet, tune=args.tune,
                   equal_params=args.equal_params, seeds=seeds, batch=args.batch)
    table = markdown_table(rows, COMPARE_COLUMNS[:2] + (["seed"] if seeds and len(seeds) > 1 else [])
                           + (["width"] if args.equal_params else []) + task_columns(config) + COMPARE_COLUMNS[2:])
    notes = [PSNR_CONVENTION] + task_lines(config) + ([TUNED_LINE] if args.tune else []) + (
        ["Equal parameters: each method's width gives the first method's parameter count within 5%."]
        if args.equal_params else [])
    print(table)
    print("\n" + "\n".join(notes))
    (out / "results.md").write_text(table + "\n\n" + "\n".join(notes) + "\n")
    print(f"saved: {out / 'results.csv'}, {out / 'results.md'}, {out / 'summary.csv'}, cells in {out / 'cells'}")
    return report_failed_cells(rows)


def task_columns(config: RunConfig) -> list[str]:
    """A task's table shows the training PSNR beside the held-out one (psnr_db)."""
    return [] if config.task == "fit" else ["task", "train_psnr_db"]


def task_lines(config: RunConfig) -> list[str]:
    """What a task's psnr_db column means, in one line."""
    if config.task == "fit":
        return []
    scored = {"denoise": "every sample against the clean target", "inpaint": "the samples not trained on",
              "superres": "the full grid"}[config.task]
    return [f"Task {config.task}: psnr_db is the held-out PSNR, on {scored}; train_psnr_db on what the network "
            "was given (the noisy target for denoise). SSIM and ρ_AG read the full grid against the clean signal."]


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import grid_cells, load_grid_file, parse_sets, parse_values, run_sweep

    grid = load_grid_file(args.grid) if args.grid else {"signals": [], "methods": [], "seeds": [], "base": {},
                                                          "sets": {}}
    base = {**grid["base"], **given_options(args, skip=("signal", "method", "seed"))}
    signals = parse_values(args.signals) if args.signals else grid["signals"]
    methods = parse_values(args.methods) if args.methods else grid["methods"]
    seeds = parse_seeds(args.seeds) if args.seeds else [int(s) for s in grid["seeds"]]
    sets = {**grid["sets"], **parse_sets(args.set)}
    if not signals or not methods:
        raise ConfigError("a sweep needs signals and methods (--signals/--methods or a --grid file)")
    config = RunConfig.from_dict({**base, "signal": signals[0], "method": methods[0]})
    cells = grid_cells(config, signals, methods, seeds, sets, tune=args.tune, equal_params=args.equal_params)
    out = prepare_out(args.out or default_out("sweep", *signals[:3]))
    rows = run_sweep(cells, out, backend=args.backend, workers=args.workers, address=args.address,
                     gpus_per_cell=args.gpus_per_cell, progress=not args.quiet, batch=args.batch)
    print((out / "summary.md").read_text() if (out / "summary.md").exists() else "no cell finished")
    failed = [r for r in rows if r.get("status") == "failed"]
    print(f"{len(rows)} cells ({len(failed)} failed); {PSNR_CONVENTION}" + (f"\n{TUNED_LINE}" if args.tune else ""))
    print(f"saved: {out / 'results.csv'}, {out / 'results.md'}, {out / 'summary.md'}, cells in {out / 'cells'}")
    return report_failed_cells(rows)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import PROTOCOLS, describe, failure_causes, locate_files, run_protocol

    if args.list or args.protocol in (None, "list"):
        print("\n\n".join(describe(protocol) for protocol in PROTOCOLS.values()))
        return 0
    if args.protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {args.protocol!r}; choose from {', '.join(PROTOCOLS)} "
                          "(`reproduce --list` shows their settings)")
    locate_files(PROTOCOLS[args.protocol], args.data, args.scale)  # fails before the output folder is made
    out = prepare_out(args.out or Path("runs") / f"reproduce-{args.protocol}-{args.scale}")
    report, rows = run_protocol(args.protocol, args.data, scale=args.scale, out=out, backend=args.backend,
                                workers=args.workers, address=args.address, gpus_per_cell=args.gpus_per_cell,
                                progress=not args.quiet, overrides=given_options(args, skip=("signal", "method")),
                                tune=args.tune, batch=args.batch)
    print(report)
    print(f"saved: {out / 'comparison.md'}, {out / 'results.csv'}")
    failed = [row for row in rows if row.get("status") == "failed"]
    if rows and len(failed) == len(rows):  # the table is empty: the causes, each named once
        print(f"error: every cell failed ({len(rows)}): {failure_causes(failed)}", file=sys.stderr)
    return report_failed_cells(rows)


def cmd_zoo(args: argparse.Namespace) -> int:
    from .sweep import parse_values
    from .zoo_table import run_zoo

    scale = {(False, False): "full", (True, False): "quick", (False, True): "heldout",
             (True, True): "heldout-quick"}[(bool(args.quick), bool(args.heldout))]
    seeds = tuple(parse_seeds(args.seeds) or ()) if args.seeds is not None else None
    methods = parse_values(args.methods) if args.methods is not None else None
    if seeds == ():
        raise ConfigError("--seeds is empty: give comma-separated integers (e.g. 0,1,2) or leave it out")
    if methods == []:
        raise ConfigError("--methods is empty: name one or more methods (`python -m spectral_lab list`) or leave "
                          "it out for all of them")
    if args.steps is not None and args.steps < 1:
        raise ConfigError("--steps must be at least 1")
    out = prepare_out(args.out or Path("runs") / {"full": "zoo"}.get(scale, f"zoo-{scale}"))
    rows = run_zoo(out, scale=scale, tune=args.tune, seeds=seeds, steps=args.steps, methods=methods,
                   progress=not args.quiet, batch=args.batch)
    print((out / "zoo.md").read_text())
    print(f"saved: {out / 'zoo.md'}, {out / 'zoo.csv'}, {out / 'zoo.png'}, every run in {out / 'results.csv'}")
    return report_failed_cells(rows)


def cmd_docs(args: argparse.Namespace) -> int:
    """Rewrite docs/zoo.md's generated part from the registry (or check it is current)."""
    from .zoo_page import DOCS_ZOO, generated_part, write_zoo_page, zoo_page

    if not DOCS_ZOO.is_file():
        raise SpectralLabError("docs/zoo.md is not in this checkout (the docs ship with the repository)")
    if args.check:
        if generated_part() != zoo_page():
            print("docs/zoo.md is out of date: run `python -m spectral_lab docs`", file=sys.stderr)
            return 1
        print("docs/zoo.md is current")
        return 0
    print(f"wrote the registry's part of {write_zoo_page()}")
    return 0


BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
BENCH_SCRIPTS = ("train", "app", "browser", "diagnostics", "gpu", "batched", "memory", "modifiers", "sweep", "nern_claims",
                 "zoo")


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    """Run bench/bench_SCRIPT.py with every option after the script name passed on to it."""
    import runpy

    script = BENCH_DIR / f"bench_{args.script}.py"
    if not script.is_file():
        raise SpectralLabError(f"bench/{script.name} is not in this checkout (benchmarks ship with the repository)")
    sys.argv = [f"python -m spectral_lab bench {args.script}"] + rest
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local: this process (or a process pool with --workers); ray: Ray tasks [local]")
    parser.add_argument("--workers", type=int, default=1, help="local process-pool size [1]")
    parser.add_argument("--address", help="Ray: join this cluster (e.g. auto, ray://host:10001) [start a local Ray]")
    parser.add_argument("--gpus-per-cell", type=float, default=0.0,
                        help="Ray: GPUs per cell, fractional (0.25 = four small fits share a GPU) [0]")


def _add_fairness_options(parser: argparse.ArgumentParser, equal_params: bool = True) -> None:
    parser.add_argument("--tune", action="store_true",
                        help="each method at its own best learning rate: short trials of one shared grid of rates "
                             "(1e-3·2^k, each default ÷4 … ×8, widened at its edge) at another seed rank the rates, "
                             "the best 2-3 train at full length on two trial seeds and decide (the worse seed "
                             "counts); then the run at that rate (the table shows the lr used and the search's "
                             "seconds; a search costs about 4-6 runs)")
    if equal_params:
        parser.add_argument("--equal-params", action="store_true",
                            help="choose each method's width so its parameter count matches the first method's "
                                 "(within 5%%; the table shows width and params)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="python -m spectral_lab",
                                     description="Spectral Lab: fit coordinate MLPs and see spectral bias.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list built-in signals and methods")
    for add in (_add_fit_and_predict, _add_compare, _add_sweep, _add_reproduce, _add_zoo_docs_and_bench):
        add(sub)
    from .nern.cli import add_nern_parser

    add_nern_parser(sub)
    return parser


def _add_fit_and_predict(sub) -> None:
    fit = sub.add_parser("fit", help="fit one method to one signal and save the outputs (and the model)")
    fit.add_argument("--config", help="re-run a saved config.json (options given here override it)")
    add_config_options(fit)
    fit.add_argument("--out", help="output folder [runs/fit-SIGNAL-METHOD-TIME]")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    predict = sub.add_parser("predict", help="render a saved model (fit's model.pt) on a denser grid")
    predict.add_argument("model", help="model.pt written by fit, or its folder")
    predict.add_argument("--scale", type=float, default=2.0,
                         help="grid density ×: images 2 = twice the pixels per side, audio 2 = twice the rate [2]")
    predict.add_argument("--out", help="output file: .png (image), .wav (audio) or .npy [beside the model]")


def _add_compare(sub) -> None:
    comp = sub.add_parser("compare", help="several methods × signals, same budget, one table (a one-seed sweep)")
    comp.add_argument("--signals", required=True, help="comma-separated signals")
    comp.add_argument("--methods", required=True, help="comma-separated methods (may carry +modifiers)")
    comp.add_argument("--with-modifiers", help="comma-separated modifiers (iga,fr,bn): each method also "
                                               "runs with each of them")
    comp.add_argument("--combine-modifiers", action="store_true",
                      help="instead: run each method once with all the modifiers together")
    comp.add_argument("--seeds", help="comma-separated seeds: each method on each signal once per seed (the summary "
                                      "gives mean ± std) [the --seed setting]")
    _add_fairness_options(comp)
    add_batch_option(comp)
    add_config_options(comp, skip=("signal", "method"))
    comp.add_argument("--out", help="output folder [runs/compare-SIGNALS-TIME]")
    comp.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_sweep(sub) -> None:
    sw = sub.add_parser("sweep", help="a grid of signals × methods × seeds × knob values; resumable")
    sw.add_argument("--grid", help="grid file (TOML or YAML: signals, methods, seeds, [base], [sets])")
    sw.add_argument("--signals", help="comma-separated signals (names or files)")
    sw.add_argument("--methods", help="comma-separated methods (may carry +modifiers)")
    sw.add_argument("--seeds", help="comma-separated seeds [the --seed setting]")
    sw.add_argument("--set", action="append", metavar="NAME=V1,V2",
                    help="sweep a setting over values, e.g. --set width=128,256 (repeatable)")
    _add_fairness_options(sw)
    _add_backend_options(sw)
    add_batch_option(sw)
    add_config_options(sw, skip=("signal", "method", "seed"), title="settings shared by every cell")
    sw.add_argument("--out", help="output folder; run again with the same folder to resume [runs/sweep-…]")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_reproduce(sub) -> None:
    rep = sub.add_parser("reproduce", help="a paper's table, our numbers beside the paper's")
    rep.add_argument("protocol", nargs="?", help="winner-table1, winner-table2, spder-table1, iga-table1 (or 'list')")
    rep.add_argument("--list", action="store_true", help="print every protocol's settings and the files it needs")
    rep.add_argument("--data", default=os.environ.get("SPECTRAL_LAB_DATA", ""),
                     help="folder with the paper's files, searched recursively by name, e.g. the shared clips' "
                          "folder wherever it is [$SPECTRAL_LAB_DATA]")
    rep.add_argument("--scale", choices=("quick", "paper"), default="quick",
                     help="quick: CPU-sized crops, networks and steps; paper: the paper's settings [quick]")
    _add_backend_options(rep)
    _add_fairness_options(rep, equal_params=False)
    add_batch_option(rep)
    add_config_options(rep, skip=("signal", "method"), title="override the protocol's settings")
    rep.add_argument("--out", help="output folder; resumable [runs/reproduce-PROTOCOL-SCALE]")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_zoo_docs_and_bench(sub) -> None:
    zoo = sub.add_parser("zoo", help="every method on six signals at an equal parameter budget: the README's zoo "
                                     "table (Markdown, CSV and a figure)")
    zoo.add_argument("--quick", action="store_true",
                     help="two small signals, 20 steps, one seed (~20 s on 2 CPU cores)")
    zoo.add_argument("--heldout", action="store_true",
                     help="where pixels outnumber parameters: 64² photos at ReLU 3×28 (1.7k parameters), a fit "
                          "column and a held-out one (inpainting: half the pixels trained on, the rest scored); "
                          "with --quick, one 48² image, 20 steps")
    zoo.add_argument("--tune", action="store_true", help="each method at its own best learning rate (one shared "
                                                         "grid of rates ranked by short trials at another seed, the "
                                                         "best re-run at full length on two trial seeds)")
    zoo.add_argument("--seeds", help="comma-separated seeds [0,1,2; quick: 0]")
    zoo.add_argument("--steps", type=int, help="training steps per run [500; quick: 20]")
    zoo.add_argument("--methods", help="comma-separated methods [all; ReLU first sets the budget]")
    add_batch_option(zoo)
    zoo.add_argument("--out", help="output folder; resumable [runs/zoo or runs/zoo-quick]")
    zoo.add_argument("--quiet", action="store_true", help="no progress bar")
    docs = sub.add_parser("docs", help="rewrite docs/zoo.md's method list from the registry (every method, its paper, "
                                       "how we build it, its defaults)")
    docs.add_argument("--check", action="store_true", help="only check the page is current (exit 1 if not)")
    # add_help=False: `bench gpu --help` is the script's own help (every option goes to the script)
    bench = sub.add_parser("bench", add_help=False,
                           help=f"run bench/bench_SCRIPT.py, SCRIPT one of {', '.join(BENCH_SCRIPTS)} [train: our fit "
                                "vs a hand-written loop]; other options go to the script (`bench --quick`, "
                                "`bench gpu --help`)")
    bench.add_argument("script", nargs="?", default="train", choices=BENCH_SCRIPTS,
                       help="which bench/bench_SCRIPT.py to run [train]")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":  # only bench passes unknown options on (to its script)
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    from .nern.cli import cmd_nern

    commands = {"list": cmd_list, "fit": cmd_fit, "predict": cmd_predict, "compare": cmd_compare,
                "sweep": cmd_sweep, "reproduce": cmd_reproduce, "nern": cmd_nern, "zoo": cmd_zoo, "docs": cmd_docs,
                "bench": lambda parsed: cmd_bench(parsed, rest)}
    try:
        code = _main(args, commands)
    except BaseException:  # a bug of ours: the traceback stays, the empty folder goes
        remove_empty_outputs()
        raise
    if code != 0:
        remove_empty_outputs()
    CREATED_FOLDERS.clear()
    return code


def _main(args, commands) -> int:
    """One command, its failures turned into an exit code and one line on stderr."""
    try:
        return commands[args.command](args)
    except SpectralLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        return 0
    except (OSError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as exc:  # an allocation that failed mid-run (the memory estimate let it start)
        if not is_out_of_memory(exc):
            raise
        print(f"error: {out_of_memory_message(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

