"""Signals: the targets a coordinate MLP is fitted to.

A `Signal` holds values on a regular grid with coordinates in [-1, 1]; loaders turn synthetic
generators, audio files, images and numpy arrays into one. Every loader validates its input and
raises `SignalError` with a one-line reason (empty, silent, constant, NaN, wrong shape, ...).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import SignalError

KINDS = ("1d", "audio", "image")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
SHARED_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

# Caps on what one signal may hold, so one request cannot exhaust memory (the app lowers them).
MAX_SAMPLES = 2_000_000
MAX_IMAGE_SIDE = 2048


def grid_coords(grid: tuple[int, ...]) -> np.ndarray:
    """Regular coordinates in [-1, 1] for a grid: (L,) -> (L, 1); (H, W) -> (H*W, 2) row-major."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float64) for n in grid]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=-1).astype(np.float32)


@dataclass
class Signal:
    """A target on a regular grid. `values` (N, C) float32 in [-1, 1]; `coords` (N, d) in [-1, 1].

    `original = values * scale + offset` maps back to the source units (waveform amplitude for
    audio, [0, 1] intensity for images).
    """

    values: np.ndarray
    grid: tuple[int, ...]
    kind: str
    name: str
    sample_rate: int | None = None
    scale: float = 1.0
    offset: float = 0.0
    description: str = ""
    changes: tuple[str, ...] = ()  # what loading did to the file, in words ("mixed 2 channels to mono")
    coords: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SignalError(f"signal kind must be one of {KINDS}, got {self.kind!r}")
        values = np.asarray(self.values, dtype=np.float32)
        n = int(np.prod(self.grid))
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[0] != n:
            raise SignalError(f"values of shape {values.shape} do not fit grid {self.grid}")
        _check_finite_and_varied(values, self.name)
        self.values = values
        self.coords = grid_coords(self.grid)

    @property
    def num_points(self) -> int:
        return self.values.shape[0]

    @property
    def channels(self) -> int:
        return self.values.shape[1]

    @property
    def in_dim(self) -> int:
        return len(self.grid)

    def as_grid(self, values: np.ndarray | None = None) -> np.ndarray:
        """(N, C) values -> (L,) / (L, C) for 1D, (H, W) / (H, W, C) for images."""
        values = self.values if values is None else np.asarray(values)
        shaped = values.reshape(*self.grid, values.shape[-1])
        return shaped[..., 0] if shaped.shape[-1] == 1 else shaped

    def to_original(self, values: np.ndarray | None = None) -> np.ndarray:
        """Back to source units: waveform for audio, float image in [0, 1] for images."""
        out = self.as_grid(values).astype(np.float64) * self.scale + self.offset
        if self.kind == "image":
            out = np.clip(out, 0.0, 1.0)
        return out

    def summary(self) -> str:
        shape = "x".join(str(g) for g in self.grid)
        rate = f", {self.sample_rate} Hz" if self.sample_rate else ""
        return f"{self.name} ({self.kind}, {shape}, {self.channels} ch{rate})"


def _check_finite_and_varied(values: np.ndarray, name: str) -> None:
    if values.size == 0:
        raise SignalError(f"{name}: the signal is empty")
    if not np.all(np.isfinite(values)):
        raise SignalError(f"{name}: the signal contains NaN or Inf values")
    if float(values.max() - values.min()) < 1e-6:
        raise SignalError(f"{name}: the signal is constant (silent/flat); there is nothing to fit")


