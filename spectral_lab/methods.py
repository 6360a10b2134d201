"""Method registry: name -> builder + defaults + description + citation.

Adding a method is one builder function and one `register(...)` entry. A builder receives a
*resolved* RunConfig (no None knobs) and the Signal, and returns a CoordinateMLP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .config import RunConfig
from .errors import ConfigError
from .layers import (FinerActivation, GaborActivation, GaussActivation, PositionalEncoding,
                     RandomFourierFeatures, Sine, SpderActivation, nyquist_pe_levels, siren_init,
                     uniform_bias, winner_perturb)
from .models import CoordinateMLP
from .modifiers import (IGA_MAX_GROUPS, apply_batch_norm, apply_fourier_layers, fr_default_alpha, group_points,
                        iga_default_end, iga_default_group, split_method)
from .signals import Signal, spectral_centroid


@dataclass(frozen=True)
class MethodSpec:
    name: str
    builder: Callable[[RunConfig, Signal], nn.Module]
    description: str
    citation: str
    parameterisation: str
    defaults: Callable[[Signal], dict] = field(default=lambda signal: {})
    knobs: tuple[str, ...] = ()


METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    METHODS[spec.name] = spec
    return spec


def get_method(name: str) -> MethodSpec:
    """The architecture's spec; `name` may carry modifiers (relu_pe+iga), checked here too."""
    base, _ = split_method(name)
    if base not in METHODS:
        raise ConfigError(f"unknown method {base!r}; choose from {', '.join(METHODS)}")
    return METHODS[base]


# ----------------------------------------------------------------------------------------------
# Defaults that depend on the signal
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


def _first_omega_sine(signal: Signal) -> float:
    # SIREN's audio recipe: first-layer ω₀ ×100 (SIREN scales the inputs ×100; scaling ω₀ scales
    # the first layer's weights and its bias). WINNER Fig. 4 uses ×10 for its 1D synthetic
    # targets. Images keep 30.
    return {"audio": 3000.0, "1d": 300.0}.get(signal.kind, 30.0)


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


def _gauss_defaults(signal: Signal) -> dict:
    # s = 10 (Ramasinghe & Lucey; WIRE's baseline code). No audio setting in the papers: the first
    # layer's s ×10 for audio lets it follow a 16 kHz clip (chord.wav 25.0 dB vs 17.9 zero output;
    # ×100, WINNER's factor for periodic nets, gives 19.0: bumps too narrow to cover the signal).
    return {"lr": 1e-3, "gauss_scale": 10.0, "first_omega0": 100.0 if signal.kind == "audio" else 10.0}


def _rff_sigma(signal: Signal) -> float:
    # σ in cycles per unit of the [-1, 1] coordinate. Images: Tancik's σ = 10 on [0, 1] coords is
    # 5 per unit here; 1D: a tenth of the Nyquist rate (L/4 cycles per unit).
    return 5.0 if signal.kind == "image" else signal.num_points / 40.0


def _mfn_scale(signal: Signal) -> float:
    # MFN's reference scales image filters by 256 on a [-1, 1] grid of ≥ 256 pixels (a quarter of the
    # Nyquist band per filter for 4 filters); here the same share of each signal's own Nyquist band.
    return math.pi * min(signal.grid) / 4


