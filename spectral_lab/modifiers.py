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
    ModifierSpec("fr", "Fourier reparameterised training: W = ΛB, fixed cosine basis B, Λ trained.",
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
def cosine_basis(in_features: int, low: int, phases: int) -> torch.Tensor:
    """B (M, in_features): cos(ω z_j + φ) at in_features points z_j uniformly spaced over one
    period of the lowest frequency, ω ∈ {(i+1)/L} ∪ {i+1} for i < L, φ ∈ {2πp/P}; M = 2LP."""
    z = torch.linspace(-math.pi * low, math.pi * low, in_features)
    omegas = torch.cat([torch.arange(1, low + 1) / low, torch.arange(1, low + 1, dtype=torch.float32)])
    phi = 2 * math.pi * torch.arange(phases) / phases
    angles = omegas[:, None, None] * z[None, None, :] + phi[None, :, None]  # (2L, P, in)
    return torch.cos(angles).reshape(-1, in_features)


class FourierLinear(nn.Module):
    """Linear layer with W = Λ B (B fixed, M×in). Λ starts at W₀B⁺, the least-squares fit of
    the base method's W₀, rescaled so ‖ΛB‖ = ‖W₀‖ (B spans only ~in/2 directions, since a
    frequency spans 2 whatever the phases, so the projection alone would shrink the weights)."""

    def __init__(self, linear: nn.Linear, low: int = 0, phases: int = 4):
        super().__init__()
        in_features = linear.in_features
        low = low or max(1, math.ceil(in_features / (2 * phases)))
        self.register_buffer("basis", cosine_basis(in_features, low, phases).to(linear.weight))
        with torch.no_grad():
            coefficients = linear.weight @ torch.linalg.pinv(self.basis)  # (out, M)
            coefficients *= linear.weight.norm() / (coefficients @ self.basis).norm().clamp_min(1e-12)
        self.coefficients = nn.Parameter(coefficients)
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None
        self.in_features, self.out_features = in_features, linear.out_features

    @property
    def weight(self) -> torch.Tensor:
        return self.coefficients @ self.basis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


def apply_fourier_layers(model, phases: int = 4) -> None:
    """Reparameterise every hidden-to-hidden linear (not the first: its 1–2 inputs have no axis
    for a basis to span; not the head)."""
    if model.complex_hidden:
        raise ConfigError("fr does not support WIRE's complex layers")
    for i in range(1, len(model.linears)):
        model.linears[i] = FourierLinear(model.linears[i], phases=phases)


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
                 balance_to: str, seed: int = 0, max_sampled: int = 4096):
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