def _normalise_peak(x: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """Divide by max|x| (WINNER's audio protocol), so values lie in [-1, 1]."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise SignalError(f"{name}: the signal is empty")
    if not np.all(np.isfinite(x)):
        raise SignalError(f"{name}: the signal contains NaN or Inf values")
    peak = float(np.max(np.abs(x)))
    if peak < 1e-8:
        raise SignalError(f"{name}: the signal is silent (all zeros)")
    return x / peak, peak


# ----------------------------------------------------------------------------------------------
# Synthetic 1D generators. Each takes `length` and its own knobs; returns a float array (L,).
# ----------------------------------------------------------------------------------------------
def _floats(value, name: str) -> list[float]:
    if isinstance(value, str):
        try:
            return [float(v) for v in value.replace(";", ",").split(",") if v.strip()]
        except ValueError as exc:
            raise SignalError(f"{name} must be a comma-separated list of numbers") from exc
    return [float(v) for v in np.atleast_1d(value)]


def sum_of_sines(length: int = 2048, freqs="2,8,32", amps="", phases="0") -> np.ndarray:
    """Σ a_i sin(2π f_i t + φ_i), t ∈ [0, 1) with f_i in cycles over the whole signal (amps default 1)."""
    freqs, amps, phases = _floats(freqs, "freqs"), _floats(amps or "1", "amps"), _floats(phases, "phases")
    if not freqs:
        raise SignalError("freqs must list at least one frequency")
    if len(amps) == 1:
        amps = amps * len(freqs)
    if len(phases) == 1:
        phases = phases * len(freqs)
    if len(amps) != len(freqs) or len(phases) != len(freqs):
        raise SignalError("freqs, amps and phases must have the same length")
    nyquist = length / 2
    if max(freqs) > nyquist:
        raise SignalError(f"frequency {max(freqs)} exceeds the Nyquist limit {nyquist} of {length} samples")
    t = np.arange(length) / length
    return sum(a * np.sin(2 * np.pi * f * t + p) for f, a, p in zip(freqs, amps, phases))


def winner_eq5(length: int = 4096, band: str = "high") -> np.ndarray:
    """WINNER Eq. 5: Σ A_i sin(2π k_i t), A = [1, 2, 4]/7, k = [.25,.5,.75] or [.85,.9,.95] × Nyquist."""
    fractions = {"low": (0.25, 0.50, 0.75), "high": (0.85, 0.90, 0.95)}
    if band not in fractions:
        raise SignalError("band must be 'low' or 'high'")
    nyquist = length / 2
    freqs = [f * nyquist for f in fractions[band]]
    return sum_of_sines(length, freqs, [1 / 7, 2 / 7, 4 / 7])


def iga_eq8(length: int = 1024) -> np.ndarray:
    """IGA Eq. 8 on the circle: sin(.4πθ)+sin(.8πθ)+sin(1.6πθ)+sin(3.2πθ), θ ∈ [0, 2π)."""
    theta = np.linspace(0, 2 * np.pi, length, endpoint=False)
    return sum(np.sin(c * np.pi * theta) for c in (0.4, 0.8, 1.6, 3.2))


def iga_eq9(length: int = 2048, halve: bool = False) -> np.ndarray:
    """IGA Eq. 9: Σ_{m=1..6} sin(20πm x), x ∈ [-1, 1]; `halve` halves every frequency (their ReLU setting)."""
    x = np.linspace(-1, 1, length)
    factor = 0.5 if str(halve).lower() in ("1", "true", "yes") else 1.0
    return sum(np.sin(20 * np.pi * m * factor * x) for m in range(1, 7))


def broadband(length: int = 4096, level: int = 4, seed: int = 0) -> np.ndarray:
    """WINNER Fig. 1a S1–S8 style: flat random-phase spectrum from a cut-off up to Nyquist.

    Level 1 spans the whole band; each level removes another eighth of the low frequencies, so
    S8 keeps only the top eighth. (The paper does not publish the exact signals; this follows
    its description: broadband, with decreasing low-frequency content.)
    """
    level = int(level)
    if not 1 <= level <= 8:
        raise SignalError("broadband level must be between 1 and 8")
    rng = np.random.default_rng(int(seed))
    n_bins = length // 2 + 1
    spectrum = np.zeros(n_bins, dtype=np.complex128)
    low = max(1, int(round((level - 1) / 8 * (n_bins - 1))))
    phases = rng.uniform(0, 2 * np.pi, n_bins - low)
    spectrum[low:] = np.exp(1j * phases)
    return np.fft.irfft(spectrum, n=length)


def chiptune(length: int = 16384, sample_rate: int = 16000, tempo: float = 8.0, seed: int = 0,
             octave: int = 2) -> np.ndarray:
    """A square-wave melody (NES-style); `octave` shifts it up, octave=2 is bright like WINNER's tetris.wav."""
    rng = np.random.default_rng(int(seed))
    t = np.arange(length) / sample_rate
    # A-minor pentatonic over two octaves, MIDI notes; the melody is a seeded random walk.
    scale = np.array([57, 60, 62, 64, 67, 69, 72, 74, 76, 79])
    n_notes = max(1, int(np.ceil(length / sample_rate * tempo)))
    steps = rng.integers(-2, 3, n_notes)
    index = np.clip(np.cumsum(steps) + 4, 0, len(scale) - 1)
    freqs = 440.0 * 2 ** ((scale[index] + 12 * int(octave) - 69) / 12)
    if freqs.max() * 3 > sample_rate / 2:
        raise SignalError("chiptune octave too high for the sample rate (third harmonic above Nyquist)")
    note_of_sample = np.minimum((t * tempo).astype(int), n_notes - 1)
    phase = np.cumsum(2 * np.pi * freqs[note_of_sample] / sample_rate)
    square = np.sign(np.sin(phase))
    bass = 0.5 * np.sign(np.sin(phase / 4))  # two octaves down
    return 0.7 * square + 0.3 * bass


def chirp(length: int = 8192, start: float = 0.0, end: float = 0.9) -> np.ndarray:
    """Linear chirp whose frequency sweeps from start to end, as fractions of the Nyquist rate."""
    if not (0 <= start <= 1 and 0 <= end <= 1):
        raise SignalError("chirp start and end are fractions of the Nyquist rate, in [0, 1]")
    t = np.arange(length) / length
    f_start, f_end = start * length / 2, end * length / 2  # cycles over the signal
    return np.sin(2 * np.pi * (f_start * t + (f_end - f_start) * t**2 / 2))


@dataclass(frozen=True)
class SyntheticSpec:
    generator: Callable[..., np.ndarray]
    description: str
    fixed: dict = field(default_factory=dict)  # knobs this named preset pins


SYNTHETIC: dict[str, SyntheticSpec] = {
    "sines": SyntheticSpec(sum_of_sines, "sum of sines; knobs freqs, amps, phases"),
    "winner_low": SyntheticSpec(winner_eq5, "WINNER Eq. 5 low-frequency-dominant target", {"band": "low"}),
    "winner_high": SyntheticSpec(winner_eq5, "WINNER Eq. 5 high-frequency-dominant target", {"band": "high"}),
    "iga_eq8": SyntheticSpec(iga_eq8, "IGA Eq. 8: four sines on the circle"),
    "iga_eq9": SyntheticSpec(iga_eq9, "IGA Eq. 9: six sines, 10..60 cycles (halve=1 for ReLU)"),
    "broadband": SyntheticSpec(broadband, "WINNER Fig. 1a S1–S8: broadband, level 1..8 removes low bands"),
    "chiptune": SyntheticSpec(chiptune, "square-wave chiptune melody, 16 kHz audio (bright, high-frequency dominant)"),
    "chirp": SyntheticSpec(chirp, "linear chirp sweeping start..end × Nyquist"),
}
for _level in range(1, 9):
    SYNTHETIC[f"broadband_s{_level}"] = SyntheticSpec(
        broadband, f"WINNER Fig. 1a signal S{_level}", {"level": _level}
    )

# Bundled scikit-image images that load offline (no pooch download).
SKIMAGE_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "brick", "grass", "gravel",
                  "moon", "text", "checkerboard", "coins", "horse", "page", "clock", "immunohistochemistry")


