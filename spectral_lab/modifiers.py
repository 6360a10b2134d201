"""Training modifiers, combinable with any architecture as `method+modifier` (e.g. `relu_pe+iga`).

iga  Inductive gradient adjustment (IGA paper Sec. 3.2–3.3): the residual is multiplied by a
     matrix S̃ₑ built from the eNTK of one sampled point per group, balancing eigenvalues
     start..end, before it is back-propagated (Eq. 4–5).
fr   Fourier reparameterised training: hidden weights W = ΛB with a fixed cosine basis B, only Λ
     trained; `fold_fourier_layers` turns the model back into plain Linear layers.
bn   Batch normalisation after every hidden linear layer, before the activation (BN paper's
     reference layout), statistics over the full batch of coordinates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .errors import ConfigError


@dataclass(frozen=True)
class ModifierSpec:
    name: str
    description: str
    citation: str


MODIFIERS: dict[str, ModifierSpec] = {m.name: m for m in (
    ModifierSpec("iga", "Inductive gradient adjustment: balance eNTK eigenvalues start..end of sampled points.",
                 "Inductive Gradient Adjustment for Spectral Bias in Implicit Neural Representations (IGA), 2025"),
    ModifierSpec("fr", "Fourier reparameterised training: W = ΛB, fixed over-complete cosine basis B, Λ trained.",
                 "Shi et al., Improved Implicit Neural Representation with Fourier Reparameterized Training, CVPR 2024"),
    ModifierSpec("bn", "Batch normalisation in the hidden layers (full-batch statistics).",
                 "Cai et al., Batch Normalization Alleviates the Spectral Bias in Coordinate Networks, CVPR 2024"),
)}


def split_method(name: str) -> tuple[str, list[str]]:
    """'relu_pe+iga+bn' -> ('relu_pe', ['iga', 'bn'])."""
    base, *modifiers = [part.strip() for part in name.split("+")]
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        raise ConfigError(f"unknown modifier(s) {', '.join(unknown)}; choose from {', '.join(MODIFIERS)}")
    if len(set(modifiers)) != len(modifiers):
        raise ConfigError(f"modifier listed twice in {name!r}")
    return base, modifiers


def expand_methods(methods: list[str], modifiers: list[str], mode: str = "each") -> list[str]:
    """Methods × modifiers for a comparison. each: every method alone and with each modifier
    (relu, relu+iga, relu+fr); combined: every method with all of them (relu+iga+fr)."""
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            raise ConfigError(f"unknown modifier {modifier!r}; choose from {', '.join(MODIFIERS)}")
    if not modifiers:
        return list(methods)
    if mode == "combined":
        return [f"{m}+{'+'.join(modifiers)}" for m in methods]
    if mode != "each":
        raise ConfigError("modifier mode must be 'each' or 'combined'")
    return [variant for m in methods for variant in [m] + [f"{m}+{mod}" for mod in modifiers]]


# ----------------------------------------------------------------------------------------------
# FR
# ----------------------------------------------------------------------------------------------
FR_PHASE_OFFSET = math.pi / 4  # see cosine_basis
FR_MAX_CONDITION = 1e3


def cosine_basis(in_features: int, low: int, high: int, phases: int) -> torch.Tensor:
    """The FR paper's over-complete cosine basis B ((low + high)·P, in_features), rows
    cos(ω z_j + φ_p), built as in its reference code (also IGA's) with two changes that make it
    full rank and well conditioned:

    ω ∈ {k/low : k = 1..low} ∪ {1, 2, ..., high}: low frequencies up to 1, integer high ones;
    z_j: in_features points over one period T = 2π·low of the lowest frequency, *periodic*
      (the end point left out; the reference includes both ends), so the low frequencies are
      exact harmonics 1..low of the window and, with low = in_features, a complete Fourier
      frame (harmonic `in_features` is DC). The reference's grid leaves B with condition number
      ~1e12, numerically rank-deficient (127 of 128 at P = 32).
    φ_p = 2πp/P + π/4: the reference's phases shifted by π/4. With phase 0 alone (P = 1) every
      row is even on the symmetric grid and B spans half the space; the shift mixes even and
      odd parts, so harmonics k and n − k give independent rows for every P.
    On this periodic grid an integer frequency ω = m completes m·low cycles over in_features
    samples: with low = in_features every high row is the constant vector. FourierLinear
    therefore uses high = 0 by default (with the reference's high = low/4 rows the mean of
    every weight row is over-weighted ~in/4 times; measured −3 to −6 dB on camera 48²).
    """
    if min(in_features, low, phases) < 1 or high < 0:
        raise ConfigError("the FR basis needs in_features, low, phases ≥ 1 and high ≥ 0")
    omegas = torch.cat([torch.arange(1, low + 1, dtype=torch.float64) / low,
                        torch.arange(1, high + 1, dtype=torch.float64)])
    period = 2 * math.pi * low  # of the lowest frequency, 1/low
    z = -period / 2 + period * torch.arange(in_features, dtype=torch.float64) / in_features
    phi = 2 * math.pi * torch.arange(phases, dtype=torch.float64) / phases + FR_PHASE_OFFSET
    angles = omegas[:, None, None] * z[None, None, :] + phi[None, :, None]  # (low+high, P, in)
    return torch.cos(angles).reshape(-1, in_features).float()


def check_full_rank(basis: torch.Tensor) -> float:
    """rank(B) = in_features, or ConfigError; returns B's condition number σ_max/σ_min."""
    singular = torch.linalg.svdvals(basis.double())
    condition = float(singular[0] / singular[-1]) if singular[-1] > 0 else math.inf
    if basis.shape[0] < basis.shape[1] or not condition < FR_MAX_CONDITION:
        raise ConfigError(f"FR basis of shape {tuple(basis.shape)} is not full rank (condition number "
                          f"{condition:.3g}); use more frequencies or phases")
    return condition


class FourierLinear(nn.Module):
    """Linear layer with W = Λ B (B fixed, M×in, scaled by α as in the FR reference).

    Λ starts at W₀B⁺ (B has full column rank, checked), so ΛB = W₀ exactly: the network starts
    as the base method's, and only the training dynamics change (that is FR's point)."""

    def __init__(self, linear: nn.Linear, low: int = 0, high: int = 0, phases: int = 32, alpha: float = 0.01):
        super().__init__()
        in_features = linear.in_features
        low = low or in_features
        basis = alpha * cosine_basis(in_features, low, high, phases)
        self.condition = check_full_rank(basis)
        self.register_buffer("basis", basis.to(linear.weight))
        with torch.no_grad():
            coefficients = linear.weight.double() @ torch.linalg.pinv(basis.double().to(linear.weight.device))
        self.coefficients = nn.Parameter(coefficients.to(linear.weight.dtype))  # (out, M)
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None
        self.in_features, self.out_features = in_features, linear.out_features

    @property
    def weight(self) -> torch.Tensor:
        return self.coefficients @ self.basis

    @property
    def inference_parameters(self) -> int:
        """What the layer costs once folded back into a Linear (FR leaves inference unchanged)."""
        return self.in_features * self.out_features + (self.out_features if self.bias is not None else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


def apply_fourier_layers(model, phases: int = 32, alpha: float = 0.01) -> None:
    """Reparameterise every hidden-to-hidden linear (not the first: its 1–2 inputs have no axis
    for a basis to span; not the head), as the FR reference does."""
    if model.complex_hidden:
        raise ConfigError("fr does not support WIRE's complex layers")
    for i in range(1, len(model.linears)):
        model.linears[i] = FourierLinear(model.linears[i], phases=phases, alpha=alpha)


@torch.no_grad()
def fold_fourier_layers(model) -> None:
    """After training: replace each FourierLinear by a plain nn.Linear with W = ΛB (same outputs)."""
    for i, layer in enumerate(model.linears):
        if isinstance(layer, FourierLinear):
            plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None).to(layer.basis)
            plain.weight.copy_(layer.weight)
            if layer.bias is not None:
                plain.bias.copy_(layer.bias)
            model.linears[i] = plain


# ----------------------------------------------------------------------------------------------
# BN
# ----------------------------------------------------------------------------------------------
class BatchNormActivation(nn.Module):
    """z -> φ(BN(z)/ω₀): batch norm between the linear layer and its activation.

    For sine-family activations the normalised z is divided by ω₀, so the sine's argument
    ω₀·(BN(z)/ω₀) has unit std, the regime SIREN's init is designed for; without it
    sin(30·BN(z)) is noise and training stalls (measured: loss flat over 30 steps).
    """

    def __init__(self, features: int, activation: nn.Module):
        super().__init__()
        self.norm = nn.BatchNorm1d(features)
        self.activation = activation
        self.scale = 1.0 / getattr(activation, "omega0", 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(z) * self.scale)


def apply_batch_norm(model) -> None:
    if model.complex_hidden:
        raise ConfigError("bn does not support WIRE's complex layers")
    for i, (linear, activation) in enumerate(zip(model.linears, model.activations)):
        model.activations[i] = BatchNormActivation(linear.out_features, activation)


# ----------------------------------------------------------------------------------------------
# IGA
# ----------------------------------------------------------------------------------------------
SAMPLINGS = ("residual", "random", "fixed")
IGA_MAX_GROUPS = 2048  # points of the eNTK IGA decomposes every update
# The paper's settings: (number of groups it uses, end for ReLU, end for PE / SIREN / others).
# Images (Sec. 6.1): Kodak 768×512 in 32×32 patches = 384 groups, end 25 (ReLU), 20 (PE, SIREN).
# 1D (Sec. 5, Exp. 1–2): groups of 8 consecutive samples, end 11–15 (Fig. 1 shows 15).
IGA_PAPER = {2: (384, 25, 20), 1: (128, 15, 15)}


def iga_default_group(grid: tuple[int, ...]) -> int:
    """Group size giving about the paper's number of groups: p×p patches, ~384 for images; runs
    of p ≥ 8 samples (the paper's 1D size), at most 512 of them, in 1D. Always under the cap."""
    points = math.prod(grid)
    if len(grid) == 2:
        return max(1, math.ceil(math.sqrt(points / IGA_PAPER[2][0])))
    return max(8, math.ceil(points / 512))


def iga_default_end(architecture: str, grid: tuple[int, ...], group: int) -> int:
    """The paper's `end` for this architecture and kind of signal, at most the number of groups."""
    _, relu_end, other_end = IGA_PAPER[len(grid)]
    groups = group_points(grid, group).shape[0]
    return max(1, min(relu_end if architecture == "relu" else other_end, groups))


def describe_modifiers(config, signal) -> str:
    """What the modifiers of `config.method` chose for this signal, in one line (for CLI and app)."""
    _, modifiers = split_method(config.method)
    parts = []
    if "iga" in modifiers:
        groups = group_points(signal.grid, config.iga_group).shape[0]
        shape = f"{config.iga_group}×{config.iga_group} patches" if len(signal.grid) == 2 else \
            f"runs of {config.iga_group} samples"
        cadence = "rebuilt every step (the paper)" if config.iga_every == 1 else \
            f"rebuilt every {config.iga_every} steps (an approximation; the paper rebuilds every step)"
        parts.append(f"IGA: {groups} groups ({shape}), balancing eigenvalues {config.iga_start}..{config.iga_end}, "
                     f"S̃ₑ {cadence}")
    if "fr" in modifiers:
        parts.append(f"FR: cosine basis, {config.fr_phases} phases, α = {config.fr_alpha:g}")
    if "bn" in modifiers:
        parts.append("BN: full-batch statistics before each activation")
    return "; ".join(parts)


def group_points(grid: tuple[int, ...], size: int) -> np.ndarray:
    """(n_groups, p) indices of neighbouring points, −1 where a group at the edge is short.

    1D: consecutive runs of `size` samples; 2D: size×size patches, row-major inside a patch.
    """
    if len(grid) == 1:
        n = grid[0]
        groups = math.ceil(n / size)
        index = np.full(groups * size, -1)
        index[:n] = np.arange(n)
        return index.reshape(groups, size)
    h, w = grid
    rows, cols = math.ceil(h / size), math.ceil(w / size)
    r = np.arange(rows * size)[:, None]
    c = np.arange(cols * size)[None, :]
    flat = np.where((r < h) & (c < w), r * w + c, -1)  # (rows·size, cols·size)
    patches = flat.reshape(rows, size, cols, size).transpose(0, 2, 1, 3)  # (rows, cols, size, size)
    return patches.reshape(rows * cols, size * size)


class InductiveGradientAdjustment:
    """Builds S̃ₑ (IGA Eq. 5) from the eNTK of one point per group and applies it (Eq. 4).

    adjusted[group g, position i] = Σ_g' S̃ₑ[g, g'] r[g', i]: every group shares the adjustment
    computed for its sampled point. With group size 1 this is the exact eNTK adjustment (Eq. 3).
    Plain gradient descent balances λ_start..λ_end to λ_start; Adam to λ_end (IGA Sec. 3.3).
    Eq. 5 leaves the other directions unchanged (coefficient 1; the printed λᵢ there cannot be
    meant, as S = Σ g(λᵢ)/λᵢ vᵢvᵢᵀ with g(λᵢ) = λᵢ gives 1).
    """

    def __init__(self, grid: tuple[int, ...], group: int, start: int, end: int, sampling: str, every: int,
                 balance_to: str, seed: int = 0, max_sampled: int = IGA_MAX_GROUPS):
        if sampling not in SAMPLINGS:
            raise ConfigError(f"iga_sampling must be one of {', '.join(SAMPLINGS)}")
        self.groups = group_points(grid, group)
        if self.groups.shape[0] > max_sampled:
            raise ConfigError(f"IGA would compute a {self.groups.shape[0]}-point eNTK each update; raise "
                              f"iga_group so there are at most {max_sampled} groups")
        if not 1 <= start <= end <= self.groups.shape[0]:
            raise ConfigError(f"IGA needs 1 ≤ start ≤ end ≤ number of groups ({self.groups.shape[0]})")
        self.start, self.end, self.sampling, self.every, self.balance_to = start, end, sampling, every, balance_to
        self.rng = np.random.default_rng(seed)
        self.valid = self.groups >= 0
        self.fixed_choice: np.ndarray | None = None
        self.matrix: torch.Tensor | None = None
        self.eigenvalues: np.ndarray | None = None

    def _sample(self, residual: np.ndarray) -> np.ndarray:
        """One point index per group."""
        if self.sampling == "residual":
            magnitude = np.where(self.valid, np.abs(residual).sum(axis=1)[np.maximum(self.groups, 0)], -np.inf)
            column = magnitude.argmax(axis=1)
        elif self.sampling == "random" or self.fixed_choice is None:
            column = np.where(self.valid, self.rng.random(self.groups.shape), -1.0).argmax(axis=1)
            if self.sampling == "fixed":
                self.fixed_choice = column
        else:
            column = self.fixed_choice
        return self.groups[np.arange(len(column)), column]

    def update(self, model, coords: torch.Tensor, residual: torch.Tensor) -> None:
        from .ntk import empirical_ntk

        points = self._sample(residual.detach().cpu().numpy())
        kernel = empirical_ntk(model, coords[torch.as_tensor(points, device=coords.device)])
        eigenvalues, vectors = np.linalg.eigh(0.5 * (kernel + kernel.T))
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, vectors = np.clip(eigenvalues[order], 1e-30, None), vectors[:, order]
        coefficient = np.ones_like(eigenvalues)
        lo, hi = self.start - 1, self.end  # 1-based inclusive -> python slice
        target = eigenvalues[lo] if self.balance_to == "start" else eigenvalues[hi - 1]
        coefficient[lo:hi] = target / eigenvalues[lo:hi]
        self.eigenvalues = eigenvalues
        self.matrix = torch.as_tensor((vectors * coefficient) @ vectors.T, dtype=residual.dtype,
                                      device=residual.device)

    def adjust(self, model, coords: torch.Tensor, residual: torch.Tensor, step: int) -> torch.Tensor:
        """residual (N, C) -> S̃ₑ applied across groups, same shape."""
        if self.matrix is None or (step - 1) % self.every == 0:
            self.update(model, coords, residual)
        groups = torch.as_tensor(self.groups, device=residual.device)
        padded = torch.cat([residual, residual.new_zeros(1, residual.shape[1])])  # index −1 -> zero row
        grouped = padded[groups]  # (n, p, C)
        adjusted = torch.einsum("gh,hpc->gpc", self.matrix, grouped)
        out = torch.zeros_like(padded)
        out[groups.reshape(-1)] = adjusted.reshape(-1, residual.shape[1])
        return out[:-1]
