"""NeRN / SBS on the project's digits CNN: orderings, exact rebuild, and the paper's orderings of methods."""
import numpy as np
import pytest
import torch

from spectral_lab.cli import main
from spectral_lab.nern.cnn import accuracy, load_cnn, load_digits_data
from spectral_lab.errors import ConfigError, SignalError
from spectral_lab.nern.predictor import (NernConfig, NernRun, build_predictor, fit_nern, kernel_ntk, kernel_signal,
                               layer_sigmas, layer_spectra)
from spectral_lab.plots import kernel_spectra_figure, nern_curves_figure, nern_projection_figure, render
from spectral_lab.nern.orderings import (ORDERINGS, low_frequency_energy, network_smoothness, order_layer, permute,
                                    unpermute)


@pytest.fixture(scope="module")
def cnn():
    model, info = load_cnn()
    return model, info


@pytest.fixture(scope="module")
def data():
    return load_digits_data()


def test_checkpoint_is_a_trained_cnn_with_its_recorded_accuracy(cnn, data):
    model, info = cnn
    measured = accuracy(model, data.test_x, data.test_y)
    assert measured == pytest.approx(info["test_accuracy"], abs=1e-6)
    assert measured > 0.95


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_permutations_round_trip_exactly_and_rebuild_the_original_cnn(cnn, data, ordering):
    model, _ = cnn
    signal = kernel_signal(model, ordering, seed=3)
    for kernels, perm in zip(signal.original, signal.perms):
        assert sorted(perm.tolist()) == list(range(perm.size))  # a bijection
        assert np.array_equal(unpermute(permute(kernels, perm), perm), kernels)
    # the fitted target, put back through the stored permutations, is the CNN itself
    rebuilt = signal.weights(signal.values)
    state = model.state_dict()
    for name, weight in rebuilt.items():
        assert torch.equal(weight, state[name])
    with torch.no_grad():
        assert torch.equal(torch.func.functional_call(model, rebuilt, (data.test_x,), strict=False),
                           model(data.test_x))


def test_normalised_targets_rebuild_the_same_kernels(cnn):
    model, _ = cnn
    signal = kernel_signal(model, "uos", normalise=True)
    assert 0.5 < signal.values.std() < 2.0  # each layer at unit scale
    state = model.state_dict()
    for name, weight in signal.weights(signal.values).items():
        torch.testing.assert_close(weight, state[name], rtol=1e-6, atol=1e-7)


def test_torch_unpermute_is_a_gather_that_carries_gradients():
    kernels = np.random.default_rng(0).normal(size=(6, 5, 9))
    perm = order_layer(kernels, "uos")
    grid = torch.tensor(permute(kernels, perm), requires_grad=True)
    back = unpermute(grid, perm)
    assert np.array_equal(back.detach().numpy(), kernels)
    (back * torch.arange(back.numel()).reshape(back.shape)).sum().backward()
    assert grid.grad is not None and torch.count_nonzero(grid.grad) == grid.numel() - 1  # one weight × 0


def test_uos_is_smoother_than_the_cnn_order_and_random_orders(cnn):
    """SBS Eq. 6 and Fig. 2A–B on the real CNN: lower S(w), more low-frequency energy."""
    model, _ = cnn
    uos = kernel_signal(model, "uos").grids()
    identity = kernel_signal(model, "none").grids()
    randoms = [kernel_signal(model, "random", seed=s).grids() for s in range(3)]
    s_uos = network_smoothness(uos)
    assert s_uos["total"] < 0.85 * network_smoothness(identity)["total"]
    assert all(s_uos["total"] < 0.85 * network_smoothness(r)["total"] for r in randoms)
    # UOS is unidirectional: the filter direction carries the gain
    assert s_uos["filter"] < 0.6 * network_smoothness(identity)["filter"]
    largest = int(np.argmax([g.shape[0] * g.shape[1] for g in uos]))
    low_uos = low_frequency_energy(uos[largest])
    assert low_uos > 2 * low_frequency_energy(identity[largest])
    assert all(low_uos > 2 * low_frequency_energy(r[largest]) for r in randoms)


