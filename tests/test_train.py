"""The Snapshot stream: cadence, stopping, NaN guard, reproducibility, config round-trips."""
import os

import numpy as np
import pytest
import torch

from spectral_lab import ConfigError, Run, RunConfig, build_model, fit, run_to_end
from spectral_lab.signals import make_synthetic


def small(**changes):
    return RunConfig(**{"signal": "sines", "length": 256, "method": "siren", "width": 32, "depth": 2, **changes})


def test_snapshots_follow_the_cadence_and_carry_predictions():
    snapshots = list(fit(small(steps=30, log_every=10, preview_every=15)))
    steps = [s.step for s in snapshots]
    assert steps == [10, 15, 20, 30]  # the last step once: it is the final snapshot
    assert [s.prediction is not None for s in snapshots] == [False, True, False, True]
    final = snapshots[-1]
    assert final.done and final.status == "finished" and final.prediction.shape == (256, 1)
    assert final.metrics["psnr"] >= max(s.psnr for s in snapshots[:-1]) - 1e-6  # keeps the best
    assert final.elapsed > 0 and final.steps_per_s > 0


def test_consumer_stopping_ends_training_and_still_leaves_a_final_result():
    run = Run(small(steps=10_000, log_every=5))
    for snapshot in run.snapshots():
        if snapshot.step >= 20:
            break
    steps, _ = run.curve()
    assert steps[-1] == 20  # no step ran after the consumer stopped
    assert run.final is not None and run.final.status == "stopped" and run.final.metrics["steps"] == 20


def test_stop_flag_ends_with_a_final_snapshot():
    run = Run(small(steps=10_000, log_every=5))
    seen = []
    for snapshot in run:
        seen.append(snapshot)
        if snapshot.step == 10:
            run.stop()
    assert seen[-1].done and seen[-1].step == 10 and seen[-1].status == "stopped" and "stopped" in seen[-1].message


def test_divergence_stops_with_a_message_and_keeps_the_best():
    run = Run(small(steps=200, log_every=5, lr=1e-3))
    snapshots = []
    for snapshot in run:
        snapshots.append(snapshot)
        if snapshot.step == 20:
            with torch.no_grad():  # sabotage: the next forward pass produces NaN
                run.model.head.weight.fill_(float("nan"))
    final = snapshots[-1]
    assert final.done and final.status == "diverged" and "step 21" in final.message
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


def test_the_readme_loop_sees_every_step_once():
    run = Run(small(steps=40, log_every=10))
    printed = [snapshot.step for snapshot in run]
    assert printed == [10, 20, 30, 40] and run.final.done


@pytest.mark.parametrize("method", ["siren", "spder", "relu_pe"])
def test_fast_path_code_gives_the_eager_result_on_cpu(method):
    # Issue 13: `--fast on` off CUDA runs the fast path's code without graphs (static buffers,
    # tensor learning rate, device-side schedule); it must train like eager: same PSNR within
    # 0.5 dB after 100 steps (measured: equal to 1e-4 dB).
    signal = make_synthetic("sines", length=1024)
    config = RunConfig(signal="given", method=method, width=32, depth=2, steps=100, log_every=25, lr_every=10)
    eager = Run(config.replace(fast="off"), signal)
    fast = Run(config.replace(fast="on"), signal)
    assert eager.step_mode == "eager" and fast.step_mode == "static"
    psnr_eager = list(eager)[-1].metrics["psnr"]
    psnr_fast = list(fast)[-1].metrics["psnr"]
    assert abs(psnr_fast - psnr_eager) < 0.5, (psnr_eager, psnr_fast)
    assert fast.final.lr == pytest.approx(eager.final.lr, rel=1e-5)  # the schedule, applied on the device


