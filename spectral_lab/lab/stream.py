"""The training stream the worker produces: host data only (numpy, no tensors), so it can run in
another process (Hugging Face ZeroGPU wraps it with `spaces.GPU`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..config import RunConfig
from ..errors import SpectralLabError
from ..methods import resolve
from ..signals import Signal
from ..train import Run, Snapshot
from ..tuning import TuneResult, comparison_grid, describe_trials, search_lr
from .variants import variant_config

OUTCOMES = ("finished", "stopped", "diverged", "failed")


@dataclass
class Update:
    """One thing that happened to one method, as host data (picklable, no tensors)."""

    index: int
    method: str
    event: str  # "tuning" | "start" | "snapshot" | "failed"
    snapshot: Snapshot | None = None
    row: dict | None = None  # the results-table row, with the final snapshot
    note: str = ""  # start: how it steps and what its modifiers chose; failed: the message


def train_stream(config: RunConfig, methods: list[str], signal: Signal,
                 should_stop: Callable[[], bool] = lambda: False, tune: bool = False) -> Iterator[Update]:
    """Train `methods` on `signal` with the same budget, all progressing together: round-robin,
    one log interval of each method in turn (its own model, optimiser and RNG state, built with its
    own seed, so each ends exactly where it would alone). A failing method (a bad knob for it, out
    of memory) is reported and the others go on. `tune`: each method first searches its best
    learning rate on one grid shared by all of them (tuning.py), one after the other, then all
    train at their winners; the search's time is part of each method's time in the table."""
    runs: dict[int, tuple[Run, TuneResult | None]] = {}  # index -> (run, its search)
    grid = _shared_grid(config, methods, signal) if tune else None
    for index, method in enumerate(methods):
        if should_stop():
            return
        search = None
        try:
            method_config = variant_config(config, method)  # a variant's own settings on top
            if tune:
                search = yield from _tune(index, method, method_config, signal, grid, should_stop)
                if should_stop():
                    return
                method_config = method_config.replace(lr=search.best_lr)
            runs[index] = (Run(method_config, signal), search)
        except SpectralLabError as exc:
            yield Update(index, method, "failed", note=str(exc))
    for index, (run, search) in runs.items():
        tuned = describe_trials(search) if search else ""
        yield Update(index, methods[index], "start",
                     note="; ".join(n for n in (tuned, run.modifier_note, run.step_note) if n))
    yield from _round_robin(runs, methods, should_stop)


def _shared_grid(config: RunConfig, methods: list[str], signal: Signal) -> list[float] | None:
    """The one lr grid of a tuned comparison, around the defaults of the methods that resolve (a
    method that does not fails later with its own message)."""
    configs = []
    for method in methods:
        try:
            configs.append(resolve(variant_config(config, method), signal))
        except SpectralLabError:
            pass
    return comparison_grid(configs, signal) if configs else None


def _tune(index: int, method: str, config: RunConfig, signal: Signal, grid, should_stop):
    """Yield a "tuning" update at each of the search's progress points ("tuning relu_pe: short trials 1–9
    of 9 (lr …, one batch), step 20 of 25"); return the search."""
    search = search_lr(config, signal, grid, should_stop)
    while True:
        try:
            progress = next(search)
        except StopIteration as done:
            return done.value
        yield Update(index, method, "tuning", note=f"tuning {method}: {progress.text}")


def _round_robin(runs: dict, methods: list[str], should_stop) -> Iterator[Update]:
    """One log interval of each run in turn until all have ended."""
    active = {index: iter(run) for index, (run, _) in runs.items()}
    stopping = False
    while active:
        for index in list(active):
            run, search = runs[index]
            if should_stop() and not stopping:  # every run ends at its next step, with its own final result
                stopping = True
                for other, _ in runs.values():
                    other.stop()
            try:
                snapshot = next(active[index])
            except StopIteration:
                del active[index]
                continue
            except (SpectralLabError, FloatingPointError, RuntimeError, MemoryError) as exc:
                del active[index]
                yield Update(index, methods[index], "failed", note=user_message(exc))
                continue
            row = None
            if snapshot.done:
                del active[index]
                row = {**result_row(run, snapshot, search), "method": methods[index]}  # a variant's own name
            yield Update(index, methods[index], "snapshot", snapshot=snapshot, row=row)


def result_row(run: Run, snapshot, search: TuneResult | None) -> dict:
    """The results table's row: the run's summary, its lr and rate; a tuned run's time includes
    its search, which also has a column of its own."""
    row = {**run.summary_row(), "lr": run.config.lr, "steps/s": round(snapshot.steps_per_s, 1)}
    if search is not None:
        row["tuning_s"] = round(search.seconds, 2)
        row["seconds"] = round(row["seconds"] + search.seconds, 2)
        row["tuned"] = describe_trials(search)
    return row


def user_message(exc: BaseException) -> str:
    """One line for a visitor: the message, never the exception's class name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "out of memory" in text.lower():
        return "out of memory: lower the width, the NTK points or the signal size"
    return text or "an unexpected error (details are in the server log)"
