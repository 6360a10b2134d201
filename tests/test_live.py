"""The app's engine-level callbacks: share links, caps, uploads, the live stream and Stop."""
import numpy as np
import pytest
import soundfile as sf

from spectral_lab import ConfigError, RunConfig, SignalError
import torch

from spectral_lab import Run, run_to_end, tuning
from spectral_lab.lab import (CUSTOM, DEFAULT_PRESET, PRESETS, AppLimits, LiveComparison, Sessions, check_limits,
                               load_ui_signal, matching_preset, parse_share_query, share_query, to_audio, train_stream,
                               with_app_cadence)


def latest(frames, panel):
    """A panel as the page shows it at the end: its value in the last frame that carried it."""
    return next((getattr(f, panel) for f in reversed(frames) if getattr(f, panel) is not None), None)


def heavy_panels(frame) -> int:
    return sum(getattr(frame, name) is not None for name in ("gallery", "reconstruction", "ntk", "errors", "bands",
                                                             "details"))


def test_share_link_round_trips_config_and_methods():
    config = RunConfig(signal="camera", image_size=48, method="siren2", s0=12.0, steps=250, damping="arctan")
    query = share_query(config, ["siren", "siren2", "spder"])
    restored, methods = parse_share_query("?" + query)
    assert restored == config and methods == ["siren", "siren2", "spder"]
    assert parse_share_query({"signal": "sines", "methods": "relu"})[1] == ["relu"]


@pytest.mark.parametrize("title", sorted(PRESETS))
def test_every_preset_parses_and_fits_the_default_limits(title):
    config, methods = parse_share_query(PRESETS[title].query)
    check_limits(config, methods, AppLimits())
    signal = load_ui_signal(config, None, AppLimits())
    assert signal.values.size <= AppLimits().max_points and methods


def test_caps_give_actionable_messages():
    limits = AppLimits(max_steps=100, max_methods=2, max_points=1000)
    with pytest.raises(ConfigError, match="steps = 500 is above"):
        check_limits(RunConfig(steps=500), ["siren"], limits)
    with pytest.raises(ConfigError, match="at most 2 methods"):
        check_limits(RunConfig(steps=10), ["relu", "siren", "spder"], limits)
    with pytest.raises(ConfigError, match="unknown method"):
        check_limits(RunConfig(steps=10), ["sirne"], limits)
    with pytest.raises(SignalError, match="limit is 1,000"):
        load_ui_signal(RunConfig(signal="camera", image_size=64), None, limits)


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPECTRAL_LAB_MAX_STEPS", "123")
    monkeypatch.setenv("SPECTRAL_LAB_MAX_UPLOAD_MB", "0.5")
    limits = AppLimits.from_env()
    assert limits.max_steps == 123 and limits.max_upload_mb == 0.5


def test_uploads_are_checked(tmp_path):
    limits = AppLimits(max_upload_mb=0.01)
    big = tmp_path / "big.wav"
    sf.write(big, np.random.default_rng(0).uniform(-1, 1, 20_000), 8000)
    with pytest.raises(SignalError, match="accepts up to"):
        load_ui_signal(RunConfig(), big, limits)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(SignalError, match="upload an audio file"):
        load_ui_signal(RunConfig(), text, AppLimits())
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(4000), 8000)
    with pytest.raises(SignalError, match="silent"):
        load_ui_signal(RunConfig(), silent, AppLimits())
    good = tmp_path / "tone.wav"
    sf.write(good, np.sin(np.arange(4000) * 0.2), 8000)
    signal = load_ui_signal(RunConfig(length=1000), good, AppLimits())
    assert signal.kind == "audio" and signal.num_points == 1000
    rate, wave = to_audio(signal)
    assert rate == 8000 and wave.dtype == np.int16 and np.abs(wave).max() > 10000


