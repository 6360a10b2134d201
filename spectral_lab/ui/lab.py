"""The "Lab: audio, images, 1D" tab: pick a signal and methods, press Train, watch spectral bias
live in named views (reconstructions, learning over time, NTK & spectra, errors, one method from
the inside), replay any step, share the setup as a link. Wiring and words only; every number
comes from spectral_lab (see spectral_lab/lab/).
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from spectral_lab import RunConfig, methods as method_registry, plots
from spectral_lab.config import coerce
from spectral_lab.errors import SignalError, SpectralLabError
from spectral_lab.lab import (CUSTOM, DEFAULT_PRESET, NOTHING_RUNNING, PRESETS, RUNNING_STOPPED, SIZE_FIELDS,
                              LiveComparison, check_limits, has_settings, load_ui_signal, matching_preset, parse_link,
                              parse_share_query, preset_query, session_key, share_query, share_tune, sizes_for_signal,
                              to_audio, user_message, with_app_cadence)
from spectral_lab.lab.links import more_settings_text, parse_more_settings
from spectral_lab.lab.estimate import plan_lab_run
from spectral_lab.lab.files import SessionFolders
from spectral_lab.lab.lessons import expand_link
from spectral_lab.lab.replay import Replays, checkpoint_steps, gallery_gif
from spectral_lab.methods import PLUGIN_PROBLEMS, families_markdown, ordered_methods
from spectral_lab.modifiers import MODIFIERS, expand_methods, split_method
from spectral_lab.signals import (AUDIO_EXTENSIONS, SKIMAGE_IMAGES, SYNTHETIC, builtin_audio, parse_options,
                                  spectral_centroid)
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.train import pick_device
from spectral_lab.ui.widgets import (DEVICE, GALLERY_COLUMNS, LIMITS, PRIVATE, RUNS, SESSIONS, SLIDERS, SLOTS,
                                     gallery_height, results_table, slider)
from spectral_lab.ui.words import EXPLAIN, GLOSSARY, RECONSTRUCTION_NOTES

ui = SimpleNamespace()  # the components, for the callbacks' dict updates (set by wire)
UI_NAMES = ("signal_info", "recon_note", "target_audio", "gallery", "recon_plot", "upload_state", "upload_message",
            "status", "share", "preset_note", "preset", "details_choice", "curves", "results", "downloads",
            "audio_slots", "ntk", "errors", "bands", "activations", "kernel", "controls", "tune", "upload", "methods",
            "method_info", "steps", "accordions", "families", "replay",
            "replay_row", "curves_x", "signal", "crop")
# session hash -> its last comparison (the replay, details and downloads read it); their replay histories
# share the server's budget (SPECTRAL_LAB_REPLAYS_MB): the least recently used one's is dropped past it
FINISHED = Replays()
FOLDERS = SessionFolders()  # session hash -> the temp folders of its downloads (gone when it trains again or closes)
SIGNAL_CHOICES = sorted(SYNTHETIC) + sorted(builtin_audio()) + list(SKIMAGE_IMAGES)
# The registry's methods in family order (encodings, periodic, wavelets, learned, filters, grids), by
# short name: a chip with its family ("siren · periodic") takes a line of its own, and six of them
# push Train below a 720-px screen. Families and one-liners: the "All methods, by family" list; the
# chosen ones are explained below the picker.
METHOD_CHOICES = ordered_methods()
AUDIO_SLOTS = LIMITS.max_methods

MORE_SETTINGS = "more_settings"  # the "More settings" box: not a RunConfig field, the settings without a control
# The RunConfig fields the controls edit, in the order of the `controls` list (wire builds it from these names).
CONTROL_FIELDS = ["signal", "length", "image_size", "gray", "signal_options", "width", "depth", "omega0",
                  "first_omega0", "s0", "s1", "damping", "bias_scale", "pe_levels", "rff_sigma", "wire_omega",
                  "wire_sigma", "gauss_scale", "iga_group", "iga_end", "iga_every", "fr_basis", "fr_phases", "fr_alpha",
                  "steps", "lr",
                  "lr_schedule", "lr_gamma", "lr_every", "optimizer", "seed", "device", "fast", "ntk_points",
                  MORE_SETTINGS]
# The fields with a control of their own; every other RunConfig field a link carries lands in the "More
# settings" box as name=value words (links.more_settings_text): applied, on screen, and in the share link.
CONTROLLED = set(CONTROL_FIELDS) - {MORE_SETTINGS}


def _values_from(config: RunConfig, methods: list[str]) -> list:
    return [more_settings_text(config, CONTROLLED) if name == MORE_SETTINGS else getattr(config, name)
            for name in CONTROL_FIELDS] + [methods]


def _config_from(values: list, check: bool = True) -> tuple[RunConfig, list[str]]:
    """Control values -> (RunConfig, methods). Blank controls (and damping 'auto') keep defaults."""
    *field_values, methods = values
    given = {name: coerce(name, str(value)) for name, value in zip(CONTROL_FIELDS, field_values)
             if name != MORE_SETTINGS and (value not in ("", None, "auto") or name in ("device", "fast"))
             and not (name == "signal" and str(value).startswith(UPLOAD_PREFIX))}  # the upload is its own state
    given.update(parse_more_settings(field_values[CONTROL_FIELDS.index(MORE_SETTINGS)], CONTROLLED))
    config = RunConfig.from_dict(given)
    methods = list(methods or [])
    if check:
        check_limits(config, methods, LIMITS)
    return config, methods


def _preset_values(name: str) -> list:
    config, methods = parse_share_query(preset_query(name, DEVICE))
    return _values_from(config, methods)



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
    more = more_settings_text(config, CONTROLLED)
    if more:  # applied, though no control of its own shows it: said where the visitor reads
        explanation += f" Also applied from the link (Training → More settings): {more}."
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


def on_train_link(link: str, request: gr.Request):
    """Train from a share link's query (`signal=camera&methods=relu,siren`), streamed as the Train
    button streams it: the `/train_link` endpoint (undocumented), through which a bench drives
    the server with gradio_client (bench/bench_app.py --latency --through-app). A setting the
    link cannot apply refuses the whole run: a script asked for exactly these settings."""
    query = (link or "").split("?", 1)[-1]
    config, methods, dropped = parse_link(query, LIMITS)
    if dropped:
        yield {ui.status: "⚠️ Not trained: " + "; ".join(dropped)}
        return
    yield {ui.status: on_queue(request)}
    yield from on_train(request, None, [], "each", share_tune(query), *_values_from(config, methods))


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
    hide = [gr.update(choices=SIGNAL_CHOICES), gr.update(visible=False)]  # the upload's entry and crop choice go
    try:
        config, _ = _config_from(values, check=False)
    except SpectralLabError:
        return [None, ""] + hide + [gr.skip()] * len(SIZE_FIELDS)
    resized, what = sizes_for_signal(config, DEVICE)
    return ([None, f"Set for this signal: {what}." if what else ""] + hide
            + [getattr(resized, f) for f in SIZE_FIELDS])


def on_preset(name: str):
    """A preset's settings; it also drops an upload (the preset names its own signal)."""
    if name == CUSTOM or name not in PRESETS:
        return [gr.skip()] * (len(CONTROL_FIELDS) + 6)
    return [*_preset_values(name), PRESETS[name].explanation, False, None, "", gr.update(visible=False)]


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
        signal = load_ui_signal(config, _upload_path(upload), LIMITS, check_size=False)
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


