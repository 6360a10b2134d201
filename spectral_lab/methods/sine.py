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
from .network import mlp, sine_family_mlp, siren_initialised, uniform_bias
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


# FINER++'s variants: the reference's default first (FINERplusplus run.sh trains the Gauss one), then
# its wavelet ("Type 2") as a real and as a complex Gabor, then FINER++Sine (= FINER).
FINER_BASES = ("gauss", "gabor", "wire", "sine")


def variable_periodic_sine(z: torch.Tensor, omega: float) -> torch.Tensor:
    """FINER's u = sin(ω α(z) z) with α(z) = |z| + 1 computed without gradient (FINER Eq. 4; FINERplusplus
    models.py and FINER's modules_finer_plus_plus.py, generate_alpha + finer_activation). A complex z (FINER++'s
    wavelet after its first layer) stretches its real and imaginary parts separately, α = |Re z| + 1
    and |Im z| + 1, as finer_activation_complex_sep_real_imag does."""
    if z.is_complex():
        stretched = torch.complex((z.real.detach().abs() + 1.0) * z.real, (z.imag.detach().abs() + 1.0) * z.imag)
        return torch.sin(omega * stretched)
    return torch.sin(omega * (z.detach().abs() + 1.0) * z)


class FinerPPActivation(nn.Module):
    """FINER++ (Zhu et al., arXiv 2407.19434): a classical activation φ evaluated at FINER's variable-
    periodic sine u = sin(ω(|z|+1)z) — the sine sits *inside* φ (the reference's φ∘finer_activation):

      gauss  exp(−(s u)²)                 FINERplusplus models.py GFLayer / gauss_finer_activation (the default)
      gabor  cos(ω_w u)·exp(−(s u)²)      FINER sdf/bacon/modules_finer_plus_plus.py RealWFLayer /
                                          real_wire_finer_activation: the real "Type 2" wavelet
      wire   exp(jω_w u − |s u|²)         models.py WFLayer / wire_finer_activation: the complex "Type 2"
                                          wavelet the reference trains (complex layers after the first)
      sine   u                            FinerLayer: FINER++Sine, i.e. FINER

    ω is the FINER frequency (per layer), s the Gauss scale and ω_w the wavelet's frequency (every layer).
    """

    def __init__(self, base: str = "gauss", omega: float = 10.0, scale: float = 3.0, wavelet_omega: float = 4.0):
        super().__init__()
        if base not in FINER_BASES:
            raise ValueError(f"base must be one of {FINER_BASES}")
        self.base, self.omega0, self.scale, self.wavelet_omega = base, float(omega), float(scale), float(wavelet_omega)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = variable_periodic_sine(z, self.omega0)
        if self.base == "sine":
            return u
        if self.base == "wire":
            return complex_gabor(u, self.wavelet_omega, self.scale)
        envelope = torch.exp(-(self.scale * u).square())
        return envelope if self.base == "gauss" else torch.cos(self.wavelet_omega * u) * envelope

    def extra_repr(self) -> str:
        return f"base={self.base}, omega0={self.omega0}, scale={self.scale}, wavelet_omega={self.wavelet_omega}"


def complex_gabor(u: torch.Tensor, omega: float, scale: float) -> torch.Tensor:
    """WIRE's wavelet exp(jωu − |su|²) of a real or complex u (WIRE Eq. 6), as one exponential of the
    combined real part, exp(−ω Im u − s²|u|²)·e^{jω Re u}: bounded by exp(ω²/4s²), where the product of the
    two factors would overflow to inf·0 = NaN (see wavelets.GaborActivation)."""
    real, imag = (u.real, u.imag) if u.is_complex() else (u, torch.zeros_like(u))
    magnitude = torch.exp(-omega * imag - scale**2 * (real.square() + imag.square()))
    return torch.complex(torch.cos(omega * real), torch.sin(omega * real)) * magnitude


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


FINER_PP_PARAM = (
    "φ(sin(ω(|z|+1)z)), |z|+1 detached, ω inside the sine; φ = exp(−(s·)²) (gauss), cos(ω_w·)·exp(−(s·)²) (gabor), "
    "exp(jω_w· − |s·|²) with complex layers after the first (wire), or the identity (sine = FINER); first layer's ω "
    "= first_omega0, s = gauss_scale and ω_w = wire_omega in every layer; the reference's init: first layer "
    "U(±1/fan_in), later layers and head U(±√(6/fan_in)/Ω), Ω = ω (ω·ω_w for the wavelets), first-layer bias U(±k); "
    "defaults its Gauss variant's (ω 10, s 3, k 1, lr 1e-3; run.sh's Finer++Gauss), the wavelets' its Finer++Wavelet "
    "run's (ω 5, s 2, ω_w 4; the real gabor borrows them), the complex wavelet's width ÷√2 (models.py WF: parameter "
    "parity with the real nets); audio: the Gauss base with first-layer ω 200, ours (the reference has no audio "
    "setting); not reproduced: its SDF code's Gauss normalised to [0, 1]")

