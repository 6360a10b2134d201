"""FKAN (Mehrabian et al., Implicit Neural Representations with Fourier Kolmogorov-Arnold Networks,
ICASSP 2025), as its public code (github.com/Ali-Meh619/FKAN, FKAN_INR.ipynb):

- a Kolmogorov–Arnold first layer whose every output sums a learned Fourier series of every input
  coordinate, y_j = Σᵢ Σ_{k=1..K} (a_ijk cos(k xᵢ) + b_ijk sin(k xᵢ)) + c_j (Eq. 4; FourierKANLayer),
  integer frequencies k (no π: on [-1, 1] term k spans k/π cycles), coefficients N(0, 1/(d·K)), c = 0;
- a LayerNorm over its outputs (FKANLayer);
- hidden layers φ(z) = (z + tanh(ω₀z))·σ(z), z = Wx + b, ω₀ = 30 (its SineLayer.forward), with SIREN's
  hidden-layer init W ~ U(±√(6/fan_in)/ω₀) (SineLayer.init_weights, is_first=False) and PyTorch's
  default biases, widening as FKAN_INR's: the Fourier layer's W outputs, then 2W, …, 2W and a last 4W
  (W → 2W → 2W → 2W → 4W at its depth 4); a linear head U(±√(6/W)/ω₀), W the *first* width, as
  FKAN_INR.__init__ writes it (not the head's fan-in 4W);
- its defaults: lr 1e-4 and K = 270 terms (the notebook's `griddd`) for images.

Where we differ (training, not the network): the reference trains minibatches of 4,096 shuffled pixels
(`maxpoints`, an epoch = one pass) and decays the rate per epoch as 0.1^(epoch/500) (LambdaLR); the
lab trains full batch (a 64² image is one such batch) with the schedule every method shares
(`--lr-schedule exp` is 0.1^(step/steps), the reference's decay at one step an epoch). The reference
has no audio or 1D run: there K follows the signal (`kan_terms`) and the rate is ours (`fkan_lr`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal
from .network import CoordinateMLP, siren_init
from .registry import MethodSpec, knob_default, register

FKAN_OMEGA0 = 30.0  # SineLayer's omega_0 default, which FKAN_INR never overrides


class FourierKANLayer(nn.Module):
    """FKAN Eq. 4 (FourierKANLayer): a learned Fourier series per (output, input) pair, summed over inputs."""

    def __init__(self, in_dim: int, out_dim: int, terms: int):
        super().__init__()
        self.in_dim, self.terms, self.out_dim = in_dim, int(terms), out_dim
        # N(0, 1/(d·K)): unit-variance outputs for unit-variance inputs, the reference's normalisation
        scale = 1.0 / math.sqrt(in_dim * self.terms)
        self.cos_coefficients = nn.Parameter(torch.randn(out_dim, in_dim, self.terms) * scale)
        self.sin_coefficients = nn.Parameter(torch.randn(out_dim, in_dim, self.terms) * scale)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.register_buffer("frequencies", torch.arange(1, self.terms + 1, dtype=torch.float32), persistent=False)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        angles = coords[..., None] * self.frequencies.to(coords.dtype)  # (N, d) -> (N, d, K): k·xᵢ
        return (torch.einsum("ndk,odk->no", torch.cos(angles), self.cos_coefficients)
                + torch.einsum("ndk,odk->no", torch.sin(angles), self.sin_coefficients) + self.bias)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, terms={self.terms}"


class FKANEncoding(nn.Module):
    """The reference's FKANLayer: the Fourier KAN layer, then LayerNorm over its `out_dim` outputs."""

    def __init__(self, in_dim: int, out_dim: int, terms: int):
        super().__init__()
        self.kan = FourierKANLayer(in_dim, out_dim, terms)
        self.norm = nn.LayerNorm(out_dim)
        self.out_dim = out_dim

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.norm(self.kan(coords))


class FkanActivation(nn.Module):
    """FKAN's hidden activation (FKAN_INR.ipynb, SineLayer.forward): φ(z) = (z + tanh(ω₀z))·σ(z),
    a SiLU-like gate on z plus a sharp step tanh(ω₀z)."""

    def __init__(self, omega0: float = FKAN_OMEGA0):
        super().__init__()
        self.omega0 = float(omega0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z + torch.tanh(self.omega0 * z)) * torch.sigmoid(z)

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}"


