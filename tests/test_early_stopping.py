"""Honest early stopping (early_stopping.py): the step is picked from held-back observed samples, the
noisy ones for a denoiser, never from the clean target or the unobserved pixels."""
from __future__ import annotations

import numpy as np
import pytest

from spectral_lab.config import RunConfig
from spectral_lab.early_stopping import _denoise_validation, _inpaint_validation, validation_stop
from spectral_lab.errors import ConfigError
from spectral_lab.signals import load_signal
from spectral_lab.tasks import split_task

DENOISE = RunConfig(method="siren", image_size=32, gray=True, steps=20, device="cpu", task="denoise", noise_std=0.2)


@pytest.fixture(scope="module")
def camera():
    return load_signal("camera", image_size=32, gray=True)


def test_a_denoisers_validation_samples_are_noisy_and_never_trained_on(camera):
    run, rows, values, scored = _denoise_validation(DENOISE, camera, 0.1)
    noisy = split_task(DENOISE, camera).observed  # the noise the plain denoise run trains on
    assert len(rows) == round(0.1 * camera.num_points) and scored is None  # scored on every clean sample
    assert np.array_equal(values, noisy.values[rows]) and not np.allclose(values, camera.values[rows])
    assert not np.intersect1d(rows, run.task.train_rows).size
    assert len(rows) + run.task.num_train == camera.num_points


def test_an_inpainters_validation_samples_are_observed_ones_and_the_score_reads_the_rest(camera):
    config = DENOISE.replace(task="inpaint", keep=0.5)
    run, rows, values, scored = _inpaint_validation(config, camera, 0.2)
    trained = run.task.train_rows
    assert len(rows) + len(trained) == round(0.5 * camera.num_points)  # as many observed as the plain run
    assert np.array_equal(values, camera.values[rows])
    everything = np.concatenate([trained, rows, scored])
    assert np.array_equal(np.sort(everything), np.arange(camera.num_points))  # three disjoint sets, all rows


def test_the_stop_keeps_what_training_to_the_end_loses_and_claims_nothing_for_a_frozen_network(camera):
    """SIREN memorises the noise (as in test_tasks): the validation peak comes early and scores well
    above the end; a network that does not move gains nothing from stopping."""
    stop = validation_stop(DENOISE.replace(steps=150), camera)  # measured: stops at 50, 24.3 dB; the end 20.4
    assert stop.stop_step < 100 and stop.stop_psnr > stop.final_psnr + 2.5, stop
    assert stop.stop_psnr > stop.oracle_psnr - 2  # near the clean target's own pick
    frozen = validation_stop(DENOISE.replace(steps=150, lr=1e-8), camera)
    assert abs(frozen.stop_psnr - frozen.final_psnr) < 0.1 and frozen.final_psnr < 15


@pytest.mark.parametrize("changes, words", [({"task": "fit"}, "denoise or inpaint"),
                                            ({"task": "superres"}, "denoise or inpaint")])
def test_a_task_without_observed_samples_to_hold_back_is_refused(camera, changes, words):
    with pytest.raises(ConfigError, match=words):
        validation_stop(DENOISE.replace(**changes), camera)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_a_validation_fraction_outside_zero_one_is_refused(camera, fraction):
    with pytest.raises(ConfigError, match="fraction"):
        validation_stop(DENOISE, camera, fraction)


def test_the_figures_pair_each_methods_curves_in_one_colour_and_mark_the_stop():
    from spectral_lab import plots

    steps = np.arange(10, 60, 10)
    losses = (np.arange(1, 60), np.linspace(0.1, 0.01, 59))
    spec = plots.train_heldout_figure({"a": (losses, (steps, steps / 2.0)), "b": (losses, (steps, steps / 3.0))},
                                      reference=("noisy input", 20.0), stops={"a": (30, 15.0)})
    traces = spec.panels[0].traces
    assert [t.dash for t in traces[:4]] == [False, True, False, True] and traces[0].color == traces[1].color
    assert traces[1].color != traces[2].color
    assert traces[0].y[0] == pytest.approx(10 * np.log10(4 / 0.1))  # train PSNR from the loss, R = 2
    assert traces[-1].markers and traces[-1].color == traces[0].color and traces[-1].name == "a · stopped"
    for backend in ("plotly", "matplotlib"):
        plots.render(spec, backend)