# The reference has no audio setting. Its ω 10 leaves chip_melody (8000 samples, ~880 cycles) at 9.1 dB
# after 200 steps (zero output 7.5); first-layer ω 200 reaches 48.9 / 51.6 / 55.9 dB (seeds 0–2), where
# 100 gives 24.6 / 28.4, 150 gives 42.3 / 40.6 / 30.0 and 300 gives 15.6 / 30.3 (width 128, depth 3).
FINER_PP_FIRST_OMEGA = {"audio": 200.0}


def _finer_pp_defaults(signal: Signal) -> dict:
    """FINERplusplus run.sh's Finer++Gauss: --omega 10 --scale 3 --fbs 1 --lr 1e-3 (its WF's ω_w 4)."""
    return {"lr": 1e-3, "finer_base": "gauss", "first_omega0": FINER_PP_FIRST_OMEGA.get(signal.kind, 10.0),
            "omega0": 10.0, "gauss_scale": 3.0, "wire_omega": 4.0, "bias_scale": 1.0}


FINER_PP_WAVELETS = ("gabor", "wire")


def _finer_pp_wavelet_defaults(config: RunConfig, signal: Signal) -> dict:
    """run.sh's Finer++Wavelet (--model_type WF --scale 2 --omega_w 4 --omega 5 --fbs 1 --lr 1e-3): ω 5 in
    every layer and s 2 where the base is a wavelet (audio keeps its first-layer ω 200)."""
    if config.finer_base not in FINER_PP_WAVELETS:
        return {}
    return {"first_omega0": FINER_PP_FIRST_OMEGA.get(signal.kind, 5.0), "omega0": 5.0, "gauss_scale": 2.0}


def finer_pp_width(cfg: RunConfig) -> int:
    """models.py WF: hidden_features = int(hidden_features / √2) for the complex wavelet, whose complex
    weights count twice (parameter parity with the real variants)."""
    return int(cfg.width / math.sqrt(2)) if cfg.finer_base == "wire" else cfg.width


def _finer_pp_init_omega(cfg: RunConfig) -> float:
    """The Ω the reference's init divides by after the first layer: the layer's ω, times ω_w for the
    wavelets (RealWFLayer / WFLayer call init_weights_cond with omega*omega_w); ω alone where ω_w = 0."""
    wavelet = cfg.finer_base in ("gabor", "wire") and cfg.wire_omega > 0
    return cfg.omega0 * cfg.wire_omega if wavelet else cfg.omega0


def build_finer_pp(cfg: RunConfig, signal: Signal) -> nn.Module:
    """FINER++ as its reference (FINERplusplus models.py GF / WF / Finer, run.sh's init_method 'sine'):
    first layer W ~ U(±1/fan_in), later layers and the head U(±√(6/fan_in)/Ω) (init_weights); biases
    PyTorch's default except the first layer's, U(±k) with k = bias_scale (init_bias, the reference's
    fbs: FINER Sec. 3.3's wider first-layer bias). The complex wavelet uses complex layers after the first
    and the real part of the output, as WF."""
    def activation(i: int) -> nn.Module:
        return FinerPPActivation(cfg.finer_base, _layer_omega(cfg, i), cfg.gauss_scale, cfg.wire_omega)

    network = mlp(cfg.replace(width=finer_pp_width(cfg)), signal, activation, complex_hidden=cfg.finer_base == "wire")
    model = siren_initialised(network, cfg.first_omega0, _finer_pp_init_omega(cfg))
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
    "finer_pp", build_finer_pp,
    "FINER++: Gauss / Gabor wavelet of FINER's variable-periodic sine sin(ω(|z|+1)z), wide first bias.",
    "Zhu et al., FINER++: Building a Family of Variable-periodic Functions for Activating Implicit Neural "
    "Representation, arXiv 2407.19434 (2024)",
    FINER_PP_PARAM, _finer_pp_defaults,
    ("finer_base", "first_omega0", "omega0", "gauss_scale", "wire_omega", "bias_scale"), family="wavelets and bumps",
    dependent_defaults=_finer_pp_wavelet_defaults))
register(MethodSpec(
    "hsiren", build_hsiren, "H-SIREN: a SIREN whose first activation is sin(ω₀·sinh(2z)), more frequencies at the ends.",
    "Gao & Jaiman, H-SIREN: Improving Implicit Neural Representations with Hyperbolic Periodic Functions, "
    "arXiv 2410.04716 (2024)", SINE_PARAM + "; first layer sin(ω₀ sinh(2z)) (Eq. 6 as we read it: ω₀ outside "
    "the sinh); SIREN init", sine_defaults, ("omega0", "first_omega0"), family=PERIODIC))
