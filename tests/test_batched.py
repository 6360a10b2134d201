"""Many runs trained as one stacked model: each run's own Adam state, rate, schedule, curve,
snapshots and final metrics, equal to training it alone; what cannot batch trains alone and says why."""
import math

import numpy as np
import pytest
import torch

from spectral_lab import RunConfig, Run
from spectral_lab import memory
from spectral_lab.batched import RunBatch, plan_batches, train_runs
from spectral_lab.batched_step import BatchedStepper, StackedOptimiser, StackedSchedule
from spectral_lab.methods import build_model, resolve
from spectral_lab.methods.registry import METHODS
from spectral_lab.ntk import float64_copy
from spectral_lab.signals import load_image, make_synthetic
from spectral_lab.stepper import EagerStepper

SIGNAL = make_synthetic("sines", length=256)
# three runs that differ in everything a batch must keep apart: seed, rate and schedule
RUNS = [dict(seed=0, lr=1e-3), dict(seed=1, lr=3e-4, lr_schedule="exp"),
        dict(seed=2, lr=2e-3, lr_schedule="drop", lr_every=7, lr_gamma=0.5)]


def _float64_mismatch(method: str, optimizer: str = "adam", steps: int = 25) -> float:
    """Largest relative difference between each run's parameters trained alone (EagerStepper,
    torch.optim) and trained stacked (BatchedStepper), in float64."""
    base = RunConfig(signal="given", method=method, width=16, depth=2, steps=steps, optimizer=optimizer,
                     lr_every=5, lr_gamma=0.7)
    configs = [resolve(base.replace(**changes), SIGNAL) for changes in RUNS]
    coords, target = torch.from_numpy(SIGNAL.coords).double(), torch.from_numpy(SIGNAL.values).double()
    alone = [float64_copy(build_model(c, SIGNAL)) for c in configs]
    stacked = BatchedStepper([float64_copy(build_model(c, SIGNAL)) for c in configs], coords, target, configs)
    steppers = [EagerStepper(model, coords, target, config) for model, config in zip(alone, configs)]
    for step in range(1, steps + 1):
        for stepper in steppers:
            stepper.forward_backward(step)
            stepper.update(step)
        stacked.forward_backward(step)
        stacked.update(step)
    worst = 0.0
    for run, model in enumerate(alone):
        for name, parameter in model.named_parameters():
            mine = stacked.params[name][run].detach()
            worst = max(worst, float((mine - parameter.detach()).abs().max() / parameter.detach().abs().max()))
    return worst


@pytest.mark.parametrize("method,optimizer", [("siren", "adam"), ("siren", "sgd"), ("wire", "adam"),
                                              ("relu_rff", "adam")])
def test_stacked_steps_equal_each_runs_own_steps_in_float64(method, optimizer):
    # WIRE: complex weights (Adam on real and imaginary parts); RFF: a per-seed buffer, stacked too.
    assert _float64_mismatch(method, optimizer) < 1e-9


@pytest.mark.parametrize("broken", ["one rate for every run", "one Adam state for every run",
                                    "the mean of the losses (each gradient ÷ runs)"])
def test_the_equality_check_catches_a_batch_that_mixes_its_runs(broken, monkeypatch):
    # The check above must fail for a batched step that shares what each run owns.
    if broken == "one rate for every run":
        rates = StackedSchedule.rates
        monkeypatch.setattr(StackedSchedule, "rates", lambda self, step: rates(self, step)[:1].expand(3).clone())
    elif broken == "one Adam state for every run":
        adam = StackedOptimiser._adam

        def shared(self, param, grad, exp_avg, exp_avg_sq, rates, per_run):
            adam(self, param, grad, exp_avg, exp_avg_sq, rates, per_run)
            exp_avg_sq.copy_(exp_avg_sq.mean(dim=0, keepdim=True).expand_as(exp_avg_sq))

        monkeypatch.setattr(StackedOptimiser, "_adam", shared)
    else:
        def averaged(self):
            prediction = self.predictions()
            per_run = ((prediction - self.targets) ** 2).mean(dim=(1, 2))
            per_run.mean().backward()
            self.loss_buffer.index_copy_(0, self.step_index.view(1), per_run.detach().view(1, -1))
            return prediction

        monkeypatch.setattr(BatchedStepper, "_forward_backward", averaged)
    optimizer = "sgd" if broken.startswith("the mean") else "adam"  # Adam alone is blind to a gradient's scale
    assert _float64_mismatch("siren", optimizer, steps=10) > 1e-6


