"""The lab tab's runs: Train (and a follow-up's or a script's `/train_link` run), in a training slot,
streamed frame by frame; Stop, Reset, and what a closed tab gives back."""
from __future__ import annotations

import gradio as gr

from spectral_lab import RunConfig
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import (DEFAULT_PRESET, NOTHING_RUNNING, PRESETS, RUNNING_STOPPED, LiveComparison, has_settings,
                              matching_preset, parse_link, session_key, share_tune, to_audio, user_message,
                              with_app_cadence)
from spectral_lab.lab.estimate import plan_lab_run
from spectral_lab.modifiers import expand_methods
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.train import pick_device
from spectral_lab.ui.widgets import DEVICE, GALLERY_COLUMNS, LIMITS, SESSIONS, SLOTS, gallery_height, results_table
from spectral_lab.ui.lab.settings import (CONTROL_FIELDS, _config_from, _link_query, _preset_values, _share_link,
                                           _upload_path, _values_from)
from spectral_lab.ui.lab.state import FINISHED, FOLDERS, ui
from spectral_lab.ui.lab.views import _frame_updates


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
           # the target player plays exactly what is fitted (the preview played the whole upload)
           ui.target_audio: gr.update(visible=signal.kind == "audio",
                                      **({"value": to_audio(signal)} if signal.kind == "audio" else {})),
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
