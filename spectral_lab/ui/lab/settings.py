"""The lab tab's settings: the controls as a RunConfig and back (CONTROL_FIELDS, the "More settings"
box), and the callbacks of everything that sets them — a link, a preset, a signal, an upload, an edit —
with the preview and the share link that follow."""
from __future__ import annotations

import functools

import html
from pathlib import Path

import gradio as gr

from spectral_lab import RunConfig, methods as method_registry
from spectral_lab.config import coerce
from spectral_lab.errors import SignalError, SpectralLabError
from spectral_lab.lab import (CUSTOM, DEFAULT_PRESET, PRESETS, SIZE_FIELDS, check_limits, has_settings,
                              load_ui_signal, matching_preset, parse_link, parse_share_query, preset_query, share_query,
                              share_tune, sizes_for_signal, to_audio)
from spectral_lab.lab.links import more_settings_text, parse_more_settings
from spectral_lab.lab.variants import split_variant
from spectral_lab.lab.lessons import expand_link
from spectral_lab.modifiers import MODIFIERS, expand_methods, split_method
from spectral_lab.signals import AUDIO_EXTENSIONS, parse_options, spectral_centroid
from spectral_lab.tasks import split_task
from spectral_lab.ui.widgets import DEVICE, LIMITS, SLIDERS, update_copies
from spectral_lab.ui.words import RECONSTRUCTION_NOTES
from spectral_lab.ui.lab.state import CROP_CHOICES, SIGNAL_CHOICES, UPLOAD_PREFIX, ui
from spectral_lab.ui.lab.views import target_plot


MORE_SETTINGS = "more_settings"  # the "More settings" box: not a RunConfig field, the settings without a control
# The RunConfig fields the controls edit, in the order of the `controls` list (wire builds it from these names).
CONTROL_FIELDS = ["signal", "length", "image_size", "gray", "signal_options", "task", "noise_std", "keep", "factor",
                  "width", "depth", "omega0",
                  "first_omega0", "s0", "s1", "damping", "bias_scale", "pe_levels", "rff_sigma", "wire_omega",
                  "wire_sigma", "gauss_scale", "iga_group", "iga_end", "iga_every", "fr_basis", "fr_phases", "fr_alpha",
                  "steps", "lr",
                  "lr_schedule", "lr_gamma", "lr_every", "optimizer", "seed", "device", "fast", "ntk_points",
                  MORE_SETTINGS]
# The fields with a control of their own; every other RunConfig field a link carries lands in the "More
# settings" box as name=value words (links.more_settings_text): applied, on screen, and in the share link.
CONTROLLED = set(CONTROL_FIELDS) - {MORE_SETTINGS}
# each task's one knob (tasks.py), shown beside the Task control only for its task (a hidden one keeps its value:
# every setting a link carries reaches the run)
TASK_KNOBS = {"denoise": "noise_std", "inpaint": "keep", "superres": "factor"}


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
        # a link's text is shown as typed, escaped: Markdown would strip "<b>x</b>" to "x" and hide what was sent
        explanation += f" Not applied from the link: {html.escape('; '.join(dropped), quote=False)} (the rest is)."
    if raised:
        explanation += " Raised to the sliders' minimum: " + ", ".join(raised) + "."
    return [*_values_from(config, methods), explanation, name, share_tune(query)]


# `?hide=` (a teacher's link, as TF Playground's *_hide): what each name hides
HIDEABLE = {"presets": ("preset", "preset_note"), "upload": ("upload",), "methods": ("methods", "method_info"),
            "steps": ("steps",), "controls": ("accordions",), "share": ("share",), "families": ("families",)}


def on_hide(request: gr.Request):
    names = {part.strip() for part in dict(request.query_params).get("hide", "").split(",")} if request else set()
    updates = {ui.preset: gr.skip()}  # (an empty dict reads as one missing value)
    for name in names & set(HIDEABLE):
        for attribute in HIDEABLE[name]:
            for component in (getattr(ui, attribute) if attribute == "accordions" else [getattr(ui, attribute)]):
                updates[component] = gr.update(visible=False)
    return updates


def _within_sliders(config: RunConfig) -> tuple[RunConfig, list[str]]:
    """The config with slider fields below their slider's minimum raised to it, and what was raised."""
    raised = []
    for field, (minimum, _) in SLIDERS.items():
        if getattr(config, field) < minimum:
            raised.append(f"{field} {getattr(config, field)} → {minimum}")
            config = config.replace(**{field: minimum})
    return config, raised


def on_task(task: str):
    """The chosen task's one knob shown, the others hidden (in TASK_KNOBS' order)."""
    return [gr.update(visible=task == name) for name in TASK_KNOBS]


