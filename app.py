"""Spectral Lab in the browser: pick a signal and methods, press Train, watch spectral bias live.

The Space's entry point: it builds the page from spectral_lab.ui (the Gradio UI) and launches it;
every number comes from spectral_lab (see spectral_lab/lab/).
Run: python app.py  (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; never needs the internet)
"""
from __future__ import annotations

import os
import time

STARTED = time.perf_counter()  # the server's start: the log says when the class's runs were ready after it
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio is imported

from spectral_lab.lab.allocator import limit_arenas

# Before the server's threads allocate: glibc gives each an arena of its own (16 on 2 cores), each
# keeping its high-water mark; capped (SPECTRAL_LAB_MALLOC_ARENAS, bench/bench_soak.py measured it).
limit_arenas()

import logging
import threading

import matplotlib

matplotlib.use("Agg")  # the figure downloads are drawn off screen, in server threads

from spectral_lab.diagnostics import warm_up
from starlette.middleware import Middleware

from spectral_lab.ui import CSS, HEAD, build_demo, gradio_session
from spectral_lab.ui.page_cache import CachedPage
from spectral_lab.ui.session_end import gradio_capacity


def start_up() -> None:
    """Off the first request, in idle training slots: lesson 1's run (a class opening the bare address or a
    class link finds it ready), librosa's numba compile, the other lessons, the follow-ups, then this
    machine's steps/s per method (the time estimates before each run; SPECTRAL_LAB_CALIBRATE=0 keeps the
    built-in guess). SPECTRAL_LAB_PRERECORD says which runs are recorded."""
    from spectral_lab.ui.prerecord import start_prerecording

    if start_prerecording(calibrate=os.environ.get("SPECTRAL_LAB_CALIBRATE", "1") != "0", started=STARTED,
                          warm_up=warm_up) is None:
        warm_up()


def build():
    """The page, with the start-up work begun beside it (bench/bench_soak.py builds it this way too,
    to probe the running server's memory)."""
    gradio_session.install()  # a new visitor's session made once and cheaply (ui/gradio_session.py)
    threading.Thread(target=start_up, daemon=True).start()
    return build_demo()


# A class opens the page at once: each page load sends ~10 events (its load events and their chains), so
# 30 students queue ~300 at a moment (at 32, the 4th student's page was refused: "queue full"); the page's
# cheap events run 8 at a time each (one at a time, the 30th student waited for 29 of every one of them).
# Training has its own line (lab/slots.py).
QUEUE_SIZE, EVENT_CONCURRENCY = 1024, 8


def launch(demo) -> None:
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=EVENT_CONCURRENCY).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False, ssr_mode=False, footer_links=["settings"], css=CSS, head=HEAD,
        state_session_capacity=gradio_capacity(),  # tabs whose state Gradio keeps: sized by the figures budget
        app_kwargs={"middleware": [Middleware(CachedPage)]})  # the page's HTML made once (ui/page_cache.py)


def log_to_console() -> None:
    """The app's own lines (what it recorded for a class, a refused request) on the console beside Gradio's."""
    logger = logging.getLogger("spectral_lab")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main() -> None:
    log_to_console()
    launch(build())


if __name__ == "__main__":
    main()