UPLOAD_PREFIX = "upload: "  # the signal picker's entry for an upload
CROP_CHOICES = [("its first N samples", "first"), ("the loudest N samples", "loudest"),
                ("all of it, resampled to N samples (highs above the new Nyquist go)", "resample")]


def on_upload(file, *values):
    """Check an upload at once and say what is wrong next to the upload button. A good one becomes
    the signal (the picker says "upload: name", the preset's note gives way); its size is left to
    the run's plan (Train fits it to this server's time), and a clip says how it will be shortened:
    its first samples, the loudest stretch, or all of it resampled — the visitor's choice."""
    path = getattr(file, "name", file)
    control = {name: ui.controls[CONTROL_FIELDS.index(name)] for name in ("length", "image_size", "signal_options")}
    try:
        config, _ = _config_from(values, check=False)
        kind_size = "length" if Path(str(path)).suffix.lower() in AUDIO_EXTENSIONS else "image_size"
        own = getattr(config, kind_size)
        if own is not None and own in _preset_sizes(kind_size):
            own = None  # a preset's size (a 1D preset's 4096 would be 0.09 s of a clip): the plan chooses
        whole = load_ui_signal(config.replace(**{kind_size: None}), path, LIMITS, check_size=False)
        if own is not None and own > (whole.num_points if kind_size == "length" else max(whole.grid)):
            own = None  # longer than the clip itself: the whole clip
        signal = load_ui_signal(config.replace(**{kind_size: own}), path, LIMITS, check_size=False)
    except SpectralLabError as exc:
        return {ui.upload_state: {"error": str(exc)}, ui.upload_message: f"⚠️ {exc}",
                ui.crop: gr.update(visible=False)}
    label = UPLOAD_PREFIX + Path(str(path)).name
    audio = signal.kind == "audio"
    crop = parse_options(config.signal_options).get("crop", "first")
    how = ("Train fits it to this server's time: choose below how a long clip is shortened (Length under Signal "
           "options sets the size yourself)" if audio else
           "Train fits it to this server's time (Image size under Signal options sets it yourself)")
    return {ui.upload_state: path, control[kind_size]: own,
            ui.signal: gr.update(choices=SIGNAL_CHOICES + [label], value=label),
            ui.preset: CUSTOM, ui.preset_note: "Your upload is the signal; the other settings stay as they were.",
            ui.crop: gr.update(visible=audio, value=crop if crop in dict(map(reversed, CROP_CHOICES)) else "first"),
            ui.upload_message: f"Using your upload: **{signal.summary()}**"
                               f"{' — ' + '; '.join(signal.changes) if signal.changes else ''}. {how}. "
                               "Pick a built-in signal to go back."}


