"""Training modifiers: IGA's mechanism and claim, FR folding, FR/BN kernel spread, every combination."""
import math

import numpy as np
import pytest
import torch

from spectral_lab import METHODS, ConfigError, Run, RunConfig, load_signal, run_to_end
from spectral_lab.diagnostics import relative_error_at
from spectral_lab.methods import build_model, count_parameters
from spectral_lab.modifiers import (check_full_rank, describe_modifiers, fold_fourier_layers, group_points,
                                    preconditioner_spectrum, reference_basis, sgd_update_beyond_lr, split_method)
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


def test_iga_raising_end_speeds_up_the_upper_frequencies_for_relu():
    # IGA Exp. 2 kind: Eq. 9 with frequencies halved for ReLU (10..60 cycles), 512 samples, 3×64,
    # Adam 2e-3, 300 steps, groups of 4, S̃ₑ every 10 steps. Δ at 10 / 30 / 40 cycles measured over
    # seeds 0–2 on an AMD EPYC with AVX-512 and with ATEN_CPU_CAPABILITY=default:
    #   vanilla 0.80–0.81 / 0.925–0.932 / 0.952–0.955; end=2 0.48–0.65 / 0.863–0.898 / 0.908–0.933;
    #   end=8 0.045–0.161 / 0.638–0.752 / 0.760–0.849.
    # At 60 cycles nothing has moved much by step 300 (0.88–0.97 for all three, the ranking flips
    # with the CPU's kernels), so the claim is read where the effect is ≥ 0.1 on every machine seen.
    signal = make_synthetic("iga_eq9", length=512, options="halve=1")
    base = RunConfig(signal="given", width=64, depth=3, steps=300, lr=2e-3, lr_schedule="constant", log_every=300,
                     preview_every=0, iga_group=4, iga_every=10)
    errors = {}
    for label, changes in (("vanilla", dict(method="relu")), ("end2", dict(method="relu+iga", iga_end=2)),
                           ("end8", dict(method="relu+iga", iga_end=8))):
        run, final = run_to_end(base.replace(**changes), signal)
        errors[label] = relative_error_at(signal, final.prediction, [10, 30, 40])
    assert errors["end8"][1] < errors["vanilla"][1] - 0.1, errors  # measured gap ≥ 0.177
    assert errors["end8"][1] < errors["end2"][1] - 0.07, errors  # ≥ 0.139
    assert errors["end8"][2] < errors["vanilla"][2] - 0.06, errors  # ≥ 0.106
    assert errors["end8"][0] < 0.3 * errors["vanilla"][0], errors  # and the low band much faster (≤ 0.2×)


def test_fr_folds_back_to_a_plain_linear_network_with_identical_outputs():
    signal = load_signal("camera", image_size=16)
    run, _ = run_to_end(RunConfig(signal="given", method="siren+fr", width=32, depth=3, steps=15, lr=1e-3), signal)
    from spectral_lab.modifiers import FourierLinear

    assert any(isinstance(layer, FourierLinear) for layer in run.model.linears)
    before = run.predict()
    fold_fourier_layers(run.model)
    assert all(isinstance(layer, torch.nn.Linear) for layer in run.model.linears)
    np.testing.assert_allclose(run.predict(), before, atol=1e-5)


def test_fr_paper_basis_matches_the_reference_construction_element_wise():
    # FR-INR's init_bases written out as loops: low frequencies (k+1)/low, then integer high ones,
    # each with phases 2πp/P; points linspace(−T/2, T/2, in) with T = 2π/lowest frequency.
    in_features, low, high, phases = 6, 3, 3, 2
    period = 2 * math.pi / (1 / low)
    points = np.linspace(-period / 2, period / 2, in_features)
    rows = [[math.cos(freq * x + 2 * math.pi * p / phases) for x in points]
            for freq in [(k + 1) / low for k in range(low)] + [k + 1 for k in range(high)] for p in range(phases)]
    np.testing.assert_allclose(reference_basis(in_features, low, high, phases).numpy(), np.array(rows), atol=1e-12)
    # at width 6 the layer uses low = high = 3 (the reference's 128/128 at width 256), scaled by α
    model = build_model(RunConfig(method="relu+fr", width=6, depth=3, fr_phases=2, fr_alpha=0.05),
                        make_synthetic("sines", length=64))
    np.testing.assert_allclose(model.linears[1].basis.double().numpy(), 0.05 * np.array(rows), atol=1e-7)


