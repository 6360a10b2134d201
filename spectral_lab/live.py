"""The live lab behind the app: limits, presets, share links, uploads, and a throttled stream of
what the UI shows while one or several methods train on the same signal.

Gradio-free, so the app's callbacks are tested as plain functions (tests/test_live.py) and the
app's throughput is benchmarked without a browser (bench/bench_app.py).

Training is `train_stream`, a generator of host-only `Update`s (numpy, no tensors), so the same
stream can run in another process (Hugging Face ZeroGPU wraps it with `spaces.GPU`).
`LiveComparison.frames()` iterates it, keeps one `MethodView` per method and turns updates into
`Frame`s at the UI's pace: light panels (status, curves, table) at most `curve_hz` times a
second, heavy ones (reconstructions, eNTK, error maps, bands, details) at most `heavy_hz`, and
only the panels whose data changed.
"""
from __future__ import annotations

import inspect
import math
import os
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qsl, urlencode

import numpy as np

from . import plots
from .config import RunConfig
from .errors import ConfigError, SignalError, SpectralLabError
from .methods import get_method, resolve
from .metrics import PSNR_CONVENTION, ZERO_OUTPUT_HINT, ZERO_OUTPUT_MARGIN_DB, psnr_text
from .modifiers import describe_preconditioner, fr_preconditioner
from .signals import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, Signal, load_audio, load_image, signal_for
from .train import Run, Snapshot, pick_device
from .tuning import TUNE_FACTORS, TUNE_FRACTION, describe_trials, tune_lr

OUTCOMES = ("finished", "stopped", "diverged", "failed")


@dataclass(frozen=True)
class AppLimits:
    """Caps so one visitor cannot starve the rest. Override with SPECTRAL_LAB_<NAME> env vars."""

    max_steps: int = 5000  # training steps per method
    max_points: int = 300_000  # samples or pixels of a signal
    max_methods: int = 6  # methods per comparison
    max_width: int = 512
    max_depth: int = 8
    max_ntk_points: int = 4096  # dense eNTK up to here on CPU (4.2 s at 4096, 4×256)
    max_upload_mb: float = 20.0

    @classmethod
    def from_env(cls, device_type: str = "cpu") -> "AppLimits":
        """Environment overrides on top of the device's defaults (a GPU affords more: paper-scale
        signals such as WINNER's 150,000 audio samples at 4×222 in about 30 s)."""
        base = (cls(max_steps=20_000, max_points=600_000, max_ntk_points=16384) if device_type == "cuda"
                else cls())  # 16k points: the top eigenpairs, matrix-free
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"SPECTRAL_LAB_{f.name.upper()}")
            if raw:
                values[f.name] = type(f.default)(float(raw))
        return cls(**{**{f.name: getattr(base, f.name) for f in fields(cls)}, **values})


def check_limits(config: RunConfig, methods: list[str], limits: AppLimits, signal: Signal | None = None) -> None:
    """Raise ConfigError with a message a visitor can act on."""
    if not methods:
        raise ConfigError("pick at least one method")
    for method in methods:
        get_method(method)  # unknown architectures or modifiers -> ConfigError
    if len(methods) > limits.max_methods:
        raise ConfigError(f"at most {limits.max_methods} methods per comparison (got {len(methods)})")
    if len(set(methods)) != len(methods):
        raise ConfigError("a method is listed twice")
    for name, value, cap in (("steps", config.steps, limits.max_steps), ("width", config.width, limits.max_width),
                             ("depth", config.depth, limits.max_depth),
                             ("NTK points", config.ntk_points, limits.max_ntk_points)):
        if value > cap:
            raise ConfigError(f"{name} = {value} is above this server's limit of {cap}")
    if signal is not None and signal.values.size > limits.max_points:
        raise ConfigError(f"the signal has {signal.values.size:,} values; this server's limit is "
                          f"{limits.max_points:,} (shorten the audio with 'length' or set an image size)")


# ----------------------------------------------------------------------------------------------
# Share links and presets: the whole state as a query string
# ----------------------------------------------------------------------------------------------
def share_query(config: RunConfig, methods: list[str], tune: bool = False) -> str:
    """Non-default config fields plus the list of methods (`methods=a,b`) and `tune=1` when each
    method is tuned to its best learning rate."""
    query = config.to_query()
    extra = urlencode({"methods": ",".join(methods), **({"tune": "1"} if tune else {})})
    return f"{query}&{extra}" if query else extra


def _query_pairs(query: str | dict) -> dict:
    return dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)) if isinstance(query, str) else dict(query)


def share_tune(query: str | dict) -> bool:
    """Whether a share link asks for each method at its best learning rate."""
    return _query_pairs(query).get("tune", "").lower() in ("1", "true", "yes")


def parse_share_query(query: str | dict) -> tuple[RunConfig, list[str]]:
    pairs = _query_pairs(query)
    pairs.pop("tune", None)  # the comparison's option, read by share_tune
    methods = [m for m in pairs.pop("methods", "").split(",") if m]
    config = RunConfig.from_query(urlencode(pairs))
    return config, methods or [config.method]


