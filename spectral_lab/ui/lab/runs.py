"""The lab tab's runs: Train (and a follow-up's or a script's `/train_link` run), in a training slot,
streamed frame by frame; Stop, Reset, and what a closed tab gives back."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import gradio as gr

from spectral_lab import RunConfig
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import (DEFAULT_PRESET, NOTHING_RUNNING, PRESETS, RUNNING_STOPPED, LiveComparison, has_settings,
                              matching_preset, parse_link, session_key, share_tune, to_audio, user_message,
                              with_app_cadence)
from spectral_lab.lab.estimate import plan_lab_run
from spectral_lab.lab.prerecord import VISITORS
from spectral_lab.lab.recordings import Recording
from spectral_lab.modifiers import expand_methods
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.train import pick_device
from spectral_lab.ui.widgets import (DEVICE, FOLLOWUP_RECORDINGS, GALLERY_COLUMNS, LIMITS, SESSIONS, SLOTS, gallery_height,
                                     results_table)
from spectral_lab.ui.lab.settings import (CONTROL_FIELDS, _config_from, _link_query, _preset_values, _share_link,
                                           _upload_path, _values_from)
from spectral_lab.ui.lab.state import FINISHED, FOLDERS, ui
from spectral_lab.ui.lab.views import _frame_updates, target_plot


def on_autorun(request: gr.Request, *inputs):
    """A follow-up link (or `run=1`) trains at once, as if Train were pressed after the page loaded. A
    lesson's follow-up is recorded: the next student who opens it is served this run."""
    query, _ = _link_query(request)
    if query.get("run") != "1" or not has_settings(query):
        yield {ui.status: gr.skip()}  # (an empty dict reads as one missing value)
        return
    yield {ui.status: on_queue(request)}
    yield from _train(request, "followup" in request.query_params, *inputs)


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
    yield from _train(request, False, upload, chosen_modifiers, modifier_mode, tune, *values)


@dataclass
class PlannedRun:
    live: LiveComparison  # planned to this server's budget, with the app's cadences
    asked: RunConfig  # the settings as the user gave them (the share link's)
    methods: list[str]
    preset: str  # the preset the planned settings match (or CUSTOM)


def planned_run(upload, chosen_modifiers, modifier_mode, tune, *values, follow_up: bool = False) -> PlannedRun:
    """The run Train starts from the controls' values. Bad input raises. A lesson's follow-up trains as its
    lesson wrote it (its claim rests on those settings), whatever the server's budget for one run: it is
    recorded once, in the background from the server's start, and served to every student after."""
    *field_values, methods = values
    methods = expand_methods(list(methods or []), list(chosen_modifiers or []), modifier_mode)
    config, methods = _config_from([*field_values, methods])
    device = pick_device(config.device)
    pinned = {name for name, value in zip(CONTROL_FIELDS, field_values) if value not in ("", None)
              and name in ("image_size", "length")}  # blank sizes, and the steps, the plan may shrink
    plan = plan_lab_run(config, methods, _upload_path(upload), LIMITS, device.type, bool(tune), pinned,
                        budget=math.inf if follow_up else None)
    live = LiveComparison(with_app_cadence(plan.config, device.type), methods, plan.signal, stream=gpu_stream(),
                          tune=bool(tune), note=plan.note, estimate=plan.seconds)
    return PlannedRun(live, config, methods, matching_preset(plan.config, methods, DEVICE))


def recording_key(live: LiveComparison) -> tuple:
    """What makes two lab runs the same run: every setting (the seed among them), the methods, tuning
    and the device."""
    return "lab", live.config.to_query(), tuple(live.methods), live.tune, live.device_type


def _train(request: gr.Request, record: bool, upload, chosen_modifiers, modifier_mode, tune, *values):
    """Train (a run of these settings this server recorded is served instead; `record`: a lesson's
    follow-up, recorded for the next visitor)."""
    session = session_key(request)
    try:
        run = planned_run(upload, chosen_modifiers, modifier_mode, tune, *values, follow_up=record)
    except SpectralLabError as exc:
        SESSIONS.discard(session)
        yield {ui.status: f"⚠️ {exc}"}
        return
    live, opening = run.live, _opening_updates(run.live, run.preset)
    # the share link: the user's settings, before the plan and the app's cadences
    opening[ui.share] = _share_link(request, run.asked, run.methods, bool(tune))
    key = recording_key(live) if _upload_path(upload) is None else None
    outcome, found = yield from _recording_of(session, key, record)
    if outcome == "cancelled":
        return
    if outcome == "served":
        yield from _serve(session, found, opening)
        return
    owner = outcome == "records"
    turn = SLOTS.enter(", ".join(run.methods), live.estimate)
    last = None
    try:
        last = yield from _train_in_turn(session, live, turn, opening)
    finally:
        SLOTS.leave(turn)
        if owner:
            _keep_visitor_s_run(key, live, last, session)


