"""Lesson 2: the eNTK at step 0 predicts plain gradient descent, checked against the run.

Full-batch gradient descent on the MSE, with the kernel K fixed at its initial value, moves the
residual r = f − y as r(t) = (I − η(2/N)K)ᵗ r(0) (IGA Eq. 1 with the 2/N of the MSE's gradient;
spectral_lab.ntk.predicted_residual_decay): along eigenvector vᵢ the error shrinks by
|1 − η(2/N)λᵢ| per step. The prediction needs the kernel on all N training points and a constant
η; it holds while the kernel stays put (a wide network). Adam rescales every weight's step by its
own gradient history, so the step is no longer η·gradient and the formula no longer gives the pace.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ntk import updates_before
from .base import Takeaway
from .names import bold_name, capitalised, display_name
from .readings import db, finished, pct

FAST = 1e-2  # a fast direction: λᵢ ≥ λ₁/100
# Limits near what the formula achieves (seeds 0–2, widths 512 and 4,096: ≤ 0.011 dB, ≤ 0.7 points), so
# a prediction with η off by ×1.25 (0.04–0.15 dB, 2–3 points) or ×2 (0.16–1.7 dB) does not "hold"
HOLDS_DB = 0.05  # the measured loss stays this close to the predicted one at every logged step ...
HOLDS_SHARE = 0.015  # ... and each group's remaining error this close to its prediction
FITTED_FIRST = 0.2  # the fast group kept at least this much less of its error than the slow group
# The order is only read where the target has a real share on both sides: a 2-cycle target lies 99.9 %
# on ReLU + PE's fast directions (nothing slow to compare), a 24-cycle one 0.1–0.8 % (what was fitted
# fast was the network's own initial output, not the target)
SHARE_RANGE = (0.05, 0.95)


@dataclass(frozen=True)
class LinearCheck:
    """Prediction from the step-0 kernel against the run, for one method."""

    method: str
    rate: float  # η(2/N)λ₁: the fastest direction loses this share of its error per step
    fast: int  # directions with λᵢ ≥ λ₁/100
    directions: int  # all directions (= N)
    fast_share: float  # the target's energy share on them
    updates: int  # gradient steps behind the last kernel measurement
    fast_left: float  # error left along the fast directions there (RMS, share of its start), measured ...
    fast_predicted: float  # ... and predicted
    slow_left: float
    slow_predicted: float
    loss_gap_db: float  # the largest |measured − predicted| training loss over the logged steps, in dB
    # the order is read on the *target*: the error left along each group ÷ the target's part there (RMS).
    # Read on the residual instead, a network whose initial output f(0) dominates the fast directions looks
    # as if it fitted them first while the target's part there was never learned
    fast_missed: float = 1.0
    slow_missed: float = 1.0

    @property
    def holds(self) -> bool:
        return (self.loss_gap_db <= HOLDS_DB and abs(self.fast_left - self.fast_predicted) <= HOLDS_SHARE
                and abs(self.slow_left - self.slow_predicted) <= HOLDS_SHARE)


def check_linear_dynamics(view) -> LinearCheck | str:
    """The check, or why this run cannot be checked (in words)."""
    init, later = view.ntk.get("init"), [r for s, r in view.ntk_history if s > 0]
    lr = (view.row or {}).get("lr")
    if init is None or not later or lr is None or view.prediction is None:
        return "it has no eNTK at step 0 and later to compare"
    points, channels = view.prediction.shape[0], view.prediction.reshape(view.prediction.shape[0], -1).shape[1]
    if init.num_points != points or channels != 1:
        return (f"its kernel covers {init.num_points} of its {points} points" if channels == 1 else
                "it has several output channels (the kernel is their sum)")
    eigenvalues, start = init.eigenvalues, init.residual_projections  # |vᵢᵀ r(0)|
    shrink = np.abs(1.0 - lr * 2.0 / points * eigenvalues)  # per step, IGA Eq. 1 with the MSE's 2/N
    steps, losses = view.curve()
    predicted_loss = np.array([(shrink ** (2 * u) * start ** 2).sum() / points for u in updates_before(steps)])
    gap = np.abs(10 * np.log10(np.maximum(losses, 1e-300) / np.maximum(predicted_loss, 1e-300)))
    last_step = max(s for s, _ in view.ntk_history)
    updates = int(updates_before([last_step])[0])
    now = dict(view.ntk_history)[last_step].residual_projections  # along the kernel's eigenvectors then
    fast = eigenvalues >= eigenvalues[0] * FAST
    count = int(fast.sum())

    def left(measured_or_predicted: np.ndarray, group: np.ndarray) -> float:
        return float(np.sqrt((measured_or_predicted ** 2).sum() / max((start[group] ** 2).sum(), 1e-300)))

    predicted_now = start * shrink ** updates
    target = init.target_projections ** 2
    return LinearCheck(view.method, float(lr * 2.0 / points * eigenvalues[0]), count, points,
                       float(target[fast].sum() / max(target.sum(), 1e-300)), updates,
                       left(now[:count], fast), left(predicted_now[fast], fast),
                       left(now[count:], ~fast), left(predicted_now[~fast], ~fast), float(gap.max()),
                       _missed(now[:count], target[fast]), _missed(now[count:], target[~fast]))


def _missed(residual_now: np.ndarray, target_energy: np.ndarray) -> float:
    """RMS error left along a group of directions ÷ RMS of the target's part there."""
    return float(np.sqrt((residual_now ** 2).sum() / max(target_energy.sum(), 1e-300)))


