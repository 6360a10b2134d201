"""Many runs' optimisation step as one: the runs' parameters stacked along a leading run axis, one
vmapped forward and backward, and each run's own optimiser update and learning rate.

The same two halves as stepper.py, so RunBatch's loop reads like Run's:

    forward_backward(step)  predictions (R, N, C), each run's MSE -> loss_buffer[step − 1, r], gradients
    update(step)            each run's Adam (or SGD) step at its own rate, then each run's schedule

Stacking follows PyTorch's model-ensembling recipe (torch.func.stack_module_state +
functional_call + vmap: https://pytorch.org/tutorials/intermediate/ensembling.html): a Linear
becomes one batched matmul over the runs. The loss backpropagated is Σ_r loss_r, so run r's
gradient is d loss_r / dθ_r and nothing else: runs never mix. Adam is elementwise, so one update
over the stacked tensors is each run's Adam exactly, provided the moments stay per element (they
are stacked too) and the rate is per run: `StackedOptimiser` writes torch.optim.Adam's
single-tensor arithmetic (torch/optim/adam.py, `_single_tensor_adam`, the CPU default) with the
step size as a (R, 1, …) tensor, and `StackedSchedule` is stepper.schedule_factor over a vector
of runs. A run's learning rate, schedule, seed, initialisation and target are its own.

On CUDA both halves can be captured as CUDA graphs, as FastStepper does (`use_graphs`); the step
count and the rates then live on the device (`device_counters`, which the CPU tests run without
graphs against the host-counted path).
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .stepper import capture_step_graphs

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which every serial run uses
SCHEDULE_KINDS = ("step", "drop", "exp", "constant")


class StackedSchedule:
    """Every run's learning rate after a number of steps: stepper.schedule_factor vectorised over
    runs (float64 on the device, from a step count that may be a device tensor)."""

    def __init__(self, configs, device: torch.device):
        def column(values) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.float64, device=device)

        self.kind = torch.tensor([SCHEDULE_KINDS.index(c.lr_schedule) for c in configs], device=device)
        self.base = column([c.lr for c in configs])
        self.gamma = column([c.lr_gamma for c in configs])
        self.every = column([c.lr_every for c in configs])
        self.total = column([c.steps for c in configs])

    def rates(self, step: torch.Tensor | int) -> torch.Tensor:
        step = torch.as_tensor(step, device=self.base.device).to(torch.float64)
        factors = torch.stack([self.gamma ** torch.floor(step / self.every),  # WINNER: ×γ every `every` steps
                               self.gamma ** (step >= self.every).to(torch.float64),  # IGA: ×γ once
                               0.1 ** (step / self.total),  # to 0.1× over the run
                               torch.ones_like(self.base)])
        return self.base * factors.gather(0, self.kind.view(1, -1)).squeeze(0)


class StackedOptimiser:
    """Adam (or plain SGD) on stacked parameters, each run at its own rate; the moments are stacked
    like the parameters, so no run sees another's."""

    def __init__(self, parameters: list[torch.Tensor], optimizer: str, device_counters: bool):
        self.parameters = parameters
        self.adam = optimizer == "adam"
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in parameters] if self.adam else []
        self.device_counters = device_counters
        device = parameters[0].device if parameters else torch.device("cpu")
        self.count = torch.zeros((), dtype=torch.float64, device=device) if device_counters else 0

    @torch.no_grad()
    def step(self, rates: torch.Tensor) -> None:
        """One update; `rates` (R,) float64: each run's current learning rate."""
        if self.device_counters:
            self.count.add_(1)
        else:
            self.count += 1
        for index, parameter in enumerate(self.parameters):
            if parameter.grad is None:  # as torch.optim skips a parameter without a gradient
                continue
            grad, param = parameter.grad, parameter
            moments = self.moments[index] if self.adam else ()
            if param.is_complex():  # Adam treats real and imaginary parts as separate elements
                grad, param = torch.view_as_real(grad), torch.view_as_real(param)
                moments = tuple(torch.view_as_real(m) for m in moments)
            per_run = (-1,) + (1,) * (param.dim() - 1)
            if not self.adam:  # torch.optim.SGD: θ −= lr·g
                param.add_(grad * rates.neg().to(param.dtype).view(per_run))
                continue
            self._adam(param, grad, *moments, rates, per_run)

    def _adam(self, param, grad, exp_avg, exp_avg_sq, rates, per_run) -> None:
        """torch.optim.Adam's single-tensor step (adam.py), with a per-run step size."""
        beta1, beta2 = BETAS
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**self.count
        bias_correction2_sqrt = (1 - beta2**self.count) ** 0.5
        step_size = (rates / bias_correction1).to(param.dtype).view(per_run)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(EPS)
        # addcdiv_(exp_avg, denom, value=−s) computes θ + (−s·m)/d: the same order of rounding
        param.addcdiv_(exp_avg * step_size.neg(), denom)

    def reset(self) -> None:
        """Back to no steps taken (after the warm-up of a graph capture)."""
        for moment in (m for pair in self.moments for m in pair):
            moment.zero_()
        if self.device_counters:
            self.count.zero_()
        else:
            self.count = 0


