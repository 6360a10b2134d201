"""The "Lessons" tab of the app: seven guided lessons, words and wiring only (the lessons, their
settings and their takeaways are spectral_lab.lab.lessons).

Each lesson: three lines of plain words, a question to answer *before* the run, one button that
trains the lesson's settings and shows its evidence, then a takeaway written from the run's own
numbers, and follow-up experiments that open the full lab and train. Lesson 1 is the landing view
of the bare address; `?lesson=3` deep-links a lesson, `&seed=5` pins its seed and
`&hide=picker,followups` hides parts (a teacher's link). `&class=CODE` shares each prediction and
what the run showed, anonymously, with a teacher's class (spectral_lab.lab.classroom; the teacher's
view is spectral_lab/ui/teacher.py), as the student whose random id the browser keeps (a reload or a
second tab is the same student).
"""
from __future__ import annotations

import functools
import html
import tempfile
from types import SimpleNamespace

import gradio as gr

from spectral_lab import plots
from spectral_lab.errors import SpectralLabError
from spectral_lab.lab import load_ui_signal, session_key, signal_kind, user_message
from spectral_lab.lab.classroom import SHARED_NOTE, ClassError, new_student_id, shared_classroom, student_id
from spectral_lab.lab.lessons import (FIRST_LESSON, LESSONS, Lesson, expand_link, find_lesson, lesson_settings,
                                      unknown_followup_note)
from spectral_lab.lab.links import link_page
from spectral_lab.lab.prerecord import DEMAND, VISITORS
from spectral_lab.spaces_support import gpu_stream
from spectral_lab.ui.widgets import LESSON_RUNNER, RUNS, plot_json, sent_as_is, update_copies

ui = SimpleNamespace()  # this tab's components (set by build_tab)
CONTEXT = SimpleNamespace(sessions=None, limits=None, device="cpu",  # the app's, set by build_tab
                          generations={})  # session -> how many times it picked a lesson (stale runs stay quiet)
LESSON_CHOICES = [(f"{lesson.number} · {lesson.title}", lesson.key) for lesson in LESSONS.values()]
# The one heavy panel each lesson shows beside the reconstructions and curves, and what it says
EVIDENCE = {
    "spectral-bias": ("bands", "**Error per frequency band** over training, one panel per method: dark = not yet "
                               "learned, bright = learned. Spectral bias: the low bands (bottom rows) brighten first "
                               "and the high ones later; a row that never changes was not learned at all."),
    "ntk": ("ntk", "**The eNTK** at step 0 (dashed) and at the end (solid): its eigenvalues (top left: the faster "
                   "they fall, the fewer fast directions), the share of the target on the i fastest eigenvectors "
                   "(top right), and S(k), where the kernel puts its energy in frequency (below). The takeaway "
                   "predicts the run from the step-0 kernel and checks it."),
    "bottleneck": ("ntk", "**The eNTK** of each network. Below: S(k), where its kernel puts energy in frequency, "
                          "with the target's spectrum dashed. Where S(k) has no energy but the target does, "
                          "gradient descent cannot go."),
    "damping": ("bands", "**Error per frequency band** over training, one panel per method: dark = not yet "
                         "learned, bright = learned."),
    "steering": ("bands", "**Error per frequency band** over training, with and without IGA. IGA is also faster, "
                          "so the takeaway compares the two at equal PSNR, not at equal steps."),
    "denoising": ("errors", "**Where the fit still differs from the clean photo**: the pixel error (left) and the "
                            "error per frequency (right). Once a network learns the noise, its error spreads to "
                            "every frequency. The curves above show each network's held-out PSNR (against the "
                            "clean photo) beside its training PSNR (against the noisy one)."),
    "cnn-weights": ("spectra", "**The largest layer's kernels** on their (filter, channel) grid in the CNN's order "
                               "and reordered (SBS), and their 2D spectra: energy near the centre = low "
                               "frequencies."),
}
CNN_CURVE_LABEL = "SBS's predictor, reordered kernels"  # the CNN lesson's curves
GALLERY_COLUMNS = 4  # target + up to 3 methods in one row
RECORDED_FILES = tempfile.mkdtemp(prefix="spectral-lab-recorded-")  # recorded runs' gallery images, made once
GALLERY_HEIGHT = 280  # one row of ~200-px tiles with their captions
# The lesson card, tighter than Gradio's default spacing (Run in the first screen at 1280×720: issue 35)
LESSON_CSS = """
#lesson-card {gap: 8px;}
#lesson-question .wrap {gap: 4px;}
#lesson-question label {padding: 4px 10px;}
"""
# A class link's student: a random id in the browser's localStorage under this key. Gradio sends a
# BrowserState's secret to the page in its config, so it hides nothing; a fixed one (not a new random
# one per server start) keeps every student's id readable after a restart, so they stay one student.
STUDENT_STORAGE_KEY = STUDENT_STORAGE_SECRET = "spectral-lab-student"


