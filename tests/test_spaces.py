"""Hugging Face Spaces: the app runs with or without the `spaces` package; on ZeroGPU the
training stream is wrapped in spaces.GPU, asks for a duration from the steps, and yields host data."""
import pickle
import sys
import types

import numpy as np
import pytest

from spectral_lab import RunConfig
from spectral_lab.lab import AppLimits, LiveComparison, load_ui_signal, train_stream
from spectral_lab.spaces_support import estimate_seconds, gpu_stream, zero_gpu_active


def test_without_spaces_the_stream_is_the_plain_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    monkeypatch.setitem(sys.modules, "spaces.config", None)
    assert not zero_gpu_active() and gpu_stream() is train_stream


def test_on_zero_gpu_the_stream_is_wrapped_and_yields_host_data(monkeypatch):
    calls = {}

    def gpu(duration):
        def decorate(fn):
            def wrapped(*args):
                calls["seconds"] = duration(*args)
                for update in fn(*args):
                    pickle.dumps(update)  # crosses a process boundary on ZeroGPU: host data only
                    yield update
            return wrapped
        return decorate

    fake = types.ModuleType("spaces")
    fake.GPU = gpu
    fake.config = types.SimpleNamespace(Config=types.SimpleNamespace(zero_gpu=True))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setitem(sys.modules, "spaces.config", fake.config)
    assert zero_gpu_active()
    config = RunConfig(signal="sines", length=256, width=8, depth=2, steps=20, ntk_every=10, ntk_points=32)
    signal = load_ui_signal(config, None, AppLimits())
    live = LiveComparison(config, ["siren", "relu"], signal, stream=gpu_stream())
    final = list(live.frames())[-1]
    assert final.outcome == "finished" and len(final.table) == 2
    assert calls["seconds"] == estimate_seconds(config, ["siren", "relu"], signal) >= 30


def test_duration_grows_with_the_work_and_stays_in_zero_gpu_limits():
    signal = load_ui_signal(RunConfig(signal="chip_melody"), None, AppLimits())
    small = estimate_seconds(RunConfig(steps=100), ["siren"], signal)
    large = estimate_seconds(RunConfig(steps=20_000, width=256, depth=4), ["siren", "siren2"], signal)
    assert 30 <= small < large <= 300


def test_the_app_builds_with_spaces_installed_or_not(monkeypatch):
    pytest.importorskip("gradio")
    import app

    assert app.build_demo() is not None
    monkeypatch.setitem(sys.modules, "spaces", None)
    assert app.build_demo() is not None
    assert np.isfinite(estimate_seconds(RunConfig(), ["siren"], load_ui_signal(RunConfig(), None, AppLimits())))



ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _front_matter(readme: str) -> dict:
    import yaml

    assert readme.startswith("---\n"), "README.md has no front matter: it is not a Space"
    return yaml.safe_load(readme.split("---\n")[1])


def _check_space(readme: str, pyproject: str, requirements: str) -> None:
    """A Space builds with the front matter's Python and Gradio, then installs requirements.txt: the
    three must agree (a Space's default Python 3.10 cannot install a project that needs 3.11)."""
    import re
    import tomllib

    from packaging.specifiers import SpecifierSet

    front = _front_matter(readme)
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    python = str(front.get("python_version"))
    needs = tomllib.loads(pyproject)["project"]["requires-python"]
    assert python in SpecifierSet(needs), f"python_version {python} does not satisfy requires-python {needs}"
    pinned = re.search(r"^gradio==([\w.]+)\s*$", requirements, re.M)
    assert pinned, "requirements.txt must pin the Gradio the Space's sdk_version names"
    assert str(front.get("sdk_version")) == pinned.group(1), (front.get("sdk_version"), pinned.group(1))
    assert front.get("suggested_hardware") == "cpu-basic" and front.get("suggested_storage") in ("small", "medium",
                                                                                                  "large")


def test_the_space_front_matter_names_the_python_and_gradio_the_project_installs():
    _check_space(*((ROOT / name).read_text() for name in ("README.md", "pyproject.toml", "requirements.txt")))


@pytest.mark.parametrize("change", [
    ("sdk_version: 6.31.0\npython_version: \"3.11\"\n", ""),  # the front matter as it was: Python 3.10 there
    ('python_version: "3.11"', 'python_version: "3.10"'),
    ("sdk_version: 6.31.0", "sdk_version: 6.0.0")])
def test_a_front_matter_that_disagrees_is_caught(change):
    readme, pyproject, requirements = ((ROOT / name).read_text() for name in ("README.md", "pyproject.toml",
                                                                              "requirements.txt"))
    assert change[0] in readme
    with pytest.raises(AssertionError):
        _check_space(readme.replace(*change), pyproject, requirements)
