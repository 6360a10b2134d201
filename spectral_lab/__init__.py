"""Spectral Lab: see spectral bias in implicit neural representations (coordinate MLPs)."""
import warnings

# scikit-image's data module and librosa import pooch, which imports tqdm.auto; in Jupyter without
# ipywidgets that prints "TqdmWarning: IProgress not found" into a notebook that shows no bar.
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm.auto")
import torch

# Gaussian-type activations (gauss, wire, finer_pp) underflow into subnormal floats, which x86 CPUs
# compute ~5× slower: flushed to zero, 200 steps of gauss on sines take 3.3 s instead of 18.3 s,
# wire 8.3 s instead of 48.8 s (1 thread), at the same PSNR (bench/bench_zoo.py). The flag is per
# thread and inherited by threads created later, so it is set here, before torch starts its pool.
torch.set_flush_denormal(True)
from .config import RunConfig  # noqa: E402
from .errors import ConfigError, SignalError, SpectralLabError, TrainingDiverged
from .methods import METHODS, build_model, get_method, list_methods, resolve, winner_scales
from .metrics import psnr, rho_ag, ssim
from .signals import Signal, from_array, load_audio, load_image, load_signal, spectral_centroid
from .train import Run, Snapshot, fit, run_to_end

__all__ = [
    "RunConfig", "ConfigError", "SignalError", "SpectralLabError", "TrainingDiverged", "METHODS",
    "build_model", "get_method", "list_methods", "resolve", "winner_scales", "psnr", "rho_ag", "ssim",
    "Signal", "from_array", "load_audio", "load_image", "load_signal", "spectral_centroid", "Run",
    "Snapshot", "fit", "run_to_end",
]
