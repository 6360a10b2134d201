"""The "Lessons" tab of the app: six guided lessons, words and wiring only (the lessons, their
settings and their takeaways are spectral_lab.lab.lessons).

Each lesson: three lines of plain words, a question to answer *before* the run, one button that
trains the lesson's settings and shows its evidence, then a takeaway written from the run's own
numbers, and follow-up experiments that open the full lab and train. Lesson 1 is the landing view
of the bare address; `?lesson=3` deep-links a lesson, `&seed=5` pins its seed and
`&hide=picker,followups` hides parts (a teacher's link).
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import gradio as gr

from spectral_lab import plots
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import LiveComparison, load_ui_signal, session_key, user_message
from spectral_lab.lab.lessons import (FIRST_LESSON, LESSONS, Lesson, cnn_lesson_run, expand_link, find_lesson,
                                      kernel_low_share,
                                      lesson_comparison, lesson_settings, lesson_takeaway)
from spectral_lab.nern import layer_spectra
from spectral_lab.spaces_support import gpu_stream

ui = SimpleNamespace()  # this tab's components (set by build_tab)
CONTEXT = SimpleNamespace(sessions=None, limits=None, device="cpu")  # the app's, set by build_tab
LESSON_CHOICES = [(f"{lesson.number} · {lesson.title}", lesson.key) for lesson in LESSONS.values()]
# The one heavy panel each lesson shows beside the reconstructions and curves, and what it says
EVIDENCE = {
    "spectral-bias": ("bands", "**Error per frequency band** over training, one panel per method: dark = not yet "
                               "learned, bright = learned. Spectral bias: the low bands (bottom rows) brighten first."),
    "ntk": ("ntk", "**The eNTK**, measured as the networks train: its eigenvalues (top left: the faster they fall, "
                   "the fewer fast directions), the share of the target on the i fastest eigenvectors (top right), "
                   "and S(k), where the kernel puts its energy in frequency (below)."),
    "bottleneck": ("ntk", "**The eNTK** of each network. Below: S(k), where its kernel puts energy in frequency, "
                          "with the target's spectrum dashed. Where S(k) has no energy but the target does, "
                          "gradient descent cannot go."),
    "damping": ("bands", "**Error per frequency band** over training, one panel per method: dark = not yet "
                         "learned, bright = learned."),
    "steering": ("bands", "**Error per frequency band** over training: compare when the upper rows (high "
                          "frequencies) brighten with and without IGA."),
    "cnn-weights": ("spectra", "**The largest layer's kernels** on their (filter, channel) grid in the CNN's order "
                               "and smoothed, and their 2D spectra: smoothing gathers energy near the centre (low "
                               "frequencies)."),
}
GALLERY_COLUMNS = 4  # target + up to 3 methods in one row
GALLERY_HEIGHT = 280  # one row of ~200-px tiles with their captions


def lesson_markdown(lesson: Lesson) -> str:
    return f"### Lesson {lesson.number} · {lesson.title}\n\n{lesson.text}"


def followups_markdown(lesson: Lesson) -> str:
    links = "\n".join(f"- [{f.label}](?followup={lesson.number}.{i + 1})" for i, f in enumerate(lesson.followups))
    where = "the CNN weights tab" if lesson.kind == "nern" else "the full lab"
    return f"**Try next** (opens {where} with these settings and trains):\n{links}"


def _run_label(lesson: Lesson, answered: bool) -> dict:
    return gr.update(value=f"Run lesson {lesson.number}" if answered else "Answer first to run",
                     interactive=answered)


def _pick_updates(lesson: Lesson) -> dict:
    """A lesson's words and question, and its target (what the run will fit) before the run."""
    updates = {ui.text: lesson_markdown(lesson), ui.followups: followups_markdown(lesson),
               ui.question: gr.update(choices=list(lesson.choices), value=None,
                                      label=f"Predict first: {lesson.question}"),
               ui.run: _run_label(lesson, False), ui.status: "", ui.takeaway: "",
               ui.evidence_note: EVIDENCE[lesson.key][1], ui.evidence: gr.update(value=None, visible=False),
               ui.curves: gr.update(value=None, visible=False), ui.gallery: gr.update(value=None, visible=False),
               ui.recon: gr.update(value=None, visible=False)}
    if lesson.kind == "signals":
        config, _, _ = lesson_settings(lesson)
        signal = load_ui_signal(config, None, CONTEXT.limits)
        # the target alone as a figure (a gallery stretches and crops a single image)
        updates[ui.recon] = gr.update(value=plots.render(plots.reconstruction_figure(signal, None, "Target")),
                                      visible=True)
    return updates


def on_pick(key: str, request: gr.Request):
    """Another lesson: a run of the previous one stops (its takeaway would land under this one)."""
    CONTEXT.sessions.stop(session_key(request))
    lesson = find_lesson(key) or LESSONS[FIRST_LESSON]
    return _pick_updates(lesson)


