"""A class's predictions for its teacher: a teacher makes a class, students answer each lesson's
predict-first question from the class link (?class=CODE), and the teacher's link (?teacher=KEY)
shows, per lesson, how many answered and ran it and, once the teacher reveals it, how many chose each
answer beside what the runs showed. Anonymous: no names, a salted hash of a random id the student's
browser keeps (one student per browser). Gradio-free; the UI is spectral_lab/ui/teacher.py.

One job per module: codes (class codes, teacher keys, their hashes), location (where the database
lives), store (the SQLite schema and its statements), rates (rate limits per student), report (the
counts per lesson, when they may be shown, the CSV), chart (a lesson's bar chart),
service (what the app calls, in words).

    classroom = shared_classroom()
    new = classroom.create_class(session)             # new.code for students, new.key for the teacher
    classroom.share_prediction(new.code, "ntk", student, 0)  # student: the browser's id (new_student_id)
    report = classroom.report(new.key)                # None for a wrong key
    classroom.set_reveal(new.key, "ntk", True)         # the teacher's Reveal, kept
"""
from __future__ import annotations

import threading

from .chart import lesson_chart
from .codes import ClassError, class_code, new_student_id, shown_code, student_id
from .location import database_path
from .report import ClassReport, LessonTally, class_csv, class_report
from .service import SHARED_NOTE, Classroom, NewClass
from .store import ClassStore

_SHARED: list[Classroom] = []
_SHARED_LOCK = threading.Lock()


def shared_classroom() -> Classroom:
    """The server's Classroom, on the database location.database_path() names (made on first use)."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(Classroom(database_path()))
        return _SHARED[0]


def use_classroom(classroom: Classroom) -> None:
    """Make `classroom` the server's (a test or a bench on its own database)."""
    with _SHARED_LOCK:
        _SHARED[:] = [classroom]


__all__ = ["SHARED_NOTE", "ClassError", "ClassReport", "ClassStore", "Classroom", "LessonTally", "NewClass",
           "class_code", "class_csv", "class_report", "database_path", "lesson_chart", "new_student_id",
           "shared_classroom", "shown_code", "student_id", "use_classroom"]
