"""The training stream the worker produces: host data only (numpy, no tensors), so it can run in
another process (Hugging Face ZeroGPU wraps it with `spaces.GPU`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..config import RunConfig
from ..errors import SpectralLabError
from ..signals import Signal
from ..train import Run, Snapshot
from ..tuning import TUNE_FACTORS, describe_trials, tune_lr

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
    learning rate (tuning.tune_lr), one after the other, then all train at their winners."""
    runs: dict[int, tuple[Run, str]] = {}  # index -> (run, its tuning note)
    for index, method in enumerate(methods):
        if should_stop():
            return
        method_config, tuned = config.replace(method=method), ""
        try:
            if tune:
                yield Update(index, method, "tuning", note=f"finding {method}'s best learning rate: short runs at "
                                                           f"{len(TUNE_FACTORS)}+ rates around its default")
                best, trials = tune_lr(method_config, signal, should_stop=should_stop)
                if should_stop():
                    return
                method_config, tuned = method_config.replace(lr=best), describe_trials(trials)
            runs[index] = (Run(method_config, signal), tuned)
        except SpectralLabError as exc:
            yield Update(index, method, "failed", note=str(exc))
    for index, (run, tuned) in runs.items():
        yield Update(index, methods[index], "start",
                     note="; ".join(n for n in (tuned, run.modifier_note, run.step_note) if n))
    active = {index: iter(run) for index, (run, _) in runs.items()}
    stopping = False
    while active:
        for index in list(active):
            run, tuned = runs[index]
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
                row = {**run.summary_row(), "lr": run.config.lr, "steps/s": round(snapshot.steps_per_s, 1)}
                if tuned:
                    row["tuned"] = tuned
            yield Update(index, methods[index], "snapshot", snapshot=snapshot, row=row)


def user_message(exc: BaseException) -> str:
    """One line for a visitor: the message, never the exception's class name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "out of memory" in text.lower():
        return "out of memory: lower the width, the NTK points or the signal size"
    return text or "an unexpected error (details are in the server log)"
