"""One link schema for the page, the lessons' follow-ups and `/train_link` (issue 33): every setting a
share link may carry is applied — through a control of its own or the "More settings" box — and comes
back in the run's config and share link; a bad one is refused in one line that quotes this server's
limits. Generated from RunConfig's fields, so a new field is covered the day it is added."""
import dataclasses
import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
from spectral_lab import RunConfig  # noqa: E402
from spectral_lab.lab import AppLimits, parse_link  # noqa: E402
from spectral_lab.lab.lessons import LESSONS, expand_link, unknown_followup_note  # noqa: E402
from spectral_lab.lab.links import more_settings_text, parse_more_settings  # noqa: E402
from spectral_lab.ui import build_demo, lab as app_lab  # noqa: E402

SMALL = {"steps": 20, "width": 16, "depth": 2, "ntk_points": 64, "signal": "camera", "method": "relu",
         "device": "cpu", "length": 512, "image_size": 32, "signal_options": "crop=square", "seed": 3}


@pytest.fixture(scope="module", autouse=True)
def demo():
    return build_demo()


def _non_default(field: dataclasses.Field):
    """A value of the field other than its default, inside this server's limits."""
    if field.name in SMALL:
        return SMALL[field.name]
    meta, default = field.metadata, field.default
    if meta.get("choices"):
        return next(choice for choice in meta["choices"] if choice != default)
    if isinstance(default, bool):
        return not default
    low, high = meta.get("low"), meta.get("high")
    if "int" in str(field.type):
        return next(v for v in (2, 3, int(low or 1) + 1) if v != default and v >= (low or 0)
                    and (high is None or v <= high))
    return next(v for v in (0.5, 2.0, 0.25, float(low or 0) + 1e-3) if v != default and (low is None or v >= low)
                and (high is None or v <= high))


@pytest.mark.parametrize("field", dataclasses.fields(RunConfig), ids=lambda f: f.name)
def test_every_setting_a_link_carries_reaches_the_run(field):
    value = _non_default(field)
    config, methods, dropped = parse_link(f"{field.name}={value}&methods=relu", AppLimits())
    assert dropped == [] and getattr(config, field.name) == value, (dropped, config)
    page_config, page_methods = app_lab._config_from(app_lab._values_from(config, methods), check=False)
    assert getattr(page_config, field.name) == value and page_methods == ["relu"]
    assert page_config == config  # nothing else changed on the way through the page
    assert f"{field.name}=" in app_lab._share_link(None, page_config, page_methods)


def test_the_more_settings_box_refuses_in_one_line():
    controlled = app_lab.CONTROLLED
    assert parse_more_settings("mfn_scale=20 grid_levels=16", controlled) == {"mfn_scale": 20.0, "grid_levels": 16}
    for text, words in (("mfn_scale", "is not name=value"), ("nope=1", "'nope' is not a setting"),
                        ("width=64", "has a control of its own"), ("grid_levels=99", "out of range")):
        with pytest.raises(Exception, match=words):
            parse_more_settings(text, controlled)
    assert more_settings_text(RunConfig(mfn_scale=20.0, width=64), controlled) == "mfn_scale=20.0"


def test_a_mutated_schema_is_caught():
    """The round trip above fails when a field has neither a control nor the box (the bug it replaces)."""
    config = RunConfig(mfn_scale=20.0)
    values = app_lab._values_from(config, ["relu"])
    values[app_lab.CONTROL_FIELDS.index(app_lab.MORE_SETTINGS)] = ""  # the box dropped, as the page once did
    assert app_lab._config_from(values, check=False)[0].mfn_scale is None


def test_out_of_range_notes_quote_this_server_s_range():
    limits = AppLimits()
    for link, words in (("steps=999999999", f"outside [1, {limits.max_steps}], this server's range"),
                        ("width=5000", f"outside [1, {limits.max_width}]"),
                        ("steps=9000", f"above this server's limit of {limits.max_steps}")):
        _, _, dropped = parse_link(link, limits)
        assert len(dropped) == 1 and words in dropped[0], dropped
        assert "1000000" not in dropped[0] and "4096" not in dropped[0]


def test_every_follow_up_fits_this_server_by_construction():
    """A follow-up whose settings a CPU server drops cannot show what it asks (lesson 2's width 4096 did)."""
    for lesson in LESSONS.values():
        for index in range(len(lesson.followups)):
            query, note = expand_link({"followup": f"{lesson.number}.{index + 1}"})
            assert note.startswith(f"Lesson {lesson.number}")
            if query.get("tab") == "nern":
                continue
            _, _, dropped = parse_link(query, AppLimits())
            assert dropped == [], (lesson.number, index + 1, dropped)


def test_an_unknown_follow_up_is_named():
    assert unknown_followup_note({"followup": "1.2"}) == "" and unknown_followup_note({}) == ""
    note = unknown_followup_note({"followup": "9.9"})
    assert note.startswith("There is no follow-up '9.9'") and "1.1–1.3" in note