def test_live_comparison_streams_every_panel_for_every_method():
    config = with_app_cadence(RunConfig(signal="sines", length=1024, width=16, depth=2, steps=40, ntk_points=64,
                                        diagnostics_budget=0), "cpu")
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["relu", "siren"], signal, curve_hz=1000, heavy_hz=1000)
    frames = list(live.frames())
    final = frames[-1]
    assert final.done and final.outcome == "finished" and [row["method"] for row in final.table] == ["relu", "siren"]
    assert all(row["status"] == "finished" for row in final.table)
    assert "Finished" in final.status and "stopped" not in final.status.lower()
    assert not any(f.done for f in frames[:-1]) and all(heavy_panels(f) <= 1 for f in frames[:-1])  # one per frame
    # the last frame carries every panel (a panel in a frame before it could be erased by Gradio's
    # in-place diff of the next frame before a busy page draws it)
    assert heavy_panels(final) == 5
    shown = {panel: latest(frames, panel) for panel in ("ntk", "errors", "bands", "reconstruction", "details")}
    assert all(value is not None for value in shown.values()), shown
    # the end shows every method side by side: one panel per method in each small multiple
    assert {p.title.split(":")[0] for p in shown["ntk"].panels[2:]} == {"S(k)"} and len(shown["ntk"].panels) == 4
    assert len(shown["errors"].panels) == 2 and len(shown["bands"].panels) == 2
    assert len(shown["reconstruction"].panels) == 2
    for view in live.views:  # every method keeps its initial and its end-of-run kernel
        assert set(view.ntk) == {"init", "now"} and view.curve()[0][-1] == 40


def test_image_comparison_shows_every_reconstruction_upscaled():
    config = with_app_cadence(RunConfig(signal="camera", image_size=24, width=16, depth=2, steps=20, ntk_points=64),
                              "cpu")
    live = LiveComparison(config, ["relu", "siren", "spder"], load_ui_signal(config, None, AppLimits()))
    gallery = latest(list(live.frames()), "gallery")
    assert [caption.split(" ·")[0] for _, caption in gallery] == ["target", "relu", "siren", "spder"]
    assert all(image.shape == (264, 264) and image.dtype == np.uint8 for image, _ in gallery)  # 24 × 11 ≥ 256
    assert all(" dB" in caption for _, caption in gallery[1:])


def test_audio_comparison_gives_every_method_a_player():
    config = with_app_cadence(RunConfig(signal="chord", length=2000, width=16, depth=2, steps=20, ntk_points=64),
                              "cpu")
    live = LiveComparison(config, ["siren", "siren2"], load_ui_signal(config, None, AppLimits()))
    players = {}
    for frame in live.frames():
        players.update(frame.audio or {})
    assert sorted(players) == [0, 1]
    (rate, wave), label = players[1]
    assert rate == 16000 and wave.shape == (2000,) and label.startswith("siren2 ·")


@pytest.mark.parametrize("title", sorted(PRESETS))
def test_band_history_has_twenty_columns_on_every_preset(title):
    # The issue: the image and sines presets drew 2 time columns. Every default preset's cadence
    # asks for ≥ 20 band-error columns, and a run at that cadence records them all. (Without the
    # time budget: whether the budget lets each one through depends on the machine's load.)
    config, methods = parse_share_query(PRESETS[title].query)
    config = with_app_cadence(config, "cpu")
    assert config.steps // config.bands_every + 1 >= 20
    short = config.replace(steps=min(config.steps, 60), bands_every=max(1, min(config.steps, 60) // 40),
                           ntk_every=0, activations_every=0, errors_every=0, diagnostics_budget=0)
    run = Run(short.replace(method=methods[0]), load_ui_signal(short, None, AppLimits()))
    list(run)
    steps, _, heat = run.band_error_history()
    assert steps[0] == 0 and steps[-1] == short.steps and heat.shape[1] >= 20


def test_final_snapshot_of_every_method_carries_its_end_of_run_ntk():
    config = with_app_cadence(RunConfig(signal="sines", length=512, width=16, depth=2, steps=30, ntk_points=64,
                                        diagnostics_budget=1e-6), "cpu")  # a budget that defers every NTK
    signal = load_ui_signal(config, None, AppLimits())
    for update in train_stream(config, ["siren", "relu_pe"], signal):
        if update.snapshot is not None and update.snapshot.done:
            assert "ntk" in update.snapshot.diagnostics and update.snapshot.diagnostics["ntk"].residual_projections is not None


def test_an_interleaved_compare_ends_each_method_where_its_solo_run_ends():
    # Issue 19: the methods progress together (round-robin by log interval), each with its own
    # model, optimiser and seed, so every final PSNR equals the solo run's with the same seed.
    config = RunConfig(signal="sines", length=512, width=16, depth=2, steps=60, log_every=10, seed=3,
                       ntk_every=30, ntk_points=32, bands_every=10, diagnostics_budget=0)
    signal = load_ui_signal(config, None, AppLimits())
    methods = ["relu", "siren", "siren2+iga"]
    updates = list(train_stream(config, methods, signal))
    first_snapshots = [u.index for u in updates if u.event == "snapshot"][:6]
    assert first_snapshots == [0, 1, 2, 0, 1, 2]  # one interval of each in turn, not one method after another
    rows = {u.method: u.row for u in updates if u.row is not None}
    for method in methods:
        solo = run_to_end(config.replace(method=method), signal)[1].metrics["psnr"]
        assert abs(rows[method]["psnr_db"] - solo) <= 0.01, (method, rows[method]["psnr_db"], solo)
    live = LiveComparison(config, methods, signal, curve_hz=1000, heavy_hz=1000)
    statuses = [f.status for f in live.frames()]
    assert any(s.startswith("Training 3 of 3 together · relu 10/60") for s in statuses), statuses[:5]


def test_a_tuned_comparison_trains_each_method_at_its_best_rate_and_says_so():
    config = with_app_cadence(RunConfig(signal="sines", length=256, width=16, depth=2, steps=40, ntk_points=32,
                                        diagnostics_budget=0), "cpu")
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["relu", "siren"], signal, curve_hz=1000, heavy_hz=1000, tune=True)
    frames = list(live.frames())
    assert any(f.status.startswith("Tuning **relu**") for f in frames)
    final = frames[-1]
    assert final.outcome == "finished" and "own best learning rate" in final.status
    for row in final.table:
        trials = row["tuned"]
        assert trials.startswith("tuned at seed 10007") and f"best {row['lr']:.3g} of" in trials
        # on the grid shared by both (each default ÷4 … ×8), or widened past its edge by at most MAX_WIDEN rates
        assert 1e-4 / 4 / 2 ** tuning.MAX_WIDEN <= row["lr"] <= 1e-3 * 8 * 2 ** tuning.MAX_WIDEN
    plain = list(LiveComparison(config, ["relu"], signal, curve_hz=1000, heavy_hz=1000).frames())[-1]
    assert "tuned" not in plain.table[0] and plain.table[0]["lr"] == 1e-3
    assert "own best" not in plain.status


