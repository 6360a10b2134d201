"""The sine family: SIREN, SIREN² (WINNER), SPDER, FINER, FINER++, H-SIREN.

Parameterisation (it changes NTK magnitudes, and users compare NTKs across methods): every
activation here keeps ω₀ *inside* the nonlinearity, φ(z) = sin(ω₀z) with z = Wx + b, as SIREN's
reference code does, rather than folding ω₀ into W. Gradients w.r.t. W therefore carry a factor
ω₀, and NTK magnitudes scale with ω₀².
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal, spectral_centroid
from .network import mlp, sine_family_mlp, uniform_bias
from .registry import MethodSpec, knob_default, register

SINE_PARAM = "ω₀ inside the activation: sin(ω₀(Wx+b)); W not pre-scaled by ω₀"


class Sine(nn.Module):
    """SIREN: φ(z) = sin(ω₀ z) (Sitzmann et al. 2020, Eq. 1). ω₀ inside the sine."""

    def __init__(self, omega0: float = 30.0):
        super().__init__()
        self.omega0 = float(omega0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega0 * z)

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}"


DAMPINGS = ("sqrt", "log", "arctan")


class SpderActivation(nn.Module):
    """SPDER (Eq. 3): φ(z) = sin(ω₀z)·δ(ω₀z), δ sublinear. ω₀ inside, as SIREN.

    δ = √|x| (default; |x| clamped away from 0 so the gradient stays finite, SPDER App. A.13),
    log|x| (clamped likewise) or arctan(x) (the paper's best for audio).
    """

    def __init__(self, omega0: float = 30.0, damping: str = "sqrt"):
        super().__init__()
        if damping not in DAMPINGS:
            raise ValueError(f"damping must be one of {DAMPINGS}")
        self.omega0, self.damping = float(omega0), damping

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.omega0 * z
        if self.damping == "sqrt":
            delta = torch.sqrt(x.abs().clamp_min(1e-12))
        elif self.damping == "log":
            delta = torch.log(x.abs().clamp_min(1e-12))
        else:
            delta = torch.atan(x)
        return torch.sin(x) * delta

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}, damping={self.damping}"


class FinerActivation(nn.Module):
    """FINER: φ(z) = sin(ω₀ (|z| + 1) z), the scale |z|+1 detached from the graph (FINER Eq. 4)."""

    def __init__(self, omega0: float = 30.0):
        super().__init__()
        self.omega0 = float(omega0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        scale = z.detach().abs() + 1.0
        return torch.sin(self.omega0 * scale * z)

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}"


FINER_BASES = ("sine", "gauss", "gabor")


class FinerPPActivation(nn.Module):
    """FINER++ (Zhu et al., arXiv 2407.19434, Eq. 6–8): a base activation evaluated at the
    variable-period argument α(z)·z with α(z) = |z| + 1 (detached, as FINER): sine sin(ω αz),
    Gauss exp(−(s αz)²), or a real Gabor wavelet cos(ω αz)·exp(−(s αz)²)."""

    def __init__(self, base: str = "gauss", omega: float = 30.0, scale: float = 10.0):
        super().__init__()
        if base not in FINER_BASES:
            raise ValueError(f"base must be one of {FINER_BASES}")
        self.base, self.omega0, self.scale = base, float(omega), float(scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        stretched = (z.detach().abs() + 1.0) * z
        if self.base == "sine":
            return torch.sin(self.omega0 * stretched)
        envelope = torch.exp(-(self.scale * stretched).square())
        return envelope if self.base == "gauss" else torch.cos(self.omega0 * stretched) * envelope

    def extra_repr(self) -> str:
        return f"base={self.base}, omega0={self.omega0}, scale={self.scale}"


class HyperbolicSine(nn.Module):
    """H-SIREN's first layer (Gao & Jaiman, arXiv 2410.04716, Eq. 6): φ(z) = sin(ω₀·sinh(2z)); the
    sinh stretches the coordinate's ends, so the layer starts with higher frequencies there."""

    def __init__(self, omega0: float = 30.0):
        super().__init__()
        self.omega0 = float(omega0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega0 * torch.sinh(2.0 * z))

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}"


# ----------------------------------------------------------------------------------------------
# Defaults
# ----------------------------------------------------------------------------------------------
# WINNER Eq. 11 hyper-parameters [s0_max, a, b]. Audio: a = 7 (the text says 5, but 7
# reproduces the paper's own Table 6: tetris ψ = 0.5732 -> s0 = 3436). Images: [50, 5, 0.4].
WINNER_1D = (3500.0, 7.0, 3.0)
WINNER_2D = (50.0, 5.0, 0.4)


