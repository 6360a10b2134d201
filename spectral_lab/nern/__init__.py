"""NeRN / SBS: a CNN's 3×3 kernels as the signal a coordinate MLP represents (SBS paper).

    cnn        the digits ResNet whose weights are the signal (offline, trained on first use)
    orderings  in-layer kernel orderings (none, random, nern, uos, mos) and the smoothness S(w)
    predictor  the kernel signal, the MLP predictor, its training run and sweeps
    cli        `python -m spectral_lab nern ...`
"""
from .cnn import DigitsData, accuracy, load_cnn, load_digits_data
from .orderings import ORDERING_DOCS, ORDERINGS
from .predictor import (SETTINGS, KernelSignal, NernConfig, NernResult, NernRun, NernSnapshot, build_predictor,
                        compression_ratio, fit_nern, kernel_ntk, kernel_signal, layer_spectra, ordering_report,
                        sweep)

__all__ = ["DigitsData", "accuracy", "load_cnn", "load_digits_data", "ORDERING_DOCS", "ORDERINGS", "SETTINGS",
           "KernelSignal", "NernConfig", "NernResult", "NernRun", "NernSnapshot", "build_predictor",
           "compression_ratio", "fit_nern", "kernel_ntk", "kernel_signal", "layer_spectra", "ordering_report", "sweep"]
