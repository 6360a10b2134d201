"""What a run remembers while it trains: the loss of every step, the best parameters seen at a log
point, and the diagnostics it owes on a budget (each on its own cadence)."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .diagnostics import diagnose, due_diagnostics, enabled_diagnostics
from .metrics import psnr_from_mse


class HeldOutCurve:
    """The held-out PSNR at each log point of a task that holds samples out (tasks.py): the moment a
    network starts fitting the noise is where this curve turns down while the training PSNR climbs.

    Read on a fixed subset of the scored samples (`TaskSplit.curve_rows`, no larger than a training
    step's set) with the parameters that produced that step's loss; the final score reads them all."""

    def __init__(self, task, device: torch.device):
        self.task = task
        self.steps: list[int] = []
        self.psnrs: list[float] = []
        scored = task.scored_rows if task.scored_rows is not None else np.arange(task.signal.num_points)
        rows = scored[task.curve_rows]  # rows of the full grid
        self.values = torch.from_numpy(task.signal.values[rows]).to(device)  # (m, C) clean
        self.coords = torch.from_numpy(task.signal.coords[rows]).to(device)  # (m, d)
        # every row trained on in order (denoise): the step's own output holds these rows already
        self.rows = torch.from_numpy(rows).to(device) if task.train_rows is None else None

    @torch.no_grad()
    def curve_prediction(self, model, prediction: torch.Tensor) -> torch.Tensor:
        """(m, C): the output on the curve's rows, from the step's output on the training set or a forward."""
        return prediction.detach()[self.rows] if self.rows is not None else model(self.coords)

    @torch.no_grad()
    def measure(self, model, prediction: torch.Tensor, step: int) -> float | None:
        """The held-out PSNR now (None for a task that holds nothing out), kept in the curve."""
        if not self.task.holds_out:
            return None
        return self.record(step, self.curve_prediction(model, prediction))

    def record(self, step: int, curve_prediction: torch.Tensor) -> float:
        curve_prediction = curve_prediction.real if curve_prediction.is_complex() else curve_prediction
        value = psnr_from_mse(float(torch.mean((curve_prediction - self.values) ** 2)))
        self.steps.append(step)
        self.psnrs.append(value)
        return value

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, held-out PSNR in dB) so far."""
        return np.asarray(self.steps, dtype=int), np.asarray(self.psnrs, dtype=np.float64)


class LossHistory:
    """The loss curve (chunks of (steps, losses)) and the best parameters at a log point.

    Until a finite loss is seen, "best" is the initial state (restored if step 1 diverges)."""

    def __init__(self, model: torch.nn.Module, log_every: int):
        self.log_every = log_every
        self.steps: list[np.ndarray] = []
        self.losses: list[np.ndarray] = []
        self.best_state: dict[str, torch.Tensor] | None = _copy_state(model)
        self.best_loss = float("inf")
        self.best_step = 0

    def record(self, steps: np.ndarray, losses: np.ndarray) -> None:
        self.steps.append(steps)
        self.losses.append(losses)

    def observe(self, loss: float, step: int, model: torch.nn.Module) -> None:
        """A log point's loss (of the parameters before this step's update): keep them if best."""
        if loss < self.best_loss:
            self.best_loss, self.best_step = loss, step
            self.best_state = _copy_state(model)

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, loss) of every step seen so far."""
        if not self.steps:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate(self.steps), np.concatenate(self.losses)

    def divergence_message(self, bad_step: int, previous_log: int) -> str:
        """When the loss went non-finite and which parameters were kept. Parameters are copied only
        at log points, so finite steps between the last log point and `bad_step` cannot be kept."""
        if math.isfinite(self.best_loss):
            kept = f"kept the best parameters, from step {self.best_step} (PSNR {psnr_from_mse(self.best_loss):.2f} dB)"
        else:
            kept = "kept the initial parameters (step 0): no log point had a finite loss yet"
        unkept = (f"; steps {previous_log + 1}–{bad_step - 1} were finite but parameters are kept only at log "
                  f"points (every {self.log_every} steps)") if bad_step - 1 > previous_log else ""
        return f"diverged: the loss went non-finite (NaN/Inf) at step {bad_step}; {kept}{unkept}"


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# Diagnostics the budget never defers. Band errors cost one FFT of a prediction the step already made,
# and their columns are read by *when* each band is learned (the heatmap's time axis, the lessons'
# takeaways): deferred columns put gaps of different lengths into each run's history.
ON_CADENCE = frozenset({"bands"})  # the name in diagnostics.CADENCES (its result is "band_error")


class DiagnosticSchedule:
    """The run's diagnostics on their cadences and budget.

    Each enabled diagnostic (but those ON_CADENCE) may take `diagnostics_budget / (number budgeted)`
    of the training time;
    one over its share waits (its next due step comes later), so a costly eNTK never starves a
    cheap band error. The final step computes every enabled one, whatever the budget deferred."""

    def __init__(self, config):
        self.config = config
        self.seconds = 0.0  # wall time spent on diagnostics so far
        self._cost: dict[str, float] = {}  # last measured seconds per diagnostic
        self._spent: dict[str, float] = {}  # total seconds per diagnostic
        self.band_history: list[tuple[int, np.ndarray]] = []  # (step, Δ per band) for the heatmap
        self.band_edges: np.ndarray | None = None

    def due(self, step: int, elapsed: float) -> set[str]:
        """Diagnostics due at `step` whose share of the budget affords their last measured cost;
        `elapsed`: wall seconds of the run so far (diagnostics included)."""
        due = due_diagnostics(self.config, step)
        budget = self.config.diagnostics_budget
        if not due or budget <= 0:
            return due
        training_seconds = elapsed - self.seconds
        budgeted = enabled_diagnostics(self.config) - ON_CADENCE
        share = budget * training_seconds / max(1, len(budgeted))
        return {name for name in due if name in ON_CADENCE
                or self._spent.get(name, 0.0) + self._cost.get(name, 0.0) <= share}

    def run(self, names: set[str], model, signal, prediction: np.ndarray | None, step: int, observed=None,
            observed_prediction: np.ndarray | None = None) -> dict:
        """Compute `names` now, timing each one; the band errors join the heatmap's history. `observed`
        (default `signal`): the signal as the network is given it, which the kernel and activations read."""
        if not names:
            return {}
        begin = time.perf_counter()
        result = {}
        for name in sorted(names):
            started = time.perf_counter()
            result.update(diagnose(model, signal, self.config, {name}, prediction, observed, observed_prediction))
            cost = time.perf_counter() - started
            self._cost[name] = cost
            self._spent[name] = self._spent.get(name, 0.0) + cost
        if "band_error" in result:
            self.band_edges = result["band_error"][0]
            self.band_history.append((step, result["band_error"][1]))
        self.seconds += time.perf_counter() - begin
        return result

    def band_error_history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, band edges, Δ of shape (bands, steps)) for the IGA Fig. 1-style heatmap."""
        if not self.band_history:
            return np.zeros(0, int), np.zeros(0), np.zeros((0, 0))
        steps = np.array([s for s, _ in self.band_history])
        return steps, self.band_edges, np.stack([d for _, d in self.band_history], axis=1)
