"""Empirical neural tangent kernel on a regular sub-grid, and what its spectrum says.

K = J Jᵀ with J the Jacobian of the network output w.r.t. all parameters at M points. For
C > 1 outputs the kernel is the *sum-of-outputs* pseudo-NTK, K = J_s J_sᵀ with J_s = ∂(Σ_c f_c)/∂θ,
so K stays M×M. J comes from torch.func (functional_call + vmap(grad)) in chunks of points,
and K is accumulated per parameter tensor, K = Σ_p J_p J_pᵀ, never concatenating J.
A complex weight (WIRE) counts as its real and imaginary parts: K_p = Re(J_p J_pᴴ).

Precision: the diagnostic kernel is built by a float64 copy of the network (forward,
Jacobians and Gram products all in float64). A float32 kernel is exact only to ~1e-7·λ₁, so
its small eigenvalues and condition number are noise (a default SIREN: cond 5e9 in float32 vs
9e12 in float64, eigenvalues >10% off from λ/λ₁ ≈ 3e-8; tests/test_ntk.py). IGA keeps float32:
it only uses the top `end` eigenpairs.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap


LAYOUTS = ("auto", "strided", "window")


def subgrid(grid: tuple[int, ...], max_points: int, layout: str = "strided") -> tuple[np.ndarray, tuple[int, ...]]:
    """Indices (into the flattened grid) of a regular set of at most `max_points` points.

    strided: every k-th sample (1D) / every s-th row and column (2D), the whole domain seen
      coarsely; frequency index k is k cycles across the whole domain (above the sub-grid's
      Nyquist, content aliases).
    window: M consecutive samples (1D) / a √M×√M block (2D) from the middle, seen at full
      resolution; frequency index k is k cycles across the window.
    auto: window for 1D signals (audio is far too dense to stride), strided for images.
    """
    if layout == "auto":
        layout = "window" if len(grid) == 1 else "strided"
    if layout not in ("strided", "window"):
        raise ValueError(f"layout must be one of {LAYOUTS}")
    if len(grid) == 1:
        if layout == "window":
            size = min(grid[0], max_points)
            start = (grid[0] - size) // 2
            return np.arange(start, start + size), (size,)
        stride = max(1, math.ceil(grid[0] / max_points))
        index = np.arange(0, grid[0], stride)
        return index, (index.size,)
    h, w = grid
    if layout == "window":
        side_h = min(h, int(math.isqrt(max_points)))
        side_w = min(w, max_points // side_h)
        rows = np.arange(side_h) + (h - side_h) // 2
        cols = np.arange(side_w) + (w - side_w) // 2
        return (rows[:, None] * w + cols[None, :]).reshape(-1), (side_h, side_w)
    stride = max(1, math.ceil(math.sqrt(h * w / max_points)))
    rows, cols = np.arange(0, h, stride), np.arange(0, w, stride)
    return (rows[:, None] * w + cols[None, :]).reshape(-1), (rows.size, cols.size)


def _chunk_jacobian_fn(model: nn.Module):
    """x (n, d) -> {param name: J_p (n, *param.shape)} of Σ_c f_c, via functional_call + vmap(grad)."""
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def summed_output(p, x):
        return functional_call(model, (p, buffers), (x[None],)).sum()

    per_sample = vmap(grad(summed_output), in_dims=(None, 0))
    return lambda points: per_sample(params, points)


def float64_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` with every real tensor in float64 and every complex one in complex128."""
    twin = copy.deepcopy(model)
    for tensor in list(twin.parameters()) + list(twin.buffers()):
        if tensor.is_complex():
            tensor.data = tensor.data.to(torch.complex128)
        elif tensor.is_floating_point():
            tensor.data = tensor.data.to(torch.float64)
    return twin