def test_per_layer_rff_gives_larger_layers_a_smaller_bandwidth(cnn):
    model, _ = cnn
    signal = kernel_signal(model)
    counts = np.array([f * c for f, c in signal.shapes])
    sigmas = layer_sigmas(NernConfig(rff_rule="per_layer", rff_sigma=8.0), signal.shapes)
    order = np.argsort(counts)
    assert np.all(np.diff(sigmas[order]) <= 0) and sigmas[order][0] > sigmas[order][-1]
    assert np.allclose(layer_sigmas(NernConfig(rff_rule="network", rff_sigma=8.0), signal.shapes), 8.0)
    # the encoding applies each layer's σ: the same (filter, channel) in two layers is encoded differently
    model_mlp = build_predictor(NernConfig(rff_rule="per_layer"), signal)
    x = torch.tensor([[-1.0, 0.3, 0.3], [1.0, 0.3, 0.3]])
    assert not torch.allclose(model_mlp.encoding(x), model_mlp.encoding(x * torch.tensor([-1.0, 1, 1])))


def test_the_default_run_rebuilds_an_accurate_cnn_at_a_small_compression_ratio(data):
    """The papers' point at CPU scale (issue: the default gave a chance-level 9.7% CNN). The
    default SBS predictor (UOS ordering, one RFF σ, hidden 48) trained 1000 steps on
    reconstruction, then + feature maps + distillation, rebuilds the digits CNN from 13.5% of its
    parameters. Measured (seeds 0, 1, 2, gradient clipping 1.0): 96.9, 91.1, 94.2% test accuracy
    (original 99.7%); reconstruction alone: 9.7%."""
    result = fit_nern(NernConfig(eval_every=0), data)
    assert result.cr <= 0.25, result.cr
    assert result.accuracy >= 0.85, result.accuracy


def test_smoothed_kernels_sit_on_faster_ntk_directions(cnn):
    """SBS Fig. 2 D–F: projected on the predictor's eNTK eigenvectors, the smoothed kernels put
    more energy on the top (fast-learning) directions than the same layer in the CNN's order."""
    model, _ = cnn
    signal = kernel_signal(model, "uos")
    unsmoothed = kernel_signal(model, "none")
    predictor = build_predictor(NernConfig(), signal)
    result, unsmoothed_projections = kernel_ntk(predictor, signal, unsmoothed, max_points=256)
    top = 16
    share = lambda c: (c[:top] ** 2).sum() / (c ** 2).sum()
    assert share(result.target_projections) > 1.5 * share(unsmoothed_projections)


def test_feature_map_and_distillation_losses_train_through_the_rebuilt_cnn(data):
    config = NernConfig(hidden=16, steps=3, feature_weight=1.0, kd_weight=1.0, batch_images=16, log_every=1,
                        eval_every=0, ntk_every=3, ntk_points=64, warmup=0.0)
    run = NernRun(config, data)
    before = [p.detach().clone() for p in run.model.parameters()]
    history = list(run.snapshots())
    assert [s.step for s in history] == [0, 1, 2, 3]
    assert history[-1].accuracy is not None and history[-1].ntk is not None
    assert all(not torch.equal(a, b) for a, b in zip(before, run.model.parameters()))
    # every figure of the tab renders in both backends
    specs = [nern_curves_figure({"sbs": history}, run.original_accuracy),
             kernel_spectra_figure(layer_spectra(run.signal)),
             nern_projection_figure(history[-1].ntk, history[-1].unsmoothed_projections)]
    for spec in specs:
        render(spec, "plotly")
        render(spec, "matplotlib")


