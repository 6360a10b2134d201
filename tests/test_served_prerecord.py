"""A class that starts at once (issue 35): the server records the lessons' runs and the follow-ups in the
background from its start, and serves them; a follow-up a student trains is served to the next one.
Through the real server in headless Chromium at 1280×720, by a 1st and a 3rd student. Screenshots go to
test-artifacts/prerecord-*.png."""
import time
from pathlib import Path

import pytest

from served_app import ARTIFACTS, CHROMIUM, PAGE_LOADED, headless_chromium, served_app

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

VIEWPORT = {"width": 1280, "height": 720}
LOG = "served-prerecord.log"
CEILING = 240  # s: a busy machine's ceiling for the background recording (a few seconds when idle)
STATUS = "(document.querySelector('#status')?.innerText || '')"


@pytest.fixture(scope="module")
def app_url():
    # lesson 1 at 60 steps, follow-up 2.2 (a 1D kernel run, seconds) and the CNN follow-up 6.3 (at 50 steps: the
    # CNN lesson's follow-ups take SPECTRAL_LAB_LESSON_STEPS on the Steps slider's grid) recorded from the start
    with served_app(LOG, SPECTRAL_LAB_CALIBRATE="0", SPECTRAL_LAB_CONCURRENCY="1", SPECTRAL_LAB_LESSON_STEPS="60",
                    SPECTRAL_LAB_PRERECORD="1,2.2,6.3", OMP_NUM_THREADS="1") as url:
        deadline = time.time() + CEILING
        while "prerecorded:" not in (ARTIFACTS / LOG).read_text():
            assert time.time() < deadline, "the background recording did not end"
            time.sleep(0.5)
        yield url


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(playwright_api) as browser:
        yield browser


def _visitor(browser, url: str):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(url)
    page.wait_for_function(PAGE_LOADED, timeout=180_000, polling=250)
    return page


def test_the_server_says_what_it_recorded_in_the_background(app_url):
    log = (ARTIFACTS / LOG).read_text()
    assert "prerecorded: all 3 runs recorded" in log, log[-2000:]
    assert "ready for a class: follow-up 6.3" in log and "recorded follow-up 6.3: CNN predictor" in log


def test_lesson_1_recorded_at_start_is_served_to_the_first_and_the_third_student(app_url, browser):
    for student in (1, 2, 3):
        page = _visitor(browser, app_url)
        if student == 2:
            continue
        page.locator("#lesson-question label").nth(0).click()
        page.wait_for_function("!document.querySelector('#lesson-run').disabled", timeout=30_000, polling=250)
        page.click("#lesson-run")
        page.wait_for_function("(document.querySelector('#lesson-takeaway')?.innerText || '').includes('Takeaway')",
                               timeout=60_000, polling=250)
        status = page.inner_text("#lesson-status")
        assert "this server trained lesson 1 once" in status, status  # served, not trained for this student
        page.wait_for_function("document.querySelectorAll('#lesson-gallery img').length === 4", timeout=20_000,
                               polling=250)  # the target and three fits, drawn a moment after the takeaway
        page.screenshot(path=str(ARTIFACTS / f"prerecord-lesson-1-student-{student}.png"))
        page.context.close()


def _follow_up(browser, url: str, number: str):
    page = _visitor(browser, url + f"?followup={number}")
    page.wait_for_function(f"{STATUS}.includes('Finished')", timeout=180_000, polling=250)
    return page


def _drawn(page, panel: str, traces: int = 2) -> None:
    """The panel's plot has at least `traces` traces (one per method)."""
    page.wait_for_function(f"(() => {{ const d = document.querySelector('#{panel} .js-plotly-plot');"
                           f" return d && d.data && d.data.length >= {traces}; }})()", timeout=20_000, polling=250)


def test_follow_up_2_2_recorded_at_start_is_served_with_every_panel(app_url, browser):
    for student in (1, 3):
        page = _follow_up(browser, app_url, "2.2")
        assert "recorded on this server" in page.inner_text("#status")
        table = page.inner_text("#results-table")
        assert "relu_pe" in table and "relu" in table, table
        _drawn(page, "recon-plot")
        for tab, panel in (("Learning over time", "curves-plot"), ("NTK & spectra", "ntk-plot")):
            page.get_by_role("tab", name=tab).click()
            _drawn(page, panel)
        page.screenshot(path=str(ARTIFACTS / f"prerecord-followup-2.2-student-{student}.png"))
        page.context.close()


