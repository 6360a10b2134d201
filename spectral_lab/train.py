"""Runs: a RunConfig -> a generator of Snapshots. The app, notebooks and CLI all iterate this.

Full-batch Adam on every point of the signal. Per step the loss is written into a device buffer
(no host sync); the host reads it only every `log_every` steps, which is when a Snapshot is
emitted, the NaN/Inf guard runs and the best parameters are kept. Stopping the iteration (or
calling `Run.stop()`) ends training at the next step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from .config import RunConfig
from .diagnostics import diagnose, due_diagnostics
from .errors import ConfigError
from .methods import build_model, resolve
from .metrics import evaluate, psnr_from_mse
from .models import count_parameters
from .modifiers import InductiveGradientAdjustment, split_method
from .signals import Signal, signal_for


@dataclass
class Snapshot:
    """One look at a run. `prediction` (N, C) in the Signal's [-1, 1] units, when on its cadence."""

    step: int
    total_steps: int
    loss: float
    psnr: float
    best_psnr: float
    best_step: int
    elapsed: float
    steps_per_s: float
    lr: float
    steps: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    losses: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    prediction: np.ndarray | None = field(repr=False, default=None)
    done: bool = False
    message: str = ""
    metrics: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)  # ntk / activations / error_map / band_error
    diagnostics_seconds: float = 0.0  # wall time spent on diagnostics so far


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda was requested but no CUDA GPU is available; use device=auto or cpu")
    return torch.device(name)


def make_scheduler(optimizer: torch.optim.Optimizer, config: RunConfig):
    if config.lr_schedule == "step":  # WINNER: lr × 0.99 every 20 steps
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_every, gamma=config.lr_gamma)
    if config.lr_schedule == "exp":  # IGA App.: exponential decay to 0.1× over the run
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.1 ** (1.0 / config.steps))
    return None