def lesson_markdown(lesson: Lesson) -> str:
    """The lesson's words, without its list of symbols (folded below Run, so the question and Run
    stay in the first screen at 1280×720)."""
    return f"### Lesson {lesson.number} · {lesson.title}\n\n{lesson.text.split(SYMBOLS_START)[0].strip()}"


SYMBOLS_START = "\n\n- "  # a lesson's text: its words, then a list of its symbols in plain words


def symbols_markdown(lesson: Lesson) -> str:
    return "- " + lesson.text.split(SYMBOLS_START, 1)[1] if SYMBOLS_START in lesson.text else ""


def followups_markdown(lesson: Lesson) -> str:
    links = "\n".join(f"- [{f.label}](?followup={lesson.number}.{i + 1})" for i, f in enumerate(lesson.followups))
    where = "the CNN weights tab" if lesson.kind == "nern" else "the full lab"
    return f"**Try next** (opens {where} with these settings and trains):\n{links}"


def _run_label(lesson: Lesson, answered: bool) -> dict:
    return gr.update(value=f"Run lesson {lesson.number}" if answered else "Answer first to run",
                     interactive=answered)


def _pick_updates(lesson: Lesson) -> dict:
    """A lesson's words and question, and its target (what the run will fit) before the run."""
    updates = {ui.text: lesson_markdown(lesson), ui.symbols: symbols_markdown(lesson),
               ui.followups: followups_markdown(lesson),
               ui.question: gr.update(choices=list(lesson.choices), value=None,
                                      label=f"Predict first: {lesson.question}"),
               ui.run: _run_label(lesson, False), ui.status: "", ui.takeaway: "",
               ui.evidence_note: EVIDENCE[lesson.key][1], ui.evidence: gr.update(value=None, visible=False),
               ui.curves: gr.update(value=None, visible=False), ui.gallery: gr.update(value=None, visible=False),
               ui.recon: gr.update(value=None, visible=False)}
    if lesson.kind == "signals":
        updates[ui.recon] = gr.update(value=_target_figure(lesson.key), visible=True)
    return updates


@functools.lru_cache(maxsize=None)
def _target_figure(key: str):
    """A lesson's target alone as a figure (a gallery stretches and crops a single image): drawn once per
    server and shared by every student's page (Gradio only reads it; building it took most of a page load)."""
    config, _, _ = lesson_settings(LESSONS[key])
    return plot_json(plots.render(plots.reconstruction_figure(load_ui_signal(config, None, CONTEXT.limits), None,
                                                              "Target")))


def on_pick(key: str, request: gr.Request):
    """Another lesson: a run of the previous one stops, and nothing more of it lands under this one."""
    session = session_key(request)
    CONTEXT.generations[session] = CONTEXT.generations.get(session, 0) + 1
    CONTEXT.sessions.stop(session)
    lesson = find_lesson(key) or LESSONS[FIRST_LESSON]
    return _pick_updates(lesson)


def on_answer(key: str, answer):
    lesson = find_lesson(key) or LESSONS[FIRST_LESSON]
    return _run_label(lesson, answer is not None)


