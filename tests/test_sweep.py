"""Sweeps: a grid -> one table, resumable, bad cells recorded; local and Ray backends agree;
the papers' protocols print our numbers beside theirs."""
import csv
import json
import re

import numpy as np
import pytest

from spectral_lab import RunConfig
from spectral_lab.cli import main
from spectral_lab.errors import ConfigError
from spectral_lab.reproduce import PROTOCOLS, find_files, reproduce
from spectral_lab.sweep import grid_cells, load_grid_file, parse_sets, run_sweep

TINY = RunConfig(length=128, image_size=8, width=8, depth=1, steps=8, log_every=4, preview_every=0)


def grid_2x2x2():
    return grid_cells(TINY, ["sines", "camera"], ["relu", "siren"], seeds=[0, 1])


def _table(rows):
    keep = ("signal", "method", "seed", "psnr_db", "ssim", "rho_ag", "params", "steps", "status")
    return [{k: row.get(k) for k in keep} for row in rows]


def test_grid_is_validated_before_training():
    assert len(grid_2x2x2()) == 8
    assert len(grid_cells(TINY, ["sines"], ["relu"], [0], {"width": ["8", "16"], "lr": ["1e-3"]})) == 2
    with pytest.raises(ConfigError, match="unknown method"):
        grid_cells(TINY, ["sines"], ["relu", "nope"])
    with pytest.raises(ConfigError, match="not a setting"):
        grid_cells(TINY, ["sines"], ["relu"], sets={"widht": ["8"]})
    with pytest.raises(ConfigError, match="out of range"):
        grid_cells(TINY, ["sines"], ["relu"], sets={"width": ["0"]})
    assert parse_sets(["width=8,16", "lr=1e-3"]) == {"width": ["8", "16"], "lr": ["1e-3"]}


def test_sweep_writes_rows_and_a_summary_and_resumes(tmp_path):
    out = tmp_path / "sweep"
    rows = run_sweep(grid_2x2x2(), out, progress=False)
    assert len(rows) == 8 and all(r["status"] == "finished" for r in rows)
    written = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["signal"], r["method"], r["seed"]) for r in written][:2] == [("sines", "relu", "0"), ("sines", "relu", "1")]
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert len(summary) == 4 and all(s["seeds"] == "2" and "±" in s["psnr_db"] for s in summary)
    cell = out / "cells" / rows[0]["cell"]
    assert json.loads((cell / "config.json").read_text())["steps"] == 8
    assert len(list(csv.DictReader(open(cell / "curve.csv")))) == 8
    finished_at = {r["cell"]: (out / "cells" / r["cell"] / "metrics.json").stat().st_mtime_ns for r in rows}
    again = run_sweep(grid_2x2x2(), out, progress=False)  # resume: nothing left to train
    assert _table(again) == _table(rows)
    assert all((out / "cells" / c / "metrics.json").stat().st_mtime_ns == t for c, t in finished_at.items())


