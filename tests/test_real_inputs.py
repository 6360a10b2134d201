"""Every method on real-length inputs: audio of 150,000 and 600,000 samples, a 512² RGB image and a
65,536-sample 1D signal. What is tested is that each method's signal-derived defaults resolve and
validate and that it takes two steps (tiny widths), not the quality of the fit."""
import functools
import math

import numpy as np
import pytest

from spectral_lab import RunConfig, Run
from spectral_lab.errors import ConfigError
from spectral_lab.lab import AppLimits, LiveComparison, with_app_cadence
from spectral_lab.methods import KNOB_DEFAULTS, ordered_methods, resolve
from spectral_lab.signals import signal_for

SIGNALS = {"audio-150k": {"signal": "chiptune", "length": 150_000, "signal_options": "sample_rate=44100"},
           "audio-600k": {"signal": "chiptune", "length": 600_000, "signal_options": "sample_rate=44100"},
           "rgb-512": {"signal": "astronaut"},
           "1d-65k": {"signal": "sines", "length": 65_536}}
# Knobs that are not derived from the signal kept small, so two steps stay cheap at these sizes.
TINY = {"width": 4, "depth": 2, "rff_features": 8, "staf_terms": 1, "grid_levels": 2, "steps": 2, "log_every": 1,
        "preview_every": 0}
METHODS = ordered_methods() + ["relu_pe+iga", "relu_pe+fr", "relu_pe+bn"]


@functools.cache
def real_signal(kind: str):
    return signal_for(RunConfig(**SIGNALS[kind]))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", list(SIGNALS))
def test_every_method_resolves_and_takes_two_steps_on_a_real_length_signal(kind, method):
    signal = real_signal(kind)
    run = Run(RunConfig(**SIGNALS[kind], **TINY, method=method), signal)
    for _ in run:
        pass
    assert run.final.status == "finished" and run.final.step == 2
    assert np.isfinite(run.final.metrics["psnr"])


# each task on a real size (tasks.py): the held-out set drawn, the defaults read from what was observed.
# One method a family and the modifiers (every method passed all three once: 69 runs, ~3 min on a busy
# machine, too long for the suite)
TASKS = {"denoise": ("audio-150k", {"noise_std": 0.1}), "inpaint": ("rgb-512", {"keep": 0.5}),
         "superres": ("audio-600k", {"factor": 4})}
TASK_METHODS = ["relu_pe", "siren2", "finer_pp", "staf", "mfn_gabor", "hashgrid", "incode", "relu_pe+iga",
                "relu_pe+bn"]


@pytest.mark.parametrize("method", TASK_METHODS)
@pytest.mark.parametrize("task", list(TASKS))
def test_every_method_takes_every_task_on_a_real_length_signal(task, method):
    kind, settings = TASKS[task]
    config = RunConfig(**SIGNALS[kind], **TINY, method=method, task=task, **settings)
    if "+bn" in method or (task == "inpaint" and "+iga" in method):
        with pytest.raises(ConfigError, match="runs only with task fit|runs with fit, denoise or superres"):
            Run(config, real_signal(kind))
        return
    run = Run(config, real_signal(kind))
    for _ in run:
        pass
    assert run.final.status == "finished" and np.isfinite(run.final.metrics["psnr"])
    assert np.isfinite(run.final.metrics["train_psnr"]) and run.final.prediction.shape == real_signal(kind).values.shape
    assert run.heldout_curve()[0].tolist() == [1, 2]


def test_a_signal_derived_default_is_filled_only_for_the_methods_that_use_it():
    # The MFN filter scale π·N/4 of a 600,000-sample clip is 471,239 rad/unit: a SIREN run has no such
    # knob (before, every method computed and range-checked it and any clip over 127,324 samples failed).
    signal = real_signal("audio-600k")
    siren = resolve(RunConfig(method="siren"), signal)
    assert siren.mfn_scale is None and siren.kan_terms is None and siren.iga_group is None and siren.s0 is None
    mfn = resolve(RunConfig(method="mfn_fourier"), signal)
    assert mfn.mfn_scale == pytest.approx(math.pi * 600_000 / 4) and mfn.omega0 is None
    iga = resolve(RunConfig(method="relu_pe+iga"), signal)
    assert iga.iga_group is not None and iga.iga_end is not None and iga.fr_alpha is None


def test_a_default_out_of_range_names_the_knob_and_the_method(monkeypatch):
    # A shared default gone wrong (1e12 rad/unit) for a method that takes it from KNOB_DEFAULTS: the
    # message names the knob and the method, and a method that does not use the knob never sees it.
    from spectral_lab.methods import METHODS, MethodSpec

    signal = real_signal("1d-65k")
    monkeypatch.setitem(KNOB_DEFAULTS, "mfn_scale", lambda signal: 1e12)
    spec = METHODS["mfn_fourier"]
    monkeypatch.setitem(METHODS, "mfn_fourier", MethodSpec(
        spec.name, spec.builder, spec.description, spec.citation, spec.parameterisation,
        lambda s: {"lr": 1e-3}, spec.knobs, spec.family))  # no default of its own: the shared one applies
    with pytest.raises(ConfigError, match=r"mfn_fourier: its default mfn_scale=1000000000000\.0 is out of range.*set mfn_scale yourself"):
        resolve(RunConfig(method="mfn_fourier"), signal)
    assert resolve(RunConfig(method="siren"), signal).mfn_scale is None


def test_the_app_trains_every_method_on_a_150k_clip_with_its_diagnostics():
    # The lab's stream at the app's cadences (eNTK, activations, error maps, bands, previews), all
    # methods in comparisons of at most six, as a visitor would run them on a 150,000-sample clip.
    signal = real_signal("audio-150k")
    config = with_app_cadence(RunConfig(**SIGNALS["audio-150k"], **TINY).replace(log_every=1), "cpu")
    assert signal.values.size <= AppLimits().max_points
    for start in range(0, len(METHODS), 6):
        methods = METHODS[start:start + 6]
        live = LiveComparison(config.replace(ntk_points=64), methods, signal)
        last = list(live.frames())[-1]
        assert last.outcome == "finished", last.status
        assert {row["status"] for row in last.table} == {"finished"}