def on_load(request: gr.Request):
    """The bare address (a first visit) and `?lesson=` land here; a link with settings opens the lab.
    `seed=` pins the lesson's seed; `hide=picker,followups` hides those parts."""
    VISITORS.touch()  # a page served: background recording waits for the class to settle (lab/prerecord.py)
    query = dict(request.query_params) if request is not None else {}
    tab, lesson, notes = link_page(expand_link(query)[0] if "followup" in query else query, find_lesson,
                                   LESSONS[FIRST_LESSON])
    notes = [note for note in (unknown_followup_note(query),) if note] + notes
    try:
        seed = int(query["seed"]) if "lesson" in query and "seed" in query else None
    except ValueError:
        seed = None
    hidden = {part.strip() for part in query.get("hide", "").split(",")}
    updates = _pick_updates(lesson)
    if notes:  # an unknown lesson or tab: said once, where the student reads
        # a link's text as typed: Markdown would strip "<b>x</b>" to "x"
        updates[ui.status] = " ".join(f"ⓘ {html.escape(note, quote=False)}" for note in notes)
    updates.update(_class_updates(query.get("class"), updates[ui.question]))
    # the link's lesson is in place: a page (or a browser test) can tell the load from the first paint
    updates[ui.question] = {**updates[ui.question], "elem_classes": ["lesson-loaded"]}
    return {**updates, ui.picker: gr.update(value=lesson.key, visible="picker" not in hidden),
            ui.followups: gr.update(value=followups_markdown(lesson), visible="followups" not in hidden),
            # a teacher's link: its own event opens the class's tab (whichever of the two ends last)
            ui.seed: seed, ui.tabs: gr.skip() if "teacher" in query else gr.Tabs(selected=tab)}


def _class_updates(text, question: dict) -> dict:
    """A class link's code (kept server-side for this page's runs), said in the question's own small
    print (no line of its own: the question and Run stay where they were); a bad or unknown code says
    so under Run and shares nothing."""
    if text is None:
        return {ui.class_code: None, ui.class_note: gr.update(value="", visible=False)}
    try:
        code = shared_classroom().student_class(text)
    except ClassError as exc:
        return {ui.class_code: None, ui.class_note: gr.update(value=f"ⓘ {exc} Your answers stay on this page.",
                                                              visible=True)}
    return {ui.class_code: code, ui.class_note: gr.update(value="", visible=False),
            ui.question: {**question, "info": SHARED_NOTE}}


def on_student(stored, request: gr.Request):
    """A class link's student: the id this browser keeps, or a fresh one it keeps from now on (none
    stored, or one that is not an id the server makes); (the browser's copy, the id runs share as).
    Other links store nothing."""
    query = dict(request.query_params) if request is not None else {}
    if "class" not in query:
        return gr.skip(), None
    kept = student_id(stored)
    if kept is not None:
        return gr.skip(), kept
    fresh = new_student_id()
    return fresh, fresh


def _share_prediction(code, lesson: Lesson, student: str, answer: int) -> dict:
    """A class page's prediction, stored as the run starts (a stopped run still counts its prediction)."""
    if code is None:
        return {}
    try:
        note = shared_classroom().share_prediction(code, lesson.key, student, answer)
    except ClassError as exc:
        note = f"⚠️ {exc}"
    return {ui.class_note: gr.update(value=note, visible=True)}


def _share_shown(code, lesson: Lesson, student: str, event) -> None:
    """What the finished run supports, beside the class page's prediction (a failure here costs the
    student nothing: the takeaway is theirs either way)."""
    if code is None or event.kind != "done" or event.recording is None:
        return
    try:
        shared_classroom().share_shown(code, lesson.key, student, event.supports)
    except ClassError:
        pass


def on_queue(request: gr.Request):
    CONTEXT.sessions.queue(session_key(request))
    return "Waiting for a free training slot…"


def on_run(request: gr.Request, key: str, answer, seed, class_code=None, student=None):
    """The lesson's run: served from this server's recording of it, or trained (waiting for a slot
    first), its evidence shown as it comes, then the takeaway for this student's prediction. A later
    pick of another lesson makes the rest of this run's updates stale: none lands under it. On a class
    link (`class_code`), the prediction and what the run showed go to the class as `student` (the
    browser's id; without one, this page's session)."""
    lesson = find_lesson(key) or LESSONS[FIRST_LESSON]
    session = session_key(request)
    sharer = student or session
    if answer is None:
        CONTEXT.sessions.discard(session)
        yield {ui.status: "Answer the question first: predicting is half the lesson."}
        return
    generation = CONTEXT.generations.get(session, 0)
    registered = []
    DEMAND.ask(lesson.number)  # its follow-ups are what this student clicks next: recorded before the others

    def start(run) -> bool:  # a run that trains: Stop finds it
        registered.append(run)
        return CONTEXT.sessions.start(session, run)

    panel = EVIDENCE[lesson.key][0]
    events = LESSON_RUNNER.run(lesson, seed, answer, cancelled=lambda: CONTEXT.sessions.cancelled(session),
                               on_start=start, stream=gpu_stream(), panels=("reconstruction", panel))
    yield {**_clear_for_run(lesson), **_share_prediction(class_code, lesson, sharer, answer)}
    try:
        for event in events:
            if CONTEXT.generations.get(session, 0) != generation:  # another lesson was picked
                return
            _share_shown(class_code, lesson, sharer, event)
            VISITORS.touch()  # a student waits or is served: no background run starts meanwhile
            updates = _event_updates(lesson, event, panel)
            if updates:  # (Gradio 6 reads an empty dict as one missing value and freezes the page)
                yield updates
    except SpectralLabError as exc:
        yield {ui.status: f"⚠️ {exc}"}
    except Exception as exc:  # a bug of ours: one line here, the traceback in the server log
        yield {ui.status: f"**Failed** — {user_message(exc)}. Please report it."}
        raise
    finally:
        events.close()
        CONTEXT.sessions.discard(session)
        for run in registered:
            run.stop()
            CONTEXT.sessions.finish(session, run)


