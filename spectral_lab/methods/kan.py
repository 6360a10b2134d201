"""A learnable first layer in the style of Kolmogorov–Arnold networks, as an input encoding.

FKAN (Mehrabian et al., Implicit Neural Representations with Fourier Kolmogorov-Arnold Networks,
ICASSP 2025, Eq. 4): every output j sums a learned Fourier series of every input coordinate,
y_j = Σᵢ Σ_{k=1..K} (a_ijk cos(kπxᵢ) + b_ijk sin(kπxᵢ)) + c_j, so the first layer's activation is
itself trained. Coefficients start N(0, 1/(d·K)) as the FourierKAN reference layer (variance
shared over the d·K terms of a sum). The frequency kπ on [-1, 1] puts k/2 cycles across the signal.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal
from .network import CoordinateMLP
from .registry import MethodSpec, knob_default, register


class FourierKANLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, terms: int):
        super().__init__()
        self.in_dim, self.terms, self.out_dim = in_dim, int(terms), out_dim
        scale = 1.0 / math.sqrt(in_dim * self.terms)
        self.cos_coefficients = nn.Parameter(torch.randn(out_dim, in_dim, self.terms) * scale)
        self.sin_coefficients = nn.Parameter(torch.randn(out_dim, in_dim, self.terms) * scale)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.register_buffer("frequencies", math.pi * torch.arange(1, self.terms + 1, dtype=torch.float32),
                             persistent=False)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        angles = coords[..., None] * self.frequencies.to(coords.dtype)  # (N, d) -> (N, d, K)
        return (torch.einsum("ndk,odk->no", torch.cos(angles), self.cos_coefficients)
                + torch.einsum("ndk,odk->no", torch.sin(angles), self.sin_coefficients) + self.bias)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, terms={self.terms}"


def kan_terms(signal: Signal) -> int:
    # FKAN: K terms reach K cycles across the signal; a quarter of its Nyquist rate, 4 to 256 terms
    return int(max(4, min(256, min(signal.grid) // 8)))


knob_default("kan_terms", kan_terms)


def build_fkan(cfg: RunConfig, signal: Signal) -> nn.Module:
    encoding = FourierKANLayer(signal.in_dim, cfg.width, cfg.kan_terms)
    return CoordinateMLP(signal.in_dim, signal.channels, cfg.width, cfg.depth, lambda i: nn.ReLU(), encoding)


register(MethodSpec(
    "fkan", build_fkan, "FKAN: a learned Fourier-series first layer (KAN-style), then a ReLU MLP.",
    "Mehrabian et al., Implicit Neural Representations with Fourier Kolmogorov-Arnold Networks, ICASSP 2025",
    "first layer Σᵢ Σₖ aᵢₖ cos(kπxᵢ) + bᵢₖ sin(kπxᵢ) per output (Eq. 4), coefficients N(0, 1/(d·K)); then "
    "ReLU layers with PyTorch's init", lambda s: {"lr": 1e-3, "kan_terms": kan_terms(s)}, ("kan_terms",),
    family="learnable activations"))