def test_eager_and_fast_steps_use_one_adam_implementation_per_device():
    # On CUDA both steps take the fused, capturable kernel (the graphs need it; one implementation
    # means the same rounding): the eager step's default foreach kernel left SPDER 2.83 dB from the
    # fast path on an H200. Complex weights (WIRE) and the CPU keep PyTorch's default.
    from spectral_lab.stepper import adam_options

    real, complex_ = [torch.zeros(2, requires_grad=True)], [torch.zeros(2, dtype=torch.cfloat, requires_grad=True)]
    assert adam_options(torch.device("cuda"), real) == {"fused": True, "capturable": True}
    assert adam_options(torch.device("cuda"), complex_) == {} and adam_options(torch.device("cpu"), real) == {}


@pytest.mark.parametrize("method", ["spder", "siren"])
def test_the_fast_paths_arithmetic_equals_the_eager_steps_in_float64(method):
    # The same init, the same Adam, the same schedule on the device: in float64 the fast path's code
    # (without graphs) and the eager step end at the same parameters to round-off, so a gap on a GPU
    # can come only from the graphs or the kernels, which bench/bench_gpu.py measures.
    from spectral_lab.stepper import EagerStepper, FastStepper

    signal = make_synthetic("sines", length=256)
    config = RunConfig(signal="given", method=method, width=16, depth=2, steps=60, lr=1e-3, lr_every=10, lr_gamma=0.5)
    models = [build_model(config, signal).double() for _ in range(2)]
    coords, target = torch.from_numpy(signal.coords).double(), torch.from_numpy(signal.values).double()
    steppers = [EagerStepper(models[0], coords, target, config), FastStepper(models[1], coords, target, config, False)]
    for step in range(1, config.steps + 1):
        for stepper in steppers:
            stepper.forward_backward(step)
            stepper.update(step)
    for eager, fast in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_allclose(fast.detach().numpy(), eager.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_the_fast_path_compiles_compute_bound_cuda_steps_and_says_which_mode_runs(monkeypatch):
    # Launch-bound (small) steps keep CUDA graphs; compute-bound ones compile, where allowed. The plan
    # is host logic: checked here for a CUDA device without one.
    from spectral_lab import stepper

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    config = RunConfig(width=256, depth=5, steps=stepper.COMPILE_MIN_STEPS)
    big = stepper.step_workload(256 * 256, config)  # SIREN 5×256 on 256²
    small = stepper.step_workload(64 * 64, config.replace(width=128, depth=3))  # the app's 3×128 on 64²
    assert big >= stepper.COMPILE_MIN_WORK > small
    monkeypatch.setattr(stepper, "compile_blocker", lambda device: "")
    mode, note = stepper.fast_path_plan(config, cuda, [], False, False, big)
    assert mode == "compiled" and note.startswith("compiled steps") and "compute-bound" in note
    assert stepper.fast_path_plan(config, cuda, [], False, False, small)[1].startswith("graphs steps")
    mode, note = stepper.fast_path_plan(config.replace(steps=500), cuda, [], False, False, big)
    assert mode == "graphs" and "would not repay compiling" in note
    mode, note = stepper.fast_path_plan(config, cuda, [], False, True, big)
    assert mode == "graphs" and "ZeroGPU forbids torch.compile" in note
    monkeypatch.setattr(stepper, "compile_blocker", lambda device: "Triton is not installed")
    mode, note = stepper.fast_path_plan(config, cuda, [], False, False, big)
    assert mode == "graphs" and "Triton is not installed" in note
    assert stepper.fast_path_plan(config.replace(fast="off"), cuda, [], False, False, big)[0] == "eager"
    assert stepper.fast_path_plan(config.replace(fast="on"), cpu, [], False, False, big)[1].startswith("static")
    assert stepper.fast_path_plan(config, cpu, [], False, False, big)[1].startswith("eager")
    monkeypatch.undo()
    assert stepper.compile_blocker(cpu) == "the compiled step is for CUDA"


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SPECTRAL_LAB_TEST_COMPILE") != "1",
                    reason="torch.compile's first CPU compile of this step took 19-40 s on the 2-core test machine "
                           "(Inductor's C++ backend, cold cache); SPECTRAL_LAB_TEST_COMPILE=1 runs it")