@torch.no_grad()
def freeze_batch_norm(model: nn.Module, coords: torch.Tensor) -> nn.Module:
    """Batch norm in eval mode with the statistics of the full training batch `coords`.

    Training normalises with the statistics of all N points, so a point's output depends on the
    others only through them, an O(1/N) coupling. Diagnostics on M ≪ N points must use those
    training statistics, frozen, not the M points' own (which would describe another network)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
        norm.train()
    model(coords)
    n = coords.shape[0]
    for norm in norms:
        norm.running_var.mul_((n - 1) / max(n, 1))  # BN stores the unbiased variance; training uses the biased one
        norm.eval()
    return model


def diagnostic_copy(model: nn.Module, full_coords: torch.Tensor | None = None) -> nn.Module:
    """The network as diagnostics see it: float64, batch norm frozen at the training statistics."""
    twin = float64_copy(model)
    if full_coords is not None:
        freeze_batch_norm(twin, full_coords.to(torch.float64))
    return twin


def empirical_ntk(model: nn.Module, coords: torch.Tensor, chunk: int = 256, exact_layers: bool = True,
                  memory_budget: float = 512e6) -> np.ndarray:
    """K (M, M) float64 on the host for points `coords` (M, d), model in its current state, in the
    model's own precision (pass a `float64_copy` and float64 coords for a float64 kernel).

    With `exact_layers` and a model whose trainable parameters all sit in nn.Linear layers
    that treat samples independently, K is built layer by layer from the identity
    J_W J_Wᵀ = (Δ Δᵀ) ⊙ (H Hᵀ) (H: layer inputs, Δ: ∂Σf/∂z per sample), which costs
    M²·(in + out) per layer instead of M²·in·out. It equals the torch.func path to float
    precision (tests/test_ntk.py) and is ~50× faster for a 4×256 SIREN. Otherwise: torch.func.
    """
    if _has_training_batch_norm(model):
        return _batch_ntk(model, coords).cpu().numpy()
    if exact_layers and _linear_only(model):
        return _layerwise_ntk(model, coords).cpu().numpy()
    return _torch_func_ntk(model, coords, chunk, memory_budget).cpu().numpy()


def _has_training_batch_norm(model: nn.Module) -> bool:
    """Batch norm that normalises with the batch's own statistics (frozen BN treats points alone)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in model.modules())


def _batch_ntk(model: nn.Module, coords: torch.Tensor) -> torch.Tensor:
    """Batch norm couples the points, so per-point gradients are not defined alone: J is the
    Jacobian of all M outputs at once (jacrev), with batch statistics over these M points and
    no running-statistics update (the kernel must not change the model)."""
    from torch.func import jacrev

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.track_running_stats, m.running_mean, m.running_var, m.training) for m in norms]
    try:
        for m in norms:
            m.track_running_stats, m.running_mean, m.running_var = False, None, None
            m.train()
        params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
        buffers = {k: v.detach() for k, v in model.named_buffers()}
        jacobians = jacrev(lambda p: functional_call(model, (p, buffers), (coords,)).sum(-1))(params)
    finally:
        for m, (track, mean, var, training) in zip(norms, saved):
            m.track_running_stats, m.running_mean, m.running_var = track, mean, var
            m.train(training)
    kernel = torch.zeros(coords.shape[0], coords.shape[0], dtype=torch.float64, device=coords.device)
    for jac in jacobians.values():
        flat = jac.reshape(coords.shape[0], -1)
        kernel += (flat @ flat.T).double()
    return kernel


def _linear_only(model: nn.Module) -> bool:
    """Every trainable parameter in an nn.Linear applied to each sample on its own (a model whose
    Linears see something else, e.g. INCODE's harmonizer, says `layerwise_ntk = False`)."""
    if not getattr(model, "layerwise_ntk", True):
        return False
    owned = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    owned |= {id(m.bias) for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None}
    trainable = [p for p in model.parameters() if p.requires_grad]
    return all(id(p) in owned for p in trainable)