def _kan_terms(signal: Signal) -> int:
    # FKAN: K terms reach K cycles across the signal; a quarter of its Nyquist rate, 4 to 256 terms
    return int(max(4, min(256, min(signal.grid) // 8)))


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------
def _mlp(cfg: RunConfig, signal: Signal, make_activation, encoding=None, complex_hidden=False) -> CoordinateMLP:
    return CoordinateMLP(signal.in_dim, signal.channels, cfg.width, cfg.depth, make_activation,
                         encoding=encoding, complex_hidden=complex_hidden)


def build_relu(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _mlp(cfg, signal, lambda i: nn.ReLU())


def build_relu_pe(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _mlp(cfg, signal, lambda i: nn.ReLU(), PositionalEncoding(signal.in_dim, cfg.pe_levels))


def build_relu_rff(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _mlp(cfg, signal, lambda i: nn.ReLU(), RandomFourierFeatures(signal.in_dim, cfg.rff_features, cfg.rff_sigma))


def _sine_family(cfg: RunConfig, signal: Signal, make_activation) -> CoordinateMLP:
    """SIREN init on every linear (first: U(±1/fan_in), others U(±√(6/fan_in)/ω₀), head included)."""
    model = _mlp(cfg, signal, make_activation)
    for i, linear in enumerate(model.linears):
        siren_init(linear, cfg.first_omega0 if i == 0 else cfg.omega0, first=(i == 0))
    siren_init(model.head, cfg.omega0, first=False)
    return model


def build_siren(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _sine_family(cfg, signal, lambda i: Sine(cfg.first_omega0 if i == 0 else cfg.omega0))


def build_siren2(cfg: RunConfig, signal: Signal) -> nn.Module:
    """SIREN², WINNER Eq. 9: SIREN init, then W1 += N(0,(s0/ω₀)²), W2 += N(0,(s1/ω₀)²) (Eq. 7–8)."""
    model = build_siren(cfg, signal)
    winner_perturb(model.linears[0], cfg.s0, cfg.first_omega0)
    if len(model.linears) > 1:
        winner_perturb(model.linears[1], cfg.s1, cfg.omega0)
    return model


def build_spder(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _sine_family(cfg, signal, lambda i: SpderActivation(cfg.first_omega0 if i == 0 else cfg.omega0, cfg.damping))


def build_finer(cfg: RunConfig, signal: Signal) -> nn.Module:
    """FINER: SIREN-style weights, first-layer bias U(±k) (k = bias_scale; FINER++ uses larger k)."""
    model = _sine_family(cfg, signal, lambda i: FinerActivation(cfg.first_omega0 if i == 0 else cfg.omega0))
    uniform_bias(model.linears[0], cfg.bias_scale)
    return model


def build_wire(cfg: RunConfig, signal: Signal) -> nn.Module:
    """WIRE: complex Gabor activations; complex weights after the first layer; real part out.
    The first layer's ω is `first_omega0` (σ the same in every layer), as WIRE's reference."""
    return _mlp(cfg, signal, lambda i: GaborActivation(cfg.first_omega0 if i == 0 else cfg.wire_omega,
                                                       cfg.wire_sigma), complex_hidden=True)


def build_gauss(cfg: RunConfig, signal: Signal) -> nn.Module:
    return _mlp(cfg, signal, lambda i: GaussActivation(cfg.first_omega0 if i == 0 else cfg.gauss_scale))


SINE_PARAM = "ω₀ inside the activation: sin(ω₀(Wx+b)); W not pre-scaled by ω₀"

register(MethodSpec(
    "relu", build_relu, "Plain ReLU MLP: the textbook case of spectral bias.",
    "Rahaman et al., On the Spectral Bias of Neural Networks, ICML 2019",
    "PyTorch default (Kaiming-uniform) init", lambda s: {"lr": 1e-3}))
register(MethodSpec(
    "relu_pe", build_relu_pe, "ReLU on NeRF positional encoding [x, sin(2^j πx), cos(2^j πx)], j < L.",
    "Mildenhall et al., NeRF, ECCV 2020", "PyTorch default init; fixed encoding",
    lambda s: {"lr": 1e-3, "pe_levels": nyquist_pe_levels(s.grid)}, ("pe_levels",)))
register(MethodSpec(
    "relu_rff", build_relu_rff, "ReLU on random Fourier features [cos 2πBx, sin 2πBx], B ~ N(0, σ²).",
    "Tancik et al., Fourier Features Let Networks Learn High Frequency Functions, NeurIPS 2020",
    "PyTorch default init; fixed Gaussian B", lambda s: {"lr": 1e-3, "rff_sigma": _rff_sigma(s)},
    ("rff_sigma", "rff_features")))
register(MethodSpec(
    "siren", build_siren, "Sine activations with SIREN's principled uniform init.",
    "Sitzmann et al., Implicit Neural Representations with Periodic Activation Functions, NeurIPS 2020",
    SINE_PARAM, lambda s: {"lr": 1e-4, "omega0": 30.0, "first_omega0": _first_omega_sine(s)},
    ("omega0", "first_omega0")))
register(MethodSpec(
    "siren2", build_siren2,
    "SIREN² = SIREN + WINNER: Gaussian noise on the first two weight matrices, scaled by the target's spectral centroid.",
    "WINNER: Weight Initialization with Noise for NEural Representations (SIREN²), 2025",
    SINE_PARAM + "; first-layer ω₀ stays 30 (no ×100)",
    lambda s: {"lr": 1e-4, "omega0": 30.0, "first_omega0": 30.0}, ("omega0", "s0", "s1")))
register(MethodSpec(
    "spder", build_spder, "Sine times a sublinear damping δ: sin(ω₀z)·δ(ω₀z).",
    "Shah & Sitawarin, SPDER: Semiperiodic Damping-Enabled Object Representation, ICLR 2024",
    SINE_PARAM + "; ω₀ = 30 in every layer (first layer ×100 for audio, as WINNER runs every baseline), SIREN init",
    # SPDER App. (audio): lr 5×10⁻⁵ with the ×100 input scale; 1×10⁻⁴ elsewhere (Sec. 4 defaults)
    lambda s: {"lr": 5e-5 if s.kind == "audio" else 1e-4, "omega0": 30.0, "first_omega0": _first_omega_sine(s),
               "damping": "arctan" if s.kind == "audio" else "sqrt"}, ("omega0", "first_omega0", "damping")))
register(MethodSpec(
    "finer", build_finer, "Variable-periodic sine sin(ω₀(|z|+1)z), scale detached; larger first-layer bias widens support.",
    "Liu et al., FINER: Flexible Spectral-bias Tuning in Implicit Neural Representation, CVPR 2024",
    SINE_PARAM + "; |z|+1 detached",
    lambda s: {"lr": 1e-4, "omega0": 30.0, "first_omega0": _first_omega_sine(s), "bias_scale": 1.0},
    ("omega0", "first_omega0", "bias_scale")))
register(MethodSpec(
    "wire", build_wire, "Complex Gabor wavelet activation exp(jωz − |σz|²).",
    "Saragadam et al., WIRE: Wavelet Implicit Neural Representations, CVPR 2023",
    "ω, σ inside the activation (first layer: ω = first_omega0); PyTorch default init, complex weights after "
    "layer 1; the eNTK counts real and imaginary parts",
    _wire_defaults, ("first_omega0", "wire_omega", "wire_sigma")))
register(MethodSpec(
    "gauss", build_gauss, "Gaussian activation exp(−(sz)²).",
    "Ramasinghe & Lucey, Beyond Periodicity: Towards a Unifying Framework for Activations in Coordinate-MLPs, ECCV 2022",
    "s inside the activation (first layer: s = first_omega0); PyTorch default init", _gauss_defaults,
    ("first_omega0", "gauss_scale")))


# ----------------------------------------------------------------------------------------------
WIRE_MAX_RATIO = 6.0  # hidden-layer ω/σ; the Gabor wavelet of a complex z peaks at exp(ω²/4σ²)


def resolve(config: RunConfig, signal: Signal) -> RunConfig:
    """Fill every None knob with the method's default for this signal (s0/s1 from WINNER Eq. 11,
    IGA's groups and `end` from the signal size), and reject combinations that cannot train."""
    spec = get_method(config.method)
    _, modifiers = split_method(config.method)
    filled = {k: v for k, v in spec.defaults(signal).items() if getattr(config, k) is None}
    generic = {"omega0": 30.0, "first_omega0": 30.0, "bias_scale": 0.0, "lr": 1e-4,
               "pe_levels": nyquist_pe_levels(signal.grid), "rff_sigma": _rff_sigma(signal), "damping": "sqrt",
               "wire_omega": 20.0, "wire_sigma": 10.0, "gauss_scale": 10.0, "hosc_beta": 8.0, "finer_base": "gauss",
               "mfn_scale": _mfn_scale(signal), "kan_terms": _kan_terms(signal)}
    for key, value in generic.items():
        if getattr(config, key) is None and key not in filled:
            filled[key] = value
    group = config.iga_group if config.iga_group is not None else iga_default_group(signal.grid)
    filled["iga_group"] = group
    if config.fr_alpha is None:
        filled["fr_alpha"] = fr_default_alpha(spec.name)
    if config.iga_end is None:
        filled["iga_end"] = iga_default_end(spec.name, signal.grid, group)
    if config.s0 is None or config.s1 is None:
        auto_s0, auto_s1 = (winner_scales(spectral_centroid(signal), signal.channels, signal.in_dim)
                            if spec.name == "siren2" else (0.0, 0.0))
        if config.s0 is None:
            filled["s0"] = round(auto_s0, 4)
        if config.s1 is None:
            filled["s1"] = round(auto_s1, 4)
    resolved = config.replace(**filled)
    if spec.name == "wire" and resolved.wire_omega / resolved.wire_sigma > WIRE_MAX_RATIO:
        peak = resolved.wire_omega**2 / (4 * resolved.wire_sigma**2)
        raise ConfigError(f"WIRE needs ω/σ ≤ {WIRE_MAX_RATIO:g} in its hidden layers (got ω = {resolved.wire_omega:g}, "
                          f"σ = {resolved.wire_sigma:g}: the wavelet of a complex input reaches exp({peak:.0f}) and "
                          "overflows); the paper keeps ω/σ ≈ 2")
    if "iga" in modifiers:
        groups = group_points(signal.grid, resolved.iga_group).shape[0]
        if groups > IGA_MAX_GROUPS:
            raise ConfigError(f"IGA would compute a {groups}-point eNTK every update; raise iga_group so there are "
                              f"at most {IGA_MAX_GROUPS} groups (or leave it empty for the automatic choice)")
        if not 1 <= resolved.iga_start <= resolved.iga_end <= groups:
            raise ConfigError(f"IGA needs 1 ≤ iga_start ≤ iga_end ≤ number of groups ({groups}); "
                              f"got {resolved.iga_start}..{resolved.iga_end}")
    return resolved


def build_model(config: RunConfig, signal: Signal) -> nn.Module:
    """Build the resolved method's network on CPU, seeded by config.seed."""
    if any(getattr(config, k) is None for k in ("omega0", "first_omega0", "s0", "s1", "lr", "fr_alpha")):
        config = resolve(config, signal)
    spec = get_method(config.method)
    _, modifiers = split_method(config.method)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))
    model = spec.builder(config, signal)
    if modifiers and not isinstance(model, CoordinateMLP):
        raise ConfigError(f"the training modifiers ({', '.join('+' + m for m in modifiers)}) act on an MLP's "
                          f"layers; {spec.name} has none to modify")
    if "fr" in modifiers:
        apply_fourier_layers(model, config.fr_basis, phases=config.fr_phases, alpha=config.fr_alpha)
    if "bn" in modifiers:
        apply_batch_norm(model)
    return model


def list_methods() -> list[tuple[str, str, str]]:
    """Architectures, then the training modifiers (written +name)."""
    from .modifiers import MODIFIERS

    return ([(spec.name, spec.description, spec.citation) for spec in METHODS.values()]
            + [(f"+{m.name}", m.description, m.citation) for m in MODIFIERS.values()])


from . import method_zoo  # noqa: E402,F401  (registers the zoo's methods after the core ones)