def on_methods(methods: list[str]):
    """Each chosen method's one-line explanation, paper and parameterisation (a variant's own settings too)."""
    lines = []
    for name in methods or []:
        try:
            method, own = split_variant(name)
            spec = method_registry.get_method(method)
            _, mods = split_method(method)
        except SpectralLabError as exc:
            lines.append(f"- ⚠️ {exc}")
            continue
        extra = "".join(f" **+{m}**: {MODIFIERS[m].description} *{MODIFIERS[m].citation}*." for m in mods)
        settings = f" Its own settings: {', '.join(f'{k}={v}' for k, v in own.items())}." if own else ""
        lines.append(f"- **{name}**: {spec.description} *{spec.citation}*. Parameterisation: "
                     f"{spec.parameterisation}.{extra}{settings}")
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
    # "link-applied": the share link is the last of a link's settings to arrive (after the controls and their
    # preview), so a page (or a browser test) can tell when the settings it shows are the link's
    return gr.update(value=_share_link(request, config, methods, bool(tune)), info=info,
                     elem_classes=["link-applied"])


def on_preview(upload, *values):
    """Show the chosen signal before training: the target image / waveform and audio player, ψ."""
    try:
        config, _ = _config_from(values, check=False)  # the preview does not depend on the methods
        path = _upload_path(upload)
        if path is None:  # a built-in signal: drawn once per server (every page load previews the preset's)
            return _copies(_builtin_preview(config.to_query()))
        return _preview(config, path)
    except SpectralLabError as exc:
        return {ui.signal_info: f"⚠️ {exc}"}


def default_preview() -> dict:
    """The default preset's preview, as the page is served."""
    config, _ = _config_from(_preset_values(DEFAULT_PRESET), check=False)
    return _copies(_builtin_preview(config.to_query()))


def _copies(updates: dict) -> dict:
    """A cached preview (by component name) for this page's components, each update a copy."""
    return update_copies({getattr(ui, name): update for name, update in updates.items()})


def initial_value(component, value) -> None:
    """Set a component's value in the page as served (as Gradio's constructor would have set it)."""
    value = component.postprocess(value)
    component.value = value.model_dump() if hasattr(value, "model_dump") else value


@functools.lru_cache(maxsize=64)
def _builtin_preview(query: str) -> dict:
    """component name -> its update (names, not components: a test process builds several pages)."""
    by_component = _preview(RunConfig.from_query(query), None)
    names = {id(getattr(ui, name)): name for name in vars(ui)}
    return {names[id(component)]: update for component, update in by_component.items()}


def _preview(config: RunConfig, path) -> dict:
    signal = load_ui_signal(config, path, LIMITS, check_size=False)
    info = (f"**{signal.summary()}** · spectral centroid ψ = {spectral_centroid(signal):.3f} "
            f"(WINNER Eq. 10; high ψ = high-frequency dominant)")
    if config.task != "fit":  # what the networks will be given and scored on; a bad knob says so here (ConfigError)
        info += f"  \n**Task** {split_task(config, signal).description}"
    updates = {ui.signal_info: info, ui.recon_note: RECONSTRUCTION_NOTES.get(signal.kind, ""),
               ui.target_audio: gr.update(visible=False), ui.gallery: gr.update(visible=False),
               ui.recon_plot: target_plot(signal)}
    if signal.kind == "audio":
        updates[ui.target_audio] = gr.update(value=to_audio(signal), visible=True)
    return updates


def on_upload(file, *values):
    """Check an upload at once and say what is wrong next to the upload button. A good one becomes
    the signal (the picker says "upload: name", the preset's note gives way); its size is left to
    the run's plan (Train fits it to this server's time), and a clip says how it will be shortened:
    its first samples, the loudest stretch, or all of it resampled — the visitor's choice."""
    path = getattr(file, "name", file)
    control = {name: ui.controls[CONTROL_FIELDS.index(name)]
               for name in ("length", "image_size", "signal_options", "width", "depth")}
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
    # a preset's width and depth (the landing 1D preset's 64) give way to those of the upload's kind; the
    # visitor's own stay (presets.sizes_for_signal)
    network = sizes_for_signal(config.replace(signal=str(path)), DEVICE)[0]
    crop = parse_options(config.signal_options).get("crop", "first")
    how = ("Train fits it to this server's time: choose below how a long clip is shortened (Length under Signal "
           "options sets the size yourself)" if audio else
           "Train fits it to this server's time (Image size under Signal options sets it yourself)")
    return {ui.upload_state: path, control[kind_size]: own, control["width"]: network.width,
            control["depth"]: network.depth,
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


def _share_link(request, config: RunConfig, methods: list[str], tune: bool = False) -> str:
    base = ""
    if request is not None:
        base = (request.headers.get("referer") or "").split("?")[0]
    return f"{base}?{share_query(config, methods, tune)}"
