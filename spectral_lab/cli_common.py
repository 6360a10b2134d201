"""Helpers shared by the command lines (spectral_lab.cli and spectral_lab.nern.cli).

Options are generated from the flat config dataclasses, so every field is an option with its
one-line doc as help; tables are written as CSV and Markdown.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from .config import RunConfig, coerce
from .errors import ConfigError

EXIT_BAD_INPUT, EXIT_NO_FINITE_LOSS = 2, 3  # bad arguments or files; training never kept a finite loss
EXIT_CELLS_FAILED = 1  # a sweep, compare, zoo or reproduce in which one cell or more failed


def add_config_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = (), config_cls: type = RunConfig,
                       title: str = "run settings (defaults: the method's own)") -> None:
    """One `--field-name` option per config field, help = the field's doc and its default."""
    group = parser.add_argument_group(title)
    for f in fields(config_cls):
        if f.name in skip:
            continue
        help_text = _help_text(f).replace("%", "%%")  # argparse %-formats help strings
        if f.type in (bool, "bool"):  # a flag: `--gray` alone means yes; `--gray no` still reads a value
            group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, nargs="?", const="yes",
                               metavar="yes|no", help=help_text)
            continue
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, metavar=f.name.upper(),
                           choices=f.metadata.get("choices"), help=help_text)


def _help_text(f) -> str:
    """A field's doc and its default: the value, or for None what the doc says None means
    ('(None: keep)' -> '[keep]'), else the method's default."""
    doc = f.metadata["doc"]
    if f.default is not None:
        shown = ("yes" if f.default else "no") if isinstance(f.default, bool) else f.default
        return f"{doc} [{shown}]"
    meaning = re.search(r" ?\(None: ([^)]*)\)", doc)
    if meaning:
        return f"{doc.replace(meaning.group(0), '')} [{meaning.group(1)}]"
    return f"{doc} [method default]"


def add_batch_option(parser: argparse.ArgumentParser) -> None:
    """--no-batch: every run alone, instead of stacked batches of runs that can share one."""
    parser.add_argument("--no-batch", dest="batch", action="store_false",
                        help="train every run alone; by default runs that share an architecture and a signal size "
                             "(seeds, learning-rate trials, methods of one architecture, files of one length) train "
                             "as one stacked model, each with its own Adam state and rate (the batch column says how "
                             "each trained; its seconds are its share of the batch's)")


class OneLineErrors(argparse.ArgumentParser):
    """An argument error in one line and where to read more, not the 50-line usage of a command with every
    RunConfig field as an option before the one line that matters."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def parse_seeds(text: str | None) -> list[int] | None:
    """'0,1,2' -> [0, 1, 2]; None or '' -> None."""
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--seeds expects comma-separated integers, got {text!r}") from None


def given_options(args: argparse.Namespace, config_cls: type = RunConfig, skip: tuple[str, ...] = ()) -> dict:
    """The config fields given on the command line, parsed into their types."""
    values = {f.name: getattr(args, f.name, None) for f in fields(config_cls) if f.name not in skip}
    return {k: coerce(k, v, config_cls) for k, v in values.items() if v is not None}


def default_out(kind: str, *names: str) -> Path:
    """runs/KIND-NAMES-TIME: a fresh output folder name."""
    stem = "-".join(Path(n).stem for n in names)
    return Path("runs") / f"{kind}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


CREATED_FOLDERS: list[Path] = []  # output folders this process made (removed again if left empty)


def prepare_out(path: str | Path) -> Path:
    """Create the output folder and check that it takes files, before any training: a run whose
    results cannot be written fails at once, not after its last step."""
    out = Path(path)
    try:
        made = [folder for folder in (out, *out.parents) if not folder.exists()]
        out.mkdir(parents=True, exist_ok=True)
        CREATED_FOLDERS.extend(reversed(made))  # parents first: removed last
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write the output folder {out}: {exc.strerror or exc}") from None
    return out


def remove_empty_outputs() -> None:
    """After a command failed: the output folders it made and never wrote into go again (a bad
    input must not leave empty folders in runs/)."""
    for folder in reversed(CREATED_FOLDERS):
        try:
            folder.rmdir()  # only if empty
        except OSError:
            pass
    CREATED_FOLDERS.clear()


def report_failed_cells(rows: list[dict]) -> int:
    """One line on stderr per failed cell (which one, and why), and the exit code: EXIT_CELLS_FAILED
    when any failed, else 0. A table with holes is not a success, however many cells finished."""
    failed = [row for row in rows if row.get("status") == "failed"]
    for row in failed:
        where = f"{row.get('signal')}/{row.get('method')} seed {row.get('seed')}"
        print(f"failed: {where} (cells/{row.get('cell')}): {row.get('note') or 'unknown error'}", file=sys.stderr)
    return EXIT_CELLS_FAILED if failed else 0


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
