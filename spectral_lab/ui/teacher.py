"""A teacher's class, Gradio only (the class, its answers and charts are spectral_lab.lab.classroom).

Two parts: "For teachers" on the Lessons tab makes a class and shows its two links once (students
answer from `?class=CODE&lesson=N`; the teacher's `?teacher=KEY` opens the class); and the "Your
class" tab, hidden unless a teacher link opened the page: per lesson, live, how many students answered
and ran it, and, once the teacher presses its Reveal (or the class is done with it), the chart of how
the class predicted against what the runs showed; a CSV of the answers, and a Delete that asks first.
"""
from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from spectral_lab.lab import session_key
from spectral_lab.lab.classroom import ClassError, class_csv, lesson_chart, shared_classroom, shown_code
from spectral_lab.lab.classroom.report import AUTO_QUIET_SECONDS, BY_TEACHER
from spectral_lab.lab.lessons import FIRST_LESSON, LESSONS, find_lesson
from spectral_lab.lab.prerecord import DEMAND
from spectral_lab.ui.widgets import PRIVATE

REFRESH_SECONDS = 5  # the class's answers arrive as students press Run: a few seconds late is live enough
CREATOR_WORDS = (
    "Make a class to see, lesson by lesson, what your students predicted before their run and what the run "
    "showed. Students stay anonymous: no names, no accounts; only their answer is stored.")
NO_CLASS = ("**No class opens with this teacher link.** Check that you copied the whole link; a deleted class "
            "opens nothing.")
view = SimpleNamespace()  # the "Your class" tab's components (set by build_view)
log = logging.getLogger(__name__)
CSV_FOLDER: list[Path] = []  # this process's folder for the CSV downloads (made on first use)


# ----------------------------------------------------------------------------------------------
# Making a class (the Lessons tab's "For teachers")
# ----------------------------------------------------------------------------------------------
def _page_address(request: gr.Request | None) -> str:
    """This page's address without its query (the links are made from it)."""
    referer = (request.headers.get("referer") or "") if request is not None else ""
    return referer.split("#")[0].split("?")[0]


def on_create(lesson_key: str, request: gr.Request):
    """A new class: its two links, shown once (the teacher key is not stored, only its hash)."""
    try:
        new = shared_classroom().create_class(session_key(request))
    except ClassError as exc:
        return f"⚠️ {exc}", gr.update(visible=False), gr.update(visible=False)
    lesson = find_lesson(lesson_key) or LESSONS[FIRST_LESSON]
    DEMAND.ask(lesson.number)  # the class starts on this lesson: its follow-ups are recorded next
    base = _page_address(request)
    code = shown_code(new.code)
    message = (f"**Class {code} is ready.** Send the student link to your class (they can pick any lesson from "
               "it), and open the teacher link to watch their predictions arrive. **Save the teacher link now:** "
               "it is shown only this once, and no one can see or delete the class's answers without it.")
    return (message, gr.update(value=f"{base}?class={code}&lesson={lesson.number}", visible=True),
            gr.update(value=f"{base}?teacher={new.key}", visible=True))


def build_creator(picker: gr.Dropdown) -> None:
    """"For teachers", closed, under the lesson (the first screen keeps the question and Run)."""
    with gr.Accordion("For teachers: see your class's predictions", open=False, elem_id="class-creator"):
        gr.Markdown(CREATOR_WORDS)
        create = gr.Button("Make a class", elem_id="class-create", size="sm")
        message = gr.Markdown(elem_id="class-create-message")
        with gr.Row():
            student_link = gr.Textbox(label="Student link: send it to your class", buttons=["copy"],
                                      interactive=False, visible=False, elem_id="class-student-link")
            teacher_link = gr.Textbox(label="Your teacher link: private, shown only now", buttons=["copy"],
                                      interactive=False, visible=False, elem_id="class-teacher-link")
    create.click(on_create, picker, [message, student_link, teacher_link], queue=False, **PRIVATE)


# ----------------------------------------------------------------------------------------------
# The teacher's view ("Your class"): often on a projector, so a lesson's answers stay hidden until
# revealed (report.reveal_state); before that a lesson says only how many answered and how many ran.
# ----------------------------------------------------------------------------------------------
def _lesson_signature(tally) -> tuple:
    """What a lesson's card draws: unchanged, it is not sent again (every few seconds, per teacher)."""
    if not tally.revealed:  # hidden: the spread of answers is not drawn, so its changes send nothing
        return tally.answers, tally.ran, tally.reveal
    return tally.counts, tally.shown, tally.ran, tally.reveal


def _signature(report) -> tuple:
    return tuple(_lesson_signature(tally) for tally in report.lessons)


