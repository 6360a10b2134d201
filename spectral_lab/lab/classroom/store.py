"""The class database: classes and their students' anonymous answers, in SQLite.

Every statement is parameterised (no text of a link or a request is ever part of SQL). Each call opens
its own connection, so any thread or process may call, and a restarted server sees every answer
committed before. WAL lets the teacher's view read while students write; writers take the write lock
at BEGIN (IMMEDIATE) and wait up to BUSY_SECONDS for it instead of failing.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path

from .codes import ClassError, class_code, key_hash, new_class_code, new_salt, new_teacher_key, student_hash

SCHEMA_VERSION = 2  # 2: answers.ran (who ran the lesson, whatever the run showed) and reveals (issue 35)
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code     TEXT PRIMARY KEY,        -- canonical class code (codes.class_code)
    key_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the teacher key: the key itself is never stored
    salt     BLOB NOT NULL,           -- this class's salt for its students' browser ids
    created  REAL NOT NULL            -- seconds since the epoch
);
CREATE TABLE IF NOT EXISTS answers (
    class_code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    lesson     TEXT NOT NULL,         -- the lesson's key, e.g. 'spectral-bias'
    student    TEXT NOT NULL,         -- HMAC(class salt, browser id): anonymous, one row per student and lesson
    answer     INTEGER NOT NULL,      -- the predicted choice (index into the lesson's choices)
    shown      INTEGER,               -- the choice the student's run supports; NULL until it ends or unsettled
    created    REAL NOT NULL,
    ran        INTEGER NOT NULL DEFAULT 0,  -- 1 once the student's run ended (an unsettled one too)
    PRIMARY KEY (class_code, lesson, student)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reveals (
    class_code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    lesson     TEXT NOT NULL,
    revealed   INTEGER NOT NULL,      -- the teacher's Reveal (1) or Hide (0); no row: the automatic rule decides
    changed    REAL NOT NULL,
    PRIMARY KEY (class_code, lesson)
) WITHOUT ROWID;
"""
BUSY_SECONDS = 15.0  # how long a writer waits for the lock (30 students pressing Run at once)
MAX_SESSION = 256  # characters of a student's id (a browser id is 24; Gradio's session hashes ~11)
NO_CLASS = "There is no class with this code (it may have been deleted): check the link your teacher sent."

# record_prediction's outcomes
STORED, UNCHANGED, KEPT_FIRST = "stored", "unchanged", "kept first"


