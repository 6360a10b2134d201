"""The "CNN weights (NeRN / SBS)" tab of the app: wiring and words only (science in spectral_lab.nern).

Pick the predictor's hidden width (which sets the compression ratio), the encoding, the
kernel ordering and σ; Train one predictor or sweep several widths, and watch the kernels'
PSNR, the rebuilt CNN's accuracy, the kernels' spectra and the predictor's eNTK.

The CNN lesson's follow-ups (`?followup=6.N`) are recorded like the lab's: the first run of a follow-up's
settings on this server (a student's click, or the background recording from start-up, ui/prerecord.py) is
stored and served to every later click of the same settings; a click while it trains waits for it.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from spectral_lab import plots
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import NOTHING_RUNNING, RUNNING_STOPPED, Sessions, session_key, user_message
from spectral_lab.lab.lessons import LESSONS, expand_link
from spectral_lab.lab.prerecord import VISITORS
from spectral_lab.lab.recordings import Recording
from spectral_lab.ui.widgets import DEVICE, FOLLOWUP_RECORDINGS, LESSON_STEPS, RUNS, SLOTS, plot_json
from spectral_lab.nern import (ORDERING_DOCS, ORDERINGS, SETTINGS, NernConfig, NernRun, compression_ratio,
                               layer_spectra)

MAX_HIDDEN = 512
MAX_STEPS = 20_000
MAX_SWEEP = 6
SESSIONS = Sessions()  # session hash -> the predictor training now (Stop finds it)
DEFAULTS = NernConfig()
STEPS_GRID = 50  # the Steps slider's step (and minimum)
# SPECTRAL_LAB_LESSON_STEPS (the served tests' page checks) shortens the CNN lesson's follow-ups too, to a value
# on the Steps slider's grid: the page sends back the value it shows, and the recording's key holds the steps
FOLLOWUP_STEPS = max(STEPS_GRID, round(int(LESSON_STEPS) / STEPS_GRID) * STEPS_GRID) if LESSON_STEPS else None

EXPLAIN = (
    "Every 3×3 kernel of a small ResNet trained on scikit-learn's digits is a sample of a signal "
    "indexed by (layer, filter, channel). A 5-layer ReLU MLP learns it; the CNN is rebuilt from the "
    "MLP's output and tested. **Smoothing** reorders kernels within each layer so neighbours are "
    "similar (the order is stored and undone exactly): *nern* = NeRN's cosine ordering, *uos* = SBS's "
    "one-directional Euclidean chain, *mos* = SBS's multi-directional variant. **RFF**: random Fourier "
    "features of bandwidth σ, one σ for the network as SBS picks it, or per layer (this lab's reading of "
    "UOS-RFF). Loss: reconstruction, then (after a warm-up) + α·feature maps + β·distillation, as NeRN and "
    "SBS train. CR = MLP parameters / CNN parameters.")
EXPLAIN_SPECTRA = ("Centre tap of each kernel of the largest layer on its (filter, channel) grid, in the CNN's "
                   "order and smoothed, and their 2D spectra: smoothing moves energy to low frequencies, "
                   "which a ReLU MLP learns first (SBS Fig. 2 A–B).")
EXPLAIN_NTK = ("The predictor's empirical NTK on a window of the largest layer: eigenvalue decay, and the kernels "
               "projected on its eigenvectors. Smoothed kernels (solid) sit more on the fast, large-λ directions "
               "than the CNN's order (dashed): SBS Fig. 2 D–F.")


def _config(setting, smoothing, encoding, hidden, sigma, rule, steps, feature_weight, kd_weight, seed) -> NernConfig:
    try:
        hidden, steps = int(hidden), int(steps)
    except (TypeError, ValueError):
        raise SpectralLabError("hidden width and steps must be whole numbers") from None
    if hidden > MAX_HIDDEN or steps > MAX_STEPS:
        raise SpectralLabError(f"this app allows hidden ≤ {MAX_HIDDEN} and steps ≤ {MAX_STEPS}; "
                               "use `python -m spectral_lab nern fit` for more")
    return NernConfig(smoothing=smoothing, encoding=encoding, hidden=hidden, rff_sigma=float(sigma or 0),
                      rff_rule=rule, steps=steps, feature_weight=float(feature_weight or 0),
                      kd_weight=float(kd_weight or 0), seed=int(seed or 0), warmup=DEFAULTS.warmup,
                      log_every=max(1, steps // 100), eval_every=max(1, steps // 10), ntk_every=max(1, steps // 4),
                      ntk_points=256)


def on_setting(setting):
    encoding, smoothing, rule = SETTINGS[setting]
    return smoothing, encoding, rule


def on_ratio(*values):
    try:
        config = _config(*values)
        return f"**CR = {100 * compression_ratio(config):.1f}%** of the CNN's parameters"
    except SpectralLabError as exc:
        return f"⚠ {exc}"


def _train_many(request: gr.Request, configs: list[NernConfig], table: list[dict]):
    """Train each config in turn, or serve this server's recording of it; yield (status, curves, spectra, ntk,
    table rows, accuracy-vs-CR, rows state)."""
    session, rows = session_key(request), list(table or [])
    for index, config in enumerate(configs):
        key = recording_key(config)
        outcome, recording = yield from _recording_of(session, key, _records(config))
        if outcome == "cancelled":
            return
        if outcome == "served":
            rows = yield from _serve(recording, rows)
            continue
        result = yield from _train_config(session, config, index, len(configs), rows,
                                          key if outcome == "records" else None)
        if result is None or result.stopped:
            return


def _train_config(session: str, config: NernConfig, index: int, total: int, rows: list[dict], key):
    """Train one predictor in a training slot, streaming its progress, then its final line with its row added
    to `rows`. `key`: this run is the server's recording of these settings, stored when it finishes and
    released otherwise (stopped, failed, the tab closed: the next visitor trains it). Returns its result
    (None: it failed)."""
    skip, stored = gr.skip(), False
    try:
        try:
            run = NernRun(config)
        except SpectralLabError as exc:
            yield [f"⚠️ {exc}", skip, skip, skip, skip, skip, skip]
            return None
        label = predictor_label(config)
        SESSIONS.queue(session)  # a ticket: Stop while this waits for a slot leaves the line
        turn = SLOTS.enter(f"CNN predictor {label}", 30.0)  # one pool of training slots for every tab
        try:
            for words in SLOTS.wait(turn, cancelled=lambda: SESSIONS.cancelled(session)):
                yield [words, skip, skip, skip, skip, skip, skip]
            if turn.started is None or not SESSIONS.start(session, run):
                SESSIONS.discard(session)
                yield ["**Cancelled** before it started: nothing was trained.", skip, skip, skip, skip, skip, skip]
                return None
            spectra = plots.render(plots.kernel_spectra_figure(layer_spectra(run.signal)))
            yield from _train_one(run, config, label, index, total, spectra)
        except (SpectralLabError, FloatingPointError) as exc:
            yield [f"**Failed** — {user_message(exc)}", skip, skip, skip, skip, skip, skip]
            return None
        finally:
            SESSIONS.finish(session, run)
            SLOTS.leave(turn)
        if key is not None:  # stored before this visitor's last frame: whoever waits for it is served at once
            stored = keep_recording(key, run, spectra)
        status, row = _summary(run)
        rows.append(row)
        yield [status, skip, skip, skip, pd.DataFrame(rows),
               plots.render(plots.accuracy_vs_cr_figure(rows, run.result.original_accuracy)), rows]
        return run.result
    finally:
        if key is not None and not stored:
            FOLLOWUP_RECORDINGS.abandon(key)


def predictor_label(config: NernConfig) -> str:
    return f"{config.encoding}+{config.smoothing} h{config.hidden}"


def _summary(run: NernRun) -> tuple[str, dict]:
    """A finished (or stopped) run's final status line and its table row."""
    config, result, label = run.config, run.result, predictor_label(run.config)
    word = "**Stopped**" if result.stopped else "**Finished**"
    status = (f"{word} · {label}: CR {100 * result.cr:.1f}%, accuracy {100 * result.accuracy:.1f}% "
              f"(original {100 * result.original_accuracy:.1f}%), kernel MSE {result.mse:.3g}")
    return status, {"setting": f"{config.encoding}+{config.smoothing}", **result.row()}