def _preset_sizes(field: str) -> set:
    """The lengths or image sizes the presets set (an upload does not keep those: they were not chosen for it)."""
    return {getattr(parse_share_query(preset_query(title, DEVICE))[0], field) for title in PRESETS} - {None}


def on_crop(crop: str, options: str):
    """How a long clip is shortened: `crop=` in the signal options (signals.crop_audio)."""
    kept = [part for part in str(options or "").split() if not part.startswith("crop=")]
    return " ".join(kept + ([f"crop={crop}"] if crop and crop != "first" else []))


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
        device = pick_device(config.device)
        pinned = {name for name, value in zip(CONTROL_FIELDS, field_values) if value not in ("", None)
                  and name in ("image_size", "length")} | {"steps"}  # blank sizes: the plan may shrink them
        plan = plan_lab_run(config, methods, _upload_path(upload), LIMITS, device.type, bool(tune), pinned)
    except SpectralLabError as exc:
        SESSIONS.discard(session)
        yield {ui.status: f"⚠️ {exc}"}
        return
    link = _share_link(request, config, methods, bool(tune))  # the user's settings, before the app's cadences
    config, signal = plan.config, plan.signal
    live = LiveComparison(with_app_cadence(config, device.type), methods, signal, stream=gpu_stream(),
                          tune=bool(tune), note=plan.note, estimate=plan.seconds)
    turn = SLOTS.enter(", ".join(methods), plan.seconds)
    try:
        yield from _train_in_turn(session, live, turn, link, config, methods, signal)
    finally:
        SLOTS.leave(turn)


