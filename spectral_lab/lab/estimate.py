"""How long a run will take on this server, before it starts, and a run that fits the room.

Seconds per step ≈ overhead + cost_m · points · parameters (a method's arithmetic grows with the
points it trains on times its parameters; the overhead is Python and kernel launches). `RateBook`
keeps cost_m per method and device: a built-in guess, then a calibration at start-up
(calibration.py: a few timed steps of every method, median of repeats, guarded), refined by every run
that finishes here, which weighs more than the calibration. `plan_run` fits a run whose estimate is
over the server's budget (default 60 s on a CPU) into it: the signal's size first (an image side, an
audio crop) unless the user set that size themselves, then the steps, and says so in one line
("camera at 128² instead of 512²: ~20 s instead of ~30 min here (this server allows 60 s a run)").
A run that even the smallest size and MIN_STEPS leave over the budget is refused (`OverBudget`, one
line naming what to lower) before any work: never started as is.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

from ..config import RunConfig
from ..errors import SpectralLabError
from ..methods import METHODS, build_model, count_parameters, resolve
from ..signals import Signal, signal_for
from .variants import variant_config

# Measured on this project's 2-core CPU (SIREN 3×128 on camera 64², eager, 1 thread; an idle
# machine): the starting guess until calibration has run.
DEFAULT_COST = {"cpu": 3.0e-10, "cuda": 4.0e-12}  # seconds per step per (point × parameter)
DEFAULT_OVERHEAD = {"cpu": 2.0e-3, "cuda": 1.5e-3}  # seconds per step whatever the size
DIAGNOSTICS_SHARE = 0.1  # the app's cadences take ≤ 6 % of the time; plus the final step's
TUNE_FACTOR = 5.5  # a tuned run: its search costs about this many runs (tuning.search_steps: ~1.25 of ranking, 4 full; bench_tuning: 4.5-6.5)
IMAGE_SIDES = (512, 384, 256, 192, 128, 96, 64, 48, 32)
MIN_STEPS = 50
# How much a calibration counts against one finished run (a few probe steps against hundreds of the
# real thing), and the most weight the past keeps: the newest finished run always moves a cost at
# least 1/(1 + MAX_WEIGHT) of the way (in log space) towards what it measured.
CALIBRATION_WEIGHT = 0.25
MAX_WEIGHT = 4.0
RATE_SCALE_ENV = "SPECTRAL_LAB_RATE_SCALE"  # tests only: every cost × this (a server forced slow)


class OverBudget(SpectralLabError):
    """A run that does not fit this server's time budget at any size and length it may take."""


def budget_seconds(device_type: str) -> float:
    """The server's budget for one run: SPECTRAL_LAB_RUN_BUDGET_S, else 60 s on a CPU, 180 s on a GPU."""
    raw = os.environ.get("SPECTRAL_LAB_RUN_BUDGET_S")
    return float(raw) if raw else (180.0 if device_type == "cuda" else 60.0)


def rate_scale() -> float:
    """SPECTRAL_LAB_RATE_SCALE (tests: a server whose calibration reads this many times slower), else 1."""
    raw = os.environ.get(RATE_SCALE_ENV, "").strip()
    try:
        scale = float(raw) if raw else 1.0
    except ValueError:
        raise SpectralLabError(f"{RATE_SCALE_ENV}={raw!r} is not a number (a cost multiplier, e.g. 1000)") from None
    if not (math.isfinite(scale) and scale > 0):
        raise SpectralLabError(f"{RATE_SCALE_ENV}={raw!r} must be a positive multiplier")
    return scale


