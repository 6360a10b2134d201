"""Training modifiers, combinable with any MLP architecture as `method+modifier` (relu_pe+iga):
the spec each one registers, how a method name splits into its parts, and the words for what
the modifiers chose. IGA, FR and BN live in a module each and register themselves here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import ConfigError


def _nothing(*args) -> dict:
    return {}


@dataclass(frozen=True)
class ModifierSpec:
    name: str
    description: str
    citation: str
    apply: Callable = lambda model, config: None  # (model, resolved config): changes the network in place
    defaults: Callable[..., dict] = _nothing  # (architecture, signal, config) -> the knob values it fills
    check: Callable = lambda config, signal: None  # (resolved config, signal): ConfigError if it cannot train
    describe: Callable[..., str] = lambda config, signal: ""  # (resolved config, signal): what it chose, in words
    knobs: tuple[str, ...] = field(default=())  # the RunConfig fields it reads
    source: str = "spectral_lab"


MODIFIERS: dict[str, ModifierSpec] = {}


def register_modifier(spec: ModifierSpec) -> ModifierSpec:
    if spec.name in MODIFIERS:
        raise ConfigError(f"modifier {spec.name!r} is already registered (by {MODIFIERS[spec.name].source})")
    if not spec.name.isidentifier():
        raise ConfigError(f"modifier name {spec.name!r} must be a Python identifier (letters, digits, _)")
    MODIFIERS[spec.name] = spec
    return spec


def split_method(name: str) -> tuple[str, list[str]]:
    """'relu_pe+iga+bn' -> ('relu_pe', ['iga', 'bn'])."""
    base, *modifiers = [part.strip() for part in name.split("+")]
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        raise ConfigError(f"unknown modifier(s) {', '.join(unknown)}; choose from {', '.join(MODIFIERS)}")
    if len(set(modifiers)) != len(modifiers):
        raise ConfigError(f"modifier listed twice in {name!r}")
    return base, modifiers


def expand_methods(methods: list[str], modifiers: list[str], mode: str = "each") -> list[str]:
    """Methods × modifiers for a comparison. each: every method alone and with each modifier
    (relu, relu+iga, relu+fr); combined: every method with all of them (relu+iga+fr)."""
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            raise ConfigError(f"unknown modifier {modifier!r}; choose from {', '.join(MODIFIERS)}")
    if not modifiers:
        return list(methods)
    if mode == "combined":
        return [f"{m}+{'+'.join(modifiers)}" for m in methods]
    if mode != "each":
        raise ConfigError("modifier mode must be 'each' or 'combined'")
    return [variant for m in methods for variant in [m] + [f"{m}+{mod}" for mod in modifiers]]


def describe_modifiers(config, signal) -> str:
    """What the modifiers of `config.method` chose for this signal, in one line (for CLI and app)."""
    _, modifiers = split_method(config.method)
    parts = [MODIFIERS[name].describe(config, signal) for name in MODIFIERS if name in modifiers]
    return "; ".join(part for part in parts if part)
