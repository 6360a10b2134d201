"""A class's predictions for its teacher (spectral_lab.lab.classroom, spectral_lab/ui/teacher.py): codes and
keys that cannot be guessed, a teacher view only a key opens, validated and parameterised input, 30
writers at once, answers that outlive the server, deletion, one anonymous answer per student (browser)
and lesson, rate limits, no crosstalk between classes, answers hidden until revealed (issue 35), the CSV,
a version-1 database migrated, and the chart and page wiring."""
import csv
import io
import math
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from spectral_lab.lab.classroom import ClassError, Classroom, lesson_chart, shown_code
from spectral_lab.lab.classroom import codes, location
from spectral_lab.lab.classroom.chart import MARKED, OTHER
from spectral_lab.lab.classroom.rates import Limit, RateLimiter
from spectral_lab.lab.classroom.report import ALL_RAN, AUTO_QUIET_SECONDS, BY_TEACHER, HIDDEN, LESSON, RUNS
from spectral_lab.lab.lessons import LESSONS

ROOT = Path(__file__).resolve().parents[1]
INJECTIONS = ["'; DROP TABLE answers; --", "x' OR '1'='1", "1; DELETE FROM classes", "\" OR 1=1 --",
              "ABCDE'--", "Robert'); DROP TABLE classes;--", "\x00", "%", "_"]


@pytest.fixture
def classroom(tmp_path):
    return Classroom(tmp_path / "classes.sqlite3")


def rows(path, sql, *args):
    with sqlite3.connect(path) as db:
        return db.execute(sql, args).fetchall()


def test_codes_and_keys_are_unguessable_and_only_a_hash_of_the_key_is_stored(classroom):
    assert codes.CODE_LENGTH * math.log2(len(codes.ALPHABET)) >= 40  # 50 bits
    assert codes.KEY_BYTES * 8 >= 128  # 192 bits
    made = [classroom.store.create_class() for _ in range(50)]
    assert len({code for code, _ in made}) == 50 and len({key for _, key in made}) == 50
    assert all(len(code) == 10 and set(code) <= set(codes.ALPHABET) for code, _ in made)
    assert all(codes.KEY_PATTERN.fullmatch(key) for _, key in made)
    stored = rows(classroom.path, "SELECT code, key_hash FROM classes")
    raw = b"".join(p.read_bytes() for p in classroom.path.parent.iterdir())
    assert all(key.encode() not in raw for _, key in made)  # neither in the database nor its WAL
    assert {h for _, h in stored} == {codes.key_hash(key) for _, key in made}
    # what a student types: any case, a hyphen or a space, O for 0, I or L for 1
    code = made[0][0]
    assert codes.class_code(shown_code(code).lower()) == code and codes.class_code(f" {code[:5]} {code[5:]} ") == code
    assert codes.class_code("0O1IL-ABCDE") == "00111ABCDE"


def test_a_wrong_key_gets_nothing_and_no_hint_whether_the_class_exists(classroom):
    new = classroom.create_class("teacher")
    classroom.share_prediction(new.code, "ntk", "student", 0)
    wrong = [codes.new_teacher_key(), new.key[:-1] + ("A" if new.key[-1] != "A" else "B"), new.key.upper(), "",
             None, 42, new.code, shown_code(new.code), "x" * 10_000, *INJECTIONS]
    assert all(classroom.report(key) is None for key in wrong)
    assert all(classroom.delete_class(key) is None for key in wrong)
    assert classroom.report(new.key).answers == 1  # the right key still opens it; nothing was deleted