def _layer_factors(model: nn.Module, coords: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """Per trainable nn.Linear: (its inputs H (M, in), the gradients Δ = ∂Σf/∂z of its outputs
    (M, out), whether it has a trained bias), from one forward and one backward pass. The
    layer-wise kernel is built from these factors, densely or matrix-free."""
    # a Linear whose weight is frozen but whose bias trains (BACON's filters) adds only its bias term:
    # its inputs are given as an empty (M, 0) factor, so HHᵀ = 0
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)
               and (m.weight.requires_grad or (m.bias is not None and m.bias.requires_grad))]
    inputs, outputs = {}, {}

    def capture(module, args, output):
        inputs[module] = args[0].detach()
        outputs[module] = output

    hooks = [layer.register_forward_hook(capture) for layer in linears]
    try:
        with torch.enable_grad():
            deltas = torch.autograd.grad(model(coords).sum(), [outputs[layer] for layer in linears])
    finally:
        for hook in hooks:
            hook.remove()
    m = coords.shape[0]
    return [(inputs[layer].reshape(m, -1) if layer.weight.requires_grad else inputs[layer].new_zeros(m, 0),
             delta.detach().reshape(m, -1), layer.bias is not None and layer.bias.requires_grad)
            for layer, delta in zip(linears, deltas)]


def _layerwise_ntk(model: nn.Module, coords: torch.Tensor) -> torch.Tensor:
    m = coords.shape[0]
    kernel = torch.zeros(m, m, dtype=torch.float64, device=coords.device)
    for h, delta, bias in _layer_factors(model, coords):
        # Complex weights (WIRE): grad_W = δ hᴴ, and K_W = Re(Σ grad_n ⊙ conj(grad_m))
        # = Re((Δ Δᴴ) ⊙ conj(H Hᴴ)); for real tensors this is (Δ Δᵀ) ⊙ (H Hᵀ).
        delta_gram = delta @ delta.conj().T
        input_gram = (h @ h.conj().T).conj()
        layer_kernel = delta_gram * input_gram
        if bias:
            layer_kernel = layer_kernel + delta_gram
        kernel += (layer_kernel.real if layer_kernel.is_complex() else layer_kernel).double()
    return kernel


def _torch_func_ntk(model: nn.Module, coords: torch.Tensor, chunk: int, memory_budget: float) -> torch.Tensor:
    """Generic path: per-point gradients by vmap(grad), K accumulated per parameter block.

    Jacobian chunks are kept for reuse while they fit in `memory_budget` bytes, else recomputed
    per block pair, so memory stays bounded for large M × P.
    """
    m = coords.shape[0]
    device = coords.device
    n_params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad)
    starts = list(range(0, m, chunk)) + [m]
    cache_all = m * n_params * coords.element_size() <= memory_budget
    jacobian = _chunk_jacobian_fn(model)
    cached = {i: jacobian(coords[starts[i]:starts[i + 1]]) for i in range(len(starts) - 1)} if cache_all else {}
    kernel = torch.zeros(m, m, dtype=torch.float64, device=device)
    for i in range(len(starts) - 1):
        block_i = cached.get(i) or jacobian(coords[starts[i]:starts[i + 1]])
        for j in range(i, len(starts) - 1):
            block_j = block_i if j == i else (cached.get(j) or jacobian(coords[starts[j]:starts[j + 1]]))
            acc = torch.zeros(starts[i + 1] - starts[i], starts[j + 1] - starts[j], dtype=torch.float64,
                              device=device)
            for name, jac_i in block_i.items():  # K = Σ_p J_p J_pᵀ, never concatenating J
                a = jac_i.reshape(jac_i.shape[0], -1)
                b = block_j[name].reshape(block_j[name].shape[0], -1)
                acc += ((a @ b.conj().T).real if a.is_complex() else a @ b.T).to(torch.float64)
            kernel[starts[i]:starts[i + 1], starts[j]:starts[j + 1]] = acc.double()
            if j != i:
                kernel[starts[j]:starts[j + 1], starts[i]:starts[i + 1]] = acc.double().T
    return kernel


def slow_ntk(model: nn.Module, coords: torch.Tensor) -> np.ndarray:
    """Reference kernel from one autograd pass per point (tests only; O(M) backward passes)."""
    rows = []
    params = [p for p in model.parameters() if p.requires_grad]
    for x in coords:
        grads = torch.autograd.grad(model(x[None]).sum(), params)
        rows.append(torch.cat([torch.view_as_real(g).reshape(-1) if g.is_complex() else g.reshape(-1)
                               for g in grads]))
    jacobian = torch.stack(rows).double()
    return (jacobian @ jacobian.T).cpu().numpy()


