"""Share links: the whole state of a comparison as a query string, and back (a bad value
dropped alone, in words)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from ..config import RunConfig
from ..errors import ConfigError
from .limits import AppLimits
from .variants import check_variant


# Keys of a link that address the page, not the run: the tab, a lesson (and a follow-up of it),
# parts to hide (a teacher's link), whether to train at once, and a class (a student's `class=CODE`,
# a teacher's `teacher=KEY`: spectral_lab.lab.classroom).
PAGE_KEYS = ("tab", "lesson", "followup", "hide", "run", "class", "teacher")


def share_query(config: RunConfig, methods: list[str], tune: bool = False) -> str:
    """Non-default config fields plus the list of methods (`methods=a,b`) and `tune=1` when each
    method is tuned to its best learning rate."""
    query = config.to_query()
    extra = urlencode({"methods": ",".join(methods), **({"tune": "1"} if tune else {})})
    return f"{query}&{extra}" if query else extra


def _query_pairs(query: str | dict) -> dict:
    return dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)) if isinstance(query, str) else dict(query)


def share_tune(query: str | dict) -> bool:
    """Whether a share link asks for each method at its best learning rate."""
    return _query_pairs(query).get("tune", "").lower() in ("1", "true", "yes")


def parse_share_query(query: str | dict) -> tuple[RunConfig, list[str]]:
    pairs = _query_pairs(query)
    pairs.pop("tune", None)  # the comparison's option, read by share_tune
    methods = [m for m in pairs.pop("methods", "").split(",") if m]
    config = RunConfig.from_query(urlencode(pairs))
    return config, methods or [config.method]


def has_settings(query: str | dict) -> bool:
    """Whether a link carries run settings (not only page keys such as ?lesson=2)."""
    return any(key not in PAGE_KEYS for key in _query_pairs(query))


def parse_link(query: str | dict, limits: "AppLimits | None" = None) -> tuple[RunConfig, list[str], list[str]]:
    """A share link's (config, methods, what was dropped): each bad value is dropped alone, in
    words (an unknown signal, a setting that does not parse or is out of range or over this
    server's limit, an unknown method), and the rest is applied. Share links name built-in
    signals only: an upload cannot travel in a link."""
    from ..signals import list_signals

    pairs = _query_pairs(query)
    for key in ("tune", *PAGE_KEYS):
        pairs.pop(key, None)
    dropped, accepted = [], {}
    caps = {} if limits is None else {"steps": limits.max_steps, "width": limits.max_width,
                                      "depth": limits.max_depth, "ntk_points": limits.max_ntk_points}
    unknown = [name for name in pairs if name != "methods" and name not in RunConfig.__dataclass_fields__]
    if unknown:  # one note for all of them: a link of garbage is not sixty notes
        more = f" and {len(unknown) - 6} more" if len(unknown) > 6 else ""
        dropped.append(f"unknown setting(s): {', '.join(unknown[:6])}{more}")
    for name, value in pairs.items():
        if name == "methods" or name in unknown:
            continue
        try:
            if name == "signal" and value not in {n for n, _ in list_signals()}:
                raise ConfigError(f"signal {value!r} is not a built-in signal")
            accepted[name] = parse_setting(name, value)
        except ConfigError as exc:
            dropped.append(_range_on_this_server(name, value, caps) or str(exc))
    methods = []
    for method in (m.strip() for m in pairs.get("methods", "").split(",") if m.strip()):
        try:
            check_variant(method)  # the architecture, its modifiers and its own settings
        except ConfigError as exc:
            dropped.append(str(exc) if "@" in method else f"method {method!r} is unknown")
            continue
        if method in methods:
            dropped.append(f"method {method!r} was listed more than once: kept once")
        else:
            methods.append(method)
    if limits is not None:
        for name, cap in caps.items():
            if name in accepted and accepted[name] > cap:
                dropped.append(f"{name} = {accepted.pop(name)} is above this server's limit of {cap}")
        if len(methods) > limits.max_methods:
            dropped.append(f"methods after the first {limits.max_methods} (this server's limit)")
            methods = methods[:limits.max_methods]
    config = RunConfig.from_dict(accepted)
    return config, methods or [config.method], said_once(dropped)


def parse_setting(name: str, value: str):
    """One setting from a link's text, parsed and range-checked alone (a ConfigError says why not)."""
    return RunConfig.from_dict({name: value}).to_dict()[name]


def _range_on_this_server(name: str, value: str, caps: dict) -> str:
    """A capped setting out of its range, in this server's words: its range here is [low, cap], not the
    engine's (steps 1…1,000,000 for a script; 1…5,000 on a CPU server)."""
    if name not in caps:
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    low = RunConfig.__dataclass_fields__[name].metadata["low"]
    if not (number < low or number > caps[name]):  # in range: another fault (5.5 steps), in the engine's words
        return ""
    return f"{name} = {value} is outside [{low}, {caps[name]}], this server's range"


def said_once(notes: list[str], shown: int = 5) -> list[str]:
    """Each note once, in order, at most `shown` of them and then how many more (a link of garbage
    must not repeat one note sixty times)."""
    unique = list(dict.fromkeys(notes))
    if len(unique) > shown:
        return unique[:shown] + [f"and {len(unique) - shown} more"]
    return unique


def more_settings_text(config: RunConfig, controlled) -> str:
    """The config's non-default settings that have no control of their own on the page (`controlled`:
    the fields that do), as `name=value` words: the page's "More settings" box, so every setting a link
    carries is applied and on screen, and travels on in the share link (`mfn_scale=20 grid_levels=16`)."""
    default = RunConfig()
    return " ".join(f"{name}={getattr(config, name)}" for name in RunConfig.__dataclass_fields__
                    if name not in controlled and getattr(config, name) != getattr(default, name))


def parse_more_settings(text: str, controlled) -> dict:
    """The "More settings" box's `name=value` words, parsed and range-checked one by one: a
    ConfigError names the first bad one (an unknown setting, a value out of range, a setting that has
    a control of its own on the page)."""
    settings = {}
    for word in str(text or "").split():
        name, equals, value = word.partition("=")
        if not equals or not name:
            raise ConfigError(f"More settings: {word!r} is not name=value (e.g. mfn_scale=20)")
        if name not in RunConfig.__dataclass_fields__:
            raise ConfigError(f"More settings: {name!r} is not a setting")
        if name in controlled:
            raise ConfigError(f"More settings: {name} has a control of its own on the page; set it there")
        settings[name] = parse_setting(name, value)
    return settings


TABS = {"lessons": "lessons", "signals": "signals", "lab": "signals", "nern": "nern", "cnn": "nern"}


def link_page(query: dict, lessons: dict, first_lesson) -> tuple[str, object, list[str]]:
    """(tab, lesson, notes) a link opens: `tab=` by name (lab / signals, lessons, nern / cnn), else
    the lessons for the bare address or a lesson's link and the lab for a link with settings;
    `lesson=` by number or key (pass the query with a follow-up expanded, lessons.expand_link). An
    unknown tab or lesson is named in a note and the nearest sensible page opens instead.
    `lessons`: find_lesson-like callable; `first_lesson`: the lesson shown by default."""
    notes = []
    lesson = first_lesson
    if "lesson" in query:
        found = lessons(query["lesson"])
        if found is None:
            notes.append(f"There is no lesson {query['lesson']!r}: showing lesson {first_lesson.number}.")
        else:
            lesson = found
    default = "lessons" if "lesson" in query or not has_settings(query) else "signals"
    asked = str(query.get("tab", "")).strip().lower()
    tab = TABS.get(asked, default) if asked else default
    if asked and asked not in TABS:
        notes.append(f"There is no tab {query['tab']!r} (lessons, lab, nern): opening the "
                     f"{'lab' if tab == 'signals' else tab}.")
    return tab, lesson, notes
