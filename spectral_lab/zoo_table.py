"""The zoo table (issue 18, item 4): every registered method on a fixed set of signals at an equal
parameter budget and equal steps, optionally each at its own best learning rate, with seeds.

    python -m spectral_lab zoo            # the full table (README), CPU: ~1 h
    python -m spectral_lab zoo --quick    # a CPU-minute version (CI)
    python -m spectral_lab zoo --heldout  # where pixels outnumber parameters: fit and held-out columns

Two regimes. The full table fits 48–64² images and 2–8k-sample 1D signals with ~33.5k parameters: more
parameters than samples, so image cells reach the float32 limit and rank how fast a method memorises.
The held-out table (`--heldout`) shrinks the budget until the images' pixels outnumber the parameters
(64² images, ReLU 3×28: 1.7k parameters for 4.1k pixels) and scores each method twice: fitting every
pixel, and inpainting (tasks.py: half the pixels trained on, the other half scored).

Each method's width is chosen so its parameter count matches ReLU's at the reference width within
5% (per signal). Grids keep their tables at 2^10 entries a level here, so that a ReLU head can
meet the budget. Writes results.csv / results.md (every cell), zoo.md (method × signal, mean ±
std over seeds), zoo.csv and zoo.png (PSNR per signal, a dot per method; PSNR vs wall time).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cli_common import markdown_table, write_csv
from .config import RunConfig
from .methods import families, family_of, ordered_methods
from .train import FLOAT32_LIMIT_NOTE


@dataclass(frozen=True)
class ZooScale:
    signals: tuple[tuple[str, dict], ...]  # (signal, its size settings)
    width: int  # the reference (ReLU) width that sets the parameter budget
    depth: int
    steps: int
    seeds: tuple[int, ...]
    settings: tuple[tuple[str, object], ...] = ()  # what a small budget needs (fixed-size encodings)
    tasks: tuple[tuple[str, tuple], ...] = (("fit", ()),)  # (task, its settings): a column per signal and task
    left_out: tuple[tuple[str, str], ...] = ()  # (method, why it cannot sit at this budget)

    def columns(self) -> list[tuple[str, str, str]]:
        """(label, signal, task) per table column: the signal's name for a fit, "camera inpaint" otherwise."""
        return [(signal if task == "fit" else f"{signal} {task}", signal, task)
                for signal, _ in self.signals for task, _ in self.tasks]


SCALES = {
    "full": ZooScale((("sines", {"length": 2048}), ("winner_high", {"length": 4096}),
                      ("chip_melody", {"length": 8000}), ("camera", {"image_size": 64}),
                      ("astronaut", {"image_size": 64}), ("brick", {"image_size": 64})),
                     width=128, depth=3, steps=500, seeds=(0, 1, 2)),
    # a small budget: RFF's and the grids' fixed-size encodings shrink so a width can match ReLU's
    "quick": ZooScale((("sines", {"length": 256}), ("camera", {"image_size": 16})),
                      width=32, depth=2, steps=20, seeds=(0,),
                      settings=(("rff_features", 8), ("grid_levels", 2), ("kan_terms", 4))),
}
# Where pixels outnumber parameters: three 64² photos (4,096 pixels; astronaut's 3 channels) at ReLU
# 3×28 (1,737 parameters, 2.4× fewer than the pixels; inpainting trains on 2,048 of them), fit and
# inpainting at keep 0.5. The fixed-size encodings shrink to fit the budget (as at the quick scale).
# 96² at 3×40 ran 60–230 s a run on a busy 2-core machine (~2 h for one seed); 64² at 3×28, ~5× less.
HELD_OUT_SIGNALS = (("camera", {"image_size": 64}), ("astronaut", {"image_size": 64}),
                    ("brick", {"image_size": 64}))
HELD_OUT_SETTINGS = (("rff_features", 16), ("grid_levels", 2), ("grid_table_log2", 8), ("kan_terms", 4))
HELD_OUT_LEFT_OUT = (("densegrid", "its finest level stores a value per pixel (65² vertices × its features): it "
                                   "cannot sit below the pixel count"),)
HELD_OUT_TASKS = (("fit", ()), ("inpaint", (("keep", 0.5),)))
SCALES["heldout"] = ZooScale(HELD_OUT_SIGNALS, width=28, depth=3, steps=500, seeds=(0, 1, 2),
                             settings=HELD_OUT_SETTINGS, tasks=HELD_OUT_TASKS, left_out=HELD_OUT_LEFT_OUT)
