"""Saved models: write a trained network with everything needed to query it again, and render it
on a denser grid (super-resolution for images, a higher sample rate for audio), as SIREN and
SPDER show that a coordinate MLP is a continuous signal.

    save_model(run, "runs/fit/model.pt")
    model = load_model("runs/fit/model.pt")
    image = model.render(scale=2)          # (2H, 2W[, 3]) in [0, 1]; audio: waveform at 2× the rate
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .errors import ConfigError, SignalError

FORMAT = "spectral-lab-model/1"


@dataclass
class SignalShape:
    """What a builder needs of a signal (no samples): grid, channels, kind, and the way back to
    the original units."""

    grid: tuple[int, ...]
    channels: int
    kind: str
    name: str
    sample_rate: int | None = None
    scale: float = 1.0
    offset: float = 0.0

    @property
    def in_dim(self) -> int:
        return len(self.grid)

    @property
    def num_points(self) -> int:
        return int(np.prod(self.grid))


def save_model(run, path: str | os.PathLike) -> Path:
    """State dict + resolved config + signal shape, one file (torch.save)."""
    signal = run.signal
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "config": run.config.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
                "signal": {"grid": list(signal.grid), "channels": signal.channels, "kind": signal.kind,
                           "name": signal.name, "sample_rate": signal.sample_rate, "scale": float(signal.scale),
                           "offset": float(signal.offset)}}, path)
    return path


@dataclass
class SavedModel:
    config: RunConfig
    shape: SignalShape
    model: torch.nn.Module

    def coordinates(self, scale: float) -> tuple[np.ndarray, tuple[int, ...]]:
        """Coordinates of a grid `scale` times denser, aligned with the training samples.

        Training put sample i of n at x_i = −1 + 2i/(n − 1). Audio: new samples at times j/scale
        (in old sample units), so every old sample is one of them. Images: pixel centres of an
        image `scale` times larger, (j + ½)/scale − ½ in old pixel units, as an image resize
        places them (the outermost new pixels lie a quarter pixel outside the old grid)."""
        if not 1 <= scale <= 16:
            raise ConfigError(f"scale must be between 1 and 16, got {scale}")
        axes, grid = [], []
        for n in self.shape.grid:
            m = int(round(n * scale))
            j = np.arange(m, dtype=np.float64)
            position = j / scale if self.shape.kind != "image" else (j + 0.5) / scale - 0.5
            axes.append(-1.0 + 2.0 * position / max(n - 1, 1))
            grid.append(m)
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=-1).astype(np.float32), tuple(grid)

    @torch.no_grad()
    def predict(self, coords: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Network output (N, C) in the signal's [-1, 1] units at arbitrary coordinates."""
        device = next(self.model.parameters()).device
        out = [self.model(torch.from_numpy(coords[i:i + batch]).to(device)).cpu().numpy()
               for i in range(0, coords.shape[0], batch)]
        return np.concatenate(out)

    def render(self, scale: float = 2.0) -> np.ndarray:
        """The signal on a `scale`× denser grid, in original units: (H', W'[, 3]) image in [0, 1],
        or (L',) waveform (sample rate × scale)."""
        coords, grid = self.coordinates(scale)
        values = self.predict(coords).reshape(*grid, self.shape.channels)
        values = values[..., 0] if self.shape.channels == 1 else values
        out = values.astype(np.float64) * self.shape.scale + self.shape.offset
        return np.clip(out, 0.0, 1.0) if self.shape.kind == "image" else out


def from_run(run) -> SavedModel:
    """A finished Run as a SavedModel (render it on a denser grid without writing a file)."""
    signal = run.signal
    shape = SignalShape(tuple(signal.grid), signal.channels, signal.kind, signal.name, signal.sample_rate,
                        float(signal.scale), float(signal.offset))
    return SavedModel(run.config, shape, run.model.eval())


def load_model(path: str | os.PathLike, device: str = "cpu") -> SavedModel:
    """Rebuild a saved network (no signal file needed) and load its weights."""
    from .methods import build_model

    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise SignalError(f"model file not found: {path}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SignalError(f"{path.name}: not a readable model file (damaged, or not written by `fit`)") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise SignalError(f"{path.name}: not a Spectral Lab model (written by `fit`)")
    config = RunConfig.from_dict(saved["config"])
    info = saved["signal"]
    shape = SignalShape(tuple(info["grid"]), int(info["channels"]), info["kind"], info["name"], info["sample_rate"],
                        float(info["scale"]), float(info["offset"]))
    model = build_model(config, shape)
    model.load_state_dict(saved["state_dict"])
    return SavedModel(config, shape, model.to(device).eval())
