"""A teacher's class in a real browser (Playwright + Debian's chromium against `python app.py`, 1280×720):
a teacher makes a class, a student answers a lesson from the class link, 30 simulated students answer
across the lessons, and the teacher's view charts them live, then deletes the class.

Skips when Playwright or /usr/bin/chromium is missing. Screenshots go to test-artifacts/class-*.png.
Every wait is keyed to page state with a generous ceiling (a loaded 2-core machine), never a fixed sleep.
"""
import sqlite3
from pathlib import Path

import pytest

from served_app import ARTIFACTS, CHROMIUM, PAGE_LOADED, headless_chromium, served_app

FIRST_SCREEN = (1280, 720)

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return tmp_path_factory.mktemp("class") / "classes.sqlite3"


@pytest.fixture(scope="module")
def app_url(database):
    with served_app("app-class.log", SPECTRAL_LAB_CONCURRENCY="1", SPECTRAL_LAB_CALIBRATE="0",
                    SPECTRAL_LAB_CLASS_DB=str(database), OMP_NUM_THREADS="1") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(playwright_api) as browser:
        yield browser


def _page(browser, url):
    page = browser.new_context(viewport={"width": FIRST_SCREEN[0], "height": FIRST_SCREEN[1]}).new_page()
    page.goto(url)
    page.wait_for_selector("#lesson-question", timeout=30_000)
    return page


def _wait_until(page, expression, timeout, arg=None):
    page.wait_for_function(expression, arg=arg, timeout=timeout, polling=250)


def _make_class(browser, app_url):
    """The teacher's two links, as "For teachers" on the Lessons tab shows them."""
    page = _page(browser, app_url + "?lesson=2")
    # the link's lesson is loaded before the teacher presses (the student link names it)
    _wait_until(page, "document.querySelector('#lesson-text').innerText.includes('Lesson 2')", 30_000)
    page.get_by_text("For teachers: see your class's predictions").click()
    page.click("#class-create")
    _wait_until(page, "(document.querySelector('#class-teacher-link textarea')?.value || '').includes('teacher=')",
                30_000)
    student = page.locator("#class-student-link textarea").input_value()
    teacher = page.locator("#class-teacher-link textarea").input_value()
    page.evaluate("document.querySelector('#class-teacher-link').scrollIntoView({block: 'end'})")
    page.screenshot(path=str(ARTIFACTS / "class-teacher-makes-a-class.png"))
    assert "Save the teacher link now" in page.inner_text("#class-create-message")
    page.context.close()
    return student, teacher


def _simulate_class(database, code, students=30):
    """30 students answering across the lessons as a class in progress (all of lesson 1, fewer later),
    written by another process's connections, as another server worker would."""
    from spectral_lab.lab.classroom import Classroom
    from spectral_lab.lab.lessons import LESSONS

    classroom = Classroom(database)
    for i in range(students):
        for number, lesson in enumerate(LESSONS.values()):
            if i >= students - 4 * number:  # 30, 26, 22, ... students reached lesson n
                continue
            wrong = (lesson.expected + 1 + i % 2) % len(lesson.choices)
            answer = lesson.expected if i % 3 else wrong  # two thirds predicted what the run shows
            classroom.share_prediction(code, lesson.key, f"simulated-{i}", answer)
            if i % 4:  # most have run it
                classroom.share_shown(code, lesson.key, f"simulated-{i}", lesson.expected)


