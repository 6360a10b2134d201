"""docs/zoo.md's method list, generated from the registry so it cannot drift: every registered method
under its family, with its paper, what it is, how it is built (where we differ from the reference
code) and its defaults for each kind of signal.

    python -m spectral_lab docs        # rewrites the generated part of docs/zoo.md

The page's measured table (`python -m spectral_lab zoo`) is written by hand above the generated
part; tests/test_docs.py fails when a registered method is missing or the generated part is stale.
"""
from __future__ import annotations

import functools
from pathlib import Path

from .config import RunConfig
from .methods import METHODS, families, used_knobs
from .modifiers import MODIFIERS
from .signals import signal_for

START, END = "<!-- generated from the registry: start -->", "<!-- generated from the registry: end -->"
DOCS_ZOO = Path(__file__).resolve().parent.parent / "docs" / "zoo.md"
# One signal of each kind, for the defaults that depend on it.
KINDS = {"1D (sines, 2048)": {"signal": "sines", "length": 2048},
         "audio (chip_melody, 8000)": {"signal": "chip_melody", "length": 8000},
         "image (camera, 64²)": {"signal": "camera", "image_size": 64}}


@functools.cache
def _signal(kind: str):
    return signal_for(RunConfig(**KINDS[kind]))


def _defaults(name: str) -> str:
    """The knobs the method reads and their defaults per kind, e.g. 'lr 1e-4 · ω₀ 30 · first ω₀ 300 / 3000 / 30'."""
    per_kind = [METHODS[name].defaults(_signal(kind)) for kind in KINDS]
    knobs = sorted(set().union(*per_kind) | (used_knobs(RunConfig(method=name), _signal(next(iter(KINDS))))
                                              - {"lr"}), key=lambda k: (k != "lr", k))
    parts = []
    for knob in knobs:
        values = [d.get(knob, "–") for d in per_kind]
        shown = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
        parts.append(f"{knob} {shown[0]}" if len(set(shown)) == 1 else f"{knob} {' / '.join(shown)}")
    return " · ".join(parts)


def zoo_page() -> str:
    """The generated part of docs/zoo.md (Markdown, between START and END)."""
    lines = [START, "", "Defaults read 1D / audio / image where they differ by kind ("
             + ", ".join(KINDS) + "); `–`: the knob's shared default (`python -m spectral_lab list`).", ""]
    for family, members in families().items():
        # the project's own methods: a plug-in the reader installed documents itself, and the page (in the
        # repository) must read the same on every machine
        members = [name for name in members if METHODS[name].source == "spectral_lab"]
        if not members:
            continue
        lines += [f"### {family}", ""]
        for name in members:
            spec = METHODS[name]
            lines += [f"**`{name}`** — {spec.description}", "",
                      f"- paper: {spec.citation}",
                      f"- built as: {spec.parameterisation}",
                      f"- defaults: {_defaults(name)}", ""]
    lines += ["### training modifiers (`method+modifier`)", ""]
    lines += [f"- **`+{m.name}`** — {m.description} *{m.citation}*" for m in MODIFIERS.values()]
    return "\n".join(lines + ["", END])


def write_zoo_page(path: Path = DOCS_ZOO) -> Path:
    """Replace the generated part of `path` (kept text around it), or append it."""
    text = path.read_text() if path.exists() else "# The method zoo\n\n"
    if START in text and END in text:
        text = text[:text.index(START)] + zoo_page() + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + zoo_page() + "\n"
    path.write_text(text)
    return path


def generated_part(path: Path = DOCS_ZOO) -> str:
    text = path.read_text()
    return text[text.index(START):text.index(END) + len(END)]
