"""The UI's callbacks (spectral_lab.ui) as plain functions: link restore, presets, uploads, messages, status."""
import os
from urllib.parse import parse_qsl

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
from spectral_lab.ui import build_demo, lab as app_lab  # noqa: E402
from spectral_lab import RunConfig  # noqa: E402
from spectral_lab.lab import CUSTOM, PRESETS, SIZE_FIELDS  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def demo():
    return build_demo()  # creates the components the callbacks address


class FakeRequest:
    def __init__(self, query=None, session="test-session"):
        self.query_params = query or {}
        self.headers = {"referer": "http://127.0.0.1:7860/?old=1"}
        self.session_hash = session


def test_link_restores_every_control_and_names_no_preset():
    values = app_lab.on_load(FakeRequest({"signal": "camera", "image_size": "48", "s0": "12",
                                          "methods": "siren,siren2"}))
    settings = dict(zip(app_lab.CONTROL_FIELDS + ["methods"], values[:-3]))
    assert settings["signal"] == "camera" and settings["image_size"] == 48 and settings["s0"] == 12.0
    assert settings["methods"] == ["siren", "siren2"] and "restored" in values[-3]
    assert values[-2] == CUSTOM  # not the default preset's name over other settings
    assert values[-1] is False  # no tuning unless the link asks


def test_a_tuned_comparison_keeps_tune_in_its_link():
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)
    config, methods = app_lab._config_from(values)
    link = app_lab._share_link(FakeRequest(), config, methods, tune=True)
    assert "tune=1" in link
    restored = app_lab.on_load(FakeRequest(dict(parse_qsl(link.split("?", 1)[1]))))
    assert restored[:-3] == values and restored[-1] is True


def test_a_link_below_a_sliders_minimum_is_raised_to_it_and_says_so():
    # a value RunConfig accepts (ntk_points ≥ 16) but the slider cannot hold made Train fail in Gradio
    values = app_lab.on_load(FakeRequest({"signal": "sines", "ntk_points": "32", "width": "4", "methods": "siren"}))
    settings = dict(zip(app_lab.CONTROL_FIELDS, values))
    assert settings["ntk_points"] == 64 and settings["width"] == 8
    assert "ntk_points 32 → 64" in values[-3] and "width 4 → 8" in values[-3]
    config, _ = app_lab._config_from(values[:-3])
    assert config.ntk_points == 64


def test_a_bad_value_in_a_link_is_dropped_alone_and_named():
    # Issue 17: one bad value used to discard the whole link; an unknown signal blanked the Signal box.
    values = app_lab.on_load(FakeRequest({"signal": "doesnotexist", "width": "abc", "steps": "20", "methods": "siren"}))
    settings = dict(zip(app_lab.CONTROL_FIELDS + ["methods"], values[:-3]))
    note = values[-3]
    assert "Not applied from the link" in note and "doesnotexist" in note and "width expects an integer" in note
    assert settings["steps"] == 20 and settings["methods"] == ["siren"]  # the rest applied
    assert settings["signal"] == RunConfig().signal and settings["width"] == RunConfig().width  # defaults instead
    config, methods = app_lab._config_from(values[:-3])  # and it trains
    assert config.steps == 20 and methods == ["siren"]
    over = app_lab.on_load(FakeRequest({"steps": "-5", "width": "1024", "methods": "siren,nope"}))
    assert "steps = -5 is outside [1, 5000], this server's range" in over[-3] and "width = 1024 is above" in over[-3] and "'nope'" in over[-3]


@pytest.mark.parametrize("title", sorted(PRESETS))
def test_preset_controls_link_controls_is_the_identity(title):
    # The issue: the modifiers preset lost lr_schedule=exp (no control for it).
    values = app_lab._preset_values(title)
    config, methods = app_lab._config_from(values)
    link = app_lab._share_link(FakeRequest(), config, methods)
    assert link.startswith("http://127.0.0.1:7860/?") and "old=1" not in link
    restored = app_lab.on_load(FakeRequest(dict(parse_qsl(link.split("?", 1)[1]))))  # decoded, as Starlette does
    assert restored[:-3] == values
    assert restored[-2] == title and restored[-1] is False  # the link of a preset shows that preset