class RateBook:
    """Seconds per step per (point × parameter) of each method on each device, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.costs: dict[tuple[str, str], float] = {}
        self.weights: dict[tuple[str, str], float] = {}  # in finished runs' worth (CALIBRATION_WEIGHT each calibration)
        self.calibrated = False

    def cost(self, method: str, device: str) -> float:
        with self._lock:
            cost = self.costs.get((method.split("+")[0], device), DEFAULT_COST.get(device, DEFAULT_COST["cpu"]))
        return cost * rate_scale()

    def seconds_per_step(self, method: str, points: int, parameters: int, device: str) -> float:
        overhead = DEFAULT_OVERHEAD.get(device, DEFAULT_OVERHEAD["cpu"])
        return overhead + self.cost(method, device) * points * parameters

    def observe(self, method: str, device: str, points: int, parameters: int, steps_per_s: float) -> None:
        """A finished app run's rate (its steps/s, its diagnostics included): the method's cost moves
        towards it, weighted as one run against the weight already there (MAX_WEIGHT at most)."""
        if not steps_per_s or not math.isfinite(steps_per_s) or steps_per_s <= 0 or points * parameters <= 0:
            return
        overhead = DEFAULT_OVERHEAD.get(device, DEFAULT_OVERHEAD["cpu"])
        seconds = 1.0 / steps_per_s / (1 + DIAGNOSTICS_SHARE)  # a bare step, as the estimate counts it
        self._blend(method.split("+")[0], device, max(seconds - overhead, 0.2 * seconds) / (points * parameters), 1.0)

    def _blend(self, method: str, device: str, cost: float, weight: float) -> None:
        """A weighted mean in log space (costs are ratios: ×2 and ÷2 readings cancel)."""
        key = (method, device)
        with self._lock:
            old, kept = self.costs.get(key), min(self.weights.get(key, 0.0), MAX_WEIGHT)
            if old is None or kept == 0:
                self.costs[key] = cost
            else:
                self.costs[key] = math.exp((kept * math.log(old) + weight * math.log(cost)) / (kept + weight))
            self.weights[key] = kept + weight

    def calibrate(self, device: str = "cpu", methods: list[str] | None = None, measure=None) -> None:
        """Every registered method's cost on this machine (calibration.py), once the start-up is quiet;
        a finished run that came first keeps the larger say (CALIBRATION_WEIGHT)."""
        from . import calibration

        calibration.wait_for_quiet()
        guess = DEFAULT_COST.get(device, DEFAULT_COST["cpu"])
        overhead = DEFAULT_OVERHEAD.get(device, DEFAULT_OVERHEAD["cpu"])
        costs = calibration.calibrate_costs(list(methods or METHODS), device, guess, overhead,
                                            measure or calibration.measure_method)
        for method, cost in costs.items():
            self._blend(method, device, cost, CALIBRATION_WEIGHT)
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
            resolved = resolve(variant_config(config, method), signal)
            parameters = count_parameters(build_model(resolved, signal))
        except SpectralLabError:
            continue  # it will fail at once, with its own message
        per_step = rates.seconds_per_step(resolved.method, signal.num_points, parameters, device)
        total += config.steps * per_step * (1 + DIAGNOSTICS_SHARE)
    return total * (1 + TUNE_FACTOR if tune else 1) + 1.0


def plan_run(config: RunConfig, methods: list[str], signal: Signal, device: str = "cpu", tune: bool = False,
             pinned: set[str] = frozenset(), budget: float | None = None, rates: RateBook = RATES,
             load=None, max_values: int | None = None) -> Plan:
    """The run as asked when its estimate fits `budget` (and the signal `max_values`); else the
    largest signal size that fits (an image side or an audio/1D length that the user did not pin);
    else, at the smallest size allowed, the most steps that fit (≥ MIN_STEPS; not when "steps" is
    pinned), with a note. Raises OverBudget, one line naming what to lower, when nothing fits: a plan
    over the budget is never returned. `load(config)` makes the signal of a shrunk config (default:
    signal_for)."""
    budget = budget_seconds(device) if budget is None else budget
    load = load or signal_for

    def planned(settings: RunConfig, target: Signal) -> Plan:
        return Plan(settings, target, estimate_seconds(settings, methods, target, device, tune, rates))

    asked = planned(config, signal)
    too_big = max_values is not None and signal.values.size > max_values
    if asked.seconds <= budget and not too_big:
        return asked
    smallest = None
    for smaller in _smaller_sizes(config, signal, pinned):
        candidate = load(smaller)
        if max_values is not None and candidate.values.size > max_values:
            continue
        smallest = planned(smaller, candidate)
        if smallest.seconds <= budget:
            smallest.note = _shrunk_note(asked, smallest, budget)
            return smallest
    if smallest is None and too_big:  # nothing smaller was allowed: the caller's size check says why
        return asked
    return _fewer_steps(asked, smallest or asked, budget, pinned, planned, methods, tune)


def _fewer_steps(asked: Plan, small: Plan, budget: float, pinned: set[str], planned, methods: list[str],
                 tune: bool) -> Plan:
    """`small` (the smallest size allowed) with the most steps that fit the budget, or OverBudget."""
    per_step = (small.seconds - 1.0) / max(1, small.config.steps)  # the estimate: steps × per step + 1 s
    steps = int((budget - 1.0) / max(per_step, 1e-12))
    if "steps" not in pinned and MIN_STEPS <= steps < small.config.steps:
        fewer = planned(small.config.replace(steps=steps), small.signal)
        fewer.note = _shrunk_note(asked, fewer, budget)
        return fewer
    least = small.config.steps if "steps" in pinned else min(MIN_STEPS, small.config.steps)
    seconds = 1.0 + per_step * least
    raise OverBudget(f"Not started: {', '.join(methods)} on {asked.signal.name} would take about {duration(seconds)} "
                     f"here even at {_size_words(small.signal)} and {least} steps, over this server's "
                     f"{duration(budget)} for one run: {_what_to_lower(asked.signal, pinned, methods, tune)}")


def _shrunk_note(asked: Plan, plan: Plan, budget: float) -> str:
    """'camera at 64² and 120 steps instead of 512² and 500: ~55 s instead of ~14 h here (…)'."""
    resized = _size_words(plan.signal) != _size_words(asked.signal)
    fewer = plan.config.steps != asked.config.steps
    if resized and fewer:
        change = (f"{asked.signal.name} at {_size_words(plan.signal)} and {plan.config.steps} steps instead of "
                  f"{_size_words(asked.signal)} and {asked.config.steps}")
    elif resized:
        change = f"{asked.signal.name} at {_size_words(plan.signal)} instead of {_size_words(asked.signal)}"
    else:
        change = f"{plan.config.steps} steps instead of {asked.config.steps}"
    return (f"{change}: ~{duration(plan.seconds)} instead of ~{duration(asked.seconds)} here "
            f"(this server allows {duration(budget)} a run)")


def _what_to_lower(signal: Signal, pinned: set[str], methods: list[str], tune: bool) -> str:
    """The advice of a refusal: only what the plan could not lower itself."""
    knob = "image size" if signal.kind == "image" else "length"
    choices = [f"lower the {knob}"] if ("image_size" if signal.kind == "image" else "length") in pinned else []
    if "steps" in pinned:
        choices.append("train fewer steps")
    if len(methods) > 1:
        choices.append("train fewer methods at once")
    choices.append("choose a smaller width or depth")
    if tune:
        choices.append("untick Tune")
    return (", ".join(choices[:-1]) + " or " + choices[-1]) if len(choices) > 1 else choices[0]


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
                 pinned: set[str] = frozenset(), budget: float | None = None) -> Plan:
    """The lab's run from its controls (a built-in signal or an upload), planned to fit the server's
    time budget (or `budget` s) and its size cap, then checked against its limits: every Train goes
    through here."""
    from .limits import check_limits
    from .uploads import load_ui_signal

    def load(settings: RunConfig) -> Signal:
        return load_ui_signal(settings, upload, limits, check_size=False)

    plan = plan_run(config, methods, load(config), device, tune, pinned, budget, load=load,
                    max_values=limits.max_points)
    check_limits(plan.config, methods, limits, plan.signal)
    return plan


def spread(values) -> float:
    """max / min of positive estimates (start to start: the calibration's target is ≤ 2)."""
    values = [float(v) for v in values]
    if not values or min(values) <= 0:
        raise ValueError("spread needs positive values")
    return max(values) / min(values)
