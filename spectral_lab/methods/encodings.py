"""ReLU MLPs and the input encodings that fight their spectral bias: none (plain ReLU), NeRF's
positional encoding, random Fourier features. Encodings are fixed (non-trainable) buffers mapping
(N, d) coordinates to (N, d_enc) features.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal
from .network import mlp
from .registry import MethodSpec, knob_default, register


class PositionalEncoding(nn.Module):
    """NeRF positional encoding [x, sin(2^j π x), cos(2^j π x)] for j < L, per axis."""

    def __init__(self, in_dim: int, levels: int, include_input: bool = True):
        super().__init__()
        self.in_dim, self.levels, self.include_input = in_dim, int(levels), include_input
        self.register_buffer("freqs", (2.0 ** torch.arange(self.levels)) * math.pi)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (2 * self.levels + int(self.include_input))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[..., None] * self.freqs).flatten(-2)  # (N, d, L) -> (N, d·L)
        parts = [torch.sin(angles), torch.cos(angles)]
        return torch.cat(([x] if self.include_input else []) + parts, dim=-1)


class RandomFourierFeatures(nn.Module):
    """Tancik et al. 2020: [cos(2π Bx), sin(2π Bx)], B ~ N(0, σ²) of shape (m, d), fixed."""

    def __init__(self, in_dim: int, num_features: int, sigma: float, generator: torch.Generator | None = None):
        super().__init__()
        self.sigma = float(sigma)
        self.register_buffer("B", torch.randn(num_features, in_dim, generator=generator) * self.sigma)

    @property
    def out_dim(self) -> int:
        return 2 * self.B.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * x @ self.B.T  # (N, m)
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def nyquist_pe_levels(grid: tuple[int, ...]) -> int:
    """DESIGN: L = floor(log2(samples / 4)) from the smallest axis, at least 1."""
    return max(1, int(math.floor(math.log2(max(min(grid), 8) / 4))))


def rff_sigma(signal: Signal) -> float:
    # σ in cycles per unit of the [-1, 1] coordinate. Images: Tancik's σ = 10 on [0, 1] coords is
    # 5 per unit here; 1D: a tenth of the Nyquist rate (L/4 cycles per unit).
    return 5.0 if signal.kind == "image" else signal.num_points / 40.0


knob_default("pe_levels", lambda signal: nyquist_pe_levels(signal.grid))
knob_default("rff_sigma", rff_sigma)


def build_relu(cfg: RunConfig, signal: Signal) -> nn.Module:
    return mlp(cfg, signal, lambda i: nn.ReLU())


def build_relu_pe(cfg: RunConfig, signal: Signal) -> nn.Module:
    return mlp(cfg, signal, lambda i: nn.ReLU(), PositionalEncoding(signal.in_dim, cfg.pe_levels))


def build_relu_rff(cfg: RunConfig, signal: Signal) -> nn.Module:
    return mlp(cfg, signal, lambda i: nn.ReLU(), RandomFourierFeatures(signal.in_dim, cfg.rff_features, cfg.rff_sigma))


register(MethodSpec(
    "relu", build_relu, "Plain ReLU MLP: the textbook case of spectral bias.",
    "Rahaman et al., On the Spectral Bias of Neural Networks, ICML 2019",
    "PyTorch default (Kaiming-uniform) init", lambda s: {"lr": 1e-3}, family="encodings"))
register(MethodSpec(
    "relu_pe", build_relu_pe, "ReLU on NeRF positional encoding [x, sin(2^j πx), cos(2^j πx)], j < L.",
    "Mildenhall et al., NeRF, ECCV 2020", "PyTorch default init; fixed encoding",
    lambda s: {"lr": 1e-3, "pe_levels": nyquist_pe_levels(s.grid)}, ("pe_levels",), family="encodings"))
register(MethodSpec(
    "relu_rff", build_relu_rff, "ReLU on random Fourier features [cos 2πBx, sin 2πBx], B ~ N(0, σ²).",
    "Tancik et al., Fourier Features Let Networks Learn High Frequency Functions, NeurIPS 2020",
    "PyTorch default init; fixed Gaussian B", lambda s: {"lr": 1e-3, "rff_sigma": rff_sigma(s)},
    ("rff_sigma", "rff_features"), family="encodings"))