def test_preview_reports_bad_signals_and_ignores_methods():
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)
    values[-1] = []  # no method chosen yet: the preview still works
    preview = app_lab.on_preview(None, *values)
    assert "spectral centroid" in preview[app_lab.ui.signal_info] and "nearest" not in preview[app_lab.ui.recon_note]
    values[app_lab.CONTROL_FIELDS.index("signal")] = "camera"  # the words under "Reconstructions" follow the kind
    assert "nearest neighbour" in app_lab.on_preview(None, *values)[app_lab.ui.recon_note]
    values[app_lab.CONTROL_FIELDS.index("signal")] = "nope"
    message = app_lab.on_preview(None, *values)[app_lab.ui.signal_info]
    assert message.startswith("⚠️ unknown signal")


def test_an_upload_is_checked_at_once_and_the_message_sits_beside_it(tmp_path):
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(4000), 8000)
    updates = app_lab.on_upload(str(silent), *values)
    assert updates[app_lab.ui.upload_state] == {"error": "silent.wav: the signal is silent (all zeros)"}
    assert "silent" in updates[app_lab.ui.upload_message] and "Error" not in updates[app_lab.ui.upload_message]
    # Train after a failed upload refuses with the upload's message, not the dropdown's signal
    request = FakeRequest(session="failed-upload")
    app_lab.on_queue(request)
    train = list(app_lab.on_train(request, updates[app_lab.ui.upload_state], [], "each", False, *values))
    assert len(train) == 1 and "upload was not usable" in train[0][app_lab.ui.status]
    assert "silent" in train[0][app_lab.ui.status]
    good = tmp_path / "tone.wav"
    sf.write(good, np.sin(np.arange(4000) * 0.2), 8000)
    updates = app_lab.on_upload(str(good), *values)  # the default preset's length 4096: longer than the clip
    assert updates[app_lab.ui.upload_state] == str(good) and "tone" in updates[app_lab.ui.upload_message]
    # the upload is the signal: the picker names it, the preset gives way, the size is left to the plan
    assert updates[app_lab.ui.signal]["value"] == "upload: tone.wav" and updates[app_lab.ui.preset] == app_lab.CUSTOM
    assert updates[app_lab.ui.controls[app_lab.CONTROL_FIELDS.index("length")]] is None
    assert updates[app_lab.ui.crop]["visible"]  # how a long clip is shortened: the visitor's choice
    assert app_lab.on_crop("loudest", "sample_rate=8000 crop=first") == "sample_rate=8000 crop=loudest"
    assert app_lab.on_crop("first", "crop=loudest") == ""


def test_the_upload_message_says_what_was_done_to_the_file(tmp_path):
    values = app_lab._preset_values("Audio: chip melody, SIREN vs SIREN²")  # length 8000: a preset's
    values[app_lab.CONTROL_FIELDS.index("length")] = 9000  # the visitor's own length is kept
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.random.default_rng(0).uniform(-1, 1, (96_000, 2)), 96_000)
    message = app_lab.on_upload(str(stereo), *values)[app_lab.ui.upload_message]
    assert "mixed 2 channels to mono" in message and "cropped to the first 9,000 of 96,000 samples" in message
    image = tmp_path / "wide.png"
    from skimage import io

    io.imsave(image, (np.random.default_rng(0).uniform(0, 1, (60, 90, 3)) * 255).astype(np.uint8))
    values = app_lab._preset_values("Image: ReLU vs SIREN vs SPDER")  # image_size 64: a preset's, not kept
    values[app_lab.CONTROL_FIELDS.index("image_size")] = 45  # the visitor's own size is
    assert "resized from 60×90 to 30×45" in app_lab.on_upload(str(image), *values)[app_lab.ui.upload_message]