def test_a_bad_cell_is_recorded_and_the_rest_completes(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    cells = grid_cells(TINY, ["sines", str(broken)], ["relu"], [0])
    rows = run_sweep(cells, tmp_path / "out", progress=False)
    assert [r["status"] for r in rows] == ["finished", "failed"]
    assert "broken.wav" in rows[1]["note"] and "Error" not in rows[1]["note"]
    again = run_sweep(cells, tmp_path / "out", progress=False)  # a failed cell is tried again, still failed
    assert [r["status"] for r in again] == ["finished", "failed"]


def test_local_process_pool_gives_the_same_table(tmp_path):
    sequential = run_sweep(grid_2x2x2(), tmp_path / "seq", progress=False)
    pooled = run_sweep(grid_2x2x2(), tmp_path / "pool", workers=2, progress=False)
    assert _table(pooled) == _table(sequential)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # one start for every Ray test
    yield ray
    ray.shutdown()


def test_ray_backend_gives_the_same_table(tmp_path, ray_cluster):
    local = run_sweep(grid_2x2x2(), tmp_path / "local", progress=False)
    on_ray = run_sweep(grid_2x2x2(), tmp_path / "ray", backend="ray", progress=False)
    assert _table(on_ray) == _table(local)
    resumed = run_sweep(grid_2x2x2(), tmp_path / "ray", backend="ray", progress=False)
    assert _table(resumed) == _table(local)


def test_sweep_command_from_a_grid_file(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('signals = ["sines"]\nmethods = ["relu", "siren"]\nseeds = [0, 1]\n'
                    '[base]\nlength = 128\nwidth = 8\ndepth = 1\nsteps = 6\n[sets]\nlr = [1e-3, 1e-2]\n')
    assert load_grid_file(grid)["sets"] == {"lr": [1e-3, 1e-2]}
    out = tmp_path / "out"
    assert main(["sweep", "--grid", str(grid), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 8 and {r["lr"] for r in rows} == {"0.001", "0.01"}
    assert "| sines | relu |" in capsys.readouterr().out  # the summary table
    assert main(["sweep", "--signals", "sines", "--methods", "relu", "--set", "width"]) == 2


def test_every_protocol_lists_its_paper_values_and_settings():
    for name, protocol in PROTOCOLS.items():
        assert protocol.paper and {"quick", "paper"} <= set(protocol.settings), name
        for method in protocol.methods:
            RunConfig(method=method)  # a known method
        for values in protocol.paper.values():
            assert set(values) <= set(protocol.methods), name
    assert PROTOCOLS["winner-table1"].paper["tetris.wav"] == {"siren": 13.4, "siren2": 62.7}


def test_reproduce_marks_missing_files(tmp_path):
    from skimage import data, io

    folder = tmp_path / "data"
    folder.mkdir()
    io.imsave(folder / "castle.jpg", data.camera()[::16, ::16])  # one of the protocol's four files
    report = reproduce("winner-table2", folder, out=tmp_path / "out", progress=False,
                       overrides={"steps": 2, "width": 8})
    missing = report.split("Missing from --data (3): ")[1].splitlines()[0]
    assert "camera.png" in missing and "castle" not in missing and "38.9" in report  # camera's SIREN value
    with pytest.raises(ConfigError, match="no file of winner-table2"):  # none found: refused, nothing trains
        reproduce("winner-table2", tmp_path / "out", out=tmp_path / "out2", progress=False)


def test_reproduce_winner_table1_quick(shared_data, tmp_path, capsys):
    # WINNER Table 1 at quick scale on ../shared/data (first 4096 samples, first-layer frequencies
    # scaled by 4096/150000, 4×64, 200 steps), ours beside the paper's, in its peak-1 convention.
    # Measured (peak-1 dB, SIREN / SIREN²): tetris 16.5 / 42.4, arch 11.9 / 28.4, relay 24.0 /
    # 32.1, bach 13.0 / 39.4 (paper: 13.4 / 62.7, 29.7 / 95.2, 28.5 / 60.4, 59.4 / 60.5).
    files = find_files(PROTOCOLS["winner-table1"], shared_data, None)
    assert files["tetris.wav"] is not None and files["bach.wav"].name == "gt_bach.wav" and files["tap.wav"] is None
    assert main(["reproduce", "winner-table1", "--scale", "quick", "--data", str(shared_data),
                 "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| tetris.wav | 13.4 |" in out and "62.7" in out and "peak 1" in out
    rows = {(r["file"], r["method"]): float(r["psnr_db"]) for r in csv.DictReader(open(tmp_path / "results.csv"))}
    assert rows[("tetris.wav", "siren2")] > rows[("tetris.wav", "siren")] + 10  # the spectral bottleneck


def test_reproduce_paper_scale_crops_at_most_the_file_and_reports_the_peak(shared_data, capsys):
    # WINNER's reference takes min(150000, len(file)): arch.wav (136,055 samples) is used whole.
    from spectral_lab.reproduce import protocol_cells

    protocol = PROTOCOLS["winner-table1"]
    files = find_files(protocol, shared_data, None)
    lengths = {dict(c.extra)["file"]: c.run_config().length for c in protocol_cells(protocol, files, "paper")}
    assert lengths["arch.wav"] == 136_055 and lengths["tetris.wav"] == 150_000
    assert protocol.peak and not PROTOCOLS["spder-table1"].peak
    assert main(["reproduce", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in PROTOCOLS) and "length_at_most=True" in listing and "tetris.wav" in listing


def test_sweep_rows_carry_the_peak_psnr_over_every_step(tmp_path):
    # lr 0.05 makes SIREN's loss jump around: the best step beats the final parameters.
    base = RunConfig(signal="sines", length=256, width=16, steps=40, log_every=40, lr=0.05, lr_schedule="constant")
    rows = run_sweep(grid_cells(base, ["sines"], ["siren"], [0]), tmp_path, progress=False)
    curve = list(csv.DictReader(open(next((tmp_path / "cells").iterdir()) / "curve.csv")))
    best = max(float(r["psnr_db"]) for r in curve)
    assert rows[0]["peak_psnr_db"] == pytest.approx(max(best, rows[0]["psnr_db"]), abs=0.01)
    assert rows[0]["peak_psnr_db"] >= rows[0]["psnr_db"]


def test_tuning_trains_each_method_at_the_best_rate_of_its_search(tmp_path, capsys):
    # sines, 2 methods, 40 steps: each tuned row's lr is the winner of the full-length trials it lists,
    # every method ranked the same grid, at a seed the table does not report, and its time includes the search.
    out = tmp_path / "tuned"
    assert main(["compare", "--signals", "sines", "--methods", "relu,relu_pe", "--length", "256", "--width", "16",
                 "--steps", "40", "--tune", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Tuned: each method at its own best learning rate" in printed and "| lr |" in printed
    grids = []
    for row in csv.DictReader(open(out / "results.csv")):
        full = re.search(r"; best [\d.e-]+ of ([^;]*)", row["tuned"]).group(1)  # the full-length trials
        tried = [(float(lr), float(db)) for lr, db in re.findall(r"([\d.e-]+) \(([\d.-]+) dB\)", full)]
        assert float(row["lr"]) == max(tried, key=lambda t: t[1])[0], row
        assert "seed 10007" in row["tuned"] and int(row["seed"]) == 0
        assert 0 < float(row["tuning_s"]) < float(row["seconds"])
        grids.append(re.search(r"on a grid of (\d+) rates", row["tuned"]).group(1))
    assert grids == ["6", "6"]  # relu and relu_pe share the default 1e-3: ÷4 … ×8


def test_equal_parameters_chooses_widths_within_five_percent(tmp_path, capsys):
    out = tmp_path / "equal"
    assert main(["compare", "--signals", "camera", "--methods", "relu,relu_rff,siren", "--image-size", "16",
                 "--width", "32", "--steps", "2", "--equal-params", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    params = {r["method"]: int(r["params"]) for r in rows}
    widths = {r["method"]: int(r["width"]) for r in rows}
    assert widths["relu"] == 32 and widths["relu_rff"] < 32  # RFF's 256-wide encoding costs width
    assert all(abs(p / params["relu"] - 1) <= 0.05 for p in params.values()), params
    assert "| width |" in capsys.readouterr().out


def test_winner_table2_quick_scales_the_first_layer_to_the_resize(tmp_path):
    # The quick scale resizes camera (512²) to 48²: SIREN's first ω₀ and SIREN²'s s₀ shrink by 48/512,
    # as the audio quick mode scales them to its crop.
    from skimage import data, io

    from spectral_lab.methods import resolve
    from spectral_lab.reproduce import protocol_cells
    from spectral_lab.signals import signal_for

    io.imsave(tmp_path / "camera.png", data.camera())
    protocol = PROTOCOLS["winner-table2"]
    cells = {c.run_config().method: c.run_config() for c in protocol_cells(protocol, find_files(protocol, tmp_path, None),
                                                                           "quick")}
    factor = 48 / 512
    assert cells["siren"].first_omega0 == pytest.approx(30.0 * factor, abs=1e-3)
    unscaled = resolve(cells["siren2"].replace(s0=None), signal_for(cells["siren2"]))
    assert cells["siren2"].s0 == pytest.approx(unscaled.s0 * factor, abs=1e-3) and cells["siren2"].first_omega0 == 30


def test_spder_table1_prepares_images_as_its_reference(tmp_path):
    # SPDER's reference: top-left square crop, first channel, 256² (quick: 48²); 6 sine layers.
    from skimage import io

    from spectral_lab.reproduce import protocol_cells
    from spectral_lab.signals import signal_for

    rgb = np.zeros((60, 90, 3), np.uint8)
    rgb[:, :, 0] = np.arange(90)[None, :]  # red ramps left to right; green is constant 200
    rgb[:, :, 1] = 200
    io.imsave(tmp_path / "0001.png", rgb, check_contrast=False)
    protocol = PROTOCOLS["spder-table1"]
    cell = protocol_cells(protocol, find_files(protocol, tmp_path, 1), "quick")[0]
    config = cell.run_config()
    assert config.depth == 6 and PROTOCOLS["spder-table1"].settings["paper"]["depth"] == 6
    signal = signal_for(config)
    assert signal.grid == (48, 48) and signal.channels == 1
    image = signal.to_original()  # (48, 48) in [0, 1]: the red ramp of the left 60 columns only
    assert image[:, -1].mean() == pytest.approx(59 / 255, abs=0.03) and image[:, 0].mean() < 0.02


def test_a_sweeps_seeds_train_as_one_batch_with_the_rows_they_give_alone(tmp_path):
    base = RunConfig(length=256, width=16, depth=2, steps=12, log_every=4, preview_every=0)
    cells = grid_cells(base, ["sines"], ["siren"], seeds=[0, 1, 2])
    together = run_sweep(cells, tmp_path / "batched", progress=False)
    alone = run_sweep(cells, tmp_path / "alone", progress=False, batch=False)
    assert [r["batch"] for r in together] == ["3 runs stacked"] * 3
    assert [r["batch"] for r in alone] == ["alone: batching is off"] * 3
    for mine, serial in zip(together, alone):
        assert (mine["cell"], mine["status"], mine["steps"]) == (serial["cell"], serial["status"], serial["steps"])
        assert abs(mine["psnr_db"] - serial["psnr_db"]) <= 0.01 and abs(mine["rho_ag"] - serial["rho_ag"]) <= 1e-3
    assert "| batch |" in (tmp_path / "batched" / "results.md").read_text()


def test_compare_with_seeds_batches_them_and_no_batch_turns_it_off(tmp_path, capsys):
    argv = ["compare", "--signals", "sines", "--methods", "relu,siren", "--seeds", "0,1", "--length", "128",
            "--width", "8", "--steps", "4", "--quiet"]
    assert main(argv + ["--out", str(tmp_path / "on")]) == 0
    assert "| seed |" in capsys.readouterr().out
    rows = list(csv.DictReader(open(tmp_path / "on" / "results.csv")))
    assert [(r["method"], r["seed"], r["batch"]) for r in rows] == [
        ("relu", "0", "2 runs stacked"), ("relu", "1", "2 runs stacked"),
        ("siren", "0", "2 runs stacked"), ("siren", "1", "2 runs stacked")]
    assert all(s["seeds"] == "2" for s in csv.DictReader(open(tmp_path / "on" / "summary.csv")))
    assert main(argv + ["--no-batch", "--out", str(tmp_path / "off")]) == 0
    assert {r["batch"] for r in csv.DictReader(open(tmp_path / "off" / "results.csv"))} == {"alone: batching is off"}


def _corrupt_wav(path):
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    return path


def test_a_sweep_with_a_failed_cell_exits_1_and_names_it(tmp_path, capsys):
    bad = _corrupt_wav(tmp_path / "broken.wav")
    code = main(["sweep", "--signals", f"sines,{bad}", "--methods", "relu", "--length", "64", "--width", "8",
                 "--depth", "1", "--steps", "2", "--out", str(tmp_path / "sw"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1  # one cell of two failed: a table with a hole is not a success
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and failed[0].startswith("failed: broken.wav/relu seed 0 (cells/broken-relu-s0-")


def _winner_table1_data(folder):
    """tetris.wav silent (all zeros), arch.wav a tone: one file of the protocol fails, one trains."""
    import soundfile as sf

    folder.mkdir()
    sf.write(folder / "tetris.wav", np.zeros(2000, dtype=np.float32), 8000)
    sf.write(folder / "arch.wav", np.sin(np.arange(2000) * 0.3).astype(np.float32), 8000)
    return folder


@pytest.mark.parametrize("scale, seeds", [("quick", 1), ("paper", 5)])
def test_reproduce_fails_a_silent_clip_the_same_at_both_scales_and_says_its_settings(tmp_path, capsys, scale,
                                                                                     seeds):
    data = _winner_table1_data(tmp_path / "data")
    code = main(["reproduce", "winner-table1", "--data", str(data), "--scale", scale, "--steps", "2", "--length",
                 "64", "--width", "8", "--depth", "1", "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1  # half the cells failed
    failed = [line for line in captured.err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 2 * seeds and all("tetris.wav/siren" in f and "silent (all zeros)" in f for f in failed)
    header = next(line for line in captured.out.splitlines() if line.startswith("Scale: "))
    assert "steps=2 (given; the protocol's " in header and "width=8 (given" in header  # what ran, not 30000
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert {r["status"] for r in rows if r["file"] == "arch.wav"} == {"finished"}


def test_reproduce_with_every_cell_failed_exits_1_and_a_given_seed_replaces_the_protocols(tmp_path, capsys):
    data = _winner_table1_data(tmp_path / "data")
    (data / "arch.wav").unlink()
    code = main(["reproduce", "winner-table1", "--data", str(data), "--scale", "paper", "--steps", "2", "--length",
                 "64", "--width", "8", "--seed", "7", "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and "error: every cell failed (2)" in captured.err
    assert "seeds=[7] (given; the protocol's [0, 1, 2, 3, 4])" in captured.out