def _train_in_turn(session: str, live: LiveComparison, turn, link: str, config: RunConfig, methods: list[str],
                   signal):
    """Wait for a training slot (saying where this visitor stands), then train and stream the frames."""
    for words in SLOTS.wait(turn, cancelled=lambda: SESSIONS.cancelled(session)):
        yield {ui.status: words}
    if turn.started is None or not SESSIONS.start(session, live):
        SESSIONS.discard(session)
        yield {ui.status: "**Cancelled** before it started: nothing was trained."}
        return
    FINISHED[session] = live
    FOLDERS.remove(session)  # the previous run's downloads: no longer shown
    outdir = FOLDERS.make(session)
    yield {**_clear_outputs(), ui.status: live.status_line(), ui.share: link, ui.preset: matching_preset(config, methods, DEVICE),
           ui.details_choice: gr.update(choices=methods, value=methods[0], visible=len(methods) > 1),
           ui.gallery: gr.update(visible=signal.kind == "image", columns=GALLERY_COLUMNS,
                                 height=gallery_height(len(methods) + 1)),
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
        updates[ui.results] = results_table(frame.table)
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
    return live.add_download(gallery_gif(live, FOLDERS.make(session_key(request)) / "replay.gif"))


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
    return live.export(FOLDERS.make(session_key(request)))


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


def release(session: str) -> None:
    """What this tab keeps for a session, dropped: its last comparison (and replay), its downloads'
    folders. ui/session_end.py calls it when the browser tab closes, with the other tabs' release."""
    FINISHED.pop(session, None)
    FOLDERS.remove(session)




def _clear_outputs() -> dict:
    hidden = gr.update(value=None, visible=False)
    return {ui.curves: None, ui.results: results_table([]), ui.downloads: None, ui.ntk: hidden, ui.errors: hidden,
            ui.bands: hidden, ui.activations: hidden, ui.kernel: hidden, **{slot: hidden for slot in ui.audio_slots}}


def _share_link(request, config: RunConfig, methods: list[str], tune: bool = False) -> str:
    base = ""
    if request is not None:
        base = (request.headers.get("referer") or "").split("?")[0]
    return f"{base}?{share_query(config, methods, tune)}"



# ----------------------------------------------------------------------------------------------
# Layout: each builder adds its components to `parts` (every component of the tab, for wire)
# ----------------------------------------------------------------------------------------------
def build_tab() -> SimpleNamespace:
    """Lay out the tab inside the caller's gr.Tab; returns its components. The page adds
    `upload_state` (created after the tabs) and then calls wire."""
    parts = SimpleNamespace()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=340, elem_id="controls"):
            _choose_and_run(parts)
            _signal_options(parts)
            _modifier_options(parts)
            _network_knobs(parts)
            _training_options(parts)
            _link_and_help(parts)
        with gr.Column(scale=3, elem_id="results-column"):
            parts.signal_info = gr.Markdown(elem_id="signal-info")
            _replay_row(parts)
            # Named views, each about two screens: what the networks drew, how they learned,
            # why (the kernel), where the error sits, and one method from the inside.
            with gr.Tabs(elem_id="views"):
                _reconstructions_view(parts)
                _learning_view(parts)
                _kernel_and_error_views(parts)
                _details_view(parts)
    return parts


