"""The papers' protocols as sweeps, our numbers printed beside the paper's (papers.toml).

    reproduce("winner-table1", "../shared/data", scale="quick", out="runs/reproduce")

A protocol names the paper's files, methods and settings (at `paper` scale, or a CPU-sized
`quick` one); the user's --data folder is searched for the files by name. Our PSNR is
converted to the paper's convention before it is printed beside the paper's value, and files
the paper used that are not in --data are marked as missing.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cli_common import markdown_table
from .config import RunConfig
from .errors import ConfigError, SpectralLabError

PAPERS_FILE = Path(__file__).with_name("papers.toml")
PEAK1_OFFSET_DB = -20 * math.log10(2.0)  # R = 1 instead of R = 2 on targets in [-1, 1]
CONVENTIONS = {"peak1": (PEAK1_OFFSET_DB, "peak 1 on targets in [-1, 1] (ours − 6.02 dB)"),
               "range2": (0.0, "R = 2 on targets in [-1, 1] (as ours)"),
               "unit": (0.0, "peak 1 on images in [0, 1] (the same number as ours)")}
MISSING = "missing"


@dataclass
class Protocol:
    name: str
    title: str
    source: str
    psnr: str
    methods: list[str]
    labels: dict[str, str]
    files: dict[str, list[str]]
    paper: dict[str, dict]
    settings: dict[str, dict]
    method_settings: dict[str, dict] = field(default_factory=dict)
    checkpoints: list[int] = field(default_factory=list)
    dataset: str = ""
    peak: bool = False  # the paper reports the best PSNR over training (ours: over every step)

    @property
    def offset_db(self) -> float:
        return CONVENTIONS[self.psnr][0]


def load_protocols(path: Path = PAPERS_FILE) -> dict[str, Protocol]:
    data = tomllib.loads(path.read_text())
    return {name: Protocol(name=name, title=entry["title"], source=entry["source"], psnr=entry["psnr"],
                           methods=list(entry["methods"]), labels=dict(entry.get("labels", {})),
                           files=dict(entry.get("files", {})), paper=dict(entry.get("paper", {})),
                           settings=dict(entry["settings"]), method_settings=dict(entry.get("method_settings", {})),
                           checkpoints=list(entry.get("checkpoints", [])), dataset=entry.get("dataset", ""),
                           peak=bool(entry.get("peak", False)))
            for name, entry in data.items()}


PROTOCOLS = load_protocols()


def find_files(protocol: Protocol, data: str | os.PathLike, max_files: int | None) -> dict[str, Path | None]:
    """The paper's file name -> its path under `data` (None when missing). For a dataset
    protocol, every file matching the glob (sorted, at most max_files)."""
    root = Path(data) if data else None
    present = root is not None and root.is_dir()
    if protocol.dataset:
        matches = sorted(root.rglob(protocol.dataset)) if present else []
        return {p.name: p for p in matches[:max_files]}
    index: dict[str, Path] = {}
    if present:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                index.setdefault(path.name.lower(), path)
    found = {}
    for paper_name, candidates in protocol.files.items():
        found[paper_name] = next((index[c.lower()] for c in candidates if c.lower() in index), None)
    if max_files is not None:  # keep the first max_files present ones, and every missing one (for the table)
        kept, count = {}, 0
        for name, path in found.items():
            if path is None or count < max_files:
                kept[name] = path
                count += path is not None
        found = kept
    return found


def describe(protocol: Protocol) -> str:
    """A protocol's title, source, data needs and settings per scale (for `reproduce list`)."""
    lines = [f"{protocol.name}: {protocol.title}", f"  source: {protocol.source}",
             f"  data (--data, searched recursively): {wanted_files(protocol)}",
             f"  methods: {', '.join(protocol.methods)}; PSNR: {CONVENTIONS[protocol.psnr][1]}"
             + (", best over every step" if protocol.peak else "")]
    for scale, settings in protocol.settings.items():
        lines.append(f"  {scale}: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    for method, settings in protocol.method_settings.items():
        lines.append(f"  {method} only: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    return "\n".join(lines)


def wanted_files(protocol: Protocol) -> str:
    """The files a protocol looks for, in words."""
    return f"files matching {protocol.dataset}" if protocol.dataset else ", ".join(protocol.files)


def locate_files(protocol: Protocol, data: str | os.PathLike, scale: str) -> dict[str, Path | None]:
    """find_files, but --data must be an existing folder holding at least one of the protocol's
    files: a ConfigError names where it looked, before anything is written or trained."""
    if not data:
        raise ConfigError(f"{protocol.name} needs --data: the folder holding {wanted_files(protocol)} "
                          "(or set SPECTRAL_LAB_DATA)")
    if not Path(data).is_dir():
        raise ConfigError(f"--data {data}: no such folder ({Path(data).resolve()})")
    if scale not in protocol.settings:
        raise ConfigError(f"scale must be one of {', '.join(protocol.settings)}")
    files = find_files(protocol, data, protocol.settings[scale].get("max_files"))
    if not any(path is not None for path in files.values()):
        raise ConfigError(f"no file of {protocol.name} ({wanted_files(protocol)}) under {Path(data).resolve()} "
                          "(searched recursively); point --data at the folder that holds them")
    return files


def protocol_cells(protocol: Protocol, files: dict[str, Path | None], scale: str, overrides: dict | None = None):
    """Every (file, method, seed) fit of the protocol at `scale`, `overrides` (the command line's
    settings) over the protocol's; a given --seed replaces the protocol's seeds. A file that cannot
    be read still makes its cells: they fail when they train, with the reason (the same at every scale)."""
    from .sweep import Cell

    if scale not in protocol.settings:
        raise ConfigError(f"{protocol.name} has no {scale!r} scale; choose from {', '.join(protocol.settings)}")
    settings, overrides = dict(protocol.settings[scale]), dict(overrides or {})
    seeds = [overrides.pop("seed")] if "seed" in overrides else settings.pop("seeds", [0])
    settings.pop("seeds", None)
    settings.pop("max_files", None)
    paper_length = settings.pop("frequency_scale", None)
    at_most = settings.pop("length_at_most", False)
    cells = []
    for paper_name, path in files.items():
        if path is None:
            continue
        frames = audio_frames(path) if at_most and "length" in settings else None
        crop = {"length": min(settings["length"], frames)} if frames else {}
        for method in protocol.methods:
            fields = {**settings, **crop, **protocol.method_settings.get(method, {}), **overrides}
            for seed in seeds:
                config = RunConfig.from_dict({**fields, "signal": str(path.resolve()), "method": method, "seed": seed})
                cells.append(Cell.make(_scaled(config, path, paper_length), extra={"file": paper_name},
                                       checkpoints=protocol.checkpoints))
    return cells


def _scaled(config: RunConfig, path: Path, paper_length) -> RunConfig:
    """The config with its first-layer frequencies scaled to the paper's length (quick scale's crops);
    as it is when the file cannot be read: the cell then fails as it would at paper scale."""
    try:
        if paper_length == "image":
            return scale_first_layer(config, config.image_size / image_side(path))
        if paper_length:
            return scale_first_layer(config, config.length / paper_length)
    except (SpectralLabError, OSError, ValueError):  # silent, constant, corrupt: the cell says why when it runs
        pass
    return config


def audio_frames(path: Path) -> int | None:
    """Samples in an audio file (soundfile's header; librosa when soundfile cannot read it); None when
    neither can (its cells fail when they train, saying why)."""
    import soundfile as sf

    try:
        return int(sf.info(str(path)).frames)
    except Exception:
        from .signals import load_audio

        try:
            return load_audio(path).values.shape[0]
        except (SpectralLabError, OSError, ValueError):
            return None


def image_side(path: Path) -> int:
    """The longest side of an image file, in pixels (read from its header)."""
    from PIL import Image

    with Image.open(path) as image:
        return max(image.size)


def scale_first_layer(config: RunConfig, factor: float) -> RunConfig:
    """The method's resolved first-layer frequencies × factor: SIREN-family ω₀ (audio ×100), and
    for SIREN² WINNER's s₀ (its first ω₀ stays 30). A crop of L samples out of the paper's L₀
    then has the paper's ratio of signal to network frequencies when factor = L/L₀."""
    from .methods import resolve
    from .signals import signal_for

    resolved = resolve(config, signal_for(config))
    if resolved.method.split("+")[0] == "siren2":
        return resolved.replace(s0=round(resolved.s0 * factor, 4))
    if resolved.first_omega0 is None:  # a method without a first-layer frequency (ReLU, grids): as it is
        return resolved
    return resolved.replace(first_omega0=round(resolved.first_omega0 * factor, 4))


def comparison_table(protocol: Protocol, rows: list[dict], files: dict[str, Path | None]) -> list[dict]:
    """One line per paper file: for every method the paper's value and ours (mean ± std over
    seeds, in the paper's convention); files not found are marked."""
    offset = protocol.offset_db
    metric = "peak_psnr_db" if protocol.peak else "psnr_db"
    table = []
    names = list(files) if not protocol.dataset else ["DIV2K (average)" if protocol.paper else "dataset"]
    for name in names:
        line = {"file": name}
        selected = [r for r in rows if (r.get("file") == name or protocol.dataset) and r.get("status") != "failed"]
        for method in protocol.methods:
            label = protocol.labels.get(method, method)
            paper_value = protocol.paper.get(name, {}).get(method)
            ours = [r for r in selected if r["method"] == method]
            if protocol.checkpoints:
                for i, step in enumerate(protocol.checkpoints):
                    values = [r.get(f"psnr@{step}") for r in ours if r.get(f"psnr@{step}") is not None]
                    line[f"{label} @{step} paper"] = paper_value[i] if paper_value else "–"
                    line[f"{label} @{step} ours"] = _mean_std(values, offset) if values else MISSING
            else:
                values = [r[metric] for r in ours if r.get(metric) is not None]
                line[f"{label} paper"] = paper_value if paper_value is not None else "–"
                line[f"{label} ours"] = (_mean_std(values, offset) if values
                                         else MISSING if not protocol.dataset and files.get(name) is None else "–")
        table.append(line)
    if not protocol.dataset and "Average" in protocol.paper:
        line = {"file": "Average (paper: all its files; ours: the files found)"}
        for method in protocol.methods:
            label = protocol.labels.get(method, method)
            values = [r[metric] for r in rows if r["method"] == method and r.get(metric) is not None]
            line[f"{label} paper"] = protocol.paper["Average"].get(method, "–")
            line[f"{label} ours"] = _mean_std(values, offset) if values else MISSING
        table.append(line)
    return table


def _mean_std(values: list[float], offset: float) -> str:
    array = np.asarray(values, dtype=float) + offset
    return f"{array.mean():.1f}" if array.size == 1 else f"{array.mean():.1f} ± {array.std():.1f}"


def reproduce(name: str, data: str | os.PathLike, scale: str = "quick", out: str | os.PathLike = "runs/reproduce",
              backend: str = "local", workers: int = 1, address: str | None = None, gpus_per_cell: float = 0.0,
              progress: bool = True, overrides: dict | None = None, tune: bool = False,
              batch: bool = True) -> str:
    """Run a protocol's cells (resumable sweep in `out`) and return the comparison as Markdown
    (run_protocol; AllCellsFailed when no cell trained)."""
    report, rows = run_protocol(name, data, scale, out, backend, workers, address, gpus_per_cell, progress,
                                overrides, tune, batch)
    failed = [r for r in rows if r.get("status") == "failed"]
    if rows and len(failed) == len(rows):
        raise AllCellsFailed(report, f"every cell failed ({len(rows)}): {failure_causes(failed)}")
    return report


def run_protocol(name: str, data: str | os.PathLike, scale: str = "quick", out: str | os.PathLike = "runs/reproduce",
                 backend: str = "local", workers: int = 1, address: str | None = None, gpus_per_cell: float = 0.0,
                 progress: bool = True, overrides: dict | None = None, tune: bool = False,
                 batch: bool = True) -> tuple[str, list[dict]]:
    """(the comparison as Markdown, written to out/comparison.md; every cell's row, failed ones too).
    `tune`: every method at its own best lr (tuning.py; one grid per file shared by the protocol's
    methods) instead of the protocol's. `batch`: the cells that share an architecture and a length (a
    method's seeds, files of one length) train as one stacked model (batched.py; WINNER Table 1 at
    paper scale: 55 runs per method)."""
    from .sweep import run_sweep

    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}")
    protocol = PROTOCOLS[name]
    files = locate_files(protocol, data, scale)
    cells = protocol_cells(protocol, files, scale, overrides)
    if tune:
        cells = tuned_cells(cells)
    out = Path(out)
    rows = run_sweep(cells, out, backend=backend, workers=workers, address=address, gpus_per_cell=gpus_per_cell,
                     progress=progress, batch=batch)
    lines = [f"## {protocol.title}", f"Source: {protocol.source}.",
             f"Scale: {scale} ({effective_settings(protocol, scale, overrides or {}, tune)}).",
             f"PSNR in the paper's convention: {CONVENTIONS[protocol.psnr][1]}"
             + ("; the best over every training step, as the paper reports." if protocol.peak else "."),
             "", markdown_table(comparison_table(protocol, rows, files))]
    if tune:
        from .tuning import PROTOCOL_TEXT

        lines.append(f"\nTuned: each method at its own best lr: {PROTOCOL_TEXT}. The lr each cell used, and every "
                     "trial, are in results.csv.")
    missing = [n for n, p in files.items() if p is None]
    if missing:
        lines.append(f"\nMissing from --data ({len(missing)}): {', '.join(missing)}.")
    failed = [r for r in rows if r.get("status") == "failed"]
    if failed:
        lines.append(f"\nFailed cells ({len(failed)} of {len(rows)}), by cause: {failure_causes(failed)}")
    report = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.md").write_text(report + "\n")
    return report, rows


def effective_settings(protocol: Protocol, scale: str, overrides: dict, tune: bool = False) -> str:
    """The settings the cells ran with: the protocol's at `scale`, each one given on the command line
    shown with the protocol's value beside it ("steps=3 (given; the protocol's 30000)")."""
    settings = dict(protocol.settings[scale])
    given = dict(overrides)
    if "seed" in given:  # a given seed replaces the protocol's seeds (protocol_cells)
        given["seeds"] = [given.pop("seed")]
    shown = []
    for key, value in settings.items():
        if key == "lr" and tune:
            shown.append(f"lr=tuned (the protocol's {value})")
        elif key in given and given[key] != value:
            shown.append(f"{key}={given[key]} (given; the protocol's {value})")
        else:
            shown.append(f"{key}={value}")
    shown += [f"{key}={value} (given)" for key, value in given.items() if key not in settings]
    return ", ".join(shown)


def tuned_cells(cells: list) -> list:
    """The cells tuned, one grid of rates per file shared by the protocol's methods (as compare's)."""
    from .signals import signal_for
    from .tuning import comparison_grid

    by_file: dict[str, list] = {}
    for cell in cells:
        by_file.setdefault(dict(cell.config)["signal"], []).append(cell)
    tuned = []
    for file_cells in by_file.values():
        configs = [cell.run_config() for cell in file_cells]
        try:
            grid = tuple(comparison_grid(configs, signal_for(configs[0])))
        except (SpectralLabError, OSError, ValueError):  # unreadable: the cells fail when they train, saying why
            grid = ()
        tuned += [dataclasses.replace(cell, tune=True, tune_grid=grid) for cell in file_cells]
    return tuned


class AllCellsFailed(SpectralLabError):
    """Nothing trained: the report (written anyway) and the causes, each named once."""

    def __init__(self, report: str, message: str):
        super().__init__(message)
        self.report = report


def failure_causes(failed: list[dict], shown: int = 4) -> str:
    """Each distinct cause once, with how many cells and which (the first `shown`)."""
    causes: dict[str, list[str]] = {}
    for row in failed:
        causes.setdefault(str(row.get("note") or "unknown error"), []).append(f"{row['signal']}/{row['method']}")
    parts = []
    for cause, cells in causes.items():
        more = f" and {len(cells) - shown} more" if len(cells) > shown else ""
        parts.append(f"“{cause}” ({len(cells)} cell{'s' if len(cells) > 1 else ''}: {', '.join(cells[:shown])}{more})")
    return "; ".join(parts)
