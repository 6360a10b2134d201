"""Multiresolution feature grids (Instant-NGP) in plain PyTorch: no CUDA extension, so they run on
a CPU and on a Space. A grid is an input encoding: coordinates in [-1, 1]^d -> (N, levels·features).

Müller et al., Instant Neural Graphics Primitives with a Multiresolution Hash Encoding, SIGGRAPH
2022: level l has resolution N_l = ⌊N_min·b^l⌋ with b = exp((ln N_max − ln N_min)/(L − 1)) (Eq. 2–3);
a level whose (N_l + 1)^d vertices fit in T entries is indexed densely, the others through the
spatial hash h(x) = (⊕ᵢ xᵢπᵢ) mod T with π = (1, 2654435761, 805459861) (Eq. 4); the features of
the 2^d cell corners are interpolated (bi)linearly; entries start U(±1e-4) (Sec. 4). `hashed=False`
gives the dense-grid baseline: every level indexed densely, whatever its size.
"""
from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal
from .network import CoordinateMLP
from .registry import MethodSpec, register

HASH_PRIMES = (1, 2654435761, 805459861)  # Instant-NGP Eq. 4


# Relative guard on N_min·b^l before the floor of Eq. 2: float rounding of exp/log/pow leaves a level
# that is an integer exactly (the finest, N_min·b^(L−1) = N_max) a few ulps below it — 4095.99…
# for 4096 — and ⌊·⌋ would drop it to N_max − 1. 1e-9 is far above that error (~1e-15 relative) and
# moves no other level: that would take N_min·b^l within 10⁻⁹·N_l below an integer (checked against
# exact integer arithmetic, n^(L−1) ≤ N_min^(L−1−l)·N_max^l, for L ≤ 24, N_min ≤ 32, N_max ≤ 2^19).
RESOLUTION_GUARD = 1e-9


def level_resolutions(levels: int, min_resolution: int, max_resolution: int) -> list[int]:
    """N_l = ⌊N_min·b^l⌋ cells per axis with b = exp((ln N_max − ln N_min)/(L − 1)) (Instant-NGP Eq. 2–3),
    so the coarsest level is N_min and the finest exactly N_max; [-1, 1] maps onto [0, N_l], so the grid's
    end vertices sit on the first and last sample. We follow the paper. tiny-cuda-nn (common_device.h
    grid_scale / grid_resolution / pos_fract) counts vertices instead, scale = N_min·b^l − 1 and
    ⌈scale⌉ + 1 vertices a level, and places a point at scale·x + 0.5 for x in [0, 1]: the half-cell offset
    staggers the levels against one another (Instant-NGP App. A), so no level's vertices line up with
    the samples. Neither the vertex count nor the offset is reproduced here.

    Why a dense grid's 1D fit depends on N_max: n samples, endpoints included, span n − 1 intervals.
    With N_max = n − 1 cells (2,047 for 2,048 samples) every sample sits on a vertex of the finest level
    and the grid can store the signal sample by sample; with N_max = n (our finest level: N_max = the
    samples along the longest axis) the vertices fall between the samples and neighbouring samples
    share them."""
    if levels == 1:
        return [max_resolution]
    growth = math.exp((math.log(max_resolution) - math.log(min_resolution)) / (levels - 1))  # Eq. 3
    return [min(max_resolution, int(math.floor(min_resolution * growth**level * (1.0 + RESOLUTION_GUARD))))
            for level in range(levels)]  # Eq. 2


