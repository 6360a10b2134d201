"""What one visitor may ask of a shared server: caps, and the check against them."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

from ..config import RunConfig
from ..errors import ConfigError
from ..signals import Signal
from ..tasks import check_task
from .variants import check_variant, variant_config


@dataclass(frozen=True)
class AppLimits:
    """Caps so one visitor cannot starve the rest. Override with SPECTRAL_LAB_<NAME> env vars."""

    max_steps: int = 5000  # training steps per method
    max_points: int = 300_000  # samples or pixels of a signal
    max_methods: int = 6  # methods per comparison
    max_width: int = 512
    max_depth: int = 8
    max_ntk_points: int = 4096  # dense eNTK up to here on CPU (4.2 s at 4096, 4×256)
    max_upload_mb: float = 20.0

    @classmethod
    def from_env(cls, device_type: str = "cpu") -> "AppLimits":
        """Environment overrides on top of the device's defaults (a GPU affords more: paper-scale
        signals such as WINNER's 150,000 audio samples at 4×222 in about 30 s)."""
        base = (cls(max_steps=20_000, max_points=600_000, max_ntk_points=16384) if device_type == "cuda"
                else cls())  # 16k points: the top eigenpairs, matrix-free
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"SPECTRAL_LAB_{f.name.upper()}")
            if raw:
                values[f.name] = type(f.default)(float(raw))
        return cls(**{**{f.name: getattr(base, f.name) for f in fields(cls)}, **values})


def check_limits(config: RunConfig, methods: list[str], limits: AppLimits, signal: Signal | None = None) -> None:
    """Raise ConfigError with a message a visitor can act on."""
    if not methods:
        raise ConfigError("pick at least one method")
    for method in methods:
        check_variant(method)  # unknown architectures, modifiers or a variant's settings -> ConfigError
    if len(methods) > limits.max_methods:
        raise ConfigError(f"at most {limits.max_methods} methods per comparison (got {len(methods)})")
    if len(set(methods)) != len(methods):
        raise ConfigError("a method is listed twice")
    for name, value, cap in (("steps", config.steps, limits.max_steps), ("width", config.width, limits.max_width),
                             ("depth", config.depth, limits.max_depth),
                             ("NTK points", config.ntk_points, limits.max_ntk_points)):
        if value > cap:
            raise ConfigError(f"{name} = {value} is above this server's limit of {cap}")
    if signal is not None and signal.values.size > limits.max_points:
        raise ConfigError(f"the signal has {signal.values.size:,} values; this server's limit is "
                          f"{limits.max_points:,} (shorten the audio with 'length' or set an image size)")
    for method in methods if signal is not None else ():  # a task's settings (keep 0, …): one line, before any work
        check_task(variant_config(config, method), signal)
    if signal is not None:  # the methods train side by side: together they must fit (each run checks itself too)
        from ..memory import check_comparison_memory
        from ..train import pick_device

        check_comparison_memory([variant_config(config, m) for m in methods], signal, pick_device(config.device))
