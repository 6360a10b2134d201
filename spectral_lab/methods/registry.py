"""The method registry: one spec per method, ONE `resolve` that fills every signal-derived default,
`build_model`, and plug-in methods from other installed packages.

Adding a method is one builder and one `register(MethodSpec(...))` in its family's module. A
builder receives a *resolved* RunConfig (no None knob it uses) and the Signal and returns an
nn.Module mapping (N, d) coordinates to (N, C) values. Families import this module; it imports
none of theirs: defaults reach it as data (each spec's `defaults`, and `knob_default` for a knob
several methods share).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..config import RunConfig
from ..errors import ConfigError
from ..modifiers import MODIFIERS, split_method
from ..signals import Signal
from .network import CoordinateMLP


@dataclass(frozen=True)
class MethodSpec:
    name: str
    builder: Callable[[RunConfig, Signal], nn.Module]
    description: str  # one line, shown by `list`, the app's picker and the zoo page
    citation: str  # the paper (and venue) the method comes from
    parameterisation: str  # where ω₀ sits, the init, and where we differ from the reference code
    defaults: Callable[[Signal], dict] = field(default=lambda signal: {})  # this method's knob values per signal
    knobs: tuple[str, ...] = ()  # the RunConfig fields it reads beyond width, depth and lr
    family: str = "other"  # the picker's and the zoo table's grouping (FAMILY_ORDER)
    check: Callable[[RunConfig, Signal], None] | None = None  # rejects a resolved config that cannot train
    # defaults that follow other knobs' values (FINER++'s wavelet ω and s follow its base): f(config with the
    # user's values and `defaults` filled in, signal) -> {knob: value}, applied where the user left the knob unset
    dependent_defaults: Callable[[RunConfig, Signal], dict] | None = None
    source: str = "spectral_lab"  # the package that registered it (a plug-in's name)


METHODS: dict[str, MethodSpec] = {}
# A knob's value for a method whose own defaults leave it unset: (knob -> f(signal)).
KNOB_DEFAULTS: dict[str, Callable[[Signal], Any]] = {"lr": lambda signal: 1e-4}
# The families in the order the app's picker and the zoo table show them; plug-ins come last.
FAMILY_ORDER = ("encodings", "periodic activations", "wavelets and bumps", "learnable activations",
                "multiplicative filters", "grids", "plug-ins")


def register(spec: MethodSpec) -> MethodSpec:
    """Add a method; a name already taken (or spelled like a modifier) is refused."""
    if spec.name in METHODS:
        raise ConfigError(f"method {spec.name!r} is already registered (by {METHODS[spec.name].source})")
    if not spec.name.isidentifier():
        raise ConfigError(f"method name {spec.name!r} must be a Python identifier (letters, digits, _)")
    METHODS[spec.name] = spec
    return spec


def knob_default(knob: str, value: Callable[[Signal], Any]) -> None:
    """Declare the default of a RunConfig knob several methods share (ω₀, PE levels, MFN scale, ...)."""
    if knob not in RunConfig.__dataclass_fields__:
        raise ConfigError(f"knob_default: {knob!r} is not a RunConfig field")
    KNOB_DEFAULTS[knob] = value


def get_method(name: str) -> MethodSpec:
    """The architecture's spec; `name` may carry modifiers (relu_pe+iga), checked here too."""
    base, _ = split_method(name)
    if base not in METHODS:
        raise ConfigError(f"unknown method {base!r}; choose from {', '.join(METHODS)}")
    return METHODS[base]


def families() -> dict[str, tuple[str, ...]]:
    """Family -> its methods, families in FAMILY_ORDER (unknown families after), methods in the
    order they were registered."""
    grouped: dict[str, list[str]] = {}
    for spec in METHODS.values():
        grouped.setdefault(spec.family, []).append(spec.name)
    order = list(FAMILY_ORDER) + sorted(set(grouped) - set(FAMILY_ORDER))
    return {family: tuple(grouped[family]) for family in order if family in grouped}


def family_of(name: str) -> str:
    base = name.split("+")[0]
    return METHODS[base].family if base in METHODS else "other"


def ordered_methods() -> list[str]:
    """Every registered method, family by family (the picker's order)."""
    return [name for members in families().values() for name in members]


