"""The command line as a user runs it: outputs on disk, one-line errors, non-zero exits."""
import csv
import json

import numpy as np
import pytest
import torch

from spectral_lab.cli import main
from spectral_lab.signals import ASSETS_DIR as SIGNALS_DIR


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


HELP_COMMANDS = [["--help"], ["list", "--help"], ["fit", "--help"], ["predict", "--help"], ["compare", "--help"],
                 ["sweep", "--help"], ["reproduce", "--help"], ["nern", "--help"], ["nern", "fit", "--help"],
                 ["nern", "sweep", "--help"], ["nern", "orderings", "--help"], ["nern", "train-cnn", "--help"]]


@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=lambda a: " ".join(a))
def test_every_help_prints_and_exits_0(argv, capsys):
    # The issue: "1% decay" in a field doc reached argparse's %-formatting and crashed --help.
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_fit_saves_a_model_that_reruns_from_its_config_and_renders_denser(tmp_path, capsys):
    out = tmp_path / "first"
    assert main(["fit", "--signal", "camera", "--image-size", "16", "--method", "siren", "--steps", "15",
                 "--width", "16", "--out", str(out), "--quiet"]) == 0
    first = json.loads((out / "metrics.json").read_text())
    again = tmp_path / "again"
    assert main(["fit", "--config", str(out / "config.json"), "--out", str(again), "--quiet"]) == 0
    assert json.loads((again / "metrics.json").read_text())["psnr"] == pytest.approx(first["psnr"], abs=1e-6)
    longer = tmp_path / "longer"  # options given beside --config override it
    assert main(["fit", "--config", str(out / "config.json"), "--steps", "5", "--out", str(longer), "--quiet"]) == 0
    assert json.loads((longer / "metrics.json").read_text())["steps"] == 5
    assert main(["predict", str(out), "--scale", "2", "--out", str(tmp_path / "x2.png")]) == 0
    from skimage import io

    assert io.imread(tmp_path / "x2.png").shape == (32, 32)
    assert "rendered ×2" in capsys.readouterr().out