def _choose_and_run(parts: SimpleNamespace) -> None:
    """Preset, signal (or upload), methods, steps, the run buttons and the run's status."""
    parts.preset = gr.Dropdown(list(PRESETS) + [CUSTOM], value=DEFAULT_PRESET, label="Preset", elem_id="preset")
    with gr.Row():
        parts.signal = gr.Dropdown(SIGNAL_CHOICES, label="Signal", scale=3, elem_id="signal")
        parts.upload = gr.UploadButton("Upload…", file_types=["audio", "image"], type="filepath",
                                       size="sm", scale=1, min_width=90, elem_id="upload-button")
    parts.upload_message = gr.Markdown(elem_id="upload-message")
    parts.crop = gr.Radio(CROP_CHOICES, value="first", label="A long clip: take", visible=False, elem_id="audio-crop")
    parts.methods = gr.Dropdown(METHOD_CHOICES, multiselect=True, label="Methods (several = compare)",
                                max_choices=LIMITS.max_methods, allow_custom_value=True, elem_id="methods")
    parts.steps = slider("steps", label="Steps per method", elem_id="steps")
    with gr.Row():
        parts.train = gr.Button("Train", variant="primary", elem_id="train-button", min_width=80)
        parts.stop = gr.Button("Stop", variant="stop", elem_id="stop-button", min_width=80)
        parts.reset = gr.Button("Reset", elem_id="reset-button", min_width=80)
    parts.status = gr.Markdown("Press **Train**.", elem_id="status")
    parts.api_link = gr.Textbox(visible=False)  # the /train_link endpoint's input (no one sees it)
    parts.preset_note = gr.Markdown(PRESETS[DEFAULT_PRESET].explanation, elem_id="preset-note")


def _signal_options(parts: SimpleNamespace) -> None:
    with gr.Accordion("Signal options", open=False) as parts.signal_accordion:
        with gr.Row():
            parts.length = gr.Number(label="Length (samples)", placeholder="default", precision=0)
            parts.image_size = gr.Number(label="Image size (px)", placeholder="keep", precision=0)
        parts.gray = gr.Checkbox(label="Grayscale")
        parts.signal_options = gr.Textbox(label="Generator knobs / image options",
                                          placeholder="freqs=5,80 amps=1,0.5 · crop=square channel=0")


def _modifier_options(parts: SimpleNamespace) -> None:
    with gr.Accordion("Training modifiers (IGA, FR, BN)", open=False) as parts.modifier_accordion:
        parts.modifiers = gr.CheckboxGroup([(f"{m.name}: {m.description}", m.name) for m in MODIFIERS.values()],
                                           label="Modifiers")
        parts.modifier_mode = gr.Radio([("compare with and without each", "each"),
                                        ("apply all to every method", "combined")], value="each",
                                       label="Modifiers are")
        with gr.Row():
            parts.iga_group = gr.Number(label="IGA group p", placeholder="auto", precision=0)
            parts.iga_end = gr.Number(label="IGA end", placeholder="paper's", precision=0)
        with gr.Row():
            parts.iga_every = gr.Number(label="IGA every (steps)", precision=0)
            parts.fr_phases = gr.Number(label="FR phases P", precision=0)
        with gr.Row():
            parts.fr_basis = gr.Dropdown([("the paper's (its reference code)", "paper"),
                                          ("tight frame (only an lr change with SGD)", "frame")], label="FR basis")
            parts.fr_alpha = gr.Number(label="FR α", placeholder="per architecture")


def _network_knobs(parts: SimpleNamespace) -> None:
    with gr.Accordion("Network and method knobs (blank = the method's default)",
                      open=False) as parts.knob_accordion:
        with gr.Row():
            parts.width = slider("width", label="Width")
            parts.depth = slider("depth", label="Hidden layers")
        with gr.Row():
            parts.omega0 = gr.Number(label="ω₀ hidden", placeholder="30")
            parts.first_omega0 = gr.Number(label="First-layer ω₀ / ω / s", placeholder="auto")
        with gr.Row():
            parts.s0 = gr.Number(label="SIREN² s₀", placeholder="auto (Eq. 11)")
            parts.s1 = gr.Number(label="SIREN² s₁", placeholder="auto (Eq. 11)")
        with gr.Row():
            parts.damping = gr.Dropdown(["auto", "sqrt", "log", "arctan"], value="auto", label="SPDER δ")
            parts.bias_scale = gr.Number(label="FINER first bias k", placeholder="1")
        with gr.Row():
            parts.pe_levels = gr.Number(label="PE levels L", placeholder="Nyquist rule", precision=0)
            parts.rff_sigma = gr.Number(label="RFF σ", placeholder="auto")
        with gr.Row():
            parts.wire_omega = gr.Number(label="WIRE ω", placeholder="auto")
            parts.wire_sigma = gr.Number(label="WIRE σ", placeholder="auto")
            parts.gauss_scale = gr.Number(label="Gauss s", placeholder="auto")