def test_fr_paper_init_draws_lambda_as_the_reference():
    # Λ column i ~ U(±√(6/M)/‖B_i‖)/ω₀ gives W Kaiming's variance 2/in (ReLU) or SIREN's 2/(in·ω₀²); the
    # bias starts at zero. The two end points of the grid coincide modulo every basis period, so B's first
    # and last columns are equal: W = ΛB keeps them tied (the layer's rank deficiency, reported).
    signal = make_synthetic("sines", length=64)
    for method, variance in (("relu+fr", 2 / 128), ("siren+fr", 2 / (128 * 30.0**2))):
        model = build_model(RunConfig(method=method, width=128, depth=3), signal)
        layer = model.linears[1]
        weight = layer.weight.detach().double()
        assert 0.8 < float(weight.var()) / variance < 1.25, (method, float(weight.var()), variance)
        assert float(layer.bias.detach().abs().max()) == 0.0
        np.testing.assert_allclose(weight[:, 0], weight[:, -1], atol=1e-6)
        assert layer.rank == 126 and layer.condition > 1e8


@pytest.mark.parametrize("kind", ["paper", "frame"])
def test_fr_with_sgd_is_more_than_a_learning_rate_change_only_for_the_papers_basis(kind):
    # One SGD step moves an FR layer by ΔW = −η·G·BᵀB (G = ∂L/∂W). A tight frame has BᵀB = c·I: the
    # step is plain SGD's at lr c·η, to round-off. The paper's basis is not: measured, 54% of ΔW is
    # outside every rescaling of G (BᵀB has 249 of 256 eigenvalues at one level, the mean direction of
    # the layer's input at twice it, the tied end points at 0). Notebook 04 asserts the same > 0.3.
    config = RunConfig(method="relu_pe+fr", width=32, depth=3, fr_basis=kind)
    signal = make_synthetic("sines", length=256)
    unexplained = sgd_update_beyond_lr(build_model(config, signal), signal)
    if kind == "frame":
        assert unexplained < 1e-6  # B is stored in float32: BᵀB = c·I to ~1e-8
    else:
        assert unexplained > 0.3
    with pytest.raises(ConfigError, match="no FR layers"):
        sgd_update_beyond_lr(build_model(config.replace(method="relu_pe"), signal), signal)


def test_fr_frame_starts_as_the_base_network():
    # Λ = W₀B⁺ with a full-rank B: ΛB = W₀, so the frame changes the training dynamics only.
    signal = make_synthetic("sines", length=256)
    plain = build_model(RunConfig(method="relu", width=64, depth=3), signal)
    reparameterised = build_model(RunConfig(method="relu+fr", width=64, depth=3, fr_basis="frame"), signal)
    np.testing.assert_allclose(reparameterised.linears[1].weight.detach(), plain.linears[1].weight.detach(), atol=1e-5)
    coords = torch.from_numpy(signal.coords)
    np.testing.assert_allclose(reparameterised(coords).detach(), plain(coords).detach(), atol=1e-5)
    assert count_parameters(reparameterised) == count_parameters(plain)  # inference parameters
    paper = build_model(RunConfig(method="relu+fr", width=64, depth=3), signal)
    assert count_parameters(paper) == count_parameters(plain)


