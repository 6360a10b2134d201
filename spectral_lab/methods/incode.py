"""INCODE (Kazerouni et al., INCODE: Implicit Neural Conditioning with Prior Knowledge Embeddings,
WACV 2024): a SIREN "composer" whose every sine is a·sin(b·ω₀z + c) + d (Eq. 3), with
(a, b, c, d) = (e^a', e^b', c', d') predicted by a "harmonizer" from features of the target, as its
reference code (github.com/xmindflow/INCODE, modules/incode.py INR and its notebooks) computes them:

- images: the first five children of an *untrained* torchvision resnet34() (conv1, bn1, relu, maxpool,
  layer1: `truncated_layer` 5), trained jointly with the composer, on the target image in [0, 1] (1, 3, H, W),
  global-average-pooled to 64 values (train_image.ipynb). Built here in plain PyTorch (`ResNetStem`: the same
  layers, names and init, so torchvision need not be installed; tests compare it with torchvision's when present).
  Its batch norm normalises with the image's own statistics, as the reference's module, never put in eval
  mode, does (`batch_norm`); a grey image is repeated into the three channels resnet34 takes;
- audio (and the lab's 1D signals): torchaudio.transforms.MFCC(n_mfcc 50, n_fft 400, hop 160, n_mels 50,
  center False) of the target, averaged over frames (train_audio.ipynb), computed here with librosa
  (`mfcc_features`: HTK mel filters without normalisation, power to dB with top_db 80, orthonormal DCT-II:
  torchaudio's defaults);
- the harmonizer MLP Linear, SiLU, Linear, SiLU, Linear → 4 (MLP), its layers starting as MLP.init_weights:
  weights truncated-normal with std 0.001, every bias 0.3120 (`mlp_bias` of its notebooks), so
  (a', b', c', d') start ≈ 0.312: a = b = e^0.312 ≈ 1.37, c = d ≈ 0.31, not at SIREN;
- the regulariser added to the MSE, Σ λᵢ·relu(−pᵢ) over (p) = (a', b', c', d') with λ = (0.1993, 0.0196, 0.0588,
  0.0269) (the notebooks' a_coef … d_coef): `IncodeNetwork.regularisation`, which the steppers add;
- lr 9e-4 for images (train_image.ipynb), 9e-5 for audio (train_audio.ipynb).

Where we differ: the harmonizer's hidden widths are a quarter and an eighth of the composer's (64 → 32 at
the reference's width 256, the same there; its audio MLP is 50 → 32) so equal-parameter tables can hold INCODE
at any width; the feature extractor and harmonizer count as the 4 values they produce (a trained INCODE
stores (a, b, c, d) and the composer: `Harmonizer.inference_parameters`), not their ~230k weights; the notebooks'
decay b^(step/steps) (b 0.1 images, 0.2 audio) is not the lab's shared schedule (`--lr-schedule exp` is the
image one); 1D signals without a sample rate take MFCCs at 2 × their length in Hz.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from ..config import RunConfig
from ..signals import Signal
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


# torchaudio.transforms.MFCC as the reference's audio harmonizer builds it (modules/incode.py INR.__init__,
# train_audio.ipynb: n_mfcc = in_channels = 50, melkwargs n_fft 400, hop_length 160, n_mels 50, center False)
MFCC_SETTINGS = {"n_mfcc": 50, "n_fft": 400, "hop_length": 160, "n_mels": 50}
RESNET_STEM_CHANNELS = 64  # resnet34's layer1 output: the image harmonizer's in_channels 64


def mfcc_features(wave: np.ndarray, rate: float) -> np.ndarray:
    """The frame-averaged MFCCs (n_mfcc values) of `wave`, as torchaudio's MFCC computes them: power
    spectrogram (periodic Hann, no centring), HTK mel filters without normalisation, 10·log10 with
    top_db 80 over the whole spectrogram, orthonormal DCT-II; a wave shorter than n_fft is zero-padded."""
    import librosa

    n_fft, hop = MFCC_SETTINGS["n_fft"], MFCC_SETTINGS["hop_length"]
    wave = np.pad(wave.astype(np.float64), (0, max(0, n_fft - len(wave))))
    power = np.abs(librosa.stft(wave, n_fft=n_fft, hop_length=hop, window="hann", center=False)) ** 2
    with warnings.catch_warnings():  # a low rate leaves some of the 50 mel filters empty: zeros, as torchaudio's
        warnings.simplefilter("ignore")
        filters = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=MFCC_SETTINGS["n_mels"], htk=True, norm=None)
    decibels = librosa.power_to_db(filters @ power, ref=1.0, amin=1e-10, top_db=80.0)
    mfcc = librosa.feature.mfcc(S=decibels, n_mfcc=MFCC_SETTINGS["n_mfcc"], dct_type=2, norm="ortho")
    return mfcc.mean(axis=1)  # the reference's AdaptiveAvgPool1d(1) over frames


def harmonizer_input(signal: Signal) -> np.ndarray:
    """What the harmonizer's feature extractor reads (float32): images (1, 3, H, W) in [0, 1] (grey repeated
    into three channels); audio / 1D the MFCC vector (the extractor is then the identity)."""
    if signal.kind == "image":
        image = signal.as_grid()
        image = image[..., None] if image.ndim == 2 else image  # (H, W) or (H, W, C) -> (H, W, C)
        image = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
        return ((image.transpose(2, 0, 1)[None] + 1.0) / 2.0).astype(np.float32)  # [-1, 1] -> [0, 1]
    rate = float(signal.sample_rate or 2 * signal.num_points)
    return mfcc_features(signal.values[:, 0], rate).astype(np.float32)


def harmonizer_input_shape(shape) -> tuple[int, ...]:
    """`harmonizer_input`'s shape for a signal of this shape: a saved model is rebuilt from its shape
    alone (no samples), then its stored input loads."""
    if shape.kind == "image":
        return (1, 3, *shape.grid[:2])
    return (MFCC_SETTINGS["n_mfcc"],)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock at 64 channels, stride 1: relu(x + bn2(conv2(relu(bn1(conv1(x))))))."""

    def __init__(self, channels: int = RESNET_STEM_CHANNELS):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = batch_norm(channels)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = batch_norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