def test_inputs_are_validated_with_a_clear_message(classroom):
    new = classroom.create_class("teacher")
    for bad_code in ("ABCD", "ABCDE-FGHJKL", "ABCDE-FGHJU", "x" * 1000, None, 12345, ""):
        with pytest.raises(ClassError, match="not a class code"):
            classroom.student_class(bad_code)
    with pytest.raises(ClassError, match="no class with this code"):
        classroom.student_class(codes.new_class_code())
    for lesson, answer, said in [("no-such-lesson", 0, "not one of this lab's lessons"), (None, 0, "lessons"),
                                 ("ntk", 3, "not one of the lesson's choices"), ("ntk", -1, "choices"),
                                 ("ntk", True, "choices"), ("ntk", "0", "choices"), ("ntk", 0.0, "choices")]:
        with pytest.raises(ClassError, match=said):
            classroom.share_prediction(new.code, lesson, "student", answer)
    for session in ("", None, "s" * 257):
        with pytest.raises(ClassError, match="browser session"):
            classroom.share_prediction(new.code, "ntk", session, 0)
    assert classroom.report(new.key).answers == 0


def test_injection_strings_are_refused_or_stored_literally_never_run(classroom):
    new = classroom.create_class("teacher")
    schema = rows(classroom.path, "SELECT name, sql FROM sqlite_master ORDER BY name")
    for text in INJECTIONS:
        with pytest.raises(ClassError):
            classroom.share_prediction(text, "ntk", "student", 0)  # as a class code: refused
        with pytest.raises(ClassError):
            classroom.share_prediction(new.code, text, "student", 0)  # as a lesson: refused
        assert classroom.report(text) is None  # as a teacher key: opens nothing
    for i, text in enumerate(INJECTIONS):  # as a session id: one more anonymous student, hashed
        assert "shared" in classroom.share_prediction(new.code, "ntk", text, i % 3)
    assert rows(classroom.path, "SELECT name, sql FROM sqlite_master ORDER BY name") == schema
    report = classroom.report(new.key)
    assert report.answers == len(INJECTIONS) and report.students == len(INJECTIONS)
    students = [s for (s,) in rows(classroom.path, "SELECT student FROM answers")]
    assert all(len(s) == 64 and set(s) <= set("0123456789abcdef") for s in students)


def test_thirty_concurrent_writers_lose_no_answer(tmp_path):
    path = tmp_path / "classes.sqlite3"
    classroom = Classroom(path)
    new = classroom.create_class("teacher")
    start, failures = threading.Barrier(30), []

    def student(i: int) -> None:
        mine = Classroom(path)  # its own rate limits and connections, as another worker process would have
        start.wait()
        try:
            for lesson in LESSONS.values():
                mine.share_prediction(new.code, lesson.key, f"session-{i}", i % len(lesson.choices))
                mine.share_shown(new.code, lesson.key, f"session-{i}", lesson.expected)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=student, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    report = classroom.report(new.key)
    assert report.answers == 30 * len(LESSONS) and report.students == 30
    for tally in report.lessons:
        n = len(tally.lesson.choices)
        assert tally.counts == tuple(sum(1 for i in range(30) if i % n == c) for c in range(n))
        assert tally.shown == ((tally.lesson.expected, 30),)
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]


def test_answers_survive_a_server_restart(tmp_path):
    path = tmp_path / "classes.sqlite3"
    script = (f"from spectral_lab.lab.classroom import Classroom\n"
              f"c = Classroom({str(path)!r}); new = c.create_class('t')\n"
              f"for i in range(5): c.share_prediction(new.code, 'damping', f's{{i}}', i % 3)\n"
              f"print(new.key)")
    server = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert server.returncode == 0, server.stderr
    key = server.stdout.strip().splitlines()[-1]
    report = Classroom(path).report(key)  # the server process is gone: a new one reads the file
    damping = next(t for t in report.lessons if t.lesson.key == "damping")
    assert damping.counts == (2, 2, 1) and report.answers == 5