def _train_one(run: NernRun, config: NernConfig, label: str, index: int, total: int, spectra):
    """One predictor's progress, at most two updates a second (and every NTK / accuracy point)."""
    skip, last = gr.skip(), 0.0
    for snapshot in run.snapshots():
        if time.perf_counter() - last < 0.5 and snapshot.ntk is None and snapshot.accuracy is None:
            continue
        last = time.perf_counter()
        accuracy = f", accuracy {100 * snapshot.accuracy:.1f}%" if snapshot.accuracy is not None else ""
        status = (f"run {index + 1}/{total} · {label} · step {snapshot.step}/{config.steps} · "
                  f"kernel PSNR {snapshot.psnr:.2f} dB{accuracy}")
        ntk = _ntk_figure(snapshot) if snapshot.ntk is not None else skip
        yield [status, _curves_figure(run), spectra, ntk, skip, skip, skip]
        spectra = skip


def _curves_figure(run: NernRun):
    return plots.render(plots.nern_curves_figure({predictor_label(run.config): run.history}, run.original_accuracy))


def _ntk_figure(snapshot):
    return plots.render(plots.nern_projection_figure(snapshot.ntk, snapshot.unsmoothed_projections))


# --- Recorded runs: the CNN lesson's follow-ups, in the lab's follow-ups' store (one byte budget) ---
RECORDED_NOTE = ("recorded on this server: this predictor (same settings, same seed) trained here once and is shown "
                 "to every visitor who trains it; change any setting to train it live")