def test_config_with_a_relative_signal_path_is_read_beside_the_config(tmp_path):
    import shutil

    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(SIGNALS_DIR / "chord.wav", folder / "clip.wav")
    (folder / "config.json").write_text(json.dumps({"signal": "clip.wav", "length": 800, "method": "siren",
                                                     "width": 16, "depth": 2, "steps": 3}))
    assert main(["fit", "--config", str(folder / "config.json"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert json.loads((tmp_path / "o" / "config.json").read_text())["signal"] == str(folder / "clip.wav")


def test_predict_audio_at_twice_the_rate(tmp_path):
    import soundfile as sf

    out = tmp_path / "fit"
    assert main(["fit", "--signal", "chord", "--length", "1000", "--method", "siren", "--steps", "5", "--width", "16",
                 "--out", str(out), "--quiet"]) == 0
    assert main(["predict", str(out / "model.pt"), "--scale", "2", "--out", str(tmp_path / "up.wav")]) == 0
    wave, rate = sf.read(tmp_path / "up.wav")
    assert rate == 32000 and wave.shape == (2000,)


def test_spder_super_resolution_against_bicubic(tmp_path, capsys):
    # SPDER and SIREN (3×64, 150 steps) trained on camera 64², queried on a 128² grid and
    # compared with the real 128² image, beside bicubic upsampling of the 64² image.
    # Measured (seeds 0, 1): SPDER 25.9 / 25.8 dB, SIREN 24.6 / 24.6, bicubic 28.2, nearest
    # 26.6 (R = 2). SPDER beats SIREN at ×2 as SPDER's SR table says (29.4 vs 23.2 on DIV2K);
    # neither INR beats bicubic at this size (wider SIREN, 4×256: 28.5).
    from skimage import io, transform

    from spectral_lab.metrics import psnr
    from spectral_lab.predict import load_model
    from spectral_lab.signals import load_image

    truth = load_image("camera", size=128).to_original()  # [0, 1]
    small = load_image("camera", size=64).to_original()
    scores = {"bicubic": psnr(2 * np.clip(transform.resize(small, (128, 128), order=3), 0, 1) - 1, 2 * truth - 1)}
    for method in ("spder", "siren"):
        out = tmp_path / method
        assert main(["fit", "--signal", "camera", "--image-size", "64", "--method", method, "--width", "64",
                     "--depth", "3", "--steps", "150", "--out", str(out), "--quiet"]) == 0
        saved = load_model(out)
        up = saved.render(scale=2)
        assert up.shape == (128, 128)
        scores[method] = psnr(2 * up - 1, 2 * truth - 1)
        same_grid = saved.render(scale=1)  # ×1 queries exactly the training coordinates
        np.testing.assert_allclose(same_grid, io.imread(out / "reconstruction.png") / 255.0, atol=1 / 255 + 1e-6)
    print("super-resolution ×2, PSNR (dB, R = 2):", {k: round(v, 2) for k, v in scores.items()})
    assert scores["spder"] > scores["siren"] + 0.5, scores
    assert scores["bicubic"] - 3.0 < scores["spder"] < scores["bicubic"] + 3.0, scores


def test_compare_checks_every_signal_before_training(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["compare", "--signals", "camera,nope", "--methods", "siren", "--steps", "5",
                 "--out", str(out), "--quiet"]) == 2
    assert "unknown signal" in capsys.readouterr().err
    assert not (out / "results.csv").exists()  # nothing trained


def test_crop_longer_than_the_file_says_so(capsys):
    assert main(["fit", "--signal", "chord", "--length", "20000", "--steps", "1", "--quiet"]) == 2
    assert "has 16,000 samples" in capsys.readouterr().err


def test_a_fit_that_never_had_a_finite_loss_exits_3_with_valid_json(tmp_path, monkeypatch, capsys):
    import spectral_lab.train as train

    real = train.build_model

    def broken(config, signal):
        model = real(config, signal)
        with torch.no_grad():
            model.head.bias.fill_(float("nan"))
        return model

    monkeypatch.setattr(train, "build_model", broken)
    out = tmp_path / "nan"
    assert main(["fit", "--signal", "sines", "--length", "64", "--steps", "10", "--width", "8", "--out", str(out),
                 "--quiet"]) == 3
    metrics = json.loads((out / "metrics.json").read_text())  # strict JSON: NaN written as null
    assert metrics["psnr"] is None and metrics["status"] == "diverged"
    err = capsys.readouterr().err
    assert "went non-finite (NaN/Inf) at step 1; kept the initial parameters (step 0)" in err


def test_an_unwritable_output_folder_fails_before_training(tmp_path, capsys, monkeypatch):
    import time

    import spectral_lab.cli as cli

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the output folder cannot be written")

    monkeypatch.setattr(cli, "train_with_progress", no_training)
    begin = time.perf_counter()
    assert main(["fit", "--signal", "sines", "--steps", "5", "--out", "/dev/null/sub", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the output folder /dev/null/sub") and len(err.splitlines()) == 1
    assert time.perf_counter() - begin < 30
    for argv in (["compare", "--signals", "sines", "--methods", "relu"], ["sweep", "--signals", "sines",
                                                                           "--methods", "relu"]):
        assert main(argv + ["--steps", "2", "--out", "/dev/null/sub", "--quiet"]) == 2
        assert "cannot write the output folder" in capsys.readouterr().err


def test_reproduce_without_its_data_exits_2_naming_where_it_looked(tmp_path, capsys):
    assert main(["reproduce", "winner-table1", "--data", "/nonexistent", "--out", str(tmp_path / "o")]) == 2
    assert "--data /nonexistent: no such folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["reproduce", "winner-table1", "--data", str(empty), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no file of winner-table1 (tetris.wav" in err and str(empty) in err
    assert not (tmp_path / "o").exists()  # nothing written: no results.csv named and never made


def test_divergence_says_when_and_what_was_kept(tmp_path, capsys):
    # Diverges a few steps in, before the first log point (every 10 steps): steps 1..k finite.
    out = tmp_path / "div"
    code = main(["fit", "--signal", "sines", "--length", "256", "--method", "siren", "--first-omega0", "1e6",
                 "--optimizer", "sgd", "--lr", "1", "--depth", "8", "--width", "64", "--steps", "30", "--out",
                 str(out), "--quiet"])
    err = capsys.readouterr().err
    if code == 3:  # as in the issue: no log point had a finite loss
        assert "went non-finite (NaN/Inf) at step" in err and "kept the initial parameters (step 0)" in err
    else:  # diverged after a finite log point: the kept step is named
        assert code == 0 and "kept the best parameters, from step" in err
    assert "no finite loss was ever reached" not in err


def test_a_run_that_stays_at_the_zero_output_psnr_says_so(tmp_path, capsys):
    # WINNER's high-frequency target: SIREN stays at the zero-output PSNR (test_claims), SIREN² does not.
    for method, stalled in (("siren", True), ("siren2", False)):
        # measured: SIREN 10.66 dB (zero output 10.66), SIREN² 21.2 dB
        assert main(["fit", "--signal", "winner_high", "--length", "2048", "--method", method, "--width", "64",
                     "--steps", "100", "--log-every", "50", "--out", str(tmp_path / method), "--quiet"]) == 0
        line = capsys.readouterr().out.splitlines()[0]
        assert ("output stayed ≈ 0: spectral bottleneck, or lr too large" in line) == stalled, line


def test_boolean_settings_are_flags(tmp_path):
    out = tmp_path / "gray"
    assert main(["fit", "--signal", "astronaut", "--image-size", "8", "--gray", "--steps", "2", "--width", "8",
                 "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["gray"] is True
    assert main(["fit", "--signal", "astronaut", "--image-size", "8", "--gray", "no", "--steps", "2", "--width", "8",
                 "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["gray"] is False


def test_help_shows_what_an_empty_default_means(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "[generator default or whole file]" in text and "[keep]" in text
    assert "--gray [yes|no]" in text and "--tf32 [yes|no]" in text


def test_bench_passes_options_to_its_script(capsys):
    # The issue: `bench --quick` was rejected. Options now reach the script (its own --help here).
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0 and "--quick" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "gpu", "--help"])
    assert exit_info.value.code == 0 and "--no-tf32" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # other commands still refuse unknown options
        main(["fit", "--bogus", "1"])


@pytest.mark.parametrize("setting", [{"width": 64.5}, {"width": True}, {"steps": [100]}, {"signal": 3}])
def test_config_files_are_checked_like_flags(tmp_path, capsys, setting):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(setting))
    assert main(["fit", "--config", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    name = next(iter(setting))
    assert err.startswith(f"error: {name} expects") and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["fit", "--width", "x"], "width expects an integer"),
    (["fit", "--no-such-option", "1"], "unrecognized arguments: --no-such-option"),
    (["compare"], "the following arguments are required"),
    (["zoo", "--quick", "--seeds", "x"], "--seeds expects comma-separated integers"),
    (["zoo", "--quick", "--seeds", ""], "--seeds is empty"),
    (["zoo", "--quick", "--methods", ""], "--methods is empty"),
])
def test_a_bad_argument_is_one_line_not_a_page_of_usage(argv, words, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors leave through parser.exit
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and words in err and len(err.splitlines()) == 1, err


def test_sweep_refuses_a_binary_grid_file_in_one_line(tmp_path, capsys):
    grid = tmp_path / "corrupt.png"
    grid.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00")
    assert main(["sweep", "--grid", str(grid), "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err.strip()
    assert "corrupt.png: not a grid file" in err and len(err.splitlines()) == 1


def test_predict_refuses_an_output_name_it_would_not_honour(tmp_path, capsys):
    out = tmp_path / "fit"
    assert main(["fit", "--signal", "camera", "--image-size", "8", "--steps", "2", "--width", "8", "--out", str(out),
                 "--quiet"]) == 0
    assert main(["predict", str(out / "model.pt"), "--out", str(tmp_path / "out.txt")]) == 2
    assert "write images as .png" in capsys.readouterr().err and not (tmp_path / "out.txt").exists()


def test_fit_says_what_loading_did_and_how_long_it_will_take_before_step_1(tmp_path, capsys):
    import soundfile as sf

    clip = tmp_path / "stereo.wav"
    time = np.arange(60_000) / 16_000
    sf.write(clip, np.stack([np.sin(2 * np.pi * 440 * time), np.sin(2 * np.pi * 660 * time)], 1) * 0.5, 16_000)
    out = tmp_path / "fit"
    assert main(["fit", "--signal", str(clip), "--length", "4096", "--steps", "2", "--width", "8", "--out", str(out),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "mixed 2 channels to mono" in err and "cropped to the first 4,096 of 60,000 samples" in err
    changes = json.loads((out / "metrics.json").read_text())["signal_changes"]
    assert changes[0] == "mixed 2 channels to mono" and changes[1].startswith("cropped to the first 4,096 of 60,000")
    from spectral_lab.cli import before_training
    from spectral_lab import Run, RunConfig

    whole = Run(RunConfig(signal=str(clip), steps=500))  # the whole clip at the defaults: minutes
    assert any(line.startswith("estimate: about") for line in before_training(whole))
    small = Run(RunConfig(signal=str(clip), length=4096, steps=10, width=8))
    assert not any(line.startswith("estimate") for line in before_training(small))


def test_a_compare_with_a_failed_cell_exits_1_and_names_it(tmp_path, capsys, monkeypatch):
    from spectral_lab import sweep_cells
    from spectral_lab.errors import ConfigError

    prepare = sweep_cells._prepare

    def siren_fails(cell, *args):
        if dict(cell.config)["method"] == "siren":
            raise ConfigError("siren: a setting found bad late")
        return prepare(cell, *args)

    monkeypatch.setattr(sweep_cells, "_prepare", siren_fails)
    code = main(["compare", "--signals", "sines", "--methods", "relu,siren", "--length", "64", "--width", "8",
                 "--steps", "2", "--out", str(tmp_path / "c"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and "| sines | relu |" in captured.out  # the table is printed, and the exit says it has a hole
    assert [line for line in captured.err.splitlines() if line.startswith("failed: ")] == [
        next(line for line in captured.err.splitlines() if line.startswith("failed: sines/siren seed 0 (cells/"))]
