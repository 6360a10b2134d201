"""Early stopping a denoiser or an inpainter the honest way: the step is picked from samples the
observer has, never from the clean target.

The peak of a run's held-out curve (`Run.heldout_curve`) is an oracle: it reads the clean target
(denoise) or the samples nobody observed (inpaint). `validation_stop` holds back a seeded fraction of
the *observed* samples (noisy, for denoise) as a validation set, trains on the rest, and stops at the
log point where the validation PSNR peaks; the run is scored there as its task scores it. The noise on
the validation samples is independent of the network, so their MSE is the clean error plus σ² on
average: its minimum sits where the clean error's does. The price is the held-back samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .metrics import psnr
from .signals import Signal
from .tasks import TASK_STREAM, split_task
from .train import Run

VALIDATION_STREAM = TASK_STREAM + 1  # the validation draw's random stream: the task's own draw is untouched


@dataclass
class ValidationStop:
    """The curves of a run trained without its validation samples, and the step they pick."""

    steps: np.ndarray  # log points
    validation_psnr: np.ndarray  # dB against the held-back observed values (noisy for denoise)
    heldout_psnr: np.ndarray  # dB as the task scores it (clean target on its scored samples), at each log point
    train_samples: int
    validation_samples: int

    @property
    def stop_index(self) -> int:
        return int(np.argmax(self.validation_psnr))

    @property
    def stop_step(self) -> int:
        """The step an observer would stop at: the validation PSNR's peak."""
        return int(self.steps[self.stop_index])

    @property
    def stop_psnr(self) -> float:
        """The task's score (held-out PSNR) of the network at `stop_step`."""
        return float(self.heldout_psnr[self.stop_index])

    @property
    def final_psnr(self) -> float:
        """The task's score at the last step: what training to the end gives this run."""
        return float(self.heldout_psnr[-1])

    @property
    def oracle_psnr(self) -> float:
        """The best score of this run at any log point: what reading the clean target would pick."""
        return float(np.max(self.heldout_psnr))


def validation_stop(config, signal: Signal, fraction: float = 0.1) -> ValidationStop:
    """Train `config` (task denoise or inpaint) on its observed samples less a seeded `fraction`, and
    record at each log point the PSNR on those held-back samples and the task's held-out PSNR."""
    if config.task not in ("denoise", "inpaint"):
        raise ConfigError(f"validation early stopping holds back observed samples of a denoise or inpaint task; "
                          f"got task {config.task!r}")
    if not 0 < fraction < 1:
        raise ConfigError(f"the validation fraction must be in (0, 1); got {fraction}")
    held_back = _denoise_validation if config.task == "denoise" else _inpaint_validation
    run, validation_rows, validation_values, scored_rows = held_back(config, signal, fraction)
    clean = signal.values if scored_rows is None else signal.values[scored_rows]
    steps, on_validation, held_out = [], [], []
    for snapshot in run:  # every log point carries the full-grid prediction (preview_every = log_every)
        if snapshot.prediction is None:
            continue
        prediction = snapshot.prediction
        steps.append(snapshot.step)
        on_validation.append(psnr(prediction[validation_rows], validation_values))
        held_out.append(psnr(prediction if scored_rows is None else prediction[scored_rows], clean))
    return ValidationStop(np.asarray(steps), np.asarray(on_validation), np.asarray(held_out),
                          run.task.num_train, len(validation_rows))


def _with_previews(config, **changes):
    """`config` with a full-grid prediction at every log point (what the validation PSNR reads)."""
    return config.replace(preview_every=config.log_every, **changes)


def _denoise_validation(config, signal: Signal, fraction: float):
    """The same noisy target as `config`'s denoise run; a random `fraction` of its samples held back
    (an inpainting split of the noisy signal). Scored against the clean target on every sample."""
    noisy = split_task(config, signal).observed
    run = Run(_with_previews(config, task="inpaint", keep=1 - fraction), noisy)
    rows = run.task.scored_rows
    return run, rows, noisy.values[rows], None


def _inpaint_validation(config, signal: Signal, fraction: float):
    """A random keep-set as large as `config`'s, split into training (1 − fraction) and validation;
    scored on the samples outside it, as the inpainting run is (its keep-set is drawn anew)."""
    run = Run(_with_previews(config, keep=config.keep * (1 - fraction)), signal)
    unseen = run.task.scored_rows  # the validation samples and the ones nobody observed
    count = round(config.keep * fraction * signal.num_points)
    if not 0 < count < len(unseen):
        raise ConfigError(f"keep={config.keep} with a validation fraction of {fraction} leaves no validation "
                          "samples or nothing to score")
    rng = np.random.default_rng([config.seed, VALIDATION_STREAM])
    chosen = np.zeros(len(unseen), bool)
    chosen[rng.choice(len(unseen), size=count, replace=False)] = True
    return run, unseen[chosen], signal.values[unseen[chosen]], unseen[~chosen]
