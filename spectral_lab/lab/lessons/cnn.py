"""Lesson 6: a CNN's kernels as a signal (NeRN / SBS), read from what the run measures.

Two things are measured and kept apart. (1) The spectral claim, from the kernels alone: reordering
a layer so neighbouring kernels are similar (SBS's UOS) moves its energy to low frequencies
(SBS Fig. 2B); a random reordering does not. (2) What a small MLP makes of the signal: kernel
PSNR next to the PSNR of an all-zero output (the PSNR's peak is the largest weight, ~10× a typical
one, so even outputting 0 scores ~19.5 dB here), the relative error per layer, the rebuilt CNN's
accuracy, and the same MLP fitted in lockstep to the CNN's own order — so whether the smoother
signal is learned better is measured, not assumed.

Measured (2 CPU cores, seed 0, 4.6 % CR, reconstruction loss alone): both orders end within 0.3 dB
of the zero-output PSNR with 96–99 % relative error in every layer and the rebuilt CNN at chance.
With NeRN/SBS's distillation phase (follow-ups) the accuracy can rise while the kernel PSNR falls
below the zero-output PSNR (SBS setting, 1000 steps: 9.7 % → 68 % while 19.7 → 14.0 dB): that
phase rewards kernels that make the CNN work with its kept batch norm, shortcuts and classifier,
not kernels close to the originals — and its outcome varied from 10 % to 91 % between runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ...metrics import zero_output_relation
from ...nern import NernResult, NernRun
from .base import Takeaway
from .readings import pct

LOW_SHARE_GAIN = 0.05  # smoothing must move this much more of the energy below 1/8 cycle per kernel
SAME_FIT_DB = 0.5  # two kernel fits within this are "no better, no worse"


def kernel_low_share(spectra: dict) -> dict[str, float]:
    """Share of the largest layer's kernel energy below 1/8 cycle per kernel, in the CNN's order and
    smoothed (spectra: nern.layer_spectra)."""
    from ...nern.orderings import low_frequency_energy

    return {"original": low_frequency_energy(spectra["original_grid"]),
            "smoothed": low_frequency_energy(spectra["smoothed_grid"])}


@dataclass
class KernelFit:
    """How close one predictor's kernels came, in the units a student can check."""

    psnr: float  # kernel PSNR (peak = the CNN's largest |weight|)
    zero_psnr: float  # the kernel PSNR of an all-zero output: 10·log10(peak² / mean weight²)
    peak: float  # the CNN's largest |weight|
    typical: float  # the root-mean-square weight
    layer_errors: tuple[float, ...]  # relative error per 3×3 layer: ‖pred − w‖ / ‖w‖
    accuracy: float  # the rebuilt CNN on the test digits


def kernel_fit(run, prediction: np.ndarray, psnr: float, accuracy: float) -> KernelFit:
    signal = run.signal
    values = signal.values.astype(np.float64)
    weights = values * signal.row_scales()
    typical = math.sqrt(max(float((weights ** 2).mean()), 1e-30))
    zero_psnr = 20 * math.log10(run.peak / typical)
    errors = tuple(float(np.sqrt(((prediction[signal.layer_of == i] - values[signal.layer_of == i]) ** 2).sum()
                                 / max((values[signal.layer_of == i] ** 2).sum(), 1e-30)))
                   for i in range(len(signal.shapes)))
    return KernelFit(psnr, zero_psnr, run.peak, typical, errors, accuracy)


@dataclass
class CnnLessonResult(NernResult):
    """The predictor's NernResult plus what the takeaway reads: its fit, where distillation began,
    and the same predictor fitted in lockstep to the CNN's own order."""

    fit: KernelFit | None = None
    layer_names: tuple[str, ...] = ()
    layer_sizes: tuple[int, ...] = ()  # kernels per layer
    classes: int = 10
    warm_step: int | None = None  # where the distillation phase began (None: the reconstruction loss alone)
    warm_psnr: float | None = None
    warm_accuracy: float | None = None
    own_order: KernelFit | None = None


def _final_fit(run) -> KernelFit:
    last = run.history[-1]
    return kernel_fit(run, last.prediction, last.psnr, last.accuracy)


def _warm_up(run) -> tuple[int | None, float | None, float | None]:
    """(the step distillation began, the kernel PSNR and accuracy there), or Nones without it."""
    config = run.config
    if config.feature_weight <= 0 and config.kd_weight <= 0:
        return None, None, None
    start = int(math.ceil(config.warmup * config.steps))
    before = [s for s in run.history if s.step <= start]
    evaluated = [s for s in before if s.accuracy is not None]
    return start, before[-1].psnr, evaluated[-1].accuracy if evaluated else None


def read_cnn_run(run, own_order=None) -> CnnLessonResult:
    """The lesson's result from a finished NernRun (and its own-order twin)."""
    signal = run.signal
    warm_step, warm_psnr, warm_accuracy = _warm_up(run)
    base = {f.name: getattr(run.result, f.name) for f in fields(NernResult)}
    twin = _final_fit(own_order) if own_order is not None and own_order.result is not None else None
    return CnnLessonResult(**base, fit=_final_fit(run), layer_names=tuple(signal.names),
                           layer_sizes=tuple(f * c for f, c in signal.shapes), classes=int(run.cnn.fc.out_features),
                           warm_step=warm_step, warm_psnr=warm_psnr, warm_accuracy=warm_accuracy, own_order=twin)


