"""Permutation smoothing of CNN kernels (NeRN, SBS) and the smoothness it buys.

A layer's kernels form a grid (F filters × C channels) of 9-vectors. An in-layer ordering
is a bijection `perm` from grid positions to kernels: position p = f·C + c of the smoothed
grid holds original kernel perm[p] (flat index f'·C + c'). The MLP learns the smoothed grid;
rebuilding the CNN puts each predicted kernel back with the inverse map, exactly.

Orderings (SBS Sec. 4.2, Fig. 3):
- none: the CNN's own order.
- random: a uniformly random permutation (a baseline for S(w)).
- nern: NeRN's in-layer smoothing, greedy placement maximising cosine similarity to the
  already-placed neighbours along both grid directions (SBS Eq. 8a).
- uos: SBS's unidirectional ordering: one greedy nearest-neighbour chain in Euclidean
  distance, laid out along the filter axis, so consecutive filters are close (SBS Eq. 8b).
- mos: multi-directional ordering: greedy placement by Euclidean distance to both placed
  neighbours (filter and channel), the ablation of SBS Table 4.
"""
from __future__ import annotations

import numpy as np

ORDERINGS = ("none", "random", "nern", "uos", "mos")
ORDERING_DOCS = {
    "none": "the CNN's own kernel order",
    "random": "a random in-layer permutation (baseline)",
    "nern": "NeRN: greedy cosine-similarity placement, both grid directions (SBS Eq. 8a)",
    "uos": "SBS UOS: greedy Euclidean chain along the filter axis (SBS Eq. 8b)",
    "mos": "SBS MOS: greedy Euclidean placement, filter and channel directions (SBS Table 4)",
}


