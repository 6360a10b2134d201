"""What the app asks of a class, in words: make one (rate-limited), check a student's class link,
share a prediction and what the run showed (rate-limited), the teacher's report, Reveal or Hide a
lesson's answers, delete a class. A student is their browser's id (codes.student_id), so a reload or a
second tab answers as the same student.

Every method answers bad input with a ClassError whose message the page shows as it is; the
database opens on first use, so an unusable path is a message on the page, not a failed start.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ..lessons import LESSONS
from .codes import ClassError, class_code, shown_code
from .rates import Limit, RateLimiter
from .report import ClassReport, class_report
from .store import KEPT_FIRST, NO_CLASS, STORED, ClassStore

log = logging.getLogger(__name__)

# A class answers seven lessons, perhaps twice over from two tabs: 20 a minute is never a student's limit
ANSWER_LIMIT = Limit(per_session=20, overall=3000, window=60.0)
# A teacher makes a class or two; the overall cap bounds what a script with fresh session ids can add
CLASS_LIMIT = Limit(per_session=3, overall=60, window=3600.0)
# what a student on a class link reads under the question (one line; the class's code is said once they answer)
SHARED_NOTE = "🔒 Your answer is shared anonymously with your class."


@dataclass(frozen=True)
class NewClass:
    code: str  # canonical (ABCDEFGHJK); shown_code() for people
    key: str  # the teacher key: shown once, never stored


class Classroom:
    def __init__(self, path: str | Path, lessons=None, answer_limit: Limit = ANSWER_LIMIT,
                 class_limit: Limit = CLASS_LIMIT):
        self.path, self.lessons = Path(path), dict(lessons or LESSONS)
        self.answers, self.classes = RateLimiter(answer_limit), RateLimiter(class_limit)
        self._store, self._lock = None, threading.Lock()

    @property
    def store(self) -> ClassStore:
        with self._lock:
            if self._store is None:
                try:
                    self._store = ClassStore(self.path, {k: len(v.choices) for k, v in self.lessons.items()})
                except (OSError, sqlite3.Error) as exc:
                    log.exception("class database %s cannot be opened", self.path)
                    raise ClassError(f"Classes are not available on this server: its class database cannot be "
                                     f"opened ({type(exc).__name__}).") from exc
            return self._store

    def create_class(self, session: str) -> NewClass:
        if not self.classes.allow(session):
            raise ClassError("You have made several classes in the last hour: please use one of them, or try later.")
        return NewClass(*self._safely(self.store.create_class))

    def student_class(self, text) -> str:
        """The canonical code of a student link's `class=`; ClassError when malformed or unknown."""
        code = class_code(text)
        if not self._safely(self.store.class_exists, code):
            raise ClassError(NO_CLASS)
        return code

    def share_prediction(self, code: str, lesson: str, student: str, answer: int) -> str:
        """Store the prediction of `student` (a browser id); the line the student reads under the question."""
        if not self.answers.allow(student):
            return "⚠️ Too many answers from this browser in a minute: this one was not shared. Wait a moment."
        outcome = self._safely(self.store.record_prediction, code, lesson, student, answer)
        if outcome == KEPT_FIRST:
            return ("Your class keeps your **first** prediction for this lesson: a second one, made after seeing a "
                    "run, would not be a prediction.")
        said = "shared" if outcome == STORED else "already shared"
        return f"✓ Your prediction is {said} anonymously with class {shown_code(code)}."

    def share_shown(self, code: str, lesson: str, student: str, shown: int | None) -> bool:
        """What the student's run showed, beside their prediction, and that they ran it (not rate-limited:
        one per stored prediction and run)."""
        return self._safely(self.store.record_shown, code, lesson, student, shown)

    def report(self, key, now: float | None = None) -> ClassReport | None:
        """The class a teacher key opens, counted, each lesson hidden or revealed (report.reveal_state, at
        `now`); None for any key that opens none."""
        code = self._safely(self.store.class_for_key, key)
        if code is None:
            return None
        rows = self._safely(self.store.answer_counts, code)
        return class_report(code, rows, self._safely(self.store.student_count, code), self.lessons,
                            self._safely(self.store.reveals, code), self._safely(self.store.last_answers, code), now)

    def set_reveal(self, key, lesson: str, revealed: bool) -> ClassReport | None:
        """The teacher's Reveal (True) or Hide (False) of a lesson's answers, kept in the database; the
        report after it (None: the key opens no class)."""
        code = self._safely(self.store.class_for_key, key)
        if code is None:
            return None
        self._safely(self.store.set_reveal, code, lesson, revealed)
        return self.report(key)

    def delete_class(self, key) -> int | None:
        """Delete the class a teacher key opens and its answers: how many answers went (None: no class)."""
        return self._safely(self.store.delete_class, key)

    def _safely(self, call, *args):
        """A database failure (disk full, locked past the busy timeout) as a message, logged in full."""
        try:
            return call(*args)
        except sqlite3.Error as exc:
            log.exception("class database %s failed", self.path)
            raise ClassError(f"The class database could not be used just now ({type(exc).__name__}): "
                             "please try again.") from exc