def families_markdown() -> str:
    """Every registered method under its family, with its one-line description (app, docs)."""
    return "\n".join(f"**{family}**\n" + "\n".join(f"- `{name}`: {METHODS[name].description}" for name in members)
                     + "\n" for family, members in families().items())


# ----------------------------------------------------------------------------------------------
def used_knobs(config: RunConfig, signal: Signal) -> set[str]:
    """The RunConfig knobs `config.method` reads: lr, its spec's knobs and defaults, its modifiers'."""
    spec = get_method(config.method)
    _, modifiers = split_method(config.method)
    used = {"lr", *spec.knobs, *spec.defaults(signal)}
    for name in modifiers:
        used.update(MODIFIERS[name].knobs)
    return used


def resolve(config: RunConfig, signal: Signal) -> RunConfig:
    """Fill every None knob the method uses with its default for this signal, in one pass, and
    reject combinations that cannot train. Precedence: the method's own defaults, then the shared
    knob defaults, then its modifiers' (IGA's groups and `end`, FR's α). A knob the method does not
    use stays None (a SIREN run has no MFN scale), so a signal-derived default is computed and
    checked only where it matters; a default out of range names the knob and the method."""
    spec = get_method(config.method)
    _, modifiers = split_method(config.method)
    own = _own_defaults(spec, config, signal)
    used = used_knobs(config, signal)
    filled = {k: v for k, v in own.items() if getattr(config, k) is None}
    for knob in sorted(used & set(KNOB_DEFAULTS)):
        if getattr(config, knob) is None and knob not in filled:
            filled[knob] = KNOB_DEFAULTS[knob](signal)
    for name in modifiers:
        partial = config.replace(**filled)
        filled.update({k: v for k, v in MODIFIERS[name].defaults(spec.name, signal, partial).items()
                       if getattr(config, k) is None})
    for knob, value in filled.items():
        _check_default(knob, value, config.method, signal)
    resolved = config.replace(**filled)
    if spec.check is not None:
        spec.check(resolved, signal)
    for name in modifiers:
        MODIFIERS[name].check(resolved, signal)
    return resolved


def _own_defaults(spec: MethodSpec, config: RunConfig, signal: Signal) -> dict:
    """The method's defaults for this signal, then those that follow the values the user chose."""
    own = spec.defaults(signal)
    if spec.dependent_defaults is not None:
        partial = config.replace(**{k: v for k, v in own.items() if getattr(config, k) is None})
        own.update(spec.dependent_defaults(partial, signal))
    return own


def _check_default(knob: str, value, method: str, signal: Signal) -> None:
    """A default computed from the signal, checked against the knob's range before any work."""
    try:
        RunConfig().replace(**{knob: value})
    except ConfigError as exc:
        raise ConfigError(f"{method}: its default {exc} for {signal.name} ({signal.num_points:,} points); "
                          f"set {knob} yourself") from None


# The initial weights come from the global (process-wide) torch and numpy generators, seeded here: two
# visitors building networks at once in the app's threads drew from one another's sequence, and the same
# config and seed gave two different runs (a served test saw 22.2 against 23.0 dB). One build at a time.
SEEDED_DRAWS = threading.RLock()


def build_model(config: RunConfig, signal: Signal) -> nn.Module:
    """Build the resolved method's network on CPU, seeded by config.seed, with its modifiers."""
    config = resolve(config, signal)  # idempotent: a resolved config comes back equal
    spec = get_method(config.method)
    _, modifiers = split_method(config.method)
    with SEEDED_DRAWS:
        torch.manual_seed(config.seed)
        np.random.seed(config.seed % (2**32))
        model = spec.builder(config, signal)
        if modifiers and not isinstance(model, CoordinateMLP):
            raise ConfigError(f"the training modifiers ({', '.join('+' + m for m in modifiers)}) act on an MLP's "
                              f"layers; {spec.name} has none to modify")
        for modifier in MODIFIERS.values():  # registry order: FR's layers before BN's wrappers
            if modifier.name in modifiers:
                modifier.apply(model, config)
    return model


def list_methods() -> list[tuple[str, str, str]]:
    """Architectures, family by family, then the training modifiers (written +name)."""
    return ([(name, METHODS[name].description, METHODS[name].citation) for name in ordered_methods()]
            + [(f"+{m.name}", m.description, m.citation) for m in MODIFIERS.values()])