def parse_options(options: str | dict | None) -> dict:
    """'freqs=2,8;amps=1,.5' or 'freqs=2,8 amps=1,.5' or a dict -> dict of strings."""
    if not options:
        return {}
    if isinstance(options, dict):
        return dict(options)
    result = {}
    for part in options.replace(" ", "&").split("&"):
        if not part.strip():
            continue
        if "=" not in part:
            raise SignalError(f"signal option {part!r} must look like key=value")
        key, value = part.split("=", 1)
        result[key.strip()] = value.strip()
    return result


def make_synthetic(name: str, length: int | None = None, options: str | dict | None = None) -> Signal:
    """Build a named synthetic 1D signal; `options` set the generator's knobs."""
    if name not in SYNTHETIC:
        raise SignalError(f"unknown synthetic signal {name!r}; choose from {sorted(SYNTHETIC)}")
    spec = SYNTHETIC[name]
    knobs = parse_options(options)
    knobs.update(spec.fixed)
    import inspect

    params = inspect.signature(spec.generator).parameters
    unknown = set(knobs) - set(params)
    if unknown:
        raise SignalError(f"{name} has no option(s) {sorted(unknown)}; it takes {sorted(set(params) - {'length'})}")
    if length is not None:
        knobs["length"] = length
    n = int(knobs.get("length", params["length"].default))
    if not 8 <= n <= MAX_SAMPLES:
        raise SignalError(f"length must be between 8 and {MAX_SAMPLES}, got {n}")
    knobs["length"] = n
    converted = {}
    for key, value in knobs.items():
        default = params[key].default
        if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
            try:
                value = type(default)(float(value))
            except ValueError as exc:
                raise SignalError(f"option {key} must be a number, got {value!r}") from exc
        converted[key] = value
    raw = spec.generator(**converted)
    values, peak = _normalise_peak(raw, name)
    rate = converted.get("sample_rate", params["sample_rate"].default if "sample_rate" in params else None)
    sample_rate = int(rate) if rate else None
    kind = "audio" if sample_rate else "1d"
    return Signal(values, (n,), kind, name, sample_rate=sample_rate, scale=peak, description=spec.description)