def migrate(db: sqlite3.Connection) -> None:
    """Bring a database an older version made up to SCHEMA_VERSION, keeping every answer. Version 1 had
    no `ran`: its runs that ended with an answer stored `shown`, so those count as run (its unsettled
    runs, which stored nothing, cannot be told from runs never made)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
    if "ran" not in columns:
        db.execute("ALTER TABLE answers ADD COLUMN ran INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE answers SET ran = 1 WHERE shown IS NOT NULL")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class ClassStore:
    """One database file; `choices`: lesson key -> how many choices its question has (what is valid)."""

    def __init__(self, path: str | Path, choices: dict[str, int], max_answers_per_lesson: int = 1000):
        self.path, self.choices, self.max_answers = Path(path), dict(choices), max_answers_per_lesson
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.execute("PRAGMA journal_mode = WAL")  # kept by the file: readers never block writers
            db.executescript(SCHEMA)  # (executescript commits first: it cannot run inside _write)
        with self._write() as db:  # the write lock: two servers opening an old file migrate it once
            migrate(db)

    @contextmanager
    def _connection(self):
        with closing(sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys = ON")  # per connection in SQLite: deleting a class deletes its answers
            # in WAL mode a commit survives a crash or restart of the server without an fsync each (a power
            # cut may lose the last few): 30 students' answers do not wait on the disk one by one
            db.execute("PRAGMA synchronous = NORMAL")
            yield db

    @contextmanager
    def _write(self):
        """One transaction holding the write lock from its start (no upgrade from a read lock, which
        can fail at once with SQLITE_BUSY instead of waiting)."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def create_class(self) -> tuple[str, str]:
        """A new class: (its code, its teacher key). The key is returned once and never stored."""
        for _ in range(5):  # a code already taken (one chance in 10¹⁵ per class): draw another
            code, key = new_class_code(), new_teacher_key()
            try:
                with self._write() as db:
                    db.execute("INSERT INTO classes (code, key_hash, salt, created) VALUES (?, ?, ?, ?)",
                               (code, key_hash(key), new_salt(), time.time()))
                return code, key
            except sqlite3.IntegrityError:
                continue
        raise ClassError("Could not make a new class code: please try again.")

    def class_exists(self, code: str) -> bool:
        with self._connection() as db:
            return db.execute("SELECT 1 FROM classes WHERE code = ?", (class_code(code),)).fetchone() is not None

    def class_for_key(self, key) -> str | None:
        """The code of the class a teacher key opens; None for a wrong or malformed key (the same
        answer either way: a wrong key learns nothing about which classes exist)."""
        hashed = key_hash(key)
        if hashed is None:
            return None
        with self._connection() as db:
            row = db.execute("SELECT code FROM classes WHERE key_hash = ?", (hashed,)).fetchone()
        return row[0] if row else None

    def _check(self, lesson, answer, name: str = "answer") -> None:
        if not isinstance(lesson, str) or lesson not in self.choices:
            raise ClassError("That lesson is not one of this lab's lessons.")
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < self.choices[lesson]:
            raise ClassError(f"That {name} is not one of the lesson's choices.")

    @staticmethod
    def _check_session(session) -> None:
        if not isinstance(session, str) or not 0 < len(session) <= MAX_SESSION:
            raise ClassError("This page has no browser session to answer from: reload it.")

    def record_prediction(self, code, lesson, session, answer) -> str:
        """Store a student's prediction (`session`: the student's browser id): STORED; UNCHANGED (the same
        one again); KEPT_FIRST (another one after the first: refused, since a second guess made after
        seeing a run is no prediction). Either way a student has one answer per lesson."""
        code = class_code(code)
        self._check(lesson, answer)
        self._check_session(session)
        with self._write() as db:
            row = db.execute("SELECT salt FROM classes WHERE code = ?", (code,)).fetchone()
            if row is None:
                raise ClassError(NO_CLASS)
            student = student_hash(row[0], session)
            previous = db.execute("SELECT answer FROM answers WHERE class_code = ? AND lesson = ? AND student = ?",
                                  (code, lesson, student)).fetchone()
            if previous is not None:
                return UNCHANGED if previous[0] == answer else KEPT_FIRST
            count = db.execute("SELECT COUNT(*) FROM answers WHERE class_code = ? AND lesson = ?",
                               (code, lesson)).fetchone()[0]
            if count >= self.max_answers:
                raise ClassError(f"This class already has {count} answers to this lesson, the most it keeps.")
            db.execute("INSERT INTO answers (class_code, lesson, student, answer, shown, created) "
                       "VALUES (?, ?, ?, ?, NULL, ?)", (code, lesson, student, answer, time.time()))
        return STORED

    def record_shown(self, code, lesson, session, shown: int | None) -> bool:
        """What the student's run showed (the choice it supports), beside their prediction; False when
        they have no prediction stored in this class (none made, refused, or the class is gone)."""
        code = class_code(code)
        if shown is not None:
            self._check(lesson, shown, "run's answer")
        self._check_session(session)
        with self._write() as db:
            row = db.execute("SELECT salt FROM classes WHERE code = ?", (code,)).fetchone()
            if row is None:
                return False
            cursor = db.execute("UPDATE answers SET shown = ?, ran = 1 "
                                "WHERE class_code = ? AND lesson = ? AND student = ?",
                                (shown, code, lesson, student_hash(row[0], session)))
            return cursor.rowcount == 1

    def answer_counts(self, code: str) -> list[tuple[str, int, int | None, int, int]]:
        """(lesson, answer, shown, ran, how many students) of one class: the teacher's view reads only these."""
        with self._connection() as db:
            return db.execute("SELECT lesson, answer, shown, ran, COUNT(*) FROM answers WHERE class_code = ? "
                              "GROUP BY lesson, answer, shown, ran", (class_code(code),)).fetchall()

    def last_answers(self, code: str) -> dict[str, float]:
        """lesson -> when its latest prediction in this class arrived (seconds since the epoch)."""
        with self._connection() as db:
            return dict(db.execute("SELECT lesson, MAX(created) FROM answers WHERE class_code = ? GROUP BY lesson",
                                   (class_code(code),)).fetchall())

    def reveals(self, code: str) -> dict[str, bool]:
        """lesson -> the teacher's Reveal (True) or Hide (False); a lesson not named: no choice made."""
        with self._connection() as db:
            rows = db.execute("SELECT lesson, revealed FROM reveals WHERE class_code = ?", (class_code(code),))
            return {lesson: bool(revealed) for lesson, revealed in rows.fetchall()}

    def set_reveal(self, code: str, lesson, revealed: bool) -> None:
        """The teacher's Reveal or Hide of one lesson's answers, kept (a reload of the view keeps it)."""
        code = class_code(code)
        self._check(lesson, 0)
        with self._write() as db:
            db.execute("INSERT INTO reveals (class_code, lesson, revealed, changed) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (class_code, lesson) DO UPDATE SET revealed = excluded.revealed, "
                       "changed = excluded.changed", (code, lesson, int(bool(revealed)), time.time()))

    def student_count(self, code: str) -> int:
        """How many students answered in this class: browsers, since a student's id lives in the browser
        (a reload or a second tab is the same student; another browser or a private window is another)."""
        with self._connection() as db:
            return db.execute("SELECT COUNT(DISTINCT student) FROM answers WHERE class_code = ?",
                              (class_code(code),)).fetchone()[0]

    def delete_class(self, key) -> int | None:
        """Delete the class a teacher key opens and all its answers: how many answers went; None when
        the key opens no class."""
        hashed = key_hash(key)
        if hashed is None:
            return None
        with self._write() as db:
            row = db.execute("SELECT code FROM classes WHERE key_hash = ?", (hashed,)).fetchone()
            if row is None:
                return None
            removed = db.execute("DELETE FROM answers WHERE class_code = ?", (row[0],)).rowcount
            db.execute("DELETE FROM classes WHERE code = ?", (row[0],))
        return removed