def on_answer(key: str, answer):
    lesson = find_lesson(key) or LESSONS[FIRST_LESSON]
    return _run_label(lesson, answer is not None)


def on_load(request: gr.Request):
    """The bare address (a first visit) and `?lesson=` land here; a link with settings opens the lab.
    `seed=` pins the lesson's seed; `hide=picker,followups` hides those parts."""
    query = dict(request.query_params) if request is not None else {}
    lesson = find_lesson(query.get("lesson")) or LESSONS[FIRST_LESSON]
    tab = expand_link(query)[0].get("tab") or ("lessons" if not query or "lesson" in query else "signals")
    try:
        seed = int(query["seed"]) if "lesson" in query and "seed" in query else None
    except ValueError:
        seed = None
    hidden = {part.strip() for part in query.get("hide", "").split(",")}
    return {**_pick_updates(lesson), ui.picker: gr.update(value=lesson.key, visible="picker" not in hidden),
            ui.followups: gr.update(value=followups_markdown(lesson), visible="followups" not in hidden),
            ui.seed: seed, ui.tabs: gr.Tabs(selected=tab if tab in ("lessons", "signals", "nern") else "lessons")}


def on_queue(request: gr.Request):
    CONTEXT.sessions.queue(session_key(request))
    return "Waiting for a free training slot…"


def on_run(request: gr.Request, key: str, answer, seed):
    """Train the lesson's settings, show its evidence live, then the takeaway from the run's numbers."""
    lesson = find_lesson(key) or LESSONS[FIRST_LESSON]
    session = session_key(request)
    if answer is None:
        CONTEXT.sessions.discard(session)
        yield {ui.status: "Answer the question first: predicting is half the lesson."}
        return
    if lesson.kind == "nern":
        yield from _run_cnn(lesson, session, answer, seed)
        return
    panel = EVIDENCE[lesson.key][0]
    live, refusal = _claim(session, lambda: lesson_comparison(
        lesson, CONTEXT.device, seed=seed, limits=CONTEXT.limits, stream=gpu_stream(), panels=("reconstruction", panel)))
    if refusal:
        yield {ui.status: refusal}
        return
    image = live.signal.kind == "image"
    yield {ui.takeaway: "", ui.status: "Starting…",
           ui.gallery: gr.update(value=None, visible=image, columns=GALLERY_COLUMNS, height=GALLERY_HEIGHT),
           ui.recon: gr.update(value=None, visible=not image), ui.evidence: gr.update(value=None, visible=True),
           ui.curves: gr.update(value=None, visible=True)}
    try:
        for frame in live.frames():
            yield _frame_updates(frame, panel)
    except Exception as exc:  # a bug of ours: one line here, the traceback in the server log
        yield {ui.status: f"**Failed** — {user_message(exc)}. Please report it."}
        raise
    finally:
        live.stop()
        CONTEXT.sessions.finish(session, live)
    final = {ui.takeaway: _takeaway_text(lesson, live, answer)}
    if live.outcome() == "finished":  # plain words here; the lab's status has the PSNR conventions
        final[ui.status] = f"**Finished** in {time.perf_counter() - live.started:.0f} s."
    yield final


def _claim(session: str, build):
    """Build the lesson's run and register it as the session's (Stop finds it): (run, '') or
    (None, the status to show) for a bad setting or a run cancelled while it waited."""
    try:
        run = build()
    except SpectralLabError as exc:
        CONTEXT.sessions.discard(session)
        return None, f"⚠️ {exc}"
    if not CONTEXT.sessions.start(session, run):
        return None, "**Cancelled** before it started: nothing was trained."
    return run, ""


def _frame_updates(frame, panel: str) -> dict:
    updates = {ui.status: frame.status}
    if frame.curves is not None:
        updates[ui.curves] = plots.render(frame.curves)
    if frame.gallery is not None:
        updates[ui.gallery] = gr.update(value=frame.gallery, visible=True, columns=GALLERY_COLUMNS,
                                        height=GALLERY_HEIGHT)
    if frame.reconstruction is not None:
        updates[ui.recon] = gr.update(value=plots.render(frame.reconstruction), visible=True)
    spec = getattr(frame, panel)
    if spec is not None:
        updates[ui.evidence] = gr.update(value=plots.render(spec), visible=True)
    return updates


def _takeaway_text(lesson: Lesson, live: LiveComparison, answer: int) -> str:
    outcome = live.outcome()
    if outcome != "finished":
        return f"The run ended *{outcome}*, so there is no takeaway: run it again to the end."
    return "**Takeaway.** " + lesson_takeaway(lesson, live.views, prediction=answer).text


