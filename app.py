"""Spectral Lab in the browser: pick a signal and methods, press Train, watch spectral bias live.

Wiring and words only; every number comes from spectral_lab (see spectral_lab/lab/).
Run: python app.py  (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; never needs the internet)
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import matplotlib

matplotlib.use("Agg")

import app_lessons
import app_nern
from spectral_lab import RunConfig, methods as method_registry, plots
from spectral_lab.config import coerce
from spectral_lab.diagnostics import warm_up
from spectral_lab.errors import SignalError, SpectralLabError
from spectral_lab.lab import (CUSTOM, DEFAULT_PRESET, NOTHING_RUNNING, PRESETS, RUNNING_STOPPED, SIZE_FIELDS,
                              AppLimits, LiveComparison, Sessions, check_limits, device_label, has_settings,
                              load_ui_signal, matching_preset, parse_link, parse_share_query, preset_query, session_key,
                              share_query, share_tune, sizes_for_signal, to_audio, user_message, with_app_cadence)
from spectral_lab.lab.lessons import expand_link
from spectral_lab.lab.replay import checkpoint_steps, gallery_gif
from spectral_lab.method_zoo import FAMILIES, families_markdown
from spectral_lab.modifiers import MODIFIERS, expand_methods, split_method
from spectral_lab.signals import SKIMAGE_IMAGES, SYNTHETIC, builtin_audio, spectral_centroid
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.train import pick_device

DEVICE = pick_device("auto").type
LIMITS = AppLimits.from_env(DEVICE)
CONCURRENCY = int(os.environ.get("SPECTRAL_LAB_CONCURRENCY", "1" if DEVICE == "cuda" else "2"))
ui = SimpleNamespace()  # the components, for the callbacks' dict updates (set by build_demo)
UI_NAMES = ("signal_info", "recon_note", "target_audio", "gallery", "recon_plot", "upload_state", "upload_message",
            "status", "share", "preset_note", "preset", "details_choice", "curves", "results", "downloads",
            "audio_slots", "ntk", "errors", "bands", "activations", "kernel", "controls", "tune", "upload", "methods",
            "method_info", "steps", "accordions", "families", "replay",
            "replay_row", "curves_x")
SESSIONS = Sessions()  # session hash -> its queued / running comparison (Stop finds it here)
FINISHED: dict[str, LiveComparison] = {}  # session hash -> its last comparison (the details selector reads it)
SIGNAL_CHOICES = sorted(SYNTHETIC) + sorted(builtin_audio()) + list(SKIMAGE_IMAGES)
# The registry's methods in family order (encodings, periodic, wavelets, learned, filters, grids), by
# short name: a chip with its family ("siren · periodic") takes a line of its own, and six of them
# push Train below a 720-px screen. Families and one-liners: the "All methods, by family" list; the
# chosen ones are explained below the picker.
METHOD_CHOICES = [name for members in FAMILIES.values() for name in members]
AUDIO_SLOTS = LIMITS.max_methods

# The RunConfig fields the controls edit, in the order of the `controls` list below.
CONTROL_FIELDS = ["signal", "length", "image_size", "gray", "signal_options", "width", "depth", "omega0",
                  "first_omega0", "s0", "s1", "damping", "bias_scale", "pe_levels", "rff_sigma", "wire_omega",
                  "wire_sigma", "gauss_scale", "iga_group", "iga_end", "iga_every", "fr_basis", "fr_phases", "fr_alpha",
                  "steps", "lr",
                  "lr_schedule", "lr_gamma", "lr_every", "optimizer", "seed", "device", "fast", "ntk_points"]
# Slider ranges (minimum, step); the maxima are the server's limits. A link may carry a value the
# RunConfig accepts but a slider cannot show (ntk_points=32): on_load raises it to the minimum.
SLIDERS = {"steps": (10, 10), "width": (8, 8), "depth": (1, 1), "ntk_points": (64, 64)}
SLIDER_MAXIMA = {"steps": LIMITS.max_steps, "width": LIMITS.max_width, "depth": LIMITS.max_depth,
                 "ntk_points": LIMITS.max_ntk_points}

EXPLAIN = {
    "curves": "**PSNR** = 10·log10(R²/MSE), R = 2 (targets in [-1, 1]); repositories using R = 1 read 6.02 dB "
              "lower. A flat line at the start value means the network outputs ~0: the *spectral bottleneck*.",
    "ntk": "**Empirical NTK** on a regular set of points, float64. Top: eigenvalue decay (slow decay = many "
           "directions learn fast) and the share of the target on the i fastest eigenvectors (a curve that rises "
           "early = a target the kernel learns fast). Below, per method: **S(k)**, where the kernel puts its energy in frequency (WINNER Eq. 6), with "
           "the target's spectrum dashed: where S(k) has no energy but the target does, training cannot go. "
           "Solid = trained network, dashed = at initialisation.",
    "errors": "Images: FFT log-magnitude error per method (bright = large), and the pixel error. Audio: the "
              "target's spectrogram and each fit's dB difference: a band that stays bright is one the network has "
              "not learned; grey = the target is more than 60 dB below its peak there (nothing to learn).",
    "bands": "Band-aggregated relative error after IGA Eq. 7 over training, per method: dark = not yet learned, "
             "bright = learned; grey = no target energy there (under 0.1% of the busiest band's). Spectral bias "
             "shows as low bands brightening first.",
    "details": "One method at a time: per-layer activation histograms with their theory curves (arcsine for SIREN "
               "outputs; WINNER Thm 3.1 plus the bias term for layer 2), each layer's power spectrum, and the "
               "normalised kernel.",
}
GLOSSARY = """
- **PSNR** (dB): 10·log10(R²/MSE) with R = 2, the range of targets scaled to [-1, 1]; +6 dB = half the error.
  The *zero-output PSNR* is what a network that outputs 0 everywhere scores: a run stuck there learned nothing.