def _recording_of(session: str, key, record: bool):
    """("served", the recording of these settings), waiting while another run of them trains (saying so);
    ("records", None): this run trains and will be the recording (`record`: a follow-up); ("trains", None):
    it trains, unrecorded; ("cancelled", None): Stop ended the wait."""
    while key is not None:
        recording = FOLLOWUP_RECORDINGS.lookup(key)
        if recording is not None:
            return "served", recording
        if not record and not FOLLOWUP_RECORDINGS.training(key):
            break
        owner, ended = FOLLOWUP_RECORDINGS.claim(key)
        if owner:
            return "records", None
        yield {ui.status: RECORDING_ELSEWHERE}  # once: the line does not change while it waits
        while not ended.wait(timeout=1.0):
            if SESSIONS.cancelled(session):
                SESSIONS.discard(session)
                yield {ui.status: "**Cancelled** before it started: nothing was trained."}
                return "cancelled", None
    return "trains", None


def keep_recording(key, live: LiveComparison, last) -> bool:
    """A finished run of a follow-up becomes the server's recording of it (a copy: what its own visitor
    changes later stays theirs); anything else lets the next visitor train it. True when stored."""
    if last is None or live.outcome() != "finished":
        FOLLOWUP_RECORDINGS.abandon(key)
        return False
    FOLLOWUP_RECORDINGS.store(key, Recording(live.viewer_copy(), last, seconds=time.perf_counter() - live.started))
    return True


def _keep_visitor_s_run(key, live: LiveComparison, last, session: str) -> None:
    """A visitor's run of a follow-up kept as the recording; its history is then the recording's, which
    the tab's replay budget must never drop."""
    if keep_recording(key, live, last):
        live.recorded = True
        FINISHED[session] = live


def _serve(session: str, recording: Recording, opening: dict):
    """This server's recording of the run, as the run's last frame shows it, with its own replay, details
    and downloads for this visitor (a copy: another visitor's replay never moves this one's)."""
    VISITORS.touch()
    viewer = recording.run.viewer_copy()
    SESSIONS.discard(session)
    FINISHED[session] = viewer
    FOLDERS.remove(session)
    yield opening
    updates = _frame_updates(recording.last_frame, viewer, FOLDERS.make(session))
    updates[ui.status] = f"{recording.last_frame.status} · ⓘ {RECORDED_NOTE}"
    yield updates


SEARCHING_TITLE = "Target (the fits appear once each method's learning rate is found)"
RECORDED_NOTE = ("recorded on this server: this run (same settings, same seed) trained here once and is shown to "
                 "every visitor who runs it; change any setting to train it live")
RECORDING_ELSEWHERE = ("Another visitor's run of exactly these settings is training on this server; you will see "
                       "its result (the same run, same seed) as soon as it ends. Stop leaves.")


def _opening_updates(live: LiveComparison, preset: str) -> dict:
    """The results column as a run of `live` starts: cleared, its panels shown for its kind of signal."""
    signal, methods = live.signal, live.methods
    # a tuned image run draws no fit until every search has ended (~30 s): its target meanwhile, not a blank gallery
    searching = signal.kind == "image" and bool(live.tune)
    return {**_clear_outputs(), ui.status: live.status_line(), ui.preset: preset,
            ui.details_choice: gr.update(choices=methods, value=methods[0], visible=len(methods) > 1),
            ui.gallery: gr.update(visible=signal.kind == "image" and not searching, columns=GALLERY_COLUMNS,
                                  height=gallery_height(len(methods) + 1)),
            ui.recon_plot: (target_plot(signal, SEARCHING_TITLE) if searching
                            else gr.update(visible=signal.kind != "image")),
            # the target player plays exactly what is fitted (the preview played the whole upload)
            ui.target_audio: gr.update(visible=signal.kind == "audio",
                                       **({"value": to_audio(signal)} if signal.kind == "audio" else {})),
            ui.replay_row: gr.update(visible=True), ui.replay: gr.update(value=0, maximum=1), ui.curves_x: "step"}


def _train_in_turn(session: str, live: LiveComparison, turn, opening: dict):
    """Wait for a training slot (saying where this visitor stands), then train and stream the frames;
    returns the last frame (None when it never started)."""
    for words in SLOTS.wait(turn, cancelled=lambda: SESSIONS.cancelled(session)):
        yield {ui.status: words}
    if turn.started is None or not SESSIONS.start(session, live):
        SESSIONS.discard(session)
        yield {ui.status: "**Cancelled** before it started: nothing was trained."}
        return None
    FINISHED[session] = live
    FOLDERS.remove(session)  # the previous run's downloads: no longer shown
    outdir = FOLDERS.make(session)
    yield opening
    last = None
    try:
        for frame in live.frames():
            last = frame
            yield _frame_updates(frame, live, outdir)
    except SpectralLabError as exc:
        yield {ui.status: f"**Failed** — {exc}"}
    except Exception as exc:  # a bug of ours: one line here, the traceback in the server log
        yield {ui.status: f"**Failed** — {user_message(exc)}. Please report it."}
        raise
    finally:
        live.stop()
        SESSIONS.finish(session, live)
    return last


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
