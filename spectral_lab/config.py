"""RunConfig: one flat dataclass describing a whole run (signal, method knobs, training).

Every field has a default and a one-line doc (shown by the CLI's --help and the app). Method
knobs default to None, meaning "the method's own default for this kind of signal"; `resolve`
in methods.py fills them in, so a saved config always records the values actually used.
Same config + seed = same curve on the same device.
"""
from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field, fields
import functools
from typing import Any, get_type_hints
from urllib.parse import parse_qsl, urlencode

import numpy as np

from .errors import ConfigError


def knob(default: Any, doc: str, low: float | None = None, high: float | None = None,
         choices: tuple | None = None) -> Any:
    """A dataclass field carrying its one-line doc and allowed range/choices."""
    return field(default=default, metadata={"doc": doc, "low": low, "high": high, "choices": choices})


class FlatConfig:
    """Validation and (de)serialisation shared by the flat config dataclasses (RunConfig, NernConfig).

    Subclasses are @dataclass-es whose fields are `knob`s; ranges and choices are checked on
    construction, and every config round-trips through a dict, JSON and a URL query string.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        hints = type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            if value is None:
                if "None" not in str(hints[f.name]):
                    raise ConfigError(f"{f.name} may not be empty")
                continue
            if meta.get("choices") and value not in meta["choices"]:
                raise ConfigError(f"{f.name} must be one of {', '.join(meta['choices'])}; got {value!r}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if value != value:  # NaN
                    raise ConfigError(f"{f.name} is NaN")
                low, high = meta.get("low"), meta.get("high")
                if (low is not None and value < low) or (high is not None and value > high):
                    raise ConfigError(f"{f.name}={value} is out of range [{low}, {high}]")

    def replace(self, **changes: Any):
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    # --- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**{k: coerce(k, v, cls) for k, v in data.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_query(self) -> str:
        """Only the fields that differ from the defaults, as a URL query string."""
        default = type(self)()
        changed = {f.name: getattr(self, f.name) for f in fields(self)
                   if getattr(self, f.name) != getattr(default, f.name)}
        return urlencode({k: ("" if v is None else v) for k, v in changed.items()})

    @classmethod
    def from_query(cls, query: str):
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
        return cls.from_dict({k: v for k, v in pairs})


@dataclass
class RunConfig(FlatConfig):
    # --- signal ---
    signal: str = knob("winner_high", "signal: synthetic name, bundled image, generated asset, or a file path")
    length: int | None = knob(None, "samples of a 1D signal / crop of an audio file (None: generator default or whole file)", 8, 2_000_000)
    image_size: int | None = knob(None, "resize images so the longer side has this many pixels (None: keep)", 4, 2048)
    gray: bool = knob(False, "convert images to grayscale")
    signal_options: str = knob("", "generator knobs, e.g. 'freqs=2,40 amps=1,0.5' for sines; for images "
                                   "'crop=square' (top-left) and 'channel=0' (one colour channel); for audio longer "
                                   "than length 'crop=first' (default), 'crop=loudest' or 'crop=resample'")
    # --- task (tasks.py: which samples train, which are scored) ---
    task: str = knob("fit", "fit: train and score on every sample; denoise: train on the target plus Gaussian noise, "
                            "score against the clean target; inpaint: train on a seeded keep-fraction, score on the "
                            "rest; superres: train on every factor-th sample per axis, score on the full grid",
                     choices=("fit", "denoise", "inpaint", "superres"))
    noise_std: float = knob(0.1, "denoise: σ of the Gaussian noise added to the target, in its [-1, 1] units", 0.0, 10.0)
    keep: float = knob(0.5, "inpaint: fraction of the samples the network trains on, in (0, 1] (seeded)", 0.0, 1.0)
    factor: int = knob(4, "superres: keep every factor-th sample along each axis", 1, 4096)
    # --- method ---
    method: str = knob("siren", "method name, optionally + modifiers: relu_pe+iga, siren+fr, relu+bn "
                                "(see `python -m spectral_lab list`)")
    width: int = knob(128, "hidden features per layer", 1, 4096)
    depth: int = knob(3, "number of hidden (activation) layers", 1, 16)
    omega0: float | None = knob(None, "ω₀ of hidden sine layers (SIREN/SIREN²/SPDER/FINER)", 1e-3, 1e4)
    first_omega0: float | None = knob(None, "first-layer frequency: ω₀ of a sine layer, WIRE's Gabor ω, Gauss's s "
                                            "(None: per method and kind; audio SIREN 3000 = 100×30, which scales the "
                                            "first layer's weights and bias, not the inputs alone)", 1e-3, 1e6)
    s0: float | None = knob(None, "WINNER first-layer noise scale s₀ (None: auto from the spectral centroid)", 0.0, 1e5)
    s1: float | None = knob(None, "WINNER second-layer noise scale s₁ (None: auto from the spectral centroid)", 0.0, 1e3)
    damping: str | None = knob(None, "SPDER damping δ (None: arctan for audio, sqrt otherwise, as SPDER found)",
                              choices=("sqrt", "log", "arctan"))
    bias_scale: float | None = knob(None, "first-layer bias ~ U(±k) (FINER/FINER++; None: method default)", 0.0, 1e3)
    pe_levels: int | None = knob(None, "positional-encoding levels L per axis (None: Nyquist rule)", 1, 24)
    rff_sigma: float | None = knob(None, "random-Fourier-feature bandwidth σ, cycles per unit (None: by signal kind)", 0.0, 1e5)
    rff_features: int = knob(128, "number of random Fourier frequencies m (encoding has 2m features)", 1, 4096)
    wire_omega: float | None = knob(None, "WIRE hidden-layer Gabor frequency ω (None: 20 images, 10 audio/1D)", 0.0, 1e4)
    wire_sigma: float | None = knob(None, "WIRE Gabor width σ (None: 10); hidden layers need ω/σ ≤ 6", 1e-3, 1e4)
    gauss_scale: float | None = knob(None, "Gauss hidden-layer scale s in exp(−(sz)²) (None: 10)", 0.0, 1e4)
    hosc_beta: float | None = knob(None, "HOSC sharpness β in tanh(β·sin(ω₀z)) (None: 8 images, 4 audio/1D)", 0.01, 100.0)
    hosc_learnable: bool = knob(False, "HOSC: train β (adaptive HOSC)")
    staf_terms: int = knob(5, "STAF: sinusoids τ per layer (the reference's 5)", 1, 32)
    finer_base: str | None = knob(None, "FINER++: the function of FINER's sine u = sin(ω(|z|+1)z): gauss exp(−(su)²) "
                                        "(None: the reference's default), gabor cos(ω_w u)·exp(−(su)²), wire the complex "
                                        "exp(jω_w u − |su|²), sine u itself (FINER)",
                                  choices=("gauss", "gabor", "wire", "sine"))
    mfn_scale: float | None = knob(None, "MFN: filter frequency scale (radians per unit; None: π·N/4 for N samples "
                                         "along the shortest axis)", 0.1, 1e7)
    mfn_bandlimit: bool = knob(False, "mfn_fourier as BACON: frozen filter frequencies on an integer grid, the output "
                                      "band-limited to the signal's Nyquist rate")
    grid_levels: int | None = knob(None, "grids: resolution levels L (None: per method, hashgrid Instant-NGP's 16, "
                                         "densegrid 8)", 1, 24)
    grid_features: int = knob(2, "grids: features per entry F (Instant-NGP: 2)", 1, 16)
    grid_table_log2: int = knob(12, "hash grid: log2 of the entries per level T (Instant-NGP: 14–24)", 4, 22)
    grid_min_resolution: int = knob(8, "grids: coarsest level's cells per axis N_min (Instant-NGP: 16)", 1, 4096)
    kan_terms: int | None = knob(None, "FKAN: Fourier terms K of the learned first layer (None: by signal size)", 1, 1024)
    # --- training ---
    steps: int = knob(500, "training steps (full-batch Adam)", 1, 1_000_000)
    lr: float | None = knob(None, "initial learning rate (None: method default)", 1e-8, 1.0)
    lr_schedule: str = knob("step", "step: ×gamma every lr_every steps (WINNER); drop: ×gamma once, at step lr_every "
                                    "(IGA Sec. 6.1); exp: to 0.1× over the run; constant",
                            choices=("step", "drop", "exp", "constant"))
    lr_gamma: float = knob(0.99, "step schedule factor (WINNER: 1% decay every 20 steps)", 0.0, 1.0)
    lr_every: int = knob(20, "step schedule period in steps", 1, 1_000_000)
    optimizer: str = knob("adam", "adam (the papers' default) or sgd (plain gradient descent, IGA's theory)",
                          choices=("adam", "sgd"))
    adam_beta2: float | None = knob(None, "Adam's β₂ (None: per method; PyTorch's 0.999, Instant-NGP's grids 0.99)",
                                    0.0, 0.999999)
    adam_eps: float | None = knob(None, "Adam's ε (None: per method; PyTorch's 1e-8, Instant-NGP's grids 1e-15)",
                                  0.0, 1.0)
    weight_decay: float | None = knob(None, "L2 penalty added to the gradient of every parameter outside the input "
                                            "encoding (None: per method; 0, Instant-NGP's grids 1e-6 on the MLP, "
                                            "not the tables)", 0.0, 1.0)
    # --- training modifiers (used when the method has +iga / +fr) ---
    iga_group: int | None = knob(None, "IGA group size p: runs of p samples / p×p patches (None: from the signal "
                                       "size, about the paper's number of groups; 1 = exact eNTK)", 1, 4096)
    iga_start: int = knob(1, "IGA: first balanced eigenvalue index", 1, 100_000)
    iga_end: int | None = knob(None, "IGA: last balanced eigenvalue index (None: the paper's value for the "
                                     "architecture and kind of signal)", 1, 100_000)
    iga_sampling: str = knob("residual", "IGA: point per group: largest residual, random each update, or fixed",
                             choices=("residual", "random", "fixed"))
    iga_every: int = knob(1, "IGA: steps between rebuilding S̃ₑ from the eNTK (1: every step, the paper; "
                             "more is a cheaper approximation)", 1, 100_000)
    fr_basis: str = knob("paper", "FR: the paper's cosine basis and Λ init (its reference code), or a tight frame "
                                  "that starts as the plain network (with SGD, only an lr change)",
                         choices=("paper", "frame"))
    fr_phases: int = knob(32, "FR: phases P of the cosine basis (the FR / IGA reference's 32)", 1, 64)
    fr_alpha: float | None = knob(None, "FR: scale α of the basis (None: per architecture as the reference runs: "
                                        "0.001 ReLU, 0.05 ReLU+PE/RFF, 0.004 SIREN, 0.01 others); with Adam the "
                                        "step in W grows with α", 1e-6, 10.0)
    seed: int = knob(0, "random seed for initialisation and random encodings", 0, 2**31 - 1)
    device: str = knob("auto", "auto (CUDA when present), cpu or cuda", choices=("auto", "cpu", "cuda"))
    fast: str = knob("auto", "fast training step: CUDA graphs of forward+backward and Adam (auto: on for CUDA, "
                             "off on CPU; methods it cannot capture fall back to eager and say so)",
                     choices=("auto", "on", "off"))
    tf32: bool = knob(False, "TF32 matmuls on CUDA (faster, ~3 significant digits per product; it cost SPDER "
                             "5×256 15 dB on an H200: bench/bench_gpu.py shows the cost per case)")
    log_every: int = knob(10, "steps between Snapshots (each one syncs the device once)", 1, 1_000_000)
    preview_every: int = knob(100, "steps between Snapshots that carry the prediction (0: only at the end)", 0, 1_000_000)
    # --- diagnostics (each on its own cadence; 0 = off; when on, step 0 is diagnosed too) ---
    ntk_every: int = knob(0, "steps between empirical-NTK snapshots (0: off)", 0, 1_000_000)
    ntk_points: int = knob(256, "points M of the regular sub-grid the eNTK is computed on (above 4096 on CPU, "
                                "2048 on CUDA: its top 64 eigenpairs, matrix-free)", 16, 16384)
    ntk_layout: str = knob("auto", "eNTK points: strided sub-grid over the whole signal, or a window of consecutive "
                                   "samples (auto: window for 1D/audio, strided for images)",
                           choices=("auto", "strided", "window"))
    activations_every: int = knob(0, "steps between activation histograms / spectra (0: off)", 0, 1_000_000)
    errors_every: int = knob(0, "steps between error maps (FFT / spectrogram error; 0: off)", 0, 1_000_000)
    bands_every: int = knob(0, "steps between band-aggregated relative errors (IGA Eq. 7 heatmap; 0: off)",
                            0, 1_000_000)
    diagnostics_budget: float = knob(0.15, "max fraction of training time diagnostics may take, shared equally by "
                                            "the enabled ones but band errors (cheap, always on their cadence); one "
                                            "over its share waits; the final step computes every enabled one "
                                            "(0: no limit)", 0.0, 10.0)


def field_docs(config_cls: type = None) -> dict[str, str]:
    return {f.name: f.metadata["doc"] for f in fields(config_cls or RunConfig)}


@functools.cache
def type_hints(config_cls: type) -> dict[str, Any]:
    """A config class's field types, resolved once: `get_type_hints` re-evaluates every annotation on each
    call (~2 ms for RunConfig), and a page load coerced each of its ~40 controls through it."""
    return get_type_hints(config_cls)


def coerce(name: str, value: Any, config_cls: type = None) -> Any:
    """Parse a string (query string, CLI) into the field's type; '' or 'none'/'auto' -> None where allowed."""
    hint = str(type_hints(config_cls or RunConfig)[name])
    if not isinstance(value, str):
        return _checked_value(name, value, hint)
    text = value.strip()
    if "None" in hint and text.lower() in ("", "none", "auto"):
        return None
    try:
        if "bool" in hint:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if "int" in hint:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if "float" in hint:
            return float(text)
    except ValueError:
        expected = "yes/no" if "bool" in hint else "an integer" if "int" in hint else "a number"
        raise ConfigError(f"{name} expects {expected}, got {value!r}") from None
    return text


def _checked_value(name: str, value: Any, hint: str) -> Any:
    """A non-string value (a config file's JSON, Python) of the field's type, or a ConfigError:
    64.5 or true for an integer setting, a list anywhere, a number for a text setting."""
    if value is None:
        return None  # validate() says whether the field may be empty
    expected = ("yes/no (true/false)" if "bool" in hint else "an integer" if "int" in hint
                else "a number" if "float" in hint else "text")
    if isinstance(value, (bool, np.bool_)):
        ok, value = "bool" in hint, bool(value)
    elif isinstance(value, numbers.Integral):
        ok, value = "int" in hint or "float" in hint, float(value) if "float" in hint else int(value)
    elif isinstance(value, numbers.Real):
        ok = "float" in hint or ("int" in hint and float(value).is_integer())
        value = float(value) if "float" in hint else int(value) if ok else value
    else:
        ok = False  # lists, dicts: no setting takes one
    if not ok:
        raise ConfigError(f"{name} expects {expected}, got {value!r}")
    return value
