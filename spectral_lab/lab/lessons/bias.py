"""Lesson 1: which bands a network learns first, read from *when* its band groups get under the
learned threshold, not from the last step alone.

"High bands learned later" needs the high bands to move after the low ones were learned: a network
that cannot represent them (an MFN with a small filter scale) or does not start on them in the
steps given sits still there, and its final low/high gap would look like spectral bias too.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .base import LEARNED, Takeaway
from .names import bold_name
from .readings import BandReading, crossing_step, db, finished, pct, read_bands

MOVED = 0.10  # the high bands must fall this much (Δ, IGA Eq. 7) after the low ones were learned
# An order is read from the *ratio* of the two crossing steps, not their gap as a share of the run: a
# dense grid crosses at steps ~15 (low) and ~31–34 (high) at 100, 200 and 1000 steps alike, and a
# share-of-run rule read that as "together" at 200 steps and "later" at 100.
RATIO = 1.5  # one crossing at ≥ 1.5× the other's step is an order; closer ones are "together"
APART_LOGS = 2  # an order also needs its crossings at least this many band logs apart (else unresolved)
STILL = 0.02  # a band group within this of its final Δ has stopped moving


@dataclass(frozen=True)
class OrderReading:
    method: str
    bands: BandReading
    low_by: int | None  # first logged step with the low third under LEARNED
    high_by: int | None  # likewise the high third
    low_crossed: float | None  # when the low third crossed LEARNED, interpolated between logs
    high_crossed: float | None
    high_then: float  # the high third's Δ when the low third crossed LEARNED
    still_since: int  # the step from which the high third stayed within STILL of its final Δ
    verdict: int | None  # 1: high bands later; 2: together; 0: high bands first; None: not settled

    @property
    def high_end(self) -> float:
        return float(self.bands.high[-1])

    @property
    def log_every(self) -> float:
        """Steps between two band logs (the run's band cadence)."""
        return float(np.median(np.diff(self.bands.steps))) if self.bands.steps.size > 1 else 1.0

    @property
    def crossing_ratio(self) -> float:
        """Later crossing ÷ earlier one (each at least step 1: a crossing at step 0 is not ∞)."""
        early, late = sorted((self.low_crossed, self.high_crossed))
        return max(late, 1.0) / max(early, 1.0)

    @property
    def too_close(self) -> bool:
        """Both crossed, in an order by their ratio, but less than APART_LOGS band logs apart."""
        return (self.high_crossed is not None and self.low_crossed is not None
                and abs(self.high_crossed - self.low_crossed) < APART_LOGS * self.log_every
                and self.crossing_ratio >= RATIO)

    @property
    def fell(self) -> float:
        """How far the high third fell after the low third was learned."""
        if self.low_crossed is None:
            return 0.0
        after = self.bands.steps >= self.low_crossed
        return float(self.high_then - self.bands.high[after].min())


def read_order(view) -> OrderReading | None:
    bands = read_bands(view)
    if bands is None:
        return None
    steps = bands.steps
    low_by, high_by = bands.first_below(bands.low), bands.first_below(bands.high)
    low_crossed, high_crossed = crossing_step(steps, bands.low, LEARNED), crossing_step(steps, bands.high, LEARNED)
    moving = np.flatnonzero(np.abs(bands.high - bands.high[-1]) > STILL)
    still_since = int(steps[moving[-1] + 1]) if moving.size and moving[-1] + 1 < steps.size else int(steps[0])
    high_then = float(np.interp(low_crossed, steps, bands.high)) if low_crossed is not None else float(bands.high[-1])
    reading = OrderReading(view.method, bands, low_by, high_by, low_crossed, high_crossed, high_then, still_since, None)
    return replace(reading, verdict=_order_verdict(reading))


def _order_verdict(reading: OrderReading) -> int | None:
    if reading.low_crossed is None:
        return None  # nothing learned: no order to read
    if reading.high_crossed is not None:
        if reading.too_close:
            return None  # an order the band logs cannot resolve
        if reading.crossing_ratio < RATIO:
            return 2
        return 1 if reading.high_crossed > reading.low_crossed else 0
    # still falling after the low bands were learned = learned later, if the run went on long enough past
    # the low crossing for "later" to mean RATIO× later; still = not learned in this run
    end = float(reading.bands.steps[-1])
    return 1 if reading.fell >= MOVED and end >= RATIO * reading.low_crossed else None


def _method_sentence(reading: OrderReading, view) -> str:
    name, end = bold_name(reading.method), int(reading.bands.steps[-1])
    if reading.low_by is None:
        return (f"{name} brought neither its low nor its high bands under {pct(LEARNED)} error in {end} steps "
                f"(low {pct(reading.bands.low[-1])}, high {pct(reading.high_end)}; {db(view)}).")
    start = f"{name} brought its low bands under {pct(LEARNED)} error by step {reading.low_by}"
    if reading.verdict == 1 and reading.high_by is not None:
        return f"{start}; its high bands followed by step {reading.high_by} ({db(view)})."
    if reading.verdict == 1:
        return (f"{start}; its high bands were then at {pct(reading.high_then)} and still falling: "
                f"{pct(reading.high_end)} at step {end} ({db(view)}).")
    if reading.too_close:
        return (f"{start} and its high bands by step {reading.high_by} ({db(view)}): at about steps "
                f"{reading.low_crossed:.0f} and {reading.high_crossed:.0f}, less than {APART_LOGS} band logs (one every "
                f"{reading.log_every:.0f} steps) apart, too close to put in order at this run's log spacing.")
    if reading.verdict is None and reading.fell >= MOVED:
        return (f"{start}; its high bands were then at {pct(reading.high_then)} and still falling: "
                f"{pct(reading.high_end)} at step {end} ({db(view)}), but the run ended before {RATIO:g}× that step, "
                f"too soon to call them learned later.")
    if reading.verdict is None:
        return (f"{start}; its high bands fell from {pct(reading.bands.high[0])} at the start to "
                f"{pct(reading.high_then)} by then, but only {pct(max(reading.fell, 0.0))} more after it "
                f"({pct(reading.high_end)} at step {end}, within {pct(STILL)} of that since step {reading.still_since}; "
                f"{db(view)}). They never got under {pct(LEARNED)}, so this run cannot tell *learned late* from "
                f"*not learned at all* for it.")
    return (f"{start} and its high bands by step {reading.high_by} ({db(view)}): "
            f"{'about the same time' if reading.verdict == 2 else 'the high bands first'}.")


def _run_verdict(readings: list[OrderReading]) -> int | None:
    """The order every network with a verdict agrees on; None if none has one or they disagree."""
    verdicts = {r.verdict for r in readings if r.verdict is not None}
    return verdicts.pop() if len(verdicts) == 1 else None


def spectral_bias_takeaway(views) -> Takeaway:
    """Lesson 1: low bands first, high bands later — for every network whose high bands moved."""
    done = finished(views)
    pairs = [(read_order(view), view) for view in done.values()]
    pairs = [(reading, view) for reading, view in pairs if reading is not None]
    if not pairs:
        return Takeaway("No method finished with band errors to read yet." if not done else
                        "The run logged too few bands to read.", None)
    first = pairs[0][0].bands
    text = (f"Low bands = below {first.low_top:g} cycles, high bands = above {first.high_bottom:g} cycles. "
            + " ".join(_method_sentence(reading, view) for reading, view in pairs))
    supports = _run_verdict([reading for reading, _ in pairs])
    if supports == 1:
        text += (" Low frequencies first, high ones later, in every network whose high bands moved at all: "
                 "**spectral bias**.")
    elif supports == 2:
        text += " Here the low and high bands were learned together: this run does not show spectral bias."
    elif supports == 0:
        text += " Here the high bands went first: not the usual spectral bias."
    elif any(r.verdict is not None for r, _ in pairs):
        text += " The networks disagree about the order, so this run does not settle it."
    elif any(r.too_close for r, _ in pairs):
        text += (" This run's band logs are too far apart to put the crossings in order (a run of fewer steps "
                 "logs its bands more often), so it does not show in which order they are learned.")
    else:
        text += (" No network here moved its high bands after learning its low ones, so this run does not "
                 "show in which order they are learned.")
    return Takeaway(text, supports)
