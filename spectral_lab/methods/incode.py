"""INCODE (Kazerouni et al., INCODE: Implicit Neural Conditioning with Prior Knowledge Embeddings,
WACV 2024): a SIREN "composer" whose every sine is a·sin(b·ω₀z + c) + d (Eq. 3), with
(a, b, c, d) = (e^a', e^b', c', d') predicted by a "harmonizer" from features of the target.

The paper's image harmonizer reads features of a pretrained ResNet-34, which cannot be fetched
here; its audio harmonizer, a pretrained audio network. Here every kind gets a small harmonizer
trained from scratch, jointly with the composer, on descriptors of the target computed by the
engine: librosa's spectral centroid, bandwidth, roll-off, flatness, zero-crossing rate and RMS
plus a 16-band log spectrum for 1D/audio; an 8×8 thumbnail, per-channel mean/std and the WINNER
spectral centroid for images. Its layers start as the reference's (INCODE repo, modules/incode.py,
MLP.init_weights): weights truncated-normal with std 0.001, every bias 0.3120 (`mlp_bias`, the value
of its image, audio, SDF, CT and super-resolution notebooks), so the harmonizer starts at
(a', b', c', d') ≈ (0.312, 0.312, 0.312, 0.312): a = b = e^0.312 ≈ 1.37, c = d ≈ 0.31, not at SIREN.
INCODE's regulariser on (a, b, c, d) is left out (one loss for every method here).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal, spectral_centroid
from .network import CoordinateMLP, siren_initialised
from .registry import MethodSpec, register
from .sine import SINE_PARAM, sine_defaults


class ModulatedSine(nn.Module):
    """a·sin(b·ω₀z + c) + d with (a, b, c, d) set by the network before each forward."""

    def __init__(self, omega0: float):
        super().__init__()
        self.omega0 = float(omega0)
        self.modulation: torch.Tensor | None = None  # (4,): a, b, c, d

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a, b, c, d = self.modulation.to(z.dtype)
        return a * torch.sin(b * self.omega0 * z + c) + d


def _fft_size(num_samples: int) -> int:
    return int(min(2048, 2 ** np.floor(np.log2(num_samples))))


def harmonizer_feature_count(shape) -> int:
    """How many values `harmonizer_features` gives for a signal of this shape: a saved model is
    rebuilt from its shape alone (no samples), then its stored features are loaded."""
    if shape.kind == "image":
        side = min(8, *shape.grid[:2])
        return side * side + 2 * shape.channels + 1  # thumbnail + per-channel mean, std + centroid
    return 12 + min(16, _fft_size(shape.num_points) // 2 + 1)  # 6 descriptors' mean, std + band energies


def harmonizer_features(signal: Signal) -> np.ndarray:
    """A fixed descriptor of the target, standardised (float32, ~24–70 values)."""
    if signal.kind == "image":
        image = signal.as_grid()
        image = image[..., None] if image.ndim == 2 else image  # (H, W) or (H, W, C) -> (H, W, C)
        h, w, channels = image.shape
        side = min(8, h, w)  # an 8×8 thumbnail (smaller for tiny images)
        rows, cols = np.array_split(np.arange(h), side), np.array_split(np.arange(w), side)
        thumbnail = np.array([[image[r][:, c].mean() for c in cols] for r in rows]).reshape(-1)
        stats = np.concatenate([image.reshape(-1, channels).mean(0), image.reshape(-1, channels).std(0),
                                [spectral_centroid(signal)]])
        features = np.concatenate([thumbnail, stats])
    else:
        import librosa

        wave = signal.values[:, 0].astype(np.float32)
        rate = float(signal.sample_rate or 2 * len(wave))
        n_fft = _fft_size(len(wave))
        spectrum = np.abs(librosa.stft(wave, n_fft=n_fft, hop_length=n_fft // 4)) ** 2
        descriptors = [librosa.feature.spectral_centroid(S=spectrum, sr=rate) / (rate / 2),
                       librosa.feature.spectral_bandwidth(S=spectrum, sr=rate) / (rate / 2),
                       librosa.feature.spectral_rolloff(S=spectrum, sr=rate) / (rate / 2),
                       librosa.feature.spectral_flatness(S=spectrum),
                       librosa.feature.zero_crossing_rate(wave, frame_length=n_fft, hop_length=n_fft // 4),
                       librosa.feature.rms(y=wave, frame_length=n_fft, hop_length=n_fft // 4)]
        summary = [value for d in descriptors for value in (d.mean(), d.std())]
        bands = np.array_split(spectrum.mean(axis=1), min(16, spectrum.shape[0]))
        log_bands = np.log10(np.array([band.mean() for band in bands]) + 1e-10)
        features = np.concatenate([summary, log_bands])
    features = np.nan_to_num(np.asarray(features, dtype=np.float64))
    return ((features - features.mean()) / (features.std() + 1e-8)).astype(np.float32)


HARMONIZER_BIAS = 0.3120  # the reference notebooks' mlp_bias (0.0005 only in its denoising one)
HARMONIZER_WEIGHT_STD = 0.001


@torch.no_grad()
def harmonizer_init(linear: nn.Linear) -> None:
    """INCODE modules/incode.py, MLP.init_weights: W ~ N(0, 0.001²) truncated at ±2 (trunc_normal_'s
    default bounds, ~2000σ: in effect untruncated), b = 0.3120. With weights that small every layer's
    output is ≈ its bias, so (a', b', c', d') start ≈ 0.312 whatever the features."""
    nn.init.trunc_normal_(linear.weight, std=HARMONIZER_WEIGHT_STD)
    nn.init.constant_(linear.bias, HARMONIZER_BIAS)


class IncodeNetwork(CoordinateMLP):
    """SIREN composer + harmonizer. Its harmonizer is not applied per sample, so the eNTK takes the
    torch.func path (`layerwise_ntk = False`)."""

    layerwise_ntk = False

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, omega0: float, first_omega0: float,
                 features: np.ndarray, harmonizer_width: int = 64):
        super().__init__(in_dim, out_dim, width, depth,
                         lambda i: ModulatedSine(first_omega0 if i == 0 else omega0))
        self.register_buffer("features", torch.as_tensor(features, dtype=torch.float32))
        self.harmonizer = nn.Sequential(nn.Linear(features.size, harmonizer_width), nn.SiLU(),
                                        nn.Linear(harmonizer_width, harmonizer_width // 2), nn.SiLU(),
                                        nn.Linear(harmonizer_width // 2, 4))
        for linear in self.harmonizer:
            if isinstance(linear, nn.Linear):
                harmonizer_init(linear)

    def modulation(self) -> torch.Tensor:
        """(a, b, c, d) = (e^a', e^b', c', d'), INCODE Eq. 3."""
        raw = self.harmonizer(self.features.to(self.harmonizer[0].weight.dtype))
        return torch.cat([raw[:2].exp(), raw[2:]])

    def _modulate(self) -> None:
        modulation = self.modulation()
        for module in self.modules():  # found wherever they sit (batch norm wraps the activations)
            if isinstance(module, ModulatedSine):
                module.modulation = modulation

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        self._modulate()
        return super().forward(coords)

    @torch.no_grad()
    def layer_activations(self, coords: torch.Tensor):
        self._modulate()
        return super().layer_activations(coords)


def build_incode(cfg: RunConfig, signal: Signal) -> nn.Module:
    # the harmonizer grows with the composer (a quarter of its width), so equal-parameter tables
    # can include INCODE at small widths too
    # a saved model is rebuilt from the signal's shape only: placeholder features, then its stored ones load
    features = (harmonizer_features(signal) if hasattr(signal, "values")
                else np.zeros(harmonizer_feature_count(signal), dtype=np.float32))
    model = IncodeNetwork(signal.in_dim, signal.channels, cfg.width, cfg.depth, cfg.omega0, cfg.first_omega0,
                          features, harmonizer_width=max(4, cfg.width // 4))
    return siren_initialised(model, cfg.first_omega0, cfg.omega0)


register(MethodSpec(
    "incode", build_incode, "INCODE: SIREN with a·sin(b·ω₀z + c) + d, (a,b,c,d) from a harmonizer of the target.",
    "Kazerouni et al., INCODE: Implicit Neural Conditioning with Prior Knowledge Embeddings, WACV 2024",
    SINE_PARAM + "; (a,b,c,d) = (e^a', e^b', c', d') shared by all layers (Eq. 3); harmonizer trained from scratch "
    "on engine-computed descriptors (librosa features for 1D/audio, a thumbnail for images), not the paper's "
    "pretrained ResNet-34 / audio network (cannot be fetched here), a quarter of the composer's width wide (the "
    "reference's 64→32→4); its init as the reference's MLP.init_weights (W ~ N(0, 0.001²), biases 0.3120: a = b ≈ "
    "1.37, c = d ≈ 0.31 at the start); no (a,b,c,d) regulariser",
    sine_defaults, ("omega0", "first_omega0"), family="periodic activations"))