def test_the_compiled_step_equals_the_eager_steps_in_float64():
    # The compiled forward and backward (Inductor, here its CPU backend) are the eager arithmetic:
    # parameters equal to round-off after 20 steps (measured: 5e-16).
    from spectral_lab.stepper import EagerStepper, FastStepper

    signal = make_synthetic("sines", length=256)
    config = RunConfig(signal="given", method="siren", width=16, depth=2, steps=20, lr=1e-3, lr_every=5, lr_gamma=0.5)
    models = [build_model(config, signal).double() for _ in range(2)]
    coords, target = torch.from_numpy(signal.coords).double(), torch.from_numpy(signal.values).double()
    compiled = FastStepper(models[1], coords, target, config, use_graphs=False, use_compile=True)
    steppers = [EagerStepper(models[0], coords, target, config), compiled]
    assert compiled.mode == "compiled"
    for step in range(1, config.steps + 1):
        for one in steppers:
            one.forward_backward(step)
            one.update(step)
    for eager, fast in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_allclose(fast.detach().numpy(), eager.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_switching_tf32_on_says_what_it_costs():
    from spectral_lab.stepper import TF32_NOTE, step_note

    config = RunConfig(tf32=True)
    assert step_note(config, torch.device("cuda"), "fast path") == f"fast path; {TF32_NOTE}" and "15 dB" in TF32_NOTE
    assert step_note(config, torch.device("cpu"), "eager") == "eager"  # TF32 is a CUDA switch
    assert step_note(config.replace(tf32=False), torch.device("cuda"), "fast path") == "fast path"


def test_fast_auto_is_off_on_cpu_and_fallbacks_say_why():
    assert Run(small(steps=1)).step_mode == "eager" or torch.cuda.is_available()
    for method, reason in (("siren+iga", "IGA"), ("siren+bn", "batch norm"), ("wire", "complex")):
        run = Run(small(method=method, steps=1, fast="on"))
        assert run.step_mode == "eager" and reason in run.step_note, run.step_note
    run = Run(small(steps=1, fast="on", optimizer="sgd"))
    assert run.step_mode == "eager" and "Adam" in run.step_note


@pytest.mark.parametrize("schedule", ["step", "drop", "exp", "constant"])
def test_device_side_schedule_matches_the_torch_schedulers(schedule):
    from spectral_lab.stepper import make_scheduler, schedule_factor

    config = RunConfig(steps=50, lr=1e-3, lr_schedule=schedule, lr_every=7, lr_gamma=0.5)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    scheduler = make_scheduler(optimizer, config)
    for step in range(1, 51):
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        on_device = float(1e-3 * schedule_factor(config, torch.tensor(float(step), dtype=torch.float64)))
        assert on_device == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-6), step


gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@gpu
def test_cuda_graph_capture_trains_like_eager():
    signal = make_synthetic("sines", length=4096)
    config = RunConfig(signal="given", method="siren", width=64, depth=3, steps=200, log_every=50, device="cuda")
    fast, eager = Run(config.replace(fast="on"), signal), Run(config.replace(fast="off"), signal)
    assert fast.step_mode == "graphs"
    psnr_fast, psnr_eager = list(fast)[-1].metrics["psnr"], list(eager)[-1].metrics["psnr"]
    assert abs(psnr_fast - psnr_eager) < 0.5
    assert fast.final.lr == pytest.approx(eager.final.lr, rel=1e-5)