- **SSIM** (≤ 1): structural similarity of images (1 = identical).
- **ρ_AG** (≤ 1): cosine similarity of the fit's and the target's amplitude spectra (SPDER Eq. 5); 1 = the same
  energy at every frequency.
- **ψ**: the signal's spectral centroid, its energy-weighted mean frequency over Nyquist (WINNER Eq. 10); high ψ =
  a high-frequency signal.
- **eNTK**, K: the empirical neural tangent kernel, how a step on one point moves the output at another.
  **λᵢ** its eigenvalues: the error along eigenvector i shrinks like (1 − ηλᵢ)ᵗ, so large λ = learned fast.
- **S(k)**: where the kernel puts its energy in frequency (WINNER Eq. 6); nothing there = nothing learned there.
- **Δ** per band: the error in a frequency band over the target's energy there (1 = as bad as outputting 0).
- **ω₀**: the frequency scale of a sine layer (SIREN); **s₀, s₁**: SIREN²'s noise scales (WINNER Eq. 11).
- **M**: the points the eNTK is measured on. **cycles per signal**: oscillations across the whole signal (or
  image side); audio frequencies are in Hz.
"""
RECONSTRUCTION_NOTES = {  # by signal kind, shown under "Reconstructions"
    "image": "The target and every method's current fit, side by side, enlarged with nearest neighbour (you "
             "see pixels, not smoothing).",
    "audio": "The target and every method's current fit: a window of the waveform per method, and a player for "
             "each fit below (listen for the missing highs).",
    "1d": "The target and every method's current fit, one panel per method.",
}
CSS = """
#controls {gap: 6px;}
#controls .form {gap: 4px;}
#status {min-height: 2.5em;}
#title h3 {margin: 0;}
#recon-gallery img, #lesson-gallery img {image-rendering: pixelated;}
#upload-message {min-height: 1em;}
.js-plotly-plot .plotly .gtitle {font-size: 15px !important;}
"""


def _values_from(config: RunConfig, methods: list[str]) -> list:
    return [getattr(config, name) for name in CONTROL_FIELDS] + [methods]


def _config_from(values: list, check: bool = True) -> tuple[RunConfig, list[str]]:
    """Control values -> (RunConfig, methods). Blank controls (and damping 'auto') keep defaults."""
    *field_values, methods = values
    given = {name: coerce(name, str(value)) for name, value in zip(CONTROL_FIELDS, field_values)
             if value not in ("", None, "auto") or name in ("device", "fast")}
    config = RunConfig.from_dict(given)
    methods = list(methods or [])
    if check:
        check_limits(config, methods, LIMITS)
    return config, methods


def _preset_values(name: str) -> list:
    config, methods = parse_share_query(preset_query(name, DEVICE))
    return _values_from(config, methods)


def _slider(field: str, **kwargs) -> gr.Slider:
    minimum, step = SLIDERS[field]
    return gr.Slider(minimum, SLIDER_MAXIMA[field], step=step, **kwargs)


# ----------------------------------------------------------------------------------------------
# Callbacks
# ----------------------------------------------------------------------------------------------
def _link_query(request: gr.Request | None) -> tuple[dict, str]:
    """The link's query (a lesson's follow-up expanded, lessons.expand_link) and the note naming
    the follow-up; a link for the CNN tab (`tab=nern`) carries no settings of this tab."""
    query, note = expand_link(dict(request.query_params) if request is not None else {})
    return ({}, "") if query.get("tab") == "nern" else (query, note)


def on_load(request: gr.Request):
    """Restore the state from the link's query string (preset name if it equals one), or the default.
    A bad value is dropped alone, named in the note; the rest of the link is applied."""
    query, followup_note = _link_query(request)
    if not has_settings(query):  # the bare address or a lesson's link: the lab keeps its default preset
        return [*_preset_values(DEFAULT_PRESET), PRESETS[DEFAULT_PRESET].explanation, DEFAULT_PRESET, False]
    config, methods, dropped = parse_link(query, LIMITS)
    config, raised = _within_sliders(config)
    name = matching_preset(config, methods, DEVICE)
    explanation = followup_note or (PRESETS[name].explanation if name != CUSTOM else "Settings restored from the link.")
    if dropped:
        explanation += " Not applied from the link: " + "; ".join(dropped) + " (the rest is)."
    if raised:
        explanation += " Raised to the sliders' minimum: " + ", ".join(raised) + "."
    return [*_values_from(config, methods), explanation, name, share_tune(query)]


def on_autorun(request: gr.Request, *inputs):
    """A follow-up link (or `run=1`) trains at once, as if Train were pressed after the page loaded."""
    query, _ = _link_query(request)
    if query.get("run") != "1" or not has_settings(query):
        yield {ui.status: gr.skip()}  # (an empty dict reads as one missing value)
        return
    yield {ui.status: on_queue(request)}
    yield from on_train(request, *inputs)


# `?hide=` (a teacher's link, as TF Playground's *_hide): what each name hides
HIDEABLE = {"presets": ("preset", "preset_note"), "upload": ("upload",), "methods": ("methods", "method_info"),
            "steps": ("steps",), "controls": ("accordions",), "share": ("share",), "families": ("families",)}
# (not tabs: Gradio 6 leaves a tab's button on screen when an event hides it)


def on_hide(request: gr.Request):
    names = {part.strip() for part in dict(request.query_params).get("hide", "").split(",")} if request else set()
    updates = {ui.preset: gr.skip()}  # (an empty dict reads as one missing value)
    for name in names & set(HIDEABLE):
        for attribute in HIDEABLE[name]:
            for component in (getattr(ui, attribute) if attribute == "accordions" else [getattr(ui, attribute)]):
                updates[component] = gr.update(visible=False)
    return updates


def on_blank_curves():
    """Empty curve axes at page load. Besides showing where the curves will be, this loads the
    plotting library with the page: drawn first after Train, it kept the page busy 1.1 s in one
    task (bench/bench_browser.py, image preset)."""
    return plots.render(plots.psnr_figure({}, "PSNR and loss, one line per method: press Train"))


def _within_sliders(config: RunConfig) -> tuple[RunConfig, list[str]]:
    """The config with slider fields below their slider's minimum raised to it, and what was raised."""
    raised = []
    for field, (minimum, _) in SLIDERS.items():
        if getattr(config, field) < minimum:
            raised.append(f"{field} {getattr(config, field)} → {minimum}")
            config = config.replace(**{field: minimum})
    return config, raised


