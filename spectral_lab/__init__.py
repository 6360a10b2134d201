"""Spectral Lab: see spectral bias in implicit neural representations (coordinate MLPs)."""
import warnings

# scikit-image's data module and librosa import pooch, which imports tqdm.auto; in Jupyter without
# ipywidgets that prints "TqdmWarning: IProgress not found" into a notebook that shows no bar.
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm.auto")
from .config import RunConfig
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
