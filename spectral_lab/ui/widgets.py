"""What the app's tabs share: the server's device, limits and training sessions (one of each per
server process), the private-event flag, the lab's sliders, gallery and results table, and the CSS."""
from __future__ import annotations

import functools
import logging
import os

import gradio as gr

from spectral_lab.lab import AppLimits, Sessions
from spectral_lab.lab.lesson_runs import LessonRunner
from spectral_lab.lab.recordings import Recordings
from spectral_lab.lab.slots import TrainingSlots
from spectral_lab.train import pick_device

DEVICE = pick_device("auto").type
LIMITS = AppLimits.from_env(DEVICE)
CONCURRENCY = int(os.environ.get("SPECTRAL_LAB_CONCURRENCY", "1" if DEVICE == "cuda" else "2"))
SESSIONS = Sessions()  # session hash -> its queued / running comparison (Stop finds it here)
# Every training (lab, lessons, CNN tab) takes one of CONCURRENCY slots and waits its turn in our own
# line, which says each visitor's place and wait; Gradio's events may therefore start many at once
# (a recorded lesson run is served without a slot), and Gradio's own "processing x/y s" is hidden.
SLOTS = TrainingSlots(CONCURRENCY)
RUNS = dict(concurrency_limit=32, concurrency_id="runs", show_progress="hidden")
# lessons' runs, recorded once per server; SPECTRAL_LAB_LESSON_STEPS shortens every lesson's run, and the CNN
# lesson's follow-ups (ui/nern.py) (the served tests' page checks: the lessons' science is tested at full length
# in process)
LESSON_STEPS = os.environ.get("SPECTRAL_LAB_LESSON_STEPS")
LESSON_RUNNER = LessonRunner(Recordings(), SLOTS, DEVICE, LIMITS,
                             changes={"steps": int(LESSON_STEPS)} if LESSON_STEPS else None)
# the lab's runs of lessons' follow-ups, recorded once per server (by the first visitor, or in the background
# from start-up: ui/prerecord.py) and served to every later run of the same settings: in the lessons' cache
# (one byte budget; keys apart: ("lab", …)); the CNN tab's runs of the CNN lesson's follow-ups too (ui/nern.py,
# keys ("cnn", …))
FOLLOWUP_RECORDINGS = LESSON_RUNNER.recordings
PRIVATE = dict(api_visibility="private")  # every event: the page's own, not an API endpoint
# A page load's own events (the link's lesson, settings, preview): off Gradio's queue, answered by one POST. A
# class opens the page at once, and each queued event costs the server ~10 ms of its one Python thread
# (30 pages × 9 queued events: 3.6 s to the last page with no-op events; off the queue 1.5 s;
# bench/bench_class.py --page-loads). Only for quick functions that never train.
PAGE_LOAD = dict(queue=False, **PRIVATE)

# Slider ranges (minimum, step); the maxima are the server's limits. A link may carry a value the
# RunConfig accepts but a slider cannot show (ntk_points=32): on_load raises it to the minimum.
SLIDERS = {"steps": (10, 10), "width": (8, 8), "depth": (1, 1), "ntk_points": (64, 64)}
SLIDER_MAXIMA = {"steps": LIMITS.max_steps, "width": LIMITS.max_width, "depth": LIMITS.max_depth,
                 "ntk_points": LIMITS.max_ntk_points}

GALLERY_COLUMNS = 3  # ~270 px per image in the results column at 1280 px: ≥ 256 px, as asked

# Results columns, each headed in words with its unit (the CSV download keeps the short names)
TABLE_COLUMNS = {"method": "method", "psnr_db": "PSNR (dB)", "train_psnr_db": "train PSNR (dB)", "ssim": "SSIM (≤ 1)",
                 "rho_ag": "ρ_AG (≤ 1)", "params": "parameters", "lr": "learning rate", "seconds": "time (s)",
                 "tuning_s": "of which tuning (s)", "steps/s": "steps/s", "status": "status", "note": "note"}
OPTIONAL_COLUMNS = ("tuning_s", "train_psnr_db")  # shown when some row has it (a tuned comparison, a task)
# a task that holds samples out (tasks.py): the rows' psnr_db is the held-out PSNR, the one they rank by
HELDOUT_HEADER = "held-out PSNR (dB)"