def _clear_for_run(lesson: Lesson) -> dict:
    image = lesson.kind == "signals" and signal_kind(lesson_settings(lesson)[0].signal) == "image"
    return {ui.takeaway: "", ui.status: "Starting…",
            ui.gallery: gr.update(value=None, visible=image, columns=GALLERY_COLUMNS, height=GALLERY_HEIGHT),
            ui.recon: gr.update(value=None, visible=lesson.kind == "signals" and not image),
            ui.evidence: gr.update(value=None, visible=True), ui.curves: gr.update(value=None, visible=True)}


def _event_updates(lesson: Lesson, event, panel: str) -> dict:
    """One LessonEvent as the tab's components."""
    if event.kind == "status":
        return {ui.status: event.text}
    if event.kind == "frame":
        return _frame_updates(event.frame, panel)
    if event.kind == "cnn":
        return _cnn_updates(event)
    if event.recording is None:  # it ended without a result: stopped, or it diverged
        return {ui.status: "**Stopped**: the run did not reach its end, so there is no takeaway: run it again.",
                ui.takeaway: ""}
    # the panels again, also after a run this student trained: Gradio 6 applies each streamed update as a diff
    # on the last one, and panels sent in the last frame but left out of the takeaway's update were erased
    # before a busy page drew them (CI: lesson 3's first student saw a takeaway beside blank plots)
    updates = _recorded_panels(lesson, event.recording, panel)
    seconds = event.recording.seconds
    updates[ui.status] = (f"**Finished**: this server trained lesson {lesson.number} once ({seconds:.0f} s) and shows "
                          "you that run: same settings, same seed, the same numbers a fresh run gives." if event.served
                          else f"**Finished** in {seconds:.0f} s.")
    updates[ui.takeaway] = "**Takeaway.** " + event.text
    return updates


def _recorded_panels(lesson: Lesson, recording, panel: str) -> dict:
    """The recorded run's panels, drawn once per recording (by the first student, or by the server as it
    records it) and served to every student."""
    with recording.drawing:
        _draw_recorded_panels(lesson, recording, panel)
    return update_copies(recording.rendered["panels"])


def _draw_recorded_panels(lesson: Lesson, recording, panel: str) -> None:
    if "panels" not in recording.rendered:
        if lesson.kind == "nern":
            spectra = recording.extra["spectra"]
            recording.rendered["panels"] = {
                ui.evidence: gr.update(value=plots.render(plots.kernel_spectra_figure(spectra)), visible=True),
                ui.curves: gr.update(value=_cnn_curves(recording.run), visible=True),
                ui.gallery: gr.update(visible=False), ui.recon: gr.update(visible=False)}
        else:
            updates = _frame_updates(recording.last_frame, panel)
            updates.pop(ui.status, None)
            recording.rendered["panels"] = sent_as_is(updates, RECORDED_FILES)


def draw_recording(lesson: Lesson, recording) -> None:
    """Draw a new recording's panels before any student asks (ui/prerecord.py)."""
    with recording.drawing:
        _draw_recorded_panels(lesson, recording, EVIDENCE[lesson.key][0])


