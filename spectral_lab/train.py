"""Runs: a RunConfig -> a generator of Snapshots. The app, notebooks and CLI all iterate this.

Full-batch Adam on every point of the signal. Per step the loss is written into a device buffer
(no host sync); the host reads it only every `log_every` steps, which is when a Snapshot is
emitted, the NaN/Inf guard runs and the best parameters are kept. Stopping the iteration (or
calling `Run.stop()`) ends training at the next step; `run.final` is then still set. How a step
runs (eager, or the CUDA-graph fast path) is stepper.py's job.

Diagnostics (eNTK, activations, error maps, band errors) run on their own cadences. Each one
may take `diagnostics_budget / (number enabled)` of the training time; a diagnostic over its
share waits (its next due step comes later), so a costly eNTK never starves a cheap band error.
The final Snapshot always carries every enabled diagnostic of the final (best) parameters,
whatever the budget deferred.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from .config import RunConfig
from .diagnostics import diagnose, due_diagnostics, enabled_diagnostics
from .errors import ConfigError
from .methods import build_model, resolve
from .metrics import at_float32_limit, evaluate, psnr, psnr_from_mse, zero_output_note
from .models import count_parameters
from .ntk import diagnostic_copy
from .modifiers import InductiveGradientAdjustment, describe_modifiers, split_method
from .signals import Signal, signal_for
from .stepper import fast_path_plan, make_stepper, matmul_precision, zero_gpu


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
    status: str = "running"  # running | finished | stopped | diverged (on the final snapshot)
    metrics: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)  # ntk / activations / error_map / band_error
    diagnostics_seconds: float = 0.0  # wall time spent on diagnostics so far


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda was requested but no CUDA GPU is available; use device=auto or cpu")
    return torch.device(name)


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
        self.modifier_note = describe_modifiers(self.config, signal)  # what IGA / FR chose, in words
        self.iga = None
        if "iga" in self.modifiers:
            c = self.config
            self.iga = InductiveGradientAdjustment(
                signal.grid, c.iga_group, c.iga_start, c.iga_end, c.iga_sampling, c.iga_every,
                balance_to="end" if c.optimizer == "adam" else "start", seed=c.seed)
        complex_weights = any(p.is_complex() for p in self.model.parameters())
        self.step_mode, self.step_note = fast_path_plan(self.config, self.device, self.modifiers, complex_weights,
                                                        zero_gpu())
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
        self._diagnostic_spent: dict[str, float] = {}  # total seconds per diagnostic
        self._stop = False
        self._last_step = 0
        self._training_seconds = 0.0

    # ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the training loop to end at the next step (thread-safe enough: a bool flag)."""
        self._stop = True

    def __iter__(self) -> Iterator[Snapshot]:
        return self.snapshots()

    def snapshots(self) -> Iterator[Snapshot]:
        cfg, model = self.config, self.model
        with matmul_precision(cfg.tf32, self.device):
            stepper = make_stepper(model, self.coords, self.target, cfg, self.step_mode, self.iga)
            last_logged, tail = 0, None  # tail: the losses the final Snapshot reports (not yet shown)
            start = time.perf_counter()
            message, status, step = "", "finished", 0
            try:
                if due_diagnostics(cfg, 0):  # the kernel / activations at initialisation
                    initial = self._initial_snapshot(start)  # its diagnostics are this run's time
                    paused = time.perf_counter()
                    yield initial
                    start += time.perf_counter() - paused  # time spent by the consumer is not this run's
                for step in range(1, cfg.steps + 1):
                    if self._stop:
                        step -= 1
                        message, status = f"stopped at step {step}", "stopped"
                        if step > last_logged:  # losses measured since the last sync still belong to the curve
                            chunk = stepper.loss_buffer[last_logged:step].cpu().numpy().astype(np.float64)
                            steps_chunk = np.arange(last_logged + 1, step + 1)[np.isfinite(chunk)]
                            tail = (steps_chunk, chunk[np.isfinite(chunk)])
                            self._record(*tail)
                        break
                    prediction = stepper.forward_backward(step)
                    self._last_step = step
                    last = step == cfg.steps
                    on_log = step % cfg.log_every == 0 or last
                    on_preview = cfg.preview_every > 0 and step % cfg.preview_every == 0
                    due = set() if last else self._due(step, start)
                    if on_log or on_preview or due:
                        # The one host sync of this cadence. Loss was measured before this update,
                        # so the parameters kept as "best" are the ones that produced it.
                        chunk = stepper.loss_buffer[last_logged:step].cpu().numpy().astype(np.float64)
                        steps_chunk = np.arange(last_logged + 1, step + 1)
                        last_logged = step
                        finite = np.isfinite(chunk)
                        if not finite.all():
                            bad = int(steps_chunk[~finite][0])
                            tail = (steps_chunk[finite], chunk[finite])
                            self._record(*tail)
                            message, status = self._divergence_message(bad, last_logged - len(chunk)), "diverged"
                            step = bad - 1
                            break
                        self._record(steps_chunk, chunk)
                        tail = (steps_chunk, chunk)
                        current = float(chunk[-1])
                        if current < self.best_loss:
                            self.best_loss, self.best_step = current, step
                            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                        if not last:  # the last step's numbers are the final Snapshot's
                            host_prediction = prediction.detach().cpu().numpy() if (on_preview or due) else None
                            diagnostics = self._diagnose(due, host_prediction, step)
                            elapsed = time.perf_counter() - start
                            snapshot = Snapshot(
                                step=step, total_steps=cfg.steps, loss=current, psnr=psnr_from_mse(current),
                                best_psnr=psnr_from_mse(self.best_loss), best_step=self.best_step,
                                elapsed=elapsed, steps_per_s=step / max(elapsed, 1e-9), lr=stepper.lr,
                                steps=steps_chunk, losses=chunk, prediction=host_prediction,
                                diagnostics=diagnostics, diagnostics_seconds=self.diagnostics_seconds)
                            paused = time.perf_counter()
                            yield snapshot
                            # While suspended the consumer draws, or trains another method (an
                            # interleaved compare): that time is not this run's, so `start` moves on.
                            start += time.perf_counter() - paused
                            tail = None  # shown: the final Snapshot must not report these losses again
                    stepper.update(step)
                self.final = self._finish(step, stepper.lr, start, message, status, tail=tail)
                yield self.final
            except GeneratorExit:  # the consumer broke out of the loop: still leave a final result
                if self.final is None:
                    self.final = self._finish(self._last_step, stepper.lr, start,
                                              f"stopped at step {self._last_step}", "stopped", diagnose=False)
                raise
            finally:
                stepper.close()
                del stepper
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def _divergence_message(self, bad_step: int, previous_log: int) -> str:
        """When the loss went non-finite and which parameters were kept. Parameters are copied only
        at log points, so finite steps between the last log point and `bad_step` cannot be kept."""
        if math.isfinite(self.best_loss):
            kept = f"kept the best parameters, from step {self.best_step} (PSNR {psnr_from_mse(self.best_loss):.2f} dB)"
        else:
            kept = "kept the initial parameters (step 0): no log point had a finite loss yet"
        unkept = (f"; steps {previous_log + 1}–{bad_step - 1} were finite but parameters are kept only at log "
                  f"points (every {self.config.log_every} steps)") if bad_step - 1 > previous_log else ""
        return f"diverged: the loss went non-finite (NaN/Inf) at step {bad_step}; {kept}{unkept}"

    def _due(self, step: int, start: float) -> set[str]:
        """Diagnostics due at `step` whose share of the budget affords their last measured cost:
        each enabled diagnostic may spend budget / (number enabled) of the training time."""
        due = due_diagnostics(self.config, step)
        budget = self.config.diagnostics_budget
        if not due or budget <= 0:
            return due
        training_seconds = time.perf_counter() - start - self.diagnostics_seconds
        share = budget * training_seconds / max(1, len(enabled_diagnostics(self.config)))
        return {name for name in due
                if self._diagnostic_spent.get(name, 0.0) + self._diagnostic_cost.get(name, 0.0) <= share}

    def _diagnose(self, names: set[str], prediction: np.ndarray | None, step: int) -> dict:
        if not names:
            return {}
        begin = time.perf_counter()
        result = {}
        for name in sorted(names):
            started = time.perf_counter()
            result.update(diagnose(self.model, self.signal, self.config, {name}, prediction))
            cost = time.perf_counter() - started
            self._diagnostic_cost[name] = cost
            self._diagnostic_spent[name] = self._diagnostic_spent.get(name, 0.0) + cost
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

    def _finish(self, step: int, lr: float, start: float, message: str, status: str,
                diagnose: bool = True, tail: tuple | None = None) -> Snapshot:
        """Evaluate the final parameters; keep whichever of final/best is better; full metrics and,
        unless the consumer has gone, every enabled diagnostic of the kept parameters."""
        self._training_seconds = time.perf_counter() - start - self.diagnostics_seconds
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
        elapsed = time.perf_counter() - start
        metrics.update(seconds=elapsed, steps=step, best_step=self.best_step, params=self.num_parameters,
                       steps_per_s=step / max(elapsed, 1e-9), float32_limit_psnr=self.float32_limit_psnr(prediction))
        diagnostics = self._diagnose(enabled_diagnostics(self.config), prediction, step) if diagnose else {}
        return Snapshot(step=step, total_steps=self.config.steps, loss=self.best_loss,
                        psnr=metrics["psnr"], best_psnr=metrics["psnr"], best_step=self.best_step,
                        elapsed=elapsed, steps_per_s=metrics["steps_per_s"], lr=lr, prediction=prediction,
                        done=True, message=message or "finished", status=status, metrics=metrics,
                        steps=tail[0] if tail else np.zeros(0, int), losses=tail[1] if tail else np.zeros(0),
                        diagnostics=diagnostics, diagnostics_seconds=self.diagnostics_seconds)

    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def float32_limit_psnr(self, prediction: np.ndarray, max_points: int = 16384) -> float:
        """The PSNR at which float32 arithmetic alone sits for these parameters: the float32
        prediction against the same network run in float64 (the diagnostics' copy: batch norm frozen
        at the full signal's statistics), on ≤ max_points strided points (the round-off is
        statistical, a subset estimates it). A fit's PSNR near or above it is round-off."""
        stride = max(1, len(self.coords) // max_points)
        twin = diagnostic_copy(self.model, self.coords if "bn" in self.modifiers else None)
        exact = twin(self.coords[::stride].double())
        exact = exact.real if exact.is_complex() else exact
        return psnr(prediction[::stride], exact.cpu().numpy())

    @torch.no_grad()
    def predict(self) -> np.ndarray:
        """The model's output on the signal's grid, (N, C) numpy on the host."""
        return self.model(self.coords).cpu().numpy()

    def summary_row(self) -> dict:
        """One row of a results table (CLI, sweeps, app): PSNR, SSIM or –, ρ_AG, params, time, status."""
        m = self.final.metrics
        return {"signal": self.signal.name, "method": self.config.method, "psnr_db": round(m["psnr"], 2),
                "ssim": round(m["ssim"], 4) if "ssim" in m else None, "rho_ag": round(m["rho_ag"], 4),
                "params": self.num_parameters, "seconds": round(m["seconds"], 2), "steps": m["steps"],
                "steps_per_s": round(m["steps_per_s"], 2), "status": self.final.status,
                "note": "; ".join(n for n in ("" if self.final.status == "finished" else self.final.message,
                                              zero_output_note(m), FLOAT32_LIMIT_NOTE if at_float32_limit(
                                                  m["psnr"], m.get("float32_limit_psnr")) else "") if n)}

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, loss) of every step seen so far."""
        if not self.history_steps:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate(self.history_steps), np.concatenate(self.history_losses)


FLOAT32_LIMIT_NOTE = "PSNR at the float32 limit: what is left is round-off"


def fit(config: RunConfig, signal: Signal | None = None) -> Iterator[Snapshot]:
    """Generator of Snapshots for `config` (the last one has done=True and the metrics)."""
    return Run(config, signal).snapshots()


def run_to_end(config: RunConfig, signal: Signal | None = None) -> tuple[Run, Snapshot]:
    """Train to the end without looking at intermediate snapshots; returns (run, final snapshot)."""
    run = Run(config, signal)
    for _ in run.snapshots():
        pass
    return run, run.final