SCALES["heldout-quick"] = ZooScale((("camera", {"image_size": 48}),), width=32, depth=2, steps=20, seeds=(0,),
                                   settings=SCALES["quick"].settings + (("grid_table_log2", 8),),
                                   tasks=HELD_OUT_TASKS)
ZOO_SETTINGS = {"grid_table_log2": 10, "preview_every": 0}


def zoo_methods() -> list[str]:
    """ReLU first (the budget's reference), then the registry's, family by family."""
    return ["relu"] + [name for name in ordered_methods() if name != "relu"]


def run_zoo(out: str | os.PathLike, scale: str = "full", tune: bool = False, seeds: tuple[int, ...] | None = None,
            steps: int | None = None, methods: list[str] | None = None, progress: bool = True,
            batch: bool = True) -> list[dict]:
    """Run the table (the summary in `out`: zoo.md, zoo.csv, zoo.png); returns every cell's row, a
    failed one with its note (the command's exit code reads them).
    `batch`: a method's seeds (and methods of one architecture and width) train as one stacked model."""
    from .sweep import grid_cells, run_sweep

    plan = SCALES[scale]
    left_out = dict(plan.left_out)
    methods = [m for m in methods or zoo_methods() if m not in left_out]
    out = Path(out)
    rows = []
    for signal, sizes in plan.signals:
        for task, task_settings in plan.tasks:
            base = RunConfig(signal=signal, method=methods[0], width=plan.width, depth=plan.depth,
                             steps=steps or plan.steps, task=task, **sizes,
                             **{**ZOO_SETTINGS, **dict(plan.settings)}, **dict(task_settings))
            cells = grid_cells(base, [signal], methods, list(seeds or plan.seeds), tune=tune, equal_params=True)
            folder = out / (signal if task == "fit" else f"{signal}-{task}")
            rows += run_sweep(cells, folder, progress=progress, batch=batch)
    columns = list(dict.fromkeys(key for row in rows for key in row))  # a failed first row has fewer
    write_csv(rows, out / "results.csv", columns)
    (out / "results.md").write_text(markdown_table(rows, columns) + "\n")
    summary = summarise_zoo(rows, plan.columns(), methods)
    labels = [label for label, _, _ in plan.columns()]
    write_csv(summary, out / "zoo.csv")
    (out / "zoo.md").write_text(zoo_markdown(summary, labels, plan, tune, steps or plan.steps,
                                             tuple(seeds or plan.seeds)))
    zoo_figure(summary, labels, out / "zoo.png")
    return rows


def summarise_zoo(rows: list[dict], columns: list, methods: list[str]) -> list[dict]:
    """One row per method: family, parameters, PSNR mean ± std per column (a signal's name, or
    (label, signal, task) for a task's column: its held-out PSNR), mean seconds."""
    columns = [(c, c, "fit") if isinstance(c, str) else c for c in columns]
    table = []
    for method in methods:
        entry = {"method": method, "family": family_of(method)}
        seconds, params = [], []
        for label, signal, task in columns:
            mine = [r for r in rows if r["method"] == method and r["signal"] == signal
                    and (r.get("task") or "fit") == task and r.get("psnr_db") is not None]
            values = [float(r["psnr_db"]) for r in mine]
            entry[f"{label}"] = float(np.mean(values)) if values else None
            entry[f"{label}_std"] = float(np.std(values)) if len(values) > 1 else 0.0
            entry[f"{label}_limit"] = any(FLOAT32_LIMIT_NOTE in (r.get("note") or "") for r in mine)
            seconds += [float(r["seconds"]) for r in mine if r.get("seconds") is not None]
            params += [int(r["params"]) for r in mine if r.get("params") is not None]
        entry["params"] = int(np.median(params)) if params else None
        entry["seconds"] = float(np.mean(seconds)) if seconds else None
        table.append(entry)
    return table


