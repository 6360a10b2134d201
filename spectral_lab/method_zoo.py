"""The method zoo (issue 18): the INR methods of 2023–2026 beyond the nine core ones, each one
builder plus one registry entry. Imported by methods.py, so they appear wherever methods do (app,
CLI `list`, sweeps, `reproduce`, notebooks). Each entry says which equation or reference file its
construction and defaults follow, and where we differ.
"""
from __future__ import annotations

import numpy as np
from torch import nn

from .config import RunConfig
from .errors import ConfigError
from .grids import GridEncoding
from .incode import IncodeNetwork, harmonizer_feature_count, harmonizer_features
from .kan import FourierKANLayer
from .layers import (FinerPPActivation, HoscActivation, HyperbolicSine, SincActivation, Sine, StafActivation,
                     siren_init, uniform_bias)
from .methods import SINE_PARAM, MethodSpec, _first_omega_sine, _kan_terms, _mfn_scale, _mlp, _sine_family, register
from .mfn import MultiplicativeFilterNetwork
from .models import CoordinateMLP
from .signals import Signal

# Method families, for the app's picker and the zoo table (issue 18, item 5).
FAMILIES = {
    "encodings": ("relu", "relu_pe", "relu_rff"),
    "periodic activations": ("siren", "siren2", "spder", "finer", "sinc", "hosc", "hsiren", "incode"),
    "wavelets and bumps": ("wire", "gauss", "finer_pp"),
    "learnable activations": ("staf", "fkan"),
    "multiplicative filters": ("mfn_fourier", "mfn_gabor"),
    "grids": ("hashgrid", "densegrid"),
}


def family_of(name: str) -> str:
    return next((family for family, members in FAMILIES.items() if name in members), "other")


def families_markdown() -> str:
    """Every registered method under its family, with its one-line description (app, README)."""
    from .methods import METHODS

    return "\n".join(f"**{family}**\n" + "\n".join(f"- `{name}`: {METHODS[name].description}" for name in members
                                                    if name in METHODS) + "\n" for family, members in FAMILIES.items())


def _sine_defaults(signal: Signal, lr: float = 1e-4) -> dict:
    return {"lr": lr, "omega0": 30.0, "first_omega0": _first_omega_sine(signal)}


