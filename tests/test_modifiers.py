"""Training modifiers: IGA's mechanism and claim, FR folding, FR/BN kernel spread, every combination."""
import numpy as np
import pytest
import torch

from spectral_lab import METHODS, ConfigError, Run, RunConfig, build_model, load_signal, run_to_end
from spectral_lab.diagnostics import relative_error_at
from spectral_lab.modifiers import fold_fourier_layers, group_points, split_method
from spectral_lab.ntk import empirical_ntk, ntk_diagnostics
from spectral_lab.signals import make_synthetic


def test_method_strings_and_groups():
    assert split_method("relu_pe+iga+bn") == ("relu_pe", ["iga", "bn"])
    with pytest.raises(ConfigError, match="unknown modifier"):
        split_method("siren+xyz")
    groups = group_points((10,), 4)
    assert groups.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, -1, -1]]
    patches = group_points((3, 5), 2)  # 2×3 patches of 2×2, edges padded with −1
    assert patches.shape == (6, 4) and patches[0].tolist() == [0, 1, 5, 6] and patches[2].tolist() == [4, -1, 9, -1]
    assert sorted(patches[patches >= 0].tolist()) == list(range(15))  # every pixel in exactly one group


def test_iga_exact_entk_follows_the_linear_model_with_balanced_eigenvalues():
    # IGA Eq. 1 with S̃ (p = 1, plain GD): residual components along eigenvectors i ≤ end decay
    # as (1 − η·(2/N)·λ_start)^t instead of (1 − η·(2/N)·λ_i)^t. Wide 1-hidden-layer ReLU, lazy regime.
    signal = make_synthetic("sines", length=64, options="freqs=1,5,13 amps=1,1,1")
    config = RunConfig(signal="given", method="relu+iga", width=4096, depth=1, optimizer="sgd",
                       lr_schedule="constant", iga_group=1, iga_start=1, iga_end=6, iga_every=1, steps=1,
                       log_every=1, preview_every=0, seed=0)
    run = Run(config, signal)
    coords, target = run.coords, run.target.double()
    kernel = empirical_ntk(run.model, coords)
    eigenvalues, vectors = np.linalg.eigh(kernel)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    n, steps = signal.num_points, 40
    lr = 0.02 * n / (2 * eigenvalues[0])  # η·(2/N)·λ₁ = 0.02 per step
    run = Run(config.replace(lr=lr, steps=steps), signal)
    with torch.no_grad():
        start = (run.model(coords).double() - target).numpy()[:, 0]
    list(run.snapshots())  # the loss falls every step here, so the kept "best" parameters are the last ones
    with torch.no_grad():
        end = (run.model(coords).double() - target).numpy()[:, 0]
    measured = (vectors.T @ end) / (vectors.T @ start)
    balanced = (1 - lr * 2 / n * eigenvalues[0]) ** steps
    vanilla = (1 - lr * 2 / n * eigenvalues[:6]) ** steps
    significant = np.abs(vectors.T @ start)[:6] > 1e-3 * np.abs(vectors.T @ start).max()
    np.testing.assert_allclose(measured[:6][significant], balanced, rtol=0.05)
    assert np.all(np.abs(vanilla[1:] - balanced) > 0.05)  # the test can tell the two apart


def test_iga_raising_end_speeds_up_the_highest_frequency_for_relu():
    # IGA Exp. 2 kind: Eq. 9 with frequencies halved for ReLU (10..60 cycles), 1024 samples, 3×128,
    # Adam 2e-3, 300 steps, groups of 4. Measured Δ at 60 cycles: vanilla 0.963, end=2 0.964, end=8 0.869.
    signal = make_synthetic("iga_eq9", length=1024, options="halve=1")
    base = RunConfig(signal="given", width=128, depth=3, steps=300, lr=2e-3, lr_schedule="constant", log_every=300,
                     preview_every=0, iga_group=4, iga_every=5)
    errors = {}
    for label, changes in (("vanilla", dict(method="relu")), ("end2", dict(method="relu+iga", iga_end=2)),
                           ("end8", dict(method="relu+iga", iga_end=8))):
        run, final = run_to_end(base.replace(**changes), signal)
        errors[label] = relative_error_at(signal, final.prediction, [10, 60])
    assert errors["end8"][1] < errors["vanilla"][1] - 0.04, errors
    assert errors["end8"][1] < errors["end2"][1] - 0.04, errors
    assert errors["end8"][0] < 0.5 * errors["vanilla"][0], errors  # and the low band much faster


def test_fr_folds_back_to_a_plain_linear_network_with_identical_outputs():
    signal = load_signal("camera", image_size=16)
    run, _ = run_to_end(RunConfig(signal="given", method="siren+fr", width=32, depth=3, steps=15, lr=1e-3), signal)
    from spectral_lab.modifiers import FourierLinear

    assert any(isinstance(layer, FourierLinear) for layer in run.model.linears)
    before = run.predict()
    fold_fourier_layers(run.model)
    assert all(isinstance(layer, torch.nn.Linear) for layer in run.model.linears)
    np.testing.assert_allclose(run.predict(), before, atol=1e-5)


def test_fr_keeps_the_base_weight_scale():
    signal = make_synthetic("sines", length=256)
    plain = build_model(RunConfig(method="relu", width=64, depth=3), signal)
    reparameterised = build_model(RunConfig(method="relu+fr", width=64, depth=3), signal)
    w_plain, w_fr = plain.linears[1].weight, reparameterised.linears[1].weight
    assert w_fr.norm().item() == pytest.approx(w_plain.norm().item(), rel=1e-4)
    cosine = (w_fr * w_plain).sum() / (w_fr.norm() * w_plain.norm())
    assert cosine > 0.6  # the least-squares projection of the base init, not a fresh draw


@pytest.mark.parametrize("method, signal_kind", [("relu_pe", "1d"), ("relu_pe", "image"), ("relu", "image")])
def test_fr_and_bn_make_the_entk_spectrum_more_uniform(method, signal_kind):
    # Measured effective ranks (vanilla / +fr / +bn): relu_pe 1D 5.0/28.5/96.9, relu_pe 32² 7.2/39.9/111,
    # relu 32² 2.7/6.2/25. (For SIREN both lower it: 54 -> 14 / 1.2; not what the papers test.)
    signal = make_synthetic("sines", length=1024) if signal_kind == "1d" else load_signal("camera", image_size=32)
    rank = {}
    for modifier in ("", "+fr", "+bn"):
        model = build_model(RunConfig(method=method + modifier, width=128, depth=3), signal)
        rank[modifier] = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=256).effective_rank
    assert rank["+fr"] > 1.5 * rank[""] and rank["+bn"] > 1.5 * rank[""], rank


@pytest.mark.parametrize("modifier", ["iga", "fr", "bn", "iga+fr", "iga+bn"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_modifier_with_every_architecture(method, modifier):
    signal = make_synthetic("sines", length=256)
    config = RunConfig(signal="given", method=f"{method}+{modifier}", width=16, depth=2, steps=4, log_every=2,
                       iga_every=2, ntk_every=4, ntk_points=32, diagnostics_budget=0)
    if method == "wire" and ("fr" in modifier or "bn" in modifier):
        with pytest.raises(ConfigError, match="WIRE"):
            Run(config, signal)
        return
    run, final = run_to_end(config, signal)
    assert np.isfinite(final.metrics["psnr"]) and final.prediction.shape == (256, 1)
    assert run.curve()[0].tolist() == [1, 2, 3, 4]