def test_device_counted_step_equals_the_host_counted_one_in_float64():
    # What CUDA graphs replay (step count and rates on the device) is the eager batched arithmetic.
    configs = [resolve(RunConfig(signal="given", method="siren", width=16, depth=2, steps=20, **c), SIGNAL) for c in RUNS]
    coords, target = torch.from_numpy(SIGNAL.coords).double(), torch.from_numpy(SIGNAL.values).double()
    steppers = [BatchedStepper([build_model(c, SIGNAL).double() for c in configs], coords, target, configs,
                               device_counters=flag) for flag in (False, True)]
    for step in range(1, 21):
        for stepper in steppers:
            stepper.forward_backward(step)
            stepper.update(step)
    for name, host in steppers[0].params.items():
        np.testing.assert_allclose(steppers[1].params[name].detach().numpy(), host.detach().numpy(), rtol=1e-12)
    assert [steppers[1].lr(r) for r in range(3)] == pytest.approx([steppers[0].lr(r) for r in range(3)], rel=1e-12)


def _configs(**common):
    base = RunConfig(signal="given", method="siren", width=32, depth=2, steps=60, log_every=10, preview_every=30)
    return [base.replace(**changes, **common) for changes in RUNS]


def _serial(configs, signal=SIGNAL, spoil=None):
    """Each config trained alone: the runs, and per run its Snapshots' (step, prediction)."""
    runs = [Run(c, signal) for c in configs]
    if spoil:
        spoil(runs)
    shown = [[(s.step, s.prediction) for s in run] for run in runs]
    return runs, shown


def test_batched_runs_end_as_their_serial_runs():
    serial, serial_shown = _serial(_configs())
    runs = [Run(c, SIGNAL) for c in _configs()]
    shown = [[] for _ in runs]
    for index, snapshot in RunBatch(runs):
        shown[index].append((snapshot.step, snapshot.prediction))
    for alone, mine, seen, expected in zip(serial, runs, shown, serial_shown):
        assert [step for step, _ in seen] == [step for step, _ in expected]
        previews = [(a, b) for (_, a), (_, b) in zip(seen, expected) if b is not None]
        assert len(previews) == 2  # step 30 and the final one: each run's own prediction
        for a, b in previews:
            np.testing.assert_allclose(a, b, atol=1e-3)
        assert mine.final.status == "finished" == alone.final.status
        assert abs(mine.final.metrics["psnr"] - alone.final.metrics["psnr"]) < 0.01
        assert mine.best_step == alone.best_step and mine.final.lr == pytest.approx(alone.final.lr, rel=1e-6)
        np.testing.assert_array_equal(mine.curve()[0], alone.curve()[0])
        np.testing.assert_allclose(mine.curve()[1], alone.curve()[1], rtol=1e-3)
        assert set(mine.summary_row()) == set(alone.summary_row()) and "batched" in mine.step_note


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_batch_in_graphs_ends_as_its_serial_runs():
    # the batched fast path (one capture recipe with the serial one: stepper.capture_step_graphs)
    signal = make_synthetic("sines", length=4096)
    configs = _configs(device="cuda", fast="on", steps=200, width=64, depth=3)
    serial, _ = _serial(configs, signal)
    runs = [Run(c, signal) for c in configs]
    batch = RunBatch(runs)
    assert batch.use_graphs
    for _ in batch:
        pass
    for alone, mine in zip(serial, runs):
        assert mine.final.status == "finished" == alone.final.status
        assert abs(mine.final.metrics["psnr"] - alone.final.metrics["psnr"]) < 0.05
        assert "CUDA graphs" in mine.step_note


def test_a_diverging_run_ends_alone_with_the_serial_message_and_the_others_go_on():
    def spoil(runs):
        with torch.no_grad():
            runs[1].model.head.weight[0, 0] = float("nan")

    serial, _ = _serial(_configs(), spoil=spoil)
    runs = [Run(c, SIGNAL) for c in _configs()]
    spoil(runs)
    for _ in RunBatch(runs):
        pass
    for alone, mine in zip(serial, runs):
        assert (mine.final.status, mine.final.message, mine.final.step) == (
            alone.final.status, alone.final.message, alone.final.step)
    assert runs[1].final.status == "diverged" and "at step 1" in runs[1].final.message
    assert abs(runs[0].final.metrics["psnr"] - serial[0].final.metrics["psnr"]) < 0.01


def test_stopping_a_batch_ends_every_run_where_a_serial_stop_would():
    runs = [Run(c, SIGNAL) for c in _configs()]
    batch = RunBatch(runs)
    for _, snapshot in batch:
        if snapshot.step == 20:
            batch.stop()
    alone = Run(_configs()[0], SIGNAL)
    for snapshot in alone:
        if snapshot.step == 20:
            alone.stop()
    assert [r.final.status for r in runs] == ["stopped"] * 3 and [r.final.step for r in runs] == [20] * 3
    assert abs(runs[0].final.metrics["psnr"] - alone.final.metrics["psnr"]) < 0.01