def winner_scales(psi: float, channels: int, in_dim: int) -> tuple[float, float]:
    """WINNER Eq. 11: s0 = s0_max (1 − exp(−a ψ/C)), s1 = b ψ/C."""
    s0_max, a, b = WINNER_1D if in_dim == 1 else WINNER_2D
    ratio = psi / channels
    return s0_max * (1.0 - math.exp(-a * ratio)), b * ratio


@torch.no_grad()
def winner_perturb(linear: nn.Linear, scale: float, omega0: float, generator: torch.Generator | None = None) -> None:
    """WINNER Eq. 7–8: W ← W + η, η ~ N(0, (s/ω₀)²)."""
    if scale > 0:
        noise = torch.randn(linear.weight.shape, generator=generator) * (scale / omega0)
        linear.weight.add_(noise.to(linear.weight))


def first_omega_sine(signal: Signal) -> float:
    # SIREN's audio recipe: first-layer ω₀ ×100 (SIREN scales the inputs ×100; scaling ω₀ scales
    # the first layer's weights and its bias). WINNER Fig. 4 uses ×10 for its 1D synthetic
    # targets. Images keep 30.
    return {"audio": 3000.0, "1d": 300.0}.get(signal.kind, 30.0)


def sine_defaults(signal: Signal, lr: float = 1e-4) -> dict:
    """lr, ω₀ = 30 and the first layer's ω₀ by kind of signal: the sine family's defaults."""
    return {"lr": lr, "omega0": 30.0, "first_omega0": first_omega_sine(signal)}


def _siren2_defaults(signal: Signal) -> dict:
    defaults = {"lr": 1e-4, "omega0": 30.0, "first_omega0": 30.0}
    if not hasattr(signal, "values"):  # a saved model rebuilt from the signal's shape: its config has s0, s1
        return {**defaults, "s0": 0.0, "s1": 0.0}
    s0, s1 = winner_scales(spectral_centroid(signal), signal.channels, signal.in_dim)
    return {**defaults, "s0": round(s0, 4), "s1": round(s1, 4)}


for knob, value in (("omega0", 30.0), ("first_omega0", 30.0), ("bias_scale", 0.0), ("damping", "sqrt"),
                    ("finer_base", "gauss"), ("s0", 0.0), ("s1", 0.0)):
    knob_default(knob, lambda signal, value=value: value)


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------
def _layer_omega(cfg: RunConfig, i: int) -> float:
    return cfg.first_omega0 if i == 0 else cfg.omega0


def build_siren(cfg: RunConfig, signal: Signal) -> nn.Module:
    return sine_family_mlp(cfg, signal, lambda i: Sine(_layer_omega(cfg, i)))


def build_siren2(cfg: RunConfig, signal: Signal) -> nn.Module:
    """SIREN², WINNER Eq. 9: SIREN init, then W1 += N(0,(s0/ω₀)²), W2 += N(0,(s1/ω₀)²) (Eq. 7–8)."""
    model = build_siren(cfg, signal)
    winner_perturb(model.linears[0], cfg.s0, cfg.first_omega0)
    if len(model.linears) > 1:
        winner_perturb(model.linears[1], cfg.s1, cfg.omega0)
    return model


def build_spder(cfg: RunConfig, signal: Signal) -> nn.Module:
    return sine_family_mlp(cfg, signal, lambda i: SpderActivation(_layer_omega(cfg, i), cfg.damping))


def build_finer(cfg: RunConfig, signal: Signal) -> nn.Module:
    """FINER: SIREN-style weights, first-layer bias U(±k) (k = bias_scale; FINER++ uses larger k)."""
    model = sine_family_mlp(cfg, signal, lambda i: FinerActivation(_layer_omega(cfg, i)))
    uniform_bias(model.linears[0], cfg.bias_scale)
    return model


def build_finer_pp(cfg: RunConfig, signal: Signal) -> nn.Module:
    """FINER++: PyTorch default weights (its Gauss/wavelet variants, as WIRE/Gauss), sine base with
    SIREN's init; the first layer's bias U(±k) widens the range of periods (FINER++ Sec. 3.3)."""
    def activation(i: int) -> nn.Module:
        first = i == 0
        return FinerPPActivation(cfg.finer_base, _layer_omega(cfg, i),
                                 cfg.first_omega0 if first and cfg.finer_base == "gauss" else cfg.gauss_scale)

    model = (sine_family_mlp(cfg, signal, activation) if cfg.finer_base == "sine" else mlp(cfg, signal, activation))
    uniform_bias(model.linears[0], cfg.bias_scale)
    return model