def _training_options(parts: SimpleNamespace) -> None:
    with gr.Accordion("Training", open=False) as parts.training_accordion:
        with gr.Row():
            parts.lr = gr.Number(label="Learning rate", placeholder="method default")
            parts.seed = gr.Number(label="Seed", precision=0)
        parts.tune = gr.Checkbox(label="Tune: each method at its own best learning rate (every method tries the "
                                       "same 5–9 rates first, on another seed; 2–4× the time)", elem_id="tune")
        with gr.Row():
            parts.lr_schedule = gr.Dropdown(["step", "drop", "exp", "constant"], label="LR schedule")
            parts.lr_gamma = gr.Number(label="Schedule factor γ")
            parts.lr_every = gr.Number(label="… every (steps)", precision=0)
        with gr.Row():
            parts.optimizer = gr.Dropdown(["adam", "sgd"], label="Optimiser")
            parts.device = gr.Dropdown(["auto", "cpu", "cuda"], label="Device")
            parts.fast = gr.Dropdown(["auto", "on", "off"], label="Fast step (CUDA graphs)")
        parts.ntk_points = slider("ntk_points", label="NTK points M")
        parts.more_settings = gr.Textbox(label="More settings (name=value, as in a link)", elem_id="more-settings",
                                         placeholder="mfn_scale=20 grid_levels=16 hosc_beta=4",
                                         info="Any setting without a control of its own (`python -m spectral_lab "
                                              "fit --help` lists them); a link's land here.")


def _link_and_help(parts: SimpleNamespace) -> None:
    """The share link, the chosen methods in words, all methods by family, the symbols in words."""
    parts.share = gr.Textbox(label="Share link (the whole setup)", buttons=["copy"], interactive=False,
                             elem_id="share-link")
    parts.method_info = gr.Markdown(elem_id="method-info")
    with gr.Accordion("All methods, by family", open=False, elem_id="method-families") as parts.families:
        gr.Markdown(families_markdown() + "".join(f"\n- ⚠ {problem}" for problem in PLUGIN_PROBLEMS))
    with gr.Accordion("Symbols, in words", open=False, elem_id="glossary"):
        gr.Markdown(GLOSSARY)


def _replay_row(parts: SimpleNamespace) -> None:
    with gr.Row(elem_id="replay-row", visible=False, equal_height=False) as parts.replay_row:
        parts.replay = gr.Slider(0, 1, value=0, step=1, scale=6, elem_id="replay-slider",
                                 label="Replay: drag to any step — every panel of every method "
                                       "shows that step (Live: follow training)")
        with gr.Column(scale=1, min_width=90):
            parts.live_button = gr.Button("Live", elem_id="replay-live", size="sm")
            parts.play = gr.Button("▶ Play", elem_id="replay-play", size="sm")
            parts.gif = gr.Button("GIF", elem_id="replay-gif", size="sm")


def _reconstructions_view(parts: SimpleNamespace) -> None:
    """What the networks drew: gallery (images) or plot (1D, audio), players, the table, downloads."""
    with gr.Tab("Reconstructions", id="view-reconstructions"):
        parts.recon_note = gr.Markdown(RECONSTRUCTION_NOTES["1d"], elem_id="recon-note")
        parts.gallery = gr.Gallery(label="Target and fits", columns=GALLERY_COLUMNS, height=330,
                                   object_fit="contain", allow_preview=True, elem_id="recon-gallery",
                                   format="png", visible=False, interactive=False)
        parts.recon_plot = gr.Plot(show_label=False, visible=False, elem_id="recon-plot")
        parts.target_audio = gr.Audio(label="target", visible=False, interactive=False, elem_id="target-audio")
        with gr.Row(elem_id="audio-slots"):
            parts.audio_slots = [gr.Audio(visible=False, interactive=False, elem_id=f"audio-{i}", min_width=200)
                                 for i in range(AUDIO_SLOTS)]
        parts.results = gr.Dataframe(value=results_table([]), label="Results", interactive=False,
                                     elem_id="results-table")
        with gr.Row():
            parts.downloads = gr.File(label="Downloads (CSV, figures, replay GIF)", file_count="multiple",
                                      interactive=False, elem_id="downloads", scale=4)
            parts.export = gr.Button("Figures as PNG", elem_id="export-button", scale=1, min_width=120)


