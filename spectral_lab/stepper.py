"""How one optimisation step runs: eagerly, as captured CUDA graphs, or compiled (the fast path).

A step is split in two halves, so the host can look between them at log points (the loss of the
parameters that produced it, NaN guard, best-parameter copy) without changing what is trained:

    forward_backward(step)  prediction, MSE loss -> loss_buffer[step − 1], gradients
    update(step)            optimiser step, learning-rate schedule

`EagerStepper` is plain PyTorch. `FastStepper` keeps everything the step touches in static
device tensors (coordinates, target, loss buffer, step counter, learning rate), uses Adam with a
tensor learning rate (`capturable` on CUDA, fused) and a schedule computed on the device from
the step counter, so nothing needs the host between log points. On CUDA each half is captured
once as a CUDA graph (plain `torch.cuda.graphs`, no `torch.compile`: works on ZeroGPU too) and
replayed: two launches per step instead of hundreds. Off CUDA the same code runs eagerly, which
is what the CPU tests check against `EagerStepper`.

Methods the fast path cannot capture fall back to eager with a reason (`fast_path_plan`):
IGA (a host eigen-decomposition every step), batch norm and WIRE's complex weights, and SGD.

Graphs or compile (`fast_path_plan` chooses per run, and the run's step note says which): CUDA
graphs remove launch overhead, which is what a small model's step is made of; a large one's step
is compute-bound, and there `torch.compile` (Inductor) helps instead, fusing each layer's bias,
ω₀ scale and sine (and their backward) into one kernel after the matmul instead of one pass over
the activations per operation. The crossover is `COMPILE_MIN_WORK` (see there; unmeasured on a
GPU here: bench/bench_gpu.py prints eager, graphs and compiled side by side). ZeroGPU forbids
torch.compile (spaces_support.py), and Inductor needs Triton on CUDA: both fall back to graphs.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

FAST_MODES = ("auto", "on", "off")
STEP_MODES = ("eager", "static", "graphs", "compiled")
# points × width² × depth above which a CUDA step counts as compute-bound. A step is ~6·N·w²·d FLOPs
# (forward 2, backward 4) and ~100 kernel launches of ~5 µs: at ~50 TFLOP/s fp32 the two are equal
# near N·w²·d ≈ 4e9 (SIREN 5×256 on 256² is 2.1e10: compiled; 3×128 on 64² is 2e8: graphs). An
# estimate from spec sheets, not a measurement: bench/bench_gpu.py measures both modes per case.
COMPILE_MIN_WORK = 4e9
# Compiling costs tens of seconds once per shape (Inductor's code generation; 19-40 s for a small
# SIREN on this 2-core CPU): a short run would spend more compiling than a 1.25× step saves it.
COMPILE_MIN_STEPS = 2000


TF32_NOTE = ("TF32 matmuls: faster, ~3 significant digits per product (SPDER 5×256 lost 15 dB on an H200; "
             "bench/bench_gpu.py shows the cost per case)")


def step_note(config, device: torch.device, plan_note: str) -> str:
    """How the run steps, in words: the fast path's plan and, when it applies, TF32's cost."""
    return f"{plan_note}; {TF32_NOTE}" if config.tf32 and device.type == "cuda" else plan_note


def step_workload(num_points: int, config) -> float:
    """points × width² × depth: how compute-bound a step is (COMPILE_MIN_WORK)."""
    return float(num_points) * config.width**2 * config.depth


def compile_blocker(device: torch.device) -> str:
    """Why torch.compile cannot make this device's step ('' when it can)."""
    if device.type != "cuda":
        return "the compiled step is for CUDA"
    if not hasattr(torch, "compile"):
        return "this PyTorch has no torch.compile"
    try:
        from torch.utils._triton import has_triton
    except ImportError:
        return "this PyTorch cannot tell whether Triton is installed"
    return "" if has_triton() else "Triton (Inductor's CUDA code generator) is not installed"