def _run_cnn(lesson: Lesson, session: str, answer: int, seed):
    """The CNN lesson: one NeRN predictor (SBS's setting), its curves and the kernel spectra."""
    run, refusal = _claim(session, lambda: cnn_lesson_run(seed))
    if refusal:
        yield {ui.status: refusal}
        return
    spectra = layer_spectra(run.signal)
    yield {ui.takeaway: "", ui.gallery: gr.update(visible=False), ui.recon: gr.update(visible=False),
           ui.evidence: gr.update(value=plots.render(plots.kernel_spectra_figure(spectra)), visible=True),
           ui.curves: gr.update(value=None, visible=True), ui.status: "Starting…"}
    config = run.config
    try:
        for snapshot in run.snapshots():
            if snapshot.step % max(1, config.steps // 10) and snapshot.accuracy is None:
                continue
            accuracy = f" · rebuilt CNN {100 * snapshot.accuracy:.1f} %" if snapshot.accuracy is not None else ""
            yield {ui.status: f"Training the predictor · step {snapshot.step}/{config.steps} · kernel PSNR "
                              f"{snapshot.psnr:.2f} dB{accuracy}",
                   ui.curves: plots.render(plots.nern_curves_figure({"SBS (UOS + RFF)": run.history},
                                                                   run.original_accuracy))}
    except (SpectralLabError, FloatingPointError) as exc:
        yield {ui.status: f"**Failed** — {user_message(exc)}"}
        return
    finally:
        CONTEXT.sessions.finish(session, run)
    result = run.result
    word = "Stopped" if result.stopped else "Finished"
    takeaway = ("The run was stopped, so there is no takeaway: run it again to the end." if result.stopped else
                "**Takeaway.** " + lesson_takeaway(lesson, result, kernel_low_share(spectra), prediction=answer).text)
    yield {ui.status: f"**{word}** in {result.seconds:.0f} s.", ui.takeaway: takeaway}


def on_stop(request: gr.Request):
    CONTEXT.sessions.stop(session_key(request))
    return gr.skip()


def build_tab(sessions, limits, device: str, concurrency: int) -> SimpleNamespace:
    """Lay out the tab inside the caller's gr.Tab and wire it; returns its components (the app's
    load event fills them from the link, with the `tabs` the app adds)."""
    CONTEXT.sessions, CONTEXT.limits, CONTEXT.device = sessions, limits, device
    first = LESSONS[FIRST_LESSON]
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=340, elem_id="lesson-card"):
            picker = gr.Dropdown(LESSON_CHOICES, value=first.key, label="Lesson", elem_id="lesson-picker")
            text = gr.Markdown(lesson_markdown(first), elem_id="lesson-text")
            question = gr.Radio(list(first.choices), type="index", label=f"Predict first: {first.question}",
                                elem_id="lesson-question")
            with gr.Row():
                run = gr.Button("Answer first to run", variant="primary", interactive=False,
                                elem_id="lesson-run", scale=3)
                stop = gr.Button("Stop", variant="stop", elem_id="lesson-stop", scale=1, min_width=70)
            status = gr.Markdown(elem_id="lesson-status")
            takeaway = gr.Markdown(elem_id="lesson-takeaway")
            followups = gr.Markdown(followups_markdown(first), elem_id="lesson-followups")
        with gr.Column(scale=3, elem_id="lesson-results"):
            gallery = gr.Gallery(label="Target and fits", columns=GALLERY_COLUMNS, height=GALLERY_HEIGHT, object_fit="contain",
                                 allow_preview=False, elem_id="lesson-gallery", format="png", visible=False,
                                 interactive=False)
            recon = gr.Plot(show_label=False, visible=False, elem_id="lesson-recon")
            evidence_note = gr.Markdown(EVIDENCE[first.key][1], elem_id="lesson-evidence-note")
            evidence = gr.Plot(show_label=False, visible=False, elem_id="lesson-evidence")
            curves = gr.Plot(show_label=False, visible=False, elem_id="lesson-curves")
    seed = gr.State(None)  # a teacher's link may pin the seed
    for name in ("picker", "text", "question", "run", "stop", "status", "takeaway", "followups", "gallery", "recon",
                 "evidence_note", "evidence", "curves", "seed"):
        setattr(ui, name, locals()[name])
    private = dict(api_visibility="private")
    picker.input(on_pick, picker, [text, followups, question, run, status, takeaway, evidence_note, evidence, curves,
                                   gallery, recon], queue=False, **private)
    question.input(on_answer, [picker, question], run, queue=False, **private)
    run.click(on_queue, None, status, queue=False, **private).then(
        on_run, [picker, question, seed], [status, takeaway, gallery, recon, evidence, curves],
        concurrency_limit=concurrency, concurrency_id="train", **private)
    stop.click(on_stop, None, status, queue=False, **private)
    return ui


__all__ = ["build_tab", "on_load", "lesson_markdown", "followups_markdown"]
