"""The words over a comparison: the status line while it trains, the final summary, its outcome,
and the results table's rows."""
from __future__ import annotations

import numpy as np

from ..metrics import PSNR_CONVENTION, STALL_HINTS, ZERO_OUTPUT_MARGIN_DB, psnr_text
from .estimate import duration


def status_line(views, stopping: bool, estimate: float | None = None) -> str:
    """One line while training: which method is where, and the time left (from the measured rates;
    before the first one, the plan's estimate)."""
    running = [v for v in views if v.status == "running"]
    if stopping:
        return "Stopping at the next step…"
    tuning = [v for v in views if v.status == "tuning"]
    if tuning and not running:
        v = tuning[-1]
        where = v.note.replace(f"tuning {v.method}: ", "") if v.note else "starting"
        return (f"Tuning **{v.method}** (method {v.index + 1} of {len(views)}): {where}. Every method tries the "
                f"same rates on a seed the table does not report, then trains at its best")
    if not running:
        done = [f"{v.method} {v.status} ({psnr_text(v.psnr, v.psnr_limit, 1)})" for v in views
                if v.row and v.psnr is not None]
        first = f" About {duration(estimate)} here." if estimate else ""
        return ("; ".join(done) + " · starting…") if done else f"Starting…{first}"
    # the methods train round-robin: the time left is every running method's steps at its own rate
    eta = sum((v.total_steps - v.step) / v.steps_per_s for v in running if v.steps_per_s)
    if len(running) == 1 and len(views) == 1:
        v = running[0]
        best = f" (best {v.best_psnr:.2f})" if v.best_psnr is not None else ""
        psnr = f" · PSNR {v.psnr:.2f} dB{best}" if v.psnr is not None else ""
        if v.heldout is not None:  # a task: the score is the held-out one; the train PSNR beside it
            psnr = f" · held-out PSNR {v.heldout:.2f} dB (train {v.psnr:.2f})"
        return (f"Training **{v.method}** · step {v.step}/{v.total_steps} · {v.steps_per_s:.0f} steps/s · "
                f"ETA {eta:.0f} s{psnr}")
    parts = [f"{v.method} {v.step}/{v.total_steps}" + _running_psnr(v) if v.status == "running"
             else f"{v.method} {v.status}" for v in views]
    known = all(v.steps_per_s for v in running)  # no rate yet before a method's first interval
    return (f"Training {len(running)} of {len(views)} together · " + " · ".join(parts)
            + (f" · ETA {eta:.0f} s" if known else ""))


def _running_psnr(view) -> str:
    """' (24.1 dB)', or for a task ' (24.1 dB held-out)'."""
    if view.heldout is not None:
        return f" ({view.heldout:.1f} dB held-out)"
    return f" ({view.psnr:.1f} dB)" if view.psnr is not None else ""


def outcome(views, failure: str, stopping: bool) -> str:
    """failed > stopped > diverged > finished, over the whole comparison."""
    statuses = {v.status for v in views}
    if failure or "failed" in statuses:
        return "failed"
    if stopping and ({"stopped", "waiting", "tuning"} & statuses):
        return "stopped"
    if "diverged" in statuses:
        return "diverged"
    return "finished"


def final_status(views, result: str, failure: str, seconds: float, tuned: bool) -> str:
    """The summary once the comparison ended with outcome `result`."""
    done = [v for v in views if v.row and v.row.get("psnr_db") is not None]
    best = max(done, key=lambda v: v.row["psnr_db"]) if done else None  # a task's psnr_db: the held-out PSNR
    held_out = " held-out" if best is not None and "train_psnr_db" in best.row else ""
    best_text = (f" Best: **{best.method}** at {psnr_text(best.row['psnr_db'], best.psnr_limit)}{held_out}."
                 if best else "")
    if result == "failed":
        failed = [f"{v.method}: {v.message}" for v in views if v.status == "failed"]
        reason = "; ".join(failed) or failure
        return f"**Failed** — {reason}.{best_text}"
    if result == "stopped":
        parts = [f"{v.method} {'finished' if v.status == 'finished' else v.message or 'did not run'}"
                 for v in views]
        return f"**Stopped** by you: {'; '.join(parts)}.{best_text}"
    if result == "diverged":
        diverged = "; ".join(f"{v.method}: {v.message}" for v in views if v.status == "diverged")
        return f"**Finished, with divergence** — {diverged}.{best_text}"
    tuned_text = (" Each method at its own best learning rate, searched on one shared grid of rates at another "
                  "seed (the table's lr; its time includes the search, shown again under “of which tuning”)."
                  if tuned else "")
    best_text += tuned_text
    return (f"**Finished**: {len(done)} method(s) in {seconds:.0f} s.{best_text}{_fell_text(done)}"
            f"{_stalled_text(done)} {PSNR_CONVENTION}.")


FELL_DB = 1.0  # a held-out PSNR this far below its own peak at the end: the steps after the peak fitted the noise


def _fell_text(done) -> str:
    """' Held-out PSNR fell after its peak: siren 26.7 dB at step 70 → 20.1 …' for each method of a task whose
    held-out curve ended FELL_DB or more below its highest reading."""
    fell = []
    for v in done:
        steps, values = v.heldout_curve()
        if not steps.size:
            continue
        peak = int(np.argmax(values))
        if values[peak] >= v.row["psnr_db"] + FELL_DB:
            fell.append(f"{v.method} {values[peak]:.1f} dB at step {steps[peak]} → {v.row['psnr_db']:.1f}")
    return (f" Held-out PSNR fell after its peak: {'; '.join(fell)} (the steps after the peak fitted what the "
            "network was given, not the clean target; stopping at the peak keeps it)." if fell else "")


def _stalled_text(done) -> str:
    """' ⚠ siren: output stayed ≈ 0 …' for each method whose PSNR sits at or below a zero output's."""
    text = ""
    for hint in STALL_HINTS:
        methods = [v.method for v in done if hint in v.row.get("note", "")]
        if methods:
            where = "more than" if hint == STALL_HINTS[-1] else "within"
            text += (f" ⚠ {', '.join(methods)}: {hint} (PSNR {where} {ZERO_OUTPUT_MARGIN_DB:g} dB "
                     f"{'below' if where == 'more than' else 'of'} a zero output's; the table has the numbers).")
    return text


def table(views, stopping: bool) -> list[dict]:
    """The results table: each finished method's row, the others' status."""
    rows = []
    for v in views:
        if v.row is not None:
            row = dict(v.row)
            row["status"] = v.status
            rows.append(row)
        else:
            rows.append({"method": v.method, "status": "not run" if stopping else v.status, "note": v.message})
    return rows
