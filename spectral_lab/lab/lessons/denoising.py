"""Lesson 7: when spectral bias helps. Trained on a noisy photo and scored against the clean photo it
never sees (tasks.py, task "denoise"), a network's held-out PSNR rises while it learns the picture and
falls once it learns the noise: a photo's energy sits at low frequencies, white noise's is spread
over all of them, and gradient descent fits low frequencies first. The takeaway reads each held-out
curve over the whole run (its rise, its best step, its fall), never the last step alone, and says
"learned the noise" only where the training PSNR passed the noisy photo's own: a network that made
the clean photo exactly would score that against the noisy one, so anything above it is noise learned.

Measured on the lesson's setting (camera 48², σ 0.2, 400 steps at each method's default rate, seeds
0–2, 2 CPU cores): ReLU with a positional encoding (lr 1e-3) peaked at 26.1–26.6 dB at steps 130–160
and fell 1.7–2.6 dB by the end; SIREN (lr 1e-4) peaked at 25.9–26.4 dB at steps 50–60 and fell 6.1–6.2
dB, to the noisy photo's own 19.7–20.2 dB (training PSNR 55–64 dB). Plain ReLU was still rising at
step 400 (peak = final, 23.4–24.1 dB); a hash grid peaked at step 30 and ended at the noisy photo's PSNR.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Takeaway
from .names import bold_name
from .readings import finished

RISE_DB = 1.0  # the held-out PSNR rose this far above its first reading: the picture was being learned
FALL_DB = 1.0  # ... and ended this far below its best: the noise was then being learned
RISING_DB = 0.3  # it gained this much over the run's last fifth: still rising when the run stopped
COPY_DB = 1.0  # a best within this of the noisy photo's own PSNR: never better than copying the photo
NEAR_BEST_DB = 1.0  # "near its best": within this of its peak
NOISE_LEARNED_DB = 1.0  # a training PSNR this far above the noisy photo's own: noise learned
# a shape of the held-out curve -> the choice it supports (flat and still rising settle nothing)
CHOICE = {"turned": 0, "level": 1, "copied": 2}


@dataclass(frozen=True)
class HeldOutReading:
    """One method's held-out curve (PSNR against the clean photo at each log point, the last one the
    kept parameters'), with the noisy photo's own PSNR and the final training PSNR."""

    method: str
    steps: np.ndarray
    values: np.ndarray
    noisy_input: float  # the noisy photo scored against the clean one
    train_final: float  # the final fit against the noisy photo it trained on
    lr: float | None

    @property
    def best(self) -> float:
        return float(self.values.max())

    @property
    def best_step(self) -> int:
        return int(self.steps[int(np.argmax(self.values))])

    @property
    def final(self) -> float:
        return float(self.values[-1])

    def near_best(self) -> tuple[int, int]:
        """The steps around the peak over which the curve stayed within NEAR_BEST_DB of it."""
        peak = int(np.argmax(self.values))
        near = self.values >= self.best - NEAR_BEST_DB
        start = peak
        while start > 0 and near[start - 1]:
            start -= 1
        end = peak
        while end + 1 < len(near) and near[end + 1]:
            end += 1
        return int(self.steps[start]), int(self.steps[end])

    def late_gain(self) -> float:
        """What the curve gained over the run's last fifth (dB)."""
        tail = self.values[self.steps >= self.steps[-1] - 0.2 * (self.steps[-1] - self.steps[0])]
        return float(tail[-1] - tail[0])

    def learned_noise(self) -> bool:
        return self.train_final > self.noisy_input + NOISE_LEARNED_DB

    def shape(self) -> str:
        """flat (never learned the picture), copied (never better than the noisy photo), turned (rose,
        then fell: the noise came after the picture), rising (still climbing at the end) or level."""
        if self.best - float(self.values[0]) < RISE_DB:
            return "flat"
        if self.best < self.noisy_input + COPY_DB:
            return "copied"
        if self.best - self.final >= FALL_DB:
            return "turned"
        return "rising" if self.late_gain() >= RISING_DB else "level"


def read_heldout(view) -> HeldOutReading | None:
    """A finished view's held-out reading, or None when its run held nothing out (no noise)."""
    steps, values = view.heldout_curve()
    noisy = view.metrics.get("noisy_input_psnr")
    if values.size < 3 or noisy is None or not np.isfinite(noisy):
        return None
    lr = (view.row or {}).get("lr")
    return HeldOutReading(view.method, steps, values, float(noisy), float(view.metrics["train_psnr"]),
                          float(lr) if lr is not None else None)