def test_a_search_sends_a_frame_when_it_begins_and_its_progress_at_the_light_frames_pace():
    """A frame (curves, table, panels) per trial step made a served tuned follow-up send ~375 frames: 60 s for
    a visitor instead of ~32. With frames this rare by time, each method's search shows once, as it begins."""
    config = RunConfig(signal="sines", length=256, width=16, depth=2, steps=40, ntk_points=32, diagnostics_budget=0)
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["relu", "siren"], signal, curve_hz=1e-6, heavy_hz=1e-6, tune=True)
    tuning_frames = [f.status for f in live.frames() if f.status.startswith("Tuning")]
    assert len(tuning_frames) == 2 and "relu" in tuning_frames[0] and "siren" in tuning_frames[1], tuning_frames


def test_stop_during_tuning_ends_at_once():
    config = RunConfig(signal="sines", length=1024, width=16, depth=2, steps=4000)
    live = LiveComparison(config, ["siren", "relu"], load_ui_signal(config, None, AppLimits()), tune=True)
    for frame in live.frames():
        if frame.status.startswith("Tuning") and not frame.done:
            live.stop()
    assert frame.outcome == "stopped" and [row["status"] for row in frame.table] == ["not run", "not run"]


def test_the_fr_detail_shows_the_preconditioner_spectrum():
    config = with_app_cadence(RunConfig(signal="sines", length=256, width=32, depth=3, steps=10, ntk_points=32,
                                        diagnostics_budget=0), "cpu")
    live = LiveComparison(config, ["relu+fr"], load_ui_signal(config, None, AppLimits()))
    list(live.frames())
    _, kernel = live.details("relu+fr")
    panel = kernel.panels[-1]
    assert panel.title.startswith("FR's preconditioner BᵀB") and "2 never updated" in panel.title
    assert len(panel.traces[0].y) == 32 and np.median(panel.traces[0].y) == 1.0 and panel.traces[0].y[-1] < 1e-6
    frame_live = LiveComparison(config.replace(fr_basis="frame"), ["relu+fr"], load_ui_signal(config, None, AppLimits()))
    list(frame_live.frames())
    assert "only an lr change" in frame_live.details("relu+fr")[1].panels[-1].title
    plain = LiveComparison(config, ["relu"], load_ui_signal(config, None, AppLimits()))
    list(plain.frames())
    assert all("preconditioner" not in p.title for p in plain.details("relu")[1].panels)


