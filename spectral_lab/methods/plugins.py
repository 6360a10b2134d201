"""Plug-in methods and modifiers from other installed packages.

A package declares an entry point in the group `spectral_lab.methods`; its object is a callable
(called once, with no arguments) or a module, which registers methods with `register(MethodSpec(...))`
or modifiers with `register_modifier(ModifierSpec(...))`. Each new method is then built on a tiny
1D signal and a tiny image and must map (N, d) coordinates to (N, C) values. A plug-in that fails
to import, registers a name already taken or returns a wrong shape is named in one line and skipped
(its registrations undone); the rest of the lab works.

    [project.entry-points."spectral_lab.methods"]
    snake = "spectral_lab_snake:register_methods"
"""
from __future__ import annotations

import sys
from importlib.metadata import entry_points

import numpy as np
import torch

from ..config import RunConfig
from ..modifiers import MODIFIERS
from ..signals import from_array
from .registry import METHODS

GROUP = "spectral_lab.methods"
PROBLEMS: list[str] = []  # one line per skipped plug-in (shown by `list` and the app)
LOADED: list[str] = []  # the plug-ins that registered something


def _probe_signals():
    line = from_array(np.sin(np.linspace(0, 6.28, 64)).astype(np.float32), name="probe-1d")
    image = from_array(np.random.default_rng(0).random((8, 8, 3)).astype(np.float32), kind="image", name="probe-image")
    return line, image


def probe(name: str) -> None:
    """Build method `name` at a tiny size on a 1D signal and an RGB image and check that it maps (N, d)
    coordinates to (N, C) finite values; raise ValueError saying what is wrong."""
    from .registry import build_model

    for signal in _probe_signals():
        config = RunConfig(method=name, width=8, depth=2, steps=1)
        model = build_model(config, signal)
        with torch.no_grad():
            out = model(torch.from_numpy(signal.coords))
        expected = (signal.num_points, signal.channels)
        if tuple(out.shape) != expected:
            raise ValueError(f"returns shape {tuple(out.shape)} for a {signal.kind} signal; expected {expected}")


def _undo(methods: set[str], modifiers: set[str]) -> None:
    for name in methods:
        METHODS.pop(name, None)
    for name in modifiers:
        MODIFIERS.pop(name, None)


def load_plugins(group: str = GROUP) -> list[str]:
    """Load every entry point of `group`; returns the problems (also kept in PROBLEMS and printed to
    stderr, one line each)."""
    problems = []
    for entry in entry_points(group=group):
        if entry.name in LOADED:  # loaded once already in this process (at import): its methods are there
            continue
        before_methods, before_modifiers = set(METHODS), set(MODIFIERS)
        label = f"plug-in {entry.name!r} ({entry.value})"
        try:
            loaded = entry.load()
            if callable(loaded):
                loaded()
            new_methods = set(METHODS) - before_methods
            for name in sorted(new_methods):
                if METHODS[name].source == "spectral_lab":
                    METHODS[name] = _with_source(METHODS[name], entry.name)
                try:
                    probe(name)
                except Exception as exc:  # a plug-in's bug must not take the lab down
                    raise ValueError(f"method {name!r} {exc}") from exc
            LOADED.append(entry.name)
        except Exception as exc:
            _undo(set(METHODS) - before_methods, set(MODIFIERS) - before_modifiers)
            problems.append(f"{label} skipped: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    for problem in problems:
        print(f"spectral_lab: {problem}", file=sys.stderr)
    PROBLEMS.extend(problems)
    return problems


def _with_source(spec, source: str):
    from dataclasses import replace

    return replace(spec, source=source, family=spec.family if spec.family != "other" else "plug-ins")
