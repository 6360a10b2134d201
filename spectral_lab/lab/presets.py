"""Presets: named setups with a note that states what their settings show (each note is checked by
tests/test_presets.py), and the sizes that follow a signal's kind."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from ..config import RunConfig
from ..signals import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from .links import parse_share_query


@dataclass(frozen=True)
class Preset:
    title: str
    explanation: str
    query: str
    gpu_query: str = ""  # the same lesson at paper scale, used when the server has a GPU


PRESETS: dict[str, Preset] = {p.title: p for p in (
    Preset("Spectral bottleneck (1D): SIREN vs SIREN²",
           "A target made only of frequencies near Nyquist (WINNER Eq. 5). SIREN stays at the zero-output "
           "PSNR; SIREN²'s noisy init gives it the frequency support to fit it.",
           "signal=winner_high&length=4096&width=64&steps=300&methods=siren,siren2",
           "signal=winner_high&length=65536&width=256&depth=4&steps=2000&methods=siren,siren2"),
    Preset("Audio: chip melody, SIREN vs SIREN²",
           "A bright square-wave melody. Both fits follow it; SIREN² lands about 20 dB closer. In the "
           "band errors SIREN's largest misses are upper bands, where SIREN² stays near zero.",
           "signal=chip_melody&length=8000&steps=300&methods=siren,siren2",
           "signal=chiptune&length=150000&signal_options=sample_rate%3D44100&width=222&depth=4&steps=2000"
           "&methods=siren,siren2"),
    Preset("Image: ReLU vs SIREN vs SPDER",
           "The camera man at 64². ReLU is blurry: spectral bias leaves every band above the lowest few "
           "mostly unlearned. SIREN is sharp up to the middle bands; SPDER's damping fits them all in the "
           "same steps.",
           "signal=camera&image_size=64&steps=200&methods=relu,siren,spder",
           "signal=camera&image_size=256&width=256&depth=4&steps=500&methods=relu,siren,spder"),
    Preset("Encodings: plain vs PE vs RFF",
           "The same ReLU MLP with no encoding, NeRF positional encoding and random Fourier features. "
           "The eNTK's eigenvalues fall off more slowly with each encoding (its effective rank at "
           "initialisation rises), and the PSNR rises with it.",
           "signal=camera&image_size=64&steps=300&methods=relu,relu_pe,relu_rff"),
    Preset("Broadband S6: SIREN, FINER, SIREN²",
           "A broadband signal with its low frequencies removed (WINNER Fig. 1a, S6). SIREN stays at the "
           "zero-output PSNR, FINER fits part of it, SIREN² most of it.",
           "signal=broadband_s6&length=4096&width=64&steps=300&methods=siren,finer,siren2"),
    Preset("Training modifiers: PE with IGA, FR, BN",
           "The same ReLU+PE network trained plainly and with each of the IGA paper's three modifiers "
           "(inductive gradient adjustment, Fourier reparameterisation, batch norm) at one shared learning "
           "rate. At this rate each modifier ends above the plain run; their order among themselves changes "
           "with the rate. IGA rebuilds its gradient adjustment from the eNTK every step, as in the paper.",
           "signal=camera&image_size=48&steps=300&lr=0.002&lr_schedule=exp"
           "&methods=relu_pe,relu_pe%2Biga,relu_pe%2Bfr,relu_pe%2Bbn"),
    Preset("Zoo: one of each family",
           "One method from each family on the camera man at 64²: an encoding (ReLU+PE), a periodic "
           "activation (SIREN), a wavelet (WIRE), a learned first layer (FKAN), multiplicative filters "
           "(FourierNet) and a hash grid, each at its defaults. Watch how differently their eNTK "
           "eigenvalues fall off and which bands each leaves for last. For a ranking at equal parameters "
           "see the README's zoo table (`python -m spectral_lab zoo`).",
           "signal=camera&image_size=64&steps=200&methods=relu_pe,siren,wire,fkan,mfn_fourier,hashgrid"),
    # A method at its own settings is a variant, `method@setting=value` (lab/variants.py): SIREN at ω₀ 90 in
    # every layer beside the default's 30
    Preset("Denoising: ReLU+PE vs SIREN ω₀ 30 vs SIREN ω₀ 90",
           "The camera man at 64² with noise σ 0.2 added: each network trains on the noisy image and is scored "
           "against the clean one (dashed: held-out PSNR; solid: train PSNR; the noisy image itself scores 20 dB). "
           "SIREN ω₀ 30 peaks first, at about 26.7 dB near step 70, then fits the noise: its train PSNR climbs on while "
           "its held-out PSNR falls below 22 dB by step 400. ReLU+PE peaks later (about 26.5 dB near step 150) and "
           "falls more slowly: spectral bias leaves the noise for last. SIREN at ω₀ 90 fits the noise from the "
           "start: its held-out PSNR never rises above about 21 dB.",
           "signal=camera&image_size=64&task=denoise&noise_std=0.2&steps=400"
           "&methods=relu_pe,siren,siren@first_omega0=90@omega0=90"),
    Preset("Inpainting: ReLU+PE, SIREN ω₀ 30 and 90, hash grid",
           "The camera man at 64²: each network trains on a random 30 % of the pixels and is scored on the other "
           "70 % (held-out PSNR). All four reproduce the pixels they saw (train PSNR above 35 dB, the hash grid's "
           "above 70): what they draw between those is their own bias. ReLU+PE, SIREN ω₀ 30 and the hash grid end "
           "within 2 dB of each other, near 24 dB held-out; SIREN at ω₀ 90 fits its pixels as well and fills the "
           "gaps with high frequencies: about 15 dB. A high train PSNR says nothing about the gaps.",
           "signal=camera&image_size=64&task=inpaint&keep=0.3&steps=200"
           "&methods=relu_pe,siren,siren@first_omega0=90@omega0=90,hashgrid"),
    Preset("Teach ω₀: one SIREN knob",
           "Move first-layer ω₀ (try 30, 300, 3000) and watch S(k) reach higher frequencies.",
           "signal=sines&length=2048&signal_options=freqs%3D5%2C80%2C300&first_omega0=300&steps=300&methods=siren"),
)}
DEFAULT_PRESET = "Spectral bottleneck (1D): SIREN vs SIREN²"
CUSTOM = "Custom"


def preset_query(title: str, device_type: str = "cpu") -> str:
    preset = PRESETS[title]
    return preset.gpu_query if device_type == "cuda" and preset.gpu_query else preset.query


SIZE_FIELDS = ("length", "image_size", "width", "depth")  # what a change of signal kind resets


def signal_kind(name: str) -> str:
    """'1d', 'audio' or 'image' for a built-in signal's name (files: from the extension)."""
    from ..signals import SKIMAGE_IMAGES, SYNTHETIC, builtin_audio

    if name in SKIMAGE_IMAGES or Path(name).suffix.lower() in IMAGE_EXTENSIONS:
        return "image"
    if name in builtin_audio() or Path(name).suffix.lower() in AUDIO_EXTENSIONS:
        return "audio"
    if name in SYNTHETIC and "sample_rate" in inspect.signature(SYNTHETIC[name].generator).parameters:
        return "audio"  # a generator with a sample rate makes audio (chiptune)
    return "1d"


