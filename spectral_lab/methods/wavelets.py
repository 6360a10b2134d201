"""Wavelets and bumps, and the other localised or sharpened activations: WIRE's complex Gabor
wavelet, the Gaussian, sinc, HOSC and STAF's trained sum of sinusoids. ω (or s) sits inside the
nonlinearity, as in the sine family.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig
from ..errors import ConfigError
from ..signals import Signal
from .network import mlp, sine_family_mlp
from .registry import MethodSpec, knob_default, register
from .sine import SINE_PARAM, sine_defaults


class GaborActivation(nn.Module):
    """WIRE: complex Gabor wavelet φ(z) = exp(jωz − |σz|²) (WIRE Eq. 6); z may be complex.

    Computed as one exponential of the combined real part, exp(−ω·Im z − σ²|z|²)·e^{jω Re z}:
    the product of exp(jωz) and exp(−|σz|²) overflows to inf·0 = NaN once ω·|Im z| passes ~88
    even though the wavelet itself is bounded by exp(ω²/4σ²).
    """

    def __init__(self, omega: float = 20.0, sigma: float = 10.0):
        super().__init__()
        self.omega, self.sigma = float(omega), float(sigma)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.is_complex():
            real, imag = z.real, z.imag
            log_magnitude = -self.omega * imag - self.sigma**2 * (real.square() + imag.square())
        else:
            real, log_magnitude = z, -(self.sigma * z).square()
        # magnitude × unit phasor, not torch.polar: polar's backward divides by |result|, which is
        # 0/0 = NaN where the magnitude underflows on CPUs running ATen's scalar (non-AVX) kernels
        phase = self.omega * real
        return torch.complex(torch.cos(phase), torch.sin(phase)) * torch.exp(log_magnitude)

    def extra_repr(self) -> str:
        return f"omega={self.omega}, sigma={self.sigma}"


class GaussActivation(nn.Module):
    """Gaussian activation φ(z) = exp(−(s z)²) (Ramasinghe & Lucey 2022)."""

    def __init__(self, scale: float = 10.0):
        super().__init__()
        self.scale = float(scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(-(self.scale * z).square())

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class SincActivation(nn.Module):
    """sinc: φ(z) = sin(ωz)/(ωz), 1 at z = 0 (Saratchandran et al., A sampling theory perspective on
    activations for implicit neural representations, ICML 2024, Sec. 4: the unnormalised sinc of
    the scaled pre-activation). torch.sinc is the normalised sin(πx)/(πx), hence ωz/π."""

    def __init__(self, omega: float = 30.0):
        super().__init__()
        self.omega0 = float(omega)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sinc(self.omega0 * z / math.pi)

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}"


class HoscActivation(nn.Module):
    """HOSC (Serrano et al., arXiv 2401.10967, Eq. 3): φ(z) = tanh(β·sin(ω₀z)); β sharpens the sine
    towards a square wave (β → 0: a scaled sine). β optionally trained (the paper's adaptive HOSC)."""

    def __init__(self, omega0: float = 30.0, beta: float = 8.0, learnable: bool = False):
        super().__init__()
        self.omega0 = float(omega0)
        beta_tensor = torch.tensor(float(beta))
        if learnable:
            self.beta = nn.Parameter(beta_tensor)
        else:
            self.register_buffer("beta", beta_tensor)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.beta * torch.sin(self.omega0 * z))

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}, beta={float(self.beta):g}, learnable={isinstance(self.beta, nn.Parameter)}"


class StafActivation(nn.Module):
    """STAF (Morsali et al., arXiv 2502.00869, Eq. 5): a trained sum of τ sinusoids per layer,
    φ(z) = Σᵢ Cᵢ sin(Ωᵢ z + Φᵢ). Init as the reference code (AlirezaMorsali/STAF, StafLayer):
    Ωᵢ = ω₀·U(0, 1), Φᵢ ~ U(−π, π), Cᵢ = sign(L)·√|L| with L ~ Laplace(0, 1/(2τ)) (Sec. 3.2)."""

    def __init__(self, omega0: float = 30.0, terms: int = 5, skip: bool = False):
        super().__init__()
        self.omega0, self.terms, self.skip = float(omega0), int(terms), bool(skip)
        self.frequencies = nn.Parameter(self.omega0 * torch.rand(self.terms))
        self.phases = nn.Parameter(math.pi * (2 * torch.rand(self.terms) - 1))
        laplace = torch.distributions.Laplace(0.0, 1.0 / (2 * self.terms)).sample((self.terms,))
        self.amplitudes = nn.Parameter(torch.sign(laplace) * laplace.abs().sqrt())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # (..., n) -> (..., n, τ) -> (..., n)
        activated = (self.amplitudes * torch.sin(self.frequencies * z.unsqueeze(-1) + self.phases)).sum(-1)
        # the reference's skip connection (StafLayer.forward with skip_conn): h = φ(z) + z, z = Wx + b
        return activated + z if self.skip else activated

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}, terms={self.terms}, skip={self.skip}"


