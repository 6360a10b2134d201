"""Reconstruction metrics. All take numpy arrays in the Signal's [-1, 1] units.

PSNR convention: 10·log10(R²/MSE) with R the data range of the target's scale, R = 2 for
values in [-1, 1]. Some reference repositories use R = 1 ("peak-1"), which reads 6.02 dB lower
for the same fit; `psnr(..., data_range=1)` gives that convention.
"""
from __future__ import annotations

import math

import numpy as np

DATA_RANGE = 2.0
PSNR_CONVENTION = "PSNR = 10·log10(R²/MSE), R = 2 (values in [-1, 1]); peak-1 repos read 6.02 dB lower"


def mse(prediction: np.ndarray, target: np.ndarray) -> float:
    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {prediction.shape} vs target {target.shape}")
    return float(np.mean((prediction - target) ** 2))


def psnr_from_mse(mean_squared_error: float, data_range: float = DATA_RANGE) -> float:
    if mean_squared_error <= 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mean_squared_error)


def psnr(prediction: np.ndarray, target: np.ndarray, data_range: float = DATA_RANGE) -> float:
    return psnr_from_mse(mse(prediction, target), data_range)


def ssim(prediction: np.ndarray, target: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """SSIM of (H, W) or (H, W, 3) images via scikit-image, with the [-1, 1] data range."""
    from skimage.metrics import structural_similarity

    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape or target.ndim not in (2, 3):
        raise ValueError(f"SSIM needs two images of the same (H, W[, 3]) shape, got {prediction.shape}, {target.shape}")
    channel_axis = -1 if target.ndim == 3 else None
    win = min(7, *(s if s % 2 else s - 1 for s in target.shape[:2]))
    return float(structural_similarity(prediction, target, data_range=data_range,
                                       channel_axis=channel_axis, win_size=max(win, 3)))


def rho_ag(prediction: np.ndarray, target: np.ndarray, grid_ndim: int | None = None) -> float:
    """SPDER Eq. 5: cosine similarity of the amplitude spectra |F[pred]| and |F[target]|.

    Arrays are on their grid: (L,), (H, W) or (H, W, C) (pass grid_ndim=1 for (L, C)); the FFT
    runs over the grid axes of each channel, spectra are zero-centred (fftshift, as in the
    paper; the cosine itself does not depend on the ordering) and flattened.
    """
    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {prediction.shape} vs target {target.shape}")
    grid_ndim = grid_ndim or (1 if target.ndim == 1 else 2)
    grid_axes = tuple(range(grid_ndim))
    a = np.abs(np.fft.fftshift(np.fft.fftn(prediction, axes=grid_axes), axes=grid_axes)).ravel()
    g = np.abs(np.fft.fftshift(np.fft.fftn(target, axes=grid_axes), axes=grid_axes)).ravel()
    denominator = np.linalg.norm(a) * np.linalg.norm(g)
    return float(a @ g / denominator) if denominator > 0 else 0.0


# A fit this close to what predicting 0 everywhere scores has learned (almost) nothing. "≈" is two-sided:
# a PSNR far *below* the zero output's is an output that is large and wrong, not one that stayed ≈ 0
# (every 3-step fit of whoosh.wav sits 1–12 dB below it).
ZERO_OUTPUT_MARGIN_DB = 1.0
NEAR_ZERO_ENERGY = 0.25  # an output with at most this share of the target's energy is ≈ 0
ZERO_OUTPUT_HINT = "output stayed ≈ 0: spectral bottleneck, or lr too large"
NO_BETTER_HINT = "no better than a zero output, though the output is not ≈ 0"
WORSE_HINT = "worse than a zero output: the output is large and wrong (lr too large, or too few steps)"
STALL_HINTS = (ZERO_OUTPUT_HINT, NO_BETTER_HINT, WORSE_HINT)


def zero_output_relation(value: float, floor: float) -> str:
    """'above', 'at' (within ZERO_OUTPUT_MARGIN_DB either side) or 'below' the zero-output PSNR `floor`."""
    if value - floor >= ZERO_OUTPUT_MARGIN_DB:
        return "above"
    return "at" if value - floor > -ZERO_OUTPUT_MARGIN_DB else "below"


def zero_output_psnr(target: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """PSNR of predicting 0 everywhere: the floor a run that learned nothing sits at."""
    return psnr(np.zeros_like(np.asarray(target, np.float64)), target, data_range)


def zero_output_note(metrics: dict) -> str:
    """What the PSNR says against the zero-output PSNR, with both numbers: 'output stayed ≈ 0 …' only
    when it is within ZERO_OUTPUT_MARGIN_DB of it *and* the output's energy is ≈ 0 (when measured);
    'worse than a zero output …' more than the margin below it; '' when the run learned."""
    floor = metrics.get("zero_output_psnr")
    if floor is None or not math.isfinite(metrics.get("psnr", math.nan)):
        return ""
    relation = zero_output_relation(metrics["psnr"], floor)
    numbers = f"({metrics['psnr']:.2f} dB vs {floor:.2f} dB for a zero output)"
    if relation == "above":
        return ""
    if relation == "below":
        return f"{WORSE_HINT} {numbers}"
    energy = metrics.get("output_energy_share")
    if energy is not None and energy > NEAR_ZERO_ENERGY:
        return f"{NO_BETTER_HINT} {numbers[:-1]}; its energy {100 * energy:.0f} % of the target's)"
    return f"{ZERO_OUTPUT_HINT} {numbers}"


def output_energy_share(prediction: np.ndarray, target: np.ndarray) -> float:
    """‖f‖² / ‖y‖²: how much of the target's energy the output carries (0 for an all-zero output)."""
    target_energy = float(np.sum(np.square(target, dtype=np.float64)))
    return float(np.sum(np.square(prediction, dtype=np.float64))) / target_energy if target_energy > 0 else math.inf


# A PSNR this close to (or above) what float32 arithmetic alone reaches is round-off, not fit quality.
FLOAT32_LIMIT_MARGIN_DB = 3.0


def at_float32_limit(value: float, limit: float | None) -> bool:
    """True when `value` (dB) is within FLOAT32_LIMIT_MARGIN_DB of the run's float32 limit or above it."""
    return limit is not None and math.isfinite(limit) and value >= limit - FLOAT32_LIMIT_MARGIN_DB


def psnr_text(value: float, limit: float | None = None, digits: int = 2) -> str:
    """'41.23 dB', or '≥ 118 dB (float32 limit)' when the fit is as exact as float32 arithmetic
    allows: the difference from the target is then round-off, and the number says nothing more."""
    if at_float32_limit(value, limit):
        return f"≥ {math.floor(min(value, limit)):.0f} dB (float32 limit)"
    return f"{value:.{digits}f} dB"


def evaluate(prediction_grid: np.ndarray, target_grid: np.ndarray, kind: str) -> dict[str, float]:
    """The metrics a results table shows: PSNR always; SSIM for images; ρ_AG always; and the
    zero-output PSNR the run is measured against."""
    result = {"psnr": psnr(prediction_grid, target_grid), "rho_ag": rho_ag(prediction_grid, target_grid, 2 if kind == "image" else 1),
              "zero_output_psnr": zero_output_psnr(target_grid),
              "output_energy_share": output_energy_share(prediction_grid, target_grid)}
    if kind == "image":
        result["ssim"] = ssim(prediction_grid, target_grid)
    return result
