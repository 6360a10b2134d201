"""Building blocks of coordinate MLPs: activations, input encodings, initialisation schemes.

Parameterisation matters when NTKs are compared across methods, so each activation states it:
every periodic activation here keeps ω₀ *inside* the nonlinearity, φ(z) = sin(ω₀ z) with
z = Wx + b (as in SIREN's reference code), rather than folding ω₀ into W. Gradients w.r.t. W
therefore carry a factor ω₀, and NTK magnitudes scale with ω₀².
"""
from __future__ import annotations

import math

import torch
from torch import nn


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


# ----------------------------------------------------------------------------------------------
# Input encodings: (N, d) -> (N, d_enc). Fixed (non-trainable) buffers.
# ----------------------------------------------------------------------------------------------
class PositionalEncoding(nn.Module):
    """NeRF positional encoding [x, sin(2^j π x), cos(2^j π x)] for j < L, per axis."""

    def __init__(self, in_dim: int, levels: int, include_input: bool = True):
        super().__init__()
        self.in_dim, self.levels, self.include_input = in_dim, int(levels), include_input
        self.register_buffer("freqs", (2.0 ** torch.arange(self.levels)) * math.pi)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (2 * self.levels + int(self.include_input))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[..., None] * self.freqs).flatten(-2)  # (N, d, L) -> (N, d·L)
        parts = [torch.sin(angles), torch.cos(angles)]
        return torch.cat(([x] if self.include_input else []) + parts, dim=-1)


class RandomFourierFeatures(nn.Module):
    """Tancik et al. 2020: [cos(2π Bx), sin(2π Bx)], B ~ N(0, σ²) of shape (m, d), fixed."""

    def __init__(self, in_dim: int, num_features: int, sigma: float, generator: torch.Generator | None = None):
        super().__init__()
        self.sigma = float(sigma)
        self.register_buffer("B", torch.randn(num_features, in_dim, generator=generator) * self.sigma)

    @property
    def out_dim(self) -> int:
        return 2 * self.B.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * x @ self.B.T  # (N, m)
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def nyquist_pe_levels(grid: tuple[int, ...]) -> int:
    """DESIGN: L = floor(log2(samples / 4)) from the smallest axis, at least 1."""
    return max(1, int(math.floor(math.log2(max(min(grid), 8) / 4))))


# ----------------------------------------------------------------------------------------------
# Initialisation schemes (in place, under torch.no_grad()).
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def siren_init(linear: nn.Linear, omega0: float, first: bool) -> None:
    """SIREN Sec. 3.2: first layer W ~ U(±1/fan_in); others U(±√(6/fan_in)/ω₀). Bias: PyTorch default."""
    fan_in = linear.weight.shape[1]
    bound = 1.0 / fan_in if first else math.sqrt(6.0 / fan_in) / omega0
    linear.weight.uniform_(-bound, bound)


@torch.no_grad()
def winner_perturb(linear: nn.Linear, scale: float, omega0: float, generator: torch.Generator | None = None) -> None:
    """WINNER Eq. 7–8: W ← W + η, η ~ N(0, (s/ω₀)²)."""
    if scale > 0:
        noise = torch.randn(linear.weight.shape, generator=generator) * (scale / omega0)
        linear.weight.add_(noise.to(linear.weight))


@torch.no_grad()
def uniform_bias(linear: nn.Linear, bound: float) -> None:
    """FINER / FINER++: first-layer bias b ~ U(−k, k) widens the frequency support."""
    linear.bias.uniform_(-bound, bound)


# ----------------------------------------------------------------------------------------------
# The zoo's pointwise activations (issue 18). ω inside the nonlinearity, as above.
# ----------------------------------------------------------------------------------------------
class SincActivation(nn.Module):
    """sinc: φ(z) = sin(ωz)/(ωz), 1 at z = 0 (Saratchandran et al., A sampling theory perspective on
    activations for implicit neural representations, ECCV 2024, Sec. 4: the unnormalised sinc of
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

    def __init__(self, omega0: float = 30.0, terms: int = 5):
        super().__init__()
        self.omega0, self.terms = float(omega0), int(terms)
        self.frequencies = nn.Parameter(self.omega0 * torch.rand(self.terms))
        self.phases = nn.Parameter(math.pi * (2 * torch.rand(self.terms) - 1))
        laplace = torch.distributions.Laplace(0.0, 1.0 / (2 * self.terms)).sample((self.terms,))
        self.amplitudes = nn.Parameter(torch.sign(laplace) * laplace.abs().sqrt())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # (..., n) -> (..., n, τ) -> (..., n)
        return (self.amplitudes * torch.sin(self.frequencies * z.unsqueeze(-1) + self.phases)).sum(-1)

    def extra_repr(self) -> str:
        return f"omega0={self.omega0}, terms={self.terms}"


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
