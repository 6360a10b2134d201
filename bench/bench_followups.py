"""Every lesson and every follow-up as the app trains it, timed, each read against its lesson's claim.

    .venv/bin/python bench/bench_followups.py [--only 1.3,2.1] [--markdown]

A lesson's own run, then each follow-up link as the lab opens it: its settings parsed under this
server's limits (AppLimits: nothing may be dropped), planned to this server's time budget as Train
plans it (plan_lab_run; a follow-up's sizes are pinned, so an estimate over the budget is said, not
shrunk), at the app's cadences; then the lesson's own takeaway is computed on the follow-up's run.
A row reads: seconds, what the takeaway supports (the answer index, or "–" when the run does not
settle it) and its first sentence. The CNN lesson's follow-ups train in the CNN tab and are timed only.
"""
from __future__ import annotations

import argparse
import time

import torch

from spectral_lab.lab import AppLimits, LiveComparison, parse_link, share_tune, with_app_cadence
from spectral_lab.lab.estimate import RateBook, estimate_seconds, plan_lab_run
from spectral_lab.lab.lessons import LESSONS, expand_link, lesson_comparison, lesson_takeaway


def _first_sentences(text: str, count: int = 2) -> str:
    parts = text.replace("**", "").split(". ")
    return ". ".join(parts[:count])[:260]


def lesson_row(lesson) -> tuple[str, float, str, str, float]:
    live = lesson_comparison(lesson)
    started = time.perf_counter()
    for _ in live.frames():
        pass
    seconds = time.perf_counter() - started
    takeaway = lesson_takeaway(lesson, live.views)
    estimate = estimate_seconds(live.config, live.methods, live.signal, "cpu", live.tune, rates=RateBook())
    return (f"{lesson.number}", seconds, "–" if takeaway.supports is None else str(takeaway.supports),
            _first_sentences(takeaway.text), estimate)


def followup_row(lesson, index: int) -> tuple[str, float, str, str, float]:
    number = f"{lesson.number}.{index + 1}"
    query, _ = expand_link({"followup": number})
    limits = AppLimits()
    config, methods, dropped = parse_link(query, limits)
    if dropped:
        return number, 0.0, "dropped", "; ".join(dropped), 0.0
    pinned = {name for name in ("image_size", "length") if getattr(config, name) is not None} | {"steps"}
    plan = plan_lab_run(config, methods, None, limits, "cpu", share_tune(query), pinned)
    live = LiveComparison(with_app_cadence(plan.config, "cpu"), methods, plan.signal, tune=share_tune(query),
                          note=plan.note, estimate=plan.seconds)
    started = time.perf_counter()
    for _ in live.frames():
        pass
    seconds = time.perf_counter() - started
    takeaway = lesson_takeaway(lesson, live.views)
    estimate = estimate_seconds(plan.config, methods, plan.signal, "cpu", share_tune(query), rates=RateBook())
    return (number, seconds, "–" if takeaway.supports is None else str(takeaway.supports),
            _first_sentences(takeaway.text) + (f" [plan: {plan.note}]" if plan.note else ""), estimate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated lesson numbers (1) or follow-ups (1.3)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    only = set(args.only.split(",")) if args.only else None
    print("| run | seconds (estimate at built-in rates) | supports (expected) | the takeaway on it |")
    print("|---|---|---|---|")
    for lesson in LESSONS.values():
        if lesson.kind != "signals":
            continue
        jobs = [("lesson", None)] + [("followup", i) for i in range(len(lesson.followups))]
        for kind, index in jobs:
            number = str(lesson.number) if index is None else f"{lesson.number}.{index + 1}"
            if only is not None and number not in only and str(lesson.number) not in only:
                continue
            row = lesson_row(lesson) if index is None else followup_row(lesson, index)
            print(f"| {row[0]} | {row[1]:.1f} ({row[4]:.0f}) | {row[2]} ({lesson.expected}) | {row[3]} |",
                  flush=True)


if __name__ == "__main__":
    main()