def fast_path_plan(config, device: torch.device, modifiers: list[str], complex_weights: bool,
                   zero_gpu: bool = False, workload: float = 0.0) -> tuple[str, str]:
    """(mode, reason): mode is 'eager', 'graphs' (CUDA graphs), 'compiled' (torch.compile, CUDA,
    when `workload` = step_workload(...) is compute-bound) or 'static' (the fast path's code without
    graphs, off CUDA). `auto` is the fast path on CUDA and eager elsewhere. The reason starts with
    the mode, so a run's step note says which runs."""
    if config.fast == "off" or (config.fast == "auto" and device.type != "cuda"):
        return "eager", "eager steps" + (" (fast path is for CUDA; --fast on to force it)"
                                          if config.fast == "auto" else "")
    blockers = [reason for present, reason in (
        ("iga" in modifiers, "IGA decomposes the eNTK on the host every step"),
        ("bn" in modifiers, "batch norm"),
        (complex_weights, "WIRE's complex weights"),
        (config.optimizer != "adam", "the fast path implements Adam only"),
    ) if present]
    if blockers:
        return "eager", f"eager steps: no fast path for {', '.join(blockers)}"
    if device.type != "cuda":
        return "static", "static steps: the fast path without graphs (no CUDA): static buffers, device-side schedule"
    graphs = "graphs steps: forward+backward and Adam captured as CUDA graphs"
    if workload < COMPILE_MIN_WORK:
        return "graphs", graphs + (" (ZeroGPU: no torch.compile)" if zero_gpu else "")
    if config.steps < COMPILE_MIN_STEPS:
        return "graphs", f"{graphs} (compute-bound, but {config.steps} steps would not repay compiling)"
    if zero_gpu:
        return "graphs", f"{graphs} (compute-bound, but ZeroGPU forbids torch.compile)"
    blocker = compile_blocker(device)
    if blocker:
        return "graphs", f"{graphs} (compute-bound, but {blocker})"
    return "compiled", (f"compiled steps: forward+backward by torch.compile, fused Adam (compute-bound: points × "
                        f"width² × depth = {workload:.2g} ≥ {COMPILE_MIN_WORK:.0e})")


def schedule_factor(config, step: torch.Tensor | int):
    """lr / lr₀ after `step` scheduler steps, as StepLR / ExponentialLR give it (tensor or number)."""
    if config.lr_schedule == "step":  # WINNER: ×γ every `every` steps
        exponent = step // config.lr_every
        return config.lr_gamma ** exponent
    if config.lr_schedule == "drop":  # IGA Sec. 6.1: ×γ once, after `every` steps
        return config.lr_gamma ** (step >= config.lr_every)  # a bool (or bool tensor) as the exponent 0 / 1
    if config.lr_schedule == "exp":  # IGA App.: to 0.1× over the run
        return 0.1 ** (step / config.steps)
    return step * 0 + 1.0 if isinstance(step, torch.Tensor) else 1.0


def make_scheduler(optimizer: torch.optim.Optimizer, config):
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_every, gamma=config.lr_gamma)
    if config.lr_schedule == "drop":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[config.lr_every], gamma=config.lr_gamma)
    if config.lr_schedule == "exp":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.1 ** (1.0 / config.steps))
    return None


def adam_options(device: torch.device, parameters) -> dict:
    """Adam's implementation for `device`, the same for the eager and the fast step. On CUDA: the
    fused kernel with its step count on the device (`capturable`), which CUDA graphs need. The eager
    step used the default (foreach) kernel, which rounds differently (bias corrections in float64
    on the host), and SPDER 5×256 (1000 steps, H200) ended 2.83 dB apart between the two paths;
    with one implementation both run the same kernels, so the graphs replay the eager arithmetic
    (unmeasured on a GPU: bench/bench_gpu.py checks it and exits non-zero on a breach). Elsewhere
    (CPU; complex weights, which the fused kernel does not take): PyTorch's default."""
    if device.type != "cuda" or any(p.is_complex() for p in parameters):
        return {}
    return {"fused": True, "capturable": True}


def adam_hyperparameters(config) -> dict:
    """Adam's β₂ and ε where the config sets them (a method's defaults: Instant-NGP's grids run β₂ 0.99,
    ε 1e-15, Sec. 4); unset, PyTorch's (0.9, 0.999) and 1e-8."""
    options = {}
    if config.adam_beta2 is not None:
        options["betas"] = (0.9, config.adam_beta2)
    if config.adam_eps is not None:
        options["eps"] = config.adam_eps
    return options


