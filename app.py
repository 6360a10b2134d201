"""Spectral Lab in the browser: pick a signal and methods, press Train, watch spectral bias live.

Wiring and words only; every number comes from spectral_lab (see spectral_lab/live.py).
Run: python app.py  (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; never needs the internet)
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import tempfile
import threading
from pathlib import Path

import gradio as gr
import matplotlib

matplotlib.use("Agg")

import app_nern
from spectral_lab import RunConfig, methods as method_registry, plots
from spectral_lab.config import coerce
from spectral_lab.diagnostics import warm_up
from spectral_lab.errors import SpectralLabError
from spectral_lab.modifiers import MODIFIERS, expand_methods, split_method
from spectral_lab.live import (DEFAULT_PRESET, PRESETS, AppLimits, LiveComparison, check_limits, device_label,
                               load_ui_signal, parse_share_query, rows_to_csv, share_query, stop_session, to_audio,
                               with_app_cadence)
from spectral_lab.signals import SKIMAGE_IMAGES, SYNTHETIC, builtin_audio, spectral_centroid
from spectral_lab.train import pick_device

LIMITS = AppLimits.from_env()
CONCURRENCY = int(os.environ.get("SPECTRAL_LAB_CONCURRENCY", "1" if pick_device("auto").type == "cuda" else "2"))
SESSIONS: dict[str, LiveComparison] = {}  # session hash -> its running comparison (Stop finds it here)
SESSIONS_LOCK = threading.Lock()
SIGNAL_CHOICES = sorted(SYNTHETIC) + sorted(builtin_audio()) + list(SKIMAGE_IMAGES)
METHOD_CHOICES = [(f"{name} — {spec.description}", name) for name, spec in method_registry.METHODS.items()]

# The RunConfig fields the controls edit, in the order of the `controls` list below.
CONTROL_FIELDS = ["signal", "length", "image_size", "gray", "signal_options", "width", "depth", "omega0",
                  "first_omega0", "s0", "s1", "damping", "bias_scale", "pe_levels", "rff_sigma", "wire_omega",
                  "wire_sigma", "gauss_scale", "steps", "lr", "seed", "device", "ntk_points"]

EXPLAIN = {
    "curves": "**PSNR** = 10·log10(R²/MSE), R = 2 (targets in [-1, 1]). A flat line near the start value "
              "means the network outputs ~0: the *spectral bottleneck*.",
    "ntk": "**Empirical NTK** on a regular set of points. Left: eigenvalue decay (slow decay = many "
           "directions learn fast). Middle: **S(k)**, where the kernel puts its energy in frequency, beside the "
           "target's spectrum (dashed): where S(k) has no energy but the target does, training cannot go. "
           "Right: how much of the target (solid) and of the remaining error (dashed) lies along each "
           "eigenvector: fast directions on the left.",
    "activations": "Histograms of each hidden layer's pre-activations (the sine's argument) and outputs, with "
                   "theory curves: arcsine for SIREN outputs, N(0, 1 + d·s₁²/2) for SIREN²'s layer 2 (WINNER "
                   "Thm 3.1). Bottom row: each layer's power spectrum: does high-frequency energy reach the output?",
    "errors": "Images: pixel residual and FFT log-magnitude error. Audio: spectrograms of target and fit and "
              "their dB difference: a band that stays bright is one the network has not learned. "
              "Heatmap: relative error per frequency band over training (IGA Eq. 7): low bands go dark first.",
}


def _values_from(config: RunConfig, methods: list[str]) -> list:
    return [getattr(config, name) for name in CONTROL_FIELDS] + [methods]


def _config_from(values: list, check: bool = True) -> tuple[RunConfig, list[str]]:
    """Control values -> (RunConfig, methods). Blank controls (and damping 'auto') keep defaults."""
    *field_values, methods = values
    given = {name: coerce(name, str(value)) for name, value in zip(CONTROL_FIELDS, field_values)
             if value not in ("", None, "auto") or name == "device"}
    config = RunConfig.from_dict(given)
    methods = list(methods or [])
    if check:
        check_limits(config, methods, LIMITS)
    return config, methods


def _preset_values(name: str) -> list:
    config, methods = parse_share_query(PRESETS[name].query)
    return _values_from(config, methods)


# ----------------------------------------------------------------------------------------------
# Callbacks
# ----------------------------------------------------------------------------------------------
def on_load(request: gr.Request):
    """Restore the state from the link's query string, or the default preset."""
    query = dict(request.query_params) if request is not None else {}
    note = ""
    if query:
        try:
            config, methods = parse_share_query(query)
            check_limits(config, methods, LIMITS)
            return [*_values_from(config, methods), "Settings restored from the link."]
        except SpectralLabError as exc:
            note = f"The link's settings could not be used ({exc}); showing the default preset."
    return [*_preset_values(DEFAULT_PRESET), note or PRESETS[DEFAULT_PRESET].explanation]


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