def test_stop_ends_the_comparison_and_says_so():
    config = RunConfig(signal="sines", length=1024, width=16, depth=2, steps=5000)
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["siren", "siren2"], signal, curve_hz=50)
    frames = []
    for frame in live.frames():
        frames.append(frame)
        if frame.step >= 20 and not frame.done:
            live.stop()
    final = frames[-1]
    assert final.outcome == "stopped" and final.status.startswith("**Stopped**")
    assert [row["status"] for row in final.table] == ["stopped", "stopped"]  # both were training together
    assert all(0 < view.step < 5000 for view in live.views)


def test_a_run_that_ends_by_itself_is_finished_and_a_diverged_one_says_so(monkeypatch):
    config = RunConfig(signal="sines", length=256, width=8, depth=2, steps=30, log_every=5)
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["siren"], signal)
    assert list(live.frames())[-1].outcome == "finished"
    import spectral_lab.train as train

    real = train.build_model

    def sabotaged(config, signal):
        model = real(config, signal)
        if config.method == "relu":
            with torch.no_grad():
                model.head.bias.fill_(float("nan"))
        return model

    monkeypatch.setattr(train, "build_model", sabotaged)
    live = LiveComparison(config, ["siren", "relu"], signal)
    final = list(live.frames())[-1]
    assert final.outcome == "diverged" and "diverged" in final.status
    assert [row["status"] for row in final.table] == ["finished", "diverged"]


def test_closing_the_stream_stops_training():
    config = RunConfig(signal="sines", length=1024, width=16, depth=2, steps=100_000)
    live = LiveComparison(config, ["siren"], load_ui_signal(config, None, AppLimits()), curve_hz=50)
    stream = live.frames()
    next(stream)
    stream.close()  # what Gradio does when the browser goes away
    assert live.stopping and live.views[0].step < 100_000


def test_stop_cancels_a_queued_run_and_stops_a_running_one():
    sessions = Sessions()
    sessions.queue("a")
    assert "Cancelled" in sessions.stop("a")
    assert sessions.start("a", object()) is False  # the queued job returns without training
    live = LiveComparison(RunConfig(signal="sines", length=256, width=8, depth=2, steps=10), ["siren"],
                          load_ui_signal(RunConfig(signal="sines", length=256), None, AppLimits()))
    sessions.queue("b")
    assert sessions.start("b", live) is True
    assert "Stopping" in sessions.stop("b") and live.stopping
    sessions.finish("b", live)
    assert sessions.stop("b") == "Nothing is training."


def test_presets_round_trip_and_links_name_their_preset():
    for title in PRESETS:
        config, methods = parse_share_query(PRESETS[title].query)
        assert parse_share_query(share_query(config, methods)) == (config, methods)
        assert matching_preset(config, methods) == title
    config, methods = parse_share_query(PRESETS[DEFAULT_PRESET].query)
    assert matching_preset(config.replace(steps=301), methods) == CUSTOM


def test_modifier_comparisons_expand_and_count_against_the_cap():
    from spectral_lab.modifiers import expand_methods

    assert expand_methods(["relu_pe"], ["iga", "bn"]) == ["relu_pe", "relu_pe+iga", "relu_pe+bn"]
    assert expand_methods(["relu", "siren"], ["iga", "fr"], "combined") == ["relu+iga+fr", "siren+iga+fr"]
    with pytest.raises(ConfigError, match="unknown modifier"):
        expand_methods(["relu"], ["dropout"])
    with pytest.raises(ConfigError, match="at most 2 methods"):
        check_limits(RunConfig(steps=10), expand_methods(["relu"], ["iga", "fr"]), AppLimits(max_methods=2))
    check_limits(RunConfig(steps=10), ["relu_pe+iga", "siren+fr+bn"], AppLimits())
    with pytest.raises(ConfigError, match="unknown modifier"):
        check_limits(RunConfig(steps=10), ["relu+xyz"], AppLimits())


def test_the_final_status_flags_a_method_whose_output_stayed_at_zero():
    # WINNER's high-frequency target: SIREN stays at the zero-output PSNR, SIREN² learns (test_claims).
    config = with_app_cadence(RunConfig(signal="winner_high", length=2048, width=64, depth=3, steps=100,
                                        diagnostics_budget=0), "cpu")
    signal = load_ui_signal(config, None, AppLimits())
    final = list(LiveComparison(config, ["siren", "siren2"], signal, curve_hz=1000, heavy_hz=1000).frames())[-1]
    assert "⚠ siren: output stayed ≈ 0: spectral bottleneck, or lr too large" in final.status
    notes = {row["method"]: row["note"] for row in final.table}
    assert "output stayed ≈ 0" in notes["siren"] and "output stayed" not in notes["siren2"]
