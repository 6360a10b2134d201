"""What the teacher's view shows: per lesson, how many students chose each answer, how many ran it and
what the runs showed, counted from the store's rows (no run of the lesson needed here); whether the
answers may be shown yet; and the same counts as a CSV for the teacher.

The view is often on a projector, in front of students still answering: a lesson's answers (their
spread and the run's answer) stay hidden until the teacher presses Reveal, or until the class is
done with the lesson by itself: every student who answered it has run it, and no new answer has come
for AUTO_QUIET_SECONDS (so one quick student whose run ends before the others have answered does not
show the answer to the room). Before that the view says only how many answered and how many ran.
"""
from __future__ import annotations

import csv
import io
import time
from collections import Counter
from dataclasses import dataclass

from ..lessons import Lesson

RUNS, LESSON = "runs", "lesson"  # where a lesson's marked answer comes from
HIDDEN, BY_TEACHER, ALL_RAN = "hidden", "teacher", "all ran"  # a lesson's answers: hidden, or why shown
AUTO_QUIET_SECONDS = 60.0  # no new answer for this long, and everyone who answered ran: the lesson is done
CSV_COLUMNS = ("lesson", "lesson_title", "choice", "choice_text", "predicted", "shown_by_runs")


@dataclass(frozen=True)
class LessonTally:
    lesson: Lesson
    counts: tuple[int, ...]  # students per choice, in the order of lesson.choices
    shown: tuple[tuple[int, int], ...]  # (choice, how many students' runs supported it), most first
    ran: int = 0  # students whose run of the lesson ended (whatever it showed)
    reveal: str = HIDDEN  # HIDDEN, or why its answers are shown (BY_TEACHER, ALL_RAN)

    @property
    def answers(self) -> int:
        return sum(self.counts)

    @property
    def revealed(self) -> bool:
        return self.reveal != HIDDEN

    def run_answer(self) -> tuple[int, str]:
        """(the choice to mark, where it comes from): what the class's runs showed most often (RUNS);
        before any run has ended, the answer the lesson's own run shows (LESSON, checked by the tests)."""
        if self.shown:
            return self.shown[0][0], RUNS
        return self.lesson.expected, LESSON


@dataclass(frozen=True)
class ClassReport:
    code: str
    lessons: tuple[LessonTally, ...]
    students: int  # students (browsers) that answered at least once

    @property
    def answers(self) -> int:
        return sum(tally.answers for tally in self.lessons)


def reveal_state(answers: int, ran: int, teacher: bool | None, last_answer: float | None, now: float) -> str:
    """Whether a lesson's answers may be shown, and why. No answers: never (a chart of zeros would still
    mark the run's answer); the teacher's Reveal or Hide, when pressed; else the class done by itself."""
    if answers == 0:
        return HIDDEN
    if teacher is not None:
        return BY_TEACHER if teacher else HIDDEN
    quiet = last_answer is None or now - last_answer >= AUTO_QUIET_SECONDS
    return ALL_RAN if ran == answers and quiet else HIDDEN


def class_report(code: str, rows, students: int, lessons: dict[str, Lesson], reveals: dict | None = None,
                 last_answers: dict | None = None, now: float | None = None) -> ClassReport:
    """`rows`: (lesson key, answer, shown, ran, students) as ClassStore.answer_counts returns them; every
    lesson gets a tally, answered or not (rows of unknown lessons or choices are left out). `reveals`:
    the teacher's Reveal/Hide per lesson; `last_answers`: when each lesson's latest answer came."""
    counts = {key: [0] * len(lesson.choices) for key, lesson in lessons.items()}
    shown, ran = {key: Counter() for key in lessons}, Counter()
    for key, answer, supported, has_run, number in rows:
        if key not in counts or not 0 <= answer < len(counts[key]):
            continue
        counts[key][answer] += number
        ran[key] += number if has_run else 0
        if supported is not None and 0 <= supported < len(counts[key]):
            shown[key][supported] += number
    reveals, last_answers, now = reveals or {}, last_answers or {}, time.time() if now is None else now
    tallies = tuple(LessonTally(lesson, tuple(counts[key]),
                                tuple(sorted(shown[key].items(), key=lambda item: (-item[1], item[0]))), ran[key],
                                reveal_state(sum(counts[key]), ran[key], reveals.get(key), last_answers.get(key), now))
                    for key, lesson in lessons.items())
    return ClassReport(code, tallies, students)


def class_csv(report: ClassReport) -> str:
    """The class's answers per lesson and choice, for the teacher: how many predicted it and how many
    runs showed it. Counts only: no student appears in it, hidden or revealed alike (it is the teacher's)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for tally in report.lessons:
        by_runs = dict(tally.shown)
        for index, choice in enumerate(tally.lesson.choices):
            writer.writerow((tally.lesson.number, tally.lesson.title, "ABCDEFGH"[index], choice, tally.counts[index],
                             by_runs.get(index, 0)))
    return out.getvalue()