def test_which_runs_batch_and_why_the_others_train_alone():
    image = load_image("camera", size=16)
    base = RunConfig(signal="given", width=16, depth=2, steps=2)
    configs = [base.replace(method="siren", seed=0), base.replace(method="siren", seed=1),
               base.replace(method="siren2", seed=0),  # on an image SIREN² is SIREN's network: it joins
               base.replace(method="spder"), base.replace(method="siren+iga"), base.replace(method="siren+bn"),
               base.replace(method="siren", seed=3, ntk_every=1), base.replace(method="siren", width=8)]
    runs = [Run(c, image) for c in configs]
    batches, alone = plan_batches(runs)
    assert batches == [[0, 1, 2]]
    assert "architecture" in alone[3] and "IGA" in alone[4] and "batch norm" in alone[5]
    assert "diagnostics" in alone[6] and "architecture" in alone[7]
    outcomes = train_runs(runs)
    assert [o.batch for o in outcomes[:3]] == ["3 runs stacked"] * 3
    assert all(o.batch.startswith("alone: ") and o.error is None for o in outcomes[3:])


def test_every_method_trains_batched_as_it_does_alone_or_says_why():
    base = RunConfig(signal="given", width=8, depth=2, steps=6, log_every=3, preview_every=0)
    for name in METHODS:
        configs = [base.replace(method=name, seed=seed) for seed in (0, 1)]
        serial, _ = _serial(configs)
        outcomes = train_runs([Run(c, SIGNAL) for c in configs])
        for alone, outcome in zip(serial, outcomes):
            assert outcome.error is None, (name, outcome.error)
            assert outcome.batch == "2 runs stacked" or outcome.batch.startswith("alone: "), (name, outcome.batch)
            assert abs(outcome.run.final.metrics["psnr"] - alone.final.metrics["psnr"]) < 0.01, name


def test_methods_with_their_own_adam_settings_or_penalty_train_alone():
    # the stacked Adam has PyTorch's β₂/ε, no weight decay and the MSE alone: the grids (Instant-NGP's
    # β₂ 0.99, ε 1e-15, decay on the MLP) and INCODE (its (a, b, c, d) penalty) would train otherwise
    # than alone, by amounts too small to see in a few steps
    base = RunConfig(signal="given", width=8, depth=2, steps=2)
    for name, why in (("hashgrid", "Adam settings"), ("densegrid", "Adam settings"), ("incode", "penalty")):
        runs = [Run(base.replace(method=name, seed=seed), SIGNAL) for seed in (0, 1)]
        batches, alone = plan_batches(runs)
        assert batches == [] and why in alone[0], (name, alone)


def test_a_batch_too_big_for_memory_is_split(monkeypatch):
    runs = [Run(RunConfig(signal="given", width=16, depth=2, steps=2, seed=seed), SIGNAL) for seed in range(5)]
    room = 2.5 * runs[0].memory.total / memory.HEADROOM  # two runs fit at a time
    monkeypatch.setattr(memory, "available_memory", lambda device: (int(room), "a test"))
    batches, alone = plan_batches(runs)
    assert batches == [[0, 1], [2, 3]] and "split" in alone[4]
    monkeypatch.setattr(memory, "available_memory", lambda device: (int(room / 2), "a test"))
    assert plan_batches(runs) == ([], {i: "memory: one run at a time fits" for i in range(5)})


def test_a_cpu_batch_stays_within_its_cache():
    # 4,096 points × 128 wide × 4 bytes = 2 MB a layer per run: pairs, within CPU_BATCH_BYTES (measured:
    # one thread, batches of 8 such runs 0.70× serial, of 2 0.96×; bench/bench_batched.py)
    image = load_image("camera", size=64)
    runs = [Run(RunConfig(signal="given", width=128, depth=3, steps=1, seed=seed), image) for seed in range(5)]
    batches, alone = plan_batches(runs)
    assert batches == [[0, 1], [2, 3]] and "cache" in alone[4]


def test_an_out_of_memory_batch_trains_its_runs_alone(monkeypatch):
    calls = []

    def exhausted(self, step):
        calls.append(step)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(BatchedStepper, "forward_backward", exhausted)
    outcomes = train_runs([Run(c, SIGNAL) for c in _configs(steps=10)])
    assert calls and all(o.error is None and o.run.final.status == "finished" for o in outcomes)
    assert all("out of memory" in o.batch and o.batch.startswith("alone: the batch failed") for o in outcomes)


def test_the_tuner_trains_its_trials_as_one_batch_with_the_serial_results():
    from spectral_lab.tuning import search_lr, tune_lr

    config = RunConfig(method="siren", width=16, steps=40, seed=1)
    grid = [1e-4, 3e-4, 1e-3]
    search = search_lr(config, SIGNAL, grid)
    progress = [next(search) for _ in grid]
    assert progress == [(1, 3, 1e-4), (2, 3, 3e-4), (3, 3, 1e-3)] and {p.batched for p in progress} == {3}
    alone = tune_lr(config, SIGNAL, grid, batch=False)
    together = tune_lr(config, SIGNAL, grid)
    assert together.best_lr == alone.best_lr
    assert [p for _, p in together.trials] == pytest.approx([p for _, p in alone.trials], abs=0.01)
    assert all(math.isfinite(p) for _, p in together.trials)
