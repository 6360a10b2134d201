"""Sweeps: a grid of signals × methods × seeds × knob values -> one results table.

    cells = grid_cells(base, signals=["camera", "chip_melody"], methods=["siren", "siren2"],
                       seeds=[0, 1, 2], sets={"width": [128, 256]})
    rows = run_sweep(cells, out="runs/sweep", backend="local", workers=2)

Each cell is a RunConfig (the base with the cell's signal, method, seed and knobs). A worker —
this process, a process of a local pool, or a Ray task on any machine of a cluster — loads the
signal itself from its name or path (nothing large travels with the task), trains, and returns
a small result: the table row, the resolved config and the loss curve. The driver writes, as
each cell finishes, `cells/<id>/{config.json, curve.csv, metrics.json}` and rewrites
`results.csv`, `results.md` (and `results.parquet` when pyarrow is installed) and
`summary.csv` / `summary.md` (mean ± std over seeds per signal, method and knobs).

Resumable: a cell whose metrics.json says it finished (or diverged: that is a result too) is
skipped when the sweep runs again; failed cells (unreadable signal, bad setting) are recorded
with their message and retried next time. Ray is optional (`pip install -e .[ray]`): Ray core
tasks, one per unit, with `num_gpus=gpus_per_cell` so that several small fits share a GPU.

Cells that share an architecture and a signal size (seeds, methods of one architecture, the files
of one length) train as one stacked model: the driver groups them into units (`batch_units`), and
the worker that runs a unit trains its cells in batches (sweep_cells.run_cells -> batched.py),
each cell's row the same as alone but for its `batch` column and its seconds (its share of the
batch's time). `batch=False` (the CLI's --no-batch) trains every cell alone.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .cli_common import finite_or_none, markdown_table, write_csv
from .config import RunConfig, coerce
from .errors import ConfigError
from .methods import get_method
from .metrics import psnr_from_mse
from .sweep_cells import run_cell, run_cell_list, run_cells  # noqa: F401 (run_cell: one cell, as before)

BACKENDS = ("local", "ray")
DONE_STATUSES = ("finished", "stopped", "diverged")
ROW_COLUMNS = ["signal", "method", "seed", "psnr_db", "peak_psnr_db", "ssim", "rho_ag", "params", "lr", "seconds",
               "tuning_s", "steps", "steps_per_s", "device", "status", "note", "batch", "tuned", "cell"]
# Cells that differ only in these may train as one stacked batch (batched.py decides exactly, from the
# built networks): the loop, the architecture's size and the signal's size must agree.
UNIT_FIELDS = ("steps", "log_every", "preview_every", "optimizer", "tf32", "device", "fast", "width", "depth",
               "length", "image_size", "gray", "signal_options")


@dataclass(frozen=True)
class Cell:
    """One fit of a sweep: the full config (as a dict) and which knobs this grid varies."""

    config: tuple[tuple[str, Any], ...]  # sorted (field, value) pairs of a RunConfig
    knobs: tuple[str, ...] = ()  # the swept fields shown as table columns (besides signal/method/seed)
    extra: tuple[tuple[str, Any], ...] = ()  # protocol fields carried into the row (e.g. the paper's file name)
    checkpoints: tuple[int, ...] = ()  # steps whose PSNR becomes a column (psnr@25, ...)
    tune: bool = False  # train at the best lr of a search on `tune_grid` (tuning.py)
    tune_grid: tuple[float, ...] = ()  # the rates every method of the comparison tries (empty: its own grid)

    @classmethod
    def make(cls, config: RunConfig, knobs=(), extra: dict | None = None, checkpoints=(), tune: bool = False,
             tune_grid: tuple[float, ...] = ()) -> "Cell":
        return cls(tuple(sorted(config.to_dict().items())), tuple(knobs), tuple(sorted((extra or {}).items())),
                   tuple(checkpoints), tune, tuple(tune_grid))

    def run_config(self) -> RunConfig:
        return RunConfig.from_dict(dict(self.config))

    @property
    def id(self) -> str:
        """Stable folder name: readable prefix + hash of everything that defines the fit."""
        settings = dict(self.config)
        defining = [self.config, self.checkpoints] + (["tuned", list(self.tune_grid)] if self.tune else [])
        digest = hashlib.sha1(json.dumps(defining, default=str).encode()).hexdigest()[:10]
        stem = f"{Path(str(settings['signal'])).stem}-{settings['method']}-s{settings['seed']}"
        return "".join(c if c.isalnum() or c in "-_+." else "_" for c in stem) + f"-{digest}"


def grid_cells(base: RunConfig, signals: list[str], methods: list[str], seeds: list[int] | None = None,
               sets: dict[str, list] | None = None, tune: bool = False, equal_params: bool = False) -> list[Cell]:
    """Every combination, validated before anything trains (unknown methods, knobs or values fail
    here). File signals are stored as absolute paths, so workers elsewhere find them.

    tune: each cell trains at the best lr of a short search (tuning.tune_lr). equal_params: each
    method gets the width whose parameter count matches, within 5%, the first method's at the
    base width (per signal; the width becomes a table column)."""
    if not signals or not methods:
        raise ConfigError("a sweep needs at least one signal and one method")
    sets = {name: list(values) for name, values in (sets or {}).items()}
    known = set(RunConfig.__dataclass_fields__)
    for name, values in sets.items():
        if name not in known or name in ("signal", "method", "seed"):
            raise ConfigError(f"--set {name}: not a setting that can be swept (see `fit --help`)")
        if not values:
            raise ConfigError(f"--set {name}: no values")
    for method in methods:
        get_method(method)
    if equal_params and "width" in sets:
        raise ConfigError("--equal-params chooses the width: do not also sweep it")
    if tune and "lr" in sets:
        raise ConfigError("--tune chooses the lr: do not also sweep it")
    seeds = list(seeds) if seeds else [base.seed]
    widths = _equal_parameter_widths(base, signals, methods) if equal_params else {}
    grids = _tuning_grids(base, signals, methods, widths) if tune else {}
    knobs = tuple(sets) + (("width",) if equal_params else ())
    cells = []
    for signal, method, seed, *values in product(signals, methods, seeds, *sets.values()):
        changes = {name: coerce(name, value) for name, value in zip(sets, values)}
        if equal_params:
            changes["width"] = widths[signal, method]
        config = base.replace(signal=absolute_if_file(signal), method=method, seed=int(seed), **changes)
        cells.append(Cell.make(config, knobs=knobs, tune=tune, tune_grid=grids.get(signal, ())))
    return cells


def _tuning_grids(base: RunConfig, signals: list[str], methods: list[str], widths: dict) -> dict[str, tuple]:
    """signal -> the one grid of rates every method tries on it (tuning.comparison_grid)."""
    from .signals import signal_for
    from .tuning import comparison_grid

    grids = {}
    for name in signals:
        config = base.replace(signal=absolute_if_file(name))
        signal = signal_for(config)
        configs = [config.replace(method=m, **({"width": widths[name, m]} if widths else {})) for m in methods]
        grids[name] = tuple(comparison_grid(configs, signal))
    return grids


def _equal_parameter_widths(base: RunConfig, signals: list[str], methods: list[str]) -> dict[tuple[str, str], int]:
    """(signal, method) -> the width matching the first method's parameter count at base.width."""
    from .methods import build_model, count_parameters, resolve
    from .signals import signal_for
    from .tuning import width_for_parameters

    widths = {}
    for name in signals:
        config = base.replace(signal=absolute_if_file(name))
        signal = signal_for(config)
        reference = resolve(config.replace(method=methods[0]), signal)
        target = count_parameters(build_model(reference, signal))
        for method in methods:
            widths[name, method] = (base.width if method == methods[0]
                                    else width_for_parameters(config.replace(method=method), signal, target))
    return widths


