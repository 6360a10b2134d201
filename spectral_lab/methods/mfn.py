"""Multiplicative filter networks (Fathony et al., Multiplicative Filter Networks, ICLR 2021).

No activation between layers: each layer multiplies a linear map of the previous features by a
filter of the *input*, z₁ = g₁(x), z_{l+1} = (W_l z_l + b_l) ⊙ g_{l+1}(x), f(x) = W_out z_L + b_out
(Eq. 1–2). Products of sinusoids are sinusoids at summed frequencies, so the network is a linear
combination of sinusoids (FourierNet) or of Gabor atoms (GaborNet) whose frequencies the filters
set. Init as the paper's reference code (boschresearch/multiplicative-filter-networks): filter
weights scaled by input_scale/√(L+1), filter bias U(±π), linear weights U(±√(1/width)); Gabor
centres μ ~ U(−1, 1), scales γ ~ Gamma(α/(L+1), 1) with α = 6, frequencies ×√γ.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig
from ..errors import ConfigError
from ..signals import Signal
from .registry import MethodSpec, knob_default, register


class FourierFilter(nn.Module):
    """g(x) = sin(Ωx + φ): `width` sinusoids of the input (MFN Eq. 3)."""

    def __init__(self, in_dim: int, width: int, scale: float):
        super().__init__()
        self.linear = nn.Linear(in_dim, width)
        with torch.no_grad():
            self.linear.weight.mul_(scale)
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.linear(x))


class BandlimitedFourierFilter(nn.Module):
    """BACON's filter (Lindell et al., BACON: Band-limited Coordinate Networks, CVPR 2022, Sec. 3.2):
    sin(Ωx + φ) with each frequency drawn uniformly from the integer grid kπ, |k| ≤ limit_d per input
    dimension d, and frozen (only φ trains). kπ on [-1, 1] is k cycles across the signal, so the
    network is periodic over the signal and its spectrum is bounded by the filters' summed limits."""

    def __init__(self, in_dim: int, width: int, limits: list[int]):
        super().__init__()
        self.linear = nn.Linear(in_dim, width)
        with torch.no_grad():
            for d, limit in enumerate(limits):  # (width,) integer multiples of π per dimension
                self.linear.weight[:, d] = math.pi * torch.randint(-limit, limit + 1, (width,)).float()
            self.linear.bias.uniform_(-math.pi, math.pi)
        self.linear.weight.requires_grad_(False)  # the band limit holds through training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.linear(x))


class GaborFilter(nn.Module):
    """g(x) = exp(−γ/2·‖x − μ‖²)·sin(Ωx + φ): `width` Gabor atoms of the input (MFN Eq. 5)."""

    def __init__(self, in_dim: int, width: int, scale: float, alpha: float):
        super().__init__()
        self.linear = nn.Linear(in_dim, width)
        self.centres = nn.Parameter(2 * torch.rand(width, in_dim) - 1)
        self.gamma = nn.Parameter(torch.distributions.Gamma(alpha, 1.0).sample((width,)))
        with torch.no_grad():
            self.linear.weight.mul_(scale * self.gamma.sqrt()[:, None])
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ‖x − μ‖² for every point and atom: (N, 1, d) − (1, W, d) -> (N, W)
        distance = (x[:, None, :] - self.centres[None]).square().sum(-1)
        return torch.exp(-0.5 * self.gamma * distance) * torch.sin(self.linear(x))


