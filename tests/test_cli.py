"""The command line as a user runs it: outputs on disk, one-line errors, non-zero exits."""
import csv
import json

import pytest

from spectral_lab.cli import main


def test_fit_image_saves_reconstruction_metrics_and_curve(tmp_path, capsys):
    out = tmp_path / "fit"
    code = main(["fit", "--signal", "camera", "--image-size", "24", "--method", "siren", "--steps", "20",
                 "--width", "32", "--out", str(out), "--quiet"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 20 and "ssim" in metrics and metrics["method"] == "siren"
    rows = list(csv.DictReader(open(out / "curve.csv")))
    assert len(rows) == 20 and float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert (out / "reconstruction.png").stat().st_size > 0
    config = json.loads((out / "config.json").read_text())
    assert config["first_omega0"] == 30.0  # resolved defaults are recorded
    assert "PSNR" in capsys.readouterr().out


def test_fit_audio_writes_a_wav_with_the_original_rate(tmp_path):
    import soundfile as sf

    out = tmp_path / "audio"
    assert main(["fit", "--signal", "sweep", "--length", "2000", "--method", "siren2", "--steps", "5",
                 "--width", "16", "--out", str(out), "--quiet"]) == 0
    wave, rate = sf.read(out / "reconstruction.wav")
    assert rate == 16000 and wave.shape == (2000,)
    assert json.loads((out / "config.json").read_text())["s0"] > 0  # WINNER auto scale


def test_compare_prints_and_writes_a_table(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--signals", "winner_low,camera", "--methods", "relu,siren", "--steps", "10",
                 "--length", "512", "--image-size", "16", "--width", "16", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["signal"], r["method"]) for r in rows] == [
        ("winner_low", "relu"), ("winner_low", "siren"), ("camera", "relu"), ("camera", "siren")]
    assert rows[2]["ssim"] and not rows[0]["ssim"]  # SSIM only for images
    assert "| camera | siren |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["fit", "--signal", "nope"], "unknown signal"),
    (["fit", "--width", "0"], "out of range"),
    (["fit", "--steps", "many"], "integer"),
    (["fit", "--signal", "missing.wav"], "not found"),
    (["compare", "--signals", "camera", "--methods", "siren,bogus"], "unknown method"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_list_shows_methods_with_citations_and_signals(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("siren2", "spder", "wire", "winner_high", "chip_melody", "camera"):
        assert name in out
    assert "WINNER" in out


def test_compare_with_modifiers_runs_each_variant(tmp_path, capsys):
    out = tmp_path / "mods"
    assert main(["compare", "--signals", "sines", "--methods", "relu", "--with-modifiers", "iga,bn", "--steps", "5",
                 "--length", "256", "--width", "16", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["method"] for r in rows] == ["relu", "relu+iga", "relu+bn"]