class GridEncoding(nn.Module):
    """Trainable feature grids at `levels` resolutions from `min_resolution` to `max_resolution`
    cells per axis; `features` per entry; with `hashed`, at most 2^table_log2 entries a level."""

    def __init__(self, in_dim: int, levels: int = 8, features: int = 2, table_log2: int = 14,
                 min_resolution: int = 8, max_resolution: int = 256, hashed: bool = True):
        super().__init__()
        if in_dim > len(HASH_PRIMES):
            raise ValueError(f"grids support up to {len(HASH_PRIMES)} input dimensions")
        self.in_dim, self.features, self.hashed = in_dim, int(features), hashed
        self.resolutions = level_resolutions(levels, min(min_resolution, max_resolution), max_resolution)
        self.table_size = 2 ** int(table_log2)
        sizes = [(n + 1) ** in_dim for n in self.resolutions]
        self.dense = [not hashed or size <= self.table_size for size in sizes]
        self.tables = nn.ParameterList(
            nn.Parameter(torch.empty(size if dense else self.table_size, self.features).uniform_(-1e-4, 1e-4))
            for size, dense in zip(sizes, self.dense))
        # the 2^d corners of a cell, as 0/1 offsets per axis: (2^d, d)
        self.register_buffer("corners", torch.tensor(list(itertools.product((0, 1), repeat=in_dim))),
                             persistent=False)

    @property
    def out_dim(self) -> int:
        return len(self.resolutions) * self.features

    def corner_weights_and_indices(self, coords: torch.Tensor, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Interpolation weights (N, 2^d) and table rows (N, 2^d) of the cell around each point."""
        resolution = self.resolutions[level]
        position = (coords.clamp(-1.0, 1.0) + 1.0) * 0.5 * resolution  # [-1, 1] -> [0, N_l]
        cell = position.detach().floor().clamp(max=resolution - 1)
        fraction = position - cell  # (N, d)
        vertex = cell.long()[:, None, :] + self.corners  # (N, 2^d, d)
        weights = torch.where(self.corners.bool(), fraction[:, None, :], 1.0 - fraction[:, None, :]).prod(-1)
        if self.dense[level]:
            strides = (resolution + 1) ** torch.arange(self.in_dim, device=coords.device)
            index = (vertex * strides).sum(-1)
        else:
            index = torch.zeros_like(vertex[..., 0])
            for axis in range(self.in_dim):
                index = torch.bitwise_xor(index, vertex[..., axis] * HASH_PRIMES[axis])
            index = index % self.table_size
        return weights, index

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        encoded = []
        for level, table in enumerate(self.tables):
            weights, index = self.corner_weights_and_indices(coords, level)
            # (N, 2^d, F) weighted over the corners -> (N, F)
            encoded.append((table[index] * weights[..., None].to(table.dtype)).sum(1))
        return torch.cat(encoded, dim=-1)

    def extra_repr(self) -> str:
        kind = "hashed" if self.hashed else "dense"
        return f"{kind}, resolutions={self.resolutions}, features={self.features}, table={self.table_size}"


# ----------------------------------------------------------------------------------------------
# Registry entries
# ----------------------------------------------------------------------------------------------
def _build_grid(hashed: bool):
    def build(cfg: RunConfig, signal: Signal) -> nn.Module:
        encoding = GridEncoding(signal.in_dim, cfg.grid_levels, cfg.grid_features, cfg.grid_table_log2,
                                cfg.grid_min_resolution, max(signal.grid), hashed=hashed)
        return CoordinateMLP(signal.in_dim, signal.channels, cfg.width, cfg.depth, lambda i: nn.ReLU(), encoding)
    return build


# Instant-NGP Sec. 4 (and tiny-cuda-nn's Adam): lr 1e-2, β₁ 0.9, β₂ 0.99, ε 1e-15, and an L2 penalty of 1e-6
# on the MLP's weights, not on the hash tables (stepper.parameter_groups leaves the encoding out).
INSTANT_NGP_OPTIMISER = {"lr": 1e-2, "adam_beta2": 0.99, "adam_eps": 1e-15, "weight_decay": 1e-6}


def _hashgrid_defaults(signal: Signal) -> dict:
    return {**INSTANT_NGP_OPTIMISER, "grid_levels": 16}  # Instant-NGP Table 1: L = 16 levels


def _densegrid_defaults(signal: Signal) -> dict:
    # the paper's optimiser (its dense-grid baseline trains as the hash grid does); L = 8 is ours, the
    # value the zoo's dense-grid rows were measured at
    return {**INSTANT_NGP_OPTIMISER, "grid_levels": 8}


GRID_OPTIMISER_NOTE = ("Adam β₂ 0.99, ε 1e-15, L2 1e-6 on the MLP, not the tables (Instant-NGP Sec. 4); full-batch "
                       "steps (the paper trains on batches of 2^18 samples)")
GRID_PARAM = ("tables U(±1e-4), (bi)linear interpolation of the cell's corners (Instant-NGP Sec. 3–4); finest "
              "level N_max = the samples along the longest axis, so n samples (n − 1 intervals) see n cells and the "
              "vertices fall between them; the paper's cell count, not tiny-cuda-nn's vertex count (N_min·b^l − 1) "
              "and its +0.5 offset; ReLU MLP head of width × depth with PyTorch's init; " + GRID_OPTIMISER_NOTE)
register(MethodSpec(
    "hashgrid", _build_grid(True), "Multiresolution hash encoding + small ReLU MLP: trainable features on grids.",
    "Müller et al., Instant Neural Graphics Primitives with a Multiresolution Hash Encoding, SIGGRAPH 2022",
    GRID_PARAM + "; L 16 (Table 1); levels with more than 2^grid_table_log2 vertices hashed (Eq. 4); N_min 8 and "
    "T 2^12 ours (the paper's 16 and 2^14–2^24: tables sized for the lab's signals); plain PyTorch, no CUDA kernel",
    _hashgrid_defaults, ("grid_levels", "grid_features", "grid_table_log2", "grid_min_resolution"), family="grids"))
register(MethodSpec(
    "densegrid", _build_grid(False), "Dense multiresolution grid + small ReLU MLP: the hash grid without hashing.",
    "Müller et al. 2022 (the dense-grid baseline, Sec. 5); Sun et al., Direct Voxel Grid Optimization, CVPR 2022",
    GRID_PARAM + "; every level stored densely ((N_l+1)^d entries); L 8 ours", _densegrid_defaults,
    ("grid_levels", "grid_features", "grid_min_resolution"), family="grids"))
