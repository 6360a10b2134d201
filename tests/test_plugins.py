"""Plug-in methods: a package registers through the entry-point group `spectral_lab.methods` and
its method appears everywhere a built-in does; a broken plug-in is named in one line and skipped."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spectral_lab import RunConfig
from spectral_lab.lab import LiveComparison, load_ui_signal, AppLimits
from spectral_lab.methods import METHODS, families, list_methods, ordered_methods
from spectral_lab.methods import plugins
from spectral_lab.modifiers import MODIFIERS

ROOT = Path(__file__).resolve().parents[1]
SNAKE = ROOT / "examples" / "snake"


def _fake_distribution(folder: Path, entries: dict[str, str], modules: dict[str, str]) -> None:
    """An installed distribution as importlib.metadata sees one: a *.dist-info with entry points."""
    info = folder / "fake_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugins\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[spectral_lab.methods]\n{lines}\n")
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)


GOOD = '''
from torch import nn
from spectral_lab.methods import MethodSpec, register
from spectral_lab.methods.network import mlp

def register_methods():
    register(MethodSpec("tanh_mlp", lambda cfg, s: mlp(cfg, s, lambda i: nn.Tanh()), "tanh MLP", "none", "default"))
'''
BROKEN = "raise ImportError('needs a package that is not installed')\n"
DUPLICATE = '''
from spectral_lab.methods import MethodSpec, register
def register_methods():
    register(MethodSpec("siren", lambda cfg, s: None, "a second siren", "none", "none"))
'''
WRONG_SHAPE = '''
import torch
from torch import nn
from spectral_lab.methods import MethodSpec, register

class Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
    def forward(self, x):
        return x.sum(-1) * self.weight  # (N,), not (N, C)

def register_methods():
    register(MethodSpec("flat", lambda cfg, s: Flat(), "drops the channel axis", "none", "none"))
'''


@pytest.fixture
def restore_registry():
    methods, modifiers, problems = dict(METHODS), dict(MODIFIERS), list(plugins.PROBLEMS)
    yield
    METHODS.clear(), METHODS.update(methods), MODIFIERS.clear(), MODIFIERS.update(modifiers)
    plugins.PROBLEMS[:] = problems


def test_bad_plugins_are_named_in_one_line_each_and_the_rest_loads(tmp_path, monkeypatch, capsys, restore_registry):
    _fake_distribution(tmp_path, {"good": "fake_good:register_methods", "broken": "fake_broken",
                                  "duplicate": "fake_duplicate:register_methods",
                                  "wrong_shape": "fake_wrong_shape:register_methods"},
                       {"fake_good": GOOD, "fake_broken": BROKEN, "fake_duplicate": DUPLICATE,
                        "fake_wrong_shape": WRONG_SHAPE})
    monkeypatch.syspath_prepend(str(tmp_path))
    builtin_siren = METHODS["siren"]
    problems = plugins.load_plugins()
    assert len(problems) == 3
    by_name = {name: next(p for p in problems if f"'{name}'" in p) for name in ("broken", "duplicate", "wrong_shape")}
    assert "needs a package that is not installed" in by_name["broken"]
    assert "already registered" in by_name["duplicate"]
    assert "shape" in by_name["wrong_shape"] and "expected (64, 1)" in by_name["wrong_shape"]
    assert all("\n" not in p for p in problems)
    assert capsys.readouterr().err.count("spectral_lab: plug-in") == 3  # named once each, on stderr
    assert METHODS["siren"] is builtin_siren and "flat" not in METHODS  # skipped, undone
    assert "tanh_mlp" in METHODS and METHODS["tanh_mlp"].source == "good"
    # (a plug-in the user installed, such as the example snake, may sit beside it)
    assert families()["plug-ins"][-1] == "tanh_mlp" and ordered_methods()[-1] == "tanh_mlp"
    assert any(name == "tanh_mlp" for name, _, _ in list_methods())


def test_a_probe_catches_a_builder_that_raises(restore_registry):
    from spectral_lab.methods import MethodSpec, register

    def broken(cfg, signal):
        raise RuntimeError("boom")

    register(MethodSpec("boom", broken, "raises", "none", "none"))
    with pytest.raises(RuntimeError, match="boom"):
        plugins.probe("boom")


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True, timeout=300)


@pytest.mark.slow
def test_the_example_plugin_installs_and_trains_from_the_cli_and_the_lab(tmp_path, monkeypatch, restore_registry):
    # examples/snake installed into a folder of this test's own (never into the user's environment, where
    # they may have installed it themselves): the CLI, a fresh process with that folder on its path, finds
    # the entry point; in this process the same entry point is loaded once its folder is importable.
    import shutil

    site, source = tmp_path / "site", tmp_path / "snake"
    shutil.copytree(SNAKE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # the build's files go there
    _pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(source))
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    listed = subprocess.run([sys.executable, "-m", "spectral_lab", "list"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert listed.returncode == 0 and "snake" in listed.stdout and "(plug-ins)" in listed.stdout
    assert "⚠" not in listed.stdout
    fit = subprocess.run([sys.executable, "-m", "spectral_lab", "fit", "--signal", "sines", "--length", "256",
                          "--method", "snake", "--width", "16", "--steps", "30", "--quiet", "--out",
                          str(tmp_path / "fit")], capture_output=True, text=True, env=env, timeout=120)
    assert fit.returncode == 0, fit.stderr
    assert (tmp_path / "fit" / "metrics.json").exists()
    monkeypatch.syspath_prepend(str(site))
    assert plugins.load_plugins() == [] and "snake" in METHODS
    config = RunConfig(signal="sines", length=256, width=16, steps=20, ntk_every=10, ntk_points=64, log_every=5,
                       activations_every=10)
    live = LiveComparison(config, ["siren", "snake"], load_ui_signal(config, None, AppLimits()))
    last = list(live.frames())[-1]
    assert last.outcome == "finished" and {row["method"] for row in last.table} == {"siren", "snake"}
    assert "snake" in live.kernels() and last.ntk is not None
    activations, _ = live.details("snake")
    assert activations is not None