def order_layer(kernels: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """Permutation (F·C,) of one layer's kernels (F, C, k): position -> original flat index."""
    if method not in ORDERINGS:
        raise ValueError(f"smoothing must be one of {', '.join(ORDERINGS)}; got {method!r}")
    filters, channels = kernels.shape[:2]
    vectors = kernels.reshape(filters * channels, -1).astype(np.float64)
    if method == "none":
        return np.arange(filters * channels)
    if method == "random":
        return np.random.default_rng(seed).permutation(filters * channels)
    if method == "uos":
        chain = _greedy_chain(vectors)
        # chain index t -> grid position (f = t mod F, c = t div F): the chain runs along filters
        positions = (np.arange(chain.size) % filters) * channels + np.arange(chain.size) // filters
        perm = np.empty_like(chain)
        perm[positions] = chain
        return perm
    if method == "nern":
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return _greedy_grid(vectors / np.maximum(norms, 1e-12), filters, channels, cosine=True)
    return _greedy_grid(vectors, filters, channels, cosine=False)


def _start_index(vectors: np.ndarray) -> int:
    """Begin at the kernel farthest from the mean: an end of the cloud, so the chain runs across it."""
    return int(np.argmax(((vectors - vectors.mean(axis=0)) ** 2).sum(axis=1)))


def _greedy_chain(vectors: np.ndarray) -> np.ndarray:
    """Nearest-unvisited-neighbour tour in Euclidean distance (SBS Eq. 8b, greedily)."""
    n = vectors.shape[0]
    visited = np.zeros(n, dtype=bool)
    chain = np.empty(n, dtype=np.int64)
    current = _start_index(vectors)
    for t in range(n):
        chain[t] = current
        visited[current] = True
        if t == n - 1:
            break
        distances = ((vectors - vectors[current]) ** 2).sum(axis=1)
        distances[visited] = np.inf
        current = int(np.argmin(distances))
    return chain


def _greedy_grid(vectors: np.ndarray, filters: int, channels: int, cosine: bool) -> np.ndarray:
    """Fill the (F, C) grid channel column by channel column, filter by filter; each position
    takes the unused kernel closest to its placed neighbours at (f−1, c) and (f, c−1)."""
    n = vectors.shape[0]
    used = np.zeros(n, dtype=bool)
    grid = np.full((filters, channels), -1, dtype=np.int64)

    def cost(index: int) -> np.ndarray:
        if cosine:  # 1 − cos similarity (vectors are unit length)
            return 1.0 - vectors @ vectors[index]
        return np.sqrt(((vectors - vectors[index]) ** 2).sum(axis=1))

    for c in range(channels):
        for f in range(filters):
            if f == 0 and c == 0:
                choice = _start_index(vectors)
            else:
                total = np.zeros(n)
                if f > 0:
                    total += cost(grid[f - 1, c])
                if c > 0:
                    total += cost(grid[f, c - 1])
                total[used] = np.inf
                choice = int(np.argmin(total))
            grid[f, c] = choice
            used[choice] = True
    return grid.reshape(-1)


def permute(kernels: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """(F, C, k) original -> (F, C, k) smoothed grid: position p holds kernel perm[p]."""
    filters, channels = kernels.shape[:2]
    return kernels.reshape(filters * channels, -1)[perm].reshape(kernels.shape)


def unpermute(grid, perm: np.ndarray):
    """Inverse of `permute` (numpy or torch, exact): the kernel at position p goes back to perm[p]."""
    filters, channels = grid.shape[:2]
    flat = grid.reshape(filters * channels, -1)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    if hasattr(flat, "index_select"):  # torch: a gather, so gradients flow to the predicted grid
        import torch

        return flat.index_select(0, torch.as_tensor(inverse, device=flat.device)).reshape(grid.shape)
    return flat[inverse].reshape(grid.shape)


def smoothness(grid: np.ndarray) -> dict[str, float]:
    """S(w) of one layer's grid (F, C, k), SBS Eq. 6 in-layer: Σ ‖w_(f,c)+e_j − w_(f,c)‖₂.

    Returns the filter-direction and channel-direction sums and their total, plus the mean
    difference per neighbouring pair (comparable across layers of different size).
    """
    grid = np.asarray(grid, dtype=np.float64)
    along_filter = np.linalg.norm(np.diff(grid, axis=0), axis=-1).sum()
    along_channel = np.linalg.norm(np.diff(grid, axis=1), axis=-1).sum()
    pairs = max(1, (grid.shape[0] - 1) * grid.shape[1] + grid.shape[0] * (grid.shape[1] - 1))
    total = along_filter + along_channel
    return {"filter": float(along_filter), "channel": float(along_channel), "total": float(total),
            "per_pair": float(total / pairs)}


def network_smoothness(grids: list[np.ndarray]) -> dict[str, float]:
    """S(w) over all layers (SBS Eq. 6): in-layer sums plus the layer direction, which pairs
    position (f, c) of consecutive layers where both grids have that position."""
    per_layer = [smoothness(g) for g in grids]
    along_layer = 0.0
    for lower, upper in zip(grids[:-1], grids[1:]):
        f, c = min(lower.shape[0], upper.shape[0]), min(lower.shape[1], upper.shape[1])
        along_layer += float(np.linalg.norm(upper[:f, :c] - lower[:f, :c], axis=-1).sum())
    result = {key: float(sum(s[key] for s in per_layer)) for key in ("filter", "channel")}
    result["layer"] = along_layer
    result["total"] = result["filter"] + result["channel"] + along_layer
    return result


def grid_spectrum(grid: np.ndarray) -> np.ndarray:
    """|FFT|² over the (filter, channel) axes, summed over the k kernel values, mean removed,
    centred (fftshift): the 2D magnitude spectrum of SBS Fig. 2B. Shape (F, C)."""
    grid = np.asarray(grid, dtype=np.float64)
    centred = grid - grid.mean(axis=(0, 1), keepdims=True)
    power = (np.abs(np.fft.fft2(centred, axes=(0, 1))) ** 2).sum(axis=-1)
    return np.fft.fftshift(power)


def low_frequency_energy(grid: np.ndarray, cutoff: float = 0.125) -> float:
    """Fraction of the (mean-removed) energy of a layer grid at radial frequency < cutoff
    cycles/sample over the (filter, channel) axes (Nyquist is 0.5). SBS Fig. 2B: smoothing
    moves energy below the cutoff."""
    grid = np.asarray(grid, dtype=np.float64)
    filters, channels = grid.shape[:2]
    centred = grid - grid.mean(axis=(0, 1), keepdims=True)
    power = (np.abs(np.fft.fft2(centred, axes=(0, 1))) ** 2).sum(axis=-1)
    radius = np.sqrt(np.fft.fftfreq(filters)[:, None] ** 2 + np.fft.fftfreq(channels)[None, :] ** 2)
    total = power.sum()
    return float(power[radius < cutoff].sum() / total) if total > 0 else 0.0
