"""FR: Fourier reparameterised training (Shi et al., CVPR 2024). Hidden weights W = ΛB with a
fixed cosine basis B, only Λ trained; `fold_fourier_layers` turns the model back into plain Linear
layers (inference unchanged).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .registry import ModifierSpec, register_modifier, split_method

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


def sgd_update_beyond_lr(model, signal, layer: int = 1, lr: float = 1e-2) -> float:
    """The share of one SGD step on an FR layer that no learning rate of plain SGD explains:
    ‖ΔW − c·G‖/‖ΔW‖ at the least-squares c, where ΔW is FR's change of the folded weight and G
    plain SGD's gradient of the same (folded) network at the same point. `model`: a network built
    with +fr (build_model); it is copied, not changed. float64 throughout.
    ≈ 0 for a tight frame (BᵀB = c·I), clearly above 0 where BᵀB has a spread."""
    if not any(isinstance(linear, FourierLinear) for linear in getattr(model, "linears", [])):
        raise ConfigError("the model has no FR layers (build it with +fr)")
    coords = torch.from_numpy(signal.coords).double()
    target = torch.from_numpy(signal.values).double()
    model = copy.deepcopy(model).double()
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




def _describe(config, signal) -> str:
    kind = ("the paper's cosine basis (rank-deficient, Λ drawn as its reference)" if config.fr_basis == "paper"
            else "a tight cosine frame (with SGD only an lr change; starts as the plain network)")
    return f"FR: {kind}, {config.fr_phases} phases, α = {config.fr_alpha:g}"


register_modifier(ModifierSpec(
    "fr", "Fourier reparameterised training: W = ΛB, fixed over-complete cosine basis B, Λ trained.",
    "Shi et al., Improved Implicit Neural Representation with Fourier Reparameterized Training, CVPR 2024",
    apply=lambda model, config: apply_fourier_layers(model, config.fr_basis, phases=config.fr_phases,
                                                     alpha=config.fr_alpha),
    defaults=lambda architecture, signal, config: {"fr_alpha": fr_default_alpha(architecture)},
    describe=_describe, knobs=("fr_basis", "fr_phases", "fr_alpha")))