# ----------------------------------------------------------------------------------------------
def build_sinc(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _sine_family(cfg, signal, lambda i: SincActivation(cfg.first_omega0 if i == 0 else cfg.omega0))


def build_hosc(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _sine_family(cfg, signal, lambda i: HoscActivation(cfg.first_omega0 if i == 0 else cfg.omega0,
                                                              cfg.hosc_beta, cfg.hosc_learnable))


def build_staf(cfg: RunConfig, signal: Signal) -> nn.Module:
    """STAF as its reference (StafLayer): PyTorch's default Linear init, τ sinusoids per layer."""
    return _mlp(cfg, signal, lambda i: StafActivation(cfg.first_omega0 if i == 0 else cfg.omega0, cfg.staf_terms))


def build_finer_pp(cfg: RunConfig, signal: Signal) -> nn.Module:
    """FINER++: PyTorch default weights (its Gauss/wavelet variants, as WIRE/Gauss), sine base with
    SIREN's init; the first layer's bias U(±k) widens the range of periods (FINER++ Sec. 3.3)."""
    def activation(i: int) -> nn.Module:
        first = i == 0
        return FinerPPActivation(cfg.finer_base, cfg.first_omega0 if first else cfg.omega0,
                                 cfg.first_omega0 if first and cfg.finer_base == "gauss" else cfg.gauss_scale)

    model = (_sine_family(cfg, signal, activation) if cfg.finer_base == "sine" else _mlp(cfg, signal, activation))
    uniform_bias(model.linears[0], cfg.bias_scale)
    return model


def build_hsiren(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _sine_family(cfg, signal, lambda i: HyperbolicSine(cfg.first_omega0) if i == 0 else Sine(cfg.omega0))


def _build_mfn(kind: str):
    def build(cfg: RunConfig, signal: Signal) -> nn.Module:
        band = tuple(signal.grid) if cfg.mfn_bandlimit and kind == "fourier" else None
        if cfg.mfn_bandlimit and kind != "fourier":
            raise ConfigError("mfn_bandlimit (BACON) is for mfn_fourier; mfn_gabor's atoms are not band-limited")
        return MultiplicativeFilterNetwork(signal.in_dim, signal.channels, cfg.width, cfg.depth, kind, cfg.mfn_scale,
                                           band=band)
    return build


def _build_grid(hashed: bool):
    def build(cfg: RunConfig, signal: Signal) -> nn.Module:
        encoding = GridEncoding(signal.in_dim, cfg.grid_levels, cfg.grid_features, cfg.grid_table_log2,
                                cfg.grid_min_resolution, max(signal.grid), hashed=hashed)
        return CoordinateMLP(signal.in_dim, signal.channels, cfg.width, cfg.depth, lambda i: nn.ReLU(), encoding)
    return build


def build_fkan(cfg: RunConfig, signal: Signal) -> nn.Module:
    encoding = FourierKANLayer(signal.in_dim, cfg.width, cfg.kan_terms)
    return CoordinateMLP(signal.in_dim, signal.channels, cfg.width, cfg.depth, lambda i: nn.ReLU(), encoding)


def build_incode(cfg: RunConfig, signal: Signal) -> nn.Module:
    # the harmonizer grows with the composer (a quarter of its width), so equal-parameter tables
    # can include INCODE at small widths too
    # a saved model is rebuilt from the signal's shape only: placeholder features, then its stored ones load
    features = (harmonizer_features(signal) if hasattr(signal, "values")
                else np.zeros(harmonizer_feature_count(signal), dtype=np.float32))
    model = IncodeNetwork(signal.in_dim, signal.channels, cfg.width, cfg.depth, cfg.omega0, cfg.first_omega0,
                          features, harmonizer_width=max(4, cfg.width // 4))
    for i, linear in enumerate(model.linears):
        siren_init(linear, cfg.first_omega0 if i == 0 else cfg.omega0, first=(i == 0))
    siren_init(model.head, cfg.omega0, first=False)
    return model


# ----------------------------------------------------------------------------------------------
register(MethodSpec(
    "sinc", build_sinc, "sinc activation sin(ωz)/(ωz): a band-limited kernel, a Riesz basis for sampling theory.",
    "Saratchandran et al., A Sampling Theory Perspective on Activations for Implicit Neural Representations, ECCV 2024",
    SINE_PARAM.replace("sin(ω₀(Wx+b))", "sinc(ω(Wx+b))") + "; SIREN's init (the paper trains sinc with SIREN's "
    "settings); first layer ω as the sine family's per kind", _sine_defaults, ("omega0", "first_omega0")))
register(MethodSpec(
    "hosc", build_hosc, "HOSC tanh(β·sin(ω₀z)): a sine sharpened towards a square wave, for sharp edges.",
    "Serrano et al., HOSC: A Periodic Activation Function for Preserving Sharp Features in Implicit Neural "
    "Representations, arXiv 2401.10967 (2024)",
    SINE_PARAM + "; SIREN init; β 8 for images (the reference's default), 4 for audio/1D (smaller β keeps the "
    "Lipschitz bound βω₀ of a ×100 first layer in check); β trained with hosc_learnable",
    lambda s: {**_sine_defaults(s), "hosc_beta": 8.0 if s.kind == "image" else 4.0},
    ("omega0", "first_omega0", "hosc_beta", "hosc_learnable")))
register(MethodSpec(
    "staf", build_staf, "STAF: each layer's activation is a trained sum of τ sinusoids Σ Cᵢ sin(Ωᵢz + Φᵢ).",
    "Morsali et al., STAF: Sinusoidal Trainable Activation Functions for Implicit Neural Representation, "
    "arXiv 2502.00869 (2025)",
    "Ωᵢ = ω₀·U(0,1), Φᵢ ~ U(±π), Cᵢ = sign(L)√|L|, L ~ Laplace(0, 1/2τ) (the reference's StafLayer); PyTorch "
    "default Linear init; first-layer ω₀ ×100 for audio as the sine family",
    _sine_defaults, ("omega0", "first_omega0", "staf_terms")))
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
    ("finer_base", "first_omega0", "omega0", "gauss_scale", "bias_scale")))
register(MethodSpec(
    "hsiren", build_hsiren, "H-SIREN: a SIREN whose first activation is sin(ω₀·sinh(2z)), more frequencies at the ends.",
    "Gao & Jaiman, H-SIREN: Improving Implicit Neural Representations with Hyperbolic Periodic Functions, "
    "arXiv 2410.04716 (2024)", SINE_PARAM + "; first layer sin(ω₀ sinh(2z)) (Eq. 6 as we read it: ω₀ outside "
    "the sinh); SIREN init", _sine_defaults, ("omega0", "first_omega0")))


def _mfn_defaults(signal: Signal) -> dict:
    return {"lr": 1e-3 if signal.kind == "image" else 3e-4, "mfn_scale": _mfn_scale(signal)}


register(MethodSpec(
    "mfn_fourier", _build_mfn("fourier"),
    "FourierNet: no activations; each layer multiplies (Wz+b) by sinusoids of the input.",
    "Fathony et al., Multiplicative Filter Networks, ICLR 2021", "filters sin(Ωx+φ), Ω scaled by mfn_scale/√(depth+1), "
    "φ ~ U(±π); linears U(±√(1/width)) (the reference code); depth = multiplicative layers (depth+1 filters). "
    "mfn_bandlimit: BACON (Lindell et al., CVPR 2022; modules.py FourierLayer): frequencies kπ, |k| ≤ N/(2(depth+1)) "
    "per dimension, frozen; linears U(±√(6/width)); no multiscale outputs",
    _mfn_defaults, ("mfn_scale", "mfn_bandlimit")))
register(MethodSpec(
    "mfn_gabor", _build_mfn("gabor"), "GaborNet: each layer multiplies (Wz+b) by Gabor atoms of the input.",
    "Fathony et al., Multiplicative Filter Networks, ICLR 2021",
    "filters exp(−γ/2‖x−μ‖²)·sin(Ωx+φ), μ ~ U(−1,1), γ ~ Gamma(6/(depth+1), 1), Ω ×√γ (the reference code); "
    "BACON's band limit: mfn_fourier with mfn_bandlimit", _mfn_defaults, ("mfn_scale",)))


def _grid_defaults(signal: Signal) -> dict:
    return {"lr": 1e-2}  # Instant-NGP Sec. 4: Adam at 1e-2


GRID_PARAM = ("tables U(±1e-4), (bi)linear interpolation of the cell's corners (Instant-NGP Sec. 3–4); finest "
              "level one cell per sample; ReLU MLP head of width × depth with PyTorch's init")
register(MethodSpec(
    "hashgrid", _build_grid(True), "Multiresolution hash encoding + small ReLU MLP: trainable features on grids.",
    "Müller et al., Instant Neural Graphics Primitives with a Multiresolution Hash Encoding, SIGGRAPH 2022",
    GRID_PARAM + "; levels with more than 2^grid_table_log2 vertices hashed (Eq. 4); plain PyTorch, no CUDA kernel",
    _grid_defaults, ("grid_levels", "grid_features", "grid_table_log2", "grid_min_resolution")))
register(MethodSpec(
    "densegrid", _build_grid(False), "Dense multiresolution grid + small ReLU MLP: the hash grid without hashing.",
    "Müller et al. 2022 (the dense-grid baseline, Sec. 5); Sun et al., Direct Voxel Grid Optimization, CVPR 2022",
    GRID_PARAM + "; every level stored densely ((N_l+1)^d entries)", _grid_defaults,
    ("grid_levels", "grid_features", "grid_min_resolution")))


def _fkan_defaults(signal: Signal) -> dict:
    return {"lr": 1e-3, "kan_terms": _kan_terms(signal)}


register(MethodSpec(
    "fkan", build_fkan, "FKAN: a learned Fourier-series first layer (KAN-style), then a ReLU MLP.",
    "Mehrabian et al., Implicit Neural Representations with Fourier Kolmogorov-Arnold Networks, ICASSP 2025",
    "first layer Σᵢ Σₖ aᵢₖ cos(kπxᵢ) + bᵢₖ sin(kπxᵢ) per output (Eq. 4), coefficients N(0, 1/(d·K)); then "
    "ReLU layers with PyTorch's init", _fkan_defaults, ("kan_terms",)))
register(MethodSpec(
    "incode", build_incode, "INCODE: SIREN with a·sin(b·ω₀z + c) + d, (a,b,c,d) from a harmonizer of the target.",
    "Kazerouni et al., INCODE: Implicit Neural Conditioning with Prior Knowledge Embeddings, WACV 2024",
    SINE_PARAM + "; (a,b,c,d) = (e^a', e^b', c', d') shared by all layers (Eq. 3); harmonizer trained from scratch "
    "on engine-computed descriptors (librosa features for 1D/audio, a thumbnail for images), not the paper's "
    "pretrained ResNet-34 / audio network (cannot be fetched here); starts as SIREN; no (a,b,c,d) regulariser",
    _sine_defaults, ("omega0", "first_omega0")))