def test_a_follow_up_one_student_trained_is_served_to_the_next(app_url, browser):
    first = _follow_up(browser, app_url, "2.1")
    assert "recorded on this server" not in first.inner_text("#status")  # 2.1 was not recorded at start
    psnr_first = first.inner_text("#results-table")
    third = _follow_up(browser, app_url, "2.1")
    assert "recorded on this server" in third.inner_text("#status")
    assert third.inner_text("#results-table").split("\n")[1:3] == psnr_first.split("\n")[1:3]  # the same run's rows
    first.context.close()
    third.context.close()


NERN_STATUS = "(document.querySelector('#nern-status')?.innerText || '')"
NERN_PANELS = ("nern-curves", "nern-spectra", "nern-ntk", "nern-cr-plot")


def test_cnn_follow_up_6_3_recorded_at_start_is_served_to_the_first_and_the_third_student_with_every_panel(
        app_url, browser):
    for student in (1, 2, 3):
        page = browser.new_context(viewport=VIEWPORT).new_page()
        opened = time.time()
        page.goto(app_url + "?followup=6.3")
        page.wait_for_function(f"{NERN_STATUS}.includes('Finished')", timeout=60_000, polling=250)
        seconds = time.time() - opened
        status = page.inner_text("#nern-status")
        assert status.count("recorded on this server") == 1, status  # served: nothing trained for this student
        assert seconds < 30, f"student {student} waited {seconds:.0f} s for a recorded run"
        if student == 2:
            page.context.close()
            continue
        assert page.input_value("#nern-hidden input") == "96"  # the follow-up's knobs, as the run's
        for panel in NERN_PANELS:  # every panel drawn for this student (a blank one: a shared update, consumed)
            page.locator(f"#{panel}").scroll_into_view_if_needed()
            _drawn(page, panel, traces=1)
        rows = page.evaluate("""() => Array.from(document.querySelectorAll('#nern-table [role=row]'))
            .filter(r => Number(r.getAttribute('aria-rowindex')) > 1).map(r => r.innerText)""")
        assert len(rows) == 1 and "uos" in rows[0] and "96" in rows[0], rows  # their own table: this run's row
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"prerecord-cnn-followup-6.3-student-{student}.png"))
        page.screenshot(path=str(ARTIFACTS / f"prerecord-cnn-followup-6.3-student-{student}-full.png"), full_page=True)
        page.context.close()


# A link's own parts run only when the link asks for them (page.py's link triggers): each kind of link,
# through the real page.
def test_a_teacher_s_hidden_controls_link_opens_the_lab_without_its_controls(app_url, browser):
    page = _visitor(browser, app_url + "?signal=sines&length=256&steps=20&methods=relu&hide=controls,presets")
    page.wait_for_function("document.querySelector('#signal-info')?.innerText.includes('sines')", timeout=30_000,
                           polling=250)
    assert page.locator("#train-button").is_visible()
    assert not page.locator("#preset").is_visible() and page.locator("#methods").is_visible()
    assert not page.get_by_text("Training modifiers (IGA, FR, BN)").is_visible()  # the controls' accordions
    assert "sines" in page.input_value("#share-link textarea")
    page.screenshot(path=str(ARTIFACTS / "prerecord-link-hidden-controls.png"))
    page.context.close()


def test_a_cnn_follow_up_opens_the_cnn_tab_with_its_settings_and_trains(app_url, browser):
    page = _visitor(browser, app_url + "?followup=6.1")
    # its run started (6.1 was not recorded at start); at 50 steps with the lesson's loss alone it can end
    # between two polls, so its final line counts too
    page.wait_for_function("/step|Finished/.test(document.querySelector('#nern-status')?.innerText || '')",
                           timeout=120_000, polling=250)
    assert page.input_value("#nern-hidden input") == "24"
    page.click("#nern-stop")
    page.screenshot(path=str(ARTIFACTS / "prerecord-link-cnn-follow-up.png"))
    page.context.close()


def test_a_bare_page_shows_the_lab_s_default_preset_and_makes_its_share_link_when_the_tab_opens(app_url, browser):
    page = _visitor(browser, app_url)
    page.get_by_role("tab", name="Lab: audio, images, 1D").click()
    page.wait_for_function("(document.querySelector('#share-link textarea')?.value || '').includes('methods=')",
                           timeout=30_000, polling=250)
    assert "winner_high" in page.inner_text("#signal-info") and "siren" in page.inner_text("#method-info")
    _drawn(page, "recon-plot", traces=1)  # the default preset's target, drawn in the page as served
    page.context.close()
