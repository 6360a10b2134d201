"""The lab tab's events: page load (a link, a follow-up's run), every setting's edit, and the runs'
buttons, wired to the callbacks of settings, runs and views."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from spectral_lab.lab import DEFAULT_PRESET, SIZE_FIELDS
from spectral_lab.ui.widgets import PAGE_LOAD, PRIVATE, RUNS
from spectral_lab.ui.lab.runs import on_autorun, on_queue, on_reset, on_stop, on_train, on_train_link
from spectral_lab.ui.lab.settings import (CONTROL_FIELDS, _preset_values, default_preview, initial_value, on_crop,
                                          on_edit, on_hide, on_link, on_load, on_methods, on_preset, on_preview,
                                          on_signal, on_task, on_upload)
from spectral_lab.ui.lab.state import UI_NAMES, ui
from spectral_lab.ui.lab.views import on_details, on_export, on_gif, on_live, on_play, on_replay, on_x_axis


def wire(demo: gr.Blocks, parts: SimpleNamespace, triggers: SimpleNamespace) -> None:
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
    _start_at_default(parts)
    _wire_link(parts, triggers)
    _wire_settings(parts)
    _wire_runs(parts)
    hideable = [parts.preset, parts.preset_note, parts.upload, parts.methods, parts.method_info, parts.steps,
                parts.share, parts.families, *parts.accordions]
    triggers.hide.click(on_hide, None, hideable, **PAGE_LOAD)


def _start_at_default(parts: SimpleNamespace) -> None:
    """The page as served shows the default preset, its preview drawn: a link without lab settings sends
    no event for the lab (page.py's link triggers), and its share link is made when the tab opens."""
    for component, value in zip(parts.controls, _preset_values(DEFAULT_PRESET)):
        initial_value(component, value)
    initial_value(parts.method_info, on_methods(_preset_values(DEFAULT_PRESET)[-1]))
    for component, update in default_preview().items():
        update = update if isinstance(update, dict) else {"value": update}
        if "value" in update:
            initial_value(component, update["value"])
        if "visible" in update:
            component.visible = update["visible"]


def _wire_link(parts: SimpleNamespace, triggers: SimpleNamespace) -> None:
    """A link with lab settings: they fill the controls, then their preview and share link, then a
    follow-up's run; the tab's share link is made when a visitor opens it."""
    parts.tab.select(on_link, parts.edit_inputs, parts.share, **PAGE_LOAD)
    triggers.lab.click(on_load, None, parts.controls + [parts.preset_note, parts.preset, parts.tune], **PAGE_LOAD).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PAGE_LOAD).then(
        on_link, parts.edit_inputs, parts.share, **PAGE_LOAD).then(
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
                         parts.preset, parts.preset_note, parts.crop, parts.signal_options, parts.width,
                         parts.depth], queue=False,
                        **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE).then(
        on_edit, parts.edit_inputs, parts.edit_outputs, **PRIVATE)
    parts.crop.input(on_crop, [parts.crop, parts.signal_options], parts.signal_options, queue=False, **PRIVATE).then(
        on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE)
    for trigger in (parts.length.submit, parts.image_size.submit, parts.gray.input, parts.signal_options.submit):
        trigger(on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE)
    parts.methods.change(on_methods, parts.methods, parts.method_info, **PRIVATE)
    # .change: a preset's or a link's task too; the task or its knob edited: the preview says what it will see
    parts.task.change(on_task, parts.task, [parts.noise_std, parts.keep, parts.factor], queue=False, **PRIVATE)
    for trigger in (parts.task.input, parts.noise_std.submit, parts.keep.submit, parts.factor.submit,
                    parts.noise_std.blur, parts.keep.blur, parts.factor.blur):
        trigger(on_preview, parts.preview_inputs, parts.preview_outputs, **PRIVATE)
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
