"""Runs: a RunConfig -> a generator of Snapshots. The app, notebooks and CLI all iterate this.

Full-batch Adam on every point of the signal. Per step the loss is written into a device buffer
(no host sync); the host reads it only every `log_every` steps, which is when a Snapshot is
emitted, the NaN/Inf guard runs and the best parameters are kept. Stopping the iteration (or
calling `Run.stop()`) ends training at the next step; `run.final` is then still set. How a step
runs (eager, CUDA graphs or compiled) is stepper.py's job; many Runs as one stacked model,
batched.py's; whether a run fits in memory, memory.py's (checked when it is built); what a run
remembers (the loss curve, the best parameters, the diagnostics it owes on a budget) is
run_history.py's.

Diagnostics (eNTK, activations, error maps, band errors) run on their own cadences within a time
budget (run_history.DiagnosticSchedule). The final Snapshot always carries every enabled
diagnostic of the final (best) parameters, whatever the budget deferred.
"""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np
import torch

from .config import RunConfig
from .diagnostics import due_diagnostics, enabled_diagnostics
from .errors import ConfigError
from .memory import check_run_memory
from .methods import build_model, count_parameters, resolve
from .metrics import at_float32_limit, evaluate, psnr, psnr_from_mse, zero_output_note
from .modifiers import InductiveGradientAdjustment, describe_modifiers, split_method
from .ntk import diagnostic_copy
from .run_history import DiagnosticSchedule, HeldOutCurve, LossHistory
from .signals import Signal, signal_for
from .snapshot import Snapshot
from .tasks import split_task, task_metrics
from .stepper import fast_path_plan, make_stepper, matmul_precision, step_note, step_workload, zero_gpu


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
        self.signal = signal  # the clean signal on its full grid: what the run is scored on
        self.task = split_task(config, signal)  # what it trains on; a ConfigError for a task it cannot take
        observed = self.task.observed  # the signal as the network is given it: its defaults and kernel read it
        self.config = resolve(config, observed)
        self.device = pick_device(self.config.device)
        model = build_model(self.config, observed)
        self.modifiers = split_method(self.config.method)[1]
        self.modifier_note = describe_modifiers(self.config, observed)  # what IGA / FR chose, in words
        self.iga = None
        if "iga" in self.modifiers:
            c = self.config
            self.iga = InductiveGradientAdjustment(
                observed.grid, c.iga_group, c.iga_start, c.iga_end, c.iga_sampling, c.iga_every,
                balance_to="end" if c.optimizer == "adam" else "start", seed=c.seed)
        # before the model moves or anything trains: a ConfigError naming what it needs and what is free
        self.memory = check_run_memory(model, self.config, observed, self.device, self.iga)
        self.model = model.to(self.device)
        self.num_parameters = count_parameters(self.model)
        complex_weights = any(p.is_complex() for p in self.model.parameters())
        self.step_mode, plan = fast_path_plan(self.config, self.device, self.modifiers, complex_weights, zero_gpu(),
                                              step_workload(self.task.num_train, self.config))
        self.step_note = step_note(self.config, self.device, plan)
        self.coords = torch.from_numpy(self.task.train_coords()).to(self.device)  # (n_train, d)
        self.target = torch.from_numpy(self.task.train_values).to(self.device)  # (n_train, C)
        self.grid_coords = (self.coords if self.task.train_rows is None
                            else torch.from_numpy(signal.coords).to(self.device))  # (N, d): the full grid
        self.heldout = HeldOutCurve(self.task, self.device)
        self.history = LossHistory(self.model, self.config.log_every)
        self.schedule = DiagnosticSchedule(self.config)
        self.final: Snapshot | None = None
        self._stop = False
        self._last_step = 0
        self._training_seconds = 0.0

    # what the history and the schedule hold, under the names callers read
    best_loss = property(lambda self: self.history.best_loss)
    best_step = property(lambda self: self.history.best_step)
    diagnostics_seconds = property(lambda self: self.schedule.seconds)

    def band_error_history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, band edges, Δ of shape (bands, steps)) for the IGA Fig. 1-style heatmap."""
        return self.schedule.band_error_history()

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, loss) of every step seen so far."""
        return self.history.curve()

    def heldout_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, held-out PSNR dB) at each log point of a task that holds samples out (else empty)."""
        return self.heldout.curve()

    # ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the training loop to end at the next step (thread-safe enough: a bool flag)."""
        self._stop = True

    def __iter__(self) -> Iterator[Snapshot]:
        return self.snapshots()

    def snapshots(self) -> Iterator[Snapshot]:
        with matmul_precision(self.config.tf32, self.device):
            stepper = make_stepper(self.model, self.coords, self.target, self.config, self.step_mode, self.iga)
            self._clock = time.perf_counter()  # moves on while a consumer holds a Snapshot: not this run's time
            try:
                if due_diagnostics(self.config, 0):  # the kernel / activations at initialisation
                    yield from self._handed_over(self._initial_snapshot(self._clock))
                step, message, status, tail = yield from self._train(stepper)
                self.final = self._finish(step, stepper.lr, self._clock, message, status, tail=tail)
                yield self.final
            except GeneratorExit:  # the consumer broke out of the loop: still leave a final result
                if self.final is None:
                    self.final = self._finish(self._last_step, stepper.lr, self._clock,
                                              f"stopped at step {self._last_step}", "stopped", diagnose=False)
                raise
            finally:
                stepper.close()
                del stepper
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def _handed_over(self, snapshot: Snapshot) -> Iterator[Snapshot]:
        """Yield `snapshot`. While suspended the consumer draws, or trains another method (an
        interleaved compare): that time is not this run's, so the run's clock moves on."""
        paused = time.perf_counter()
        yield snapshot
        self._clock += time.perf_counter() - paused

    def _train(self, stepper):
        """The step loop; returns (last step, message, status, tail): tail = the losses the final
        Snapshot reports (measured since the last Snapshot shown)."""
        cfg, last_logged, tail = self.config, 0, None
        message, status, step = "", "finished", 0
        for step in range(1, cfg.steps + 1):
            if self._stop:
                step -= 1
                if step > last_logged:  # losses measured since the last sync still belong to the curve
                    chunk = stepper.loss_buffer[last_logged:step].cpu().numpy().astype(np.float64)
                    steps_chunk = np.arange(last_logged + 1, step + 1)[np.isfinite(chunk)]
                    tail = (steps_chunk, chunk[np.isfinite(chunk)])
                    self.history.record(*tail)
                return step, f"stopped at step {step}", "stopped", tail
            prediction = stepper.forward_backward(step)
            self._last_step = step
            last = step == cfg.steps
            on_log = step % cfg.log_every == 0 or last
            on_preview = cfg.preview_every > 0 and step % cfg.preview_every == 0
            due = set() if last else self.schedule.due(step, time.perf_counter() - self._clock)
            if on_log or on_preview or due:
                # The one host sync of this cadence. Loss was measured before this update, so the
                # parameters kept as "best" are the ones that produced it.
                chunk = stepper.loss_buffer[last_logged:step].cpu().numpy().astype(np.float64)
                steps_chunk = np.arange(last_logged + 1, step + 1)
                last_logged = step
                finite = np.isfinite(chunk)
                if not finite.all():
                    bad = int(steps_chunk[~finite][0])
                    tail = (steps_chunk[finite], chunk[finite])
                    self.history.record(*tail)
                    return bad - 1, self.history.divergence_message(bad, last_logged - len(chunk)), "diverged", tail
                self.history.record(steps_chunk, chunk)
                tail = (steps_chunk, chunk)
                self.history.observe(float(chunk[-1]), step, self.model)
                heldout = self.heldout.measure(self.model, prediction, step)
                if not last:  # the last step's numbers are the final Snapshot's
                    yield from self._handed_over(self._log_snapshot(step, stepper.lr, steps_chunk, chunk,
                                                                    prediction if (on_preview or due) else None,
                                                                    due, heldout))
                    tail = None  # shown: the final Snapshot must not report these losses again
            stepper.update(step)
        return step, message, status, tail

    def _log_snapshot(self, step: int, lr: float, steps: np.ndarray, losses: np.ndarray,
                      prediction: torch.Tensor | None, due: set[str], heldout: float | None = None) -> Snapshot:
        """`prediction`: the step's output on the training set, when the preview or a diagnostic wants it."""
        full = None
        if prediction is not None:
            full, trained = self._host_predictions(prediction)
            diagnostics = self._diagnose(due, full, trained, step)
        else:
            diagnostics = {}
        elapsed = time.perf_counter() - self._clock
        current = float(losses[-1])
        return Snapshot(step=step, total_steps=self.config.steps, loss=current, psnr=psnr_from_mse(current),
                        best_psnr=psnr_from_mse(self.best_loss), best_step=self.best_step, elapsed=elapsed,
                        steps_per_s=step / max(elapsed, 1e-9), lr=lr, steps=steps, losses=losses,
                        prediction=full, diagnostics=diagnostics, diagnostics_seconds=self.diagnostics_seconds,
                        heldout_psnr=heldout)

    def _initial_snapshot(self, start: float) -> Snapshot:
        with torch.no_grad():
            prediction = self.model(self.coords)
            loss = float(torch.mean((prediction - self.target) ** 2))
            heldout = self.heldout.measure(self.model, prediction, 0)
        full, trained = self._host_predictions(prediction)
        diagnostics = self._diagnose(due_diagnostics(self.config, 0), full, trained, 0)
        return Snapshot(step=0, total_steps=self.config.steps, loss=loss, psnr=psnr_from_mse(loss),
                        best_psnr=psnr_from_mse(loss), best_step=0, elapsed=time.perf_counter() - start,
                        steps_per_s=0.0, lr=self.config.lr, prediction=full,
                        diagnostics=diagnostics, diagnostics_seconds=self.diagnostics_seconds, heldout_psnr=heldout)

    def _host_predictions(self, prediction: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(full-grid prediction, training-set prediction) on the host, from the step's output on the
        training set; the full grid costs a forward only when the task trains on part of it."""
        trained = prediction.detach().cpu().numpy()
        return (trained if self.task.train_rows is None else self.predict()), trained

    def _diagnose(self, names: set[str], full: np.ndarray, trained: np.ndarray, step: int) -> dict:
        """The kernel and activations read the signal as observed; error maps and band errors score
        the full grid against the clean signal (for a fit, the same)."""
        observed = self.task.observed
        return self.schedule.run(names, self.model, self.signal, full, step, observed=observed,
                                 observed_prediction=trained if self.task.observed_is_training_set else full)

    def _finish(self, step: int, lr: float, start: float, message: str, status: str,
                diagnose: bool = True, tail: tuple | None = None) -> Snapshot:
        """Evaluate the final parameters; keep whichever of final/best is better; full metrics and,
        unless the consumer has gone, every enabled diagnostic of the kept parameters."""
        self._training_seconds = time.perf_counter() - start - self.diagnostics_seconds
        history = self.history
        with torch.no_grad():
            final_prediction = self.model(self.coords)
            final_loss = float(torch.mean((final_prediction - self.target) ** 2))
        if np.isfinite(final_loss) and final_loss <= history.best_loss:
            history.best_loss, history.best_step = final_loss, step
            history.best_state = None
        if history.best_state is not None:
            self.model.load_state_dict(history.best_state)
        prediction = self.predict()
        metrics = evaluate(self.signal.as_grid(prediction), self.signal.as_grid(), self.signal.kind)
        if self.task.task != "fit":
            metrics.update(task_metrics(self.task, prediction))  # psnr: the held-out PSNR
        trained = prediction if self.task.train_rows is None else prediction[self.task.train_rows]
        diagnostics = self._diagnose(enabled_diagnostics(self.config), prediction, trained, step) if diagnose else {}
        # after the final diagnostics: they are the run's own work, counted as every earlier one is
        elapsed = time.perf_counter() - start
        metrics.update(seconds=elapsed, steps=step, best_step=self.best_step, params=self.num_parameters,
                       steps_per_s=step / max(elapsed, 1e-9), float32_limit_psnr=self.float32_limit_psnr(prediction))
        return Snapshot(step=step, total_steps=self.config.steps, loss=self.best_loss,
                        psnr=metrics["psnr"], best_psnr=metrics["psnr"], best_step=self.best_step,
                        elapsed=elapsed, steps_per_s=metrics["steps_per_s"], lr=lr, prediction=prediction,
                        done=True, message=message or "finished", status=status, metrics=metrics,
                        steps=tail[0] if tail else np.zeros(0, int), losses=tail[1] if tail else np.zeros(0),
                        diagnostics=diagnostics, diagnostics_seconds=self.diagnostics_seconds,
                        heldout_psnr=metrics["psnr"] if self.task.holds_out else None)

    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def float32_limit_psnr(self, prediction: np.ndarray, max_points: int = 16384) -> float:
        """The PSNR at which float32 arithmetic alone sits for these parameters: the float32
        prediction against the same network run in float64 (the diagnostics' copy: batch norm frozen
        at the full signal's statistics), on ≤ max_points strided points (the round-off is
        statistical, a subset estimates it). A fit's PSNR near or above it is round-off."""
        stride = max(1, len(self.grid_coords) // max_points)
        twin = diagnostic_copy(self.model, self.coords if "bn" in self.modifiers else None)
        exact = twin(self.grid_coords[::stride].double())
        exact = exact.real if exact.is_complex() else exact
        return psnr(prediction[::stride], exact.cpu().numpy())

    @torch.no_grad()
    def predict(self) -> np.ndarray:
        """The model's output on the signal's full grid, (N, C) numpy on the host."""
        return self.model(self.grid_coords).cpu().numpy()

    def summary_row(self) -> dict:
        """One row of a results table (CLI, sweeps, app): PSNR, SSIM or –, ρ_AG, params, time, status."""
        m = self.final.metrics
        task = {} if self.task.task == "fit" else {
            "task": self.task.task, "train_psnr_db": round(m["train_psnr"], 2)}  # psnr_db: the held-out PSNR
        return {"signal": self.signal.name, "method": self.config.method, **task, "psnr_db": round(m["psnr"], 2),
                "ssim": round(m["ssim"], 4) if "ssim" in m else None, "rho_ag": round(m["rho_ag"], 4),
                "params": self.num_parameters, "seconds": round(m["seconds"], 2), "steps": m["steps"],
                "steps_per_s": round(m["steps_per_s"], 2), "status": self.final.status,
                "note": "; ".join(n for n in ("" if self.final.status == "finished" else self.final.message,
                                              zero_output_note(m), FLOAT32_LIMIT_NOTE if at_float32_limit(
                                                  m["psnr"], m.get("float32_limit_psnr")) else "") if n)}


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