FKAN_IMAGE_TERMS = 270  # FKAN_INR.ipynb: griddd = 270, whatever the image's size
def fkan_lr(signal: Signal) -> float:
    # images: FKAN_INR.ipynb's --lr 1e-4. Audio / 1D (no reference run): 1e-3, ours: chip_melody (8000 samples,
    # width 128, depth 3, the widened network, 300 steps, seed 0) reaches 34.7 dB at 1e-3, 21.8 at 1e-4 (zero
    # output 7.5)
    return 1e-4 if signal.kind == "image" else 1e-3


def kan_terms(signal: Signal) -> int:
    # Images: the reference's K = 270. Audio / 1D (no reference run): term k spans k/π cycles across
    # [-1, 1], and K = π·n/6 reaches a third of the Nyquist rate n/2, the reference's ratio on its 768×512
    # Kodak images (π·512/6 ≈ 268). At most 512: the layer has 2·width·d·K parameters. On chip_melody (8000
    # samples, ~880 cycles) at the zoo's budget (ReLU 3×128's 33k parameters, 500 steps) K = 256 / 512 / 1024
    # leave widths 50 / 30 / 16 and reach 15.4 / 21.7 / 16.1 dB; at width 128, 200 steps, 14.2 / 31.7 / 39.3
    # (zero output 7.5).
    if signal.kind == "image":
        return FKAN_IMAGE_TERMS
    return int(max(4, min(512, round(math.pi * min(signal.grid) / 6))))


knob_default("kan_terms", kan_terms)


def fkan_widths(width: int, depth: int) -> list[int]:
    """FKAN_INR's widths: the Fourier layer's W, then each hidden layer's output, 2W … 2W and 4W last
    (W → 2W → 2W → 2W → 4W at its depth 4; W → 4W at depth 1)."""
    return [width] + [2 * width] * (depth - 1) + [4 * width]


class FkanNetwork(CoordinateMLP):
    """The CoordinateMLP forward over FKAN_INR's widening layers (`fkan_widths`)."""

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, terms: int):
        super().__init__(in_dim, out_dim, width, depth, lambda i: FkanActivation(), FKANEncoding(in_dim, width, terms))
        widths = fkan_widths(width, depth)
        self.linears = nn.ModuleList(nn.Linear(widths[i], widths[i + 1]) for i in range(depth))
        self.head = nn.Linear(widths[-1], out_dim)


def build_fkan(cfg: RunConfig, signal: Signal) -> nn.Module:
    model = FkanNetwork(signal.in_dim, signal.channels, cfg.width, cfg.depth, cfg.kan_terms)
    for linear in model.linears:  # every one a SIREN hidden layer (SineLayer, is_first=False)
        siren_init(linear, FKAN_OMEGA0, first=False)
    with torch.no_grad():  # FKAN_INR.__init__: const = √(6/hidden_features)/30, hidden_features = W
        bound = math.sqrt(6.0 / cfg.width) / FKAN_OMEGA0
        model.head.weight.uniform_(-bound, bound)
    return model


register(MethodSpec(
    "fkan", build_fkan,
    "FKAN: a learned Fourier-series first layer (KAN-style) + LayerNorm, then (z + tanh(30z))·σ(z) layers.",
    "Mehrabian et al., Implicit Neural Representations with Fourier Kolmogorov-Arnold Networks, ICASSP 2025",
    "first layer Σᵢ Σₖ aᵢₖ cos(kxᵢ) + bᵢₖ sin(kxᵢ) per output, k = 1..K (Eq. 4), coefficients N(0, 1/(d·K)), then "
    "LayerNorm; hidden φ(z) = (z + tanh(30z))·σ(z) with SIREN's hidden init U(±√(6/fan_in)/30), head likewise "
    "(the reference's FKAN_INR, head bound from the first width W); hidden widths W→2W→…→2W→4W (FKAN_INR's "
    "W→2W→2W→2W→4W at depth 4); lr 1e-4 and, for images, K = 270 (FKAN_INR.ipynb); not reproduced: its 4,096-pixel "
    "minibatches and per-epoch decay 0.1^(epoch/500) (full batch here, one schedule for every method: --lr-schedule "
    "exp is that decay at one step an epoch); audio/1D have no reference run: lr 1e-3 and K = π·n/6 (at most 512, "
    "its ratio on its 512-pixel images), ours",
    lambda s: {"lr": fkan_lr(s), "kan_terms": kan_terms(s)}, ("kan_terms",), family="learnable activations"))
