"""IGA: inductive gradient adjustment (IGA paper Sec. 3.2–3.3). The residual is multiplied by a
matrix S̃ₑ built from the eNTK of one sampled point per group, balancing eigenvalues start..end,
before it is back-propagated (Eq. 4–5).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from ..ntk import empirical_ntk
from .registry import ModifierSpec, register_modifier

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
    Plain gradient descent balances λ_start..λ_end to λ_start; Adam to λ_(end+1) (IGA Sec. 3.3 says
    λ_end; its reference code's 0-based index `end` picks the next one).
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
        points = self._sample(residual.detach().cpu().numpy())
        kernel = empirical_ntk(model, coords[torch.as_tensor(points, device=coords.device)])
        eigenvalues, vectors = np.linalg.eigh(0.5 * (kernel + kernel.T))
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, vectors = np.clip(eigenvalues[order], 1e-30, None), vectors[:, order]
        coefficient = np.ones_like(eigenvalues)
        lo, hi = self.start - 1, self.end  # 1-based inclusive -> python slice
        # Adam: the paper's text says "λ_end"; its reference code indexes the 0-based array with `end`,
        # i.e. λ_(end+1) (λ_end when end is the last group). We follow the code, which made its tables.
        target = eigenvalues[lo] if self.balance_to == "start" else eigenvalues[min(hi, len(eigenvalues) - 1)]
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


def _defaults(architecture: str, signal, config) -> dict:
    group = config.iga_group if config.iga_group is not None else iga_default_group(signal.grid)
    return {"iga_group": group, "iga_end": iga_default_end(architecture, signal.grid, group)}


def _check(config, signal) -> None:
    groups = group_points(signal.grid, config.iga_group).shape[0]
    if groups > IGA_MAX_GROUPS:
        raise ConfigError(f"IGA would compute a {groups}-point eNTK every update; raise iga_group so there are "
                          f"at most {IGA_MAX_GROUPS} groups (or leave it empty for the automatic choice)")
    if not 1 <= config.iga_start <= config.iga_end <= groups:
        raise ConfigError(f"IGA needs 1 ≤ iga_start ≤ iga_end ≤ number of groups ({groups}); "
                          f"got {config.iga_start}..{config.iga_end}")


def _describe(config, signal) -> str:
    groups = group_points(signal.grid, config.iga_group).shape[0]
    shape = f"{config.iga_group}×{config.iga_group} patches" if len(signal.grid) == 2 else \
        f"runs of {config.iga_group} samples"
    cadence = "rebuilt every step (the paper)" if config.iga_every == 1 else \
        f"rebuilt every {config.iga_every} steps (an approximation; the paper rebuilds every step)"
    return (f"IGA: {groups} groups ({shape}), balancing eigenvalues {config.iga_start}..{config.iga_end}, "
            f"S̃ₑ {cadence}")


register_modifier(ModifierSpec(
    "iga", "Inductive gradient adjustment: balance eNTK eigenvalues start..end of sampled points.",
    "Inductive Gradient Adjustment for Spectral Bias in Implicit Neural Representations (IGA), 2025",
    defaults=_defaults, check=_check, describe=_describe,
    knobs=("iga_group", "iga_start", "iga_end", "iga_sampling", "iga_every")))
