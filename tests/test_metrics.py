"""Metrics against hand-computed values."""
import math

import numpy as np
import pytest

from spectral_lab.metrics import evaluate, psnr, rho_ag, ssim


def test_psnr_uses_data_range_two():
    target = np.zeros(100)
    prediction = np.full(100, 0.1)  # MSE = 0.01 -> 10 log10(4 / 0.01) = 26.0206 dB
    assert psnr(prediction, target) == pytest.approx(10 * math.log10(400), abs=1e-9)
    assert psnr(prediction, target, data_range=1) == pytest.approx(20.0, abs=1e-9)
    assert psnr(target, target) == math.inf


def test_rho_ag_is_one_for_identical_and_known_for_disjoint_spectra():
    x = np.sin(2 * np.pi * 3 * np.arange(64) / 64)
    assert rho_ag(x, x) == pytest.approx(1.0)
    assert rho_ag(x, -2 * x) == pytest.approx(1.0)  # amplitude spectra ignore sign and scale
    y = np.sin(2 * np.pi * 10 * np.arange(64) / 64)
    assert rho_ag(x, y) == pytest.approx(0.0, abs=1e-9)  # no shared frequency
    # half the energy shared: |X| has bins {3, 10}, |Y| has {10} -> cos = 1/√2
    assert rho_ag(x + y, y) == pytest.approx(1 / math.sqrt(2), abs=1e-9)


def test_ssim_for_images_and_evaluate_table():
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (32, 32))
    assert ssim(image, image) == pytest.approx(1.0)
    noisy = image + rng.normal(0, 0.3, image.shape)
    assert ssim(noisy, image) < 0.9
    result = evaluate(noisy, image, "image")
    assert set(result) == {"psnr", "ssim", "rho_ag", "zero_output_psnr", "output_energy_share"}
    assert result["zero_output_psnr"] == pytest.approx(psnr(0 * image, image))
    assert "ssim" not in evaluate(image[0], image[1], "1d")