def on_methods(methods: list[str]):
    """Each chosen method's one-line explanation, paper and parameterisation."""
    lines = []
    for name in methods or []:
        try:
            spec = method_registry.get_method(name)
            _, mods = split_method(name)
        except SpectralLabError as exc:
            lines.append(f"- ⚠️ {exc}")
            continue
        extra = "".join(f" **+{m}**: {MODIFIERS[m].description} *{MODIFIERS[m].citation}*." for m in mods)
        lines.append(f"- **{name}**: {spec.description} *{spec.citation}*. Parameterisation: "
                     f"{spec.parameterisation}.{extra}")
    return "\n".join(lines)


def _upload_path(upload):
    """The uploaded file's path, None for a built-in signal; a failed upload (its message kept in
    the state) refuses here, so Train never silently trains the dropdown's signal instead."""
    if isinstance(upload, dict):
        raise SignalError(f"the upload was not usable ({upload['error']}); upload another file or pick a "
                          "built-in signal")
    return upload


def on_signal(*values):
    """A built-in signal chosen: the upload is dropped, and a preset's sizes follow the signal's kind
    (the user's own sizes stay); the note beside Upload says what changed."""
    try:
        config, _ = _config_from(values, check=False)
    except SpectralLabError:
        return [None, ""] + [gr.skip()] * len(SIZE_FIELDS)
    resized, what = sizes_for_signal(config, DEVICE)
    return [None, f"Set for this signal: {what}." if what else ""] + [getattr(resized, f) for f in SIZE_FIELDS]


def on_preset(name: str):
    """A preset's settings; it also drops an upload (the preset names its own signal)."""
    if name == CUSTOM or name not in PRESETS:
        return [gr.skip()] * (len(CONTROL_FIELDS) + 5)
    return [*_preset_values(name), PRESETS[name].explanation, False, None, ""]


def on_edit(request: gr.Request, upload, chosen_modifiers, modifier_mode, tune, *values):
    """After any edit: the preset label says Custom unless the settings still equal a preset, and
    the share link follows the settings (saying when an upload cannot travel in it)."""
    try:
        *field_values, methods = values
        methods = expand_methods(list(methods or []), list(chosen_modifiers or []), modifier_mode)
        config, methods = _config_from([*field_values, methods], check=False)
    except SpectralLabError as exc:
        return {ui.preset: CUSTOM, ui.share: gr.update(value="", info=f"No link: {exc}")}
    name = matching_preset(config, methods, DEVICE)
    note = PRESETS[name].explanation if name != CUSTOM else "Custom settings. Pick a preset to start from one again."
    return {ui.preset: name, ui.preset_note: note, ui.share: _live_link(request, upload, config, methods, tune)}


def on_link(request: gr.Request, upload, chosen_modifiers, modifier_mode, tune, *values):
    """The share link of the settings as they are (after a link or a preset loads)."""
    *field_values, methods = values
    methods = expand_methods(list(methods or []), list(chosen_modifiers or []), modifier_mode)
    config, methods = _config_from([*field_values, methods], check=False)
    return _live_link(request, upload, config, methods, tune)


def _live_link(request, upload, config: RunConfig, methods: list[str], tune) -> dict:
    info = (f"Your uploaded file cannot travel in a link: it opens with {config.signal}." if upload else
            "Opens this setup as it is now.")
    return gr.update(value=_share_link(request, config, methods, bool(tune)), info=info)


