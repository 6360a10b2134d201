"""Many runs trained as one: seeds, learning-rate trials, the cells of a sweep, and methods whose
networks are literally the same architecture, on signals of one grid.

    outcomes = train_runs([Run(config.replace(seed=s), signal) for s in range(8)])

`RunBatch` trains Runs that share an architecture and a grid as one stacked model
(batched_step.BatchedStepper) and leaves each Run exactly as its own loop would: its loss curve,
best parameters, Snapshots, divergence guard and final metrics (Run._finish, the same evaluation as
a serial run). `train_runs` plans which runs can go together and trains the rest alone, saying
why (`Outcome.batch`):

- a run whose step cannot batch: IGA (a host eigendecomposition of its own eNTK every step), batch
  norm (running statistics updated in place), diagnostics on a cadence (each run's eNTK,
  activations and error maps are its own work);
- runs that differ in architecture (`architecture_signature`: module classes, their settings such
  as ω₀, and every parameter's shape), in the grid, or in the loop (steps, log cadence, optimiser);
- a batch whose vmapped forward does not reproduce each run's own forward on a few points (a
  plug-in that keeps state, say), or that fails while training (then each run trains alone);
- a batch that would not fit in memory is split (memory.runs_per_batch).

A batched run's seconds are its share of the batch's wall time (the batch's time ÷ its runs), so
tables that compare time per run stay comparable with serial rows.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .batched_step import BatchedStepper
from .memory import is_out_of_memory, out_of_memory_message, runs_per_batch
from .metrics import psnr_from_mse
from .snapshot import Snapshot
from .stepper import matmul_precision

LOOP_FIELDS = ("steps", "log_every", "preview_every", "optimizer", "tf32", "device")
CADENCES = ("ntk_every", "activations_every", "errors_every", "bands_every")
PROBE_POINTS = 64  # points on which the stacked forward must reproduce each run's own
# On a CPU a batch's layer activations (runs × points × width) stay within about this many bytes.
# A CPU step of an app-size run is arithmetic, not overhead, and stacking moves its elementwise
# work (sine, cosine, scale, bias) from cache-resident to DRAM-streamed tensors: SIREN 3×128 on
# 64² (2 MB a layer per run), one thread, ran 0.96× serial in batches of 2, 0.80× of 4, 0.70× of 8
# (torch.profiler: sin/cos/mul 3.5× slower per element in the batch of 8). Small runs, whose step is
# per-operation overhead, still stack by the hundred. A GPU has no such cap.
CPU_BATCH_BYTES = 4e6


class BatchRefused(ValueError):
    """These runs cannot train as one (the message says why); each trains alone."""


@dataclass
class Outcome:
    """How one run ended: `run` trained (run.final set) or `error` stopped it; `batch` says whether it
    trained as part of a stacked batch ("8 runs stacked") or alone, and why."""

    run: object
    error: BaseException | None = None
    batch: str = ""


# ----------------------------------------------------------------------------------------------
# Which runs can go together
# ----------------------------------------------------------------------------------------------
def batch_blockers(run) -> list[str]:
    """Why `run`'s step cannot join a batch (empty: it can)."""
    config = run.config
    return [reason for present, reason in (
        ("iga" in run.modifiers, "IGA decomposes its own eNTK on the host every step"),
        ("bn" in run.modifiers, "batch norm updates its running statistics in place"),
        (any(getattr(config, c) for c in CADENCES), "diagnostics on a cadence are each run's own work"),
        # the stacked Adam (batched_step.py) runs PyTorch's defaults on one parameter group and the MSE alone
        (any(getattr(config, knob) for knob in ("adam_beta2", "adam_eps", "weight_decay")),
         "its method's own Adam settings (β₂, ε, weight decay on the MLP) are not the stacked optimiser's"),
        (hasattr(run.model, "regularisation"), "its method adds its own penalty to the loss (INCODE's)"),
    ) if present]