class MultiplicativeFilterNetwork(nn.Module):
    """`depth` multiplicative layers of `width` features; filter "fourier" or "gabor"."""

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, filter_kind: str = "fourier",
                 input_scale: float = 128.0, alpha: float = 6.0, band: tuple[int, ...] | None = None):
        """`band` (samples per input dimension): BACON's band-limited Fourier filters, each up to
        1/(depth+1) of the signal's Nyquist rate per dimension, so the output stays within it."""
        super().__init__()
        per_filter = input_scale / math.sqrt(depth + 1)  # the filters' frequencies add up over the layers
        if band is not None:
            if filter_kind != "fourier":
                raise ValueError("the band limit (BACON) is for Fourier filters")
            # BACON modules.py: per filter round(π·N/(L+1) / q)·q on [-.5, .5] with q = 2π, i.e. at most
            # N/(2(L+1)) cycles per filter, N/2 (Nyquist) summed over the L+1 filters
            limits = [max(1, round(n / (2 * (depth + 1)))) for n in band]
            self.filters = nn.ModuleList(BandlimitedFourierFilter(in_dim, width, limits) for _ in range(depth + 1))
        elif filter_kind == "fourier":
            self.filters = nn.ModuleList(FourierFilter(in_dim, width, per_filter) for _ in range(depth + 1))
        elif filter_kind == "gabor":
            self.filters = nn.ModuleList(GaborFilter(in_dim, width, per_filter, alpha / (depth + 1))
                                         for _ in range(depth + 1))
        else:
            raise ValueError("filter_kind must be 'fourier' or 'gabor'")
        self.linears = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.head = nn.Linear(width, out_dim)
        bound = math.sqrt((6.0 if band is not None else 1.0) / width)  # BACON's mfn_weights_init: U(±√(6/n))
        with torch.no_grad():
            for linear in list(self.linears) + [self.head]:
                linear.weight.uniform_(-bound, bound)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        features = self.filters[0](coords)
        for linear, filter_ in zip(self.linears, self.filters[1:]):
            features = linear(features) * filter_(coords)
        return self.head(features)


# ----------------------------------------------------------------------------------------------
# Registry entries: FourierNet, GaborNet, BACON (FourierNet with mfn_bandlimit)
# ----------------------------------------------------------------------------------------------
def mfn_scale(signal: Signal) -> float:
    # MFN's reference scales image filters by 256 on a [-1, 1] grid of ≥ 256 pixels (a quarter of the
    # Nyquist band per filter for 4 filters); here the same share of each signal's own Nyquist band.
    return math.pi * min(signal.grid) / 4


def _mfn_defaults(signal: Signal) -> dict:
    return {"lr": 1e-3 if signal.kind == "image" else 3e-4, "mfn_scale": mfn_scale(signal)}


knob_default("mfn_scale", mfn_scale)


def _build_mfn(kind: str):
    def build(cfg: RunConfig, signal: Signal) -> nn.Module:
        band = tuple(signal.grid) if cfg.mfn_bandlimit and kind == "fourier" else None
        if cfg.mfn_bandlimit and kind != "fourier":
            raise ConfigError("mfn_bandlimit (BACON) is for mfn_fourier; mfn_gabor's atoms are not band-limited")
        return MultiplicativeFilterNetwork(signal.in_dim, signal.channels, cfg.width, cfg.depth, kind, cfg.mfn_scale,
                                           band=band)
    return build


FILTERS = "multiplicative filters"
register(MethodSpec(
    "mfn_fourier", _build_mfn("fourier"),
    "FourierNet: no activations; each layer multiplies (Wz+b) by sinusoids of the input.",
    "Fathony et al., Multiplicative Filter Networks, ICLR 2021", "filters sin(Ωx+φ), Ω scaled by mfn_scale/√(depth+1), "
    "φ ~ U(±π); linears U(±√(1/width)) (the reference code); depth = multiplicative layers (depth+1 filters). "
    "mfn_bandlimit: BACON (Lindell et al., CVPR 2022; modules.py FourierLayer): frequencies kπ, |k| ≤ N/(2(depth+1)) "
    "per dimension, frozen; linears U(±√(6/width)); no multiscale outputs",
    _mfn_defaults, ("mfn_scale", "mfn_bandlimit"), family=FILTERS))
register(MethodSpec(
    "mfn_gabor", _build_mfn("gabor"), "GaborNet: each layer multiplies (Wz+b) by Gabor atoms of the input.",
    "Fathony et al., Multiplicative Filter Networks, ICLR 2021",
    "filters exp(−γ/2‖x−μ‖²)·sin(Ωx+φ), μ ~ U(−1,1), γ ~ Gamma(6/(depth+1), 1), Ω ×√γ (the reference code); "
    "BACON's band limit: mfn_fourier with mfn_bandlimit", _mfn_defaults, ("mfn_scale",), family=FILTERS))