def stateless_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` to call functionally. Tensors a forward left on a module as attributes
    (INCODE keeps its modulation there) are outputs, not settings: the copy has None (the next
    forward computes them again), and deepcopy could not copy them anyway (non-leaf tensors)."""
    computed = {id(value): None for module in model.modules() for value in vars(module).values()
                if isinstance(value, torch.Tensor) and value.grad_fn is not None}
    return copy.deepcopy(model, computed)


class BatchedStepper:
    """R runs of one architecture on one grid as a stacked model: the step halves of stepper.py."""

    def __init__(self, models: list[nn.Module], coords: torch.Tensor, targets: torch.Tensor, configs,
                 use_graphs: bool = False, device_counters: bool | None = None):
        """`coords`: (N, d) shared by every run, or (R, N, d); `targets`: (N, C) shared or (R, N, C)."""
        self.runs = len(models)
        self.params, self.buffers = stack_module_state(models)
        self.template = stateless_copy(models[0])  # only its code and settings are used: weights come stacked
        self.coords, self.targets = coords, targets
        coords_axis = 0 if coords.dim() == 3 else None
        self._forward = vmap(self._one_run, in_dims=(0, 0, coords_axis), randomness="error")
        device = coords.device
        self.device_counters = use_graphs if device_counters is None else device_counters
        self.trainable = [p for p in self.params.values() if p.requires_grad]
        self.optimiser = StackedOptimiser(self.trainable, configs[0].optimizer, self.device_counters)
        self.schedule = StackedSchedule(configs, device)
        self.step_index = torch.zeros((), dtype=torch.long, device=device)
        self.rates = self.schedule.rates(0)
        self.loss_buffer = torch.zeros(configs[0].steps, self.runs, device=device, dtype=coords.dtype)
        self.prediction: torch.Tensor | None = None
        self._graphs: tuple | None = None
        self.mode = "batched"
        if use_graphs:
            self._capture()
            self.mode = "batched+graphs"

    def _one_run(self, params, buffers, coords):
        return functional_call(self.template, (params, buffers), (coords,))

    def predictions(self) -> torch.Tensor:
        """(R, N, C): every run's output on its coordinates."""
        return self._forward(self.params, self.buffers, self.coords)

    @torch.no_grad()
    def predictions_at(self, coords: torch.Tensor) -> torch.Tensor:
        """(R, M, C): every run's output at `coords`, (M, d) shared or (R, M, d) one set per run."""
        forward = vmap(self._one_run, in_dims=(0, 0, 0 if coords.dim() == 3 else None), randomness="error")
        return forward(self.params, self.buffers, coords)

    # The halves as plain functions: run eagerly, or recorded once into graphs.
    def _forward_backward(self) -> torch.Tensor:
        prediction = self.predictions()
        per_run = ((prediction - self.targets) ** 2).mean(dim=(1, 2))  # each run's own MSE
        per_run.sum().backward()  # d(Σ_r loss_r)/dθ_r = d loss_r/dθ_r
        self.loss_buffer.index_copy_(0, self.step_index.view(1), per_run.detach().view(1, -1))  # no host sync
        return prediction

    def _update(self) -> None:
        self.optimiser.step(self.rates)
        self.step_index.add_(1)
        self.rates.copy_(self.schedule.rates(self.step_index))

    def _zero_grad(self) -> None:
        for parameter in self.trainable:
            parameter.grad = None

    def forward_backward(self, step: int) -> torch.Tensor:
        if self._graphs is not None:
            self._graphs[0].replay()
            return self.prediction
        self._zero_grad()
        return self._forward_backward()

    def update(self, step: int) -> None:
        if self._graphs is not None:
            self._graphs[1].replay()
        else:
            self._update()

    def lr(self, run: int) -> float:
        return float(self.rates[run])

    def state_of(self, run: int, keys) -> dict[str, torch.Tensor]:
        """Run `run`'s parameters and buffers under `keys` (a state_dict's names), copied."""
        stacked = {**self.buffers, **self.params}
        return {key: stacked[key][run].detach().clone() for key in keys if key in stacked}

    def _capture(self) -> None:
        """FastStepper's recipe (stepper.capture_step_graphs); the moments, counters and rates reset."""
        def reset() -> None:
            self.optimiser.reset()
            self.step_index.zero_()
            self.rates.copy_(self.schedule.rates(0))
            self.loss_buffer.zero_()

        self.prediction, self._graphs = capture_step_graphs(list(self.params.values()), self._zero_grad,
                                                            self._forward_backward, self._update, reset)

    def close(self) -> None:
        self._graphs = None
        self.prediction = None