def on_preview(upload, *values):
    """Show the chosen signal before training: the target image / waveform and audio player, ψ."""
    try:
        config, _ = _config_from(values, check=False)  # the preview does not depend on the methods
        signal = load_ui_signal(config, _upload_path(upload), LIMITS)
    except SpectralLabError as exc:
        return {ui.signal_info: f"⚠️ {exc}"}
    info = (f"**{signal.summary()}** · spectral centroid ψ = {spectral_centroid(signal):.3f} "
            f"(WINNER Eq. 10; high ψ = high-frequency dominant)")
    updates = {ui.signal_info: info, ui.recon_note: RECONSTRUCTION_NOTES.get(signal.kind, ""),
               ui.target_audio: gr.update(visible=False)}
    if signal.kind == "image":  # the target alone as a figure: a gallery stretches and crops a single image
        updates[ui.gallery] = gr.update(visible=False)
        updates[ui.recon_plot] = gr.update(value=plots.render(plots.reconstruction_figure(signal, None, "Target")),
                                           visible=True)
    else:
        updates[ui.gallery] = gr.update(visible=False)
        updates[ui.recon_plot] = gr.update(value=plots.render(plots.reconstruction_figure(signal, None, "Target")),
                                        visible=True)
        if signal.kind == "audio":
            updates[ui.target_audio] = gr.update(value=to_audio(signal), visible=True)
    return updates


def on_upload(file, *values):
    """Check an upload at once and say what is wrong next to the upload button. A length longer
    than the clip (a preset's crop) is cleared rather than refused."""
    path = getattr(file, "name", file)
    length_control = ui.controls[CONTROL_FIELDS.index("length")]
    updates = {}
    try:
        config, _ = _config_from(values, check=False)
        try:
            signal = load_ui_signal(config, path, LIMITS)
        except SpectralLabError as exc:
            if config.length is None or "asks for more" not in str(exc):
                raise
            signal = load_ui_signal(config.replace(length=None), path, LIMITS)
            updates[length_control] = None
    except SpectralLabError as exc:
        return {ui.upload_state: {"error": str(exc)}, ui.upload_message: f"⚠️ {exc}"}
    done = list(signal.changes) + (["the length setting was longer than the clip: cleared"] if updates else [])
    what = f" — {'; '.join(done)}" if done else ""
    return {**updates, ui.upload_state: path,
            ui.upload_message: f"Using your upload: **{signal.summary()}**{what}. Pick a built-in signal to go back."}


def on_queue(request: gr.Request):
    """Before the queue: a ticket Stop can cancel while the run still waits for a free slot."""
    SESSIONS.queue(session_key(request))
    return "Waiting for a free training slot…"


def on_train(request: gr.Request, upload, chosen_modifiers, modifier_mode, tune, *values):
    session = session_key(request)
    try:
        *field_values, methods = values
        methods = expand_methods(list(methods or []), list(chosen_modifiers or []), modifier_mode)
        config, methods = _config_from([*field_values, methods])
        signal = load_ui_signal(config, _upload_path(upload), LIMITS)
        check_limits(config, methods, LIMITS, signal)
        device = pick_device(config.device)
    except SpectralLabError as exc:
        SESSIONS.discard(session)
        yield {ui.status: f"⚠️ {exc}"}
        return
    link = _share_link(request, config, methods, bool(tune))  # the user's settings, before the app's cadences
    live = LiveComparison(with_app_cadence(config, device.type), methods, signal, stream=gpu_stream(),
                          tune=bool(tune))
    if not SESSIONS.start(session, live):
        yield {ui.status: "**Cancelled** before it started: nothing was trained."}
        return
    FINISHED[session] = live
    outdir = Path(tempfile.mkdtemp(prefix="spectral-lab-"))
    yield {**_clear_outputs(), ui.status: "Starting…", ui.share: link, ui.preset: matching_preset(config, methods, DEVICE),
           ui.details_choice: gr.update(choices=methods, value=methods[0], visible=len(methods) > 1),
           ui.gallery: gr.update(visible=signal.kind == "image", columns=GALLERY_COLUMNS,
                                 height=_gallery_height(len(methods) + 1)),
           ui.recon_plot: gr.update(visible=signal.kind != "image"),
           ui.target_audio: gr.update(visible=signal.kind == "audio"),
           ui.replay_row: gr.update(visible=True), ui.replay: gr.update(value=0, maximum=1), ui.curves_x: "step"}
    try:
        for frame in live.frames():
            yield _frame_updates(frame, live, outdir)
    except SpectralLabError as exc:
        yield {ui.status: f"**Failed** — {exc}"}
    except Exception as exc:  # a bug of ours: one line here, the traceback in the server log
        yield {ui.status: f"**Failed** — {user_message(exc)}. Please report it."}
        raise
    finally:
        live.stop()
        SESSIONS.finish(session, live)


def _frame_updates(frame, live: LiveComparison, outdir: Path | None = None) -> dict:
    updates = {ui.status: frame.status} if frame.status else {}
    if outdir is not None:  # a training frame (not a replay): the slider grows with the run and follows it
        following = live.replay_step is None
        updates[ui.replay] = gr.update(maximum=max(1, live.max_step()),
                                       **({"value": live.max_step()} if following else {}))
    if frame.curves is not None:
        updates[ui.curves] = plots.render(frame.curves)
    if frame.table is not None:
        updates[ui.results] = _table(frame.table)
    if frame.gallery is not None:
        updates[ui.gallery] = gr.update(value=frame.gallery, visible=True)
    if frame.reconstruction is not None:
        updates[ui.recon_plot] = gr.update(value=plots.render(frame.reconstruction), visible=True)
    for slot, (audio, label) in (frame.audio or {}).items():
        if slot < AUDIO_SLOTS:
            updates[ui.audio_slots[slot]] = gr.update(value=audio, label=label, visible=True)
    for spec, component in ((frame.ntk, ui.ntk), (frame.errors, ui.errors), (frame.bands, ui.bands)):
        if spec is not None:
            updates[component] = gr.update(value=plots.render(spec), visible=True)
    if frame.details is not None:
        updates.update(_details_updates(frame.details))
    if frame.done and outdir is not None:  # the table at once; the PNG figures (seconds of matplotlib) when asked for
        updates[ui.downloads] = live.export(outdir, figures=False)
    return updates