# ----------------------------------------------------------------------------------------------
# Files and arrays
# ----------------------------------------------------------------------------------------------
AUDIO_CROPS = ("first", "loudest", "resample")  # how a clip longer than `length` becomes `length` samples


def load_audio(path: str | os.PathLike, length: int | None = None, offset: int = 0,
               name: str | None = None, options: str | dict | None = None) -> Signal:
    """Audio file -> mono Signal divided by max|x|, optionally made `length` samples long.

    `options` 'crop=first' (the default: the first `length` samples), 'crop=loudest' (the
    `length`-sample window with the most energy) or 'crop=resample' (the whole clip resampled to
    `length` samples, its sample rate lowered to match, so the highs above the new Nyquist go)."""
    import soundfile as sf

    path = _existing_file(path, "audio file")
    name = name or path.stem
    crop = parse_options(options).get("crop", "first")
    if crop not in AUDIO_CROPS:
        raise SignalError(f"audio crop must be one of {', '.join(AUDIO_CROPS)}; got {crop!r}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (L, channels)
    except Exception:
        data, rate = _load_audio_librosa(path)
    mono = data.mean(axis=1)
    changes = [f"mixed {data.shape[1]} channels to mono"] if data.shape[1] > 1 else []
    if offset:
        mono = mono[int(offset):]
    if length is not None:
        mono, rate, change = crop_audio(mono, int(rate), int(length), crop, path.name, bool(offset))
        changes += [change] if change else []
    if mono.size < 8:
        raise SignalError(f"{path.name}: the audio has fewer than 8 samples")
    if mono.size > MAX_SAMPLES:
        raise SignalError(f"{path.name}: {mono.size} samples exceeds the cap of {MAX_SAMPLES}; crop it with length")
    values, peak = _normalise_peak(mono, path.name)
    return Signal(values, (values.size,), "audio", name, sample_rate=int(rate), scale=peak,
                  description=f"audio file {path.name}", changes=tuple(changes))


def crop_audio(mono: np.ndarray, rate: int, length: int, crop: str, name: str = "clip",
               after_offset: bool = False) -> tuple[np.ndarray, int, str]:
    """(samples, sample rate, what was done in words) for a clip made `length` samples long."""
    if length < 8:
        raise SignalError(f"length must be at least 8 samples, got {length}")
    if length > mono.size:
        raise SignalError(f"{name} has {mono.size:,} samples{' after the offset' if after_offset else ''}; "
                          f"length {length:,} asks for more (leave length empty for the whole file)")
    if length == mono.size:
        return mono, rate, ""
    whole = f"{mono.size:,} samples ({mono.size / rate:.3g} s)"
    if crop == "resample":
        import librosa

        new_rate = max(1, round(rate * length / mono.size))
        resampled = librosa.resample(mono, orig_sr=rate, target_sr=new_rate)[:length]
        resampled = np.pad(resampled, (0, length - resampled.size))
        return resampled.astype(np.float32), new_rate, (f"the whole {whole} resampled to {length:,} samples at "
                                                         f"{new_rate:,} Hz (nothing above {new_rate / 2:,.0f} Hz)")
    start = loudest_window(mono, length) if crop == "loudest" else 0
    what = "loudest" if crop == "loudest" else "first"
    where = f", from {start / rate:.2f} s" if start else ""
    return mono[start:start + length], rate, (f"cropped to the {what} {length:,} of {whole}: "
                                              f"{length / rate:.3g} s{where}")


def loudest_window(mono: np.ndarray, length: int) -> int:
    """Start of the `length`-sample window with the most energy (a running sum of x²)."""
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(mono, dtype=np.float64) ** 2)])
    return int(np.argmax(energy[length:] - energy[:-length]))