def on_preset(name: str):
    return [*_preset_values(name), PRESETS[name].explanation]


def on_preview(*values):
    """Show the chosen signal (image / audio player / waveform) and its spectral centroid."""
    upload, *values = values
    try:
        config, _ = _config_from(values, check=False)  # the preview does not depend on the methods
        signal = load_ui_signal(config, upload, LIMITS)
    except SpectralLabError as exc:
        return f"⚠️ {exc}", gr.update(visible=False), gr.update(visible=False), gr.update(visible=False)
    info = (f"**{signal.summary()}** · spectral centroid ψ = {spectral_centroid(signal):.3f} "
            f"(WINNER Eq. 10; high ψ = high-frequency dominant)")
    if signal.kind == "image":
        return info, gr.update(value=signal.to_original(), visible=True), gr.update(visible=False), gr.update(visible=False)
    figure = plots.render(plots.reconstruction_figure(signal, None, "Target"))
    audio = gr.update(value=to_audio(signal), visible=True) if signal.kind == "audio" else gr.update(visible=False)
    return info, gr.update(visible=False), audio, gr.update(value=figure, visible=True)


def on_train(request: gr.Request, *values):
    upload, chosen_modifiers, modifier_mode, *values = values
    session = request.session_hash if request is not None else "local"
    skip = gr.skip()
    try:
        *field_values, methods = values
        methods = expand_methods(list(methods or []), list(chosen_modifiers or []), modifier_mode)
        config, methods = _config_from([*field_values, methods])
        signal = load_ui_signal(config, upload, LIMITS)
        check_limits(config, methods, LIMITS, signal)
        device = pick_device(config.device)
    except SpectralLabError as exc:
        raise gr.Error(str(exc), print_exception=False)
    link = _share_link(request, config, methods)  # the user's settings, before the app's cadences
    config = with_app_cadence(config, device.type)
    live = LiveComparison(config, methods, signal)
    with SESSIONS_LOCK:
        previous = SESSIONS.pop(session, None)
        if previous is not None:
            previous.stop()
        SESSIONS[session] = live
    outdir = Path(tempfile.mkdtemp(prefix="spectral-lab-"))
    try:
        for frame in live.frames():
            render = lambda spec: plots.render(spec) if spec is not None else skip
            image = gr.update(value=frame.image, visible=True) if frame.image is not None else skip
            audio = gr.update(value=frame.audio, visible=True) if frame.audio is not None else skip
            recon = gr.update(value=plots.render(frame.reconstruction), visible=True) if frame.reconstruction else skip
            table = _table(frame.table) if frame.table is not None else skip
            files = _exports(live, outdir) if frame.done else skip
            yield [frame.status, render(frame.curves), render(frame.ntk), render(frame.kernel),
                   render(frame.activations), render(frame.errors), render(frame.bands), image, audio, recon,
                   table, files, link]
    except SpectralLabError as exc:
        raise gr.Error(str(exc), print_exception=False)
    except Exception as exc:  # a bug of ours: say so in one line; the server log has the traceback
        raise gr.Error(f"Training failed ({type(exc).__name__}: {exc}). Please report it.") from exc
    finally:
        live.stop()
        with SESSIONS_LOCK:
            if SESSIONS.get(session) is live:
                del SESSIONS[session]


def on_stop(request: gr.Request):
    return stop_session(SESSIONS, SESSIONS_LOCK, request.session_hash if request is not None else "local")


