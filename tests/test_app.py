"""app.py's callbacks as plain functions: link restore, presets, uploads, messages, status."""
import os
from urllib.parse import parse_qsl

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
import app  # noqa: E402
from spectral_lab.live import CUSTOM, PRESETS  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def demo():
    return app.build_demo()  # creates the components the callbacks address


class FakeRequest:
    def __init__(self, query=None, session="test-session"):
        self.query_params = query or {}
        self.headers = {"referer": "http://127.0.0.1:7860/?old=1"}
        self.session_hash = session


def test_link_restores_every_control_and_names_no_preset():
    values = app.on_load(FakeRequest({"signal": "camera", "image_size": "48", "s0": "12", "methods": "siren,siren2"}))
    settings = dict(zip(app.CONTROL_FIELDS + ["methods"], values[:-3]))
    assert settings["signal"] == "camera" and settings["image_size"] == 48 and settings["s0"] == 12.0
    assert settings["methods"] == ["siren", "siren2"] and "restored" in values[-3]
    assert values[-2] == CUSTOM  # not the default preset's name over other settings
    assert values[-1] is False  # no tuning unless the link asks


def test_a_tuned_comparison_keeps_tune_in_its_link():
    values = app._preset_values(app.DEFAULT_PRESET)
    config, methods = app._config_from(values)
    link = app._share_link(FakeRequest(), config, methods, tune=True)
    assert "tune=1" in link
    restored = app.on_load(FakeRequest(dict(parse_qsl(link.split("?", 1)[1]))))
    assert restored[:-3] == values and restored[-1] is True


def test_a_link_below_a_sliders_minimum_is_raised_to_it_and_says_so():
    # a value RunConfig accepts (ntk_points ≥ 16) but the slider cannot hold made Train fail in Gradio
    values = app.on_load(FakeRequest({"signal": "sines", "ntk_points": "32", "width": "4", "methods": "siren"}))
    settings = dict(zip(app.CONTROL_FIELDS, values))
    assert settings["ntk_points"] == 64 and settings["width"] == 8
    assert "ntk_points 32 → 64" in values[-3] and "width 4 → 8" in values[-3]
    config, _ = app._config_from(values[:-3])
    assert config.ntk_points == 64


def test_a_bad_link_falls_back_to_the_default_preset_with_a_message():
    values = app.on_load(FakeRequest({"steps": "-5", "methods": "siren"}))
    assert "could not be used" in values[-3] and "steps" in values[-3]
    assert dict(zip(app.CONTROL_FIELDS, values))["signal"] == "winner_high" and values[-2] == app.DEFAULT_PRESET


@pytest.mark.parametrize("title", sorted(PRESETS))
def test_preset_controls_link_controls_is_the_identity(title):
    # The issue: the modifiers preset lost lr_schedule=exp (no control for it).
    values = app._preset_values(title)
    config, methods = app._config_from(values)
    link = app._share_link(FakeRequest(), config, methods)
    assert link.startswith("http://127.0.0.1:7860/?") and "old=1" not in link
    restored = app.on_load(FakeRequest(dict(parse_qsl(link.split("?", 1)[1]))))  # decoded, as Starlette does
    assert restored[:-3] == values
    assert restored[-2] == title and restored[-1] is False  # the link of a preset shows that preset


def test_preview_reports_bad_signals_and_ignores_methods():
    values = app._preset_values(app.DEFAULT_PRESET)
    values[-1] = []  # no method chosen yet: the preview still works
    preview = app.on_preview(None, *values)
    assert "spectral centroid" in preview[app.ui.signal_info] and "nearest" not in preview[app.ui.recon_note]
    values[app.CONTROL_FIELDS.index("signal")] = "camera"  # the words under "Reconstructions" follow the kind
    assert "nearest neighbour" in app.on_preview(None, *values)[app.ui.recon_note]
    values[app.CONTROL_FIELDS.index("signal")] = "nope"
    message = app.on_preview(None, *values)[app.ui.signal_info]
    assert message.startswith("⚠️ unknown signal")


def test_an_upload_is_checked_at_once_and_the_message_sits_beside_it(tmp_path):
    values = app._preset_values(app.DEFAULT_PRESET)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(4000), 8000)
    updates = app.on_upload(str(silent), *values)
    assert updates[app.ui.upload_state] is None and "silent" in updates[app.ui.upload_message]
    assert "Error" not in updates[app.ui.upload_message]  # no exception class names for visitors
    good = tmp_path / "tone.wav"
    sf.write(good, np.sin(np.arange(4000) * 0.2), 8000)
    updates = app.on_upload(str(good), *values)  # the default preset crops 4096 samples: longer than the clip
    assert updates[app.ui.upload_state] == str(good) and "tone" in updates[app.ui.upload_message]
    assert "cleared" in updates[app.ui.upload_message]
    assert updates[app.ui.controls[app.CONTROL_FIELDS.index("length")]] is None


@pytest.mark.parametrize("change, message", [
    ({"steps": 10**6}, "above this server's limit"),
    ({"methods": []}, "pick at least one method"),
    ({"signal": "camera", "image_size": 2000}, "limit"),
])
def test_train_shows_clear_errors_in_the_status(change, message):
    values = app._preset_values(app.DEFAULT_PRESET)
    for key, value in change.items():
        index = len(app.CONTROL_FIELDS) if key == "methods" else app.CONTROL_FIELDS.index(key)
        values[index] = value
    request = FakeRequest(session="errors")
    app.on_queue(request)
    updates = list(app.on_train(request, None, [], "each", False, *values))
    assert len(updates) == 1 and message in updates[0][app.ui.status]
    assert app.SESSIONS.stop("errors") == "Nothing is training."  # the ticket was let go


def test_a_short_run_streams_every_panel_and_ends_finished():
    values = app._preset_values("Image: ReLU vs SIREN vs SPDER")
    values[app.CONTROL_FIELDS.index("steps")] = 20
    values[app.CONTROL_FIELDS.index("image_size")] = 16
    request = FakeRequest(session="short")
    app.on_queue(request)
    updates = list(app.on_train(request, None, [], "each", False, *values))
    final = {}
    for update in updates:  # what the page shows at the end: each output's latest value
        final.update(update)
    assert updates[-1][app.ui.status].startswith("**Finished**")
    assert len(final[app.ui.gallery]["value"]) == 4  # target + 3 methods
    for plot in (app.ui.ntk, app.ui.errors, app.ui.bands, app.ui.activations, app.ui.kernel):
        assert final[plot]["visible"]
    assert {row for row in final[app.ui.results]["status"]} == {"finished"}
    assert [name.rsplit("/", 1)[-1] for name in final[app.ui.downloads]] == ["results.csv"]
    figures = [name.rsplit("/", 1)[-1] for name in app.on_export(request)]  # the PNGs when asked for
    assert {"results.csv", "psnr.png", "ntk.png", "errors.png", "bands.png"} <= set(figures)
    details = app.on_details("siren", request)  # another method's activations and kernel
    assert details[app.ui.activations]["visible"] and details[app.ui.kernel]["visible"]
    assert app.on_stop(request) == gr.skip()  # Stop after the run keeps its "Finished" summary on screen


def test_stop_on_a_queued_run_cancels_it():
    values = app._preset_values(app.DEFAULT_PRESET)
    request = FakeRequest(session="queued")
    app.on_queue(request)
    assert "Cancelled" in app.on_stop(request)
    updates = list(app.on_train(request, None, [], "each", False, *values))
    assert len(updates) == 1 and "Cancelled" in updates[0][app.ui.status]
