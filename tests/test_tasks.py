"""The task axis (tasks.py): which samples a run trains on, which it is scored on, and the held-out
curve that shows a network starting to fit the noise."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from spectral_lab.batched import train_runs
from spectral_lab.config import RunConfig
from spectral_lab.errors import ConfigError
from spectral_lab.metrics import psnr
from spectral_lab.signals import load_signal, make_synthetic
from spectral_lab.tasks import split_task
from spectral_lab.train import Run, run_to_end

CAMERA = RunConfig(signal="camera", image_size=32, gray=True, steps=40, device="cpu")


@pytest.fixture(scope="module")
def camera():
    return load_signal("camera", image_size=32, gray=True)


def test_denoise_draws_the_stated_noise_from_the_seed(camera):
    split = split_task(CAMERA.replace(task="denoise", noise_std=0.2), camera)
    noise = split.train_values.astype(np.float64) - camera.values
    assert 0.18 < noise.std() < 0.22 and abs(noise.mean()) < 0.02  # σ as stated, both ways
    again = split_task(CAMERA.replace(task="denoise", noise_std=0.2), camera)
    other = split_task(CAMERA.replace(task="denoise", noise_std=0.2, seed=1), camera)
    assert np.array_equal(again.train_values, split.train_values)
    assert not np.array_equal(other.train_values, split.train_values)
    assert split.scored_rows is None and split.holds_out and np.array_equal(split.scored_values(), camera.values)


def test_inpaint_trains_on_the_kept_samples_and_scores_the_rest(camera):
    split = split_task(CAMERA.replace(task="inpaint", keep=0.3), camera)
    kept, rest = split.train_rows, split.scored_rows
    assert len(kept) == round(0.3 * camera.num_points) and len(np.intersect1d(kept, rest)) == 0
    assert len(kept) + len(rest) == camera.num_points
    assert np.array_equal(split.train_coords(), camera.coords[kept])
    # the observed view holds nothing held out: every unobserved sample reads as the observed mean
    assert np.allclose(split.observed.values[rest], camera.values[kept].mean(axis=0))


def test_superres_trains_on_the_strided_grid_at_its_true_coordinates(camera):
    split = split_task(CAMERA.replace(task="superres", factor=4), camera)
    assert split.observed.grid == (8, 8) and split.num_train == 64
    full = camera.coords.reshape(32, 32, 2)
    assert np.array_equal(split.observed.coords, full[::4, ::4].reshape(-1, 2))
    assert np.array_equal(split.observed.values, camera.as_grid()[::4, ::4].reshape(-1, 1))
    audio = make_synthetic("chiptune", 4000)
    assert split_task(RunConfig(signal="chiptune", task="superres", factor=2), audio).observed.sample_rate \
        == audio.sample_rate // 2


def test_held_out_psnr_reads_the_samples_not_trained_on(camera):
    run, final = run_to_end(CAMERA.replace(task="inpaint", keep=0.5, method="relu_pe"), camera)
    rest = run.task.scored_rows
    prediction = final.prediction.astype(np.float64)
    assert final.metrics["psnr"] == pytest.approx(psnr(prediction[rest], camera.values[rest]), abs=1e-9)
    assert final.metrics["train_psnr"] == pytest.approx(
        psnr(prediction[run.task.train_rows], camera.values[run.task.train_rows]), abs=1e-9)
    assert run.summary_row()["psnr_db"] == round(final.metrics["psnr"], 2)
    assert run.summary_row()["task"] == "inpaint" and final.heldout_psnr == final.metrics["psnr"]
    steps, values = run.heldout_curve()
    assert list(steps) == list(range(10, 41, 10)) and np.all(np.isfinite(values))


@pytest.mark.parametrize("changes", [dict(task="denoise", noise_std=0.0), dict(task="inpaint", keep=1.0),
                                     dict(task="superres", factor=1)])
def test_a_task_that_holds_nothing_out_is_a_fit(camera, changes):
    _, fit = run_to_end(CAMERA.replace(method="siren"), camera)
    run, same = run_to_end(CAMERA.replace(method="siren", **changes), camera)
    assert not run.task.holds_out and "nothing held out" in run.task.description
    assert same.metrics["psnr"] == pytest.approx(fit.metrics["psnr"], abs=1e-3)
    assert run.heldout_curve()[0].size == 0


def test_the_task_leaves_the_networks_initialisation_alone(camera):
    fit = Run(CAMERA.replace(method="siren"), camera)
    noisy = Run(CAMERA.replace(method="siren", task="denoise"), camera)
    for a, b in zip(fit.model.parameters(), noisy.model.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("changes, words", [
    (dict(task="inpaint", keep=0.0), "keep must be in (0, 1]"),
    (dict(task="inpaint", keep=0.01), "at least 16"),
    (dict(task="superres", factor=16), "at least 16"),
    (dict(task="denoise", method="relu+bn"), "+bn runs only with task fit"),
    (dict(task="inpaint", method="relu_pe+iga"), "+iga runs with fit, denoise or superres"),
])
def test_a_task_the_signal_cannot_take_is_one_line_before_any_work(camera, changes, words):
    with pytest.raises(ConfigError) as caught:
        Run(CAMERA.replace(**changes), camera)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_out_of_range_task_settings_are_refused_by_the_config():
    for changes in (dict(noise_std=-0.1), dict(keep=1.5), dict(factor=0), dict(task="blur")):
        with pytest.raises(ConfigError):
            CAMERA.replace(**changes)


@pytest.mark.parametrize("task", ["denoise", "inpaint", "superres"])
def test_batched_runs_score_as_their_own_loops(camera, task):
    configs = [CAMERA.replace(task=task, method="siren", seed=seed, preview_every=20) for seed in (0, 0, 1)]
    outcomes = train_runs([Run(c, camera) for c in configs])
    assert any("stacked" in o.batch for o in outcomes)
    for outcome, config in zip(outcomes, configs):
        alone, final = run_to_end(config, camera)
        assert outcome.run.final.metrics["psnr"] == pytest.approx(final.metrics["psnr"], abs=1e-3)
        assert np.allclose(outcome.run.heldout_curve()[1], alone.heldout_curve()[1], atol=1e-3)


def test_the_held_out_curve_turns_down_when_a_network_fits_the_noise(camera):
    """SIREN (33k parameters, 1k pixels) memorises the noise: its training PSNR climbs far above the
    noise's own 20 dB while the held-out PSNR falls from its peak to the noisy input's. The same run
    without noise does not turn down."""
    config = CAMERA.replace(method="siren", steps=300, task="denoise", noise_std=0.2)
    for seed in (0, 1):
        run, final = run_to_end(config.replace(seed=seed), camera)
        _, values = run.heldout_curve()
        assert final.metrics["train_psnr"] > 35  # the noise itself is learnt
        assert values.max() - values[-1] > 3  # the held-out curve turned down
        assert abs(final.metrics["psnr"] - 20.0) < 1.5  # to the noisy input's own PSNR
        clean, _ = run_to_end(config.replace(seed=seed, noise_std=0.0), camera)
        curve = psnr(clean.predict(), camera.values)
        assert curve > final.metrics["psnr"] + 10


def test_cli_fit_says_held_out_and_saves_what_the_network_saw(tmp_path):
    out = tmp_path / "fit"
    result = subprocess.run([sys.executable, "-m", "spectral_lab", "fit", "--signal", "camera", "--image-size", "32",
                             "--gray", "--steps", "20", "--task", "denoise", "--noise-std", "0.1", "--quiet",
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "held-out PSNR" in result.stdout and "task: denoise" in result.stdout
    assert (out / "heldout.csv").read_text().startswith("step,heldout_psnr_db") and (out / "observed.png").exists()
    bad = subprocess.run([sys.executable, "-m", "spectral_lab", "fit", "--task", "inpaint", "--keep", "0", "--quiet",
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "keep must be in (0, 1]" in bad.stderr and not (tmp_path / "bad").exists()