def _learning_view(parts: SimpleNamespace) -> None:
    with gr.Tab("Learning over time", id="view-learning"):
        gr.Markdown(EXPLAIN["curves"])
        parts.curves_x = gr.Radio([("steps", "step"), ("seconds of training", "seconds")], value="step",
                                  label="x axis", elem_id="curves-x")
        parts.curves = gr.Plot(elem_id="curves-plot", show_label=False)
        gr.Markdown("**Error per frequency band.** " + EXPLAIN["bands"])
        parts.bands = gr.Plot(elem_id="bands-plot", show_label=False, visible=False)


def _kernel_and_error_views(parts: SimpleNamespace) -> None:
    with gr.Tab("NTK & spectra", id="view-ntk"):
        gr.Markdown(EXPLAIN["ntk"])
        parts.ntk = gr.Plot(elem_id="ntk-plot", show_label=False, visible=False)
    with gr.Tab("Where the error is", id="view-errors"):
        gr.Markdown(EXPLAIN["errors"])
        parts.errors = gr.Plot(elem_id="error-plot", show_label=False, visible=False)


def _details_view(parts: SimpleNamespace) -> None:
    with gr.Tab("Inside one method", id="view-details"):
        gr.Markdown(EXPLAIN["details"])
        parts.details_choice = gr.Radio([], label="Method", visible=False, elem_id="details-choice")
        parts.activations = gr.Plot(elem_id="activations-plot", show_label=False, visible=False)
        parts.kernel = gr.Plot(elem_id="kernel-plot", show_label=False, visible=False)


# ----------------------------------------------------------------------------------------------
# Events
# ----------------------------------------------------------------------------------------------
def wire(demo: gr.Blocks, parts: SimpleNamespace) -> None:
    """Hand the callbacks their components (`ui`) and wire the tab's events; the page calls it after
    the tabs are laid out (`upload_state` added), between its own load events."""
    parts.controls = [getattr(parts, name) for name in CONTROL_FIELDS] + [parts.methods]
    parts.accordions = [parts.signal_accordion, parts.modifier_accordion, parts.knob_accordion,
                        parts.training_accordion]
    for name in UI_NAMES:
        setattr(ui, name, getattr(parts, name))
    parts.preview_inputs = [parts.upload_state] + parts.controls
    parts.preview_outputs = [parts.signal_info, parts.recon_note, parts.gallery, parts.recon_plot, parts.target_audio]
    # the run's and every edit's inputs: the upload, the modifiers and tuning, then the controls
    parts.edit_inputs = [parts.upload_state, parts.modifiers, parts.modifier_mode, parts.tune] + parts.controls
    parts.edit_outputs = [parts.preset, parts.preset_note, parts.share]
    parts.train_outputs = [parts.status, parts.curves, parts.results, parts.downloads, parts.gallery, parts.recon_plot,
                           parts.target_audio, *parts.audio_slots, parts.ntk, parts.errors, parts.bands,
                           parts.activations, parts.kernel, parts.details_choice, parts.share, parts.preset,
                           parts.replay, parts.replay_row, parts.curves_x]
    _wire_link(demo, parts)
    _wire_settings(parts)
    _wire_runs(parts)
    hideable = [parts.preset, parts.preset_note, parts.upload, parts.methods, parts.method_info, parts.steps,
                parts.share, parts.families, *parts.accordions]
    demo.load(on_hide, None, hideable, **PRIVATE)


