"""A teacher's class, Gradio only (the class, its answers and charts are spectral_lab.lab.classroom).

Two parts: "For teachers" on the Lessons tab makes a class and shows its two links once (students
answer from `?class=CODE&lesson=N`; the teacher's `?teacher=KEY` opens the class); and the "Your
class" tab, hidden unless a teacher link opened the page, charts per lesson how the class predicted
against what the runs showed, refreshed every few seconds, with a Delete that asks first.
"""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from spectral_lab.lab import session_key
from spectral_lab.lab.classroom import ClassError, lesson_chart, shared_classroom, shown_code
from spectral_lab.lab.lessons import FIRST_LESSON, LESSONS, find_lesson
from spectral_lab.ui.widgets import PRIVATE

REFRESH_SECONDS = 5  # the class's answers arrive as students press Run: a few seconds late is live enough
CREATOR_WORDS = (
    "Make a class to see, lesson by lesson, what your students predicted before their run and what the run "
    "showed. Students stay anonymous: no names, no accounts; only their answer is stored.")
NO_CLASS = ("**No class opens with this teacher link.** Check that you copied the whole link; a deleted class "
            "opens nothing.")
view = SimpleNamespace()  # the "Your class" tab's components (set by build_view)


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
# The teacher's view ("Your class")
# ----------------------------------------------------------------------------------------------
def _signature(report) -> tuple:
    """What the charts draw: unchanged, they are not sent again (every few seconds, per teacher)."""
    return report.students, tuple((tally.counts, tally.shown) for tally in report.lessons)


def _header(report, base: str = "") -> str:
    code = shown_code(report.code)
    link = f"{base}?class={code}" if base else f"?class={code}"
    return (f"### Class {code} · {report.answers} answer{'s' * (report.answers != 1)} from "
            f"{report.students} student{'s' * (report.students != 1)}\n"
            f"Student link: `{link}` · refreshes every {REFRESH_SECONDS} s · green bar: what the runs showed")


def _report_updates(report, seen, base: str = "") -> dict:
    """The view of a class's report: the header always, the charts when their data changed."""
    if report is None:
        return _closed(NO_CLASS)
    updates = {view.header: _header(report, base), view.delete: gr.update(visible=True)}
    signature = _signature(report)
    if signature != seen:
        updates.update({plot: gr.update(value=lesson_chart(tally), visible=True)
                        for plot, tally in zip(view.plots, report.lessons)})
        updates[view.seen] = signature
    return updates


def _closed(message: str) -> dict:
    """No class to show (a wrong key, a deleted class): the message alone, nothing refreshing."""
    return {view.header: message, view.timer: gr.Timer(active=False), view.key: None, view.seen: None,
            view.delete: gr.update(visible=False), view.confirm: gr.update(visible=False),
            **{plot: gr.update(value=None, visible=False) for plot in view.plots}}


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


def build_view(tab: gr.Tab) -> SimpleNamespace:
    """Lay out the view inside the caller's hidden tab `tab` and wire it (page.py shows it for a teacher link)."""
    with gr.Row(equal_height=False):
        header = gr.Markdown(NO_CLASS, elem_id="class-header")
        # not red: the view is shown to a room; the red button is the confirmation's
        delete = gr.Button("Delete this class…", variant="secondary", size="sm", scale=0, min_width=170,
                           visible=False, elem_id="class-delete")
    with gr.Row(visible=False, elem_id="class-confirm") as confirm:
        confirm_note = gr.Markdown()
        yes = gr.Button("Yes, delete it", variant="stop", size="sm", scale=0, min_width=140, elem_id="class-delete-yes")
        no = gr.Button("Keep it", size="sm", scale=0, min_width=100, elem_id="class-delete-no")
    plots = []
    for row in range(0, len(LESSONS), 2):  # two charts a row: each ~600 px wide at 1280
        with gr.Row():
            plots += [gr.Plot(show_label=False, visible=False, elem_id=f"class-chart-{row + i + 1}") for i in range(2)]
    key, seen, base = gr.State(None), gr.State(None), gr.State("")  # server-side: the page never holds them
    timer = gr.Timer(REFRESH_SECONDS, active=False)
    for name in ("tab", "header", "delete", "confirm", "confirm_note", "plots", "key", "seen", "base", "timer"):
        setattr(view, name, locals()[name])
    outputs = [header, delete, confirm, timer, key, seen, *plots]
    timer.tick(on_tick, [key, seen, base], outputs, queue=False, show_progress="hidden", **PRIVATE)
    delete.click(on_delete_ask, key, [confirm, confirm_note], queue=False, **PRIVATE)
    no.click(lambda: gr.update(visible=False), None, confirm, queue=False, **PRIVATE)
    yes.click(on_delete, key, outputs + [confirm_note], queue=False, **PRIVATE)
    return view


def load_outputs() -> list:
    """What on_load may fill (with the page's tabs, set on `view.tabs` by page.py)."""
    return [view.tab, view.tabs, view.header, view.delete, view.confirm, view.timer, view.key, view.seen, view.base,
            *view.plots]


__all__ = ["build_creator", "build_view", "load_outputs", "on_create", "on_delete", "on_delete_ask", "on_load",
           "on_tick"]
