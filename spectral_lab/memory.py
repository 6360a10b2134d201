"""Memory: what a run (or a batch of runs) needs, what the device has, and the check that refuses
or splits before anything trains.

A run's memory is dominated by the activations autograd keeps for the backward pass (points ×
width × depth × a few tensors per layer), then the parameters with their gradient, Adam's two
moments and the best-parameter copy, the data, and the eNTK when a diagnostic or IGA computes
one. The activations are not guessed per method: `saved_bytes_per_point` runs the model on a
handful of points under `torch.autograd.graph.saved_tensors_hooks` (the hook PyTorch documents
for "where do my activations go") and counts the bytes autograd saves, at two point counts, so
the slope is exactly what each extra point costs for this architecture (encodings, grids, KAN and
plug-ins included). The check runs in the engine (Run's constructor), so the CLI, sweeps and the
app's lab all refuse an impossible run with the same message, before any output is written:

    siren 16×4096 on camera (image, 2048×2048, 4,194,304 points) needs ~2.3 TB (activations 2.3 TB,
    parameters and Adam 5.0 GB, data 84 MB), this machine has 22 GB free (MemAvailable in
    /proc/meminfo): lower the width, depth or signal size

What is free: on CUDA `torch.cuda.mem_get_info` plus what PyTorch's caching allocator holds but
does not use; on a CPU `MemAvailable` from /proc/meminfo (os.sysconf where there is none), capped
by a cgroup's limit (containers: v2 memory.max, v1 memory.limit_in_bytes). Set
SPECTRAL_LAB_SKIP_MEMORY_CHECK=1 to train anyway (swap, or an estimate you know is too high).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import ConfigError

HEADROOM = 0.9  # use at most this share of what is free: the allocator fragments, other processes move
PROBE_POINTS = (8, 16)  # two point counts: bytes(16) − bytes(8) is what 8 more points cost
GRADIENT_COPIES = 2  # backward holds about two activation-sized gradients at once beside the saved ones
NTK_JACOBIAN_BUDGET = 512e6  # ntk._torch_func_ntk keeps Jacobian chunks up to this many bytes


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one run needs, by what holds them (each run of a batch needs its own)."""

    activations: int  # saved for backward over every point, plus the backward's gradients
    parameters: int  # parameters, gradients, optimiser moments, the best-parameter copy
    data: int  # coordinates, targets, prediction, loss buffer
    ntk: int  # eNTK diagnostics or IGA's kernel (0 when neither runs)

    @property
    def total(self) -> int:
        return self.activations + self.parameters + self.data + self.ntk

    def breakdown(self) -> str:
        parts = (("activations", self.activations), ("parameters and Adam", self.parameters),
                 ("data", self.data), ("eNTK", self.ntk))
        return ", ".join(f"{name} {format_bytes(size)}" for name, size in parts if size)


