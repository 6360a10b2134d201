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
FR_BASES = ("paper", "frame")
FR_PHASE_OFFSET = math.pi / 4  # see frame_basis
FR_MAX_CONDITION = 1e3  # for the frame; the paper's basis is used as it is, whatever its rank
FR_RANK_TOLERANCE = 1e-6  # singular values below this × σ_max count as null (float32 resolves ~1e-7)
# α per architecture, as the reference runs set it (FR-INR's modules.py docstring: 0.05 for ReLU, 0.01 for
# "sin and so on"; the IGA reference's FR baselines of Table 1: 0.001 ReLU, 0.05 PE, ≈0.004 SIREN — the
# table `reproduce iga-table1` checks, so we take those). Architectures the references never ran get 0.01.
FR_ALPHA = {"relu": 1e-3, "relu_pe": 0.05, "relu_rff": 0.05, "siren": 4e-3, "siren2": 4e-3}
FR_DEFAULT_ALPHA = 0.01


def fr_default_alpha(architecture: str) -> float:
    return FR_ALPHA.get(architecture, FR_DEFAULT_ALPHA)


def reference_basis(in_features: int, low: int, high: int, phases: int) -> torch.Tensor:
    """The FR paper's over-complete cosine basis ((low + high)·P, in_features), float64, built as its
    reference code (FR-INR `init_bases`) builds it:

    ω ∈ {k/low : k = 1..low} then {1, 2, ..., high} (frequency-major rows, phases inner);
    z_j = linspace(−T/2, T/2, in_features), both end points included, T = 2π·low (the period of the
    lowest frequency; 2π when low = 0);
    φ_p = 2πp/P.
    Its singular values fall off steeply: at in_features = 256, low = high = 128, P = 32 the
    condition number is ~1e12 and one input direction is numerically null (see FourierLinear)."""
    if min(in_features, phases) < 1 or min(low, high) < 0 or low + high < 1:
        raise ConfigError("the FR basis needs in_features, phases ≥ 1 and at least one frequency")
    omegas = torch.cat([torch.arange(1, low + 1, dtype=torch.float64) / max(low, 1),
                        torch.arange(1, high + 1, dtype=torch.float64)])
    period = 2 * math.pi * low if low else 2 * math.pi
    z = torch.linspace(-period / 2, period / 2, in_features, dtype=torch.float64)
    phi = 2 * math.pi * torch.arange(phases, dtype=torch.float64) / phases
    angles = omegas[:, None, None] * z[None, None, :] + phi[None, :, None]  # (low+high, P, in)
    return torch.cos(angles).reshape(-1, in_features)


def frame_basis(in_features: int, phases: int) -> torch.Tensor:
    """A well-conditioned variant ((in_features·P, in_features), float64): the reference's low
    frequencies k/in (k = 1..in) on a *periodic* grid (end point left out), so they are exact
    harmonics of the window, with phases shifted by π/4 (with phase 0 alone every row is even on the
    symmetric grid and B spans half the space). The result is a tight frame: BᵀB = P·in/2·I
    exactly, so with SGD, FR on this basis is only a learning-rate change of the hidden layers."""
    if min(in_features, phases) < 1:
        raise ConfigError("the FR basis needs in_features and phases ≥ 1")
    omegas = torch.arange(1, in_features + 1, dtype=torch.float64) / in_features
    period = 2 * math.pi * in_features
    z = -period / 2 + period * torch.arange(in_features, dtype=torch.float64) / in_features
    phi = 2 * math.pi * torch.arange(phases, dtype=torch.float64) / phases + FR_PHASE_OFFSET
    angles = omegas[:, None, None] * z[None, None, :] + phi[None, :, None]  # (in, P, in)
    return torch.cos(angles).reshape(-1, in_features)