def absolute_if_file(signal: str) -> str:
    path = Path(signal)
    return str(path.resolve()) if path.suffix and path.exists() else signal


def parse_values(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_sets(assignments: list[str]) -> dict[str, list[str]]:
    """['width=128,256', 'lr=1e-4'] -> {'width': ['128', '256'], 'lr': ['1e-4']}."""
    sets = {}
    for assignment in assignments or []:
        if "=" not in assignment:
            raise ConfigError(f"--set {assignment!r}: write it as name=value1,value2")
        name, values = assignment.split("=", 1)
        sets[name.strip().replace("-", "_")] = parse_values(values)
    return sets


def load_grid_file(path: str | os.PathLike) -> dict:
    """A TOML (or YAML) grid: signals, methods, seeds, [base] settings and [sets] value lists.

        signals = ["camera", "data/clip.wav"]
        methods = ["siren", "siren2"]
        seeds = [0, 1, 2]
        [base]
        steps = 500
        image_size = 128
        [sets]
        width = [128, 256]
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # an image or other binary file given as the grid
        raise ConfigError(f"{path.name}: not a grid file (not UTF-8 text; a grid is TOML or YAML)") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            grid = yaml.safe_load(text) or {}
        else:
            grid = tomllib.loads(text)
    except Exception as exc:
        raise ConfigError(f"{path.name}: not a valid grid file ({exc})") from None
    unknown = set(grid) - {"signals", "methods", "seeds", "base", "sets"}
    if unknown:
        raise ConfigError(f"{path.name}: unknown key(s) {', '.join(sorted(unknown))}; use signals, methods, seeds, "
                          "base, sets")
    base_dir = path.resolve().parent
    names, methods = _grid_list(grid, "signals", str, path), _grid_list(grid, "methods", str, path)
    seeds = _grid_list(grid, "seeds", int, path)
    signals = [str(base_dir / s) if Path(s).suffix and (base_dir / s).exists() else s for s in names]
    return {"signals": signals, "methods": methods, "seeds": seeds,
            "base": dict(grid.get("base", {})), "sets": {k: list(v) if isinstance(v, list) else [v]
                                                         for k, v in grid.get("sets", {}).items()}}


def _grid_list(grid: dict, key: str, kind: type, path: Path) -> list:
    """A grid file's list of `kind` (one value alone counts as a list of one), or a ConfigError
    naming the file, the key and the bad value."""
    value = grid.get(key, [])
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, kind):
            expected = "integers" if kind is int else "names (text)"
            raise ConfigError(f"{path.name}: {key} must be {expected}; got {item!r}")
    return values


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------------
@dataclass
class SweepResults:
    """The table being built: rows by cell id, written to `out` after every finished cell."""

    out: Path
    cells: list[Cell]
    rows: dict[str, dict] = field(default_factory=dict)

    def cell_dir(self, cell: Cell) -> Path:
        return self.out / "cells" / cell.id

    def load_finished(self) -> list[Cell]:
        """Rows of cells finished by an earlier run of this sweep; returns the cells still to run."""
        todo = []
        for cell in self.cells:
            metrics_file = self.cell_dir(cell) / "metrics.json"
            try:
                saved = json.loads(metrics_file.read_text())
            except (OSError, ValueError):
                todo.append(cell)
                continue
            if saved.get("row", {}).get("status") in DONE_STATUSES:
                self.rows[cell.id] = saved["row"]
            else:
                todo.append(cell)
        return todo

    def add(self, cell: Cell, result: dict) -> dict:
        folder = self.cell_dir(cell)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(result["config"], indent=2, default=str) + "\n")
        if result["curve"] is not None:
            steps, losses = result["curve"]
            with open(folder / "curve.csv", "w") as handle:
                handle.write("step,loss,psnr_db\n")
                handle.writelines(f"{s},{l:.8g},{psnr_from_mse(l):.4f}\n" for s, l in zip(steps, losses))
        row = {k: finite_or_none(v) for k, v in result["row"].items()}
        (folder / "metrics.json").write_text(json.dumps({"row": row, "metrics": result["metrics"]}, indent=2,
                                                        allow_nan=False) + "\n")
        self.rows[cell.id] = row
        self.write_tables()
        return row

    def ordered_rows(self) -> list[dict]:
        return [self.rows[c.id] for c in self.cells if c.id in self.rows]

    def columns(self) -> list[str]:
        knobs = list(dict.fromkeys(k for c in self.cells for k in c.knobs))
        extras = list(dict.fromkeys(k for c in self.cells for k, _ in c.extra))
        checkpoints = list(dict.fromkeys(f"psnr@{s}" for c in self.cells for s in c.checkpoints))
        # a swept knob that is also a fixed column (lr) is shown once, beside the other knobs
        # a task's rows carry the training PSNR beside the held-out one (psnr_db)
        tasks = ["task", "train_psnr_db"] if any("task" in row for row in self.rows.values()) else []
        return list(dict.fromkeys(ROW_COLUMNS[:3] + knobs + extras + tasks + ROW_COLUMNS[3:4] + checkpoints
                                  + ROW_COLUMNS[4:]))

    def write_tables(self) -> None:
        rows = self.ordered_rows()
        columns = self.columns()
        write_csv(rows, self.out / "results.csv", columns)
        (self.out / "results.md").write_text(markdown_table(rows, columns) + "\n")
        try:
            import pandas as pd

            pd.DataFrame(rows, columns=columns).to_parquet(self.out / "results.parquet")
        except ImportError:  # pandas / pyarrow not installed: CSV and Markdown are written anyway
            pass
        summary = summarise(rows, [c for c in columns if c not in ROW_COLUMNS[2:] and not c.startswith("psnr@")])
        if summary:
            summary_columns = list(dict.fromkeys(k for entry in summary for k in entry))  # SSIM only for images
            write_csv(summary, self.out / "summary.csv", summary_columns)
            (self.out / "summary.md").write_text(markdown_table(summary, summary_columns) + "\n")


def summarise(rows: list[dict], group_by: list[str]) -> list[dict]:
    """Mean ± std over seeds of PSNR, SSIM, ρ_AG and seconds, per group (signal, method, knobs)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row.get("status") not in DONE_STATUSES:
            continue
        groups.setdefault(tuple(row.get(k) for k in group_by), []).append(row)
    summary = []
    for key, members in groups.items():
        entry = dict(zip(group_by, key))
        entry["seeds"] = len(members)
        rates = sorted({float(m["lr"]) for m in members if m.get("lr") is not None})
        if rates:  # the rate(s) the group trained at (tuned seeds may differ)
            entry["lr"] = ", ".join(f"{rate:.3g}" for rate in rates)
        for metric in ("psnr_db", "ssim", "rho_ag", "seconds"):
            values = np.array([m[metric] for m in members if m.get(metric) is not None], dtype=float)
            if values.size:
                entry[metric] = f"{values.mean():.4g} ± {values.std():.2g}"
        summary.append(entry)
    return summary


def run_sweep(cells: list[Cell], out: str | os.PathLike, backend: str = "local", workers: int = 1,
              address: str | None = None, gpus_per_cell: float = 0.0, progress: bool = True,
              on_row: Callable[[dict], None] | None = None, batch: bool = True) -> list[dict]:
    """Run every cell not finished yet; rows in grid order (finished ones from earlier runs too).
    `batch`: cells that share an architecture and a signal size train as one stacked model
    (batched.py; the row's `batch` column says how each trained); off, every cell trains alone."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}")
    if workers < 1:
        raise ConfigError("workers must be at least 1")
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise ConfigError("the grid lists the same cell twice")
    results = SweepResults(Path(out), cells)
    results.out.mkdir(parents=True, exist_ok=True)
    todo = results.load_finished()
    from tqdm import tqdm

    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="cell", disable=not progress,
               file=sys.stderr, dynamic_ncols=True, desc="sweep")

    def finished(cell: Cell, result: dict) -> None:
        row = results.add(cell, result)
        bar.update(1)
        bar.set_postfix_str(f"{row['signal']}/{row['method']}: {row.get('psnr_db', row['status'])}")
        if on_row:
            on_row(row)

    units = batch_units(todo, batch)
    try:
        if units and backend == "ray":
            _run_ray(units, finished, address, gpus_per_cell, batch)
        elif units and workers > 1:
            _run_pool(units, finished, workers, batch)
        else:
            for unit in units:  # in this process: the bar says what the unit is doing
                for cell, result in run_cells(unit, say=lambda text: bar.set_postfix_str(text), batch=batch):
                    finished(cell, result)
    finally:
        bar.close()  # before any error is printed: the error gets a line of its own, not the bar's
    results.write_tables()
    return results.ordered_rows()


def batch_units(cells: list[Cell], batch: bool) -> list[list[Cell]]:
    """The work units of a sweep: with `batch`, the cells that may share a stacked batch (the same
    UNIT_FIELDS, and tuned alike), in grid order; otherwise one cell each."""
    if not batch:
        return [[cell] for cell in cells]
    units: dict[tuple, list[Cell]] = {}
    for cell in cells:
        settings = dict(cell.config)
        key = tuple(settings[name] for name in UNIT_FIELDS) + (cell.tune,)
        units.setdefault(key, []).append(cell)
    return list(units.values())


def _run_pool(units: list[list[Cell]], finished, workers: int, batch: bool) -> None:
    """A local process pool (spawned: no forked torch state), threads split between the workers that
    have work."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    busy = min(workers, len(units))
    threads = max(1, (os.cpu_count() or 1) // busy)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=busy, mp_context=context, initializer=_worker_init,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(run_cell_list, unit, batch): unit for unit in units}
        for future in as_completed(futures):
            _deliver(futures[future], future.result(), finished)


def _deliver(unit: list[Cell], results: list[tuple[str, dict]], finished) -> None:
    """A unit's (cell id, result) pairs to `finished`, cell by cell."""
    by_id = {cell.id: cell for cell in unit}
    for cell_id, result in results:
        finished(by_id[cell_id], result)


def _check_reachable(address: str | None, timeout: float = 3.0) -> None:
    """A ray://host:port address answers on its port, or a ConfigError at once (Ray's own client
    waits 30 s before it gives up)."""
    import socket
    from urllib.parse import urlparse

    if not address or not address.startswith("ray://"):
        return
    parsed = urlparse(address)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 10001), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                          "`ray start --head` there, or leave --address out to run Ray on this machine") from None


def _run_ray(units: list[list[Cell]], finished, address: str | None, gpus_per_cell: float, batch: bool) -> None:
    """Ray core tasks, one per unit (a cell, or cells that may train as one batch), each asking for
    `gpus_per_cell` GPUs; rows are written as tasks finish (ray.wait)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray backend needs Ray: pip install -e '.[ray]'") from None
    if not ray.is_initialized():
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     **({} if address else {"num_cpus": os.cpu_count()}))
        except (ValueError, ConnectionError, RuntimeError) as exc:  # no client package, no cluster there
            hint = (" (the client needs pip install -e '.[ray]', which brings ray[client])"
                    if "client" in str(exc).lower() and "pip" in str(exc).lower() else "")
            raise ConfigError(f"could not start Ray at {address or 'this machine'}: "
                              f"{str(exc).splitlines()[0]}{hint}") from None
    task = ray.remote(run_cell_list).options(num_cpus=1, num_gpus=gpus_per_cell or 0)
    pending = {task.remote(unit, batch): unit for unit in units}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            _deliver(pending.pop(ref), ray.get(ref), finished)