# ----------------------------------------------------------------------------------------------
# Defaults
# ----------------------------------------------------------------------------------------------
WIRE_MAX_RATIO = 6.0  # hidden-layer ω/σ; the Gabor wavelet of a complex z peaks at exp(ω²/4σ²)


def _wire_defaults(signal: Signal) -> dict:
    # Images: WIRE's own ω = 20, σ = 10. Audio: WINNER's protocol for WIRE (ω = 10, σ = 10, first
    # layer ω ×100, WINNER Sec. 5.1); 1D synthetic: ×10, as the sine family here. Measured, 3×128,
    # 200 steps: chord.wav 45.9 dB (zero output 17.9), sines 74.9 dB (13.2), camera 64² fits.
    if signal.kind == "image":
        return {"lr": 1e-3, "wire_omega": 20.0, "wire_sigma": 10.0, "first_omega0": 20.0}
    # Audio's first ω 300, not WINNER's ×100 (1000): on chip_melody (8000 samples, 200 steps) 17.1 dB
    # vs 11.7 at 1000 (zero output 7.5); reproduce's WINNER tables set their own.
    return {"lr": 1e-3, "wire_omega": 10.0, "wire_sigma": 10.0,
            "first_omega0": 300.0 if signal.kind == "audio" else 100.0}


def _check_wire(config: RunConfig, signal: Signal) -> None:
    if config.wire_omega / config.wire_sigma > WIRE_MAX_RATIO:
        peak = config.wire_omega**2 / (4 * config.wire_sigma**2)
        raise ConfigError(f"WIRE needs ω/σ ≤ {WIRE_MAX_RATIO:g} in its hidden layers (got ω = {config.wire_omega:g}, "
                          f"σ = {config.wire_sigma:g}: the wavelet of a complex input reaches exp({peak:.0f}) and "
                          "overflows); the paper keeps ω/σ ≈ 2")


def _gauss_defaults(signal: Signal) -> dict:
    # s = 10 (Ramasinghe & Lucey; WIRE's baseline code). No audio setting in the papers: the first
    # layer's s ×10 for audio lets it follow a 16 kHz clip (chord.wav 25.0 dB vs 17.9 zero output;
    # ×100, WINNER's factor for periodic nets, gives 19.0: bumps too narrow to cover the signal).
    return {"lr": 1e-3, "gauss_scale": 10.0, "first_omega0": 100.0 if signal.kind == "audio" else 10.0}


def _staf_defaults(signal: Signal) -> dict:
    """STAF's notebooks (AlirezaMorsali/STAF): train_image.ipynb first_omega_0 = 30.0*2, lr 1e-3;
    train_audio.ipynb first_omega_0 3000, lr 2.5e-4; hidden ω₀ 30 in both."""
    if signal.kind == "image":
        return {"lr": 1e-3, "omega0": 30.0, "first_omega0": 60.0}
    return sine_defaults(signal, lr=2.5e-4)


for knob, value in (("wire_omega", 20.0), ("wire_sigma", 10.0), ("gauss_scale", 10.0), ("hosc_beta", 8.0)):
    knob_default(knob, lambda signal, value=value: value)


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------
def _layer_omega(cfg: RunConfig, i: int, hidden: float) -> float:
    return cfg.first_omega0 if i == 0 else hidden


def build_wire(cfg: RunConfig, signal: Signal) -> nn.Module:
    """WIRE: complex Gabor activations; complex weights after the first layer; real part out.
    The first layer's ω is `first_omega0` (σ the same in every layer), as WIRE's reference."""
    return mlp(cfg, signal, lambda i: GaborActivation(_layer_omega(cfg, i, cfg.wire_omega), cfg.wire_sigma),
               complex_hidden=True)


def build_gauss(cfg: RunConfig, signal: Signal) -> nn.Module:
    return mlp(cfg, signal, lambda i: GaussActivation(_layer_omega(cfg, i, cfg.gauss_scale)))


def build_sinc(cfg: RunConfig, signal: Signal) -> nn.Module:
    return sine_family_mlp(cfg, signal, lambda i: SincActivation(_layer_omega(cfg, i, cfg.omega0)))