def fr_basis(kind: str, in_features: int, phases: int, alpha: float) -> torch.Tensor:
    """α·B (float64) for `kind`: "paper" with the reference's low = high = 128 frequencies at width
    256, i.e. low = ⌈in/2⌉, high = ⌊in/2⌋ at other widths; or "frame"."""
    if kind == "paper":
        return alpha * reference_basis(in_features, (in_features + 1) // 2, in_features // 2, phases)
    if kind == "frame":
        return alpha * frame_basis(in_features, phases)
    raise ConfigError(f"fr_basis must be one of {', '.join(FR_BASES)}; got {kind!r}")


def basis_rank(basis: torch.Tensor) -> tuple[int, float]:
    """(numerical rank, condition number σ_max/σ_min) of B."""
    singular = torch.linalg.svdvals(basis.double())
    rank = int((singular > FR_RANK_TOLERANCE * singular[0]).sum())
    condition = float(singular[0] / singular[-1]) if singular[-1] > 0 else math.inf
    return rank, condition


def check_full_rank(basis: torch.Tensor) -> float:
    """rank(B) = in_features and well conditioned, or ConfigError; returns the condition number."""
    _, condition = basis_rank(basis)
    if basis.shape[0] < basis.shape[1] or not condition < FR_MAX_CONDITION:
        raise ConfigError(f"FR basis of shape {tuple(basis.shape)} is not full rank (condition number "
                          f"{condition:.3g}); use more frequencies or phases")
    return condition


def preconditioner_spectrum(kind: str, in_features: int, phases: int, alpha: float) -> np.ndarray:
    """Eigenvalues of BᵀB, largest first. With SGD an FR layer's weight moves by ΔW = −η·(∂L/∂W)·BᵀB
    (FR paper Sec. 3, Theorem 2): BᵀB is a fixed preconditioner on the layer's input directions,
    and its spread, not its scale, is what FR adds over an lr change."""
    basis = fr_basis(kind, in_features, phases, alpha)
    return np.sort(np.clip(torch.linalg.eigvalsh(basis.T @ basis).numpy(), 0.0, None))[::-1]


def describe_preconditioner(spectrum: np.ndarray) -> str:
    """BᵀB's eigenvalues in words: how many input directions share the typical rate, the extremes."""
    median = float(np.median(spectrum))
    null = int((spectrum < FR_RANK_TOLERANCE * spectrum[0]).sum())
    typical = int((np.abs(spectrum - median) <= 0.1 * median).sum())
    if typical == len(spectrum):
        return f"all {len(spectrum)} input directions at one rate (with SGD only an lr change)"
    text = f"{typical} of {len(spectrum)} input directions at one rate, the fastest ×{spectrum[0] / median:.2f}"
    return text + (f", {null} never updated" if null else "")


def fr_preconditioner(config) -> np.ndarray | None:
    """BᵀB's spectrum for a resolved config's FR layers (hidden width in, hidden width out), or None."""
    _, modifiers = split_method(config.method)
    if "fr" not in modifiers or config.depth < 2:
        return None
    return preconditioner_spectrum(config.fr_basis, config.width, config.fr_phases, config.fr_alpha)


def sgd_update_beyond_lr(config, signal, layer: int = 1, lr: float = 1e-2) -> float:
    """The share of one SGD step on an FR layer that no learning rate of plain SGD explains:
    ‖ΔW − c·G‖/‖ΔW‖ at the least-squares c, where ΔW is FR's change of the folded weight and G
    plain SGD's gradient of the same (folded) network at the same point. float64 throughout.
    ≈ 0 for a tight frame (BᵀB = c·I), clearly above 0 where BᵀB has a spread."""
    import copy

    from .methods import build_model

    if "fr" not in split_method(config.method)[1]:
        raise ConfigError(f"{config.method} has no FR layers")
    coords = torch.from_numpy(signal.coords).double()
    target = torch.from_numpy(signal.values).double()
    model = build_model(config, signal).double()
    plain = copy.deepcopy(model)
    fold_fourier_layers(plain)  # the same function as plain Linear layers
    before = model.linears[layer].weight.detach().clone()
    torch.mean((model(coords) - target) ** 2).backward()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter -= lr * parameter.grad
    update = model.linears[layer].weight.detach() - before
    torch.mean((plain(coords) - target) ** 2).backward()
    gradient = plain.linears[layer].weight.grad
    rate = (update * gradient).sum() / (gradient * gradient).sum()  # the best plain-SGD lr, least squares
    return float((update - rate * gradient).norm() / update.norm())


class FourierLinear(nn.Module):
    """Linear layer trained as W = Λ B (B fixed, M×in, scaled by α), FR paper Eq. 3.

    basis "paper": B as the FR reference builds it and Λ initialised as it does, column i drawn
      U(±√(6/M)/‖B_i‖)/ω₀ (ω₀ of a sine-family activation, else 1), which gives W the variance of
      Kaiming's (ReLU) or SIREN's init (sines). The network then does not start as the base
      method's. B is numerically rank-deficient: W = ΛB stays in B's row space, so the `in − rank`
      input directions B cannot represent are never used by the layer (one of 256 at the reference's
      size); we keep that, as the reference does, and report the rank.
    basis "frame": the tight frame, Λ = W₀B⁺ so ΛB = W₀ exactly: the network starts as the base
      method's and only the training dynamics change — with SGD by a plain lr factor.
    """

    def __init__(self, linear: nn.Linear, basis_kind: str = "paper", phases: int = 32, alpha: float = 0.01,
                 omega0: float = 1.0):
        super().__init__()
        in_features = linear.in_features
        basis = fr_basis(basis_kind, in_features, phases, alpha)
        if basis_kind == "frame":
            self.condition = check_full_rank(basis)
            self.rank = in_features
            with torch.no_grad():
                coefficients = linear.weight.double().cpu() @ torch.linalg.pinv(basis)
        else:
            self.rank, self.condition = basis_rank(basis)
            rows = basis.shape[0]
            bound = math.sqrt(6 / rows) / basis.norm(dim=1) / omega0  # (M,), one per column of Λ
            uniform = torch.rand(linear.out_features, rows, dtype=torch.float64)  # the global, seeded generator
            coefficients = (2 * uniform - 1) * bound[None, :]
        self.basis_kind = basis_kind
        self.register_buffer("basis", basis.to(linear.weight))
        self.coefficients = nn.Parameter(coefficients.to(linear.weight))  # Λ: (out, M)
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None
        if self.bias is not None and basis_kind == "paper":
            with torch.no_grad():
                self.bias.zero_()  # the reference's init_bias
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


def apply_fourier_layers(model, basis_kind: str = "paper", phases: int = 32, alpha: float = 0.01) -> None:
    """Reparameterise every hidden-to-hidden linear (not the first: its 1–2 inputs have no axis
    for a basis to span; not the head), as the FR reference does."""
    if model.complex_hidden:
        raise ConfigError("fr does not support WIRE's complex layers")
    for i in range(1, len(model.linears)):
        omega0 = getattr(model.activations[i], "omega0", 1.0)
        model.linears[i] = FourierLinear(model.linears[i], basis_kind, phases=phases, alpha=alpha, omega0=omega0)


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
        kind = ("the paper's cosine basis (rank-deficient, Λ drawn as its reference)" if config.fr_basis == "paper"
                else "a tight cosine frame (with SGD only an lr change; starts as the plain network)")
        parts.append(f"FR: {kind}, {config.fr_phases} phases, α = {config.fr_alpha:g}")
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
        from .ntk import empirical_ntk

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
