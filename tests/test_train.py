"""The Snapshot stream: cadence, stopping, NaN guard, reproducibility, config round-trips."""
import numpy as np
import pytest
import torch

from spectral_lab import ConfigError, Run, RunConfig, fit
from spectral_lab.signals import make_synthetic


def small(**changes):
    return RunConfig(signal="sines", length=256, method="siren", width=32, depth=2, **changes)


def test_snapshots_follow_the_cadence_and_carry_predictions():
    snapshots = list(fit(small(steps=30, log_every=10, preview_every=15)))
    steps = [s.step for s in snapshots if not s.done]
    assert steps == [10, 15, 20, 30]
    assert [s.prediction is not None for s in snapshots if not s.done] == [False, True, False, True]
    final = snapshots[-1]
    assert final.done and final.message == "finished" and final.prediction.shape == (256, 1)
    assert final.metrics["psnr"] >= max(s.psnr for s in snapshots[:-1]) - 1e-6  # keeps the best
    assert final.elapsed > 0 and final.steps_per_s > 0


def test_consumer_stopping_ends_training():
    run = Run(small(steps=10_000, log_every=5))
    for snapshot in run.snapshots():
        if snapshot.step >= 20:
            break
    steps, _ = run.curve()
    assert steps[-1] == 20  # no step ran after the consumer stopped


def test_stop_flag_ends_with_a_final_snapshot():
    run = Run(small(steps=10_000, log_every=5))
    seen = []
    for snapshot in run:
        seen.append(snapshot)
        if snapshot.step == 10:
            run.stop()
    assert seen[-1].done and seen[-1].step == 10 and "stopped" in seen[-1].message


def test_divergence_stops_with_a_message_and_keeps_the_best():
    run = Run(small(steps=200, log_every=5, lr=1e-3))
    snapshots = []
    for snapshot in run:
        snapshots.append(snapshot)
        if snapshot.step == 20:
            with torch.no_grad():  # sabotage: the next forward pass produces NaN
                run.model.head.weight.fill_(float("nan"))
    final = snapshots[-1]
    assert final.done and "diverged" in final.message and "step 21" in final.message
    assert final.best_step == 20 and np.isfinite(final.prediction).all()
    assert final.metrics["psnr"] == pytest.approx(snapshots[-2].psnr, abs=0.05)


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA"):
        Run(small(device="cuda"))


def test_config_round_trips_through_dict_and_query_string():
    config = RunConfig(signal="camera", method="siren2", s0=12.5, image_size=64, gray=True, lr=3e-4)
    assert RunConfig.from_dict(config.to_dict()) == config
    query = config.to_query()
    assert "s0=12.5" in query and "width" not in query  # only non-defaults
    assert RunConfig.from_query("?" + query) == config
    with pytest.raises(ConfigError, match="steps"):
        RunConfig.from_query("steps=ten")
    with pytest.raises(ConfigError, match="range"):
        RunConfig.from_query("steps=-3")


def test_run_accepts_an_in_memory_signal():
    signal = make_synthetic("chirp", length=512)
    final = list(fit(small(steps=3, log_every=1), signal))[-1]
    assert final.prediction.shape == (512, 1)