def unreadable(check: LinearCheck) -> str | None:
    """Why this run cannot show the order although the formula may hold (None: it can)."""
    low, high = SHARE_RANGE
    if check.fast_share < low:
        return (f"only {check.fast_share:.1%} of the target lies on {display_name(check.method)}'s fast directions: "
                "what they fitted fast was mostly the network's own initial output, not the target")
    if check.fast_share > high:
        return (f"{check.fast_share:.1%} of the target lies on {display_name(check.method)}'s fast directions: "
                "it has no slow part to compare")
    if check.fast_left > 0.9:
        return f"{display_name(check.method)}'s error barely moved along any direction"
    return None


def _verdict(check: LinearCheck) -> int | None:
    if not check.holds or unreadable(check):
        return None  # the formula does not describe the run, or the run cannot show an order
    if check.fast_missed < check.slow_missed - FITTED_FIRST:
        return 0
    return 1 if check.slow_missed < check.fast_missed - FITTED_FIRST else 2


def _check_sentence(check: LinearCheck, view) -> str:
    name = bold_name(check.method)
    keeps = abs(1 - check.rate)  # |1 − η(2/N)λ₁|: the fastest direction's factor per step
    pace = (f"{name} ({db(view)}): η(2/N)λ₁ = {check.rate:.2f}, so by the formula its fastest direction keeps "
            f"{pct(keeps)} of its error per step. Its {check.fast} fast directions hold "
            f"{pct(check.fast_share)} of the target; after {check.updates} steps they kept "
            f"{pct(check.fast_left)} of their error (the formula: {pct(check.fast_predicted)}), the other "
            f"{check.directions - check.fast} directions {pct(check.slow_left)} (the formula: "
            f"{pct(check.slow_predicted)}). Of the target's part on the fast directions {pct(check.fast_missed)} "
            f"is still missing, of its part on the slow ones {pct(check.slow_missed)}.")
    if check.holds:
        return pace + (f" Its training loss stayed within {check.loss_gap_db:.2f} dB of the formula's at every "
                       "logged step.")
    return (pace + f" Its training loss left the formula's by up to {check.loss_gap_db:.1f} dB: the formula does "
            "not describe this run.")


def ntk_takeaway(views) -> Takeaway:
    """Lesson 2: the step-0 kernel predicts what plain gradient descent fits, and in what order."""
    done = finished(views)
    checks = [(check_linear_dynamics(view), view) for view in done.values()]
    if not checks:
        return Takeaway("No method finished, so there is nothing to read yet.", None)
    parts, verdicts = [], []
    for check, view in checks:
        if isinstance(check, str):
            parts.append(f"{capitalised(display_name(view.method))} cannot be checked: {check}.")
            verdicts.append(None)
        else:
            parts.append(_check_sentence(check, view))
            verdicts.append(_verdict(check))
    supports = verdicts[0] if len(set(verdicts)) == 1 else None
    return Takeaway(" ".join(parts) + _conclusion(supports, [check for check, _ in checks]), supports)


def _conclusion(supports: int | None, checks: list) -> str:
    """The run's reading, from every method's check (a LinearCheck, or why it has none)."""
    if supports == 0:
        return (" The kernel measured at step 0 predicted the whole run: the large-λ directions were fitted "
                "within a few steps, the small-λ ones barely moved. A network learns what its kernel makes fast.")
    if any(isinstance(c, LinearCheck) and not c.holds for c in checks):
        return (" The fixed-kernel formula holds for plain gradient descent (optimizer sgd) at a constant "
                "learning rate on a wide network, whose kernel stays near its start; this run does not test it.")
    reasons = [unreadable(c) for c in checks if isinstance(c, LinearCheck) and unreadable(c)]
    if reasons:
        return (" The formula held, but this run cannot show for every network which part is fitted first: "
                + "; ".join(reasons)
                + ". A target with a real share on both the fast and the slow directions (the lesson's 2, 8 and 24 "
                "cycles) shows it.")
    return " In this run the fast directions were not fitted first: it does not show the kernel's pacing."