def test_a_preset_drops_the_upload_and_edits_make_the_label_custom(tmp_path):
    # Issue 17: an upload silently replaced the signal a later-chosen preset names.
    outputs = app_lab.on_preset("Image: ReLU vs SIREN vs SPDER")
    assert outputs[-3] is None and outputs[-2] == ""  # upload_state and its message cleared
    assert outputs[-1]["visible"] is False  # and the long clip's crop choice hidden
    values = outputs[:len(app_lab.CONTROL_FIELDS) + 1]
    request = FakeRequest(session="edits")
    same = app_lab.on_edit(request, None, [], "each", False, *values)
    assert same[app_lab.ui.preset] == "Image: ReLU vs SIREN vs SPDER"
    assert "signal=camera" in same[app_lab.ui.share]["value"]
    values[app_lab.CONTROL_FIELDS.index("steps")] = 123
    edited = app_lab.on_edit(request, None, [], "each", True, *values)
    assert edited[app_lab.ui.preset] == CUSTOM and "Custom settings" in edited[app_lab.ui.preset_note]
    assert "steps=123" in edited[app_lab.ui.share]["value"] and "tune=1" in edited[app_lab.ui.share]["value"]
    uploaded = app_lab.on_edit(request, str(tmp_path / "x.wav"), [], "each", False, *values)
    assert "cannot travel in a link" in uploaded[app_lab.ui.share]["info"]


@pytest.mark.parametrize("change, message", [
    ({"steps": 10**6}, "above this server's limit"),
    ({"methods": []}, "pick at least one method"),
    ({"signal": "camera", "image_size": 2000}, "limit"),
])
def test_train_shows_clear_errors_in_the_status(change, message):
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)
    for key, value in change.items():
        index = len(app_lab.CONTROL_FIELDS) if key == "methods" else app_lab.CONTROL_FIELDS.index(key)
        values[index] = value
    request = FakeRequest(session="errors")
    app_lab.on_queue(request)
    updates = list(app_lab.on_train(request, None, [], "each", False, *values))
    assert len(updates) == 1 and message in updates[0][app_lab.ui.status]
    assert app_lab.SESSIONS.stop("errors") == "Nothing is training."  # the ticket was let go


def _small_image_values() -> list:
    """The image preset's controls (ReLU, SIREN, SPDER) at 16² and 20 steps: a run of a few seconds."""
    values = app_lab._preset_values("Image: ReLU vs SIREN vs SPDER")
    values[app_lab.CONTROL_FIELDS.index("steps")] = 20
    values[app_lab.CONTROL_FIELDS.index("image_size")] = 16
    return values


def test_a_short_run_streams_every_panel_and_ends_finished():
    values = _small_image_values()
    request = FakeRequest(session="short")
    app_lab.on_queue(request)
    updates = list(app_lab.on_train(request, None, [], "each", False, *values))
    final = {}
    for update in updates:  # what the page shows at the end: each output's latest value
        final.update(update)
    assert updates[-1][app_lab.ui.status].startswith("**Finished**")
    assert len(final[app_lab.ui.gallery]["value"]) == 4  # target + 3 methods
    for plot in (app_lab.ui.ntk, app_lab.ui.errors, app_lab.ui.bands, app_lab.ui.activations, app_lab.ui.kernel):
        assert final[plot]["visible"]
    assert {row for row in final[app_lab.ui.results]["status"]} == {"finished"}
    assert [name.rsplit("/", 1)[-1] for name in final[app_lab.ui.downloads]] == ["results.csv"]
    figures = [name.rsplit("/", 1)[-1] for name in app_lab.on_export(request)]  # the PNGs when asked for
    assert {"results.csv", "psnr.png", "ntk.png", "errors.png", "bands.png"} <= set(figures)
    details = app_lab.on_details("siren", request)  # another method's activations and kernel
    assert details[app_lab.ui.activations]["visible"] and details[app_lab.ui.kernel]["visible"]
    assert app_lab.on_stop(request) == gr.skip()  # Stop after the run keeps its "Finished" summary on screen


def test_stop_on_a_queued_run_cancels_it():
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)
    request = FakeRequest(session="queued")
    app_lab.on_queue(request)
    assert "Cancelled" in app_lab.on_stop(request)
    updates = list(app_lab.on_train(request, None, [], "each", False, *values))
    assert len(updates) == 1 and "Cancelled" in updates[0][app_lab.ui.status]