@pytest.mark.gpu
@gpu
def test_cuda_graph_run_stops_and_guards_nan():
    signal = make_synthetic("sines", length=4096)
    run = Run(RunConfig(signal="given", method="siren", width=64, depth=3, steps=10_000, log_every=10,
                        device="cuda", fast="on"), signal)
    for snapshot in run:
        if snapshot.step == 50:
            run.stop()
    assert run.final.status == "stopped" and run.final.step == 50
    run = Run(RunConfig(signal="given", method="siren", width=64, depth=3, steps=100, log_every=10, device="cuda",
                        fast="on"), signal)
    for snapshot in run:
        if snapshot.step == 20:
            with torch.no_grad():
                run.model.head.weight.fill_(float("nan"))
    assert run.final.status == "diverged" and run.final.best_step == 20


def test_the_snapshots_carry_every_loss_exactly_once():
    for stop_at in (None, 10, 13):
        run = Run(small(steps=40, log_every=5))
        steps = []
        for snapshot in run:
            steps += snapshot.steps.tolist()
            if stop_at and snapshot.step >= stop_at and not snapshot.done:
                run.stop()
        assert steps == run.curve()[0].tolist() == list(range(1, run.final.step + 1)), stop_at


def test_a_fit_at_float32_round_off_reads_as_the_float32_limit():
    # The target is the initial network's own float64 output: one step at lr 1e-8 leaves a float32
    # fit whose whole error is round-off (measured: PSNR ≈ the run's float32 limit, ~150 dB). Such a
    # number is shown as "≥ N dB (float32 limit)"; an ordinary fit (sines, ~20 dB) is not.
    from spectral_lab.metrics import psnr_text
    from spectral_lab.ntk import float64_copy

    signal = make_synthetic("sines", length=1024)
    config = RunConfig(signal="given", method="siren", width=64, steps=1, lr=1e-8, log_every=1, preview_every=0)
    with torch.no_grad():
        exact = float64_copy(Run(config, signal).model)(torch.from_numpy(signal.coords).double())
    signal.values[:] = exact.numpy().astype(np.float32)
    run, final = run_to_end(config, signal)
    m = final.metrics
    assert m["psnr"] > 100 and abs(m["psnr"] - m["float32_limit_psnr"]) < 6, m
    assert psnr_text(m["psnr"], m["float32_limit_psnr"]).endswith("dB (float32 limit)")
    assert "float32 limit" in run.summary_row()["note"]
    ordinary, final = run_to_end(config.replace(steps=30, lr=None), make_synthetic("sines", length=1024))
    assert "float32" not in psnr_text(final.metrics["psnr"], final.metrics["float32_limit_psnr"])
    assert "float32" not in ordinary.summary_row()["note"]


def test_a_runs_time_leaves_out_its_consumers_time_but_counts_its_diagnostics():
    # Interleaved compares suspend a run while the others train: its seconds and steps/s must be
    # its own. The initial snapshot's eNTK is the run's own work and stays counted.
    import time

    config = RunConfig(signal="sines", length=256, method="siren", width=16, depth=2, steps=20, log_every=5,
                       ntk_every=20, ntk_points=64, diagnostics_budget=0)
    run = Run(config)
    started = time.perf_counter()
    for _ in run:
        time.sleep(0.25)  # a slow consumer: 5 snapshots (step 0, 5, 10, 15, final)
    wall = time.perf_counter() - started
    assert wall > 1.2 and run.final.elapsed < wall - 0.9
    assert 0 < run.final.diagnostics_seconds < run.final.elapsed


def test_band_errors_keep_their_cadence_whatever_the_diagnostics_budget():
    # the band heatmap's columns are read by *when* each band is learned: the budget, which defers an
    # eNTK that costs more than its share, must never defer them (before: gaps of up to 35 steps)
    from spectral_lab.run_history import ON_CADENCE
    from spectral_lab.diagnostics import CADENCES

    assert ON_CADENCE <= set(CADENCES)  # the names the scheduler uses
    config = RunConfig(signal="sines", length=1024, width=32, steps=60, bands_every=3, ntk_every=3, ntk_points=64,
                       diagnostics_budget=1e-6, log_every=60)
    run = Run(config)
    steps = [s.step for s in run if "band_error" in s.diagnostics]
    assert steps == list(range(0, 61, 3))
