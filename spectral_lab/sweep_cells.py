"""Sweep cells, in whatever process runs them (this one, a local pool's, a Ray task's): each cell's
signal loaded by name (nothing large travels with a task), its learning rate searched when it is
tuned, its run trained (in stacked batches with the other cells of its unit where they can share
one: batched.py), and a small result returned: the table row, the resolved config, the loss curve.

Never raises for a bad cell: an unreadable signal, a bad setting or an out-of-memory run becomes a
row with status 'failed' and the message, so a sweep goes on.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .cli_common import finite_or_none
from .errors import SpectralLabError
from .memory import is_out_of_memory, out_of_memory_message
from .metrics import DATA_RANGE

SIGNAL_FIELDS = ("signal", "length", "image_size", "gray", "signal_options")  # what loading a signal reads


def cell_row(cell) -> dict[str, Any]:
    """The row's identity: signal, method, seed, the swept knobs and protocol fields, the cell id."""
    settings = dict(cell.config)
    return {"signal": Path(str(settings["signal"])).name, "method": settings["method"], "seed": settings["seed"],
            **{k: settings[k] for k in cell.knobs}, **dict(cell.extra), "cell": cell.id}


def failed_result(cell, exc: BaseException) -> dict:
    """A cell that could not train, with one line saying why."""
    if is_out_of_memory(exc):
        note = out_of_memory_message(exc, "training")
    elif isinstance(exc, SpectralLabError):
        note = str(exc)
    else:
        note = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory or an I/O error"
    return {"row": {**cell_row(cell), "status": "failed", "note": note}, "config": dict(cell.config),
            "curve": None, "metrics": {}}


def run_cell(cell, say: Callable[[str], None] = lambda text: None) -> dict:
    """Train one cell alone; return {row, config, curve, metrics}: small host data only. `say` hears
    what the cell is doing ("tuning siren on tetris.wav: short trials 1–9 of 9 (lr …, one batch), step 20 of
    25"), for a progress line."""
    return next(run_cells([cell], say, batch=False))[1]


def run_cell_list(cells: list, batch: bool = True) -> list[tuple[str, dict]]:
    """run_cells to the end, as (cell id, result) pairs: what a pool's or Ray's task returns."""
    return [(cell.id, result) for cell, result in run_cells(cells, batch=batch)]


def run_cells(cells: list, say: Callable[[str], None] = lambda text: None,
              batch: bool = True) -> Iterator[tuple[Any, dict]]:
    """Train `cells`, those that can share a stacked batch as one (batch=True); yields (cell, result)
    as each cell ends (a bad one at once)."""
    from .batched import train_each

    signals: dict[tuple, Any] = {}
    prepared = []  # (cell, run, search)
    for cell in cells:
        try:
            run, search = _prepare(cell, signals, say, batch)
        except (SpectralLabError, MemoryError, RuntimeError, OSError) as exc:
            yield cell, failed_result(cell, exc)
            continue
        prepared.append((cell, run, search))
    for index, outcome in train_each([run for _, run, _ in prepared], batch, say):
        cell, _, search = prepared[index]
        if outcome.error is not None:
            yield cell, failed_result(cell, outcome.error)
        else:
            yield cell, cell_result(cell, outcome.run, search, outcome.batch)


def _prepare(cell, signals: dict, say: Callable[[str], None], batch: bool):
    """The cell's Run (its memory checked), after its learning-rate search when it is tuned; the
    signal is loaded once for every cell that reads the same one."""
    from .signals import signal_for
    from .train import Run

    config = cell.run_config()
    key = tuple(getattr(config, name) for name in SIGNAL_FIELDS)
    if key not in signals:
        signals[key] = signal_for(config)
    signal, search = signals[key], None
    if cell.tune:
        search = _search(config, signal, cell, say, batch)
        config = config.replace(lr=search.best_lr)
    return Run(config, signal), search


def _search(config, signal, cell, say: Callable[[str], None], batch: bool):
    """The cell's learning-rate search on its comparison's grid, saying which trials train and where
    they are ("tuning siren on camera: short trials 1–3 of 7 (lr …, one batch), step 20 of 38")."""
    from .tuning import search_lr

    search = search_lr(config, signal, list(cell.tune_grid) or None, batch=batch)
    name = Path(str(config.signal)).name
    while True:
        try:
            progress = next(search)
        except StopIteration as done:
            return done.value
        say(f"tuning {config.method} on {name}: {progress.text}")


def cell_result(cell, run, search, batch: str) -> dict:
    """The row of a trained cell: the run's summary, its peak PSNR over every step, the PSNR at the
    protocol's checkpoints, its lr and device, how it was batched; a search's time is the cell's."""
    from .tuning import describe_trials

    row = cell_row(cell)
    summary = run.summary_row()
    steps, losses = run.curve()
    # Peak PSNR over every step (WINNER's reference keeps the best epoch): each step's loss is
    # measured before its update, so this sees every parameter state, not only log points; the
    # final parameters (after the last update) are the run's own PSNR.
    # A task holding samples out reads its held-out curve instead (log points; the peak is then an
    # oracle's early stop: it reads the clean target).
    with np.errstate(divide="ignore"):  # a zero loss is an infinite PSNR, as psnr_from_mse says
        psnrs = 10.0 * np.log10(DATA_RANGE**2 / np.asarray(losses, dtype=np.float64))
    if run.task.holds_out:
        steps, psnrs = run.heldout_curve()
    curve_peak = float(np.max(psnrs)) if psnrs.size else -np.inf
    summary["peak_psnr_db"] = round(max(curve_peak, summary["psnr_db"]), 2)
    for checkpoint in cell.checkpoints:
        hit = np.nonzero(steps == checkpoint)[0]
        summary[f"psnr@{checkpoint}"] = round(float(psnrs[hit[0]]), 2) if hit.size else None
    steps, losses = run.curve()
    summary.pop("signal", None)
    summary.pop("method", None)
    row.update(summary, lr=run.config.lr, device=_device_name(run.device), batch=batch)
    if search is not None:  # the search's time is part of the cell's, and shown alone
        row.update(tuned=describe_trials(search), tuning_s=round(search.seconds, 2),
                   seconds=round(row["seconds"] + search.seconds, 2))
    return {"row": row, "config": run.config.to_dict(), "curve": (steps.tolist(), losses.tolist()),
            "metrics": {k: finite_or_none(v) for k, v in run.final.metrics.items()}}


def _device_name(device) -> str:
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    return "cpu"
