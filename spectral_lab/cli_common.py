"""Helpers shared by the command lines (spectral_lab.cli and spectral_lab.nern.cli).

Options are generated from the flat config dataclasses, so every field is an option with its
one-line doc as help; tables are written as CSV and Markdown.
"""
from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from .config import RunConfig, coerce


def add_config_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = (), config_cls: type = RunConfig,
                       title: str = "run settings (defaults: the method's own)") -> None:
    """One `--field-name` option per config field, help = the field's doc and its default."""
    group = parser.add_argument_group(title)
    for f in fields(config_cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not None else "method default"
        # argparse %-formats help strings: a literal % in a doc ("1% decay") must be doubled.
        help_text = f"{f.metadata['doc']} [{default}]".replace("%", "%%")
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, metavar=f.name.upper(),
                           choices=f.metadata.get("choices"), help=help_text)


def given_options(args: argparse.Namespace, config_cls: type = RunConfig, skip: tuple[str, ...] = ()) -> dict:
    """The config fields given on the command line, parsed into their types."""
    values = {f.name: getattr(args, f.name, None) for f in fields(config_cls) if f.name not in skip}
    return {k: coerce(k, v, config_cls) for k, v in values.items() if v is not None}


def default_out(kind: str, *names: str) -> Path:
    """runs/KIND-NAMES-TIME: a fresh output folder name."""
    stem = "-".join(Path(n).stem for n in names)
    return Path("runs") / f"{kind}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A Markdown table of `rows` (None -> '–')."""
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("–" if row.get(c) is None else str(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def write_csv(rows: list[dict], path: Path, columns: list[str] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or (list(rows[0]) if rows else [])
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def finite_or_none(value):
    """JSON has no NaN/Inf: such numbers are written as null."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