def parameter_groups(model: nn.Module, config) -> list[dict]:
    """The optimiser's parameter groups. With weight decay, every parameter outside the input encoding
    decays and the encoding's do not (Instant-NGP Sec. 4: L2 10⁻⁶ on the MLP's weights, not on the hash
    table entries); without, one group."""
    params = list(model.parameters())
    if not config.weight_decay:
        return [{"params": params}]
    encoding = getattr(model, "encoding", None)
    kept = {id(p) for p in encoding.parameters()} if isinstance(encoding, nn.Module) else set()
    groups = [{"params": [p for p in params if id(p) not in kept], "weight_decay": config.weight_decay},
              {"params": [p for p in params if id(p) in kept], "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def make_optimizer(model: nn.Module, config, lr) -> torch.optim.Optimizer:
    """The run's optimiser at rate `lr` (a number, or the fast step's device tensor), with the config's
    Adam settings and weight decay (`adam_hyperparameters`, `parameter_groups`)."""
    groups, params = parameter_groups(model, config), list(model.parameters())
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr)
    device = params[0].device if params else torch.device("cpu")
    return torch.optim.Adam(groups, lr=lr, **adam_hyperparameters(config), **adam_options(device, params))


def with_penalty(model: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    """The objective trained: the MSE plus the method's own penalty where it has one (INCODE's on its
    (a, b, c, d), `regularisation()`); the loss recorded, and so the PSNR, stay the MSE's."""
    penalty = getattr(model, "regularisation", None)
    return loss if penalty is None else loss + penalty()


class EagerStepper:
    """The plain PyTorch step (and IGA's residual adjustment, IGA Eq. 4)."""

    mode = "eager"

    def __init__(self, model: nn.Module, coords: torch.Tensor, target: torch.Tensor, config, iga=None):
        self.model, self.coords, self.target, self.iga = model, coords, target, iga
        self.optimizer = make_optimizer(model, config, config.lr)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.loss_buffer = torch.zeros(config.steps, device=coords.device, dtype=coords.dtype)

    def forward_backward(self, step: int) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        prediction = self.model(self.coords)
        residual = prediction - self.target
        loss = torch.mean(residual**2)
        if self.iga is not None:
            # IGA Eq. 4: back-propagate S̃ₑ r instead of r. d/dθ of (2/N)·Σ (S̃ₑr)ᵀf equals
            # the MSE gradient (2/N)·Jᵀr with r replaced by S̃ₑr.
            adjusted = self.iga.adjust(self.model, self.coords, residual.detach(), step)
            surrogate = 2.0 / residual.numel() * torch.sum(adjusted * prediction)
            with_penalty(self.model, surrogate).backward()
        else:
            with_penalty(self.model, loss).backward()
        self.loss_buffer[step - 1] = loss.detach()
        return prediction

    def update(self, step: int) -> None:
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def close(self) -> None:
        pass


def capture_step_graphs(parameters: list, zero_grad, forward_backward, update, reset) -> tuple:
    """Capture a step's two halves as CUDA graphs (FastStepper, batched_step.BatchedStepper): warm up
    on a side stream (allocates the optimiser's state and autograd's buffers), capture forward+backward
    and the update into one memory pool, then put `parameters` back and call `reset()` (moments,
    counters), so training starts where an eager run would. Returns (the captured prediction, graphs)."""
    saved = [p.detach().clone() for p in parameters]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            zero_grad()
            forward_backward()
            update()
    torch.cuda.current_stream().wait_stream(side)
    zero_grad()  # backward in the graph allocates the .grad it then overwrites
    forward_graph, update_graph = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph()
    with torch.cuda.graph(forward_graph):
        prediction = forward_backward()
    with torch.cuda.graph(update_graph, pool=forward_graph.pool()):
        update()
    with torch.no_grad():
        for parameter, value in zip(parameters, saved):
            parameter.copy_(value)
        reset()
    return prediction, (forward_graph, update_graph)


class FastStepper:
    """Static-buffer step with Adam on a tensor learning rate; captured as CUDA graphs on CUDA, or
    its forward and backward compiled by torch.compile (`use_compile`)."""

    def __init__(self, model: nn.Module, coords: torch.Tensor, target: torch.Tensor, config, use_graphs: bool,
                 use_compile: bool = False):
        self.model, self.coords, self.target, self.config = model, coords, target, config
        device = coords.device
        self.mode = "graphs" if use_graphs else "compiled" if use_compile else "static"
        # static shapes: one compilation for the whole run (the coordinates never change)
        self._loss = torch.compile(self._prediction_and_loss, dynamic=False) if use_compile else \
            self._prediction_and_loss
        self.base_lr = float(config.lr)
        self.lr_tensor = torch.tensor(self.base_lr, device=device, dtype=coords.dtype)
        self.step_index = torch.zeros((), dtype=torch.long, device=device)  # steps taken so far
        self.loss_buffer = torch.zeros(config.steps, device=device, dtype=coords.dtype)
        self.optimizer = make_optimizer(model, config, self.lr_tensor)
        self.prediction: torch.Tensor | None = None
        self._graphs: tuple | None = None
        if use_graphs:
            self._capture()

    # The two halves as plain functions: run eagerly, recorded once into graphs, or compiled.
    def _prediction_and_loss(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(prediction, MSE, the objective trained: MSE + the method's penalty, `with_penalty`)."""
        prediction = self.model(self.coords)
        loss = torch.mean((prediction - self.target) ** 2)
        return prediction, loss, with_penalty(self.model, loss)

    def _forward_backward(self) -> torch.Tensor:
        prediction, loss, objective = self._loss()
        objective.backward()
        self.loss_buffer.index_copy_(0, self.step_index.view(1), loss.detach().view(1))
        return prediction

    def _update(self) -> None:
        self.optimizer.step()
        self.step_index.add_(1)
        # The schedule on the device, from the step counter: no host value, no re-capture.
        self.lr_tensor.copy_(self.base_lr * schedule_factor(self.config, self.step_index.double()))

    def _capture(self) -> None:
        """Captured as graphs, then parameters and Adam's state restored: the run starts as an eager one."""
        def reset() -> None:
            for state in self.optimizer.state.values():
                for value in state.values():
                    if isinstance(value, torch.Tensor):
                        value.zero_()
            self.step_index.zero_()
            self.lr_tensor.fill_(self.base_lr)
            self.loss_buffer.zero_()

        self.prediction, self._graphs = capture_step_graphs(
            list(self.model.parameters()), lambda: self.optimizer.zero_grad(set_to_none=True),
            self._forward_backward, self._update, reset)

    def forward_backward(self, step: int) -> torch.Tensor:
        if self._graphs is not None:
            self._graphs[0].replay()
            return self.prediction
        self.optimizer.zero_grad(set_to_none=True)
        return self._forward_backward()

    def update(self, step: int) -> None:
        if self._graphs is not None:
            self._graphs[1].replay()
        else:
            self._update()

    @property
    def lr(self) -> float:
        return float(self.lr_tensor)

    def close(self) -> None:
        self._graphs = None
        self.prediction = None


def make_stepper(model: nn.Module, coords: torch.Tensor, target: torch.Tensor, config, mode: str, iga=None):
    if mode == "eager":
        return EagerStepper(model, coords, target, config, iga)
    return FastStepper(model, coords, target, config, use_graphs=mode == "graphs", use_compile=mode == "compiled")


@contextmanager
def matmul_precision(tf32: bool, device: torch.device):
    """TF32 matmuls for the duration of a run (CUDA only; opt-in: ~3 decimal digits per product).

    The switch is process-wide in PyTorch, so it is set for the run and restored after it."""
    if not (tf32 and device.type == "cuda"):
        yield
        return
    previous = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def zero_gpu() -> bool:
    """Running on a Hugging Face ZeroGPU Space (the `spaces` package sets this up)."""
    import os

    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


__all__ = ["FAST_MODES", "STEP_MODES", "COMPILE_MIN_WORK", "COMPILE_MIN_STEPS", "TF32_NOTE", "adam_options", "capture_step_graphs", "compile_blocker",
           "adam_hyperparameters", "parameter_groups", "make_optimizer", "with_penalty",
           "capture_step_graphs", "fast_path_plan", "step_note", "step_workload", "schedule_factor", "make_scheduler", "make_stepper",
           "EagerStepper", "FastStepper", "matmul_precision", "zero_gpu"]
