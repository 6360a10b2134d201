"""Tasks: what a run is asked to do with its signal, and which samples it is scored on.

- `fit`: train on every sample, score on every sample (the lab's original task).
- `denoise`: train on the target plus Gaussian noise of σ = `noise_std` (in the target's [-1, 1]
  units), score against the clean target on every sample.
- `inpaint`: train on a seeded `keep` fraction of the samples, score on the rest.
- `superres`: train on every `factor`-th sample along each axis (a 1/factor image or recording),
  score on the full grid.

`split_task` is the one place the observed and held-out sets are drawn (from the run's seed, on a
stream of its own so the network's initialisation is the same as a fit's). A task that holds
nothing out (keep 1, factor 1) scores on every sample: it is then a fit, and says so. Spectral bias
hurts a fit and helps a denoiser (a network slow to learn high frequencies leaves the noise out):
the held-out PSNR is what shows the second half.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .metrics import output_energy_share, psnr, zero_output_psnr
from .signals import Signal

TASKS = ("fit", "denoise", "inpaint", "superres")
MIN_OBSERVED = 16  # fewer observed samples than this is not a signal to learn from
TASK_STREAM = 0x7A5C  # the task's random stream: numpy's, keyed by (seed, this); torch's init is untouched


@dataclass
class TaskSplit:
    """The samples a run trains on and the samples it is scored on, as rows of the clean signal.

    `observed` is the signal as the network is given it, on a regular grid: the noisy target
    (denoise), the sub-sampled grid at its true coordinates (superres), or the full grid with every
    unobserved sample at the observed mean (inpaint: a random keep-set has no Fourier axes, so the
    kernel and S(k) are read on the whole grid, and nothing held out is read). Method defaults
    (PE levels, WINNER's spectral centroid), the eNTK / S(k), activations and IGA's groups read it.
    """

    task: str
    signal: Signal  # the clean signal on its full grid: what error maps and final metrics score
    observed: Signal  # what the network is given (see above)
    train_rows: np.ndarray | None  # rows of signal.coords trained on (None: every row, in order)
    train_values: np.ndarray  # (n_train, C) the values trained on (noisy for denoise)
    scored_rows: np.ndarray | None  # rows the held-out PSNR reads (None: every row)
    curve_rows: np.ndarray  # positions in the scored rows for the live held-out curve (≤ the train set's size)
    description: str  # one line: what was observed and what is scored
    holds_out: bool = True  # False when the score reads only what was trained on as given (fit, keep 1, σ 0, …)

    @property
    def observed_is_training_set(self) -> bool:
        """True when `observed` holds exactly the training rows in order (fit, denoise, superres)."""
        return self.task != "inpaint"

    @property
    def num_train(self) -> int:
        return len(self.train_values)

    def train_coords(self) -> np.ndarray:
        return self.signal.coords if self.train_rows is None else self.signal.coords[self.train_rows]

    def scored_values(self) -> np.ndarray:
        return self.signal.values if self.scored_rows is None else self.signal.values[self.scored_rows]


def check_task(config, signal: Signal) -> None:
    """A ConfigError in one line, before any work, for a task this signal cannot take."""
    task = config.task
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if task == "denoise" and not config.noise_std >= 0:
        raise ConfigError(f"noise_std must be ≥ 0 (σ of the noise in the target's [-1, 1] units); got "
                          f"{config.noise_std}")
    if task == "inpaint":
        if not 0 < config.keep <= 1:
            raise ConfigError(f"keep must be in (0, 1] (the fraction of samples the network sees); got {config.keep}")
        observed = round(config.keep * signal.num_points)
        if observed < MIN_OBSERVED:
            raise ConfigError(f"keep={config.keep} leaves {observed} of {signal.num_points:,} samples to train on; "
                              f"at least {MIN_OBSERVED} are needed (raise keep or the signal's size)")
    if task == "superres":
        observed = _subgrid_shape(signal.grid, config.factor)
        count = int(np.prod(observed))
        if config.factor < 1 or count < MIN_OBSERVED:
            raise ConfigError(f"factor={config.factor} leaves {_size_text(observed)} samples of "
                              f"{_size_text(signal.grid)} to train on; at least {MIN_OBSERVED} are needed "
                              "(lower the factor or raise the signal's size)")
    modifiers = set(config.method.split("+")[1:])
    if task != "fit" and "bn" in modifiers:
        raise ConfigError("batch norm normalises over the samples it is given, so its held-out output depends on "
                          "which samples are scored together: +bn runs only with task fit")
    if task == "inpaint" and "iga" in modifiers:
        raise ConfigError("IGA groups neighbouring samples on a grid; an inpainting keep-set has none: +iga runs "
                          "with fit, denoise or superres")


def split_task(config, signal: Signal) -> TaskSplit:
    """Draw the observed and held-out sets of `config.task` for `signal` from `config.seed`."""
    check_task(config, signal)
    rng = np.random.default_rng([config.seed, TASK_STREAM])
    if config.task == "denoise":
        return _denoise(signal, config.noise_std, rng)
    if config.task == "inpaint":
        return _inpaint(signal, config.keep, rng)
    if config.task == "superres":
        return _superres(signal, config.factor, rng)
    return TaskSplit("fit", signal, signal, None, signal.values, None, np.zeros(0, np.int64),
                     f"fit: every one of {signal.num_points:,} samples trained on and scored", holds_out=False)


def _curve_rows(scored: int, train: int, rng: np.random.Generator) -> np.ndarray:
    """A fixed subset of the scored rows (as positions 0..scored-1) for the live held-out curve: one
    forward over as many points as a training step's (at least 256, so a small training set still
    reads a steady curve), every log step: ~3 % of the time at log_every 10. The final score reads
    all of them. (A floor of 1,024 cost superres on a 64² image 7 %: 4× its 256 training samples.)"""
    size = min(scored, max(train, 256))
    return np.sort(rng.choice(scored, size=size, replace=False)) if size < scored else np.arange(scored)


def _view(signal: Signal, values: np.ndarray, grid: tuple[int, ...] | None = None,
          coords: np.ndarray | None = None, sample_rate: int | None = None, note: str = "") -> Signal:
    """`signal` as the network is given it: other values, and for a sub-grid its shape, true
    coordinates and sample rate."""
    view = Signal(values=values, grid=grid or signal.grid, kind=signal.kind, name=signal.name,
                  sample_rate=sample_rate or signal.sample_rate, scale=signal.scale, offset=signal.offset,
                  description=signal.description, changes=signal.changes + ((note,) if note else ()))
    if coords is not None:
        view.coords = coords
    return view


def _denoise(signal: Signal, noise_std: float, rng: np.random.Generator) -> TaskSplit:
    noisy = (signal.values + rng.normal(0.0, noise_std, signal.values.shape)).astype(np.float32)
    observed = _view(signal, noisy, note=f"Gaussian noise σ={noise_std:g} added")
    held = "nothing held out: σ 0 is a fit" if noise_std == 0 else "scored against the clean target"
    description = f"denoise: trained on the target plus noise σ={noise_std:g} (of the [-1, 1] range); {held}"
    return TaskSplit("denoise", signal, observed, None, noisy, None, _curve_rows(signal.num_points,
                     signal.num_points, rng), description, holds_out=noise_std > 0)


def _inpaint(signal: Signal, keep: float, rng: np.random.Generator) -> TaskSplit:
    count = signal.num_points
    kept = np.sort(rng.choice(count, size=round(keep * count), replace=False))
    rest = np.setdiff1d(np.arange(count), kept)
    filled = np.broadcast_to(signal.values[kept].mean(axis=0), signal.values.shape).copy()
    filled[kept] = signal.values[kept]
    observed = _view(signal, filled, note=f"{len(kept):,} of {count:,} samples kept; the rest read as their mean")
    if len(rest) == 0:
        scored, description = None, "inpaint: keep 1 trains on every sample; nothing held out: scored as a fit"
    else:
        scored = rest
        description = (f"inpaint: trained on {len(kept):,} of {count:,} samples ({keep:.0%}, seeded); scored on the "
                       f"other {len(rest):,}")
    scored_count = count if scored is None else len(scored)
    return TaskSplit("inpaint", signal, observed, kept, signal.values[kept], scored,
                     _curve_rows(scored_count, len(kept), rng), description, holds_out=scored is not None)


def _subgrid_shape(grid: tuple[int, ...], factor: int) -> tuple[int, ...]:
    return tuple(-(-n // max(factor, 1)) for n in grid)


def _superres(signal: Signal, factor: int, rng: np.random.Generator) -> TaskSplit:
    shape = _subgrid_shape(signal.grid, factor)
    rows = np.arange(signal.num_points).reshape(signal.grid)[tuple(slice(None, None, factor) for _ in signal.grid)]
    rows = rows.reshape(-1)  # (prod(shape),) row-major, as the sub-grid's own order
    rate = signal.sample_rate // factor if signal.sample_rate else None
    observed = _view(signal, signal.values[rows], grid=shape, coords=signal.coords[rows], sample_rate=rate,
                     note=f"every {factor}th sample per axis: {'×'.join(map(str, shape))}")
    held = "nothing held out: factor 1 is a fit" if factor == 1 else "scored on the full grid"
    description = (f"superres: trained on every {factor}th sample per axis ({'×'.join(map(str, shape))} of "
                   f"{'×'.join(map(str, signal.grid))}); {held}")
    return TaskSplit("superres", signal, observed, rows, signal.values[rows], None,
                     _curve_rows(signal.num_points, len(rows), rng), description, holds_out=factor > 1)


def task_metrics(split: TaskSplit, prediction: np.ndarray) -> dict[str, float]:
    """A task's scores from its full-grid `prediction` (N, C): `psnr` on the scored samples against the
    clean target (what tables rank by), `train_psnr` on the training samples against what was given
    (noisy for denoise), `full_psnr` on the whole grid; the zero-output floor of the scored samples."""
    prediction = np.asarray(prediction)
    trained = prediction if split.train_rows is None else prediction[split.train_rows]
    scored = prediction if split.scored_rows is None else prediction[split.scored_rows]
    clean = split.scored_values()
    given = {}
    if split.task == "denoise":  # the noisy samples themselves, scored as a prediction: what copying the noise scores
        given["noisy_input_psnr"] = psnr(split.train_values, split.signal.values)
    return {**given, "psnr": psnr(scored, clean), "train_psnr": psnr(trained, split.train_values),
            "full_psnr": psnr(prediction, split.signal.values), "zero_output_psnr": zero_output_psnr(clean),
            "output_energy_share": output_energy_share(scored, clean), "scored_samples": len(clean),
            "train_samples": split.num_train}


def _size_text(grid: tuple[int, ...]) -> str:
    """'3' for 1D, '4×4 = 16' for a grid."""
    count = int(np.prod(grid))
    return f"{count:,}" if len(grid) == 1 else f"{'×'.join(map(str, grid))} = {count:,}"
