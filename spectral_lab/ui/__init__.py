"""The Gradio UI of Spectral Lab, Gradio only: one module per tab (lab, lessons, nern: the CNN
weights), the page that holds them (page), what the tabs share (widgets) and the lab's long texts
(words). It calls spectral_lab for every number; nothing in spectral_lab imports it."""
from spectral_lab.ui.lessons import LESSON_CSS
from spectral_lab.ui.page import build_demo
from spectral_lab.ui.widgets import CSS as WIDGETS_CSS
from spectral_lab.ui.widgets import HEAD

CSS = WIDGETS_CSS + LESSON_CSS

__all__ = ["CSS", "HEAD", "build_demo"]