def test_a_teacher_deletes_a_class_with_its_answers_and_other_classes_stay(classroom):
    kept, gone = classroom.create_class("t1"), classroom.create_class("t2")
    for i in range(4):
        classroom.share_prediction(kept.code, "ntk", f"s{i}", 0)
        classroom.share_prediction(gone.code, "ntk", f"s{i}", 1)
    assert classroom.delete_class(codes.new_teacher_key()) is None  # a wrong key deletes nothing
    assert classroom.delete_class(gone.key) == 4
    assert classroom.report(gone.key) is None and classroom.delete_class(gone.key) is None
    assert rows(classroom.path, "SELECT COUNT(*) FROM answers WHERE class_code = ?", gone.code) == [(0,)]
    assert rows(classroom.path, "SELECT COUNT(*) FROM classes WHERE code = ?", gone.code) == [(0,)]
    assert classroom.report(kept.key).answers == 4
    with pytest.raises(ClassError, match="no class with this code"):
        classroom.share_prediction(gone.code, "ntk", "late student", 0)


def test_one_answer_per_session_and_lesson_the_first_prediction_is_kept_and_anonymous(classroom, tmp_path):
    new, other = classroom.create_class("t1"), classroom.create_class("t2")
    assert "shared" in classroom.share_prediction(new.code, "ntk", "session-a", 1)
    assert "first" in classroom.share_prediction(new.code, "ntk", "session-a", 0)  # refused: no hindsight
    assert "already shared" in classroom.share_prediction(new.code, "ntk", "session-a", 1)
    assert "shared" in classroom.share_prediction(new.code, "damping", "session-a", 0)  # another lesson
    classroom.share_prediction(other.code, "ntk", "session-a", 1)
    assert classroom.report(new.key).lessons[1].counts == (0, 1, 0)
    students = rows(classroom.path, "SELECT class_code, student FROM answers")
    assert all("session-a" not in s for _, s in students)
    assert len({s for _, s in students}) == 2  # one per class: the same browser in two classes is two strangers
    import hashlib
    assert hashlib.sha256(b"session-a").hexdigest() not in {s for _, s in students}  # salted, not a bare hash


def test_the_same_browser_id_twice_is_one_student_with_one_answer(classroom):
    new = classroom.create_class("teacher")
    browser, other = codes.new_student_id(), codes.new_student_id()
    assert codes.student_id(browser) == browser and browser != other  # random per browser
    for forged in (None, "", 42, browser[:-1], browser + "x", "x" * 23 + "!", "é" * 24, *INJECTIONS):
        assert codes.student_id(forged) is None  # not an id the server makes: the page gets a fresh one
    assert "shared" in classroom.share_prediction(new.code, "ntk", browser, 1)
    # a reload or a second tab of the same browser sends the same id: the same student, their first answer
    assert "already shared" in classroom.share_prediction(new.code, "ntk", browser, 1)
    assert "first" in classroom.share_prediction(new.code, "ntk", browser, 0)
    classroom.share_prediction(new.code, "ntk", other, 0)
    report = classroom.report(new.key)
    assert report.students == 2 and report.answers == 2 and report.lessons[1].counts == (1, 1, 0)
    assert browser not in str(rows(classroom.path, "SELECT * FROM answers"))  # only its salted hash


def test_answers_stay_hidden_until_the_teacher_reveals_and_the_reveal_is_kept(tmp_path):
    path = tmp_path / "classes.sqlite3"
    classroom = Classroom(path)
    new = classroom.create_class("teacher")
    classroom.set_reveal(new.key, "ntk", True)  # pressed before anyone answered: nothing to show yet
    assert all(tally.reveal == HIDDEN for tally in classroom.report(new.key).lessons)
    for i in range(3):
        classroom.share_prediction(new.code, "ntk", f"s{i}", 0)
        classroom.share_prediction(new.code, "damping", f"s{i}", 1)
    report = classroom.report(new.key)
    ntk, damping = report.lessons[1], report.lessons[3]
    assert ntk.reveal == BY_TEACHER and ntk.answers == 3 and ntk.ran == 0
    assert damping.reveal == HIDDEN  # a Reveal is per lesson
    restarted = Classroom(path)  # a restart (or the teacher's reload) keeps it
    assert restarted.report(new.key).lessons[1].revealed
    assert not restarted.set_reveal(new.key, "ntk", False).lessons[1].revealed  # Hide
    assert restarted.set_reveal(codes.new_teacher_key(), "ntk", True) is None  # only the key reveals
    with pytest.raises(ClassError):
        restarted.set_reveal(new.key, INJECTIONS[0], True)


