"""Method variants: one method at settings of its own inside a comparison, named in the methods list as
`method@setting=value`, e.g. `siren@omega0=90@first_omega0=90` beside a plain `siren` (the denoising
preset's SIREN at ω₀ 30 and at ω₀ 90). Every other setting is the comparison's, shared by all methods.

The name travels as it is (methods list, share link, legend, table); `variant_config` turns it into the
RunConfig its run trains with. Settings that define the comparison itself (the signal, the task, the
budget, the seed, the diagnostics' cadences) cannot differ per method: a ranking needs them equal.
"""
from __future__ import annotations

from ..config import RunConfig
from ..errors import ConfigError
from ..methods import get_method
from ..modifiers import MODIFIERS

MARK = "@"
# what every method of a comparison shares: the signal and task, the budget and seed, the device and cadences
SHARED = frozenset({"method", "signal", "length", "image_size", "gray", "signal_options", "task", "noise_std", "keep",
                    "factor", "steps", "seed", "device", "fast", "tf32", "log_every", "preview_every", "ntk_every",
                    "ntk_points", "ntk_layout", "activations_every", "errors_every", "bands_every",
                    "diagnostics_budget"})


def split_variant(name: str) -> tuple[str, dict]:
    """'siren@omega0=90' -> ('siren', {'omega0': 90.0}); a plain name -> (name, {}). Modifiers stay on the
    method ('relu_pe@pe_levels=4+iga' -> 'relu_pe+iga': expand_methods appends them after the settings).
    A ConfigError names a word that is not `setting=value` of a per-method setting, or a bad value."""
    method, *words = [part.strip() for part in str(name).split(MARK)]
    settings: dict = {}
    for word in words:
        key, equals, value = word.partition("=")
        value, *modifiers = value.split("+")
        if modifiers and all(m in MODIFIERS for m in modifiers):
            method += "".join(f"+{m}" for m in modifiers)
        else:
            value = "+".join([value, *modifiers])  # a value's own "+" (lr=1e+3)
        if not equals or key not in RunConfig.__dataclass_fields__:
            raise ConfigError(f"method {name!r}: {word!r} is not setting=value (e.g. siren{MARK}first_omega0=90)")
        if key in SHARED:
            raise ConfigError(f"method {name!r}: {key} is the same for every method of a comparison; set it once "
                              "for all, not per method")
        if key in settings:
            raise ConfigError(f"method {name!r}: {key} is given twice")
        settings[key] = getattr(RunConfig.from_dict({key: value}), key)  # parsed and range-checked alone
    return method, settings


def variant_config(config: RunConfig, name: str) -> RunConfig:
    """The config a method of a comparison trains with: the comparison's, the method's own settings on top."""
    method, settings = split_variant(name)
    return config.replace(method=method, **settings)


def check_variant(name: str) -> None:
    """A ConfigError for an unknown method or modifier, or a bad setting of its own."""
    get_method(split_variant(name)[0])


def base_method(name: str) -> str:
    """The registry's method of a variant, without modifiers or settings ('siren@omega0=90+iga' -> 'siren')."""
    return split_variant(name)[0].split("+")[0]


# a variant's settings as figures read them (a panel title has a third of the page: "siren@first_omega0=90@omega0=90
# · 20.1 dB: Δ per band" ran into its neighbour's)
SYMBOLS = {"omega0": "ω₀", "first_omega0": "first ω₀", "pe_levels": "L", "rff_sigma": "σ"}


def display_name(name: str) -> str:
    """A variant as figures name it: 'siren@first_omega0=90@omega0=90' -> 'siren ω₀=90' (ω₀ in every layer),
    'siren@first_omega0=300' -> 'siren first ω₀=300'; a plain method (or a name that does not parse) as it is."""
    try:
        method, settings = split_variant(name)
    except ConfigError:
        return name
    if settings.get("first_omega0") is not None and settings.get("first_omega0") == settings.get("omega0"):
        settings.pop("first_omega0")  # the same ω₀ in every layer: one symbol
    words = [f"{SYMBOLS.get(key, key)}={f'{value:g}' if isinstance(value, float) else value}"
             for key, value in settings.items()]
    return " ".join([method, *words])
