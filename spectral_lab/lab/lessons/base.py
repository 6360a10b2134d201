"""The lesson's data types and the thresholds every reading shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

LEARNED = 0.5  # a band counts as learned once its relative error Δ (IGA Eq. 7) is below this


@dataclass(frozen=True)
class FollowUp:
    label: str  # what to try, in a few words
    query: str  # its settings, as a share link's query (opens the full lab and trains)


@dataclass(frozen=True)
class Takeaway:
    text: str  # Markdown, with the run's numbers
    supports: int | None  # index of the choice the run supports; None when it does not settle it


@dataclass(frozen=True)
class Lesson:
    key: str  # the deep link: ?lesson=<key> or ?lesson=<number>
    number: int
    title: str
    text: str  # a few short lines of plain words, then every symbol the lesson uses, defined
    question: str  # predict first, answered before the run
    choices: tuple[str, ...]
    expected: int  # the choice the lesson's own settings show (checked by the tests)
    query: str  # what the button trains (share-link query); "" for the CNN lesson (NeRN settings)
    followups: tuple[FollowUp, ...]
    takeaway: Callable[..., Takeaway]  # (views) -> Takeaway; the CNN lesson: (result, low_share)
    kind: str = "signals"  # "signals" (LiveComparison) or "nern" (a NeRN predictor)
    symbols: tuple[str, ...] = ()  # the keys of names.SYMBOLS the lesson's words and takeaway use
    # the diagnostics its panel and takeaway read (diagnostics.CADENCES); the others are not computed, so
    # these keep the diagnostics budget to themselves and are not deferred off their cadence
    diagnostics: tuple[str, ...] = ("bands",)