def _existing_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise SignalError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise SignalError(f"{path.name}: the file is empty")
    return path


def _load_audio_librosa(path: Path) -> tuple[np.ndarray, int]:
    """Fallback for formats soundfile cannot read (e.g. some mp3): librosa via audioread."""
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mono, rate = librosa.load(str(path), sr=None, mono=True)
    except Exception as exc:
        raise SignalError(f"{path.name}: not a readable audio file (damaged, or a format neither soundfile nor "
                          "audioread can decode)") from None
    return mono[:, None], int(rate)


IMAGE_OPTIONS = {"crop": "square: the top-left square of side min(H, W), before any resize",
                 "channel": "0, 1 or 2: keep that colour channel only (a gray image is its own channel 0)"}


def _image_options(options: str | dict | None) -> tuple[bool, int | None]:
    """(top-left square crop?, channel or None) from image options like 'crop=square channel=0'
    (SPDER's reference takes the first channel of a top-left square crop, then resizes)."""
    given = parse_options(options)
    unknown = set(given) - set(IMAGE_OPTIONS)
    if unknown:
        raise SignalError(f"unknown image option(s) {', '.join(sorted(unknown))}; images take "
                          + "; ".join(f"{k} ({v})" for k, v in IMAGE_OPTIONS.items()))
    crop = given.get("crop")
    if crop not in (None, "square"):
        raise SignalError(f"crop={crop}: the only image crop is 'square' (top-left)")
    channel = given.get("channel")
    if channel is not None and channel not in ("0", "1", "2"):
        raise SignalError(f"channel={channel}: choose 0, 1 or 2")
    return crop == "square", None if channel is None else int(channel)


