"""Hugging Face Spaces: train on a ZeroGPU slice when the app runs on one; elsewhere, unchanged.

On ZeroGPU a GPU exists only inside functions decorated with `spaces.GPU`, which run in a
separate process: the training stream is wrapped whole (it yields host data only, `lab.stream.Update`
with numpy arrays, so nothing on the GPU crosses the boundary) and asks for a duration
estimated from the configured steps. ZeroGPU does not support `torch.compile`; the fast path
(stepper.py) uses plain CUDA graphs, so it runs there too. On a CPU Space, a dedicated GPU
Space or a workstation the stream runs in-process and `spaces` (if installed) is not used.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

from .lab.stream import Update, train_stream
from .tuning import search_steps

MIN_SECONDS, MAX_SECONDS = 30, 300  # ZeroGPU's accepted range for one call


def zero_gpu_active() -> bool:
    """True only on a ZeroGPU Space (the `spaces` package reads the Space's configuration)."""
    try:
        import spaces.config
    except ImportError:
        return False
    return bool(getattr(spaces.config.Config, "zero_gpu", False))


def estimate_seconds(config, methods: list[str], signal, tune: bool = False) -> int:
    """GPU seconds to ask for: per step ~1.5 ms plus ~4 ns per sample·width² per layer (SIREN
    5×256 on 256² is ~3 ms/step on an H100; WINNER's 150k-sample 4×222 ~6 ms), diagnostics and
    start-up on top; clipped to ZeroGPU's range. Unmeasured on ZeroGPU itself (A100 slices)."""
    width, depth = config.width, config.depth
    per_step = 1.5e-3 + 4e-9 * signal.num_points * width * width * depth / 256
    trials = 9  # a tuned run adds a search of ~9 rates (tuning.py: short trials, then finalists at full length)
    steps = config.steps + (search_steps(config.steps, trials) if tune else 0)
    seconds = len(methods) * (steps * per_step * 1.3 + 5) + 10
    return int(min(MAX_SECONDS, max(MIN_SECONDS, math.ceil(seconds))))


def gpu_stream() -> Callable[..., Iterator[Update]]:
    """The training stream LiveComparison should use: plain `train_stream`, or on ZeroGPU a
    `spaces.GPU`-wrapped one. The GPU process cannot see the app's Stop flag; closing the stream
    (which the wrapper does when Stop is pressed) ends the call and frees the GPU."""
    if not zero_gpu_active():
        return train_stream
    import spaces

    @spaces.GPU(duration=lambda config, methods, signal, tune: estimate_seconds(config, methods, signal, tune))
    def on_gpu(config, methods, signal, tune):
        yield from train_stream(config, methods, signal, tune=tune)

    def stream(config, methods, signal, should_stop=lambda: False, tune: bool = False) -> Iterator[Update]:
        remote = on_gpu(config, methods, signal, tune)
        try:
            for update in remote:
                yield update
                if should_stop():
                    break
        finally:
            remote.close()

    return stream