def architecture_signature(model: torch.nn.Module) -> tuple:
    """What makes two networks the same function of their weights: every module's class and its
    settings (ω₀, damping, …), every parameter's and buffer's name, shape, dtype and trainability."""
    modules = tuple((name, type(module).__module__, type(module).__qualname__,
                     tuple(sorted((key, _setting(value)) for key, value in vars(module).items()
                                  if not key.startswith("_") and key != "training")))
                    for name, module in model.named_modules())
    tensors = tuple((name, tuple(t.shape), str(t.dtype), t.requires_grad)
                    for name, t in (*model.named_parameters(), *model.named_buffers()))
    return modules, tensors


def _setting(value):
    """A module attribute as a comparable value; anything unknown by its repr (a function's names
    its address, so two different closures never count as the same architecture)."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_setting(v) for v in value)
    if isinstance(value, torch.Tensor):
        if value.requires_grad:  # computed from the weights in a forward (INCODE's modulation): not a setting
            return "computed", tuple(value.shape), str(value.dtype)
        data = value.detach().cpu().contiguous()
        return "tensor", tuple(data.shape), str(data.dtype), _digest(data.view(-1).view(torch.uint8).numpy())
    if isinstance(value, np.ndarray):
        return "array", value.shape, str(value.dtype), _digest(np.ascontiguousarray(value))
    return repr(value)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha1(array.tobytes()).hexdigest()


def batch_key(run) -> tuple:
    """Runs with equal keys can train as one: same architecture, grid, training samples (a task's
    keep-set is drawn per seed), loop, and whether a held-out curve is read (the targets may differ:
    a denoiser's noise is drawn per seed)."""
    config = run.config
    task = run.task
    return (architecture_signature(run.model), tuple(getattr(config, f) for f in LOOP_FIELDS), str(run.device),
            tuple(run.coords.shape), _digest(run.coords.detach().cpu().numpy()), tuple(run.target.shape),
            str(run.target.dtype), task.holds_out, task.train_rows is None, len(task.curve_rows))


def plan_batches(runs: list) -> tuple[list[list[int]], dict[int, str]]:
    """(batches of run indices, {index: why it trains alone}). A batch that would not fit in memory
    is split into batches that do; on a CPU, into batches within CPU_BATCH_BYTES a layer."""
    groups: dict[tuple, list[int]] = {}
    alone: dict[int, str] = {}
    for index, run in enumerate(runs):
        blockers = batch_blockers(run)
        if blockers:
            alone[index] = "; ".join(blockers)
        else:
            groups.setdefault(batch_key(run), []).append(index)
    batches = []
    for members in groups.values():
        if len(members) == 1:
            alone[members[0]] = "no other run has its architecture, grid, training samples and loop"
            continue
        first = runs[members[0]]
        per_run = max(runs[i].memory.total for i in members)
        size = runs_per_batch(per_run, first.device, len(members))
        if size == 1:
            alone.update({i: "memory: one run at a time fits" for i in members})
            continue
        if first.device.type == "cpu":
            layer = first.coords.shape[0] * first.config.width * first.coords.element_size()
            size = max(2, min(size, int(CPU_BATCH_BYTES // layer)))
        for chunk in _even_chunks(members, size):
            if len(chunk) > 1:
                batches.append(chunk)
            else:
                alone[chunk[0]] = "the rest of a batch split for memory (or, on a CPU, its cache)"
    return batches, alone


def _even_chunks(members: list[int], size: int) -> list[list[int]]:
    """As few consecutive chunks of at most `size` as there can be, their sizes within one of each other."""
    count = -(-len(members) // size)
    base, extra = divmod(len(members), count)
    chunks, start = [], 0
    for index in range(count):
        length = base + (index < extra)
        chunks.append(members[start:start + length])
        start += length
    return chunks


# ----------------------------------------------------------------------------------------------
# One batch
# ----------------------------------------------------------------------------------------------
class RunBatch:
    """Runs of one architecture on one grid trained as one stacked model; each Run ends with its own
    curve, best parameters and final Snapshot, as its own loop would leave it."""

    def __init__(self, runs: list):
        if len({batch_key(run) for run in runs}) != 1:
            raise BatchRefused("the runs differ in architecture, grid or loop")
        self.runs, self.config, self.device = runs, runs[0].config, runs[0].device
        self.use_graphs = self.device.type == "cuda" and self.config.fast != "off"
        _check_forward_agrees(runs)
        self.note = (f"batched: one of {len(runs)} runs stacked as one model (vmap), each with its own Adam state "
                     f"and learning rate{', CUDA graphs' if self.use_graphs else ''}")
        for run in runs:
            run.step_mode, run.step_note = "batched", self.note
        self._stop = False
        self._clock = 0.0
        self._last_step = 0  # the last step whose forward and backward ran
        self._active: dict[int, tuple | None] = {}  # run index -> the losses its final Snapshot reports
        self._curve_coords: torch.Tensor | None = None  # each run's held-out curve samples, stacked

    def stop(self) -> None:
        """Every run ends at the next step, with its own final result."""
        self._stop = True

    def __iter__(self) -> Iterator[tuple[int, Snapshot]]:
        return self.snapshots()

    def snapshots(self) -> Iterator[tuple[int, Snapshot]]:
        """(run index, Snapshot) at each log point of each run, then each run's final Snapshot."""
        with matmul_precision(self.config.tf32, self.device):
            stepper = self._stepper()
            self._active = {index: None for index in range(len(self.runs))}
            self._clock = time.perf_counter()
            try:
                yield from self._train(stepper)
            except GeneratorExit:  # the consumer left: every run still gets a final result
                for index in list(self._active):
                    self._finish(index, stepper, self._last_step, f"stopped at step {self._last_step}", "stopped",
                                 None, diagnose=False)
                raise
            finally:
                stepper.close()
                del stepper
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def _stepper(self) -> BatchedStepper:
        runs = self.runs
        targets = runs[0].target if all(torch.equal(r.target, runs[0].target) for r in runs) \
            else torch.stack([r.target for r in runs])
        try:
            return BatchedStepper([r.model for r in runs], runs[0].coords, targets, [r.config for r in runs],
                                  use_graphs=self.use_graphs)
        except RuntimeError as exc:  # a capture this build or model does not support: the same step, eager
            if not self.use_graphs:
                raise
            self.use_graphs = False
            for run in runs:
                run.step_note = f"{self.note} (graph capture failed: {str(exc).splitlines()[0][:120]}; eager)"
            return BatchedStepper([r.model for r in runs], runs[0].coords, targets, [r.config for r in runs])

    def _handed_over(self, item):
        """Yield `item`; the consumer's time is not the runs' (as Run._handed_over)."""
        paused = time.perf_counter()
        yield item
        self._clock += time.perf_counter() - paused

    def _train(self, stepper: BatchedStepper):
        """Run._train's loop over the stacked runs: a host sync at each log point, each run checked,
        kept and reported there on its own."""
        cfg, last_logged = self.config, 0
        for step in range(1, cfg.steps + 1):
            if self._stop:
                yield from self._stop_all(stepper, step - 1, last_logged)
                return
            prediction = stepper.forward_backward(step)
            self._last_step = step
            last = step == cfg.steps
            on_log = step % cfg.log_every == 0 or last
            on_preview = cfg.preview_every > 0 and step % cfg.preview_every == 0
            if on_log or on_preview:
                if on_log:
                    self._measure_heldout(stepper, prediction, step)
                chunk = stepper.loss_buffer[last_logged:step].cpu().numpy().astype(np.float64)
                steps_chunk = np.arange(last_logged + 1, step + 1)
                previous, last_logged = last_logged, step
                shown = self._shown(stepper, prediction) if on_preview and not last else None
                for index in list(self._active):
                    yield from self._log(index, stepper, step, steps_chunk, chunk[:, index], previous,
                                         None if shown is None else shown[index], last)
            stepper.update(step)
        for index in list(self._active):
            yield from self._handed_over((index, self._finish(index, stepper, cfg.steps, "", "finished",
                                                              self._active[index])))

    def _shown(self, stepper: BatchedStepper, prediction: torch.Tensor) -> np.ndarray:
        """(R, N, C) on the host: every run's output on the full grid (a task training on part of it
        costs one stacked forward)."""
        first = self.runs[0]
        if first.task.train_rows is None:
            return prediction.detach().cpu().numpy()
        return stepper.predictions_at(first.grid_coords).cpu().numpy()

    def _measure_heldout(self, stepper: BatchedStepper, prediction: torch.Tensor, step: int) -> None:
        """Each run's held-out PSNR at this log point (HeldOutCurve), from the stacked output on the
        training set or one stacked forward on each run's curve samples."""
        runs = [self.runs[index] for index in self._active]
        if not runs or not runs[0].task.holds_out:
            return
        if runs[0].heldout.rows is not None:
            for index, run in zip(self._active, runs):
                run.heldout.record(step, prediction[index].detach()[run.heldout.rows])
            return
        if self._curve_coords is None:  # (R, m, d): stacked once, read at every log point
            self._curve_coords = torch.stack([run.heldout.coords for run in self.runs])
        outputs = stepper.predictions_at(self._curve_coords)
        for index, run in zip(self._active, runs):
            run.heldout.record(step, outputs[index])

    def _log(self, index: int, stepper, step: int, steps: np.ndarray, losses: np.ndarray, previous: int,
             prediction: np.ndarray | None, last: bool):
        """One run at a log point: the NaN guard, its curve and best parameters, its Snapshot."""
        run = self.runs[index]
        history = run.history
        finite = np.isfinite(losses)
        if not finite.all():
            bad = int(steps[~finite][0])
            tail = (steps[finite], losses[finite])
            history.record(*tail)
            final = self._finish(index, stepper, bad - 1, history.divergence_message(bad, previous), "diverged", tail)
            yield from self._handed_over((index, final))
            return
        history.record(steps, losses)
        current = float(losses[-1])
        if current < history.best_loss:  # LossHistory.observe, from the stacked parameters
            history.best_loss, history.best_step = current, step
            history.best_state = stepper.state_of(index, run.model.state_dict().keys())
        if last:
            self._active[index] = (steps, losses)
            return
        self._active[index] = None  # shown: the final Snapshot must not report these losses again
        share = self._share()
        snapshot = Snapshot(step=step, total_steps=run.config.steps, loss=current, psnr=psnr_from_mse(current),
                            best_psnr=psnr_from_mse(history.best_loss), best_step=history.best_step, elapsed=share,
                            steps_per_s=step / max(share, 1e-9), lr=stepper.lr(index), steps=steps, losses=losses,
                            prediction=prediction,
                            heldout_psnr=run.heldout.psnrs[-1] if run.heldout.steps[-1:] == [step] else None)
        yield from self._handed_over((index, snapshot))

    def _stop_all(self, stepper, step: int, last_logged: int):
        """Run._train's stop: the losses since the last log point join each curve; all runs end."""
        chunk = stepper.loss_buffer[last_logged:step].cpu().numpy().astype(np.float64) if step > last_logged else None
        for index in list(self._active):
            tail = None
            if chunk is not None:
                losses = chunk[:, index]
                finite = np.isfinite(losses)
                tail = (np.arange(last_logged + 1, step + 1)[finite], losses[finite])
                self.runs[index].history.record(*tail)
            final = self._finish(index, stepper, step, f"stopped at step {step}", "stopped", tail)
            yield from self._handed_over((index, final))

    def _share(self) -> float:
        """A run's share of the batch's training time so far."""
        return (time.perf_counter() - self._clock) / len(self.runs)

    def _finish(self, index: int, stepper, step: int, message: str, status: str, tail, diagnose: bool = True):
        """The run's own parameters back into its model, then Run's own final evaluation."""
        run = self.runs[index]
        with torch.no_grad():
            run.model.load_state_dict(stepper.state_of(index, run.model.state_dict().keys()), strict=False)
        start = time.perf_counter() - self._share()
        run.final = run._finish(step, stepper.lr(index), start, message, status, diagnose=diagnose, tail=tail)
        self._active.pop(index, None)
        return run.final


def _check_forward_agrees(runs: list) -> None:
    """The stacked, vmapped forward must give each run's own output on a few points; else (or when
    vmap cannot take the model) BatchRefused."""
    coords = runs[0].coords[:: max(1, runs[0].coords.shape[0] // PROBE_POINTS)][:PROBE_POINTS]
    try:
        with torch.no_grad():
            probe = BatchedStepper([r.model for r in runs], coords, runs[0].target[: coords.shape[0]],
                                   [r.config.replace(steps=1) for r in runs])
            stacked = probe.predictions()
            alone = torch.stack([r.model(coords) for r in runs])
    except (RuntimeError, ValueError, TypeError, NotImplementedError) as exc:
        raise BatchRefused(f"its forward does not batch ({str(exc).splitlines()[0][:160]})") from None
    finite = alone[torch.isfinite(alone)]
    scale = max(float(finite.abs().max()), 1.0) if finite.numel() else 1.0  # a NaN run diverges, batched or not
    if stacked.shape != alone.shape or not torch.allclose(stacked, alone, rtol=1e-4, atol=1e-5 * scale,
                                                          equal_nan=True):
        raise BatchRefused("its stacked forward differs from each run's own (the model keeps state?)")


# ----------------------------------------------------------------------------------------------
# Every run, in batches where they can go
# ----------------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Where training is (train_each with `progress`): the runs training now, by index, at `step` of
    `steps` (a log point of their batch, or of the run training alone)."""

    runs: tuple[int, ...]
    step: int
    steps: int


def train_runs(runs: list, batch: bool = True, say: Callable[[str], None] = lambda text: None,
               should_stop: Callable[[], bool] = lambda: False) -> list[Outcome]:
    """Every run trained to its end (train_each), outcomes in the runs' order."""
    outcomes = dict(train_each(runs, batch, say, should_stop))
    return [outcomes[i] for i in range(len(runs))]


def train_each(runs: list, batch: bool = True, say: Callable[[str], None] = lambda text: None,
               should_stop: Callable[[], bool] = lambda: False,
               progress: bool = False) -> Iterator[tuple[int, Outcome] | Progress]:
    """Train every run, in stacked batches where runs can share one and the rest alone; yields
    (index, Outcome) as each batch or lone run ends, and with `progress` a Progress at each log point
    in between (a caller's progress line moves while a batch trains). A run that fails (out of memory,
    a setting found bad late) ends with its error; the others go on."""
    batches, alone = plan_batches(runs) if batch else ([], {i: "batching is off" for i in range(len(runs))})
    for members in batches:
        group = [runs[i] for i in members]
        try:
            stacked = RunBatch(group)
        except BatchRefused as exc:
            alone.update({i: str(exc) for i in members})
            continue
        say(f"training {len(group)} runs as one batch ({group[0].config.method} on {group[0].signal.name}, …)")
        try:
            yield from _progress(stacked, tuple(members), stacked.config.steps, progress, should_stop)
        except (RuntimeError, MemoryError) as exc:  # e.g. out of memory: the same runs, fresh, one at a time
            reason = out_of_memory_message(exc, "the batch") if is_out_of_memory(exc) else str(exc).splitlines()[0]
            for i in members:
                runs[i] = type(runs[i])(runs[i].config, runs[i].signal)
                alone[i] = f"the batch failed ({reason[:160]})"
            continue
        for i in members:
            yield i, Outcome(runs[i], None, f"{len(group)} runs stacked")
    for index in sorted(alone):
        say(f"training {runs[index].config.method} on {runs[index].signal.name} alone")
        yield index, (yield from _train_alone(runs[index], index, alone[index], should_stop, progress))


def _progress(snapshots, members: tuple[int, ...], steps: int, progress: bool, should_stop):
    """Iterate a RunBatch's or a Run's snapshots, stopping them when asked; with `progress`, a Progress
    at each new step (a batch's runs report one step each)."""
    last = 0
    for item in snapshots:
        if should_stop():
            snapshots.stop()
        step = (item[1] if isinstance(item, tuple) else item).step
        if progress and step != last and step < steps:
            last = step
            yield Progress(members, step, steps)


def _train_alone(run, index: int, reason: str, should_stop: Callable[[], bool], progress: bool = False):
    """Train `run` alone (yielding its Progress when asked); returns its Outcome."""
    try:
        yield from _progress(run, (index,), run.config.steps, progress, should_stop)
    except (RuntimeError, MemoryError, FloatingPointError, ValueError) as exc:
        return Outcome(run, exc, f"alone: {reason}")
    return Outcome(run, None, f"alone: {reason}")
