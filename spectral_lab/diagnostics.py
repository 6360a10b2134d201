"""Diagnostics beside the NTK: activation statistics, error maps, per-band relative error.

Pure functions from (model / arrays) to small numpy data; plots.py draws them. Anything on a
GPU is brought back to host numpy here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .methods.sine import FinerActivation, Sine, SpderActivation
from .methods.wavelets import HoscActivation, SincActivation
from .ntk import power_spectrum, subgrid
from .signals import Signal


# ----------------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------------
@dataclass
class LayerStats:
    """One hidden layer. Pre-activations are the nonlinearity's argument (ω₀z for sine layers)."""

    layer: int
    pre_edges: np.ndarray
    pre_density: np.ndarray
    post_edges: np.ndarray
    post_density: np.ndarray
    pre_std: float
    post_std: float
    pre_reference: tuple[np.ndarray, np.ndarray] | None  # (x, density) of the theory curve
    post_reference: tuple[np.ndarray, np.ndarray] | None
    reference_label: str
    k: np.ndarray  # frequency index (cycles across the signal / the sub-grid)
    power: np.ndarray  # Σ_neurons |FFT of the post-activation|² (WINNER Fig. 8 PSD)
    pre_power: np.ndarray | None = None  # Σ_neurons |FFT of the pre-activation|² (WINNER Fig. 3)
    reference_std: float | None = None  # std of the drawn Gaussian reference, when there is one
    frequency_label: str = "frequency k (cycles per signal)"  # what k counts, for the spectrum's axis
    hz_per_k: float | None = None  # audio: Hz per unit of k (k counts cycles per window of the sub-grid)


def arcsine_density(x: np.ndarray) -> np.ndarray:
    """Arcsine law on (−1, 1): 1 / (π √(1 − x²)), SIREN's post-activation distribution."""
    inside = np.abs(x) < 1
    out = np.zeros_like(x, dtype=np.float64)
    out[inside] = 1.0 / (np.pi * np.sqrt(1.0 - x[inside] ** 2))
    return out


def gaussian_density(x: np.ndarray, std: float) -> np.ndarray:
    return np.exp(-0.5 * (x / std) ** 2) / (std * math.sqrt(2 * math.pi))


def winner_layer2_std(fan_in: int, s1: float) -> float:
    """WINNER Theorem 3.1: std of layer-2 pre-activations ω₀·X(W + η) is √(1 + d·s₁²/2) (no bias)."""
    return math.sqrt(1.0 + fan_in * s1**2 / 2.0)


def sine_layer_std(linear: torch.nn.Linear, omega0: float) -> float:
    """Std of the pre-activations ω₀(XW + b) of a sine layer fed by arcsine inputs (Var X = ½).

    The CLT argument of WINNER Theorem 3.1, conditioned on this layer's drawn weights:
    Var = ω₀² (½·⟨Σ_j W_jk²⟩_k + ⟨b_k²⟩_k). With SIREN's W ~ U(±√(6/d)/ω₀) plus WINNER's
    η ~ N(0, (s/ω₀)²) the first term is 1 + d·s²/2 (the theorem); the bias term, ≈ ω₀²/(3d) for
    PyTorch's default b ~ U(±1/√d), is what the theorem leaves out (1.8 vs 1.0 at d = 128)."""
    weight = linear.weight.detach().double()
    variance = 0.5 * weight.square().sum(dim=1).mean().item()
    if linear.bias is not None:
        variance += linear.bias.detach().double().square().mean().item()
    return omega0 * math.sqrt(variance)


def _argument_scale(activation: torch.nn.Module) -> float:
    """Factor turning z = Wx + b into the nonlinearity's argument (ω₀ for sine-family layers)."""
    if isinstance(activation, (Sine, SpderActivation, FinerActivation, SincActivation, HoscActivation)):
        return activation.omega0
    return 1.0