@pytest.mark.parametrize("phases", [1, 2, 4, 32])
def test_fr_frame_has_full_rank_for_every_phase_count(phases):
    for width in (16, 64, 128):
        model = build_model(RunConfig(method="relu+fr", width=width, depth=3, fr_phases=phases, fr_basis="frame"),
                            make_synthetic("sines", length=64))
        for layer in model.linears[1:]:
            basis = layer.basis.double()
            assert basis.shape == (width * phases, width)  # over-complete: M = in·P rows
            assert torch.linalg.matrix_rank(basis).item() == width
            assert layer.condition < 20  # well conditioned, not just rank-full in exact arithmetic


def test_fr_preconditioner_spectrum_is_flat_only_for_the_frame():
    paper = preconditioner_spectrum("paper", 256, 32, 1.0)
    frame = preconditioner_spectrum("frame", 256, 32, 1.0)
    np.testing.assert_allclose(frame, 32 * 256 / 2, rtol=1e-9)  # BᵀB = P·in/2·I
    assert paper[0] > 1.9 * np.median(paper) and (paper < 1e-6 * paper[0]).sum() == 2


def test_fr_rejects_a_rank_deficient_frame():
    with pytest.raises(ConfigError, match="not full rank"):
        check_full_rank(torch.ones(64, 16))
    with pytest.raises(ConfigError, match="not full rank"):  # the reference's own basis
        check_full_rank(reference_basis(32, 16, 16, 1))


@pytest.mark.parametrize("method, signal_kind", [("relu_pe", "1d"), ("relu_pe", "image"), ("relu", "image")])
def test_bn_makes_the_entk_spectrum_more_uniform(method, signal_kind):
    # Cai et al.: BN spreads the eNTK eigenvalues. Measured effective ranks (vanilla / +bn):
    # relu_pe 1D 5.0 / 57.8, relu_pe 32² 7.2 / 86.6, relu 32² 2.7 / 18.5.
    signal = make_synthetic("sines", length=1024) if signal_kind == "1d" else load_signal("camera", image_size=32)
    rank = {}
    for modifier in ("", "+bn"):
        model = build_model(RunConfig(method=method + modifier, width=128, depth=3), signal)
        rank[modifier] = ntk_diagnostics(model, signal.coords, signal.grid, signal.values, max_points=256).effective_rank
    assert rank["+bn"] > 3 * rank[""], rank


def test_fr_and_bn_train_relu_pe_further_than_plain():
    # IGA Table 1's direction for PE (plain < FR, BN). Camera 32², 3×128, 200 Adam steps at
    # 2e-3 decaying to 2e-4. Measured: plain 34.84, +fr 42.56 (paper basis, α = 0.05), +bn 42.23 dB.
    signal = load_signal("camera", image_size=32)
    base = RunConfig(signal="given", width=128, depth=3, steps=200, lr=2e-3, lr_schedule="exp", log_every=200,
                     preview_every=0)
    psnr = {m: run_to_end(base.replace(method=m), signal)[1].metrics["psnr"]
            for m in ("relu_pe", "relu_pe+fr", "relu_pe+bn")}
    assert psnr["relu_pe+fr"] > psnr["relu_pe"] + 1.0, psnr
    assert psnr["relu_pe+bn"] > psnr["relu_pe"] + 3.0, psnr