def _header(report, base: str = "") -> str:
    code = shown_code(report.code)
    link = f"{base}?class={code}" if base else f"?class={code}"
    return (f"### Class {code} · {report.students} student{'s' * (report.students != 1)} · "
            f"{report.answers} answer{'s' * (report.answers != 1)}\n"
            f"Student link: `{link}` · refreshes every {REFRESH_SECONDS} s · a lesson's answers stay hidden until "
            f"you press its Reveal, or until everyone who answered it has run it and no new answer has come for "
            f"{AUTO_QUIET_SECONDS:.0f} s")


def _counts(tally) -> str:
    return f"{tally.answers} answered · {tally.ran} ran"


def _summary(tally) -> str:
    """A lesson's card above its chart: before Reveal, its question and the two counts alone (nothing
    of the answers: the room may be looking); after, the counts and why the chart shows."""
    lesson = tally.lesson
    if tally.revealed:
        why = "you pressed Reveal" if tally.reveal == BY_TEACHER else "everyone who answered has run it"
        return f"**Lesson {lesson.number} · {_counts(tally)}** · answers shown: {why}"
    state = "Answers hidden until you press Reveal." if tally.answers else "No answers yet."
    return (f"**Lesson {lesson.number} · {lesson.title}**  \n*{lesson.question}*\n\n"
            f"### {_counts(tally)}\n{state}")


def _lesson_updates(index: int, tally) -> dict:
    """One lesson's card: its summary, its chart (sent only once revealed), its Reveal or Hide."""
    chart = (gr.update(value=lesson_chart(tally), visible=True) if tally.revealed
             else gr.update(value=None, visible=False))
    label = "Hide the answers" if tally.revealed else "Reveal the answers"
    return {view.summaries[index]: gr.update(value=_summary(tally), visible=True), view.plots[index]: chart,
            view.reveals[index]: gr.update(value=label, visible=tally.answers > 0,
                                           variant="secondary" if tally.revealed else "primary")}


def _csv_folder() -> Path:
    """A folder of this process's own for the CSV downloads (Gradio serves a copy from its cache)."""
    if not CSV_FOLDER:
        CSV_FOLDER.append(Path(tempfile.mkdtemp(prefix="spectral_lab_class_")))
    return CSV_FOLDER[0]