def activation_stats(model, signal: Signal, max_points: int = 4096, bins: int = 80,
                     method: str = "", s1: float = 0.0) -> list[LayerStats]:
    """Histograms and power spectra of every hidden layer on a regular sub-grid of the signal.

    Batch norm is frozen at the full signal's statistics first (as in training), so the M
    sub-grid points are seen by the network that is being trained."""
    from .ntk import diagnostic_copy

    if not hasattr(model, "layer_activations"):  # no pointwise activation (multiplicative filters)
        return []
    index, sub = subgrid(signal.grid, max_points, layout="auto")
    device = next(model.parameters()).device
    full = torch.from_numpy(signal.coords).to(device)
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        model = diagnostic_copy(model, full)
        full = full.double()
    records = model.layer_activations(full[torch.as_tensor(index, device=device)])
    sine_like = all(isinstance(a, Sine) for a in model.activations)
    stats = []
    for i, ((pre, post), activation) in enumerate(zip(records, model.activations)):
        pre = (pre * _argument_scale(activation)).cpu()
        post = post.cpu()
        # WIRE: the first layer's pre-activation is real but its output complex; show real parts
        pre = pre.real if pre.is_complex() else pre
        post = post.real if post.is_complex() else post
        pre, post = pre.double().numpy(), post.double().numpy()
        pre_density, pre_edges = _histogram(pre, bins)
        post_density, post_edges = _histogram(post, bins)
        pre_ref = post_ref = reference_std = None
        label = ""
        if sine_like:
            x_post = np.linspace(-0.995, 0.995, 200)
            post_ref, label = (x_post, arcsine_density(x_post)), "arcsine (SIREN)"
            if i == 1:
                reference_std = sine_layer_std(model.linears[1], activation.omega0)
                x_pre = np.linspace(pre_edges[0], pre_edges[-1], 200)
                pre_ref = (x_pre, gaussian_density(x_pre, reference_std))
                theorem = winner_layer2_std(model.linears[1].in_features, s1 if method.startswith("siren2") else 0.0)
                label += (f"; N(0, {reference_std:.2f}²): WINNER Thm 3.1 gives {theorem:.2f} without the bias, "
                          f"plus ω₀²⟨b²⟩ for the bias")
        k, power = power_spectrum(post.reshape(post.shape[0], -1), sub)
        _, pre_power = power_spectrum(pre.reshape(pre.shape[0], -1), sub)
        stats.append(LayerStats(i + 1, pre_edges, pre_density, post_edges, post_density, float(pre.std()),
                                float(post.std()), pre_ref, post_ref, label, k, power.sum(axis=1),
                                pre_power=pre_power.sum(axis=1), reference_std=reference_std,
                                **_frequency_axis(signal, sub)))
    return stats


def _frequency_axis(signal: Signal, sub: tuple[int, ...]) -> dict:
    """What the spectra's k counts: cycles across a 1D sub-grid's window of consecutive samples (in Hz
    for audio: k × rate / window), or across the image its strided sub-grid spans."""
    if len(sub) > 1:
        return {"frequency_label": "frequency k (cycles across the image)"}
    if signal.kind == "audio" and signal.sample_rate:
        return {"frequency_label": "frequency (Hz)", "hz_per_k": signal.sample_rate / sub[0]}
    extent = "signal" if sub[0] >= signal.num_points else f"window of {sub[0]:,} samples"
    return {"frequency_label": f"frequency k (cycles per {extent})"}


def _histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    flat = values.reshape(-1)
    low, high = np.percentile(flat, [0.1, 99.9])
    if high <= low:
        low, high = low - 1, high + 1
    density, edges = np.histogram(flat, bins=bins, range=(low, high), density=True)
    return density, edges


# ----------------------------------------------------------------------------------------------
# Error maps
# ----------------------------------------------------------------------------------------------
@dataclass
class ErrorMap:
    """What the error looks like in frequency. `kind` says which fields are filled."""

    kind: str  # "image" | "audio" | "1d"
    residual: np.ndarray | None = None  # image: |pred − target| averaged over channels (H, W)
    fft_log_error: np.ndarray | None = None  # image: |log|F(pred)| − log|F(gt)||, fftshifted (H, W)
    target_db: np.ndarray | None = None  # audio: STFT magnitude of the target, dB (freq, frames)
    fit_db: np.ndarray | None = None  # audio: same for the fit
    difference_db: np.ndarray | None = None  # audio: |fit_db − target_db|
    frequencies: np.ndarray | None = None  # audio: Hz of the STFT rows; 1D: cycles per signal
    times: np.ndarray | None = None  # audio: seconds of the STFT columns
    target_fft: np.ndarray | None = None  # 1D: |FFT| of the target
    fit_fft: np.ndarray | None = None  # 1D: |FFT| of the fit