def test_iga_defaults_work_on_a_default_size_image_and_say_what_they_chose():
    # The issue: relu_pe+iga errored on a default-size image ("16384-point eNTK"). Now the group
    # size gives about the paper's 384 groups and `end` is the paper's value (IGA Sec. 6.1).
    camera = load_signal("camera")  # 512×512
    run = Run(RunConfig(method="relu_pe+iga", steps=1), camera)
    assert run.config.iga_group == 27 and run.iga.groups.shape[0] == 361 and run.config.iga_end == 20
    assert run.config.iga_every == 1 and "361 groups" in run.modifier_note and "every step" in run.modifier_note
    assert Run(RunConfig(method="relu+iga", steps=1), camera).config.iga_end == 25  # ReLU's severe bias
    audio = make_synthetic("chiptune", length=16384)
    run = Run(RunConfig(method="siren+iga", steps=1), audio)
    assert run.config.iga_group == 32 and run.iga.groups.shape[0] == 512 and run.config.iga_end == 15
    coarse = describe_modifiers(run.config.replace(iga_every=10), audio)
    assert "approximation" in coarse


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
    if method.startswith("mfn_"):  # no MLP layers to modify: refused, with the reason
        with pytest.raises(ConfigError, match="has none to modify"):
            Run(config, signal)
        return
    run, final = run_to_end(config, signal)
    assert np.isfinite(final.metrics["psnr"]) and final.prediction.shape == (256, 1)
    assert run.curve()[0].tolist() == [1, 2, 3, 4]


def test_notebook_04s_iga_checks_fail_without_the_adjustment(monkeypatch):
    # Notebook 04 (QUICK) asserts Δ at 30 cycles drops by > 0.1 and Δ at 10 cycles halves with IGA
    # (measured 0.93 → 0.69 and 0.81 → 0.01). With S̃ₑ replaced by the identity (the adjustment
    # missing) the run is the plain one, and both checks fail.
    from spectral_lab.diagnostics import relative_error_at
    from spectral_lab.modifiers import InductiveGradientAdjustment
    from spectral_lab.signals import load_signal

    signal = load_signal("iga_eq9", length=512, options="halve=1")
    base = RunConfig(signal="given", width=64, depth=3, steps=300, lr=2e-3, lr_schedule="constant", log_every=10,
                     preview_every=0, iga_group=4, iga_end=8, iga_every=10)  # the notebook's settings exactly

    def errors(**changes):
        return relative_error_at(signal, run_to_end(base.replace(**changes), signal)[1].prediction, [10, 30])

    plain, adjusted = errors(method="relu"), errors(method="relu+iga")
    original = InductiveGradientAdjustment.update

    def identity_update(self, model, coords, residual):
        original(self, model, coords, residual)
        self.matrix = torch.eye(self.matrix.shape[0], dtype=self.matrix.dtype)

    monkeypatch.setattr(InductiveGradientAdjustment, "update", identity_update)
    identity = errors(method="relu+iga")
    assert adjusted[1] < plain[1] - 0.1 and adjusted[0] < 0.5 * plain[0]
    np.testing.assert_allclose(identity, plain, rtol=1e-5)
    assert not (identity[1] < plain[1] - 0.1 or identity[0] < 0.5 * plain[0])


@pytest.mark.parametrize("balance_to, expected", [("end", [2 / 8, 2 / 4, 1, 1]), ("start", [1, 8 / 4, 1, 1])])
def test_iga_balances_to_the_reference_codes_eigenvalue(monkeypatch, balance_to, expected):
    # Kernel diag(8, 4, 2, 1), start 1, end 2. SGD balances λ₁..λ₂ to λ_start = 8 (Eq. 5). Adam to
    # λ_(end+1) = 2: the IGA reference indexes its 0-based eigenvalue array with `end` (the text: λ_end).
    import spectral_lab.modifiers.iga
    from spectral_lab.modifiers import InductiveGradientAdjustment

    monkeypatch.setattr(spectral_lab.modifiers.iga, "empirical_ntk", lambda model, coords: np.diag([1.0, 8.0, 2.0, 4.0]))
    iga = InductiveGradientAdjustment((4,), 1, start=1, end=2, sampling="fixed", every=1, balance_to=balance_to)
    iga.update(None, torch.zeros(4, 1), torch.zeros(4, 1))
    np.testing.assert_allclose(np.diag(iga.matrix.numpy())[[1, 3, 2, 0]], expected, rtol=1e-6)
    np.testing.assert_allclose(iga.matrix.numpy(), np.diag(np.diag(iga.matrix.numpy())), atol=1e-7)
