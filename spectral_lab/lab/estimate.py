"""How long a run will take on this server, before it starts, and a run that fits the room.

Seconds per step ≈ overhead + cost_m · points · parameters (a method's arithmetic grows with the
points it trains on times its parameters; the overhead is Python and kernel launches). `RateBook`
keeps cost_m per method and device: a built-in guess, then a calibration at start-up (a short run
of every method), refined by every run that finishes here. `fit_to_budget` shrinks a run whose
estimate is over the server's budget (default 60 s on a CPU): the signal's size first (an image
side, an audio crop), then the steps, unless the user set that size themselves, and says so in
one line ("camera at 128² instead of 512²: ~20 s instead of ~30 min here; set image size to
override").
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

from ..config import RunConfig
from ..errors import SpectralLabError
from ..methods import METHODS, build_model, count_parameters, resolve
from ..signals import Signal, signal_for

# Measured on this project's 2-core CPU (SIREN 3×128 on camera 64², eager, 1 thread; an idle
# machine): the starting guess until calibration has run.
DEFAULT_COST = {"cpu": 3.0e-10, "cuda": 4.0e-12}  # seconds per step per (point × parameter)
DEFAULT_OVERHEAD = {"cpu": 2.0e-3, "cuda": 1.5e-3}  # seconds per step whatever the size
DIAGNOSTICS_SHARE = 0.1  # the app's cadences take ≤ 6 % of the time; plus the final step's
TUNE_FACTOR = 5.5  # a tuned run: its search costs about this many runs (tuning.search_steps: ~1.25 of ranking, 4 full)
IMAGE_SIDES = (512, 384, 256, 192, 128, 96, 64, 48, 32)
MIN_STEPS = 50


def budget_seconds(device_type: str) -> float:
    """The server's budget for one run: SPECTRAL_LAB_RUN_BUDGET_S, else 60 s on a CPU, 180 s on a GPU."""
    raw = os.environ.get("SPECTRAL_LAB_RUN_BUDGET_S")
    return float(raw) if raw else (180.0 if device_type == "cuda" else 60.0)