def test_switching_the_signal_kind_takes_that_kinds_sizes_unless_the_user_set_them():
    # Issue 17: length 4096 / width 64 of the 1D preset carried over to audio (an 8,513-parameter net).
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)  # 1D: length 4096, width 64
    values[app_lab.CONTROL_FIELDS.index("signal")] = "chip_melody"
    upload, note, _, _, *sizes = app_lab.on_signal(*values)  # (+ the picker, the crop choice)
    audio = dict(zip(SIZE_FIELDS, sizes))
    assert upload is None and audio["length"] == 8000 and audio["width"] == RunConfig().width
    assert "the preset “Audio: chip melody" in note and "length 8000" in note
    values[app_lab.CONTROL_FIELDS.index("width")] = 96  # the user's own width: kept, nothing reset
    _, note, _, _, *sizes = app_lab.on_signal(*values)
    assert dict(zip(SIZE_FIELDS, sizes))["width"] == 96 and dict(zip(SIZE_FIELDS, sizes))["length"] == 4096
    assert note == ""


def test_the_bare_address_lands_on_lesson_1_and_a_link_with_settings_on_the_lab():
    from spectral_lab.ui import lessons as app_lessons

    landing = app_lessons.on_load(FakeRequest())
    assert landing[app_lessons.ui.tabs].selected == "lessons"
    assert landing[app_lessons.ui.picker]["value"] == "spectral-bias"
    assert "Lesson 1" in landing[app_lessons.ui.text] and landing[app_lessons.ui.seed] is None
    assert landing[app_lessons.ui.recon]["visible"]  # the lesson's target, before the run
    teacher = app_lessons.on_load(FakeRequest({"lesson": "3", "seed": "4", "hide": "picker,followups"}))
    assert "Lesson 3" in teacher[app_lessons.ui.text] and teacher[app_lessons.ui.seed] == 4
    assert teacher[app_lessons.ui.picker]["visible"] is False and teacher[app_lessons.ui.followups]["visible"] is False
    assert app_lessons.on_load(FakeRequest({"signal": "sines"}))[app_lessons.ui.tabs].selected == "signals"
    # the lab keeps its default preset for a lesson's link (no run settings in it)
    assert app_lab.on_load(FakeRequest({"lesson": "2"}))[-2] == app_lab.DEFAULT_PRESET


def test_a_lessons_follow_up_link_opens_its_settings_names_it_and_trains():
    from spectral_lab.lab.lessons import LESSONS

    values = app_lab.on_load(FakeRequest({"followup": "1.2"}))
    followup = LESSONS["spectral-bias"].followups[1]
    fields = dict(zip(app_lab.CONTROL_FIELDS, values))
    assert fields["signal"] == "sines" and values[len(app_lab.CONTROL_FIELDS)] == ["relu", "relu_pe", "siren"]
    assert followup.label in values[-3] and "?lesson=1" in values[-3]
    assert app_lab._link_query(FakeRequest({"followup": "1.2"}))[0]["run"] == "1"
    assert app_lab.on_load(FakeRequest({"followup": "9.9"}))[-2] == app_lab.DEFAULT_PRESET  # unknown: the default


def test_a_teachers_link_hides_what_it_names():
    updates = app_lab.on_hide(FakeRequest({"hide": "presets,controls,nonsense"}))
    hidden = {component for component, update in updates.items() if isinstance(update, dict)
              and update.get("visible") is False}
    assert {app_lab.ui.preset, app_lab.ui.preset_note, *app_lab.ui.accordions} <= hidden
    assert app_lab.ui.methods not in hidden


def test_a_cnn_lessons_follow_up_opens_the_cnn_tab_with_its_settings_and_leaves_the_lab_alone():
    from spectral_lab.ui import lessons as app_lessons, nern as app_nern

    request = FakeRequest({"followup": "6.2"})
    assert app_lessons.on_load(request)[app_lessons.ui.tabs].selected == "nern"
    assert app_lab.on_load(request)[-2] == app_lab.DEFAULT_PRESET  # nothing of it read as a lab setting
    values = dict(zip(app_nern.LINK_KNOBS, app_nern.on_link(request)))
    assert (values["setting"], values["smoothing"], values["encoding"]) == ("nern", "nern", "pe")
    assert values["hidden"] == 24 and values["steps"] == 1000
    assert all(isinstance(v, type(gr.skip())) for v in app_nern.on_link(FakeRequest({"signal": "sines"})))


