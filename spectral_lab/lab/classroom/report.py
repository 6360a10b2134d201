"""What the teacher's view shows: per lesson, how many students chose each answer and what the runs
showed, counted from the store's rows (no run of the lesson needed here)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..lessons import Lesson

RUNS, LESSON = "runs", "lesson"  # where a lesson's marked answer comes from


@dataclass(frozen=True)
class LessonTally:
    lesson: Lesson
    counts: tuple[int, ...]  # students per choice, in the order of lesson.choices
    shown: tuple[tuple[int, int], ...]  # (choice, how many students' runs supported it), most first

    @property
    def answers(self) -> int:
        return sum(self.counts)

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
    students: int  # browser sessions that answered at least once

    @property
    def answers(self) -> int:
        return sum(tally.answers for tally in self.lessons)


def class_report(code: str, rows, students: int, lessons: dict[str, Lesson]) -> ClassReport:
    """`rows`: (lesson key, answer, shown, students) as ClassStore.answer_counts returns them; every
    lesson gets a tally, answered or not (rows of unknown lessons or choices are left out)."""
    counts = {key: [0] * len(lesson.choices) for key, lesson in lessons.items()}
    shown = {key: Counter() for key in lessons}
    for key, answer, supported, number in rows:
        if key not in counts or not 0 <= answer < len(counts[key]):
            continue
        counts[key][answer] += number
        if supported is not None and 0 <= supported < len(counts[key]):
            shown[key][supported] += number
    tallies = tuple(LessonTally(lesson, tuple(counts[key]),
                                tuple(sorted(shown[key].items(), key=lambda item: (-item[1], item[0]))))
                    for key, lesson in lessons.items())
    return ClassReport(code, tallies, students)