RECORDING_ELSEWHERE = ("Another visitor's run of exactly these settings is training on this server; you will see its "
                       "result (the same run, same seed) as soon as it ends. Stop leaves.")


@dataclass
class RecordedPredictor:
    """A finished predictor as the tab's last frame showed it. Its panels are drawn once, as the JSON Gradio
    sends (a class is sent one drawing); its row joins each viewer's own table, over which each viewer's
    accuracy-vs-CR plot is drawn. Neither the network nor the CNN is kept: nothing here is trained further."""

    status: str
    panels: dict  # "curves", "spectra", "ntk" -> PlotData
    row: dict
    original_accuracy: float


def recording_key(config: NernConfig) -> tuple:
    """What makes two predictor runs the same run: every setting, the seed among them, and the device. A
    NernConfig is a mutable dataclass (unhashable): its query string (the settings apart from the defaults)
    stands for it. "cnn" keeps these keys apart from the lab's ("lab", …) in the one store."""
    return "cnn", config.to_query(), DEVICE


def follow_ups() -> list[str]:
    """The CNN lesson's follow-ups ("6.1", …)."""
    return [f"{lesson.number}.{index + 1}" for lesson in LESSONS.values() if lesson.kind == "nern"
            for index in range(len(lesson.followups))]


def followup_config(number: str) -> NernConfig:
    """The predictor a follow-up's link trains: a fresh page's knobs with the values on_link sets from the
    link, read as Train reads the knobs (_config). The background recording's key is a click's key."""
    values = {**KNOB_DEFAULTS, **link_values({"followup": number})}
    return _config(*(values[name] for name in LINK_KNOBS))


def _records(config: NernConfig) -> bool:
    """A follow-up's settings, by its link or typed in, are recorded for the next visitor; other settings
    train live (a class's explorations would push the lessons' recordings out of the store)."""
    return recording_key(config) in {recording_key(followup_config(number)) for number in follow_ups()}


def _recording_of(session: str, key, record: bool):
    """("served", the recording of these settings), waiting while another run of them trains (saying so
    once); ("records", None): this run trains and is the recording (`record`); ("trains", None): it trains,
    unrecorded; ("cancelled", None): Stop ended the wait."""
    skip = gr.skip()
    while True:
        recording = FOLLOWUP_RECORDINGS.lookup(key)
        if recording is not None:
            return "served", recording
        if not record and not FOLLOWUP_RECORDINGS.training(key):
            return "trains", None
        owner, ended = FOLLOWUP_RECORDINGS.claim(key)
        if owner:
            return "records", None
        SESSIONS.queue(session)  # a ticket: Stop cancels the wait
        yield [RECORDING_ELSEWHERE, skip, skip, skip, skip, skip, skip]
        while not ended.wait(timeout=1.0):
            if SESSIONS.cancelled(session):
                SESSIONS.discard(session)
                yield ["**Cancelled** before it started: nothing was trained.", skip, skip, skip, skip, skip, skip]
                return "cancelled", None
        SESSIONS.discard(session)  # stored: served next time round; abandoned: this visitor may train it


def _serve(recording: Recording, rows: list[dict]):
    """The recorded predictor's last frame, its row added to this visitor's own table; returns that table.
    Every panel a deep copy per viewer: Gradio consumes what it sends, and a panel shared by viewers reached
    the third one blank."""
    VISITORS.touch()
    recorded: RecordedPredictor = recording.run
    panels, rows = copy.deepcopy(recorded.panels), [*rows, dict(recorded.row)]
    yield [f"{recorded.status} · ⓘ {RECORDED_NOTE}", panels["curves"], panels["spectra"], panels["ntk"],
           pd.DataFrame(rows), plots.render(plots.accuracy_vs_cr_figure(rows, recorded.original_accuracy)), rows]
    return rows