def _details_updates(details) -> dict:
    activation_spec, kernel_spec = details
    return {ui.activations: gr.update(value=plots.render(activation_spec) if activation_spec else None,
                                   visible=activation_spec is not None),
            ui.kernel: gr.update(value=plots.render(kernel_spec) if kernel_spec else None, visible=kernel_spec is not None)}


def _comparison(request) -> LiveComparison | None:
    """The session's running comparison, else its last one."""
    return SESSIONS.running(session_key(request)) or FINISHED.get(session_key(request))


def on_replay(step, request: gr.Request):
    """The slider moved: every panel of every method as it stood at that step. At the right end of
    a running comparison the panels follow training again."""
    live = _comparison(request)
    if live is None or step is None:
        return {ui.status: gr.skip()}
    step = int(step)
    if live is SESSIONS.running(session_key(request)) and step >= live.max_step():
        live.replay_step = None
        return {ui.status: gr.skip()}
    live.replay_step = step
    return _frame_updates(live.frame_at(step), live)


def on_live(request: gr.Request):
    """Back to the latest step (and, during a run, to following it)."""
    live = _comparison(request)
    if live is None:
        return {ui.status: gr.skip()}
    live.replay_step = None
    return {**_frame_updates(live.frame_at(live.max_step()), live), ui.replay: live.max_step()}