CSS = """
#controls {gap: 6px;}
#controls .form {gap: 4px;}
#status {min-height: 2.5em;}
#title h3 {margin: 0;}
#recon-gallery img, #lesson-gallery img {image-rendering: pixelated;}
#upload-message {min-height: 1em;}
.js-plotly-plot .plotly .gtitle {font-size: 15px !important;}
.link-triggers {display: none !important;}
"""

# The page's own links (a lesson's follow-ups `?followup=1.2`, "Back to the lesson" `?lesson=1`) open in
# this tab: Gradio's Markdown gives every link target=_blank, and a class that clicks through the
# follow-ups ran out of the browser's six connections to the server at the sixth tab ("Loading…").
HEAD = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest('a[href^="?"]');
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  window.location.assign(link.getAttribute("href"));
}, true);
</script>"""


def slider(field: str, **kwargs) -> gr.Slider:
    minimum, step = SLIDERS[field]
    return gr.Slider(minimum, SLIDER_MAXIMA[field], step=step, **kwargs)


def gallery_height(images: int) -> int:
    return 40 + 290 * -(-images // GALLERY_COLUMNS)


def results_table(rows: list[dict]):
    import pandas as pd

    columns = [c for c in TABLE_COLUMNS if c not in OPTIONAL_COLUMNS or any(c in row for row in rows)]
    frame = pd.DataFrame(rows, columns=columns) if not rows else pd.DataFrame(rows)
    for column in columns:
        if column not in frame:
            frame[column] = None
    headers = {**TABLE_COLUMNS, **({"psnr_db": HELDOUT_HEADER} if "train_psnr_db" in columns else {})}
    return frame[columns].astype(object).where(frame[columns].notna(), "–").rename(columns=headers)


LOG = logging.getLogger("spectral_lab.app")


def plot_json(figure):
    """A plotly figure serialised once, for a panel many visitors are sent (Gradio serialises a figure per
    visitor; its JSON it sends as is)."""
    from gradio.components.plot import PlotData

    return PlotData(type="plotly", plot=figure.to_json())


def update_copies(updates: dict) -> dict:
    """Cached updates for one more visitor: each update a copy (Gradio pops an update's value as it sends it,
    and a shared update reached the next visitor empty)."""
    return {component: dict(update) if isinstance(update, dict) else update for component, update in updates.items()}


def sent_as_is(updates: dict, folder: str) -> dict:
    """Panels served to a whole class made ready to send as they are: a figure as its JSON (Gradio
    serialises a figure per student) and a gallery's images as PNG files in `folder` (it encodes each
    image per student). Drawn once, a recording reached 30 students in ~20 s more than one."""
    from gradio.processing_utils import save_img_array_to_cache

    ready = {}
    for component, update in updates.items():
        update = dict(update) if isinstance(update, dict) else {"__type__": "update", "value": update}
        value = update.get("value")
        if hasattr(value, "to_json") and hasattr(value, "data"):  # a plotly figure
            update["value"] = plot_json(value)
        elif isinstance(component, gr.Gallery) and isinstance(value, list):
            update["value"] = [(save_img_array_to_cache(image, folder, format="png"), caption)
                               for image, caption in value]
        ready[component] = update
    return ready


def refuse_foreign_choices_quietly(demo: gr.Blocks) -> None:
    """A request the page could not have sent (a radio's, a dropdown's or a checkbox group's value
    outside its choices: a script, a stale tab, a probe) is refused as Gradio refuses it, with one
    warning line in the server log instead of a traceback per request."""
    for block in demo.blocks.values():
        if isinstance(block, (gr.Radio, gr.Dropdown, gr.CheckboxGroup)):
            block.preprocess = _quiet(block.preprocess, block)


def _quiet(preprocess, block):
    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error as exc:
            name = block.elem_id or block.label or type(block).__name__
            LOG.warning("refused a request: %s: %s", name, str(exc.message)[:200])
            raise gr.Error(exc.message, print_exception=False) from None
    return checked