def sizes_for_signal(config: RunConfig, device_type: str = "cpu") -> tuple[RunConfig, str]:
    """After the signal changed: when the sizes (length, image size, width, depth) are a preset's,
    not the user's own, take those of the first preset of the new signal's kind (length 4096 and
    width 64 of the 1D preset would make an 8,513-parameter audio net); returns (config, what changed)."""
    presets = {title: parse_share_query(preset_query(title, device_type))[0] for title in PRESETS}
    if not any(all(getattr(p, f) == getattr(config, f) for f in SIZE_FIELDS) for p in presets.values()):
        return config, ""  # the user's own sizes: kept
    kind = signal_kind(config.signal)
    for title, preset_config in presets.items():
        if signal_kind(preset_config.signal) == kind:
            sizes = {f: getattr(preset_config, f) for f in SIZE_FIELDS}
            changed = [f"{f.replace('_', ' ')} {sizes[f] if sizes[f] is not None else 'default'}"
                       for f in SIZE_FIELDS if sizes[f] != getattr(config, f)]
            if not changed:
                return config, ""
            return config.replace(**sizes), f"{kind} sizes from the preset “{title}”: {', '.join(changed)}"
    return config, ""


def matching_preset(config: RunConfig, methods: list[str], device_type: str = "cpu") -> str:
    """The preset whose whole state equals (config, methods), or CUSTOM."""
    for title in PRESETS:
        if parse_share_query(preset_query(title, device_type)) == (config, list(methods)):
            return title
    return CUSTOM


def with_app_cadence(config: RunConfig, device_type: str) -> RunConfig:
    """Diagnostic cadences the app uses: ~6 eNTKs, 3 activation snapshots, ~12 error maps, 40 reconstructions (the
    replay's frames) and 40 band-error columns per run, within a 6% budget shared by them (the final step
    computes every one whatever the budget deferred). With the UI thread's share this keeps the app's training
    at ≥ 0.85 of headless on 2 CPU cores (bench/bench_app.py)."""
    steps = config.steps
    return config.replace(
        diagnostics_budget=min(config.diagnostics_budget, 0.06) if config.diagnostics_budget > 0 else 0.0,
        log_every=max(1, min(config.log_every, steps // 50 or 1)), preview_every=max(1, steps // 40),
        ntk_every=config.ntk_every or max(1, steps // 6), activations_every=config.activations_every or max(1, steps // 3),
        errors_every=config.errors_every or max(1, steps // 12), bands_every=config.bands_every or max(1, steps // 40))