def on_reset():
    return [*_preset_values(DEFAULT_PRESET), PRESETS[DEFAULT_PRESET].explanation, DEFAULT_PRESET]


def _share_link(request, config: RunConfig, methods: list[str]) -> str:
    base = ""
    if request is not None:
        base = (request.headers.get("referer") or "").split("?")[0]
    return f"{base}?{share_query(config, methods)}"


def _table(rows: list[dict]):
    import pandas as pd

    columns = ["method", "psnr_db", "ssim", "rho_ag", "params", "seconds", "steps/s", "note"]
    frame = pd.DataFrame(rows, columns=columns) if not rows else pd.DataFrame(rows)
    return frame[[c for c in columns if c in frame]].fillna("–")


def _exports(live: LiveComparison, outdir: Path) -> list[str]:
    """results.csv and PNG figures (matplotlib) for download."""
    if not live.rows:
        return []
    files = [rows_to_csv(live.rows, outdir / "results.csv")]
    specs = {"psnr.png": plots.psnr_figure(live.curves, "PSNR and loss")}
    if live.ntk_results:
        specs["ntk.png"] = plots.ntk_figure(live.ntk_results)
    for name, spec in specs.items():
        plots.save_png(spec, outdir / name)
        files.append(outdir / name)
    return [str(f) for f in files]


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------
def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Spectral Lab") as demo:
        gr.Markdown("# Spectral Lab\nSee *spectral bias* in coordinate MLPs. Pick a signal and methods, press "
                    f"**Train**, and watch the NTK spectrum and the error move. Running on **{device_label()}**.")
        with gr.Tabs():
            with gr.Tab("Signals: audio, images, 1D", id="signals"):
                with gr.Row():
                    with gr.Column(scale=1, min_width=320):
                        preset = gr.Dropdown(list(PRESETS), value=DEFAULT_PRESET, label="Preset")
                        preset_note = gr.Markdown(PRESETS[DEFAULT_PRESET].explanation)
                        with gr.Group():
                            signal = gr.Dropdown(SIGNAL_CHOICES, label="Signal", allow_custom_value=False)
                            upload = gr.File(label="…or upload audio / an image", file_types=["audio", "image"],
                                             type="filepath")
                            with gr.Row():
                                length = gr.Number(label="Length (samples)", placeholder="default", precision=0)
                                image_size = gr.Number(label="Image size (px)", placeholder="keep", precision=0)
                            gray = gr.Checkbox(label="Grayscale")
                            signal_options = gr.Textbox(label="Generator knobs", placeholder="e.g. freqs=5,80 amps=1,0.5")
                        methods = gr.Dropdown(METHOD_CHOICES, multiselect=True, label="Methods (several = compare mode)",
                                              max_choices=LIMITS.max_methods, allow_custom_value=True,
                                              info="type method+modifier for a combination, e.g. relu_pe+iga")
                        method_info = gr.Markdown(elem_id="method-info")
                        with gr.Row():
                            modifiers = gr.CheckboxGroup([(f"{m.name}: {m.description}", m.name) for m in MODIFIERS.values()],
                                                         label="Training modifiers")
                            modifier_mode = gr.Radio([("compare with and without each", "each"),
                                                      ("apply all to every method", "combined")], value="each",
                                                     label="Modifiers are")
                        with gr.Accordion("Network and method knobs (blank = the method's default)", open=False):
                            with gr.Row():
                                width = gr.Slider(8, LIMITS.max_width, step=8, label="Width")
                                depth = gr.Slider(1, LIMITS.max_depth, step=1, label="Hidden layers")
                            with gr.Row():
                                omega0 = gr.Number(label="ω₀ hidden", placeholder="30")
                                first_omega0 = gr.Number(label="ω₀ first layer", placeholder="auto")
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
                                wire_omega = gr.Number(label="WIRE ω")
                                wire_sigma = gr.Number(label="WIRE σ")
                                gauss_scale = gr.Number(label="Gauss s")
                        with gr.Accordion("Training", open=True):
                            steps = gr.Slider(10, LIMITS.max_steps, step=10, label="Steps per method")
                            with gr.Row():
                                lr = gr.Number(label="Learning rate", placeholder="method default")
                                seed = gr.Number(label="Seed", precision=0)
                            with gr.Row():
                                device = gr.Dropdown(["auto", "cpu", "cuda"], label="Device")
                                ntk_points = gr.Slider(64, LIMITS.max_ntk_points, step=64, label="NTK points M")
                        with gr.Row():
                            train = gr.Button("Train", variant="primary", elem_id="train-button")
                            stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
                            reset = gr.Button("Reset", elem_id="reset-button")
                        share = gr.Textbox(label="Share link (the whole setup)", buttons=["copy"], interactive=False, elem_id="share-link")
                        signal_info = gr.Markdown()
                        target_image = gr.Image(label="Target", visible=False, interactive=False)
                        target_audio = gr.Audio(label="Target", visible=False, interactive=False)
                        target_plot = gr.Plot(label="Target", visible=False)
                    with gr.Column(scale=2):
                        status = gr.Markdown("Press **Train**.", elem_id="status")
                        # One scrolling column, no inner tabs: Gradio does not draw plots updated inside a hidden tab.
                        gr.Markdown("### Curves\n" + EXPLAIN["curves"])
                        curves = gr.Plot(elem_id="curves-plot", show_label=False)
                        results = gr.Dataframe(value=_table([]), label="Results", interactive=False, elem_id="results-table")
                        downloads = gr.File(label="Downloads (CSV, figures)", file_count="multiple", interactive=False, elem_id="downloads",
                                            height=120)
                        gr.Markdown("### Reconstruction")
                        recon_image = gr.Image(label="Current fit", visible=False, interactive=False, height=300)
                        recon_audio = gr.Audio(label="Current fit", visible=False, interactive=False)
                        recon_plot = gr.Plot(visible=False, show_label=False)
                        gr.Markdown("### Empirical NTK\n" + EXPLAIN["ntk"])
                        ntk = gr.Plot(elem_id="ntk-plot", show_label=False)
                        kernel = gr.Plot(show_label=False)
                        gr.Markdown("### Error map\n" + EXPLAIN["errors"])
                        errors = gr.Plot(elem_id="error-plot", show_label=False)
                        bands = gr.Plot(show_label=False)
                        gr.Markdown("### Activations\n" + EXPLAIN["activations"])
                        activations = gr.Plot(show_label=False)

            with gr.Tab("CNN weights (NeRN / SBS)", id="nern", elem_id="nern-tab"):
                app_nern.build_tab(CONCURRENCY)

        controls = [signal, length, image_size, gray, signal_options, width, depth, omega0, first_omega0, s0, s1,
                    damping, bias_scale, pe_levels, rff_sigma, wire_omega, wire_sigma, gauss_scale, steps, lr,
                    seed, device, ntk_points, methods]
        outputs = [status, curves, ntk, kernel, activations, errors, bands, recon_image, recon_audio, recon_plot,
                   results, downloads, share]
        preview_outputs = [signal_info, target_image, target_audio, target_plot]

        demo.load(on_load, None, controls + [preset_note], api_visibility="private").then(
            on_preview, [upload] + controls, preview_outputs, api_visibility="private")
        preset.input(on_preset, preset, controls + [preset_note], api_visibility="private").then(
            on_preview, [upload] + controls, preview_outputs, api_visibility="private")
        for trigger in (signal.input, upload.change, length.submit, image_size.submit, gray.input,
                        signal_options.submit):
            trigger(on_preview, [upload] + controls, preview_outputs, api_visibility="private")
        methods.change(on_methods, methods, method_info, api_visibility="private")
        train.click(on_train, [upload, modifiers, modifier_mode] + controls, outputs, concurrency_limit=CONCURRENCY, concurrency_id="train",
                    api_visibility="private")
        stop.click(on_stop, None, status, queue=False, api_visibility="private")
        reset.click(on_stop, None, status, queue=False, api_visibility="private").then(
            on_reset, None, controls + [preset_note, preset], api_visibility="private").then(
            on_preview, [upload] + controls, preview_outputs, api_visibility="private")
    return demo


def main() -> None:
    threading.Thread(target=warm_up, daemon=True).start()  # librosa's numba compile, off the first request
    demo = build_demo()
    demo.queue(max_size=32).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False, ssr_mode=False, footer_links=["settings"])


if __name__ == "__main__":
    main()