def build_hosc(cfg: RunConfig, signal: Signal) -> nn.Module:
    return sine_family_mlp(cfg, signal, lambda i: HoscActivation(_layer_omega(cfg, i, cfg.omega0), cfg.hosc_beta,
                                                                 cfg.hosc_learnable))


def build_staf(cfg: RunConfig, signal: Signal) -> nn.Module:
    """STAF as its reference (StafLayer): PyTorch's default Linear init, τ sinusoids per layer. Images add
    the skip connection φ(z) + z to every layer but the first, as the reference's image notebook does
    (train_image.ipynb: INR(..., skip_conn=True), "true only for Image reconstruction task"; StafLayer
    skips it where is_first)."""
    skip = signal.kind == "image"
    return mlp(cfg, signal, lambda i: StafActivation(_layer_omega(cfg, i, cfg.omega0), cfg.staf_terms,
                                                     skip=skip and i > 0))


WAVELETS = "wavelets and bumps"
register(MethodSpec(
    "wire", build_wire, "Complex Gabor wavelet activation exp(jωz − |σz|²).",
    "Saragadam et al., WIRE: Wavelet Implicit Neural Representations, CVPR 2023",
    "ω, σ inside the activation (first layer: ω = first_omega0); PyTorch default init, complex weights after "
    "layer 1; the eNTK counts real and imaginary parts",
    _wire_defaults, ("first_omega0", "wire_omega", "wire_sigma"), family=WAVELETS, check=_check_wire))
register(MethodSpec(
    "gauss", build_gauss, "Gaussian activation exp(−(sz)²).",
    "Ramasinghe & Lucey, Beyond Periodicity: Towards a Unifying Framework for Activations in Coordinate-MLPs, ECCV 2022",
    "s inside the activation (first layer: s = first_omega0); PyTorch default init", _gauss_defaults,
    ("first_omega0", "gauss_scale"), family=WAVELETS))
register(MethodSpec(
    "sinc", build_sinc, "sinc activation sin(ωz)/(ωz): a band-limited kernel, a Riesz basis for sampling theory.",
    "Saratchandran et al., A Sampling Theory Perspective on Activations for Implicit Neural Representations, ICML 2024",
    SINE_PARAM.replace("sin(ω₀(Wx+b))", "sinc(ω(Wx+b))") + "; SIREN's init (the paper trains sinc with SIREN's "
    "settings); first layer ω as the sine family's per kind", sine_defaults, ("omega0", "first_omega0"),
    family="periodic activations"))
register(MethodSpec(
    "hosc", build_hosc, "HOSC tanh(β·sin(ω₀z)): a sine sharpened towards a square wave, for sharp edges.",
    "Serrano et al., HOSC: A Periodic Activation Function for Preserving Sharp Features in Implicit Neural "
    "Representations, arXiv 2401.10967 (2024)",
    SINE_PARAM + "; SIREN init; β 8 for images (the reference's default), 4 for audio/1D (smaller β keeps the "
    "Lipschitz bound βω₀ of a ×100 first layer in check); β trained with hosc_learnable",
    lambda s: {**sine_defaults(s), "hosc_beta": 8.0 if s.kind == "image" else 4.0},
    ("omega0", "first_omega0", "hosc_beta", "hosc_learnable"), family="periodic activations"))
register(MethodSpec(
    "staf", build_staf, "STAF: each layer's activation is a trained sum of τ sinusoids Σ Cᵢ sin(Ωᵢz + Φᵢ).",
    "Morsali et al., STAF: Sinusoidal Trainable Activation Functions for Implicit Neural Representation, "
    "arXiv 2502.00869 (2025)",
    "Ωᵢ = ω₀·U(0,1), Φᵢ ~ U(±π), Cᵢ = sign(L)√|L|, L ~ Laplace(0, 1/2τ) (the reference's StafLayer); PyTorch "
    "default Linear init; images: skip connection φ(z) + z in every layer after the first (the reference's "
    "image runs); its notebooks' defaults: images first-layer ω₀ 60 (30·2), hidden 30, lr 1e-3 (train_image.ipynb), "
    "audio first-layer 3000, hidden 30, lr 2.5e-4 (train_audio.ipynb); 1D (no reference run) the audio rate with the "
    "sine family's first-layer 300; not reproduced: the image notebook's 4,096-pixel minibatches and both "
    "notebooks' decay b^(step/steps) (b 0.05 images, 0.36 audio; one schedule for every method here)",
    _staf_defaults, ("omega0", "first_omega0", "staf_terms"), family="learnable activations"))