def load_image(source: str | os.PathLike | np.ndarray, size: int | None = None, gray: bool = False,
               name: str | None = None, options: str | dict | None = None) -> Signal:
    """skimage.data name, image file or array -> Signal in [-1, 1]; optional resize so max side = `size`.
    `options`: 'crop=square' (top-left square) and/or 'channel=k' (one colour channel), applied
    before the resize."""
    from skimage import color, transform, util

    square, channel = _image_options(options)

    if isinstance(source, np.ndarray):
        image, name = source, name or "array"
    elif str(source) in SKIMAGE_IMAGES:
        from skimage import data

        image, name = getattr(data, str(source))(), name or str(source)
    else:
        path = _existing_file(source, f"image (or one of the bundled names {', '.join(SKIMAGE_IMAGES)})")
        name = name or path.stem
        from skimage import io

        try:
            image = io.imread(str(path))
        except Exception as exc:
            raise SignalError(f"{path.name}: not a readable image (damaged, or not an image format)") from None
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:  # RGBA -> RGB
        image = color.rgba2rgb(image)
    if image.ndim == 3 and image.shape[-1] == 2:  # gray + alpha
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise SignalError(f"{name}: expected a (H, W) or (H, W, 3) image, got shape {image.shape}")
    if min(image.shape[:2]) < 4:
        raise SignalError(f"{name}: image of shape {image.shape[:2]} is too small")
    if image.dtype == bool:
        image = image.astype(np.float64)
    if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
        raise SignalError(f"{name}: the image contains NaN or Inf values")
    image = util.img_as_float(image) if image.dtype.kind in "ui" else image.astype(np.float64)
    if image.dtype.kind == "f" and (image.min() < 0 or image.max() > 1):
        low, high = float(image.min()), float(image.max())
        image = (image - low) / max(high - low, 1e-12)
    changes = []
    if channel is not None and image.ndim == 3:
        image = image[..., channel]
        changes.append(f"kept colour channel {channel}")
    if gray and image.ndim == 3:
        image = color.rgb2gray(image)
        changes.append("converted to gray")
    if square:
        side = min(image.shape[:2])
        if image.shape[0] != image.shape[1]:
            changes.append(f"cropped to the top-left {side}×{side}")
        image = image[:side, :side]
    before = image.shape[:2]
    if size is not None:
        if not 4 <= int(size) <= MAX_IMAGE_SIDE:
            raise SignalError(f"image size must be between 4 and {MAX_IMAGE_SIDE}, got {size}")
        h, w = image.shape[:2]
        factor = int(size) / max(h, w)
        new_shape = (max(4, round(h * factor)), max(4, round(w * factor)))
        image = transform.resize(image, new_shape, anti_aliasing=factor < 1, preserve_range=True)
    h, w = image.shape[:2]
    if max(h, w) > MAX_IMAGE_SIDE:
        raise SignalError(f"{name}: {h}x{w} exceeds the cap of {MAX_IMAGE_SIDE} px; give an image size to resize it "
                          "(the app: Image size under Signal options; the CLI: --image-size)")
    if float(image.max() - image.min()) < 1e-6:
        raise SignalError(f"{name}: the image is constant; there is nothing to fit")
    if (h, w) != tuple(before):
        changes.append(f"resized from {before[0]}×{before[1]} to {h}×{w}")
    channels = 1 if image.ndim == 2 else 3
    values = (image.reshape(h * w, channels) * 2.0 - 1.0)  # [0, 1] -> [-1, 1]
    return Signal(values, (h, w), "image", name, scale=0.5, offset=0.5, description=f"image {name}",
                  changes=tuple(changes))


