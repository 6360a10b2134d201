"""The "CNN weights (NeRN / SBS)" tab of the app: wiring and words only (science in spectral_lab.nern).

Pick the predictor's hidden width (which sets the compression ratio), the encoding, the
kernel ordering and σ; Train one predictor or sweep several widths, and watch the kernels'
PSNR, the rebuilt CNN's accuracy, the kernels' spectra and the predictor's eNTK.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from spectral_lab import plots
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import NOTHING_RUNNING, RUNNING_STOPPED, Sessions, session_key, user_message
from spectral_lab.lab.lessons import expand_link
from spectral_lab.ui.widgets import RUNS, SLOTS
from spectral_lab.nern import (ORDERING_DOCS, ORDERINGS, SETTINGS, NernConfig, NernRun, compression_ratio,
                               layer_spectra)

MAX_HIDDEN = 512
MAX_STEPS = 20_000
MAX_SWEEP = 6
SESSIONS = Sessions()  # session hash -> the predictor training now (Stop finds it)
DEFAULTS = NernConfig()

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
    """Train each config in turn; yield (status, curves, spectra, ntk, table rows, accuracy-vs-CR)."""
    session = session_key(request)
    skip = gr.skip()
    rows = list(table or [])
    for index, config in enumerate(configs):
        try:
            run = NernRun(config)
        except SpectralLabError as exc:
            yield [f"⚠️ {exc}", skip, skip, skip, skip, skip, skip]
            return
        label = f"{config.encoding}+{config.smoothing} h{config.hidden}"
        turn = SLOTS.enter(f"CNN predictor {label}", 30.0)  # one pool of training slots for every tab
        try:
            for words in SLOTS.wait(turn):
                yield [words, skip, skip, skip, skip, skip, skip]
            SESSIONS.start(session, run)
            spectra = plots.render(plots.kernel_spectra_figure(layer_spectra(run.signal)))
            yield from _train_one(run, config, label, index, len(configs), spectra)
        except (SpectralLabError, FloatingPointError) as exc:
            yield [f"**Failed** — {user_message(exc)}", skip, skip, skip, skip, skip, skip]
            return
        finally:
            SESSIONS.finish(session, run)
            SLOTS.leave(turn)
        result = run.result
        rows.append({"setting": f"{config.encoding}+{config.smoothing}", **result.row()})
        word = "**Stopped**" if result.stopped else "**Finished**"
        status = (f"{word} · {label}: CR {100 * result.cr:.1f}%, accuracy {100 * result.accuracy:.1f}% "
                  f"(original {100 * result.original_accuracy:.1f}%), kernel MSE {result.mse:.3g}")
        yield [status, skip, skip, skip, pd.DataFrame(rows),
               plots.render(plots.accuracy_vs_cr_figure(rows, result.original_accuracy)), rows]
        if result.stopped:
            return


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
        ntk = (plots.render(plots.nern_projection_figure(snapshot.ntk, snapshot.unsmoothed_projections))
               if snapshot.ntk is not None else skip)
        yield [status, plots.render(plots.nern_curves_figure({label: run.history}, run.original_accuracy)),
               spectra, ntk, skip, skip, skip]
        spectra = skip


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


# What a link (a CNN lesson's follow-up) may set, in the order of build_tab's knobs
LINK_KNOBS = ("setting", "smoothing", "encoding", "hidden", "sigma", "rule", "steps", "feature_weight", "kd_weight",
              "seed")


def _link(request) -> dict:
    """The NeRN settings of a link for this tab (`tab=nern`, e.g. a lesson's follow-up), else {}."""
    query, _ = expand_link(dict(request.query_params) if request is not None else {})
    return query if query.get("tab") == "nern" else {}


def on_link(request: gr.Request):
    """Set the knobs a link names: `setting` fills ordering, encoding and rule (as the dropdown does);
    `hidden`, `steps` and `seed` take whole numbers; anything else is left as it is."""
    query, values = _link(request), {}
    if query.get("setting") in SETTINGS:
        encoding, smoothing, rule = SETTINGS[query["setting"]]
        values.update(setting=query["setting"], smoothing=smoothing, encoding=encoding, rule=rule)
    for name in ("hidden", "steps", "seed"):
        if query.get(name, "").isdigit():
            values[name] = int(query[name])
    return [values.get(name, gr.skip()) for name in LINK_KNOBS]


def on_autorun(request: gr.Request, table, *values):
    """Train at once when the link says run=1 (a lesson's follow-up)."""
    if _link(request).get("run") != "1":
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
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            setting = gr.Dropdown([("SBS: UOS + UOS-RFF", "sbs"), ("NeRN: cosine ordering + PE", "nern"),
                                   ("SBS without smoothing (RFF)", "sbs_plain"), ("NeRN without smoothing (PE)", "nern_plain")],
                                  value="sbs", label="Setting (fills the three below)")
            smoothing = gr.Dropdown([(f"{name}: {ORDERING_DOCS[name]}", name) for name in ORDERINGS], value="uos",
                                    label="Kernel ordering", elem_id="nern-smoothing")
            encoding = gr.Radio([("RFF (SBS)", "rff"), ("positional encoding (NeRN)", "pe")], value="rff",
                                label="Encoding")
            rule = gr.Radio([("one σ for the network (SBS Sec. 5)", "network"),
                             ("per layer, σ_l² = σ²·n̄/n_l (this lab's reading of UOS-RFF)", "per_layer")],
                            value=DEFAULTS.rff_rule, label="RFF bandwidth rule")
            hidden = gr.Slider(8, MAX_HIDDEN, value=DEFAULTS.hidden, step=8, label="Hidden width (sets CR)",
                               elem_id="nern-hidden")
            ratio = gr.Markdown(on_ratio("sbs", "uos", "rff", DEFAULTS.hidden, DEFAULTS.rff_sigma, DEFAULTS.rff_rule,
                                         DEFAULTS.steps, DEFAULTS.feature_weight, DEFAULTS.kd_weight, 0),
                                elem_id="nern-ratio")
            sigma = gr.Number(value=DEFAULTS.rff_sigma, label="RFF σ")
            steps = gr.Slider(50, MAX_STEPS, value=DEFAULTS.steps, step=50, label="Steps")
            with gr.Row():
                feature_weight = gr.Number(value=DEFAULTS.feature_weight, label="α feature-map loss")
                kd_weight = gr.Number(value=DEFAULTS.kd_weight, label="β distillation loss")
            seed = gr.Number(value=0, precision=0, label="Seed")
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