def spectrogram_db(wave: np.ndarray, n_fft: int = 512, hop: int | None = None, ref: float | None = None
                   ) -> tuple[np.ndarray, float]:
    """librosa STFT magnitude in dB (80 dB floor below `ref`, default the wave's own max)."""
    import librosa

    n_fft = int(min(n_fft, 2 ** int(math.log2(max(wave.size, 16)))))
    magnitude = np.abs(librosa.stft(np.asarray(wave, np.float32), n_fft=n_fft, hop_length=hop or n_fft // 4))
    ref = ref if ref is not None else float(magnitude.max()) or 1.0
    return librosa.amplitude_to_db(magnitude, ref=ref, top_db=None).clip(min=-80.0), ref


def warm_up() -> None:
    """Compile librosa's STFT once (numba; ~10 s in a fresh venv) so the first audio error map is quick."""
    spectrogram_db(np.sin(np.arange(2048, dtype=np.float32)), n_fft=256)


def error_map(signal: Signal, prediction: np.ndarray, n_fft: int = 512) -> ErrorMap:
    """Residual / spectral error maps of `prediction` (N, C) against the signal."""
    target = signal.as_grid()
    fit = signal.as_grid(prediction)
    if signal.kind == "image":
        gray_target = target if target.ndim == 2 else target.mean(axis=-1)
        gray_fit = fit if fit.ndim == 2 else fit.mean(axis=-1)
        residual = np.abs(fit - target)
        residual = residual if residual.ndim == 2 else residual.mean(axis=-1)

        def log_magnitude(image):
            return np.log(np.abs(np.fft.fftshift(np.fft.fft2(image))) + 1e-8)

        return ErrorMap("image", residual=residual,
                        fft_log_error=np.abs(log_magnitude(gray_fit) - log_magnitude(gray_target)))
    if signal.kind == "audio":
        target_db, ref = spectrogram_db(target, n_fft)
        fit_db, _ = spectrogram_db(fit, n_fft, ref=ref)  # same reference: levels comparable
        n = int(min(n_fft, 2 ** int(math.log2(max(target.size, 16)))))
        frequencies = np.fft.rfftfreq(n, 1.0 / signal.sample_rate)
        times = np.arange(target_db.shape[1]) * (n // 4) / signal.sample_rate
        # Where the target is silent (more than 60 dB below its peak) a dB difference measures
        # nothing anyone would hear: masked (NaN, drawn grey), as the band heatmap masks empty bands.
        difference = np.where(target_db >= SILENT_DB, np.abs(fit_db - target_db), np.nan)
        return ErrorMap("audio", target_db=target_db, fit_db=fit_db, difference_db=difference,
                        frequencies=frequencies, times=times)
    return ErrorMap("1d", frequencies=np.arange(target.size // 2 + 1),
                    target_fft=np.abs(np.fft.rfft(target)), fit_fft=np.abs(np.fft.rfft(fit)))


# ----------------------------------------------------------------------------------------------
# Per-frequency relative error (IGA Eq. 7), aggregated into bands
# ----------------------------------------------------------------------------------------------
# A band with less than this share of the target's busiest band counts as empty: at 1e-6 the
# bottleneck preset's bands holding ~1e-4 of the energy were drawn in full colour, and SIREN at the
# zero-output PSNR looked as if it had "learned" them.
NO_ENERGY = 1e-3
SILENT_DB = -60.0  # spectrogram cells this far below the target's peak are masked in the dB difference


def band_relative_error(signal: Signal, prediction: np.ndarray, bands: int = 16
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Band-aggregated relative error after IGA Eq. 7: Δ_band = √(Σ|F[g] − F[f]|² / Σ|F[g]|²)
    over the band's frequency bins (Eq. 7 is per bin, |F[g](k) − F[f](k)| / |F[g](k)|; summing
    energies first keeps bins where the target is tiny from dominating).

    Bands split [0, Nyquist] evenly (1D: rfft bins; images: radial rings of the 2D FFT). Bands
    where the target has (almost) no energy — below NO_ENERGY (0.1%) of the busiest band — get NaN:
    there is nothing there to learn, and a ratio of two tiny numbers would look like an error.
    Returns (band edges in cycles across the domain, Δ of shape (bands,)); Δ = 1 is the error
    of a zero output in that band, 0 a perfect fit.
    """
    target, fit = signal.values.astype(np.float64), np.asarray(prediction, np.float64).reshape(signal.values.shape)
    if signal.in_dim == 1:
        spectrum_target = np.fft.rfft(target, axis=0)
        spectrum_fit = np.fft.rfft(fit, axis=0)
        radius = np.arange(spectrum_target.shape[0], dtype=np.float64)
        nyquist = signal.grid[0] / 2
    else:
        h, w = signal.grid
        spectrum_target = np.fft.fft2(target.reshape(h, w, -1), axes=(0, 1)).reshape(h * w, -1)
        spectrum_fit = np.fft.fft2(fit.reshape(h, w, -1), axes=(0, 1)).reshape(h * w, -1)
        radius = np.sqrt((np.fft.fftfreq(h) * h)[:, None] ** 2 + (np.fft.fftfreq(w) * w)[None, :] ** 2).reshape(-1)
        nyquist = min(h, w) / 2
    edges = np.linspace(0, nyquist, bands + 1)
    keep = radius <= nyquist  # the 2D spectrum's corners beyond Nyquist are left out
    which = np.clip(np.digitize(radius[keep], edges) - 1, 0, bands - 1)
    error_energy = np.bincount(which, (np.abs(spectrum_fit - spectrum_target)[keep] ** 2).sum(axis=1), minlength=bands)
    target_energy = np.bincount(which, (np.abs(spectrum_target[keep]) ** 2).sum(axis=1), minlength=bands)
    floor = NO_ENERGY * max(target_energy.max(), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(target_energy > floor, np.sqrt(error_energy / target_energy), np.nan)
    return edges, delta


def relative_error_at(signal: Signal, prediction: np.ndarray, frequencies) -> np.ndarray:
    """IGA Eq. 7 at given 1D frequency bins: |F[g](k) − F[f](k)| / |F[g](k)|."""
    spectrum_target = np.fft.rfft(signal.values[:, 0].astype(np.float64))
    spectrum_fit = np.fft.rfft(np.asarray(prediction, np.float64).reshape(-1))
    k = np.asarray(frequencies, dtype=int)
    return np.abs(spectrum_fit[k] - spectrum_target[k]) / np.abs(spectrum_target[k])


# ----------------------------------------------------------------------------------------------
# The bundle a Run attaches to a Snapshot
# ----------------------------------------------------------------------------------------------
CADENCES = {"ntk": "ntk_every", "activations": "activations_every", "errors": "errors_every",
            "bands": "bands_every"}
DIAGNOSTICS = tuple(CADENCES)


def enabled_diagnostics(config) -> set[str]:
    return {name for name, knob in CADENCES.items() if getattr(config, knob) > 0}


def due_diagnostics(config, step: int) -> set[str]:
    """Which diagnostics the config's cadences ask for at `step` (step 0: all enabled ones)."""
    return {name for name, knob in CADENCES.items()
            if getattr(config, knob) > 0 and step % getattr(config, knob) == 0}


def ntk_note(config) -> str:
    """What the kernel is, in words, for the NTK panel."""
    from .modifiers import split_method

    base, modifiers = split_method(config.method)
    notes = []
    if base == "finer":
        notes.append("FINER: Jacobian with the scale |z|+1 detached, as in training")
    if "bn" in modifiers:
        notes.append("batch norm frozen at the full signal's statistics")
    if "fr" in modifiers:
        notes.append("FR: gradients w.r.t. Λ, so the kernel is FR's, not the folded network's")
    return "; ".join(notes)


def diagnose(model, signal: Signal, config, names: set[str], prediction: np.ndarray, observed: Signal | None = None,
             observed_prediction: np.ndarray | None = None) -> dict:
    """Compute the named diagnostics now. Keys: ntk, activations, error_map, band_error. The kernel and
    the activations read `observed` (the signal as the network is given it: noisy, sub-sampled; default
    `signal`) with `observed_prediction` on it; error maps and band errors score `prediction` (the full
    grid) against `signal`."""
    from .ntk import ntk_diagnostics

    result = {}
    if observed is None:
        observed, observed_prediction = signal, prediction
    if "ntk" in names:
        result["ntk"] = ntk_diagnostics(model, observed.coords, observed.grid, observed.values,
                                        max_points=config.ntk_points, prediction=observed_prediction,
                                        layout=config.ntk_layout)
        extra = ntk_note(config)
        if extra:
            result["ntk"].note = "; ".join(n for n in (result["ntk"].note, extra) if n)
    if "activations" in names:
        result["activations"] = activation_stats(model, observed, method=config.method, s1=config.s1 or 0.0)
    if "errors" in names:
        result["error_map"] = error_map(signal, prediction)
    if "bands" in names:
        result["band_error"] = band_relative_error(signal, prediction)
    return result