def format_bytes(size: float) -> str:
    """1.2 TB, 69 GB, 512 MB, 20 kB (decimal units, as `free -h --si` and GPU spec sheets)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(size)} B"


# ----------------------------------------------------------------------------------------------
# What a run needs
# ----------------------------------------------------------------------------------------------
def saved_bytes_per_point(model: nn.Module, coords: torch.Tensor) -> tuple[float, float, int]:
    """(bytes autograd saves per point, the largest single saved tensor's bytes per point, the bytes
    saved once whatever the points), from forward passes on PROBE_POINTS points of `coords`. A tensor
    saved at the same size at both point counts is per step, not per point (INCODE's CNN on the whole
    image: counted per point, its 16 MB conv output read as 1 MB a point, 550 GB at 512²). Parameters'
    own storage is not counted (it is saved by reference). Buffers are restored afterwards (batch norm
    updates its statistics)."""
    own = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    stride = max(1, coords.shape[0] // PROBE_POINTS[-1])
    sizes: list[Counter] = []
    try:
        for count in PROBE_POINTS:
            seen: dict[int, int] = {}

            def pack(tensor: torch.Tensor) -> torch.Tensor:
                storage = tensor.untyped_storage()
                if storage.data_ptr() not in own:
                    seen[storage.data_ptr()] = storage.nbytes()
                # detached: a saved *output* (ReLU's, SPDER's) kept with its grad_fn would own the node
                # that owns it, a cycle gc cannot break when no backward runs (pytorch/pytorch#115255):
                # the whole probe graph leaked, 75-200 kB a run (bench/bench_soak.py)
                return tensor.detach()

            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                model(coords[::stride][:count].clone())  # its own storage: a view would count all of coords
            sizes.append(Counter(seen.values()))
    finally:
        with torch.no_grad():
            for name, value in buffers.items():
                model.get_buffer(name).copy_(value)
    span = PROBE_POINTS[1] - PROBE_POINTS[0]
    constant = sizes[0] & sizes[1]  # saved at the same size at both counts: once a step
    scaling = sizes[1] - constant
    per_point = (sum(sizes[1].elements()) - sum(sizes[0].elements())) / span
    largest = max(scaling, default=0) / PROBE_POINTS[1]
    return max(0.0, per_point), largest, sum(constant.elements())


def estimate_run(model: nn.Module, config, num_points: int, coords: torch.Tensor, channels: int,
                 kernel_points: int = 0) -> MemoryEstimate:
    """What one run of `model` (built on the CPU) needs on its device; `kernel_points`: the eNTK's
    points (ntk_points, or IGA's groups), 0 when no kernel is computed."""
    per_point, largest, once = saved_bytes_per_point(model, coords)
    element = coords.element_size()
    activations = num_points * (per_point + GRADIENT_COPIES * largest) + once * (1 + GRADIENT_COPIES)
    trainable = [p for p in model.parameters() if p.requires_grad]
    weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    moments = 2 if config.optimizer == "adam" else 0
    parameters = weights * 2 + sum(p.numel() * p.element_size() for p in trainable) * (1 + moments)
    data = num_points * element * (coords.shape[1] + 3 * channels) + config.steps * element
    ntk = 0
    if kernel_points:
        count = sum(p.numel() * (2 if p.is_complex() else 1) for p in trainable)
        ntk = 3 * 8 * kernel_points**2 + min(kernel_points * count * 8, NTK_JACOBIAN_BUDGET) + 2 * weights
    return MemoryEstimate(int(activations), int(parameters), int(data), int(ntk))


# ----------------------------------------------------------------------------------------------
# What the device has
# ----------------------------------------------------------------------------------------------
def available_memory(device: torch.device) -> tuple[int, str]:
    """(bytes free for a new run on `device`, where the number comes from)."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached), f"{torch.cuda.get_device_name(device)}, {format_bytes(total)} in all"
    return _host_available()


def _host_available() -> tuple[int, str]:
    free, source = None, "MemAvailable in /proc/meminfo"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    if free is None:
        try:
            free, source = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "os.sysconf"
        except (ValueError, OSError, AttributeError):
            return 2**62, "unknown (no /proc/meminfo or sysconf)"
    limit = _cgroup_room()
    if limit is not None and limit < free:
        free, source = limit, "this container's memory limit"
    return int(free), source


def _cgroup_room() -> int | None:
    """Bytes left under a cgroup memory limit (v2, else v1), or None when there is no limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text().strip()
        except OSError:
            continue
        if limit == "max" or int(limit) >= 2**60:  # v1 writes "no limit" as a huge number
            return None
        return max(0, int(limit) - int(usage))
    return None


# ----------------------------------------------------------------------------------------------
# The checks
# ----------------------------------------------------------------------------------------------
def check_disabled() -> bool:
    return os.environ.get("SPECTRAL_LAB_SKIP_MEMORY_CHECK", "").lower() in ("1", "true", "yes")


def check_fits(needed: int, device: torch.device, label: str, breakdown: str = "") -> None:
    """ConfigError naming the run and the numbers when `needed` bytes do not fit on `device`."""
    if check_disabled():
        return
    free, source = available_memory(device)
    if needed <= HEADROOM * free:
        return
    where = "this GPU" if device.type == "cuda" else "this machine"
    detail = f" ({breakdown})" if breakdown else ""
    raise ConfigError(f"{label} needs ~{format_bytes(needed)}{detail}, {where} has {format_bytes(free)} free "
                      f"({source}): lower the width, depth or signal size")


def runs_per_batch(per_run: int, device: torch.device, wanted: int) -> int:
    """How many runs of `per_run` bytes fit together on `device` (at least 1: one run that does not
    fit alone was refused when it was built)."""
    if check_disabled() or per_run <= 0:
        return wanted
    free, _ = available_memory(device)
    return max(1, min(wanted, int(HEADROOM * free // per_run)))


def is_out_of_memory(exc: BaseException) -> bool:
    """A failed allocation, as PyTorch reports it on CUDA (torch.OutOfMemoryError) or a CPU."""
    text = str(exc).lower()
    return (isinstance(exc, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError)))
            or "out of memory" in text or "can't allocate memory" in text)


def out_of_memory_message(exc: BaseException, label: str = "the run") -> str:
    """One line for an allocation that failed during training (the estimate let it start)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"out of memory during {label}: {first[:200]}; lower the width, depth or signal size"


def check_run_memory(model: nn.Module, config, signal, device: torch.device, iga=None) -> MemoryEstimate:
    """The estimate for one run of `model` (still on the CPU) on `signal`; a ConfigError before any
    training when it does not fit on `device`."""
    coords = torch.from_numpy(signal.coords)
    kernel_points = min(config.ntk_points, signal.num_points) if config.ntk_every else 0
    if iga is not None:
        kernel_points = max(kernel_points, iga.groups.shape[0])
    estimate = estimate_run(model, config, signal.num_points, coords, signal.channels, kernel_points)
    label = f"{config.method} {config.depth}×{config.width} on {signal.name} ({signal.kind}, " \
            f"{'×'.join(map(str, signal.grid))}, {signal.num_points:,} points)"
    check_fits(estimate.total, device, label, estimate.breakdown())
    return estimate


def check_comparison_memory(configs: list, signal, device: torch.device) -> None:
    """Runs that train side by side (the lab's comparison: every method's run is alive until the
    last ends) must fit together. A config that does not build is left out: it fails later with
    its own message, and the others still train."""
    from .errors import SpectralLabError
    from .methods import build_model, resolve

    coords, total, parts = torch.from_numpy(signal.coords), 0, []
    for config in configs:
        try:
            resolved = resolve(config, signal)
            model = build_model(resolved, signal)
        except (SpectralLabError, RuntimeError, MemoryError):
            continue
        kernel_points = min(resolved.ntk_points, signal.num_points) if resolved.ntk_every else 0
        size = estimate_run(model, resolved, signal.num_points, coords, signal.channels, kernel_points).total
        total += size
        parts.append(f"{config.method} {format_bytes(size)}")
    if len(parts) > 1:
        check_fits(total, device, f"these {len(parts)} methods together on {signal.name} "
                                  f"({signal.num_points:,} points)", ", ".join(parts))