def _wire_link(demo: gr.Blocks, parts: SimpleNamespace) -> None:
    """Page load: the link's settings, their preview and share link, then a follow-up's run."""
    demo.load(on_load, None, parts.controls + [parts.preset_note, parts.preset, parts.tune], **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE).then(
        on_link, parts.edit_inputs, parts.share, **PRIVATE).then(
        on_autorun, parts.edit_inputs, parts.train_outputs, **RUNS, **PRIVATE)


def _wire_settings(parts: SimpleNamespace) -> None:
    """A preset, a signal, an upload or any edit: the controls, the preview and the share link follow."""
    controls = parts.controls
    parts.preset.input(on_preset, parts.preset,
                       controls + [parts.preset_note, parts.tune, parts.upload_state, parts.upload_message, parts.crop],
                       **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE).then(
        on_link, parts.edit_inputs, parts.share, **PRIVATE)
    size_controls = [ui_control for name, ui_control in zip(CONTROL_FIELDS, controls) if name in SIZE_FIELDS]
    parts.signal.input(on_signal, controls, [parts.upload_state, parts.upload_message, parts.signal, parts.crop]
                       + size_controls, queue=False,
                       **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE).then(
        on_edit, parts.edit_inputs, parts.edit_outputs, **PRIVATE)
    parts.upload.upload(on_upload, [parts.upload] + controls,
                        [parts.upload_state, parts.upload_message, parts.length, parts.image_size, parts.signal,
                         parts.preset, parts.preset_note, parts.crop, parts.signal_options], queue=False,
                        **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE).then(
        on_edit, parts.edit_inputs, parts.edit_outputs, **PRIVATE)
    parts.crop.input(on_crop, [parts.crop, parts.signal_options], parts.signal_options, queue=False, **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE)
    for trigger in (parts.length.submit, parts.image_size.submit, parts.gray.input, parts.signal_options.submit):
        trigger(on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE)
    parts.methods.change(on_methods, parts.methods, parts.method_info, **PRIVATE)
    edited = [c for c in controls if c is not parts.signal] + [parts.modifiers, parts.modifier_mode, parts.tune]
    for control in edited:  # .input: the user's edits, not a preset's or a link's
        control.input(on_edit, parts.edit_inputs, parts.edit_outputs, queue=False, **PRIVATE)


def _wire_runs(parts: SimpleNamespace) -> None:
    """Train, Stop, Reset, the figures and GIF downloads, the method details, replay and the x axis."""
    replay_outputs = [parts.status, parts.curves, parts.gallery, parts.recon_plot, parts.ntk, parts.errors,
                      parts.bands, parts.activations, parts.kernel, parts.replay]
    parts.train.click(on_queue, None, parts.status, queue=False, **PRIVATE).then(
        on_train, parts.edit_inputs, parts.train_outputs, **RUNS, **PRIVATE)
    parts.api_link.submit(on_train_link, parts.api_link, parts.train_outputs, api_name="train_link",
                          api_visibility="undocumented", **RUNS)
    parts.stop.click(on_stop, None, parts.status, queue=False, **PRIVATE)
    parts.export.click(on_export, None, parts.downloads, **PRIVATE)
    parts.details_choice.input(on_details, parts.details_choice, [parts.activations, parts.kernel], queue=False,
                               **PRIVATE)
    parts.replay.release(on_replay, parts.replay, replay_outputs, queue=False, **PRIVATE)
    parts.live_button.click(on_live, None, replay_outputs, queue=False, **PRIVATE)
    parts.play.click(on_play, parts.replay, replay_outputs, concurrency_limit=None, **PRIVATE)
    parts.gif.click(on_gif, None, parts.downloads, **PRIVATE)
    parts.curves_x.input(on_x_axis, parts.curves_x, parts.curves, queue=False, **PRIVATE)
    parts.reset.click(on_reset, None, parts.train_outputs + parts.controls + [parts.preset_note, parts.upload_state,
                                                                               parts.upload_message, parts.tune],
                      queue=False, **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE)