def batch_norm(channels: int) -> nn.InstanceNorm2d:
    """resnet34's BatchNorm2d as the reference runs it: always in training mode, on a batch of one image, i.e.
    each channel normalised over the image's positions (biased variance, ε 1e-5) then scaled and shifted:
    exactly InstanceNorm2d(affine=True) for one image. Written so, it keeps no running statistics (no buffer
    changes in place under vmap or in batched runs) and is not the +bn modifier's batch norm, which the
    diagnostics freeze and treat as coupling the samples (ntk.freeze_batch_norm); same weight/bias names."""
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResNetStem(nn.Sequential):
    """nn.Sequential(*list(torchvision.models.resnet34().children())[:5]) in plain PyTorch: conv1 7×7/2,
    bn1, relu, maxpool 3×3/2, layer1 (three BasicBlocks); state-dict names as torchvision's, init as
    torchvision's ResNet.__init__ (convolutions kaiming_normal_ fan_out / relu, batch norm weight 1, bias 0)."""

    def __init__(self):
        channels = RESNET_STEM_CHANNELS
        super().__init__(nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False), batch_norm(channels),
                         nn.ReLU(inplace=False), nn.MaxPool2d(3, stride=2, padding=1),
                         nn.Sequential(*(BasicBlock(channels) for _ in range(3))))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.InstanceNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)


class ImageFeatures(nn.Module):
    """The reference's image features: the resnet34 stem, then the mean over positions (64 values)."""

    def __init__(self):
        super().__init__()
        self.stem = ResNetStem()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.stem(image.to(self.stem[0].weight.dtype)).mean(dim=(-2, -1))[0]


HARMONIZER_BIAS = 0.3120  # the reference notebooks' mlp_bias (0.0005 only in its denoising one)
HARMONIZER_WEIGHT_STD = 0.001


@torch.no_grad()
def harmonizer_init(linear: nn.Linear) -> None:
    """INCODE modules/incode.py, MLP.init_weights: W ~ N(0, 0.001²) truncated at ±2 (trunc_normal_'s
    default bounds, ~2000σ: in effect untruncated), b = 0.3120. With weights that small every layer's
    output is ≈ its bias, so (a', b', c', d') start ≈ 0.312 whatever the features."""
    nn.init.trunc_normal_(linear.weight, std=HARMONIZER_WEIGHT_STD)
    nn.init.constant_(linear.bias, HARMONIZER_BIAS)


# INCODE's regulariser weights λ on relu(−a'), relu(−b'), relu(−c'), relu(−d') (train_image.ipynb and
# train_audio.ipynb: --a_coef 0.1993 --b_coef 0.0196 --c_coef 0.0588 --d_coef 0.0269)
REGULARISER_WEIGHTS = (0.1993, 0.0196, 0.0588, 0.0269)