def _csv_file(report) -> str | None:
    """The class's answers per lesson as a CSV file (written whole, then renamed: a second teacher tab
    never reads half a file); None when it cannot be written (a full disk: the view goes on without)."""
    try:
        path = _csv_folder() / f"class-{shown_code(report.code)}-answers.csv"
        partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
        partial.write_text(class_csv(report), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        log.exception("the class's CSV could not be written")
        return None
    return str(path)


def _report_updates(report, seen, base: str = "") -> dict:
    """The view of a class's report: the header always; a lesson's card and the CSV when they changed."""
    if report is None:
        return _closed(NO_CLASS)
    updates = {view.header: _header(report, base), view.delete: gr.update(visible=True)}
    signature = _signature(report)
    if signature != seen:
        before = seen if seen is not None else (None,) * len(signature)
        for index, (tally, now, then) in enumerate(zip(report.lessons, signature, before)):
            if now != then:
                updates.update(_lesson_updates(index, tally))
        csv_file = _csv_file(report)
        updates[view.csv] = gr.update(value=csv_file, visible=csv_file is not None)
        updates[view.seen] = signature
    return updates


def _closed(message: str) -> dict:
    """No class to show (a wrong key, a deleted class): the message alone, nothing refreshing."""
    hidden = gr.update(visible=False)
    return {view.header: message, view.timer: gr.Timer(active=False), view.key: None, view.seen: None,
            view.delete: hidden, view.confirm: hidden, view.csv: gr.update(value=None, visible=False),
            **{plot: gr.update(value=None, visible=False) for plot in view.plots},
            **{summary: gr.update(value="", visible=False) for summary in view.summaries},
            **{reveal: hidden for reveal in view.reveals}}


def _unchanged() -> dict:
    """Nothing to change (Gradio reads an empty dict as one output value, not as no updates)."""
    return {view.header: gr.skip()}


def _report(key):
    try:
        return shared_classroom().report(key), None
    except ClassError as exc:
        return None, f"⚠️ {exc}"


def on_load(request: gr.Request):
    """A teacher link (?teacher=KEY) shows and opens this tab; any other link leaves it hidden."""
    query = dict(request.query_params) if request is not None else {}
    if "teacher" not in query:
        return _unchanged()
    report, problem = _report(query["teacher"])
    shown = {view.tab: gr.update(visible=True), view.tabs: gr.Tabs(selected="class")}
    if problem:
        return {**shown, view.header: problem}
    if report is None:
        return {**shown, **_closed(NO_CLASS)}
    return {**shown, **_report_updates(report, None, _page_address(request)), view.key: query["teacher"],
            view.base: _page_address(request), view.timer: gr.Timer(active=True)}


def on_tick(key, seen, base):
    report, problem = _report(key)
    if problem:  # the database busy for a moment: the next tick tries again
        return _unchanged()
    return _report_updates(report, seen, base)


def on_reveal(index: int, key, seen, base):
    """The teacher's Reveal (or Hide, once shown) of lesson `index`'s answers, kept in the database."""
    report, problem = _report(key)
    if problem:
        return {view.header: problem}
    if report is None:  # deleted from another tab
        return _closed(NO_CLASS)
    tally = report.lessons[index]
    try:
        report = shared_classroom().set_reveal(key, tally.lesson.key, not tally.revealed)
    except ClassError as exc:
        return {view.header: f"⚠️ {exc}"}
    return _report_updates(report, seen, base)


def _reveal_of(index: int):
    def reveal(key, seen, base):
        return on_reveal(index, key, seen, base)
    return reveal


def on_delete_ask(key):
    report, problem = _report(key)
    if report is None:
        return {view.confirm_note: problem or NO_CLASS, view.confirm: gr.update(visible=True)}
    return {view.confirm: gr.update(visible=True),
            view.confirm_note: f"**Delete class {shown_code(report.code)} and its {report.answers} answers?** "
                               "Nothing can bring them back, and both links stop working."}


def on_delete(key):
    try:
        removed = shared_classroom().delete_class(key)
    except ClassError as exc:
        return {view.confirm_note: f"⚠️ {exc}"}
    if removed is None:
        return _closed(NO_CLASS)
    return _closed(f"**The class is deleted**, with its {removed} answer{'s' * (removed != 1)}. This link opens "
                   "nothing now.")


def _lesson_cards() -> tuple[list, list, list]:
    """A card per lesson, two a row (each ~600 px wide at 1280): its summary, its chart, its Reveal."""
    summaries, plots, reveals = [], [], []
    for row in range(0, len(LESSONS), 2):
        with gr.Row(equal_height=False):
            for number in range(row + 1, min(row + 2, len(LESSONS)) + 1):  # an odd count: the last row has one
                with gr.Column(elem_id=f"class-lesson-{number}"):
                    summaries.append(gr.Markdown(visible=False, elem_id=f"class-summary-{number}"))
                    plots.append(gr.Plot(show_label=False, visible=False, elem_id=f"class-chart-{number}"))
                    with gr.Row():  # a button of its own width: the room reads the counts, not the button
                        reveals.append(gr.Button("Reveal the answers", variant="primary", size="sm", scale=0,
                                                 min_width=180, visible=False, elem_id=f"class-reveal-{number}"))
    return summaries, plots, reveals


def build_view(tab: gr.Tab) -> SimpleNamespace:
    """Lay out the view inside the caller's hidden tab `tab` and wire it (page.py shows it for a teacher link)."""
    with gr.Row(equal_height=False):
        header = gr.Markdown(NO_CLASS, elem_id="class-header")
        csv = gr.DownloadButton("Answers as CSV", size="sm", scale=0, min_width=150, visible=False,
                                elem_id="class-csv")
        # not red: the view is shown to a room; the red button is the confirmation's
        delete = gr.Button("Delete this class…", variant="secondary", size="sm", scale=0, min_width=170,
                           visible=False, elem_id="class-delete")
    with gr.Row(visible=False, elem_id="class-confirm") as confirm:
        confirm_note = gr.Markdown()
        yes = gr.Button("Yes, delete it", variant="stop", size="sm", scale=0, min_width=140, elem_id="class-delete-yes")
        no = gr.Button("Keep it", size="sm", scale=0, min_width=100, elem_id="class-delete-no")
    summaries, plots, reveals = _lesson_cards()
    key, seen, base = gr.State(None), gr.State(None), gr.State("")  # server-side: the page never holds them
    timer = gr.Timer(REFRESH_SECONDS, active=False)
    for name in ("tab", "header", "csv", "delete", "confirm", "confirm_note", "summaries", "plots", "reveals", "key",
                 "seen", "base", "timer"):
        setattr(view, name, locals()[name])
    outputs = [header, csv, delete, confirm, timer, key, seen, *summaries, *plots, *reveals]
    timer.tick(on_tick, [key, seen, base], outputs, queue=False, show_progress="hidden", **PRIVATE)
    for index, reveal in enumerate(reveals):
        reveal.click(_reveal_of(index), [key, seen, base], outputs, queue=False, show_progress="hidden", **PRIVATE)
    delete.click(on_delete_ask, key, [confirm, confirm_note], queue=False, **PRIVATE)
    no.click(lambda: gr.update(visible=False), None, confirm, queue=False, **PRIVATE)
    yes.click(on_delete, key, outputs + [confirm_note], queue=False, **PRIVATE)
    return view


def load_outputs() -> list:
    """What on_load may fill (with the page's tabs, set on `view.tabs` by page.py)."""
    return [view.tab, view.tabs, view.header, view.csv, view.delete, view.confirm, view.timer, view.key, view.seen,
            view.base, *view.summaries, *view.plots, *view.reveals]


__all__ = ["build_creator", "build_view", "load_outputs", "on_create", "on_delete", "on_delete_ask", "on_load",
           "on_reveal", "on_tick"]