def from_array(array: np.ndarray, kind: str = "1d", sample_rate: int | None = None,
               name: str = "array") -> Signal:
    """A numpy array -> Signal. 1D/audio: (L,) or (L, C) averaged to mono; image: (H, W[, 3])."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise SignalError(f"{name}: array of dtype {array.dtype} is not numeric")
    if kind == "image":
        return load_image(array, name=name)
    if kind not in ("1d", "audio"):
        raise SignalError(f"kind must be one of {KINDS}, got {kind!r}")
    if array.ndim == 2:
        array = array.mean(axis=1)
    if array.ndim != 1:
        raise SignalError(f"{name}: a {kind} array must be (L,) or (L, C), got shape {array.shape}")
    if array.size < 8:
        raise SignalError(f"{name}: needs at least 8 samples, got {array.size}")
    values, peak = _normalise_peak(array, name)
    if kind == "audio" and not sample_rate:
        raise SignalError("audio arrays need a sample_rate")
    return Signal(values, (values.size,), kind, name, sample_rate=sample_rate, scale=peak)


def builtin_audio() -> dict[str, Path]:
    """Example audio the project generates into assets/ (see scripts/make_assets.py)."""
    return {p.stem: p for p in sorted(ASSETS_DIR.glob("*.wav"))}


def shared_data(relative: str) -> Path | None:
    """A file from ../shared/data beside the checkout, or None when that folder is absent."""
    path = SHARED_DATA_DIR / relative
    return path if path.is_file() else None


def load_signal(spec: str, length: int | None = None, image_size: int | None = None,
                options: str | dict | None = None, gray: bool = False) -> Signal:
    """One entry point: a synthetic name, a bundled image, a generated asset, or a file path."""
    if not spec:
        raise SignalError("no signal given")
    if spec in SYNTHETIC:
        return make_synthetic(spec, length, options)
    if spec in SKIMAGE_IMAGES:
        return load_image(spec, size=image_size, gray=gray, options=options)
    assets = builtin_audio()
    if spec in assets:
        return load_audio(assets[spec], length=length, options=options)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return load_audio(path, length=length, options=options)
    if suffix in IMAGE_EXTENSIONS:
        return load_image(path, size=image_size, gray=gray, options=options)
    if suffix == ".npy":
        if not path.is_file():
            raise SignalError(f"file not found: {path}")
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise SignalError(f"{path.name}: not a readable .npy file (damaged, or pickled objects)") from None
        kind = "image" if array.ndim == 3 or (array.ndim == 2 and min(array.shape) > 8) else "1d"
        return from_array(array, kind=kind, name=path.stem)
    if suffix and path.exists():
        raise SignalError(f"{path.name}: unsupported file type {suffix!r}; use audio "
                          f"({', '.join(AUDIO_EXTENSIONS)}), images ({', '.join(IMAGE_EXTENSIONS)}) or .npy")
    raise SignalError(f"unknown signal {spec!r}: give a file path or a built-in name "
                      "(see `python -m spectral_lab list`)")


def signal_for(config) -> Signal:
    """The signal a RunConfig names, with its length / image_size / options / gray settings."""
    return load_signal(config.signal, length=config.length, image_size=config.image_size,
                       options=config.signal_options, gray=config.gray)


def list_signals() -> list[tuple[str, str]]:
    """(name, description) of every built-in signal."""
    rows = [(name, spec.description) for name, spec in SYNTHETIC.items()]
    rows += [(name, f"generated audio asset {path.name}") for name, path in builtin_audio().items()]
    rows += [(name, "scikit-image bundled image") for name in SKIMAGE_IMAGES]
    return rows


def spectral_centroid(signal: Signal | np.ndarray) -> float:
    """WINNER Eq. 10: ψ = 2 Σ_k k|ŷ(k)| / Σ_k |ŷ(k)|, k in cycles/sample, so ψ ∈ [0, 1].

    As in WINNER's reference, the FFT runs along the flattened sample axis: images are
    flattened row-major to (H·W, C). Magnitudes are pooled over channels. This reproduces
    WINNER Table 6 (tetris 0.5732, arch 0.4996, camera 0.3121, noise 0.5934; castle's table
    entry 0.1097 is ψ/C with ψ = 0.329, C = 3), checked in tests/test_signals.py.
    """
    if isinstance(signal, Signal):  # computed once per signal: resolve asks for it per run
        if "_centroid" not in signal.__dict__:
            signal.__dict__["_centroid"] = spectral_centroid(signal.values)
        return signal.__dict__["_centroid"]
    values = np.asarray(signal, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    elif values.ndim == 3:  # (H, W, C) image array -> (H*W, C)
        values = values.reshape(-1, values.shape[-1])
    elif values.ndim == 2 and not isinstance(signal, Signal) and values.shape[1] > 4:
        values = values.reshape(-1, 1)  # (H, W) gray image array
    magnitude = np.abs(np.fft.rfft(values, axis=0))  # (N//2+1, C)
    k = np.fft.rfftfreq(values.shape[0])[:, None]
    return float(2 * np.sum(k * magnitude) / max(np.sum(magnitude), 1e-30))