class RateBook:
    """Seconds per step per (point × parameter) of each method on each device, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.costs: dict[tuple[str, str], float] = {}
        self.measured: dict[tuple[str, str], int] = {}  # how many runs each cost comes from
        self.calibrated = False

    def cost(self, method: str, device: str) -> float:
        with self._lock:
            return self.costs.get((method.split("+")[0], device), DEFAULT_COST.get(device, DEFAULT_COST["cpu"]))

    def seconds_per_step(self, method: str, points: int, parameters: int, device: str) -> float:
        overhead = DEFAULT_OVERHEAD.get(device, DEFAULT_OVERHEAD["cpu"])
        return overhead + self.cost(method, device) * points * parameters

    def observe(self, method: str, device: str, points: int, parameters: int, steps_per_s: float) -> None:
        """A finished run's rate: the method's cost moves towards it (a running mean)."""
        if not steps_per_s or not math.isfinite(steps_per_s) or points * parameters <= 0:
            return
        overhead = DEFAULT_OVERHEAD.get(device, DEFAULT_OVERHEAD["cpu"])
        seconds = 1.0 / steps_per_s
        cost = max(seconds - overhead, 0.2 * seconds) / (points * parameters)
        key = (method.split("+")[0], device)
        with self._lock:
            seen = self.measured.get(key, 0)
            old = self.costs.get(key, cost)
            self.costs[key] = old + (cost - old) / (seen + 1)
            self.measured[key] = seen + 1

    def calibrate(self, device: str = "cpu", steps: int = 15) -> None:
        """A short run of every registered method on a 1D signal of 4096 samples (3×64): its cost."""
        from ..train import Run

        base = RunConfig(signal="sines", length=4096, width=64, depth=3, steps=steps, log_every=steps,
                         preview_every=0, device=device, staf_terms=2)
        signal = signal_for(base)
        for method in list(METHODS):
            try:
                run = Run(base.replace(method=method), signal)
                started = time.perf_counter()
                for _ in run:
                    pass
                rate = steps / (time.perf_counter() - started)
                self.observe(method, device, signal.num_points, run.num_parameters, rate)
            except (SpectralLabError, RuntimeError, MemoryError):
                continue
        self.calibrated = True


RATES = RateBook()  # the server's


@dataclass
class Plan:
    """What a run will be: its (possibly shrunk) config and signal, its estimate, and the note."""

    config: RunConfig
    signal: Signal
    seconds: float  # the estimate for the whole comparison, here
    note: str = ""  # one line when the run was shrunk or is over the budget


def estimate_seconds(config: RunConfig, methods: list[str], signal: Signal, device: str = "cpu",
                     tune: bool = False, rates: RateBook = RATES) -> float:
    """Seconds for `methods` trained on `signal` with `config`'s steps, one after another's interval
    (the comparison's round-robin), the app's diagnostics and, when tuned, the searches."""
    total = 0.0
    for method in methods:
        try:
            resolved = resolve(config.replace(method=method), signal)
            parameters = count_parameters(build_model(resolved, signal))
        except SpectralLabError:
            continue  # it will fail at once, with its own message
        per_step = rates.seconds_per_step(method, signal.num_points, parameters, device)
        total += config.steps * per_step * (1 + DIAGNOSTICS_SHARE)
    return total * (1 + TUNE_FACTOR if tune else 1) + 1.0


def plan_run(config: RunConfig, methods: list[str], signal: Signal, device: str = "cpu", tune: bool = False,
             pinned: set[str] = frozenset(), budget: float | None = None, rates: RateBook = RATES,
             load=None, max_values: int | None = None) -> Plan:
    """The run as asked when its estimate fits `budget` (and the signal `max_values`); else the
    largest signal size that fits (an image side or an audio/1D length that the user did not pin),
    then fewer steps, with a note. `load(config)` makes the signal of a shrunk config (default:
    signal_for)."""
    budget = budget_seconds(device) if budget is None else budget
    load = load or signal_for
    seconds = estimate_seconds(config, methods, signal, device, tune, rates)
    too_big = max_values is not None and signal.values.size > max_values
    if seconds <= budget and not too_big:
        return Plan(config, signal, seconds)
    asked = _size_words(signal)
    for smaller in _smaller_sizes(config, signal, pinned):
        candidate = load(smaller)
        if max_values is not None and candidate.values.size > max_values:
            continue
        estimate = estimate_seconds(smaller, methods, candidate, device, tune, rates)
        if estimate <= budget:
            knob = "image size" if signal.kind == "image" else "length"
            return Plan(smaller, candidate, estimate,
                        f"{signal.name} at {_size_words(candidate)} instead of {asked}: ~{duration(estimate)} "
                        f"instead of ~{duration(seconds)} here; set {knob} to override")
    if too_big:  # nothing smaller was allowed: the caller's size check says why
        return Plan(config, signal, seconds)
    per_step = (seconds - 1.0) / max(1, config.steps)
    steps = int(max(MIN_STEPS, (budget - 1.0) / max(per_step, 1e-9)))
    if "steps" not in pinned and steps < config.steps:
        fewer = config.replace(steps=steps)
        estimate = estimate_seconds(fewer, methods, signal, device, tune, rates)
        return Plan(fewer, signal, estimate, f"{steps} steps instead of {config.steps}: ~{duration(estimate)} "
                                             f"instead of ~{duration(seconds)} here; set steps to override")
    return Plan(config, signal, seconds, f"about {duration(seconds)} here (over this server's {duration(budget)} "
                                         "for one run): lower the size, the steps or the methods to shorten it")


def _smaller_sizes(config: RunConfig, signal: Signal, pinned: set[str]):
    """Configs of the same signal at smaller sizes, largest first, for the sizes the user left free."""
    if signal.kind == "image" and "image_size" not in pinned:
        side = max(signal.grid)
        for smaller in IMAGE_SIDES:
            if smaller < side:
                yield config.replace(image_size=smaller)
    elif signal.kind != "image" and "length" not in pinned:
        length = signal.num_points // 2
        while length >= 1024:
            yield config.replace(length=length)
            length //= 2


def _size_words(signal: Signal) -> str:
    if signal.kind == "image":
        return "×".join(str(n) for n in signal.grid) if signal.grid[0] != signal.grid[1] else f"{signal.grid[0]}²"
    rate = f" ({signal.num_points / signal.sample_rate:.2g} s)" if signal.sample_rate else ""
    return f"{signal.num_points:,} samples{rate}"


def duration(seconds: float) -> str:
    """'20 s', '4 min', '1.5 h'."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def plan_lab_run(config: RunConfig, methods: list[str], upload, limits, device: str = "cpu", tune: bool = False,
                 pinned: set[str] = frozenset()) -> Plan:
    """The lab's run from its controls (a built-in signal or an upload), planned to fit the server's
    time budget and its size cap, then checked against its limits: every Train goes through here."""
    from .limits import check_limits
    from .uploads import load_ui_signal

    def load(settings: RunConfig) -> Signal:
        return load_ui_signal(settings, upload, limits, check_size=False)

    plan = plan_run(config, methods, load(config), device, tune, pinned, load=load, max_values=limits.max_points)
    check_limits(plan.config, methods, limits, plan.signal)
    return plan