class Run:
    """A training run: holds the signal, the resolved config, the model and its history."""

    def __init__(self, config: RunConfig, signal: Signal | None = None):
        if signal is None:
            signal = signal_for(config)
        self.signal = signal
        self.config = resolve(config, signal)
        self.device = pick_device(self.config.device)
        self.model = build_model(self.config, signal).to(self.device)
        self.num_parameters = count_parameters(self.model)
        self.modifiers = split_method(self.config.method)[1]
        self.iga = None
        if "iga" in self.modifiers:
            c = self.config
            self.iga = InductiveGradientAdjustment(
                signal.grid, c.iga_group, c.iga_start, c.iga_end, c.iga_sampling, c.iga_every,
                balance_to="end" if c.optimizer == "adam" else "start", seed=c.seed)
        self.coords = torch.from_numpy(signal.coords).to(self.device)
        self.target = torch.from_numpy(signal.values).to(self.device)
        self.history_steps: list[np.ndarray] = []
        self.history_losses: list[np.ndarray] = []
        # Until a finite loss is seen, "best" is the initial state (restored if step 1 diverges).
        self.best_state: dict[str, torch.Tensor] | None = {
            k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.best_loss = float("inf")
        self.best_step = 0
        self.final: Snapshot | None = None
        self.band_history: list[tuple[int, np.ndarray]] = []  # (step, Δ per band) for the heatmap
        self.band_edges: np.ndarray | None = None
        self.diagnostics_seconds = 0.0
        self._diagnostic_cost: dict[str, float] = {}  # last measured seconds per diagnostic
        self._stop = False

    # ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the training loop to end at the next step (thread-safe enough: a bool flag)."""
        self._stop = True

    def __iter__(self) -> Iterator[Snapshot]:
        return self.snapshots()

    def snapshots(self) -> Iterator[Snapshot]:
        cfg, model = self.config, self.model
        optimizer = (torch.optim.Adam(model.parameters(), lr=cfg.lr) if cfg.optimizer == "adam"
                     else torch.optim.SGD(model.parameters(), lr=cfg.lr))
        scheduler = make_scheduler(optimizer, cfg)
        loss_buffer = torch.zeros(cfg.steps, device=self.device)
        last_logged = 0
        start = time.perf_counter()
        message = ""
        try:
            if due_diagnostics(cfg, 0):  # the kernel / activations at initialisation
                yield self._initial_snapshot(start)
            for step in range(1, cfg.steps + 1):
                if self._stop:
                    step -= 1
                    message = f"stopped at step {step}"
                    break
                optimizer.zero_grad(set_to_none=True)
                prediction = model(self.coords)
                residual = prediction - self.target
                loss = torch.mean(residual**2)
                if self.iga is not None:
                    # IGA Eq. 4: back-propagate S̃ₑ r instead of r. d/dθ of (2/N)·Σ (S̃ₑr)ᵀf equals
                    # the MSE gradient (2/N)·Jᵀr with r replaced by S̃ₑr.
                    adjusted = self.iga.adjust(model, self.coords, residual.detach(), step)
                    (2.0 / residual.numel() * torch.sum(adjusted * prediction)).backward()
                else:
                    loss.backward()
                loss_buffer[step - 1] = loss.detach()
                on_log = step % cfg.log_every == 0 or step == cfg.steps
                on_preview = cfg.preview_every > 0 and step % cfg.preview_every == 0
                due = self._due(step, start)
                if on_log or on_preview or due:
                    # The one host sync of this cadence. Loss was measured before this update,
                    # so the parameters kept as "best" are the ones that produced it.
                    chunk = loss_buffer[last_logged:step].cpu().numpy().astype(np.float64)
                    steps_chunk = np.arange(last_logged + 1, step + 1)
                    finite = np.isfinite(chunk)
                    if not finite.all():
                        bad = int(steps_chunk[~finite][0])
                        self._record(steps_chunk[finite], chunk[finite])
                        message = (f"training diverged (NaN/Inf loss) at step {bad}; "
                                   f"kept the best parameters from step {self.best_step}")
                        break
                    self._record(steps_chunk, chunk)
                    current = float(chunk[-1])
                    if current < self.best_loss:
                        self.best_loss, self.best_step = current, step
                        self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    host_prediction = prediction.detach().cpu().numpy() if (on_preview or due) else None
                    diagnostics = self._diagnose(due, host_prediction, step)
                    elapsed = time.perf_counter() - start
                    yield Snapshot(
                        step=step, total_steps=cfg.steps, loss=current, psnr=psnr_from_mse(current),
                        best_psnr=psnr_from_mse(self.best_loss), best_step=self.best_step,
                        elapsed=elapsed, steps_per_s=step / max(elapsed, 1e-9),
                        lr=optimizer.param_groups[0]["lr"], steps=steps_chunk, losses=chunk,
                        prediction=host_prediction, diagnostics=diagnostics,
                        diagnostics_seconds=self.diagnostics_seconds)
                    last_logged = step
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
            else:
                step = cfg.steps
            self.final = self._finish(step, optimizer, start, message)
            yield self.final
        finally:
            del optimizer, loss_buffer
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    def _due(self, step: int, start: float) -> set[str]:
        """Diagnostics due at `step`, each deferred until its expected cost (its last measured
        one) fits in the budget: diagnostics ≤ budget × training time."""
        due = due_diagnostics(self.config, step)
        budget = self.config.diagnostics_budget
        if due and budget > 0:
            training_seconds = time.perf_counter() - start - self.diagnostics_seconds
            allowed = budget * training_seconds - self.diagnostics_seconds
            affordable = set()
            for name in sorted(due, key=lambda n: self._diagnostic_cost.get(n, 0.0)):
                cost = self._diagnostic_cost.get(name, 0.0)
                if cost <= allowed:
                    affordable.add(name)
                    allowed -= cost
            return affordable
        return due

    def _diagnose(self, names: set[str], prediction: np.ndarray | None, step: int) -> dict:
        if not names:
            return {}
        begin = time.perf_counter()
        result = {}
        for name in sorted(names):
            started = time.perf_counter()
            result.update(diagnose(self.model, self.signal, self.config, {name}, prediction))
            self._diagnostic_cost[name] = time.perf_counter() - started
        if "band_error" in result:
            self.band_edges = result["band_error"][0]
            self.band_history.append((step, result["band_error"][1]))
        self.diagnostics_seconds += time.perf_counter() - begin
        return result

    def _initial_snapshot(self, start: float) -> Snapshot:
        with torch.no_grad():
            prediction = self.model(self.coords)
            loss = float(torch.mean((prediction - self.target) ** 2))
        host_prediction = prediction.cpu().numpy()
        diagnostics = self._diagnose(due_diagnostics(self.config, 0), host_prediction, 0)
        return Snapshot(step=0, total_steps=self.config.steps, loss=loss, psnr=psnr_from_mse(loss),
                        best_psnr=psnr_from_mse(loss), best_step=0, elapsed=time.perf_counter() - start,
                        steps_per_s=0.0, lr=self.config.lr, prediction=host_prediction,
                        diagnostics=diagnostics, diagnostics_seconds=self.diagnostics_seconds)

    def band_error_history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, band edges, Δ of shape (bands, steps)) for the IGA Fig. 1-style heatmap."""
        if not self.band_history:
            return np.zeros(0, int), np.zeros(0), np.zeros((0, 0))
        steps = np.array([s for s, _ in self.band_history])
        return steps, self.band_edges, np.stack([d for _, d in self.band_history], axis=1)

    def _record(self, steps: np.ndarray, losses: np.ndarray) -> None:
        self.history_steps.append(steps)
        self.history_losses.append(losses)

    def _finish(self, step: int, optimizer, start: float, message: str) -> Snapshot:
        """Evaluate the final parameters; keep whichever of final/best is better; full metrics."""
        elapsed = time.perf_counter() - start
        with torch.no_grad():
            final_prediction = self.model(self.coords)
            final_loss = float(torch.mean((final_prediction - self.target) ** 2))
        if np.isfinite(final_loss) and final_loss <= self.best_loss:
            self.best_loss, self.best_step = final_loss, step
            self.best_state = None
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        prediction = self.predict()
        metrics = evaluate(self.signal.as_grid(prediction), self.signal.as_grid(), self.signal.kind)
        metrics.update(seconds=elapsed, steps=step, best_step=self.best_step, params=self.num_parameters,
                       steps_per_s=step / max(elapsed, 1e-9))
        return Snapshot(step=step, total_steps=self.config.steps, loss=self.best_loss,
                        psnr=metrics["psnr"], best_psnr=metrics["psnr"], best_step=self.best_step,
                        elapsed=elapsed, steps_per_s=metrics["steps_per_s"],
                        lr=optimizer.param_groups[0]["lr"], prediction=prediction, done=True,
                        message=message or "finished", metrics=metrics,
                        diagnostics_seconds=self.diagnostics_seconds)

    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self) -> np.ndarray:
        """The model's output on the signal's grid, (N, C) numpy on the host."""
        return self.model(self.coords).cpu().numpy()

    def summary_row(self) -> dict:
        """One row of a results table (CLI compare, app): PSNR, SSIM or –, ρ_AG, params, time."""
        m = self.final.metrics
        return {"signal": self.signal.name, "method": self.config.method, "psnr_db": round(m["psnr"], 2),
                "ssim": round(m["ssim"], 4) if "ssim" in m else None, "rho_ag": round(m["rho_ag"], 4),
                "params": self.num_parameters, "seconds": round(m["seconds"], 2), "steps": m["steps"],
                "note": "" if self.final.message == "finished" else self.final.message}

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, loss) of every step seen so far."""
        if not self.history_steps:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate(self.history_steps), np.concatenate(self.history_losses)


def fit(config: RunConfig, signal: Signal | None = None) -> Iterator[Snapshot]:
    """Generator of Snapshots for `config` (the last one has done=True and the metrics)."""
    return Run(config, signal).snapshots()


def run_to_end(config: RunConfig, signal: Signal | None = None) -> tuple[Run, Snapshot]:
    """Train to the end without looking at intermediate snapshots; returns (run, final snapshot)."""
    run = Run(config, signal)
    for _ in run.snapshots():
        pass
    return run, run.final