def parse_link(query: str | dict, limits: "AppLimits | None" = None) -> tuple[RunConfig, list[str], list[str]]:
    """A share link's (config, methods, what was dropped): each bad value is dropped alone, in
    words (an unknown signal, a setting that does not parse or is out of range or over this
    server's limit, an unknown method), and the rest is applied. Share links name built-in
    signals only: an upload cannot travel in a link."""
    from .signals import list_signals

    pairs = _query_pairs(query)
    pairs.pop("tune", None)
    dropped, accepted = [], {}
    for name, value in pairs.items():
        if name == "methods":
            continue
        try:
            if name == "signal" and value not in {n for n, _ in list_signals()}:
                raise ConfigError(f"signal {value!r} is not a built-in signal")
            accepted[name] = RunConfig.from_dict({name: value}).to_dict()[name]  # parsed and range-checked alone
        except ConfigError as exc:
            dropped.append(str(exc))
    methods = []
    for method in (m for m in pairs.get("methods", "").split(",") if m):
        try:
            get_method(method)  # the architecture and its modifiers
            methods.append(method)
        except ConfigError:
            dropped.append(f"method {method!r} is unknown")
    if limits is not None:
        caps = {"steps": limits.max_steps, "width": limits.max_width, "depth": limits.max_depth,
                "ntk_points": limits.max_ntk_points}
        for name, cap in caps.items():
            if name in accepted and accepted[name] > cap:
                dropped.append(f"{name} = {accepted.pop(name)} is above this server's limit of {cap}")
        if len(methods) > limits.max_methods:
            dropped.append(f"methods after the first {limits.max_methods} (this server's limit)")
            methods = methods[:limits.max_methods]
    config = RunConfig.from_dict(accepted)
    return config, methods or [config.method], dropped


@dataclass(frozen=True)
class Preset:
    title: str
    explanation: str
    query: str
    gpu_query: str = ""  # the same lesson at paper scale, used when the server has a GPU


PRESETS: dict[str, Preset] = {p.title: p for p in (
    Preset("Spectral bottleneck (1D): SIREN vs SIREN²",
           "A target made only of frequencies near Nyquist (WINNER Eq. 5). SIREN stays at the zero-output "
           "PSNR; SIREN²'s noisy init gives it the frequency support to fit it.",
           "signal=winner_high&length=4096&width=64&steps=300&methods=siren,siren2",
           "signal=winner_high&length=65536&width=256&depth=4&steps=2000&methods=siren,siren2"),
    Preset("Audio: chip melody, SIREN vs SIREN²",
           "A bright square-wave melody. Both fits follow it; SIREN² lands about 20 dB closer. In the "
           "band errors SIREN's largest misses are upper bands, where SIREN² stays near zero.",
           "signal=chip_melody&length=8000&steps=300&methods=siren,siren2",
           "signal=chiptune&length=150000&signal_options=sample_rate%3D44100&width=222&depth=4&steps=2000"
           "&methods=siren,siren2"),
    Preset("Image: ReLU vs SIREN vs SPDER",
           "The camera man at 64². ReLU is blurry: spectral bias leaves every band above the lowest few "
           "mostly unlearned. SIREN is sharp up to the middle bands; SPDER's damping fits them all in the "
           "same steps.",
           "signal=camera&image_size=64&steps=200&methods=relu,siren,spder",
           "signal=camera&image_size=256&width=256&depth=4&steps=500&methods=relu,siren,spder"),
    Preset("Encodings: plain vs PE vs RFF",
           "The same ReLU MLP with no encoding, NeRF positional encoding and random Fourier features. "
           "The eNTK's eigenvalues fall off more slowly with each encoding (its effective rank at "
           "initialisation rises), and the PSNR rises with it.",
           "signal=camera&image_size=64&steps=300&methods=relu,relu_pe,relu_rff"),
    Preset("Broadband S6: SIREN, FINER, SIREN²",
           "A broadband signal with its low frequencies removed (WINNER Fig. 1a, S6). SIREN stays at the "
           "zero-output PSNR, FINER fits part of it, SIREN² most of it.",
           "signal=broadband_s6&length=4096&width=64&steps=300&methods=siren,finer,siren2"),
    Preset("Training modifiers: PE with IGA, FR, BN",
           "The same ReLU+PE network trained plainly and with each of the IGA paper's three modifiers "
           "(inductive gradient adjustment, Fourier reparameterisation, batch norm) at one shared learning "
           "rate. At this rate each modifier ends above the plain run; their order among themselves changes "
           "with the rate. IGA rebuilds its gradient adjustment from the eNTK every step, as in the paper.",
           "signal=camera&image_size=48&steps=300&lr=0.002&lr_schedule=exp"
           "&methods=relu_pe,relu_pe%2Biga,relu_pe%2Bfr,relu_pe%2Bbn"),
    Preset("Zoo: one of each family",
           "One method from each family on the camera man at 64²: an encoding (ReLU+PE), a periodic "
           "activation (SIREN), a wavelet (WIRE), a learned first layer (FKAN), multiplicative filters "
           "(FourierNet) and a hash grid, each at its defaults. Watch how differently their eNTK "
           "eigenvalues fall off and which bands each leaves for last. For a ranking at equal parameters "
           "see the README's zoo table (`python -m spectral_lab zoo`).",
           "signal=camera&image_size=64&steps=200&methods=relu_pe,siren,wire,fkan,mfn_fourier,hashgrid"),
    Preset("Teach ω₀: one SIREN knob",
           "Move first-layer ω₀ (try 30, 300, 3000) and watch S(k) reach higher frequencies.",
           "signal=sines&length=2048&signal_options=freqs%3D5%2C80%2C300&first_omega0=300&steps=300&methods=siren"),
)}
DEFAULT_PRESET = "Spectral bottleneck (1D): SIREN vs SIREN²"
CUSTOM = "Custom"


