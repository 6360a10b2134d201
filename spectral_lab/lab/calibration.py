"""This machine's speed per method, measured at start-up so that one start agrees with the next.

The first calibration (one 15-step run of each method on a 1D signal, timed whole) read 7–26× too
slow and moved 2× between starts: its first method paid torch's one-time start-up, every run paid its
final diagnostics, and it ran while the page was still being built beside it. Here, per method:
  - two probes, the app's default image (camera 64², 3×128) and the 1D preset (4,096 samples, 3×64),
    timed as bare optimisation steps (the estimate adds the app's diagnostics itself);
  - each probe: one warm-up step discarded, then REPEATS timings of STEPS_PER_REPEAT steps, the median
    kept; repeats further apart than BUSY_SPREAD mean the machine was busy, so the probe is timed again
    (up to RETRIES times) and the quietest try kept;
  - the method's cost is the probes' time over their points × parameters, pooled (the image, with the
    most work, weighs most);
  - a cost more than GUARD× from the built-in guess is not believed: it is kept at GUARD× and logged,
    and the finished runs (RateBook.observe) take it from there.
Before any of it, the calibration waits for the rest of its own process to go quiet (the server's page
build and the librosa warm-up), up to QUIET_WAIT_S.
"""
from __future__ import annotations

import logging
import statistics
import time
from typing import Callable

from ..config import RunConfig
from ..errors import SpectralLabError

LOG = logging.getLogger("spectral_lab.app")

PROBES = ({"signal": "camera", "image_size": 64, "width": 128, "depth": 3},  # the app's default image run
          {"signal": "sines", "length": 4096, "width": 64, "depth": 3})  # the landing 1D preset's size
REPEATS = 3
STEPS_PER_REPEAT = 3
BUSY_SPREAD = 1.5  # slowest / fastest repeat of a probe above this: something else ran meanwhile
RETRIES = 2
GUARD = 8.0  # a cost beyond ×8 or ÷8 the built-in guess is a busy machine's, not this machine's
QUIET_WAIT_S = 30.0
QUIET_SHARE = 0.2  # of one core, used by the process's other threads: quiet enough to time


def probe_seconds(step: Callable[[], None], clock: Callable[[], float] = time.perf_counter,
                  sync: Callable[[], None] = lambda: None) -> float:
    """Seconds per step of `step`: a warm-up step discarded, then the median of REPEATS timings; timed
    again when they disagree by more than BUSY_SPREAD, and the try whose repeats agree best kept."""
    step()
    sync()
    tries = []
    for _ in range(1 + RETRIES):
        tries.append(_repeats(step, clock, sync))
        if spread_of(tries[-1]) <= BUSY_SPREAD:
            break
    return statistics.median(min(tries, key=spread_of))


def _repeats(step, clock, sync) -> list[float]:
    timings = []
    for _ in range(REPEATS):
        started = clock()
        for _ in range(STEPS_PER_REPEAT):
            step()
        sync()
        timings.append(max(clock() - started, 1e-12) / STEPS_PER_REPEAT)
    return timings


def spread_of(timings: list[float]) -> float:
    return max(timings) / min(timings)


def pooled_cost(probes: list[tuple[int, float]], overhead: float) -> float:
    """Seconds per step per (point × parameter) from probes of (points × parameters, seconds per step):
    their time beyond the per-step overhead over their work, summed (the largest probe weighs most).
    At least a fifth of each step counts as work: on a fast machine the overhead guess can exceed it."""
    work = sum(size for size, _ in probes)
    if work <= 0:
        raise ValueError("pooled_cost needs probes with points × parameters > 0")
    return sum(max(seconds - overhead, 0.2 * seconds) for _, seconds in probes) / work


def guarded(cost: float, guess: float) -> tuple[float, str]:
    """The cost kept within GUARD× of the built-in guess, and a note when it was not."""
    low, high = guess / GUARD, guess * GUARD
    if low <= cost <= high:
        return cost, ""
    kept = min(max(cost, low), high)
    return kept, f"read {cost / guess:.3g}× the built-in guess (a busy machine?): kept at {kept / guess:.3g}×"


def wait_for_quiet(cpu: Callable[[], float] = time.process_time, sleep: Callable[[float], None] = time.sleep,
                   window: float = 0.5, most: float = QUIET_WAIT_S) -> float:
    """Wait (up to `most` s) until this process's other threads use under QUIET_SHARE of a core over
    `window` (this thread sleeps meanwhile, so the CPU time that passes is theirs); the seconds waited."""
    waited = 0.0
    while waited < most:
        before = cpu()
        sleep(window)
        waited += window
        if cpu() - before < QUIET_SHARE * window:
            break
    return waited


def measure_method(method: str, device: str, overhead: float) -> float:
    """This method's raw cost here (seconds per step per point × parameter) from the PROBES."""
    import torch

    from ..signals import signal_for
    from ..stepper import make_stepper
    from ..train import Run

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    probes = []
    for settings in PROBES:
        # 500 steps as the app's default run: the step mode (eager, CUDA graphs) is the one a real run gets;
        # only the probe's few steps are taken
        config = RunConfig(method=method, steps=500, device=device, **settings)
        run = Run(config, signal_for(config))
        stepper = make_stepper(run.model, run.coords, run.target, run.config, run.step_mode, run.iga)
        counter = iter(range(1, 1_000_000))

        def step():
            number = next(counter)
            stepper.forward_backward(number)
            stepper.update(number)

        try:
            probes.append((run.signal.num_points * run.num_parameters, probe_seconds(step, sync=sync)))
        finally:
            stepper.close()
    return pooled_cost(probes, overhead)


def calibrate_costs(methods: list[str], device: str, guess: float, overhead: float,
                    measure: Callable[[str, str, float], float] = measure_method) -> dict[str, float]:
    """Each method's guarded cost; a method that cannot run here is left to the built-in guess."""
    costs = {}
    for method in methods:
        try:
            raw = measure(method, device, overhead)
        except (SpectralLabError, RuntimeError, MemoryError) as exc:
            LOG.info("calibration: %s skipped (%s)", method, exc)
            continue
        costs[method], note = guarded(raw, guess)
        if note:
            LOG.warning("calibration: %s %s", method, note)
    return costs