def test_a_lesson_reveals_itself_once_everyone_who_answered_ran_it_and_answers_stopped(classroom):
    new = classroom.create_class("teacher")
    for i in range(3):
        classroom.share_prediction(new.code, "steering", f"s{i}", i % 2)
    classroom.share_shown(new.code, "steering", "s0", 0)
    classroom.share_shown(new.code, "steering", "s1", None)  # an unsettled run: it ran all the same
    later = rows(classroom.path, "SELECT MAX(created) FROM answers")[0][0] + AUTO_QUIET_SECONDS + 1
    steering = classroom.report(new.key, now=later).lessons[4]
    assert steering.ran == 2 and steering.reveal == HIDDEN  # one who answered has not run it
    classroom.share_shown(new.code, "steering", "s2", 0)
    assert classroom.report(new.key).lessons[4].reveal == HIDDEN  # answers still arriving: the room waits
    assert classroom.report(new.key, now=later).lessons[4].reveal == ALL_RAN
    classroom.set_reveal(new.key, "steering", False)  # the teacher's Hide outranks the rule
    assert classroom.report(new.key, now=later).lessons[4].reveal == HIDDEN


def test_a_version_1_database_is_migrated_with_every_answer(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the schema of version 1, with a class and three answers
        db.executescript("""
            CREATE TABLE classes (code TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, salt BLOB NOT NULL,
                                  created REAL NOT NULL);
            CREATE TABLE answers (class_code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
                                  lesson TEXT NOT NULL, student TEXT NOT NULL, answer INTEGER NOT NULL,
                                  shown INTEGER, created REAL NOT NULL,
                                  PRIMARY KEY (class_code, lesson, student)) WITHOUT ROWID;
            PRAGMA user_version = 1;""")
        key = codes.new_teacher_key()
        db.execute("INSERT INTO classes VALUES ('ABCDEFGHJK', ?, ?, 0)", (codes.key_hash(key), b"salt"))
        db.executemany("INSERT INTO answers VALUES ('ABCDEFGHJK', 'ntk', ?, ?, ?, 0)",
                       [("a", 0, 0), ("b", 1, None), ("c", 1, 1)])
    for _ in range(2):  # the upgraded server, then its restart: migrated once, nothing lost
        report = Classroom(path).report(key)
        assert report.answers == 3 and report.lessons[1].counts == (1, 2, 0) and report.lessons[1].ran == 2
    assert rows(path, "PRAGMA user_version") == [(2,)]
    Classroom(path).set_reveal(key, "ntk", True)
    assert Classroom(path).report(key).lessons[1].reveal == BY_TEACHER


def test_rate_limits_per_session_and_overall():
    now = [0.0]
    limiter = RateLimiter(Limit(per_session=3, overall=5, window=60), clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert [limiter.allow("b") for _ in range(3)] == [True, True, False]  # the overall cap: 5
    now[0] = 61.0  # the window has passed
    assert limiter.allow("a") and limiter.allow("b")


def test_classes_and_answers_are_rate_limited_per_session(tmp_path):
    classroom = Classroom(tmp_path / "c.sqlite3", answer_limit=Limit(2, 100, 60), class_limit=Limit(2, 100, 3600))
    new = classroom.create_class("teacher")
    classroom.create_class("teacher")
    with pytest.raises(ClassError, match="several classes in the last hour"):
        classroom.create_class("teacher")
    classroom.create_class("another teacher")  # only that session is held back
    classroom.share_prediction(new.code, "ntk", "student", 0)
    classroom.share_prediction(new.code, "damping", "student", 0)
    assert "not shared" in classroom.share_prediction(new.code, "bottleneck", "student", 0)
    assert classroom.report(new.key).answers == 2


def test_no_crosstalk_between_classes(classroom):
    a, b = classroom.create_class("t1"), classroom.create_class("t2")
    for i in range(6):
        classroom.share_prediction(a.code, "spectral-bias", f"s{i}", 0)
    classroom.share_prediction(b.code, "spectral-bias", "s0", 2)
    classroom.share_shown(a.code, "spectral-bias", "s0", 1)
    first = classroom.report(a.key).lessons[0]
    assert first.counts == (6, 0, 0) and first.shown == ((1, 1),)
    assert classroom.report(b.key).lessons[0].counts == (0, 0, 1) and classroom.report(b.key).lessons[0].shown == ()
    assert classroom.report(b.key).answers == 1


def test_the_chart_counts_each_choice_and_marks_what_the_runs_showed(classroom):
    new = classroom.create_class("teacher")
    for i, answer in enumerate([0, 1, 1, 2, 1]):
        classroom.share_prediction(new.code, "spectral-bias", f"s{i}", answer)
    before = classroom.report(new.key).lessons[0]
    assert before.run_answer() == (LESSONS["spectral-bias"].expected, LESSON)  # no run has ended yet
    figure = lesson_chart(before)
    assert list(figure.data[0].x) == [1, 3, 1] and "no student's run has ended yet" in figure.layout.annotations[0].text
    for i in range(3):
        classroom.share_shown(new.code, "spectral-bias", f"s{i}", 1)
    classroom.share_shown(new.code, "spectral-bias", "s3", 2)  # another seed may show another answer
    tally = classroom.report(new.key).lessons[0]
    assert tally.run_answer() == (1, RUNS)
    figure = lesson_chart(tally)
    assert list(figure.data[0].marker.color) == [OTHER, MARKED, OTHER]
    assert "3 of the class's 4 finished runs" in figure.layout.annotations[0].text
    assert "5 answers" in figure.layout.title.text and list(figure.data[0].text)[1] == "3 (60 %)"
    empty = lesson_chart(classroom.report(new.key).lessons[5])
    assert list(empty.data[0].x) == [0, 0, 0] and "0 answers" in empty.layout.title.text


def test_the_database_path_env_then_space_storage_then_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(location.ENV, str(tmp_path / "mine.sqlite3"))
    assert location.database_path() == tmp_path / "mine.sqlite3"
    monkeypatch.delenv(location.ENV)
    monkeypatch.setattr(location, "SPACE_STORAGE", tmp_path / "data")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    assert location.database_path() == tmp_path / "home" / "spectral_lab" / location.FILE_NAME  # not a Space
    (tmp_path / "data").mkdir()
    assert location.database_path() == tmp_path / "data" / "spectral_lab" / location.FILE_NAME


def test_an_unusable_database_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "broken.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ClassError, match="not available on this server"):
        Classroom(tmp_path / "broken.sqlite3").create_class("teacher")
    assert not isinstance(ClassError("x"), sqlite3.Error)


# ----------------------------------------------------------------------------------------------
# The page: a student's class link, the teacher's link and view, making a class (Gradio callbacks)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    pytest.importorskip("gradio")
    from spectral_lab.ui import build_demo, lessons, teacher

    build_demo()  # creates the components the callbacks address
    return lessons, teacher


@pytest.fixture
def served(classroom):
    """The app's classroom on this test's database."""
    from spectral_lab.lab import classroom as package

    previous = list(package._SHARED)
    package.use_classroom(classroom)
    yield classroom
    package._SHARED[:] = previous


class FakeRequest:
    def __init__(self, query=None, session="test-session"):
        self.query_params = query or {}
        self.headers = {"referer": "http://127.0.0.1:7860/?lesson=2"}
        self.session_hash = session


def test_a_class_link_says_answers_are_shared_and_a_bad_code_says_it_shares_nothing(page, served):
    lessons, _ = page
    new = served.create_class("teacher")
    good = lessons.on_load(FakeRequest({"class": shown_code(new.code).lower(), "lesson": "2"}))
    assert good[lessons.ui.class_code] == new.code and not good[lessons.ui.class_note]["visible"]
    assert "shared anonymously with your class" in good[lessons.ui.question]["info"]  # the question's small print
    assert good[lessons.ui.question]["label"].startswith("Predict first")  # the lesson's own update, kept
    for bad in ("nope", codes.new_class_code(), INJECTIONS[0]):
        refused = lessons.on_load(FakeRequest({"class": bad}))
        assert refused[lessons.ui.class_code] is None and "stay on this page" in refused[lessons.ui.class_note]["value"]
    plain = lessons.on_load(FakeRequest({"lesson": "2"}))
    assert plain[lessons.ui.class_code] is None and not plain[lessons.ui.class_note]["visible"]


def test_a_lesson_run_on_a_class_link_shares_the_prediction_then_what_the_run_showed(page, served, monkeypatch):
    lessons, _ = page
    new = served.create_class("teacher")

    _served_at_once(monkeypatch, lessons, supports=2)
    updates = list(lessons.on_run(FakeRequest(session="student-1"), "damping", 1, None, new.code))
    assert "shared anonymously with class" in updates[0][lessons.ui.class_note]["value"]
    assert "the takeaway" in updates[-1][lessons.ui.takeaway]
    damping = next(t for t in served.report(new.key).lessons if t.lesson.key == "damping")
    assert damping.counts == (0, 1, 0) and damping.shown == ((2, 1),)
    again = list(lessons.on_run(FakeRequest(session="student-1"), "damping", 0, None, new.code))
    assert "first" in again[0][lessons.ui.class_note]["value"]  # the second answer is refused, and the run still runs
    assert list(lessons.on_run(FakeRequest(session="student-2"), "damping", 0, None, None))  # no class: nothing shared
    assert served.report(new.key).answers == 1


def _served_at_once(monkeypatch, lessons, supports: int) -> None:
    """Every lesson run served from a recording at once (no training in these tests), showing `supports`."""
    from spectral_lab.lab.lesson_runs import LessonEvent
    from spectral_lab.lab.recordings import Recording

    class Runner:
        def run(self, lesson, seed, prediction, **kwargs):
            yield LessonEvent("done", "the takeaway", None, None, Recording(run=None, seconds=1.0), served=True,
                              supports=supports)

    monkeypatch.setattr(lessons, "LESSON_RUNNER", Runner())
    monkeypatch.setattr(lessons, "_recorded_panels", lambda *args: {})


def test_a_class_link_keeps_one_id_per_browser_and_a_reload_answers_as_the_same_student(page, served, monkeypatch):
    lessons, _ = page
    new = served.create_class("teacher")
    link = {"class": shown_code(new.code), "lesson": "4"}
    stored, student = lessons.on_student(None, FakeRequest(link))  # a first visit: a fresh id, kept by the browser
    assert stored == student and codes.student_id(student) == student
    kept, same = lessons.on_student(student, FakeRequest(link, session="after-a-reload"))
    assert same == student and kept["__type__"] == "update" and len(kept) == 1  # gr.skip(): left as it is
    for forged in ("x" * 500, INJECTIONS[1], {"id": student}, 7):
        fresh, replaced = lessons.on_student(forged, FakeRequest(link))
        assert fresh == replaced != student and codes.student_id(replaced) == replaced
    untouched, none = lessons.on_student(None, FakeRequest({"lesson": "4"}))  # no class: nothing stored
    assert none is None and len(untouched) == 1
    # the browser's copy outlives a server restart: its storage key and secret are the same in every server
    assert (lessons.ui.browser_id.storage_key, lessons.ui.browser_id.secret) == ("spectral-lab-student",) * 2

    _served_at_once(monkeypatch, lessons, supports=1)
    for session, answer in (("first-load", 1), ("reloaded", 0), ("second-tab", 1)):  # a page session each
        list(lessons.on_run(FakeRequest(session=session), "damping", answer, None, new.code, student))
    damping = served.report(new.key).lessons[3]
    assert served.report(new.key).students == 1 and damping.counts == (0, 1, 0) and damping.ran == 1


def test_only_a_teacher_link_with_the_right_key_shows_the_class(page, served):
    _, teacher = page
    new = served.create_class("teacher")
    served.share_prediction(new.code, "ntk", "student", 0)
    student = teacher.on_load(FakeRequest({"class": shown_code(new.code)}))  # a student's link: nothing changes
    assert list(student) == [teacher.view.header] and student[teacher.view.header]["__type__"] == "update"
    assert len(student[teacher.view.header]) == 1  # gr.skip(): no value, the tab stays hidden
    for wrong in (codes.new_teacher_key(), new.code, INJECTIONS[0], ""):
        shown = teacher.on_load(FakeRequest({"teacher": wrong}))
        assert shown[teacher.view.header] == teacher.NO_CLASS and shown[teacher.view.key] is None
        assert all(shown[plot]["visible"] is False for plot in teacher.view.plots)
        assert shown[teacher.view.csv]["visible"] is False  # no CSV without the key
    opened = teacher.on_load(FakeRequest({"teacher": new.key}))
    assert opened[teacher.view.tabs].selected == "class" and opened[teacher.view.tab]["visible"]
    assert f"Class {shown_code(new.code)} · 1 student · 1 answer" in opened[teacher.view.header]
    assert all(opened[summary]["visible"] for summary in teacher.view.summaries) and opened[teacher.view.key] == new.key
    assert opened[teacher.view.csv]["visible"] and opened[teacher.view.csv]["value"].endswith(".csv")
    seen = opened[teacher.view.seen]
    assert teacher.view.summaries[0] not in teacher.on_tick(new.key, seen, "")  # unchanged: not sent again
    served.share_prediction(new.code, "spectral-bias", "student", 1)
    ticked = teacher.on_tick(new.key, seen, "")
    assert "1 answered · 0 ran" in ticked[teacher.view.summaries[0]]["value"]
    assert teacher.view.summaries[1] not in ticked  # only the lesson that changed is sent


def _sent(updates) -> str:
    """Everything a view's updates would send the page, as text (figures as their JSON)."""
    return " ".join(value["value"].to_json() if hasattr(value.get("value"), "to_json") else repr(value)
                    for value in updates.values() if isinstance(value, dict))


def test_the_teacher_view_sends_no_answer_before_reveal_and_the_chart_after(page, served):
    _, teacher = page
    new = served.create_class("teacher")
    lesson = LESSONS["steering"]  # lesson 5: index 4
    right, wrong = lesson.choices[lesson.expected], lesson.choices[(lesson.expected + 1) % 3]
    opened = teacher.on_load(FakeRequest({"teacher": new.key}))  # the class just made: nothing to give away
    assert teacher.view.reveals[4] in opened and opened[teacher.view.reveals[4]]["visible"] is False
    for i in range(3):
        served.share_prediction(new.code, "steering", f"s{i}", i % 2)
    served.share_shown(new.code, "steering", "s0", lesson.expected)
    before = teacher.on_tick(new.key, opened[teacher.view.seen], "")
    card = before[teacher.view.summaries[4]]["value"]
    assert "3 answered · 1 ran" in card and lesson.question in card and "hidden" in card
    assert before[teacher.view.plots[4]] == {"__type__": "update", "value": None, "visible": False}
    sent = _sent(before)
    assert right not in sent and wrong not in sent and MARKED not in sent and "Green" not in sent
    reveal = before[teacher.view.reveals[4]]
    assert reveal["visible"] and reveal["value"] == "Reveal the answers"
    after = teacher.on_reveal(4, new.key, before[teacher.view.seen], "")
    figure = after[teacher.view.plots[4]]["value"]
    assert after[teacher.view.plots[4]]["visible"] and list(figure.data[0].x) == [2, 1, 0]
    assert list(figure.data[0].marker.color)[lesson.expected] == MARKED
    assert "you pressed Reveal" in after[teacher.view.summaries[4]]["value"]
    assert after[teacher.view.reveals[4]]["value"] == "Hide the answers"
    reloaded = teacher.on_load(FakeRequest({"teacher": new.key}))  # a reload of the view keeps the Reveal
    assert reloaded[teacher.view.plots[4]]["visible"] and not reloaded[teacher.view.plots[0]]["visible"]
    hidden = teacher.on_reveal(4, new.key, reloaded[teacher.view.seen], "")  # Hide: back to the counts
    assert hidden[teacher.view.plots[4]]["visible"] is False and right not in _sent(hidden)


def test_the_teachers_csv_has_the_class_answers_per_lesson_and_choice(page, served):
    _, teacher = page
    new = served.create_class("teacher")
    for i, answer in enumerate([0, 1, 1]):
        served.share_prediction(new.code, "ntk", f"s{i}", answer)
        served.share_shown(new.code, "ntk", f"s{i}", 0)
    opened = teacher.on_load(FakeRequest({"teacher": new.key}))
    text = Path(opened[teacher.view.csv]["value"]).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == sum(len(lesson.choices) for lesson in LESSONS.values())
    ntk = [row for row in rows if row["lesson"] == str(LESSONS["ntk"].number)]
    assert [(r["choice"], r["predicted"], r["shown_by_runs"]) for r in ntk] == [("A", "1", "3"), ("B", "2", "0"),
                                                                             ("C", "0", "0")]
    assert ntk[0]["choice_text"] == LESSONS["ntk"].choices[0]
    assert "s0" not in text and not any(len(word) == 64 for word in text.replace(",", " ").split())  # no student


def test_a_teacher_makes_a_class_from_the_lessons_tab_and_deletes_it_after_asking(page, served, monkeypatch):
    from spectral_lab.lab.prerecord import LessonDemand

    _, teacher = page
    monkeypatch.setattr(teacher, "DEMAND", LessonDemand())
    message, student_link, teacher_link = teacher.on_create("ntk", FakeRequest(session="teacher-a"))
    assert teacher.DEMAND.next_of(["1.1", "2.3", "4.3"]) == 1  # the class's lesson: its follow-ups recorded next
    assert "is ready" in message and "shown only this once" in message
    assert student_link["value"].startswith("http://127.0.0.1:7860/?class=") and "&lesson=2" in student_link["value"]
    key = teacher_link["value"].split("?teacher=")[1]
    code = student_link["value"].split("class=")[1].split("&")[0]
    served.share_prediction(code, "ntk", "student", 0)
    asked = teacher.on_delete_ask(key)
    assert asked[teacher.view.confirm]["visible"] and "and its 1 answers?" in asked[teacher.view.confirm_note]
    assert served.report(key) is not None  # asking deletes nothing
    deleted = teacher.on_delete(key)
    assert "deleted" in deleted[teacher.view.header] and deleted[teacher.view.timer].active is False
    assert served.report(key) is None
    for _ in range(3):
        teacher.on_create("ntk", FakeRequest(session="teacher-b"))
    refused, hidden, _ = teacher.on_create("ntk", FakeRequest(session="teacher-b"))
    assert "several classes" in refused and hidden["visible"] is False
