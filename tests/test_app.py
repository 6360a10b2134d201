"""app.py's callbacks as plain functions: link restore, previews, errors shown as messages."""
import os
from urllib.parse import parse_qsl

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
import app  # noqa: E402


class FakeRequest:
    def __init__(self, query=None):
        self.query_params = query or {}
        self.headers = {"referer": "http://127.0.0.1:7860/?old=1"}
        self.session_hash = "test-session"


def test_link_restores_every_control():
    values = app.on_load(FakeRequest({"signal": "camera", "image_size": "48", "s0": "12", "methods": "siren,siren2"}))
    settings = dict(zip(app.CONTROL_FIELDS + ["methods"], values[:-1]))
    assert settings["signal"] == "camera" and settings["image_size"] == 48 and settings["s0"] == 12.0
    assert settings["methods"] == ["siren", "siren2"] and "restored" in values[-1]


def test_a_bad_link_falls_back_to_the_default_preset_with_a_message():
    values = app.on_load(FakeRequest({"steps": "-5", "methods": "siren"}))
    assert "could not be used" in values[-1] and "steps" in values[-1]
    assert dict(zip(app.CONTROL_FIELDS, values))["signal"] == "winner_high"


def test_controls_round_trip_through_the_share_link():
    values = app._preset_values("Image: ReLU vs SIREN vs SPDER")
    config, methods = app._config_from(values)
    link = app._share_link(FakeRequest(), config, methods)
    assert link.startswith("http://127.0.0.1:7860/?") and "old=1" not in link
    restored = app.on_load(FakeRequest(dict(parse_qsl(link.split("?", 1)[1]))))  # decoded, as Starlette does
    assert restored[:-1] == values


def test_preview_reports_bad_signals_and_ignores_methods():
    values = app._preset_values(app.DEFAULT_PRESET)
    values[-1] = []  # no method chosen yet: the preview still works
    assert "spectral centroid" in app.on_preview(None, *values)[0]
    values[app.CONTROL_FIELDS.index("signal")] = "nope"
    assert app.on_preview(None, *values)[0].startswith("⚠️ unknown signal")


@pytest.mark.parametrize("change, message", [
    ({"steps": 10**6}, "above this server's limit"),
    ({"methods": []}, "pick at least one method"),
    ({"signal": "camera", "image_size": 2000}, "limit"),
])
def test_train_shows_clear_errors(change, message):
    values = app._preset_values(app.DEFAULT_PRESET)
    for key, value in change.items():
        index = len(app.CONTROL_FIELDS) if key == "methods" else app.CONTROL_FIELDS.index(key)
        values[index] = value
    with pytest.raises(gr.Error, match=message):
        next(app.on_train(FakeRequest(), None, [], "each", *values))