def preset_query(title: str, device_type: str = "cpu") -> str:
    preset = PRESETS[title]
    return preset.gpu_query if device_type == "cuda" and preset.gpu_query else preset.query


SIZE_FIELDS = ("length", "image_size", "width", "depth")  # what a change of signal kind resets


def signal_kind(name: str) -> str:
    """'1d', 'audio' or 'image' for a built-in signal's name (files: from the extension)."""
    from .signals import SKIMAGE_IMAGES, SYNTHETIC, builtin_audio

    if name in SKIMAGE_IMAGES or Path(name).suffix.lower() in IMAGE_EXTENSIONS:
        return "image"
    if name in builtin_audio() or Path(name).suffix.lower() in AUDIO_EXTENSIONS:
        return "audio"
    if name in SYNTHETIC and "sample_rate" in inspect.signature(SYNTHETIC[name].generator).parameters:
        return "audio"  # a generator with a sample rate makes audio (chiptune)
    return "1d"


def sizes_for_signal(config: RunConfig, device_type: str = "cpu") -> tuple[RunConfig, str]:
    """After the signal changed: when the sizes (length, image size, width, depth) are a preset's,
    not the user's own, take those of the first preset of the new signal's kind (length 4096 and
    width 64 of the 1D preset would make an 8,513-parameter audio net); returns (config, what changed)."""
    presets = {title: parse_share_query(preset_query(title, device_type))[0] for title in PRESETS}
    if not any(all(getattr(p, f) == getattr(config, f) for f in SIZE_FIELDS) for p in presets.values()):
        return config, ""  # the user's own sizes: kept
    kind = signal_kind(config.signal)
    for title, preset_config in presets.items():
        if signal_kind(preset_config.signal) == kind:
            sizes = {f: getattr(preset_config, f) for f in SIZE_FIELDS}
            changed = [f"{f.replace('_', ' ')} {sizes[f] if sizes[f] is not None else 'default'}"
                       for f in SIZE_FIELDS if sizes[f] != getattr(config, f)]
            if not changed:
                return config, ""
            return config.replace(**sizes), f"{kind} sizes from the preset “{title}”: {', '.join(changed)}"
    return config, ""


def matching_preset(config: RunConfig, methods: list[str], device_type: str = "cpu") -> str:
    """The preset whose whole state equals (config, methods), or CUSTOM."""
    for title in PRESETS:
        if parse_share_query(preset_query(title, device_type)) == (config, list(methods)):
            return title
    return CUSTOM