def test_an_upload_gets_its_kind_s_network_and_the_player_plays_what_is_fitted(tmp_path):
    """Uploaded from the landing 1D preset (width 64, length 4096), a clip gets the audio preset's network
    (width 128) and a size the plan chooses; when Train shortens it, the target player plays the shortened
    clip, not the whole upload the preview played."""
    values = app_lab._preset_values(app_lab.DEFAULT_PRESET)
    clip = tmp_path / "long.wav"
    sf.write(clip, np.sin(np.arange(400_000) * 0.05) * np.linspace(0.1, 1, 400_000), 16_000)  # 25 s
    updates = app_lab.on_upload(str(clip), *values)
    width = app_lab.ui.controls[app_lab.CONTROL_FIELDS.index("width")]
    assert updates[width] == 128 and updates[app_lab.ui.controls[app_lab.CONTROL_FIELDS.index("length")]] is None
    for name in ("width", "length", "depth"):
        values[app_lab.CONTROL_FIELDS.index(name)] = updates[app_lab.ui.controls[app_lab.CONTROL_FIELDS.index(name)]]
    values[app_lab.CONTROL_FIELDS.index("steps")] = 10
    values[app_lab.CONTROL_FIELDS.index("width")] = 16
    request = FakeRequest(session="upload-player")
    app_lab.on_queue(request)
    values[-1] = ["relu"]
    for update in app_lab.on_train(request, str(clip), [], "each", False, *values):
        player = update.get(app_lab.ui.target_audio)
        if isinstance(player, dict) and "value" in player:
            rate, samples = player["value"]
            break
    else:
        pytest.fail("the target player was not given the fitted clip")
    assert rate == 16_000 and 0 < len(samples) < 400_000


def test_the_takeaway_of_a_run_the_student_trained_carries_every_panel_again():
    """Gradio 6 applies each streamed update as a diff on the last: panels sent in a run's last frame and left out
    of the takeaway's update that follows it were erased before a busy page drew them (CI: lesson 3's first
    student saw the takeaway beside blank plots). The takeaway's update carries them, as a served one does."""
    from spectral_lab.lab import AppLimits, LiveComparison, load_ui_signal, with_app_cadence
    from spectral_lab.lab.lesson_runs import LessonEvent
    from spectral_lab.lab.lessons import find_lesson
    from spectral_lab.lab.recordings import Recording
    from spectral_lab.ui import lessons as app_lessons

    config = with_app_cadence(RunConfig(signal="sines", length=256, width=16, depth=2, steps=10, ntk_points=32,
                                        diagnostics_budget=0), "cpu")
    live = LiveComparison(config, ["relu", "siren"], load_ui_signal(config, None, AppLimits()),
                          panels=("reconstruction", "bands"))
    last = list(live.frames())[-1]
    lesson = find_lesson("spectral-bias")
    for served in (False, True):
        updates = app_lessons._event_updates(lesson, LessonEvent("done", "text", last, live, Recording(live, last),
                                                                 served=served), "bands")
        for panel in (app_lessons.ui.curves, app_lessons.ui.recon, app_lessons.ui.evidence):
            assert panel in updates, (served, panel.elem_id)
        assert updates[app_lessons.ui.takeaway].startswith("**Takeaway.**")


def test_a_tuned_image_run_shows_its_target_while_it_searches_then_the_fits():
    # no fit exists until every method's search has ended: the target alone, titled so, not a blank gallery
    values = _small_image_values()
    request = FakeRequest(session="tuned-image")
    app_lab.on_queue(request)
    updates = list(app_lab.on_train(request, None, [], "each", True, *values))
    opening = next(update for update in updates if app_lab.ui.gallery in update)
    assert opening[app_lab.ui.gallery]["visible"] is False
    assert opening[app_lab.ui.recon_plot]["visible"] and "learning rate is found" in str(opening[app_lab.ui.recon_plot])
    final = {}
    for update in updates:
        final.update(update)
    assert updates[-1][app_lab.ui.status].startswith("**Finished**"), updates[-1][app_lab.ui.status]
    assert final[app_lab.ui.gallery]["visible"] and len(final[app_lab.ui.gallery]["value"]) == 4
    assert final[app_lab.ui.recon_plot]["visible"] is False  # the gallery took the target's place
    run = app_lab.on_train(FakeRequest(session="untuned-image"), None, [], "each", False, *values)
    untuned = next(update for update in run if app_lab.ui.gallery in update)
    run.close()  # its training slot freed at once
    assert untuned[app_lab.ui.gallery]["visible"] and untuned[app_lab.ui.recon_plot]["visible"] is False