class CnnLessonRun(NernRun):
    """The lesson's predictor and, in lockstep (one log interval each in turn), the same predictor on
    the CNN's own kernel order; `result` is a CnnLessonResult once the snapshots are exhausted."""

    def __init__(self, config, data=None):
        super().__init__(config, data)
        self.own_order = (NernRun(config.replace(smoothing="none"), self.data) if config.smoothing != "none"
                          else None)

    def stop(self) -> None:
        super().stop()
        if self.own_order is not None:
            self.own_order.stop()

    def snapshots(self):
        twin = self.own_order.snapshots() if self.own_order is not None else iter(())
        twin_step = -1
        for snapshot in super().snapshots():
            while twin_step < snapshot.step:  # bring the twin to the same step
                twin_step = getattr(next(twin, None), "step", math.inf)
            yield snapshot
        for _ in twin:  # a stop ends both at their next step; finish the twin's final snapshot
            pass
        self.result = read_cnn_run(self, self.own_order)


def _spectral_sentence(low_share: dict[str, float]) -> tuple[str, int]:
    original, smoothed = low_share["original"], low_share["smoothed"]
    gain = smoothed - original
    supports = 0 if gain > LOW_SHARE_GAIN else 1 if gain < -LOW_SHARE_GAIN else 2
    text = (f"In the CNN's own order {pct(original)} of the largest layer's kernel energy lies at low frequencies; "
            f"reordered, {pct(smoothed)}.")
    if supports == 0:
        text += " Reordering changes nothing in the CNN (the order is stored and undone) but makes the signal smoother."
    elif supports == 2:
        text += " This reordering left the energy where it was: it did not make the signal smoother."
    return text, supports


def _errors_text(fit: KernelFit) -> str:
    low, high = min(fit.layer_errors), max(fit.layer_errors)
    return f"{pct(low)} in every layer" if high - low < 0.01 else f"{100 * low:.0f}–{pct(high)} per layer"


def _fit_sentence(result: CnnLessonResult) -> str:
    fit = result.fit
    relation = zero_output_relation(fit.psnr, fit.zero_psnr)
    text = (f" A ReLU MLP with {result.mlp_parameters:,} parameters ({100 * result.cr:.1f} % of the CNN) fitted "
            f"the reordered kernels for {result.steps} steps: kernel PSNR {fit.psnr:.1f} dB, where an all-zero "
            f"output scores {fit.zero_psnr:.1f} dB; relative error {_errors_text(fit)}.")
    if relation == "below":
        text += (f" Its kernels are further from the CNN's than an all-zero output is ({fit.zero_psnr - fit.psnr:.1f} dB "
                 "below it): it has not fitted them.")
    elif relation == "at":
        text += (f" So it learned almost nothing of the kernels, in any layer: the PSNR looks like a fit only "
                 f"because its peak is the largest weight ({fit.peak:.2f}), {fit.peak / fit.typical:.0f}× a "
                 f"typical one ({fit.typical:.3f}).")
    text += (f" The CNN rebuilt from them scores {100 * fit.accuracy:.1f} % (the original "
             f"{100 * result.original_accuracy:.1f} %; guessing {100 / result.classes:.0f} %).")
    return text


def _own_order_sentence(result: CnnLessonResult) -> str:
    own, fit = result.own_order, result.fit
    if own is None:
        return ""
    gap = fit.psnr - own.psnr
    verdict = ("the smoother signal was learned better" if gap >= SAME_FIT_DB else
               "the smoother signal was learned worse" if gap <= -SAME_FIT_DB else
               "at this size the smoother signal was not learned measurably better")
    return (f" The same MLP on the CNN's own order, trained alongside: {own.psnr:.1f} dB, relative error "
            f"{_errors_text(own)}, rebuilt CNN {100 * own.accuracy:.1f} % — {verdict} ({gap:+.1f} dB).")


def _distillation_sentence(result: CnnLessonResult) -> str:
    if result.warm_step is None or result.warm_accuracy is None:
        return ""
    fit = result.fit
    text = (f" From step {result.warm_step} the loss also asked the rebuilt CNN to match the original's outputs "
            f"(distillation): accuracy {100 * result.warm_accuracy:.1f} % → {100 * fit.accuracy:.1f} %, kernel "
            f"PSNR {result.warm_psnr:.1f} → {fit.psnr:.1f} dB.")
    if fit.accuracy - result.warm_accuracy > 0.1 and fit.psnr < result.warm_psnr - SAME_FIT_DB:
        text += (" The CNN got better while its kernels moved *away* from the originals: distillation rewards "
                 "kernels that work with the CNN's kept batch norm, shortcuts and classifier, not kernels close "
                 "to the originals, so kernel error and accuracy measure different things.")
    return text


def cnn_weights_takeaway(result, low_share: dict[str, float]) -> Takeaway:
    """Lesson 6: the spectral claim from the kernels' spectra; the fit and the rebuilt CNN as measured.
    `result`: the lesson run's CnnLessonResult (a plain NernResult gives the spectral part and its numbers);
    `low_share`: kernel_low_share of the run's spectra."""
    text, supports = _spectral_sentence(low_share)
    if isinstance(result, CnnLessonResult) and result.fit is not None:
        text += _fit_sentence(result) + _own_order_sentence(result) + _distillation_sentence(result)
    else:
        text += (f" The predictor ({100 * result.cr:.1f} % of the CNN's parameters) reached a kernel PSNR of "
                 f"{result.psnr:.1f} dB; the rebuilt CNN scores {100 * result.accuracy:.1f} % (the original "
                 f"{100 * result.original_accuracy:.1f} %).")
    return Takeaway(text, supports)