def _cnn_updates(event) -> dict:
    """The CNN lesson while it trains: first its kernel spectra, then the predictor's progress."""
    run = event.run
    if not hasattr(event.frame, "step"):  # the spectra, before the first step
        return {ui.gallery: gr.update(visible=False), ui.recon: gr.update(visible=False), ui.status: "Starting…",
                ui.evidence: gr.update(value=plots.render(plots.kernel_spectra_figure(event.frame)), visible=True)}
    snapshot, steps = event.frame, run.config.steps
    if snapshot.step % max(1, steps // 10) and snapshot.accuracy is None and snapshot.step != steps:
        return {}  # off the cadence: nothing to send (on_run yields nothing for it)
    accuracy = f" · rebuilt CNN {100 * snapshot.accuracy:.1f} %" if snapshot.accuracy is not None else ""
    return {ui.status: f"Training the predictor · step {snapshot.step}/{steps} · kernel PSNR {snapshot.psnr:.2f} dB"
                       f"{accuracy}", ui.curves: _cnn_curves(run)}


def _cnn_curves(run):
    return plots.render(plots.nern_curves_figure({CNN_CURVE_LABEL: run.history}, run.original_accuracy))


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


def on_stop(request: gr.Request):
    CONTEXT.sessions.stop(session_key(request))
    return gr.skip()


def build_tab(sessions, limits, device: str, concurrency: int) -> SimpleNamespace:
    """Lay out the tab inside the caller's gr.Tab and wire it; returns its components (the app's
    load event fills them from the link, with the `tabs` the app adds)."""
    CONTEXT.sessions, CONTEXT.limits, CONTEXT.device = sessions, limits, device
    first = LESSONS[FIRST_LESSON]
    with gr.Row(equal_height=False):
        # wide enough: the question in view; Run in the first screen at 1280×720 in every lesson, on a class
        # link too (issue 35): the picker's label unshown (its choices say "N · title"), the symbols below Run
        with gr.Column(scale=2, min_width=340, elem_id="lesson-card"):
            picker = gr.Dropdown(LESSON_CHOICES, value=first.key, label="Lesson", show_label=False,
                                 elem_id="lesson-picker")
            text = gr.Markdown(lesson_markdown(first), elem_id="lesson-text")
            question = gr.Radio(list(first.choices), type="index", label=f"Predict first: {first.question}",
                                elem_id="lesson-question")
            with gr.Row():
                run = gr.Button("Answer first to run", variant="primary", interactive=False,
                                elem_id="lesson-run", scale=3)
                stop = gr.Button("Stop", variant="stop", elem_id="lesson-stop", scale=1, min_width=70)
            class_note = gr.Markdown(visible=False, elem_id="lesson-class-note")  # a class link's answer, shared?
            status = gr.Markdown(elem_id="lesson-status")
            takeaway = gr.Markdown(elem_id="lesson-takeaway")
            with gr.Accordion("The symbols in this lesson, in words", open=False, elem_id="lesson-symbols"):
                symbols = gr.Markdown(symbols_markdown(first))
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
    class_code = gr.State(None)  # a class link's code, checked (server-side: the page cannot change it)
    browser_id = gr.BrowserState(None, storage_key=STUDENT_STORAGE_KEY, secret=STUDENT_STORAGE_SECRET)
    student = gr.State(None)  # browser_id once checked (page.py's load event): what runs share as
    for name in ("picker", "text", "symbols", "question", "run", "stop", "status", "takeaway", "followups", "gallery",
                 "recon", "evidence_note", "evidence", "curves", "seed", "class_note", "class_code", "browser_id",
                 "student"):
        setattr(ui, name, locals()[name])
    private = dict(api_visibility="private")
    picker.input(on_pick, picker, [text, symbols, followups, question, run, status, takeaway, evidence_note, evidence,
                                   curves, gallery, recon], queue=False, **private)
    question.input(on_answer, [picker, question], run, queue=False, **private)
    # the run's event may be called by a bench through gradio_client (/run_lesson): not private
    run.click(on_queue, None, status, queue=False, **private).then(
        on_run, [picker, question, seed, class_code, student],
        [status, takeaway, gallery, recon, evidence, curves, class_note],
        **RUNS, api_name="run_lesson", api_visibility="undocumented")
    stop.click(on_stop, None, status, queue=False, **private)
    return ui


__all__ = ["build_tab", "draw_recording", "on_load", "on_student", "lesson_markdown", "symbols_markdown", "followups_markdown"]