def with_app_cadence(config: RunConfig, device_type: str) -> RunConfig:
    """Diagnostic cadences the app uses: ~6 eNTKs, 3 activation snapshots, ~12 error maps and 40
    band-error columns per run, within a 6% budget shared by them (the final step computes every
    one whatever the budget deferred). With the UI thread's share this keeps the app's training
    at ≥ 0.85 of headless on 2 CPU cores (bench/bench_app.py)."""
    steps = config.steps
    return config.replace(
        diagnostics_budget=min(config.diagnostics_budget, 0.06) if config.diagnostics_budget > 0 else 0.0,
        log_every=max(1, min(config.log_every, steps // 50 or 1)), preview_every=max(1, steps // 10),
        ntk_every=config.ntk_every or max(1, steps // 6), activations_every=config.activations_every or max(1, steps // 3),
        errors_every=config.errors_every or max(1, steps // 12), bands_every=config.bands_every or max(1, steps // 40))


# ----------------------------------------------------------------------------------------------
# Signals from the UI
# ----------------------------------------------------------------------------------------------
def load_ui_signal(config: RunConfig, upload: str | os.PathLike | None, limits: AppLimits) -> Signal:
    """The built-in named by config.signal, or an uploaded file; checked against the limits."""
    if upload:
        path = Path(upload)
        if not path.is_file():
            raise SignalError("the upload did not arrive; try again")
        size_mb = path.stat().st_size / 1e6
        if size_mb > limits.max_upload_mb:
            raise SignalError(f"{path.name} is {size_mb:.1f} MB; this server accepts up to {limits.max_upload_mb:g} MB")
        suffix = path.suffix.lower()
        if suffix in AUDIO_EXTENSIONS:
            signal = load_audio(path, length=config.length)
        elif suffix in IMAGE_EXTENSIONS:
            signal = load_image(path, size=config.image_size, gray=config.gray, options=config.signal_options)
        else:
            raise SignalError(f"{path.name}: upload an audio file ({', '.join(AUDIO_EXTENSIONS)}) "
                              f"or an image ({', '.join(IMAGE_EXTENSIONS)})")
    else:
        signal = signal_for(config)
    if signal.values.size > limits.max_points:
        raise SignalError(f"{signal.name} has {signal.values.size:,} values; this server's limit is "
                          f"{limits.max_points:,} (set 'length' for audio or 'image size' for images)")
    return signal


# ----------------------------------------------------------------------------------------------
# The stream the worker produces: host data only
# ----------------------------------------------------------------------------------------------
@dataclass
class Update:
    """One thing that happened to one method, as host data (picklable, no tensors)."""

    index: int
    method: str
    event: str  # "tuning" | "start" | "snapshot" | "failed"
    snapshot: Snapshot | None = None
    row: dict | None = None  # the results-table row, with the final snapshot
    note: str = ""  # start: how it steps and what its modifiers chose; failed: the message


def train_stream(config: RunConfig, methods: list[str], signal: Signal,
                 should_stop: Callable[[], bool] = lambda: False, tune: bool = False) -> Iterator[Update]:
    """Train `methods` on `signal` with the same budget, all progressing together: round-robin,
    one log interval of each method in turn (its own model, optimiser and RNG state, built with its
    own seed, so each ends exactly where it would alone). A failing method (a bad knob for it, out
    of memory) is reported and the others go on. `tune`: each method first searches its best
    learning rate (tuning.tune_lr), one after the other, then all train at their winners."""
    runs: dict[int, tuple[Run, str]] = {}  # index -> (run, its tuning note)
    for index, method in enumerate(methods):
        if should_stop():
            return
        method_config, tuned = config.replace(method=method), ""
        try:
            if tune:
                yield Update(index, method, "tuning", note=f"finding {method}'s best learning rate: short runs at "
                                                           f"{len(TUNE_FACTORS)}+ rates around its default")
                best, trials = tune_lr(method_config, signal, should_stop=should_stop)
                if should_stop():
                    return
                method_config, tuned = method_config.replace(lr=best), describe_trials(trials)
            runs[index] = (Run(method_config, signal), tuned)
        except SpectralLabError as exc:
            yield Update(index, method, "failed", note=str(exc))
    for index, (run, tuned) in runs.items():
        yield Update(index, methods[index], "start",
                     note="; ".join(n for n in (tuned, run.modifier_note, run.step_note) if n))
    active = {index: iter(run) for index, (run, _) in runs.items()}
    stopping = False
    while active:
        for index in list(active):
            run, tuned = runs[index]
            if should_stop() and not stopping:  # every run ends at its next step, with its own final result
                stopping = True
                for other, _ in runs.values():
                    other.stop()
            try:
                snapshot = next(active[index])
            except StopIteration:
                del active[index]
                continue
            except (SpectralLabError, FloatingPointError, RuntimeError, MemoryError) as exc:
                del active[index]
                yield Update(index, methods[index], "failed", note=user_message(exc))
                continue
            row = None
            if snapshot.done:
                del active[index]
                row = {**run.summary_row(), "lr": run.config.lr, "steps/s": round(snapshot.steps_per_s, 1)}
                if tuned:
                    row["tuned"] = tuned
            yield Update(index, methods[index], "snapshot", snapshot=snapshot, row=row)


def user_message(exc: BaseException) -> str:
    """One line for a visitor: the message, never the exception's class name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "out of memory" in text.lower():
        return "out of memory: lower the width, the NTK points or the signal size"
    return text or "an unexpected error (details are in the server log)"


# ----------------------------------------------------------------------------------------------
# What the UI shows, per method
# ----------------------------------------------------------------------------------------------
@dataclass
class MethodView:
    method: str
    index: int
    status: str = "waiting"  # waiting | tuning | running | finished | stopped | diverged | failed | not run
    message: str = ""
    note: str = ""
    step: int = 0
    total_steps: int = 0
    psnr: float | None = None
    best_psnr: float | None = None
    psnr_limit: float | None = None  # the final fit's float32 limit (metrics["float32_limit_psnr"])
    steps_per_s: float = 0.0
    curve_steps: list = field(default_factory=list)
    curve_losses: list = field(default_factory=list)
    prediction: np.ndarray | None = None
    ntk: dict = field(default_factory=dict)  # "init" / "now" -> NTKResult
    activations: list | None = None
    error_map: object = None
    band_steps: list = field(default_factory=list)
    band_columns: list = field(default_factory=list)
    band_edges: np.ndarray | None = None
    row: dict | None = None

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.curve_steps:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate(self.curve_steps), np.concatenate(self.curve_losses)

    def bands(self):
        return np.array(self.band_steps), self.band_edges, np.stack(self.band_columns, axis=1)

    @property
    def label(self) -> str:
        return f"{self.method} · {psnr_text(self.psnr, self.psnr_limit, 1)}" if self.psnr is not None else self.method


@dataclass
class Frame:
    """What changed in the UI at one moment. None = leave that panel as it is."""

    status: str
    curves: plots.FigureSpec | None = None
    table: list[dict] | None = None
    gallery: list[tuple[np.ndarray, str]] | None = None  # images: target + one per method, upscaled
    reconstruction: plots.FigureSpec | None = None  # 1D / audio: small multiples of target and fits
    audio: dict[int, tuple[tuple[int, np.ndarray], str]] | None = None  # slot -> ((rate, int16), label)
    ntk: plots.FigureSpec | None = None
    errors: plots.FigureSpec | None = None
    bands: plots.FigureSpec | None = None
    details: tuple[plots.FigureSpec | None, plots.FigureSpec | None] | None = None  # (activations, kernel)
    done: bool = False
    outcome: str = ""  # on the last frame: finished | stopped | diverged | failed
    step: int = 0


HEAVY_PANELS = ("reconstruction", "ntk", "errors", "bands", "details")
# One heavy panel per frame, one frame a second: each panel redraws every few seconds and no frame
# keeps the browser's main thread busy for long (bench/bench_browser.py).
HEAVY_PANELS_PER_FRAME = 1


class LiveComparison:
    """Train `methods` on `signal` with the same budget and stream Frames for the UI."""

    def __init__(self, config: RunConfig, methods: list[str], signal: Signal, curve_hz: float = 1.0,
                 heavy_hz: float = 1.0, stream: Callable[..., Iterator[Update]] = train_stream, tune: bool = False):
        self.config, self.methods, self.signal = config, list(methods), signal
        self.tune = tune  # each method at its best learning rate (a short search first)
        # Measured in a browser (bench/bench_browser.py): curves at 1 Hz and one heavy panel a second
        # keep the page responsive; training keeps ≥ 0.85 of headless speed (bench/bench_app.py).
        self.curve_hz, self.heavy_hz = curve_hz, heavy_hz
        self.stream = stream
        self.views = [MethodView(m, i) for i, m in enumerate(self.methods)]
        self.selected: str | None = None  # the method whose details (activations, kernel) are shown
        self.failure = ""
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._dirty: set[str] = set()
        self._heavy_order = list(HEAVY_PANELS)  # least recently sent first
        self._audio_dirty: set[int] = set()
        self._audio_sent: dict[int, float] = {}

    # --------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def view(self, method: str) -> MethodView:
        return next(v for v in self.views if v.method == method)

    def frames(self) -> Iterator[Frame]:
        """Train and yield Frames at the UI's pace, in the caller's thread.

        Training advances while this generator is being iterated and pauses while the consumer
        renders and sends a frame: no second thread competes for the GIL or the CPU (measured,
        bench/bench_app.py: a training thread beside the UI thread ran at 0.70 of headless, this
        at ≥ 0.85). Stop sets a flag the stream checks at every snapshot; closing this generator
        (a disconnected browser) closes the stream, which stops training."""
        stream = (self.stream(self.config, self.methods, self.signal, self._stop.is_set, tune=True) if self.tune
                  else self.stream(self.config, self.methods, self.signal, self._stop.is_set))
        last_light = last_heavy = 0.0
        try:
            for update in stream:
                table_changed = self._apply(update)
                now = time.perf_counter()
                heavy_due = bool(self._dirty or self._audio_dirty) and (
                    now - last_heavy >= 1.0 / self.heavy_hz or table_changed)
                if now - last_light < 1.0 / self.curve_hz and not heavy_due and not table_changed:
                    continue
                frame = Frame(status=self.status_line(), curves=self.curves_figure(), step=self._current_step())
                last_light = now
                if table_changed:
                    frame.table = self.table()
                if heavy_due:
                    self._fill_heavy(frame, limit=HEAVY_PANELS_PER_FRAME)
                    last_heavy = time.perf_counter()
                yield frame
        except (SpectralLabError, FloatingPointError, RuntimeError, MemoryError) as exc:
            self.failure = user_message(exc)
        finally:
            self.stop()
            stream.close()
        # The end: one frame with every panel. Not one panel per frame: Gradio 6's client applies
        # each streamed frame's diff to the previous frame's objects in place, so a panel sent in
        # one frame and skipped in the next is erased before a busy page has drawn it (seen in CI:
        # a final eNTK or a method's detail never shown). Nothing follows this frame.
        self._dirty.update(HEAVY_PANELS)
        frame = Frame(status=self.status_line(final=True), curves=self.curves_figure(), table=self.table(),
                      step=self._current_step(), done=True, outcome=self.outcome())
        self._fill_heavy(frame)
        if self.signal.kind == "audio":
            frame.audio = self._audio_updates(force=True)
        yield frame

    def _apply(self, update: Update) -> bool:
        """Fold one update into its method's view; True when the results table changed."""
        view = self.views[update.index]
        if update.event == "tuning":
            view.status, view.note = "tuning", update.note
            return True  # a frame now: the status line says what is happening
        if update.event == "start":
            view.status, view.note, view.total_steps = "running", update.note, self.config.steps
            if self.selected is None or self.view(self.selected).status in ("waiting",):
                self.selected = view.method
            self._dirty.add("details")
            return True
        if update.event == "failed":
            view.status, view.message = "failed", update.note
            view.row = {"method": view.method, "status": "failed", "note": update.note}
            return True
        snapshot = update.snapshot
        view.step, view.total_steps = snapshot.step, snapshot.total_steps
        view.psnr, view.best_psnr, view.steps_per_s = snapshot.psnr, snapshot.best_psnr, snapshot.steps_per_s
        if snapshot.steps.size:
            view.curve_steps.append(snapshot.steps)
            view.curve_losses.append(snapshot.losses)
        if snapshot.prediction is not None:
            view.prediction = snapshot.prediction
            self._dirty.add("reconstruction")
            self._audio_dirty.add(view.index)
        diagnostics = snapshot.diagnostics
        if "ntk" in diagnostics:
            view.ntk["init" if snapshot.step == 0 else "now"] = diagnostics["ntk"]
            self._dirty.add("ntk")
            self._dirty.add("details")
        if "activations" in diagnostics:
            view.activations = diagnostics["activations"]
            self._dirty.add("details")
        if "error_map" in diagnostics:
            view.error_map = diagnostics["error_map"]
            self._dirty.add("errors")
        if "band_error" in diagnostics:
            view.band_edges = diagnostics["band_error"][0]
            view.band_steps.append(snapshot.step)
            view.band_columns.append(diagnostics["band_error"][1])
            self._dirty.add("bands")
        if snapshot.done:
            view.status, view.message, view.row = snapshot.status, snapshot.message, update.row
            view.psnr = snapshot.metrics.get("psnr", view.psnr)
            view.psnr_limit = snapshot.metrics.get("float32_limit_psnr")
            self._dirty.update(HEAVY_PANELS)
            return True
        return False

    # --------------------------------------------------------------------------------------
    def _current_step(self) -> int:
        running = [v for v in self.views if v.status == "running"]
        return running[-1].step if running else max((v.step for v in self.views), default=0)

    def status_line(self, final: bool = False) -> str:
        if final:
            return self.final_status()
        running = [v for v in self.views if v.status == "running"]
        if self.stopping:
            return "Stopping at the next step…"
        tuning = [v for v in self.views if v.status == "tuning"]
        if tuning and not running:
            v = tuning[-1]
            return (f"Tuning **{v.method}** ({v.index + 1}/{len(self.views)}): short runs at {len(TUNE_FACTORS)} "
                    f"learning rates around its default, then the full run at the best")
        if not running:
            done = [f"{v.method} {v.status} ({psnr_text(v.psnr, v.psnr_limit, 1)})" for v in self.views
                    if v.row and v.psnr is not None]
            return ("; ".join(done) + " · starting…") if done else "Starting…"
        # the methods train round-robin: the time left is every running method's steps at its own rate
        eta = sum((v.total_steps - v.step) / v.steps_per_s for v in running if v.steps_per_s)
        if len(running) == 1 and len(self.views) == 1:
            v = running[0]
            best = f" (best {v.best_psnr:.2f})" if v.best_psnr is not None else ""
            psnr = f" · PSNR {v.psnr:.2f} dB{best}" if v.psnr is not None else ""
            return (f"Training **{v.method}** · step {v.step}/{v.total_steps} · {v.steps_per_s:.0f} steps/s · "
                    f"ETA {eta:.0f} s{psnr}")
        parts = [f"{v.method} {v.step}/{v.total_steps}" + (f" ({v.psnr:.1f} dB)" if v.psnr is not None else "")
                 if v.status == "running" else f"{v.method} {v.status}" for v in self.views]
        known = all(v.steps_per_s for v in running)  # no rate yet before a method's first interval
        return (f"Training {len(running)} of {len(self.views)} together · " + " · ".join(parts)
                + (f" · ETA {eta:.0f} s" if known else ""))

    def outcome(self) -> str:
        """failed > stopped > diverged > finished, over the whole comparison."""
        statuses = {v.status for v in self.views}
        if self.failure or "failed" in statuses:
            return "failed"
        if self.stopping and ({"stopped", "waiting", "tuning"} & statuses):
            return "stopped"
        if "diverged" in statuses:
            return "diverged"
        return "finished"

    def final_status(self) -> str:
        outcome = self.outcome()
        done = [v for v in self.views if v.row and v.row.get("psnr_db") is not None]
        seconds = time.perf_counter() - self.started
        best = max(done, key=lambda v: v.row["psnr_db"]) if done else None
        best_text = f" Best: **{best.method}** at {psnr_text(best.row['psnr_db'], best.psnr_limit)}." if best else ""
        if outcome == "failed":
            failed = [f"{v.method}: {v.message}" for v in self.views if v.status == "failed"]
            reason = "; ".join(failed) or self.failure
            return f"**Failed** — {reason}.{best_text}"
        if outcome == "stopped":
            parts = [f"{v.method} {'finished' if v.status == 'finished' else v.message or 'did not run'}"
                     for v in self.views]
            return f"**Stopped** by you: {'; '.join(parts)}.{best_text}"
        if outcome == "diverged":
            diverged = "; ".join(f"{v.method}: {v.message}" for v in self.views if v.status == "diverged")
            return f"**Finished, with divergence** — {diverged}.{best_text}"
        tuned = (" Each method at its own best learning rate (the table's lr; a short search at "
                 f"{TUNE_FRACTION:.0%} of the steps per rate)." if self.tune else "")
        best_text += tuned
        stalled = [v.method for v in done if ZERO_OUTPUT_HINT in v.row.get("note", "")]
        stalled = (f" ⚠ {', '.join(stalled)}: {ZERO_OUTPUT_HINT} (PSNR within {ZERO_OUTPUT_MARGIN_DB:g} dB of a "
                   "zero output; the table has the numbers)." if stalled else "")
        return f"**Finished**: {len(done)} method(s) in {seconds:.0f} s.{best_text}{stalled} {PSNR_CONVENTION}."

    def table(self) -> list[dict]:
        rows = []
        for v in self.views:
            if v.row is not None:
                row = dict(v.row)
                row["status"] = v.status
                rows.append(row)
            else:
                rows.append({"method": v.method, "status": "not run" if self.stopping else v.status,
                             "note": v.message})
        return rows

    def curves_figure(self) -> plots.FigureSpec:
        curves = {v.method: v.curve() for v in self.views if v.curve_steps}
        return plots.psnr_figure(curves, "PSNR and loss, one line per method")

    def kernels(self) -> dict:
        return {v.method: dict(v.ntk) for v in self.views if v.ntk}

    def _fill_heavy(self, frame: Frame, limit: int | None = None) -> int:
        """Put up to `limit` of the changed heavy panels into `frame`, the least recently sent first
        (the rest stay due for the next frame); returns how many were put. Panels with nothing to
        show yet count as sent."""
        filled = 0
        for name in list(self._heavy_order):
            if limit is not None and filled >= limit:
                break
            if name not in self._dirty:
                continue
            self._dirty.discard(name)
            self._heavy_order.remove(name)
            self._heavy_order.append(name)  # now the most recently sent
            filled += self._fill_panel(frame, name)
        if self.signal.kind == "audio" and not frame.done:
            frame.audio = self._audio_updates()
        return filled

    def _fill_panel(self, frame: Frame, name: str) -> bool:
        """One heavy panel into `frame`; False when it has nothing to show yet."""
        if name == "reconstruction":
            seen = [v for v in self.views if v.prediction is not None]
            if not seen:
                return False
            if self.signal.kind == "image":
                frame.gallery = self.gallery()
            else:
                frame.reconstruction = plots.reconstruction_figure(
                    self.signal, {v.label: v.prediction for v in seen}, "Fit vs target, one panel per method")
        elif name == "ntk":
            if not self.kernels():
                return False
            frame.ntk = plots.ntk_figure(self.kernels(), "Empirical NTK: eigenvalues, projections and S(k) per method")
        elif name == "errors":
            maps = {v.label: v.error_map for v in self.views if v.error_map is not None}
            if not maps:
                return False
            frame.errors = plots.error_figure(maps, "Where the error is, one panel per method")
        elif name == "bands":
            histories = {v.label: v.bands() for v in self.views if v.band_columns}
            if not histories:
                return False
            frame.bands = plots.band_error_figure(histories)
        elif name == "details":
            if self.selected is None:
                return False
            frame.details = self.details(self.selected)
        return True

    def gallery(self) -> list[tuple[np.ndarray, str]]:
        """Target, then every method's current fit, upscaled with nearest neighbour to ≥ 256 px."""
        items = [(upscale(self.signal.to_original()), "target")]
        items += [(upscale(self.signal.to_original(v.prediction)), v.label) for v in self.views
                  if v.prediction is not None]
        return items

    def _audio_updates(self, force: bool = False, every: float = 5.0) -> dict:
        """Players are re-encoded at most every `every` seconds per method (and when it finishes)."""
        out, now = {}, time.perf_counter()
        for index in sorted(self._audio_dirty):
            view = self.views[index]
            finished = view.status not in ("running", "waiting", "tuning")
            if force or finished or now - self._audio_sent.get(index, -math.inf) >= every:
                out[index] = (to_audio(self.signal, view.prediction), view.label)
                self._audio_sent[index] = now
                self._audio_dirty.discard(index)
        return out

    def details(self, method: str) -> tuple[plots.FigureSpec | None, plots.FigureSpec | None]:
        """(activations, kernel) figures of one method: the heavy panels shown for one at a time."""
        view = self.view(method)
        activations = (plots.activations_figure(view.activations, f"Activations of {method}")
                       if view.activations else None)
        result = view.ntk.get("now") or view.ntk.get("init")
        kernel = plots.kernel_figure(result, f"Normalised eNTK of {method}") if result is not None else None
        spectrum = fr_preconditioner(resolve(self.config.replace(method=method), self.signal))
        if spectrum is not None:  # FR: what the reparameterisation does to each hidden layer's updates
            panel = plots.preconditioner_panel(spectrum, describe_preconditioner(spectrum))
            if kernel is None:
                kernel = plots.FigureSpec(f"FR preconditioner of {method}", [panel], height=380)
            else:  # one panel per row: the kernel's colour bar stays beside its own heatmap
                kernel.panels.append(panel)
                kernel.height *= 2
        return activations, kernel

    def export(self, outdir: str | os.PathLike, figures: bool = True) -> list[str]:
        """results.csv and (with `figures`) PNG figures drawn with matplotlib, for download."""
        outdir = Path(outdir)
        rows = self.table()
        files = [rows_to_csv(rows, outdir / "results.csv")] if rows else []
        if not figures:
            return [str(f) for f in files]
        specs = {"psnr.png": self.curves_figure()}
        if self.kernels():
            specs["ntk.png"] = plots.ntk_figure(self.kernels())
        maps = {v.label: v.error_map for v in self.views if v.error_map is not None}
        if maps:
            specs["errors.png"] = plots.error_figure(maps)
        histories = {v.label: v.bands() for v in self.views if v.band_columns}
        if histories:
            specs["bands.png"] = plots.band_error_figure(histories)
        for name, spec in specs.items():
            plots.save_png(spec, outdir / name)
            files.append(outdir / name)
        return [str(f) for f in files]


def upscale(image: np.ndarray, minimum: int = 256) -> np.ndarray:
    """uint8 image enlarged by an integer factor (nearest neighbour) so its short side is ≥ minimum."""
    factor = max(1, math.ceil(minimum / max(1, min(image.shape[:2]))))
    big = np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)
    return (np.clip(big, 0, 1) * 255).round().astype(np.uint8)


def to_audio(signal: Signal, values: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """(sample rate, int16) for an audio player, in the signal's original loudness."""
    wave = np.clip(signal.to_original(values), -1.0, 1.0)
    return signal.sample_rate or 16000, (wave * 32767).astype(np.int16)


def rows_to_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    import csv

    path = Path(path)
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["method"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def device_label() -> str:
    device = pick_device("auto")
    if device.type == "cuda":
        import torch

        return f"CUDA ({torch.cuda.get_device_name()})"
    return "CPU"


# ----------------------------------------------------------------------------------------------
# Sessions: which comparison a browser has running or waiting (the app's Stop finds it here)
# ----------------------------------------------------------------------------------------------
RUNNING_STOPPED = "Stopping at the next step…"
NOTHING_RUNNING = "Nothing is training."


class Sessions:
    """Per-session state of the Train/Stop buttons, shared by the app's tabs.

    A Train click registers a *pending* ticket before the queue decides when the training
    starts; Stop on a pending ticket cancels it (the queued job then returns at once, without
    training); Stop on a running comparison asks it to end at the next step."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, object] = {}
        self._pending: dict[str, dict] = {}

    def queue(self, session: str) -> dict:
        ticket = {"cancelled": False}
        with self._lock:
            self._pending[session] = ticket
        return ticket

    def discard(self, session: str) -> None:
        """Drop the session's queued ticket (its Train click ended before training, e.g. bad input)."""
        with self._lock:
            self._pending.pop(session, None)

    def start(self, session: str, run) -> bool:
        """Mark `run` as the session's running one; False when Stop cancelled it while queued."""
        with self._lock:
            ticket = self._pending.pop(session, None)
            if ticket is not None and ticket["cancelled"]:
                return False
            previous = self._running.get(session)
            if previous is not None:
                previous.stop()
            self._running[session] = run
        return True

    def finish(self, session: str, run) -> None:
        with self._lock:
            if self._running.get(session) is run:
                del self._running[session]

    def running(self, session: str):
        with self._lock:
            return self._running.get(session)

    def stop(self, session: str) -> str:
        with self._lock:
            run = self._running.get(session)
            ticket = self._pending.get(session)
            if ticket is not None:
                ticket["cancelled"] = True
        if run is not None:
            run.stop()
            return RUNNING_STOPPED
        if ticket is not None:
            return "**Cancelled**: your run was waiting in the queue and will not start."
        return NOTHING_RUNNING


__all__ = ["AppLimits", "CUSTOM", "DEFAULT_PRESET", "Frame", "LiveComparison", "MethodView", "NOTHING_RUNNING",
           "OUTCOMES", "PRESETS", "Preset", "SIZE_FIELDS", "Sessions", "Update", "check_limits", "device_label",
           "load_ui_signal", "matching_preset", "parse_link", "parse_share_query", "preset_query", "rows_to_csv",
           "share_query", "share_tune", "signal_kind", "sizes_for_signal", "to_audio", "train_stream", "upscale",
           "user_message", "with_app_cadence"]