def _rate(reading: HeldOutReading) -> str:
    return f" (learning rate {reading.lr:.0e})".replace("e-0", "e-") if reading.lr else ""


def _describe(reading: HeldOutReading) -> str:
    """One method's curve in numbers."""
    name, shape = bold_name(reading.method), reading.shape()
    start = float(reading.values[0])
    if shape == "flat":
        return f"{name}{_rate(reading)} barely moved: its held-out PSNR rose by {reading.best - start:.1f} dB."
    text = f"{name}{_rate(reading)} rose from {start:.1f} to {reading.best:.1f} dB by step {reading.best_step}"
    if shape in ("turned", "copied"):
        _, end = reading.near_best()
        text += f", stayed within {NEAR_BEST_DB:g} dB of that until step {end}, and ended at {reading.final:.1f} dB"
    elif shape == "rising":
        text += f" and was still rising at the end (+{reading.late_gain():.1f} dB over the last fifth of the run)"
    else:
        text += f" and stayed there ({reading.final:.1f} dB at the end)"
    noise = ("it had learned the noise" if reading.learned_noise() else "it had not learned the noise")
    return (f"{text}; against the noisy photo it trained on it reached {reading.train_final:.1f} dB at the end "
            f"({noise}).")


def _comparison(turned: list[HeldOutReading]) -> str:
    """Which network learned the noise first, with the rates named (a slower rate delays the turn too)."""
    first, last = min(turned, key=lambda r: r.best_step), max(turned, key=lambda r: r.best_step)
    if last.best_step < 2 * first.best_step:
        return ""
    rates = ""
    if first.lr and last.lr and first.lr < last.lr:
        rates = f", although its learning rate was {last.lr / first.lr:.0f}× lower"
    best = max(turned, key=lambda r: r.final)
    text = (f" {bold_name(first.method)} turned down first (step {first.best_step}, {bold_name(last.method)} at step "
            f"{last.best_step}){rates}: it reached the noise's high frequencies sooner.")
    if best is last and best.final - first.final >= FALL_DB:
        text += (f" Kept longer from the noise, {bold_name(last.method)} ended {best.final - first.final:.1f} dB "
                 "higher: here spectral bias is what denoises.")
    return text


def _early_stop(readings: list[HeldOutReading]) -> str:
    bests = ", ".join(f"{bold_name(r.method)} {r.best:.1f} dB (step {r.best_step})" for r in readings)
    return (f" Stopped at its best step, each would have scored: {bests}. Stopping early is the honest "
            "remedy, but choosing the step needs a held-out set; here it was the clean photo, which a real "
            "denoiser does not have: it holds back some of the noisy samples and stops where their error is "
            "lowest (notebook 06 does it).")


def denoising_takeaway(views) -> Takeaway:
    """Lesson 7: the held-out PSNR rises while the picture is learned and falls once the noise is."""
    done = finished(views)
    readings = [r for r in (read_heldout(view) for view in done.values()) if r is not None]
    if not done:
        return Takeaway("This lesson needs a finished run.", None)
    if not readings:
        return Takeaway("There was no noise in this run, so nothing was held out and there is nothing to "
                        "recover: this lesson needs a noisy photo (σ above 0).", None)
    noisy = readings[0].noisy_input
    text = (f"The noisy photo itself scores {noisy:.1f} dB against the clean one. "
            + " ".join(_describe(r) for r in readings))
    shapes = {r.shape() for r in readings}
    supports = CHOICE.get(shapes.pop()) if len(shapes) == 1 else None
    if supports == 0:
        text += (" Every network learned the picture before the noise: its held-out PSNR rose while it "
                 "learned the photo's low frequencies and fell once it went on to the noise."
                 + _comparison(readings) + _early_stop(readings))
    elif supports == 1:
        text += (" No network turned down within the run: none had learned the noise by the end "
                 "(a longer run, or a network with more weights than pixels, may still).")
    elif supports == 2:
        text += " No network ever did better than the noisy photo itself: each learned the noise with the picture."
    elif any(r.shape() == "rising" for r in readings):
        text += " A network still rising at the end does not show when it turns: train longer to see it."
    else:
        text += " The networks' curves differ in shape, so this run does not settle the question for all of them."
    return Takeaway(text, supports)