# ----------------------------------------------------------------------------------------------
def power_spectrum(vectors: np.ndarray, grid: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """|FFT|² of each column of `vectors` (M, n) on `grid`; 2D radially averaged.

    Returns (k, P) with P of shape (len(k), n); k in cycles across the whole domain.
    """
    if len(grid) == 1:
        spectrum = np.abs(np.fft.rfft(vectors, axis=0)) ** 2
        return np.arange(spectrum.shape[0]), spectrum
    h, w = grid
    images = vectors.reshape(h, w, -1)
    spectrum = np.abs(np.fft.fft2(images, axes=(0, 1))) ** 2  # (h, w, n)
    radius = np.sqrt((np.fft.fftfreq(h) * h)[:, None] ** 2 + (np.fft.fftfreq(w) * w)[None, :] ** 2)
    bins = np.rint(radius).astype(int).reshape(-1)
    n_bins = min(h, w) // 2 + 1  # beyond this the rings are incomplete
    flat = spectrum.reshape(h * w, -1)
    keep = bins < n_bins
    sums = np.zeros((n_bins, flat.shape[1]))
    np.add.at(sums, bins[keep], flat[keep])
    counts = np.bincount(bins[keep], minlength=n_bins)[:, None]
    return np.arange(n_bins), sums / np.maximum(counts, 1)


@dataclass
class NTKResult:
    """Small numpy summary of an eNTK, ready to plot. Eigenpairs sorted by descending λ."""

    eigenvalues: np.ndarray  # (M,) clamped at 0 (fp noise gives tiny negatives)
    k: np.ndarray  # frequency index, cycles across the sub-grid's extent
    spectrum: np.ndarray  # S(k) = Σ_i λ_i |v̂_i(k)|²  (WINNER Eq. 6)
    target_spectrum: np.ndarray  # |ŷ(k)|² of the target on the same sub-grid
    target_projections: np.ndarray  # |c_i| = |v_iᵀ y| (SBS Fig. 2 D–F), root-sum-square over channels
    residual_projections: np.ndarray | None  # |v_iᵀ (f − y)|: where the remaining error lives
    kernel_preview: np.ndarray  # normalised K_ij / √(K_ii K_jj), at most 128×128
    condition_number: float  # λ_max / λ_min over the numerically non-zero λ
    effective_rank: float  # exp(entropy of λ / Σλ) (Roy & Vetterli 2007)
    num_points: int
    subgrid: tuple[int, ...]
    seconds: float
    layout: str = "strided"
    note: str = ""  # what the kernel is beyond K = JJᵀ (sum-of-outputs for C > 1, detached parts, ...)
    precision: str = "float64"  # of the kernel's construction (forward, Jacobians, Gram)
    eigenvectors: np.ndarray | None = field(default=None, repr=False)


def analyse_kernel(kernel: np.ndarray, grid: tuple[int, ...], target: np.ndarray,
                   prediction: np.ndarray | None = None, keep_eigenvectors: bool = False,
                   seconds: float = 0.0) -> NTKResult:
    """Eigen-decompose K (float64) and derive S(k), projections, conditioning."""
    kernel = 0.5 * (kernel + kernel.T)
    eigenvalues, eigenvectors = np.linalg.eigh(kernel)
    return summarise_eigenpairs(eigenvalues, eigenvectors, grid, target, prediction, _preview(kernel),
                                keep_eigenvectors, seconds)


def _preview(kernel: np.ndarray) -> np.ndarray:
    """Normalised K_ij / √(K_ii K_jj) on at most 128×128 of the points (every s-th)."""
    diagonal = np.sqrt(np.clip(np.diag(kernel), 1e-300, None))
    stride = max(1, math.ceil(kernel.shape[0] / 128))
    return (kernel / diagonal[:, None] / diagonal[None, :])[::stride, ::stride]


def summarise_eigenpairs(eigenvalues: np.ndarray, eigenvectors: np.ndarray, grid: tuple[int, ...],
                         target: np.ndarray, prediction: np.ndarray | None, preview: np.ndarray,
                         keep_eigenvectors: bool = False, seconds: float = 0.0) -> NTKResult:
    """S(k), projections, conditioning from eigenpairs (all M of them, or the top k of a
    matrix-free solve: then S(k) and the projections are those of the top k)."""
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = np.clip(eigenvalues[order], 0.0, None), eigenvectors[:, order]
    k, eigen_power = power_spectrum(eigenvectors, grid)
    spectrum = eigen_power @ eigenvalues
    target = target.reshape(target.shape[0], -1)
    _, target_power = power_spectrum(target, grid)
    projections = np.sqrt(((eigenvectors.T @ target) ** 2).sum(axis=1))
    residual = None
    if prediction is not None:
        residual = np.sqrt(((eigenvectors.T @ (prediction.reshape(target.shape) - target)) ** 2).sum(axis=1))
    positive = eigenvalues[eigenvalues > eigenvalues[0] * 1e-13] if eigenvalues[0] > 0 else eigenvalues[:1]
    weights = eigenvalues / max(eigenvalues.sum(), 1e-300)
    weights = weights[weights > 0]
    return NTKResult(
        eigenvalues=eigenvalues, k=k, spectrum=spectrum, target_spectrum=target_power.sum(axis=1),
        target_projections=projections, residual_projections=residual, kernel_preview=preview,
        condition_number=float(positive[0] / positive[-1]) if positive[-1] > 0 else math.inf,
        effective_rank=float(np.exp(-(weights * np.log(weights)).sum())), num_points=eigenvectors.shape[0],
        subgrid=tuple(grid), seconds=seconds, eigenvectors=eigenvectors if keep_eigenvectors else None)


# ----------------------------------------------------------------------------------------------
# Matrix-free: the top eigenpairs of K for many points, never forming K
# ----------------------------------------------------------------------------------------------
# Above these N, ntk_diagnostics solves for the top eigenpairs only. Measured on 2 CPU cores
# (bench/bench_diagnostics.py --only spectrum, SIREN 4×256, float64): dense 0.15 / 0.82 / 4.2 s at
# N = 1k / 2k / 4k, Lanczos 1.6 / 3.2 / 10.5 s, so dense up to the CPU limit; the dense K holds
# 8·N² bytes (2.1 GB at 16k), so on CUDA the matrix-free path takes over earlier (unmeasured here).
DENSE_MAX_POINTS = {"cpu": 4096, "cuda": 2048}
TOP_EIGENPAIRS = 64


class LayerwiseKernel:
    """K·v for K = Σ_l [(Δ_lΔ_lᴴ) ⊙ conj(H_lH_lᴴ) + Δ_lΔ_lᴴ (bias)] (real part), from the layers'
    inputs H_l (M, in) and output gradients Δ_l (M, out), captured once; K is never formed:

    [(ΔΔᴴ ⊙ conj(HHᴴ)) v]_i = Σ_ab Δ_ia conj(H_ib) G_ab with G = Δᴴ diag(v) H (out, in),
    i.e. rowsum(Δ ⊙ (conj(H) Gᵀ)): O(M·in·out) per layer, what one backward pass costs."""

    def __init__(self, model: nn.Module, coords: torch.Tensor):
        if not _linear_only(model) or _has_training_batch_norm(model):
            raise ValueError("the matrix-free kernel needs a model whose parameters all sit in nn.Linear layers")
        self.size, self.device = coords.shape[0], coords.device
        self.layers = _layer_factors(model, coords)

    def matvec(self, vector: torch.Tensor) -> torch.Tensor:
        """K v for v (M,) float64 on the kernel's device."""
        out = torch.zeros(self.size, dtype=torch.float64, device=self.device)
        for h, delta, bias in self.layers:
            weighted = delta.conj() * vector.to(delta.dtype)[:, None]  # diag(v) Δ, conjugated: (M, out)
            gram = weighted.T @ h  # G = Δᴴ diag(v) H: (out, in)
            product = (delta * (h.conj() @ gram.T)).sum(dim=1)  # rowsum(Δ ⊙ conj(H) Gᵀ): (M,)
            if bias:
                product = product + delta @ weighted.sum(dim=0)  # Δ Δᴴ v
            out += (product.real if product.is_complex() else product).double()
        return out


def top_eigenpairs(model: nn.Module, coords: torch.Tensor, count: int = TOP_EIGENPAIRS,
                   tolerance: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """(λ (count,), V (M, count)) of K's largest eigenvalues by implicitly restarted Lanczos
    (scipy's ARPACK eigsh) on the layer-wise product: memory O(M·width·depth), never M²."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    operator = LayerwiseKernel(model, coords)
    m = operator.size
    count = min(count, m - 1)

    def matvec(vector: np.ndarray) -> np.ndarray:
        v = torch.as_tensor(np.ascontiguousarray(vector).reshape(-1), dtype=torch.float64, device=operator.device)
        return operator.matvec(v).cpu().numpy()

    start = np.random.default_rng(0).standard_normal(m)  # a fixed start vector: the same answer every call
    eigenvalues, eigenvectors = eigsh(LinearOperator((m, m), matvec=matvec, dtype=np.float64), k=count,
                                      which="LA", tol=tolerance, v0=start, ncv=min(m, max(2 * count + 1, 20)))
    return eigenvalues, eigenvectors


def ntk_diagnostics(model: nn.Module, coords: np.ndarray | torch.Tensor, grid: tuple[int, ...],
                    target: np.ndarray, max_points: int = 256, prediction: np.ndarray | None = None,
                    chunk: int = 256, keep_eigenvectors: bool = False, layout: str = "auto",
                    precision: str = "float64", dense_max_points: int | None = None) -> NTKResult:
    """eNTK of `model` on a regular sub-grid of ≤ max_points of the signal, analysed.

    `coords` (N, d) and `target` / `prediction` (N, C) on the full grid; the sub-grid (see
    `subgrid` for the layouts) is taken here. Works on whatever device the model is on;
    returns host numpy data. precision "float64" (default) builds the kernel with a float64
    copy of the network (batch norm frozen at the full batch's statistics); "float32" uses the
    model as it is. Above `dense_max_points` (None: DENSE_MAX_POINTS for the device) a model of
    Linear layers gets its top TOP_EIGENPAIRS eigenpairs by matrix-free Lanczos instead.
    """
    if precision not in ("float64", "float32"):
        raise ValueError("precision must be 'float64' or 'float32'")
    start = time.perf_counter()
    index, sub = subgrid(grid, max_points, layout)
    device = next(model.parameters()).device
    full = torch.as_tensor(np.asarray(coords), device=device) if isinstance(coords, np.ndarray) else coords.to(device)
    if precision == "float64":
        model = diagnostic_copy(model, full if _has_batch_norm(model) else None)
        full = full.to(torch.float64)
    points = full[torch.as_tensor(index, device=device)]
    target_sub = np.asarray(target)[index]
    prediction_sub = None if prediction is None else np.asarray(prediction)[index]
    dense_max = dense_max_points or DENSE_MAX_POINTS.get(device.type, DENSE_MAX_POINTS["cuda"])
    matrix_free = len(index) > dense_max and _linear_only(model) and not _has_training_batch_norm(model)
    if matrix_free:  # the top eigenpairs; the preview from the dense kernel of every s-th point
        stride = max(1, math.ceil(len(index) / 128))
        preview_kernel = empirical_ntk(model, points[::stride], chunk=chunk)
        _check_finite(preview_kernel)
        eigenvalues, eigenvectors = top_eigenpairs(model, points)
        result = summarise_eigenpairs(eigenvalues, eigenvectors, sub, target_sub, prediction_sub,
                                      _preview(preview_kernel), keep_eigenvectors, time.perf_counter() - start)
        result.note = (f"top {len(eigenvalues)} of {len(index)} eigenpairs (matrix-free Lanczos): S(k), projections, "
                       "effective rank and condition number (a lower bound) from those")
    else:
        kernel = empirical_ntk(model, points, chunk=chunk)
        _check_finite(kernel)
        result = analyse_kernel(kernel, sub, target_sub, prediction_sub, keep_eigenvectors,
                                seconds=time.perf_counter() - start)
    result.layout = layout if layout != "auto" else ("window" if len(grid) == 1 else "strided")
    result.precision = precision
    if target_sub.ndim > 1 and target_sub.shape[1] > 1:
        channels = f"sum-of-outputs kernel over the {target_sub.shape[1]} channels (pseudo-NTK)"
        result.note = "; ".join(n for n in (channels, result.note) if n)
    return result


def _check_finite(kernel: np.ndarray) -> None:
    if not np.all(np.isfinite(kernel)):
        raise FloatingPointError("the empirical NTK is not finite: the network's weights or gradients overflowed "
                                 "(training diverged?)")


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


# ----------------------------------------------------------------------------------------------
# The linear-dynamics picture (IGA Eq. 1, SBS Sec. 3): training error per eigen-direction
# ----------------------------------------------------------------------------------------------
def predicted_residual_decay(eigenvalues: np.ndarray, initial_projections: np.ndarray, lr: float, steps: np.ndarray,
                             num_points: int) -> np.ndarray:
    """|vᵢᵀ r(t)| under full-batch gradient descent on the MSE in the linear (fixed-kernel) regime:
    r(t) = (I − η(2/N)K)ᵗ r(0), so each eigen-direction decays as |1 − η(2/N)λᵢ|ᵗ (IGA Eq. 1).
    Returns (directions, len(steps)): large-λ (fast) directions first."""
    factor = np.abs(1.0 - lr * 2.0 / num_points * np.asarray(eigenvalues, dtype=np.float64))
    return np.abs(initial_projections)[:, None] * factor[:, None] ** np.asarray(steps, dtype=np.float64)[None, :]


def updates_before(snapshot_steps) -> np.ndarray:
    """Gradient updates behind each Snapshot's prediction: the loss and prediction at step t are
    computed before update t, so they belong to t − 1 updates (step 0, the initial state: 0)."""
    steps = np.asarray(snapshot_steps, dtype=np.int64)
    return np.maximum(steps - 1, 0)


def decay_directions(predicted: np.ndarray, remaining=(0.1, 0.5, 0.9), min_share: float = 0.01) -> list[int]:
    """Eigen-directions whose predicted residual ends nearest each `remaining` fraction of its
    start (0.1 = a 90% decay), among directions holding ≥ min_share of the largest initial
    projection (a direction with nothing in it has no decay to check)."""
    start, end = predicted[:, 0], predicted[:, -1]
    fraction = end / np.maximum(start, 1e-300)
    candidates = np.nonzero(start >= min_share * start.max())[0]
    return [int(candidates[np.argmin(np.abs(fraction[candidates] - r))]) for r in remaining]


def normalised_deviation(predicted: np.ndarray, measured: np.ndarray, directions: list[int]) -> np.ndarray:
    """Per direction: the largest |measured − predicted| over all checkpoints divided by that
    direction's own predicted decay (start − end). 0: the linear dynamics hold exactly; ≈ 1: the
    residual did not move as predicted (a frozen network scores 1 on every direction)."""
    rows = np.asarray(directions)
    decay = predicted[rows, 0] - predicted[rows, -1]
    return np.abs(measured[rows] - predicted[rows]).max(axis=1) / np.maximum(decay, 1e-300)


def measured_residual_projections(eigenvectors: np.ndarray, target: np.ndarray, predictions: list[np.ndarray]
                                  ) -> np.ndarray:
    """|vᵢᵀ (f(t) − y)| for predictions (N, C) taken during training: (directions, times)."""
    target = np.asarray(target, dtype=np.float64).reshape(target.shape[0], -1)
    columns = [np.sqrt(((eigenvectors.T @ (np.asarray(p, np.float64).reshape(target.shape) - target)) ** 2).sum(axis=1))
               for p in predictions]
    return np.stack(columns, axis=1)