class Harmonizer(nn.Sequential):
    """Feature extractor (ImageFeatures, or the identity on precomputed MFCCs), then the MLP
    Linear, SiLU, Linear, SiLU, Linear → (a', b', c', d'). Counted as the 4 values it yields: after training
    they are all an INCODE needs (count_parameters reads `inference_parameters`)."""

    inference_parameters = 4

    def __init__(self, extractor: nn.Module, in_features: int, width: int):
        super().__init__(extractor, nn.Linear(in_features, width), nn.SiLU(), nn.Linear(width, width // 2), nn.SiLU(),
                         nn.Linear(width // 2, 4))
        for linear in self:
            if isinstance(linear, nn.Linear):
                harmonizer_init(linear)


class IncodeNetwork(CoordinateMLP):
    """SIREN composer + harmonizer. Its harmonizer is not applied per sample, so the eNTK takes the
    torch.func path (`layerwise_ntk = False`). `features` holds what the harmonizer reads
    (`harmonizer_input`)."""

    layerwise_ntk = False

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, omega0: float, first_omega0: float,
                 features: np.ndarray, harmonizer_width: int = 64):
        super().__init__(in_dim, out_dim, width, depth,
                         lambda i: ModulatedSine(first_omega0 if i == 0 else omega0))
        self.register_buffer("features", torch.as_tensor(features, dtype=torch.float32))
        image = features.ndim == 4
        extractor = ImageFeatures() if image else nn.Identity()
        self.harmonizer = Harmonizer(extractor, RESNET_STEM_CHANNELS if image else features.size, harmonizer_width)
        self.raw_modulation: torch.Tensor | None = None  # (a', b', c', d') of the last forward

    def modulation(self) -> torch.Tensor:
        """(a, b, c, d) = (e^a', e^b', c', d'), INCODE Eq. 3; keeps (a', b', c', d') for the regulariser."""
        raw = self.harmonizer(self.features.to(self.harmonizer[1].weight.dtype))
        self.raw_modulation = raw
        return torch.cat([raw[:2].exp(), raw[2:]])

    def regularisation(self) -> torch.Tensor:
        """Σ λᵢ·relu(−pᵢ), p = (a', b', c', d') of the last forward (the notebooks' reg_loss, added to the MSE)."""
        raw = self.raw_modulation if self.raw_modulation is not None else self.harmonizer(
            self.features.to(self.harmonizer[1].weight.dtype))
        weights = torch.tensor(REGULARISER_WEIGHTS, dtype=raw.dtype, device=raw.device)
        return (weights * torch.relu(-raw)).sum()

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
    features = (harmonizer_input(signal) if hasattr(signal, "values")
                else np.zeros(harmonizer_input_shape(signal), dtype=np.float32))
    model = IncodeNetwork(signal.in_dim, signal.channels, cfg.width, cfg.depth, cfg.omega0, cfg.first_omega0,
                          features, harmonizer_width=max(4, cfg.width // 4))
    return siren_initialised(model, cfg.first_omega0, cfg.omega0)


def _incode_defaults(signal: Signal) -> dict:
    """The sine family's ω₀ by kind; the notebooks' rates: 9e-4 images, 9e-5 audio (and the lab's 1D)."""
    return sine_defaults(signal, lr=9e-4 if signal.kind == "image" else 9e-5)


register(MethodSpec(
    "incode", build_incode, "INCODE: SIREN with a·sin(b·ω₀z + c) + d, (a,b,c,d) from a harmonizer of the target.",
    "Kazerouni et al., INCODE: Implicit Neural Conditioning with Prior Knowledge Embeddings, WACV 2024",
    SINE_PARAM + "; (a,b,c,d) = (e^a', e^b', c', d') shared by all layers (Eq. 3); harmonizer as the reference's "
    "(xmindflow/INCODE modules/incode.py): images the first five children of an untrained resnet34 (built in plain "
    "PyTorch, torchvision's layers and init), trained jointly, pooled to 64 features; audio/1D the frame mean of 50 "
    "MFCCs (torchaudio's MFCC settings, via librosa); its MLP init MLP.init_weights (W ~ N(0, 0.001²), biases 0.3120: "
    "a = b ≈ 1.37, c = d ≈ 0.31 at the start); its regulariser Σ λ·relu(−(a',b',c',d')), λ = (0.1993, 0.0196, "
    "0.0588, 0.0269); lr 9e-4 images, 9e-5 audio/1D; ours: the MLP's widths a quarter and an eighth of the "
    "composer's (the reference's 64→32 at width 256; 50→32 for audio), the harmonizer counted as its 4 outputs, "
    "the shared lr schedule (the notebooks decay 0.1^(step/steps) images, 0.2^ audio; --lr-schedule exp is the "
    "first)",
    _incode_defaults, ("omega0", "first_omega0"), family="periodic activations"))