def keep_recording(key, run: NernRun, spectra) -> bool:
    """A finished run stored as the server's recording of `key`, its panels drawn now (`spectra`: its kernel
    spectra figure); a stopped one lets the next visitor train it. True when stored."""
    if run.result is None or run.result.stopped:
        FOLLOWUP_RECORDINGS.abandon(key)
        return False
    status, row = _summary(run)
    last_ntk = next((snapshot for snapshot in reversed(run.history) if snapshot.ntk is not None), None)
    panels = {"curves": plot_json(_curves_figure(run)), "spectra": plot_json(spectra),
              "ntk": plot_json(_ntk_figure(last_ntk)) if last_ntk is not None else None}
    recorded = RecordedPredictor(status, panels, row, run.original_accuracy)
    FOLLOWUP_RECORDINGS.store(key, Recording(recorded, seconds=run.result.seconds,
                                             nbytes=sum(len(panel.plot) for panel in panels.values() if panel)))
    return True


def on_train(request: gr.Request, table, *values):
    try:
        config = _config(*values)
    except SpectralLabError as exc:
        yield [f"⚠️ {exc}"] + [gr.skip()] * 6
        return
    yield from _train_many(request, [config], table)


def on_sweep(request: gr.Request, table, widths, *values):
    try:
        hiddens = [int(w) for w in str(widths).replace(" ", "").split(",") if w]
        if not hiddens or len(hiddens) > MAX_SWEEP:
            raise SpectralLabError(f"give 1 to {MAX_SWEEP} hidden widths")
        configs = [_config(values[0], values[1], values[2], h, *values[4:]) for h in hiddens]
    except ValueError:
        yield [f"⚠️ widths: comma-separated whole numbers, got {widths!r}"] + [gr.skip()] * 6
        return
    except SpectralLabError as exc:
        yield [f"⚠️ {exc}"] + [gr.skip()] * 6
        return
    yield from _train_many(request, configs, table)


# What a link (a CNN lesson's follow-up) may set, in the order of build_tab's knobs (and _config's arguments)
LINK_KNOBS = ("setting", "smoothing", "encoding", "hidden", "sigma", "rule", "steps", "feature_weight", "kd_weight",
              "seed")
# The knobs on a fresh page (build_tab's values): a follow-up's run is these with its link's values
KNOB_DEFAULTS = {"setting": "sbs", "smoothing": DEFAULTS.smoothing, "encoding": DEFAULTS.encoding,
                 "hidden": DEFAULTS.hidden, "sigma": DEFAULTS.rff_sigma, "rule": DEFAULTS.rff_rule,
                 "steps": DEFAULTS.steps, "feature_weight": DEFAULTS.feature_weight, "kd_weight": DEFAULTS.kd_weight,
                 "seed": 0}


def _link(query_params: dict) -> dict:
    """The NeRN settings of a link for this tab (`tab=nern`, e.g. a lesson's follow-up), else {}."""
    query, _ = expand_link(dict(query_params))
    return query if query.get("tab") == "nern" else {}


def link_values(query_params: dict) -> dict:
    """The knobs a link names: `setting` fills ordering, encoding and rule (as the dropdown does); `hidden`,
    `steps` and `seed` take whole numbers, σ, α and β numbers ≥ 0 (a follow-up's α = β = 0 is its claim: the
    reconstruction loss alone); anything else is left as it is."""
    query, values = _link(query_params), {}
    if query.get("setting") in SETTINGS:
        encoding, smoothing, rule = SETTINGS[query["setting"]]
        values.update(setting=query["setting"], smoothing=smoothing, encoding=encoding, rule=rule)
    for name in ("hidden", "steps", "seed"):
        if query.get(name, "").isdigit():
            values[name] = int(query[name])
    for name in ("sigma", "feature_weight", "kd_weight"):
        try:
            number = float(query[name])
        except (KeyError, ValueError):
            continue
        if math.isfinite(number) and number >= 0:
            values[name] = number
    if FOLLOWUP_STEPS and "followup" in query_params and "steps" in values:
        values["steps"] = FOLLOWUP_STEPS
    return values


def on_link(request: gr.Request):
    """Set the knobs a link names (link_values)."""
    values = link_values(dict(request.query_params) if request is not None else {})
    return [values.get(name, gr.skip()) for name in LINK_KNOBS]


def on_autorun(request: gr.Request, table, *values):
    """Train at once when the link says run=1 (a lesson's follow-up: served when this server recorded it)."""
    if _link(dict(request.query_params) if request is not None else {}).get("run") != "1":
        yield [gr.skip()] * 7
        return
    yield from on_train(request, table, *values)