def on_play(step, request: gr.Request):
    """Animate the run from the slider's step (from the start when it is at the end)."""
    live = _comparison(request)
    if live is None:
        yield {ui.status: gr.skip()}
        return
    steps = checkpoint_steps(live.views)
    start = int(step or 0) if int(step or 0) < live.max_step() else 0
    steps = [s for s in steps if s >= start][::max(1, len(steps) // 40)] + [live.max_step()]
    for s in steps:
        live.replay_step = s
        yield {**_frame_updates(live.frame_at(s, panels=("reconstruction", "bands", "errors")), live), ui.replay: s}
        time.sleep(0.4)
    if SESSIONS.running(session_key(request)) is live:
        live.replay_step = None  # at the end of a running comparison: follow it again


def on_gif(request: gr.Request):
    """The run as an animated GIF (the gallery, or the fit panels for 1D / audio), for slides."""
    live = _comparison(request)
    if live is None or not checkpoint_steps(live.views):
        return gr.skip()
    return [str(gallery_gif(live, Path(tempfile.mkdtemp(prefix="spectral-lab-")) / "replay.gif"))]


def on_x_axis(choice: str, request: gr.Request):
    live = _comparison(request)
    if live is None:
        return gr.skip()
    live.x_axis = choice
    return plots.render(live.curves_figure(marker=live.replay_step))


def on_details(method: str, request: gr.Request):
    """Show another method's activations and kernel (from the running or last comparison)."""
    live = _comparison(request)
    if live is None or not method or method not in live.methods:
        return {ui.activations: gr.skip(), ui.kernel: gr.skip()}
    live.selected = method
    return _details_updates(live.details(method))


def on_export(request: gr.Request):
    """The last comparison's table and figures (PNG, matplotlib) for download."""
    live = _comparison(request)
    if live is None:
        return gr.skip()
    return live.export(tempfile.mkdtemp(prefix="spectral-lab-"))


def on_stop(request: gr.Request):
    """Stop this session's run. A running comparison says so in its own next frame (writing the
    status here could land after its final frame and hide it); a queued one is cancelled here;
    with nothing running, the last run's summary stays on screen."""
    message = SESSIONS.stop(session_key(request))
    return gr.skip() if message in (RUNNING_STOPPED, NOTHING_RUNNING) else message


def on_reset(request: gr.Request):
    SESSIONS.stop(session_key(request))
    FINISHED.pop(session_key(request), None)
    values = _preset_values(DEFAULT_PRESET)
    return {**_clear_outputs(), **dict(zip(ui.controls, values)), ui.preset_note: PRESETS[DEFAULT_PRESET].explanation,
            ui.preset: DEFAULT_PRESET, ui.tune: False, ui.status: "Reset. Press **Train**.", ui.upload_state: None,
            ui.upload_message: "",
            ui.share: "", ui.details_choice: gr.update(choices=[], value=None, visible=False),
            ui.replay_row: gr.update(visible=False)}


def on_unload(request: gr.Request):
    SESSIONS.stop(session_key(request))
    FINISHED.pop(session_key(request), None)


def _clear_outputs() -> dict:
    hidden = gr.update(value=None, visible=False)
    return {ui.curves: None, ui.results: _table([]), ui.downloads: None, ui.ntk: hidden, ui.errors: hidden, ui.bands: hidden,
            ui.activations: hidden, ui.kernel: hidden, **{slot: hidden for slot in ui.audio_slots}}


def _share_link(request, config: RunConfig, methods: list[str], tune: bool = False) -> str:
    base = ""
    if request is not None:
        base = (request.headers.get("referer") or "").split("?")[0]
    return f"{base}?{share_query(config, methods, tune)}"


GALLERY_COLUMNS = 3  # ~270 px per image in the results column at 1280 px: ≥ 256 px, as asked


def _gallery_height(images: int) -> int:
    return 40 + 290 * -(-images // GALLERY_COLUMNS)


# Results columns, each headed in words with its unit (the CSV download keeps the short names)
TABLE_COLUMNS = {"method": "method", "psnr_db": "PSNR (dB)", "ssim": "SSIM (≤ 1)", "rho_ag": "ρ_AG (≤ 1)",
                 "params": "parameters", "lr": "learning rate", "seconds": "time (s)", "steps/s": "steps/s",
                 "status": "status", "note": "note"}


def _table(rows: list[dict]):
    import pandas as pd

    columns = list(TABLE_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns) if not rows else pd.DataFrame(rows)
    for column in columns:
        if column not in frame:
            frame[column] = None
    return frame[columns].astype(object).where(frame[columns].notna(), "–").rename(columns=TABLE_COLUMNS)


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------
def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Spectral Lab") as demo:
        gr.Markdown(f"### Spectral Lab · see *spectral bias* in coordinate MLPs · running on **{device_label()}**\n"
                    "*Spectral bias*: trained by gradient descent, a network learns a signal's coarse, low-frequency "
                    "parts long before its fine, high-frequency detail. Start with the **Lessons**; compare methods "
                    "in the **Lab**.", elem_id="title")
        with gr.Tabs(selected="lessons", elem_id="tabs") as tabs:
            with gr.Tab("Lessons", id="lessons", elem_id="lessons-tab"):
                lesson_ui = app_lessons.build_tab(SESSIONS, LIMITS, DEVICE, CONCURRENCY)
            with gr.Tab("Lab: audio, images, 1D", id="signals", elem_id="signals-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=340, elem_id="controls"):
                        preset = gr.Dropdown(list(PRESETS) + [CUSTOM], value=DEFAULT_PRESET, label="Preset",
                                             elem_id="preset")
                        with gr.Row():
                            signal = gr.Dropdown(SIGNAL_CHOICES, label="Signal", scale=3, elem_id="signal")
                            upload = gr.UploadButton("Upload…", file_types=["audio", "image"], type="filepath",
                                                     size="sm", scale=1, min_width=90, elem_id="upload-button")
                        upload_message = gr.Markdown(elem_id="upload-message")
                        methods = gr.Dropdown(METHOD_CHOICES, multiselect=True, label="Methods (several = compare)",
                                              max_choices=LIMITS.max_methods, allow_custom_value=True,
                                              elem_id="methods")
                        steps = _slider("steps", label="Steps per method", elem_id="steps")
                        with gr.Row():
                            train = gr.Button("Train", variant="primary", elem_id="train-button", min_width=80)
                            stop = gr.Button("Stop", variant="stop", elem_id="stop-button", min_width=80)
                            reset = gr.Button("Reset", elem_id="reset-button", min_width=80)
                        status = gr.Markdown("Press **Train**.", elem_id="status")
                        preset_note = gr.Markdown(PRESETS[DEFAULT_PRESET].explanation, elem_id="preset-note")
                        with gr.Accordion("Signal options", open=False) as signal_accordion:
                            with gr.Row():
                                length = gr.Number(label="Length (samples)", placeholder="default", precision=0)
                                image_size = gr.Number(label="Image size (px)", placeholder="keep", precision=0)
                            gray = gr.Checkbox(label="Grayscale")
                            signal_options = gr.Textbox(label="Generator knobs / image options",
                                                        placeholder="freqs=5,80 amps=1,0.5 · crop=square channel=0")
                        with gr.Accordion("Training modifiers (IGA, FR, BN)", open=False) as modifier_accordion:
                            modifiers = gr.CheckboxGroup([(f"{m.name}: {m.description}", m.name)
                                                          for m in MODIFIERS.values()], label="Modifiers")
                            modifier_mode = gr.Radio([("compare with and without each", "each"),
                                                      ("apply all to every method", "combined")], value="each",
                                                     label="Modifiers are")
                            with gr.Row():
                                iga_group = gr.Number(label="IGA group p", placeholder="auto", precision=0)
                                iga_end = gr.Number(label="IGA end", placeholder="paper's", precision=0)
                            with gr.Row():
                                iga_every = gr.Number(label="IGA every (steps)", precision=0)
                                fr_phases = gr.Number(label="FR phases P", precision=0)
                            with gr.Row():
                                fr_basis = gr.Dropdown([("the paper's (its reference code)", "paper"),
                                                        ("tight frame (only an lr change with SGD)", "frame")],
                                                       label="FR basis")
                                fr_alpha = gr.Number(label="FR α", placeholder="per architecture")
                        with gr.Accordion("Network and method knobs (blank = the method's default)",
                                          open=False) as knob_accordion:
                            with gr.Row():
                                width = _slider("width", label="Width")
                                depth = _slider("depth", label="Hidden layers")
                            with gr.Row():
                                omega0 = gr.Number(label="ω₀ hidden", placeholder="30")
                                first_omega0 = gr.Number(label="First-layer ω₀ / ω / s", placeholder="auto")
                            with gr.Row():
                                s0 = gr.Number(label="SIREN² s₀", placeholder="auto (Eq. 11)")
                                s1 = gr.Number(label="SIREN² s₁", placeholder="auto (Eq. 11)")
                            with gr.Row():
                                damping = gr.Dropdown(["auto", "sqrt", "log", "arctan"], value="auto", label="SPDER δ")
                                bias_scale = gr.Number(label="FINER first bias k", placeholder="1")
                            with gr.Row():
                                pe_levels = gr.Number(label="PE levels L", placeholder="Nyquist rule", precision=0)
                                rff_sigma = gr.Number(label="RFF σ", placeholder="auto")
                            with gr.Row():
                                wire_omega = gr.Number(label="WIRE ω", placeholder="auto")
                                wire_sigma = gr.Number(label="WIRE σ", placeholder="auto")
                                gauss_scale = gr.Number(label="Gauss s", placeholder="auto")
                        with gr.Accordion("Training", open=False) as training_accordion:
                            with gr.Row():
                                lr = gr.Number(label="Learning rate", placeholder="method default")
                                seed = gr.Number(label="Seed", precision=0)
                            tune = gr.Checkbox(label="Tune: each method at its own best learning rate (short runs at "
                                                     "5–7 rates first; about 2.5× the time)", elem_id="tune")
                            with gr.Row():
                                lr_schedule = gr.Dropdown(["step", "drop", "exp", "constant"], label="LR schedule")
                                lr_gamma = gr.Number(label="Schedule factor γ")
                                lr_every = gr.Number(label="… every (steps)", precision=0)
                            with gr.Row():
                                optimizer = gr.Dropdown(["adam", "sgd"], label="Optimiser")
                                device = gr.Dropdown(["auto", "cpu", "cuda"], label="Device")
                                fast = gr.Dropdown(["auto", "on", "off"], label="Fast step (CUDA graphs)")
                            ntk_points = _slider("ntk_points", label="NTK points M")
                        share = gr.Textbox(label="Share link (the whole setup)", buttons=["copy"], interactive=False,
                                           elem_id="share-link")
                        method_info = gr.Markdown(elem_id="method-info")
                        with gr.Accordion("All methods, by family", open=False, elem_id="method-families") as families:
                            gr.Markdown(families_markdown())
                        with gr.Accordion("Symbols, in words", open=False, elem_id="glossary"):
                            gr.Markdown(GLOSSARY)
                    with gr.Column(scale=3, elem_id="results-column"):
                        signal_info = gr.Markdown(elem_id="signal-info")
                        with gr.Row(elem_id="replay-row", visible=False, equal_height=False) as replay_row:
                            replay = gr.Slider(0, 1, value=0, step=1, scale=6, elem_id="replay-slider",
                                               label="Replay: drag to any step — every panel of every method "
                                                     "shows that step (Live: follow training)")
                            with gr.Column(scale=1, min_width=90):
                                live_button = gr.Button("Live", elem_id="replay-live", size="sm")
                                play = gr.Button("▶ Play", elem_id="replay-play", size="sm")
                                gif = gr.Button("GIF", elem_id="replay-gif", size="sm")
                        # Named views, each about two screens: what the networks drew, how they learned,
                        # why (the kernel), where the error sits, and one method from the inside.
                        with gr.Tabs(elem_id="views"):
                            with gr.Tab("Reconstructions", id="view-reconstructions"):
                                recon_note = gr.Markdown(RECONSTRUCTION_NOTES["1d"], elem_id="recon-note")
                                gallery = gr.Gallery(label="Target and fits", columns=GALLERY_COLUMNS, height=330,
                                                     object_fit="contain", allow_preview=True, elem_id="recon-gallery",
                                                     format="png", visible=False, interactive=False)
                                recon_plot = gr.Plot(show_label=False, visible=False, elem_id="recon-plot")
                                target_audio = gr.Audio(label="target", visible=False, interactive=False,
                                                        elem_id="target-audio")
                                with gr.Row(elem_id="audio-slots"):
                                    audio_slots = [gr.Audio(visible=False, interactive=False, elem_id=f"audio-{i}",
                                                            min_width=200) for i in range(AUDIO_SLOTS)]
                                results = gr.Dataframe(value=_table([]), label="Results", interactive=False,
                                                       elem_id="results-table")
                                with gr.Row():
                                    downloads = gr.File(label="Downloads (CSV, figures, replay GIF)",
                                                        file_count="multiple", interactive=False, elem_id="downloads",
                                                        scale=4)
                                    export = gr.Button("Figures as PNG", elem_id="export-button", scale=1,
                                                       min_width=120)
                            with gr.Tab("Learning over time", id="view-learning"):
                                gr.Markdown(EXPLAIN["curves"])
                                curves_x = gr.Radio([("steps", "step"), ("seconds of training", "seconds")],
                                                    value="step", label="x axis", elem_id="curves-x")
                                curves = gr.Plot(elem_id="curves-plot", show_label=False)
                                gr.Markdown("**Error per frequency band.** " + EXPLAIN["bands"])
                                bands = gr.Plot(elem_id="bands-plot", show_label=False, visible=False)
                            with gr.Tab("NTK & spectra", id="view-ntk"):
                                gr.Markdown(EXPLAIN["ntk"])
                                ntk = gr.Plot(elem_id="ntk-plot", show_label=False, visible=False)
                            with gr.Tab("Where the error is", id="view-errors"):
                                gr.Markdown(EXPLAIN["errors"])
                                errors = gr.Plot(elem_id="error-plot", show_label=False, visible=False)
                            with gr.Tab("Inside one method", id="view-details"):
                                gr.Markdown(EXPLAIN["details"])
                                details_choice = gr.Radio([], label="Method", visible=False, elem_id="details-choice")
                                activations = gr.Plot(elem_id="activations-plot", show_label=False, visible=False)
                                kernel = gr.Plot(elem_id="kernel-plot", show_label=False, visible=False)

            with gr.Tab("CNN weights (NeRN / SBS)", id="nern", elem_id="nern-tab"):
                nern_ui = app_nern.build_tab(CONCURRENCY)

        upload_state = gr.State(None)
        controls = [signal, length, image_size, gray, signal_options, width, depth, omega0, first_omega0, s0, s1,
                    damping, bias_scale, pe_levels, rff_sigma, wire_omega, wire_sigma, gauss_scale, iga_group,
                    iga_end, iga_every, fr_basis, fr_phases, fr_alpha, steps, lr, lr_schedule, lr_gamma, lr_every,
                    optimizer, seed,
                    device, fast, ntk_points, methods]
        preview_outputs = [signal_info, recon_note, gallery, recon_plot, target_audio]
        train_outputs = [status, curves, results, downloads, gallery, recon_plot, target_audio, *audio_slots, ntk,
                         errors, bands, activations, kernel, details_choice, share, preset, replay, replay_row,
                         curves_x]
        replay_outputs = [status, curves, gallery, recon_plot, ntk, errors, bands, activations, kernel, replay]
        private = dict(api_visibility="private")

        accordions = [signal_accordion, modifier_accordion, knob_accordion, training_accordion]
        lesson_ui.tabs = tabs
        demo.load(on_blank_curves, None, curves, **private)
        demo.load(app_lessons.on_load, None, [lesson_ui.text, lesson_ui.followups, lesson_ui.question, lesson_ui.run,
                                              lesson_ui.status, lesson_ui.takeaway, lesson_ui.evidence_note,
                                              lesson_ui.evidence, lesson_ui.curves, lesson_ui.gallery, lesson_ui.recon,
                                              lesson_ui.picker, lesson_ui.seed, tabs], **private)
        edit_inputs = [upload_state, modifiers, modifier_mode, tune] + controls
        edit_outputs = [preset, preset_note, share]
        demo.load(on_load, None, controls + [preset_note, preset, tune], **private).then(
            on_preview, [upload_state] + controls, preview_outputs, **private).then(
            on_link, edit_inputs, share, **private).then(
            on_autorun, [upload_state, modifiers, modifier_mode, tune] + controls, train_outputs,
            concurrency_limit=CONCURRENCY, concurrency_id="train", **private)
        preset.input(on_preset, preset, controls + [preset_note, tune, upload_state, upload_message],
                     **private).then(
            on_preview, [upload_state] + controls, preview_outputs, **private).then(
            on_link, edit_inputs, share, **private)
        size_controls = [ui_control for name, ui_control in zip(CONTROL_FIELDS, controls) if name in SIZE_FIELDS]
        signal.input(on_signal, controls, [upload_state, upload_message] + size_controls, queue=False,
                     **private).then(
            on_preview, [upload_state] + controls, preview_outputs, **private).then(
            on_edit, edit_inputs, edit_outputs, **private)
        upload.upload(on_upload, [upload] + controls, [upload_state, upload_message, length], queue=False,
                      **private).then(
            on_preview, [upload_state] + controls, preview_outputs, **private).then(
            on_edit, edit_inputs, edit_outputs, **private)
        for trigger in (length.submit, image_size.submit, gray.input, signal_options.submit):
            trigger(on_preview, [upload_state] + controls, preview_outputs, **private)
        methods.change(on_methods, methods, method_info, **private)
        for control in [c for c in controls if c is not signal] + [modifiers, modifier_mode, tune]:
            control.input(on_edit, edit_inputs, edit_outputs, queue=False, **private)  # user edits, not a preset's
        train.click(on_queue, None, status, queue=False, **private).then(
            on_train, [upload_state, modifiers, modifier_mode, tune] + controls, train_outputs,
            concurrency_limit=CONCURRENCY, concurrency_id="train", **private)
        stop.click(on_stop, None, status, queue=False, **private)
        export.click(on_export, None, downloads, **private)
        details_choice.input(on_details, details_choice, [activations, kernel], queue=False, **private)
        replay.release(on_replay, replay, replay_outputs, queue=False, **private)
        live_button.click(on_live, None, replay_outputs, queue=False, **private)
        play.click(on_play, replay, replay_outputs, concurrency_limit=None, **private)
        gif.click(on_gif, None, downloads, **private)
        curves_x.input(on_x_axis, curves_x, curves, queue=False, **private)
        reset.click(on_reset, None, train_outputs + controls + [preset_note, upload_state, upload_message, tune],
                    queue=False, **private).then(on_preview, [upload_state] + controls, preview_outputs, **private)
        hideable = [preset, preset_note, upload, methods, method_info, steps, share, families, *accordions]
        demo.load(on_hide, None, hideable, **private)
        demo.load(app_nern.on_link, None, nern_ui.knobs, **private).then(  # a CNN lesson's follow-up
            app_nern.on_autorun, [nern_ui.rows] + nern_ui.knobs, nern_ui.outputs, concurrency_limit=CONCURRENCY,
            concurrency_id="train", **private)
        demo.unload(on_unload)
        for name in UI_NAMES:
            setattr(ui, name, locals()[name])
    return demo


def main() -> None:
    threading.Thread(target=warm_up, daemon=True).start()  # librosa's numba compile, off the first request
    demo = build_demo()
    demo.queue(max_size=32).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False, ssr_mode=False, footer_links=["settings"], css=CSS)


if __name__ == "__main__":
    main()