def build_hsiren(cfg: RunConfig, signal: Signal) -> nn.Module:
    return sine_family_mlp(cfg, signal, lambda i: HyperbolicSine(cfg.first_omega0) if i == 0 else Sine(cfg.omega0))


PERIODIC = "periodic activations"
register(MethodSpec(
    "siren", build_siren, "Sine activations with SIREN's principled uniform init.",
    "Sitzmann et al., Implicit Neural Representations with Periodic Activation Functions, NeurIPS 2020",
    SINE_PARAM, sine_defaults, ("omega0", "first_omega0"), family=PERIODIC))
register(MethodSpec(
    "siren2", build_siren2,
    "SIREN² = SIREN + WINNER: Gaussian noise on the first two weight matrices, scaled by the target's spectral centroid.",
    "WINNER: Weight Initialization with Noise for NEural Representations (SIREN²), 2025",
    SINE_PARAM + "; first-layer ω₀ stays 30 (no ×100)", _siren2_defaults, ("omega0", "s0", "s1"), family=PERIODIC))
register(MethodSpec(
    "spder", build_spder, "Sine times a sublinear damping δ: sin(ω₀z)·δ(ω₀z).",
    "Shah & Sitawarin, SPDER: Semiperiodic Damping-Enabled Object Representation, ICLR 2024",
    SINE_PARAM + "; ω₀ = 30 in every layer (first layer ×100 for audio, as WINNER runs every baseline), SIREN init",
    # SPDER App. (audio): lr 5×10⁻⁵ with the ×100 input scale; 1×10⁻⁴ elsewhere (Sec. 4 defaults)
    lambda s: {**sine_defaults(s, 5e-5 if s.kind == "audio" else 1e-4),
               "damping": "arctan" if s.kind == "audio" else "sqrt"}, ("omega0", "first_omega0", "damping"),
    family=PERIODIC))
register(MethodSpec(
    "finer", build_finer, "Variable-periodic sine sin(ω₀(|z|+1)z), scale detached; larger first-layer bias widens support.",
    "Liu et al., FINER: Flexible Spectral-bias Tuning in Implicit Neural Representation, CVPR 2024",
    SINE_PARAM + "; |z|+1 detached", lambda s: {**sine_defaults(s), "bias_scale": 1.0},
    ("omega0", "first_omega0", "bias_scale"), family=PERIODIC))
register(MethodSpec(
    "finer_pp", build_finer_pp, "FINER++: Gauss / Gabor / sine at the variable-period argument (|z|+1)z, wide first bias.",
    "Zhu et al., FINER++: Building a Family of Variable-periodic Functions for Activating Implicit Neural "
    "Representation, arXiv 2407.19434 (2024)",
    "ω, s inside the activation, |z|+1 detached; first layer's s (Gauss) or ω (sine, Gabor) = first_omega0, bias "
    "U(±k); PyTorch default init for Gauss/Gabor, SIREN's for sine",
    # Audio: the Gabor base at ω 300 (16.1 dB on chip_melody in 200 steps vs 7.5 for a zero output;
    # Gauss bumps stay at 7.5–7.6 for every first-layer s from 10 to 3000 we tried: 128 bumps cannot
    # draw a melody with ~880 cycles across the clip). Elsewhere the Gauss base with s = 10.
    lambda s: {"lr": 1e-3, "finer_base": "gabor" if s.kind == "audio" else "gauss",
               "first_omega0": 300.0 if s.kind == "audio" else 10.0, "omega0": 10.0, "gauss_scale": 10.0,
               "bias_scale": 1.0},
    ("finer_base", "first_omega0", "omega0", "gauss_scale", "bias_scale"), family="wavelets and bumps"))
register(MethodSpec(
    "hsiren", build_hsiren, "H-SIREN: a SIREN whose first activation is sin(ω₀·sinh(2z)), more frequencies at the ends.",
    "Gao & Jaiman, H-SIREN: Improving Implicit Neural Representations with Hyperbolic Periodic Functions, "
    "arXiv 2410.04716 (2024)", SINE_PARAM + "; first layer sin(ω₀ sinh(2z)) (Eq. 6 as we read it: ω₀ outside "
    "the sinh); SIREN init", sine_defaults, ("omega0", "first_omega0"), family=PERIODIC))