def test_a_class_from_the_teachers_link_to_a_students_answer_to_the_live_chart(browser, app_url, database):
    student_link, teacher_link = _make_class(browser, app_url)
    code = student_link.split("class=")[1].split("&")[0]
    assert "&lesson=2" in student_link and len(teacher_link.split("teacher=")[1]) == 32

    # a student's lesson on the class link: the shared line in the question's small print, which moves
    # Run down by at most two short lines (the lesson's own words decide whether Run is in the first screen)
    plain = _page(browser, app_url + "?lesson=2")
    _wait_until(plain, "document.querySelector('#lesson-text').innerText.includes('Lesson 2')", 30_000)
    run_without_class = plain.locator("#lesson-run").bounding_box()["y"]
    plain.context.close()
    student = _page(browser, student_link)
    _wait_until(student, "(document.querySelector('#lesson-question')?.innerText || '').includes('anonymously')",
                30_000)
    assert student.locator("#lesson-run").bounding_box()["y"] - run_without_class <= 40
    assert not student.locator("#lesson-class-note").is_visible()
    student.locator("#lesson-question").scroll_into_view_if_needed()
    student.screenshot(path=str(ARTIFACTS / "class-student-before-run.png"))
    student.evaluate("window.scrollTo(0, 0)")
    student.screenshot(path=str(ARTIFACTS / "class-student-first-screen.png"))
    tabs = student.locator("button[role=tab]").all_inner_texts()
    assert "Lessons" in " ".join(tabs) and "Your class" not in " ".join(tabs), tabs  # no class tab for a student
    _wait_until(student, PAGE_LOADED, 180_000)  # the load events' progress bar takes clicks until they end
    student.get_by_label("the part along the eNTK's large-λ eigenvectors").check()
    _wait_until(student, "!document.querySelector('#lesson-run').disabled", 30_000)
    student.click("#lesson-run")
    _wait_until(student, "(document.querySelector('#lesson-class-note')?.innerText || '').includes('shared "
                         "anonymously with class')", 30_000)
    _wait_until(student, "(document.querySelector('#lesson-takeaway')?.innerText || '').includes('Takeaway')",
                300_000)
    student.locator("#lesson-run").scroll_into_view_if_needed()
    student.screenshot(path=str(ARTIFACTS / "class-student-lesson.png"))
    with sqlite3.connect(database) as db:
        stored = db.execute("SELECT lesson, answer, shown FROM answers").fetchall()
    assert stored == [("ntk", 0, 0)], stored  # the prediction and what the run showed

    # the teacher's view: 30 simulated students, live
    _simulate_class(database, code.replace("-", ""))
    teacher = _page(browser, teacher_link)
    _wait_until(teacher, "(document.querySelector('#class-header')?.innerText || '').includes('from 31 students')",
                30_000)
    for number in range(1, 7):
        _wait_until(teacher, f"document.querySelector('#class-chart-{number} .js-plotly-plot .bglayer') !== null",
                    30_000)
    teacher.wait_for_timeout(500)
    teacher.screenshot(path=str(ARTIFACTS / "class-teacher-view.png"))
    teacher.screenshot(path=str(ARTIFACTS / "class-teacher-view-full.png"), full_page=True)
    problems = teacher.evaluate((Path(__file__).parent / "layout_check.js").read_text())
    assert not problems, problems
    header = teacher.inner_text("#class-header")
    _simulate_class(database, code.replace("-", ""), students=32)  # two more arrive: the view refreshes alone
    _wait_until(teacher, "(document.querySelector('#class-header')?.innerText || '').includes('from 33 students')",
                30_000)
    assert header != teacher.inner_text("#class-header")

    # deleting asks first, then the class and its answers are gone
    teacher.click("#class-delete")
    _wait_until(teacher, "(document.querySelector('#class-confirm')?.innerText || '').includes('Delete class')", 10_000)
    teacher.screenshot(path=str(ARTIFACTS / "class-teacher-delete-asks.png"))
    teacher.click("#class-delete-yes")
    _wait_until(teacher, "document.querySelector('#class-header').innerText.includes('deleted')", 10_000)
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone() == (0,)
    assert "Traceback" not in (ARTIFACTS / "app-class.log").read_text()


def test_a_wrong_teacher_key_opens_nothing(browser, app_url):
    page = _page(browser, app_url + "?teacher=" + "A" * 32)
    _wait_until(page, "(document.querySelector('#class-header')?.innerText || '').includes('No class opens')", 30_000)
    assert page.locator("#class-chart-1 .js-plotly-plot").count() == 0
    assert page.locator("#class-delete").is_hidden()
