"""The live lab behind the app: limits, presets, share links, uploads, and a throttled stream
of what the UI shows while one or several methods train on the same signal.

Gradio-free, so the app's callbacks are tested as plain functions (tests/test_live.py) and the
app's throughput is benchmarked without a browser (bench/bench_app.py).
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, urlencode

import numpy as np

from . import plots
from .config import RunConfig
from .errors import ConfigError, SignalError
from .methods import get_method
from .metrics import PSNR_CONVENTION
from .signals import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, Signal, load_audio, load_image, signal_for
from .train import Run, pick_device


@dataclass(frozen=True)
class AppLimits:
    """Caps so one visitor cannot starve the rest. Override with SPECTRAL_LAB_<NAME> env vars."""

    max_steps: int = 5000  # training steps per method
    max_points: int = 300_000  # samples or pixels of a signal
    max_methods: int = 6  # methods per comparison
    max_width: int = 512
    max_depth: int = 8
    max_ntk_points: int = 1024
    max_upload_mb: float = 20.0

    @classmethod
    def from_env(cls) -> "AppLimits":
        values = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = os.environ.get(f"SPECTRAL_LAB_{name.upper()}")
            if raw:
                values[name] = type(f.default)(float(raw))
        return cls(**values)


def check_limits(config: RunConfig, methods: list[str], limits: AppLimits, signal: Signal | None = None) -> None:
    """Raise ConfigError with a message a visitor can act on."""
    if not methods:
        raise ConfigError("pick at least one method")
    for method in methods:
        get_method(method)  # unknown architectures or modifiers -> ConfigError
    if len(methods) > limits.max_methods:
        raise ConfigError(f"at most {limits.max_methods} methods per comparison (got {len(methods)})")
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
def share_query(config: RunConfig, methods: list[str]) -> str:
    """Non-default config fields plus the list of methods (`methods=a,b`)."""
    query = config.to_query()
    extra = urlencode({"methods": ",".join(methods)})
    return f"{query}&{extra}" if query else extra


def parse_share_query(query: str | dict) -> tuple[RunConfig, list[str]]:
    pairs = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)) if isinstance(query, str) else dict(query)
    methods = [m for m in pairs.pop("methods", "").split(",") if m]
    config = RunConfig.from_query(urlencode(pairs))
    return config, methods or [config.method]


@dataclass(frozen=True)
class Preset:
    title: str
    explanation: str
    query: str


PRESETS: dict[str, Preset] = {p.title: p for p in (
    Preset("Spectral bottleneck (1D): SIREN vs SIREN²",
           "A target made only of frequencies near Nyquist (WINNER Eq. 5). SIREN stays at the zero-output "
           "PSNR; SIREN²'s noisy init gives it the frequency support to fit it.",
           "signal=winner_high&length=4096&width=64&steps=300&methods=siren,siren2"),
    Preset("Audio: chip melody, SIREN vs SIREN²",
           "A bright square-wave melody. Listen to both fits and look at the spectrogram error: "
           "SIREN misses the high band that SIREN² recovers.",
           "signal=chip_melody&length=8000&steps=300&methods=siren,siren2"),
    Preset("Image: ReLU vs SIREN vs SPDER",
           "The camera man at 64². ReLU is blurry (spectral bias), SIREN is sharp, SPDER's damping "
           "makes it near-lossless within the same steps.",
           "signal=camera&image_size=64&steps=200&methods=relu,siren,spder"),
    Preset("Encodings: plain vs PE vs RFF",
           "The same ReLU MLP with no encoding, NeRF positional encoding and random Fourier features. "
           "Watch the NTK eigenvalues decay more slowly with each encoding.",
           "signal=camera&image_size=64&steps=300&methods=relu,relu_pe,relu_rff"),
    Preset("Broadband S6: SIREN, FINER, SIREN²",
           "A broadband signal with its low frequencies removed (WINNER Fig. 1a, S6).",
           "signal=broadband_s6&length=4096&width=64&steps=300&methods=siren,finer,siren2"),
    Preset("Training modifiers: PE with IGA, FR, BN",
           "The same ReLU+PE network trained plainly and with each of the IGA paper's three modifiers "
           "(inductive gradient adjustment, Fourier reparameterisation, batch norm).",
           "signal=camera&image_size=48&steps=300&lr=0.002&lr_schedule=exp"
           "&methods=relu_pe,relu_pe%2Biga,relu_pe%2Bfr,relu_pe%2Bbn"),
    Preset("Teach ω₀: one SIREN knob",
           "Move first-layer ω₀ (try 30, 300, 3000) and watch S(k) reach higher frequencies.",
           "signal=sines&length=2048&signal_options=freqs%3D5%2C80%2C300&first_omega0=300&steps=300&methods=siren"),
)}
DEFAULT_PRESET = "Spectral bottleneck (1D): SIREN vs SIREN²"


def with_app_cadence(config: RunConfig, device_type: str) -> RunConfig:
    """Diagnostic cadences the app uses: ~6 NTKs, 3 activation snapshots, 20 error maps per run.

    A 10% diagnostics budget: with the UI thread's share this keeps the app's training near 75%
    of headless on 2 CPU cores (bench/bench_app.py).
    """
    steps = config.steps
    return config.replace(
        diagnostics_budget=min(config.diagnostics_budget, 0.10) if config.diagnostics_budget > 0 else 0.0,
        log_every=max(1, min(config.log_every, steps // 50 or 1)), preview_every=max(1, steps // 10),
        ntk_every=config.ntk_every or max(1, steps // 6), activations_every=config.activations_every or max(1, steps // 3),
        errors_every=config.errors_every or max(1, steps // 20),
        ntk_points=min(config.ntk_points, 1024) if device_type == "cuda" else config.ntk_points)


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
            signal = load_image(path, size=config.image_size, gray=config.gray)
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
# The live stream
# ----------------------------------------------------------------------------------------------
@dataclass
class Frame:
    """What changed in the UI at one moment. None = leave that panel as it is."""

    status: str
    curves: plots.FigureSpec | None = None
    ntk: plots.FigureSpec | None = None
    kernel: plots.FigureSpec | None = None
    activations: plots.FigureSpec | None = None
    errors: plots.FigureSpec | None = None
    bands: plots.FigureSpec | None = None
    reconstruction: plots.FigureSpec | None = None
    image: np.ndarray | None = None  # current reconstruction of an image, float [0, 1]
    audio: tuple[int, np.ndarray] | None = None  # (sample rate, int16 waveform)
    table: list[dict] | None = None
    step: int = 0
    done: bool = False


_FINISHED = object()  # end-of-stream marker from the training thread


@dataclass
class LiveComparison:
    """Train `methods` one after the other on `signal` with the same budget, streaming Frames.

    Light panels (status, curves) refresh at most `curve_hz` times a second; heavy ones (NTK,
    activations, error maps, reconstruction) at most `heavy_hz`, and only when new data exists.
    """

    config: RunConfig
    methods: list[str]
    signal: Signal
    # Measured on 2 CPU cores (bench/bench_app.py): 8 Hz / 1.5 Hz cost ~30% of training
    # throughput, 4 Hz / 1 Hz ~25% including the diagnostics themselves.
    curve_hz: float = 4.0
    heavy_hz: float = 1.0
    rows: list[dict] = field(default_factory=list)
    curves: dict = field(default_factory=dict)
    ntk_results: dict = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    _stop: bool = False
    _run: Run | None = None

    def stop(self) -> None:
        self._stop = True
        if self._run is not None:
            self._run.stop()

    def frames(self) -> Iterator[Frame]:
        """Train in a worker thread; yield Frames from this one at the UI's pace.

        Rendering and sending figures never blocks a training step (torch releases the GIL
        while it computes). Closing this generator (Stop, a disconnected browser) stops training.
        """
        updates: queue.Queue = queue.Queue()
        worker = threading.Thread(target=self._train_all, args=(updates,), daemon=True, name="spectral-lab-run")
        worker.start()
        last_light = last_heavy = 0.0
        pending: dict = {}
        latest = None  # (index, method, run, snapshot) last seen
        try:
            finished = False
            while not finished:
                try:
                    items = [updates.get(timeout=1.0 / self.curve_hz)]
                except queue.Empty:
                    items = []
                while not updates.empty():
                    items.append(updates.get_nowait())
                done_runs = []
                for item in items:
                    if item is _FINISHED:
                        finished = True
                        continue
                    if isinstance(item, BaseException):
                        raise item
                    index, method, run, snapshot = item
                    if latest is not None and latest[2] is not run:
                        pending = {}  # a new method started: drop the previous one's panels
                    latest = item
                    pending.update(snapshot.diagnostics)
                    if snapshot.prediction is not None:
                        pending["prediction"] = snapshot.prediction
                    if "ntk" in snapshot.diagnostics:
                        key = f"{method} init" if snapshot.step == 0 else f"{method} now"
                        self.ntk_results[key] = snapshot.diagnostics["ntk"]
                    if snapshot.done:
                        done_runs.append(item)
                if latest is None:
                    continue
                index, method, run, snapshot = latest
                self.curves[method] = run.curve()
                now = time.perf_counter()
                heavy_due = bool(pending) and (now - last_heavy >= 1.0 / self.heavy_hz or bool(done_runs))
                if now - last_light < 1.0 / self.curve_hz and not heavy_due and not done_runs:
                    continue
                frame = Frame(status=self._status(index, method, snapshot), step=snapshot.step,
                              curves=plots.psnr_figure(self.curves, "PSNR and loss, one line per method"))
                last_light = now
                if heavy_due:
                    self._fill_heavy(frame, run, pending)
                    pending, last_heavy = {}, now
                for _, _, done_run, done_snapshot in done_runs:
                    self.curves[done_run.config.method] = done_run.curve()
                    self.rows.append({**done_run.summary_row(), "steps/s": round(done_snapshot.steps_per_s, 1)})
                    frame.table = list(self.rows)
                yield frame
        finally:
            self.stop()
            worker.join(timeout=30)
        yield Frame(status=self._final_status(), table=list(self.rows), done=True,
                    curves=plots.psnr_figure(self.curves, "PSNR and loss, one line per method"))

    def _train_all(self, updates: queue.Queue) -> None:
        try:
            for index, method in enumerate(self.methods):
                if self._stop:
                    break
                run = Run(self.config.replace(method=method), self.signal)
                self._run = run
                self.runs.append(run)
                if self._stop:  # Stop pressed while the model was being built
                    run.stop()
                for snapshot in run:
                    updates.put((index, method, run, snapshot))
        except BaseException as exc:  # surfaced in the UI thread
            updates.put(exc)
        finally:
            self._run = None
            updates.put(_FINISHED)

    def _status(self, index: int, method: str, snapshot) -> str:
        if snapshot.done:
            return f"**{method}** finished: PSNR {snapshot.metrics['psnr']:.2f} dB in {snapshot.elapsed:.1f} s ({snapshot.message})"
        eta = (snapshot.total_steps - snapshot.step) / snapshot.steps_per_s if snapshot.steps_per_s else 0
        return (f"**{method}** ({index + 1}/{len(self.methods)}) · step {snapshot.step}/{snapshot.total_steps} · "
                f"{snapshot.steps_per_s:.1f} steps/s · ETA {eta:.0f} s · PSNR {snapshot.psnr:.2f} dB "
                f"(best {snapshot.best_psnr:.2f})")

    def _final_status(self) -> str:
        if not self.rows:
            return "stopped before any method finished"
        best = max(self.rows, key=lambda r: r["psnr_db"])
        stopped = " (stopped)" if self._stop else ""
        return f"done{stopped}: best **{best['method']}** at {best['psnr_db']:.2f} dB. {PSNR_CONVENTION}."

    def _fill_heavy(self, frame: Frame, run: Run, pending: dict) -> None:
        if "ntk" in pending:
            frame.ntk = plots.ntk_figure(self.ntk_results, "Empirical NTK (sum-of-outputs kernel for C > 1)")
            frame.kernel = plots.kernel_figure(pending["ntk"])
        if "activations" in pending:
            frame.activations = plots.activations_figure(pending["activations"], f"Activations of {run.config.method}")
        if "error_map" in pending:
            frame.errors = plots.error_figure(pending["error_map"], f"Where {run.config.method}'s error is")
            frame.bands = plots.band_error_figure(*run.band_error_history())
        if "prediction" in pending:
            prediction = pending["prediction"]
            if self.signal.kind == "image":
                frame.image = self.signal.to_original(prediction)
            else:
                frame.reconstruction = plots.reconstruction_figure(self.signal, prediction,
                                                                   f"{run.config.method}: fit vs target")
                if self.signal.kind == "audio":
                    frame.audio = to_audio(self.signal, prediction)


def to_audio(signal: Signal, values: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """(sample rate, int16) for an audio player, in the signal's original loudness."""
    wave = np.clip(signal.to_original(values), -1.0, 1.0)
    return signal.sample_rate or 16000, (wave * 32767).astype(np.int16)


def rows_to_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    import csv

    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["method"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def device_label() -> str:
    device = pick_device("auto")
    if device.type == "cuda":
        import torch

        return f"CUDA ({torch.cuda.get_device_name()})"
    return "CPU"


def stop_session(sessions: dict, lock, key: str) -> str:
    """Stop the run a session has going (the app's Stop buttons); the status line to show."""
    with lock:
        run = sessions.get(key)
    if run is not None:
        run.stop()
        return "Stopping at the next step…"
    return "Nothing is training."
