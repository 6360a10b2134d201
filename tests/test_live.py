"""The app's engine-level callbacks: share links, caps, uploads, the live stream and Stop."""
import numpy as np
import pytest
import soundfile as sf

from spectral_lab import ConfigError, RunConfig, SignalError
from spectral_lab.live import (PRESETS, AppLimits, LiveComparison, check_limits, load_ui_signal, parse_share_query,
                               share_query, to_audio, with_app_cadence)


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


def test_live_comparison_streams_every_panel_and_a_row_per_method():
    config = with_app_cadence(RunConfig(signal="sines", length=1024, width=16, depth=2, steps=40, ntk_points=64,
                                        diagnostics_budget=0), "cpu")
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["relu", "siren"], signal, curve_hz=1000, heavy_hz=1000)
    frames = list(live.frames())
    assert frames[-1].done and [row["method"] for row in frames[-1].table] == ["relu", "siren"]
    assert set(live.curves) == {"relu", "siren"} and len(live.curves["siren"][0]) == 40
    for panel in ("ntk", "kernel", "activations", "errors", "bands", "reconstruction"):
        assert any(getattr(f, panel) is not None for f in frames), panel
    assert {"relu init", "relu now", "siren init", "siren now"} <= set(live.ntk_results)
    assert "best" in frames[-1].status


def test_stop_ends_the_comparison_early():
    config = RunConfig(signal="sines", length=1024, width=16, depth=2, steps=5000)
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["siren", "siren2"], signal, curve_hz=50)
    for frame in live.frames():
        if frame.step >= 20 and not frame.done:
            live.stop()
    assert len(live.runs) == 1 and live.runs[0].final.step < 5000
    assert "stopped" in live.rows[0]["note"]
    assert live._run is None  # the training thread has finished and let go of its run


def test_closing_the_stream_stops_training():
    config = RunConfig(signal="sines", length=1024, width=16, depth=2, steps=100_000)
    live = LiveComparison(config, ["siren"], load_ui_signal(config, None, AppLimits()), curve_hz=50)
    stream = live.frames()
    next(stream)
    stream.close()  # what Gradio does when the browser goes away
    run = live.runs[0]
    assert run.final is not None and run.final.step < 100_000


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