def on_stop(request: gr.Request):
    """The run's own final frame says "Stopped" (a message written here could land after it)."""
    message = SESSIONS.stop(session_key(request))
    # a running one says so in its next frame; after a run, keep its final summary on screen
    return gr.skip() if message in (RUNNING_STOPPED, NOTHING_RUNNING) else message


def build_tab(concurrency: int) -> SimpleNamespace:
    """Lay out the tab inside the caller's gr.Blocks / gr.Tab context and wire it; returns the knobs,
    the training outputs and the rows state (the app's load event fills them from a link)."""
    gr.Markdown(EXPLAIN)
    start = KNOB_DEFAULTS  # a follow-up's recorded run assumes these values (followup_config)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            setting = gr.Dropdown([("SBS: UOS + UOS-RFF", "sbs"), ("NeRN: cosine ordering + PE", "nern"),
                                   ("SBS without smoothing (RFF)", "sbs_plain"), ("NeRN without smoothing (PE)", "nern_plain")],
                                  value=start["setting"], label="Setting (fills the three below)")
            smoothing = gr.Dropdown([(f"{name}: {ORDERING_DOCS[name]}", name) for name in ORDERINGS],
                                    value=start["smoothing"], label="Kernel ordering", elem_id="nern-smoothing")
            encoding = gr.Radio([("RFF (SBS)", "rff"), ("positional encoding (NeRN)", "pe")], value=start["encoding"],
                                label="Encoding")
            rule = gr.Radio([("one σ for the network (SBS Sec. 5)", "network"),
                             ("per layer, σ_l² = σ²·n̄/n_l (this lab's reading of UOS-RFF)", "per_layer")],
                            value=start["rule"], label="RFF bandwidth rule")
            hidden = gr.Slider(8, MAX_HIDDEN, value=start["hidden"], step=8, label="Hidden width (sets CR)",
                               elem_id="nern-hidden")
            ratio = gr.Markdown(on_ratio(*(start[name] for name in LINK_KNOBS)), elem_id="nern-ratio")
            sigma = gr.Number(value=start["sigma"], label="RFF σ")
            steps = gr.Slider(STEPS_GRID, MAX_STEPS, value=start["steps"], step=STEPS_GRID, label="Steps")
            with gr.Row():
                feature_weight = gr.Number(value=start["feature_weight"], label="α feature-map loss")
                kd_weight = gr.Number(value=start["kd_weight"], label="β distillation loss")
            seed = gr.Number(value=start["seed"], precision=0, label="Seed")
            with gr.Row():
                train = gr.Button("Train", variant="primary", elem_id="nern-train")
                stop = gr.Button("Stop", variant="stop", elem_id="nern-stop")
            widths = gr.Textbox(value="16,32,48", label="Sweep: hidden widths (accuracy vs CR)")
            sweep = gr.Button("Sweep widths", elem_id="nern-sweep")
        with gr.Column(scale=2):
            status = gr.Markdown("Press **Train**.", elem_id="nern-status")
            curves = gr.Plot(elem_id="nern-curves", show_label=False)
            table = gr.Dataframe(label="Runs this session", interactive=False, elem_id="nern-table")
            cr_plot = gr.Plot(elem_id="nern-cr-plot", show_label=False)
            gr.Markdown("### Kernel spectra\n" + EXPLAIN_SPECTRA)
            spectra = gr.Plot(elem_id="nern-spectra", show_label=False)
            gr.Markdown("### Predictor eNTK\n" + EXPLAIN_NTK)
            ntk = gr.Plot(elem_id="nern-ntk", show_label=False)
    rows = gr.State([])
    knobs = [setting, smoothing, encoding, hidden, sigma, rule, steps, feature_weight, kd_weight, seed]
    outputs = [status, curves, spectra, ntk, table, cr_plot, rows]
    setting.change(on_setting, setting, [smoothing, encoding, rule], api_visibility="private")
    for control in (hidden, encoding, rule):
        control.change(on_ratio, knobs, ratio, queue=False, api_visibility="private")  # instant, no training queue
    train.click(on_train, [rows] + knobs, outputs, **RUNS,
                api_visibility="private")
    sweep.click(on_sweep, [rows, widths] + knobs, outputs, **RUNS,
                api_visibility="private")
    stop.click(on_stop, None, status, queue=False, api_visibility="private")
    return SimpleNamespace(knobs=knobs, outputs=outputs, rows=rows)
