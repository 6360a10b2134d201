"""Spectral Lab in the browser: pick a signal and methods, press Train, watch spectral bias live.

The Space's entry point: it builds the page from spectral_lab.ui (the Gradio UI) and launches it;
every number comes from spectral_lab (see spectral_lab/lab/).
Run: python app.py  (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; never needs the internet)
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio is imported

import threading

import matplotlib

matplotlib.use("Agg")  # the figure downloads are drawn off screen, in server threads

from spectral_lab.diagnostics import warm_up
from spectral_lab.ui import CSS, build_demo


def main() -> None:
    threading.Thread(target=warm_up, daemon=True).start()  # librosa's numba compile, off the first request
    demo = build_demo()
    demo.queue(max_size=32).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False, ssr_mode=False, footer_links=["settings"], css=CSS)


if __name__ == "__main__":
    main()
