"""The lab tab's layout: the controls column and the named result views; each builder adds its
components to `parts` (every component of the tab, for events.wire)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from spectral_lab.lab import CUSTOM, DEFAULT_PRESET, PRESETS
from spectral_lab.methods import PLUGIN_PROBLEMS, families_markdown
from spectral_lab.modifiers import MODIFIERS
from spectral_lab.ui.widgets import GALLERY_COLUMNS, LIMITS, results_table, slider
from spectral_lab.ui.words import EXPLAIN, GLOSSARY, RECONSTRUCTION_NOTES
from spectral_lab.ui.lab.views import blank_curves
from spectral_lab.ui.lab.state import AUDIO_SLOTS, CROP_CHOICES, METHOD_CHOICES, SIGNAL_CHOICES


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
    # the signal, the task asked of it and the task's one knob side by side: a row of their own pushed the status
    # out of a 720-px screen
    with gr.Row(elem_id="signal-row"):
        parts.signal = gr.Dropdown(SIGNAL_CHOICES, label="Signal", scale=3, min_width=100, elem_id="signal")
        _task_controls(parts)
    with gr.Row(elem_id="upload-row"):
        parts.upload = gr.UploadButton("Upload…", file_types=["audio", "image"], type="filepath",
                                       size="sm", scale=0, min_width=90, elem_id="upload-button")
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


# the tasks (tasks.py), short enough for a third of the controls column; the preview's "Task" line
# (settings._preview) says in words what the networks will be given and scored on
TASK_CHOICES = [("fit", "fit"), ("denoise", "denoise"), ("inpaint", "inpaint"), ("super-res", "superres")]


def _task_controls(parts: SimpleNamespace) -> None:
    """The Task beside the signal it is asked of, with its one knob (shown for its task only: on_task). One
    line of labels, no `info`: it made the row a third taller."""
    parts.task = gr.Dropdown(TASK_CHOICES, value="fit", label="Task", scale=3, min_width=100, elem_id="task")
    knob = dict(visible=False, min_width=70, scale=2)
    parts.noise_std = gr.Number(label="noise σ", elem_id="task-noise-std", **knob)
    parts.keep = gr.Number(label="keep", elem_id="task-keep", **knob)
    parts.factor = gr.Number(label="every s-th", precision=0, elem_id="task-factor", **knob)


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
        # empty axes in the page itself: they show where the curves will be, and load the plotting library
        # with the page (drawn first after Train, it kept the page busy 1.1 s in one task; bench_browser.py)
        parts.curves = gr.Plot(blank_curves(), elem_id="curves-plot", show_label=False)
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
