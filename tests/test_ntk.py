"""Empirical NTK: closed form, agreement of the fast/generic/slow kernels, spectra (papers' claims)."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from spectral_lab import METHODS, Run, RunConfig, build_model, load_signal
from spectral_lab.ntk import (TOP_EIGENPAIRS, LayerwiseKernel, analyse_kernel, empirical_ntk, float64_copy,
                              ntk_diagnostics, slow_ntk, subgrid, top_eigenpairs)
from spectral_lab.signals import make_synthetic


class TwoLayerReLU(nn.Module):
    """Arora et al. 2019 / IGA Exp. 1: f(x) = (2m)^(-1/2) Σ a_r relu(w_rᵀx + b_r), a_r = ±1 fixed.

    w ~ N(0, I), b = 0 at init. The 1/√(2m) scale puts the infinite-width kernel at the IGA
    paper's constant: K = (1/4π)(xᵢᵀxⱼ + 1)(π − arccos(xᵢᵀxⱼ)) for unit-norm x.
    """

    def __init__(self, width: int, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.hidden = nn.Linear(2, width)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.randn(width, 2, generator=generator))
            self.hidden.bias.zero_()
        signs = torch.randint(0, 2, (width,), generator=generator) * 2.0 - 1.0
        self.register_buffer("a", signs / math.sqrt(2 * width))

    def forward(self, x):
        return (torch.relu(self.hidden(x)) @ self.a)[:, None]


def closed_form(x: np.ndarray) -> np.ndarray:
    cosine = np.clip(x @ x.T, -1.0, 1.0)
    return (cosine + 1) * (np.pi - np.arccos(cosine)) / (4 * np.pi)


def test_two_layer_relu_entk_converges_to_the_closed_form():
    theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x = np.stack([np.cos(theta), np.sin(theta)], axis=1)  # unit circle, IGA Eq. 8 inputs
    exact = closed_form(x)
    errors = []
    for width in (64, 1024, 16384):
        kernel = empirical_ntk(TwoLayerReLU(width), torch.tensor(x, dtype=torch.float32))
        errors.append(np.linalg.norm(kernel - exact) / np.linalg.norm(exact))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.03, errors  # measured: ~0.008 at width 16384
    generic = empirical_ntk(TwoLayerReLU(1024), torch.tensor(x, dtype=torch.float32), exact_layers=False)
    np.testing.assert_allclose(generic, empirical_ntk(TwoLayerReLU(1024), torch.tensor(x, dtype=torch.float32)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("signal_kind", ["1d", "rgb"])
def test_fast_and_torch_func_kernels_equal_the_per_sample_gradient_kernel(method, signal_kind):
    # In float64: a first layer at ω₀ = 300 makes float32 kernels cancel terms of ~1e5, rounded
    # differently by AVX2 and AVX-512/AMX kernels (max abs diff 4.7e-5 on one Xeon). In float64 the
    # three paths agree to ~1e-12 on any CPU, so a wrong term still fails at 1e-9.
    signal = make_synthetic("sines", length=64) if signal_kind == "1d" else load_signal("astronaut", image_size=8)
    model = float64_copy(build_model(RunConfig(method=method, width=16, depth=2), signal))
    points = torch.from_numpy(signal.coords[:40]).double()
    reference = slow_ntk(model, points)
    scale = np.abs(reference).max()
    for kernel in (empirical_ntk(model, points),  # layer-wise identity
                   empirical_ntk(model, points, chunk=16, exact_layers=False),  # torch.func, cached J
                   empirical_ntk(model, points, chunk=16, exact_layers=False, memory_budget=0)):  # recompute
        np.testing.assert_allclose(kernel / scale, reference / scale, atol=1e-9)


def test_subgrid_is_regular_and_bounded():
    index, shape = subgrid((1000,), 256)
    assert shape == (250,) and np.all(np.diff(index) == 4)
    index, shape = subgrid((64, 48), 300)
    assert shape == (16, 12) and index.size == 192
    assert index[1] - index[0] == 4 and index[12] == 4 * 48  # every 4th column; next row 4 rows down
    index, shape = subgrid((1000,), 256, layout="window")
    assert shape == (256,) and index[0] == 372 and np.all(np.diff(index) == 1)  # the middle 256 samples
    index, shape = subgrid((64, 48), 300, layout="window")
    assert shape == (17, 17) and index[0] == 23 * 48 + 15 and index[17] == 24 * 48 + 15
    assert subgrid((1000,), 256, layout="auto")[1] == (256,) and subgrid((64, 64), 256, layout="auto")[1] == (16, 16)


def test_analysis_of_a_known_kernel():
    # K = Σ λ v vᵀ with Fourier eigenvectors: S(k) must put each λ at its own frequency.
    m = 64
    t = np.arange(m) / m
    v1, v2 = np.cos(2 * np.pi * 3 * t), np.cos(2 * np.pi * 10 * t)
    v1, v2 = v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)
    kernel = 5.0 * np.outer(v1, v1) + 2.0 * np.outer(v2, v2)
    result = analyse_kernel(kernel, (m,), target=(v2 * 7.0)[:, None])
    assert result.eigenvalues[:2] == pytest.approx([5.0, 2.0])
    assert np.all(result.eigenvalues >= 0)
    peaks = np.argsort(result.spectrum)[-2:]
    assert set(peaks) == {3, 10} and result.spectrum[3] / result.spectrum[10] == pytest.approx(2.5, rel=1e-6)
    assert result.target_projections[1] == pytest.approx(7.0) and result.target_projections[0] == pytest.approx(0, abs=1e-9)


def test_siren2_ntk_has_more_high_frequency_energy_than_siren_at_init():
    # WINNER Fig. 7: 4×256, ω₀ = 30, 1024 points in [-1, 1], [s0, s1] = [10, 0.5].
    # Measured: fraction of S(k) above a quarter of the band 0.0004 (SIREN) vs 0.034 (SIREN²).
    signal = make_synthetic("sines", length=1024)
    results = {}
    for method, knobs in (("siren", {"first_omega0": 30.0}), ("siren2", {"s0": 10.0, "s1": 0.5})):
        model = build_model(RunConfig(method=method, width=256, depth=4, **knobs), signal)
        results[method] = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=1024)
    high = {m: r.spectrum[r.spectrum.size // 4:].sum() / r.spectrum.sum() for m, r in results.items()}
    assert high["siren2"] > 10 * high["siren"], high
    assert results["siren2"].effective_rank > 3 * results["siren"].effective_rank  # slower decay


@pytest.mark.parametrize("signal_kind", ["1d", "image"])
def test_eigenvalue_decay_rff_slowest_pe_between_plain_fastest(signal_kind):
    # SBS Fig. 2C. Measured effective ranks: plain 2–3, PE 10–13, RFF 38–41 (1D and 32² image).
    signal = make_synthetic("sines", length=1024) if signal_kind == "1d" else load_signal("camera", image_size=32)
    rank, tail = {}, {}
    for method in ("relu", "relu_pe", "relu_rff"):
        model = build_model(RunConfig(method=method, width=256, depth=3), signal)
        result = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=1024)
        rank[method] = result.effective_rank
        tail[method] = result.eigenvalues[50] / result.eigenvalues[0]
    assert rank["relu"] < rank["relu_pe"] < rank["relu_rff"], rank
    assert tail["relu"] < tail["relu_pe"] < tail["relu_rff"], tail


@pytest.mark.gpu
def test_ntk_of_a_cuda_model_comes_back_as_host_numpy():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    signal = make_synthetic("sines", length=256)
    model = build_model(RunConfig(method="siren", width=32, depth=2), signal).cuda()
    result = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=64)
    assert isinstance(result.eigenvalues, np.ndarray) and isinstance(result.kernel_preview, np.ndarray)


def test_diagnostic_kernel_is_float64_accurate_where_float32_is_not():
    # The issue: a default SIREN's float32 kernel shows cond 5e9 against 9e12 in float64, and
    # eigenvalues >10% off from λ/λ₁ ≈ 3e-8. The diagnostic kernel must match a float64
    # per-sample reference over the whole displayed range.
    signal = make_synthetic("sines", length=2048)
    model = build_model(RunConfig(method="siren", width=128, depth=3), signal)
    result = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=256)
    index, _ = subgrid(signal.grid, 256, "window")
    points = torch.from_numpy(signal.coords[index])
    reference = np.sort(np.linalg.eigvalsh(slow_ntk(copy.deepcopy(model).double(), points.double())))[::-1]
    shown = reference > reference[0] * 1e-12
    accurate = reference > reference[0] * 1e-10
    np.testing.assert_allclose(result.eigenvalues[accurate], reference[accurate], rtol=1e-4)
    np.testing.assert_allclose(result.eigenvalues[shown], reference[shown], rtol=1e-2)  # float64 eigh noise ~1e-16·λ₁
    reference_condition = reference[0] / reference[reference > reference[0] * 1e-13][-1]
    assert result.condition_number == pytest.approx(reference_condition, rel=0.01)
    float32 = np.sort(np.linalg.eigvalsh(empirical_ntk(model, points)))[::-1]
    tail = shown & (reference < reference[0] * 1e-6)
    assert tail.any() and np.max(np.abs(float32[tail] / reference[tail] - 1)) > 0.1  # why float64 is needed


def test_batch_norm_kernel_uses_the_training_statistics():
    # Frozen at the full signal's statistics, a point's kernel entries do not depend on which
    # other points are diagnosed: the kernel on a window equals that block of a larger kernel.
    signal = make_synthetic("sines", length=1024)
    model = build_model(RunConfig(method="relu_pe+bn", width=32, depth=2), signal)
    small = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=64, keep_eigenvectors=True)
    large = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=128, keep_eigenvectors=True)
    k_small = (small.eigenvectors * small.eigenvalues) @ small.eigenvectors.T
    k_large = (large.eigenvectors * large.eigenvalues) @ large.eigenvectors.T
    offset = (128 - 64) // 2  # both windows are centred
    np.testing.assert_allclose(k_small, k_large[offset:offset + 64, offset:offset + 64], rtol=1e-6, atol=1e-9)
    batch = empirical_ntk(model, torch.from_numpy(signal.coords[subgrid(signal.grid, 64, "window")[0]]))
    assert np.abs(batch - k_small).max() > 1e-3 * np.abs(k_small).max()  # M-point statistics: another kernel


def test_a_kernel_that_overflowed_is_a_clear_error():
    signal = make_synthetic("sines", length=256)
    model = build_model(RunConfig(method="relu", width=16, depth=2), signal)
    with torch.no_grad():
        model.head.weight.fill_(float("inf"))
    with pytest.raises(FloatingPointError, match="not finite"):
        ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=32)


def test_an_all_zero_kernel_is_analysed_and_drawn_without_warnings():
    # a dead ReLU network (or a diverged one) gives K = 0: λᵢ/λ₁ must not become 0/0 (seen as
    # "invalid value encountered in divide" in the app log)
    import warnings

    from spectral_lab import plots

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = analyse_kernel(np.zeros((16, 16)), (16,), np.linspace(-1, 1, 16)[:, None])
        for spec in (plots.ntk_figure(result), plots.kernel_figure(result)):
            plots.render(spec)
    assert result.condition_number == math.inf


def test_notebook_01s_linear_dynamics_check_fails_for_a_frozen_network_or_a_wrong_rate():
    # Notebook 01's check: |vᵢᵀ r| measured at every checkpoint against |1 − η(2/N)λᵢ|^updates
    # from the step-0 eNTK, for the directions decaying ≈ 90/50/10%, relative to each one's own
    # decay, must stay < 0.1. Measured: the real run ~1e-4; a frozen run 1.0; η doubled 0.26–0.49.
    from spectral_lab.ntk import (decay_directions, measured_residual_projections, normalised_deviation,
                                  predicted_residual_decay, updates_before)

    small = load_signal("sines", length=128, options="freqs=1,4,12 amps=1,1,1")
    gd = RunConfig(method="relu", width=4096, depth=1, optimizer="sgd", lr_schedule="constant", steps=120,
                   log_every=10, preview_every=10)
    model = build_model(gd, small)
    with torch.no_grad():
        initial = model(torch.from_numpy(small.coords)).numpy()
    at_init = ntk_diagnostics(model, small.coords, small.grid, small.values, max_points=small.num_points,
                              keep_eigenvectors=True, prediction=initial)
    lr = 0.04 * small.num_points / (2 * at_init.eigenvalues[0])

    def deviation(train_lr, predict_lr):
        steps, predictions = [0], [initial]
        for snapshot in Run(gd.replace(lr=train_lr), small):
            if snapshot.prediction is not None and not snapshot.done:
                steps.append(snapshot.step)
                predictions.append(snapshot.prediction)
        predicted = predicted_residual_decay(at_init.eigenvalues, at_init.residual_projections, predict_lr,
                                             updates_before(steps), small.num_points)
        measured = measured_residual_projections(at_init.eigenvectors, small.values, predictions)
        directions = decay_directions(predicted)
        return normalised_deviation(predicted, measured, directions)

    assert np.all(deviation(lr, lr) < 0.1)
    assert np.all(deviation(1e-8, lr) > 0.9)  # frozen network: nothing moved
    assert np.any(deviation(lr, 2 * lr) > 0.1)  # wrong rate in the prediction
    assert list(updates_before([0, 10, 20])) == [0, 9, 19]


@pytest.mark.parametrize("method", ["siren", "relu_pe", "wire"])
def test_matrix_free_top_eigenpairs_equal_the_dense_kernels(method):
    # Issue 19: Lanczos on the layer-wise product K·v (K never formed) gives the dense kernel's top
    # eigenvalues to 1e-6 relative in float64, eigenvectors up to sign; WIRE's complex layers too.
    signal = make_synthetic("sines", length=600)
    model = float64_copy(build_model(RunConfig(method=method, width=32, depth=3), signal))
    points = torch.from_numpy(signal.coords).double()
    dense_values, dense_vectors = np.linalg.eigh(empirical_ntk(model, points))
    dense_values, dense_vectors = dense_values[::-1][:16], dense_vectors[:, ::-1][:, :16]
    values, vectors = top_eigenpairs(model, points, count=16)
    order = np.argsort(values)[::-1]
    np.testing.assert_allclose(values[order], dense_values, rtol=1e-6)
    overlap = np.abs(np.sum(vectors[:, order][:, :4] * dense_vectors[:, :4], axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)  # the well-separated leading directions


def test_the_matrix_free_check_fails_without_the_bias_term(monkeypatch):
    # The comparison above can fail: drop the bias term of the product and the eigenvalues move.
    signal = make_synthetic("sines", length=300)
    model = float64_copy(build_model(RunConfig(method="siren", width=32, depth=3), signal))
    points = torch.from_numpy(signal.coords).double()
    dense = np.linalg.eigvalsh(empirical_ntk(model, points))[::-1][:8]
    original = LayerwiseKernel.__init__

    def without_bias(self, model, coords):
        original(self, model, coords)
        self.layers = [(h, delta, False) for h, delta, _ in self.layers]

    monkeypatch.setattr(LayerwiseKernel, "__init__", without_bias)
    values = np.sort(top_eigenpairs(model, points, count=8)[0])[::-1]
    assert np.max(np.abs(values - dense) / dense) > 1e-3


def test_ntk_diagnostics_switch_to_the_top_eigenpairs_for_many_points():
    signal = make_synthetic("chiptune", length=4096)
    model = build_model(RunConfig(method="siren", width=32, depth=3), signal)
    many = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=2048, prediction=signal.values * 0,
                           dense_max_points=1024)
    assert many.num_points == 2048 and len(many.eigenvalues) == TOP_EIGENPAIRS and "matrix-free" in many.note
    assert many.kernel_preview.shape == (128, 128) and many.spectrum.shape == many.target_spectrum.shape
    dense = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=1024)
    assert len(dense.eigenvalues) == 1024 and "matrix-free" not in dense.note