def test_stop_ends_the_run_with_an_evaluated_snapshot(data):
    run = NernRun(NernConfig(hidden=8, steps=10_000, log_every=5, eval_every=0), data)
    steps = []
    for snapshot in run.snapshots():
        steps.append(snapshot.step)
        if snapshot.step >= 10:
            run.stop()
    assert steps[-1] < 30 and run.result.stopped and run.result.accuracy is not None


def test_bad_settings_and_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="hidden"):
        NernConfig(hidden=1)
    with pytest.raises(ConfigError, match="smoothing"):
        NernConfig(smoothing="sorted")
    with pytest.raises(ConfigError, match="setting"):
        NernConfig.for_setting("fancy")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(SignalError, match="cannot read the CNN checkpoint"):
        load_cnn(broken)
    with pytest.raises(SignalError, match="no CNN checkpoint"):
        load_cnn(tmp_path / "missing.pt")


def test_cli_fit_writes_a_rebuildable_cnn_and_sweep_rejects_bad_input(tmp_path, capsys, cnn, data):
    out = tmp_path / "fit"
    assert main(["nern", "fit", "--setting", "nern", "--hidden", "16", "--steps", "20", "--quiet",
                 "--out", str(out)]) == 0
    assert "CR" in capsys.readouterr().out
    weights = torch.load(out / "rebuilt_kernels.pt")
    model, _ = cnn
    rebuilt = accuracy(model, data.test_x, data.test_y, weights=weights)
    import json
    assert json.loads((out / "metrics.json").read_text())["accuracy_%"] == pytest.approx(100 * rebuilt, abs=0.01)
    perms = np.load(out / "permutations.npz")
    assert sorted(perms.files) == sorted(weights)
    assert main(["nern", "sweep", "--settings", "fancy"]) == 2
    assert "--settings must be among" in capsys.readouterr().err
    assert main(["nern", "sweep", "--hidden", "a,b"]) == 2
    assert "expect comma-separated numbers" in capsys.readouterr().err
    assert main(["nern", "sweep", "--cr", "0"]) == 2
    assert "percentages" in capsys.readouterr().err


def test_cli_refuses_a_predictor_larger_than_the_cnn_and_foreign_checkpoints(tmp_path, capsys):
    assert main(["nern", "fit", "--hidden", "1024", "--steps", "2", "--out", str(tmp_path / "big")]) == 2
    err = capsys.readouterr().err
    assert "CR 4" in err and "compress nothing" in err and "hidden ≤" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "big").exists()  # refused before the output folder is made
    foreign = tmp_path / "foreign.pt"
    torch.save({"a": 1}, foreign)
    assert main(["nern", "fit", "--checkpoint", str(foreign), "--steps", "2", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "not a digits-CNN checkpoint" in err and "weights_only" not in err and len(err.splitlines()) == 1
    assert main(["nern", "sweep", "--cr", "150"]) == 2
    assert main(["nern", "sweep", "--seeds", "x"]) == 2


def test_sweep_summary_states_a_ranking_only_where_intervals_separate():
    from spectral_lab.nern.predictor import rankings, summarise_sweep

    def rows(setting, hidden, accuracies):
        return [{"setting": setting, "hidden": hidden, "CR_%": 4.0, "seed": i, "accuracy_%": a,
                 "kernel_psnr_dB": 20.0} for i, a in enumerate(accuracies)]

    separate = summarise_sweep(rows("sbs", 22, [88, 90, 86]) + rows("nern", 20, [40, 50, 45]))
    assert separate[0]["accuracy_%"] == "88.0 ± 1.6" and separate[0]["seeds"] == 3
    assert rankings(separate) == ["CR 4/4%: sbs ahead (sbs 88.0 ± 1.6%, nern 45.0 ± 4.1%; mean ± std intervals "
                                  "separate)"]
    # One seed swinging 15 -> 92 (the case) overlaps: no ranking is stated.
    overlap = rankings(summarise_sweep(rows("sbs", 22, [15, 92, 85]) + rows("nern", 20, [40, 50, 45])))
    assert overlap[0].startswith("CR 4/4%: no ranking")