def regime_text(plan: ZooScale, summary: list[dict]) -> str:
    """Samples against parameters, per signal: which regime each column measures."""
    relu = next((entry["params"] for entry in summary if entry["method"] == "relu" and entry["params"]), None)
    if relu is None:
        return ""
    counts = [(signal, sizes["image_size"] ** 2 if "image_size" in sizes else sizes.get("length", 0))
              for signal, sizes in plan.signals]
    parts = ", ".join(f"{signal} {count:,}" for signal, count in counts)
    fewer = all(count >= 2 * relu for _, count in counts)
    regime = ("samples outnumber parameters (≥ 2×): the table measures how well a method represents"
              if fewer else "parameters outnumber some signals' samples: those columns measure how fast a method "
              "memorises")
    return f"Samples per signal ({parts}) for ReLU's {relu:,} parameters: {regime}."


def zoo_markdown(summary: list[dict], signals: list[str], plan: ZooScale, tune: bool, steps: int,
                 seeds: tuple[int, ...] | None = None) -> str:
    seeds = tuple(seeds or plan.seeds)
    settings = {**ZOO_SETTINGS, **dict(plan.settings)}
    header = ["method", "family"] + signals + ["params", "s/run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in summary:
        cells = [entry["method"], entry["family"]]
        for signal in signals:
            value = entry[signal]
            limit = "≥ " if entry.get(f"{signal}_limit") else ""
            cells.append("—" if value is None else f"{limit}{value:.2f} ± {entry[f'{signal}_std']:.2f}"
                         if len(seeds) > 1 else f"{limit}{value:.2f}")
        cells += [str(entry["params"]), f"{entry['seconds']:.2f}" if entry["seconds"] is not None else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    lr = ("each method at its own best learning rate (one shared grid, searched at another seed)" if tune
          else "each method's default learning rate")
    seeds_text = f"seeds {', '.join(map(str, seeds))} (mean ± std)" if len(seeds) > 1 else f"seed {seeds[0]}"
    notes = (f"\nPSNR (dB, R = 2 on [-1, 1] targets) after {steps} full-batch Adam steps, {lr}, {seeds_text}; "
             f"parameters matched to ReLU {plan.depth}×{plan.width} within 5% per signal (grids: "
             f"2^{settings['grid_table_log2']} table entries a level). ≥: a run at its float32 limit (what is left "
             f"is round-off; such runs do not rank among themselves). {regime_text(plan, summary)}")
    notes += "".join(f" Left out: {method}, {why}." for method, why in plan.left_out)
    tasks = [task for task, _ in plan.tasks if task != "fit"]
    if tasks:
        notes += (f" A column named \"<signal> {tasks[0]}\" is the held-out PSNR (tasks.py): trained on half of the "
                  "pixels (seeded), scored on the other half; the others score every pixel, all trained on.")
    return "\n".join(lines) + "\n" + notes + "\n"


def zoo_figure(summary: list[dict], signals: list[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {family: plt.get_cmap("tab10")(i) for i, family in enumerate(families())}
    fig, (per_signal, versus_time) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    for offset, entry in enumerate(summary):
        shift = (offset / max(len(summary) - 1, 1) - 0.5) * 0.6  # spread the dots of one signal
        values = [entry[s] for s in signals]
        xs = [i + shift for i, v in enumerate(values) if v is not None]
        per_signal.scatter(xs, [v for v in values if v is not None], s=18, color=colours.get(entry["family"], "grey"))
        known = [v for v in values if v is not None]
        if known and entry["seconds"] is not None:
            versus_time.scatter(entry["seconds"], np.mean(known), color=colours.get(entry["family"], "grey"))
            versus_time.annotate(entry["method"], (entry["seconds"], np.mean(known)), fontsize=7,
                                 xytext=(3, 2), textcoords="offset points")
    per_signal.set_xticks(range(len(signals)), signals)
    per_signal.set_ylabel("PSNR (dB)")
    per_signal.set_title("PSNR per signal, a dot per method (colour: family)")
    for family, colour in colours.items():
        per_signal.scatter([], [], color=colour, label=family)
    per_signal.legend(fontsize=7, loc="best")
    versus_time.set_xscale("log")
    # plain seconds at 1, 2, 5 × 10^k (the range is often under one decade: "6 × 10^0" read badly)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    versus_time.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    versus_time.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    versus_time.xaxis.set_minor_formatter(NullFormatter())
    versus_time.margins(x=0.12)  # room for the rightmost method's name
    versus_time.set_xlabel("wall time per run (s)")
    versus_time.set_ylabel("mean PSNR over the signals (dB)")
    versus_time.set_title("PSNR vs wall time")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
