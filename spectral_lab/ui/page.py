"""The whole page: the title, the three tabs (Lessons, the Lab, CNN weights; a fourth, a teacher's
class, shown only to a teacher link) and the events that cross tabs: a link picks the tab, a lesson's
follow-up fills the lab or the CNN tab and trains."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from spectral_lab.lab import device_label
from spectral_lab.ui import lab, lessons, nern, session_end, teacher
from spectral_lab.ui.widgets import (CONCURRENCY, DEVICE, LIMITS, PAGE_LOAD, PRIVATE, RUNS, SESSIONS,
                                     refuse_foreign_choices_quietly)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Spectral Lab") as demo:
        gr.Markdown(f"### Spectral Lab · see *spectral bias* in coordinate MLPs · running on **{device_label()}**\n"
                    "*Spectral bias*: trained by gradient descent, a network learns a signal's coarse, low-frequency "
                    "parts long before its fine, high-frequency detail. Start with the **Lessons**; compare methods "
                    "in the **Lab**.", elem_id="title")
        with gr.Tabs(selected="lessons", elem_id="tabs") as tabs:
            with gr.Tab("Lessons", id="lessons", elem_id="lessons-tab"):
                lesson_ui = lessons.build_tab(SESSIONS, LIMITS, DEVICE, CONCURRENCY)
                teacher.build_creator(lesson_ui.picker)
            with gr.Tab("Lab: audio, images, 1D", id="signals", elem_id="signals-tab") as lab_tab:
                lab_parts = lab.build_tab()
                lab_parts.tab = lab_tab
            with gr.Tab("CNN weights (NeRN / SBS)", id="nern", elem_id="nern-tab"):
                nern_ui = nern.build_tab(CONCURRENCY)
            with gr.Tab("Your class", id="class", elem_id="class-tab", visible=False) as class_tab:
                class_view = teacher.build_view(class_tab)
        lab_parts.upload_state = gr.State(None)  # the upload's path, or its error (Train refuses with it)
        lesson_ui.tabs = class_view.tabs = tabs
        triggers = _link_triggers(demo)
        _load_lesson(demo, lesson_ui, triggers)
        lab.wire(demo, lab_parts, triggers)
        _load_cnn_link(nern_ui, triggers)
        demo.unload(session_end.on_unload)
    refuse_foreign_choices_quietly(demo)
    return demo


# The link's own events, sent only when the link asks for them: each event Gradio answers rebuilds every
# one of its output components (a skipped one too), and a page that sent them all cost the server ~170 ms
# (30 pages at once: 6 s to the last); a lesson's page needs its lesson and its student, nothing else.
LINK_TRIGGERS_JS = """() => {
  const params = new URLSearchParams(window.location.search);
  const pageKeys = new Set(["lesson", "seed", "class", "teacher", "hide", "__theme"]);
  const click = (id) => document.getElementById(id)?.click();
  if (params.has("teacher")) click("link-teacher");
  if (params.has("hide")) click("link-hide");
  if ([...params.keys()].some((key) => !pageKeys.has(key))) { click("link-lab"); click("link-cnn"); }
}"""


def _link_triggers(demo: gr.Blocks) -> SimpleNamespace:
    """Hidden buttons the page's script clicks when its link carries settings for the lab or the CNN tab,
    a teacher key, or parts to hide (each runs that part of the link; a bare or lesson link runs none)."""
    with gr.Row(elem_classes=["link-triggers"]):
        triggers = SimpleNamespace(**{name: gr.Button(elem_id=f"link-{name}") for name in ("lab", "cnn", "teacher",
                                                                                          "hide")})
    demo.load(None, None, None, js=LINK_TRIGGERS_JS, **PRIVATE)
    return triggers


def _load_lesson(demo: gr.Blocks, lesson_ui: SimpleNamespace, triggers: SimpleNamespace) -> None:
    """The link's lesson (lesson 1 at the bare address) and the tab it opens."""
    demo.load(lessons.on_load, None, [lesson_ui.text, lesson_ui.symbols, lesson_ui.followups, lesson_ui.question,
                                      lesson_ui.run,
                                      lesson_ui.status, lesson_ui.takeaway, lesson_ui.evidence_note,
                                      lesson_ui.evidence, lesson_ui.curves, lesson_ui.gallery, lesson_ui.recon,
                                      lesson_ui.picker, lesson_ui.seed, lesson_ui.tabs, lesson_ui.class_note,
                                      lesson_ui.class_code], **PAGE_LOAD)
    triggers.teacher.click(teacher.on_load, None, teacher.load_outputs(), **PAGE_LOAD)  # opens its class's tab
    # a class link's student: the id the browser keeps (a reload or a second tab answers as the same student)
    demo.load(lessons.on_student, lesson_ui.browser_id, [lesson_ui.browser_id, lesson_ui.student], **PAGE_LOAD)


def _load_cnn_link(nern_ui: SimpleNamespace, triggers: SimpleNamespace) -> None:
    """A CNN lesson's follow-up: its settings into the CNN tab's knobs, then its run."""
    triggers.cnn.click(nern.on_link, None, nern_ui.knobs, **PAGE_LOAD).then(
        nern.on_autorun, [nern_ui.rows] + nern_ui.knobs, nern_ui.outputs, **RUNS, **PRIVATE)
