"""The app in a real browser: Playwright drives headless Chromium against `python app.py`.

Skips when Playwright or /usr/bin/chromium is missing (.ci/run installs both). Screenshots go
to test-artifacts/.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "SPECTRAL_LAB_CONCURRENCY": "2"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "app.log", "w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail(f"app did not start; see {ARTIFACTS / 'app.log'}")
            time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def _open(browser, url):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    page.wait_for_selector("#train-button", timeout=30_000)
    page.wait_for_timeout(1500)  # the load event restores the link's settings
    return page


def _scroll_to(page, element_id):
    """Bring an element on screen, as a user would (Gradio draws a plot only when visible).

    Plain DOM scrolling: Playwright's scroll_into_view_if_needed waits for the element to stop
    moving, which a plot redrawn four times a second on a busy 2-core machine may never do."""
    page.wait_for_selector(f"#{element_id}", state="attached", timeout=30_000)
    page.evaluate(f"document.querySelector('#{element_id}').scrollIntoView({{block: 'center'}})")
    page.wait_for_timeout(500)


def _plot_data(page, element_id):
    """The data plotly holds for a plot, as JSON text ('' when nothing is drawn yet)."""
    _scroll_to(page, element_id)
    return page.evaluate(f"""() => {{
        const div = document.querySelector('#{element_id} .js-plotly-plot');
        return div && div.data ? JSON.stringify(div.data.map(t => [t.x, t.y, t.z])) : '';
    }}""")


def _wait_for_change(page, element_id, timeout):
    """Keep the plot on screen and wait until plotly's data differs from what is drawn now."""
    before = _plot_data(page, element_id)
    assert before, f"{element_id} shows nothing"
    page.wait_for_function(f"""(before) => {{
        const div = document.querySelector('#{element_id} .js-plotly-plot');
        return div && div.data && JSON.stringify(div.data.map(t => [t.x, t.y, t.z])) !== before;
    }}""", arg=before, timeout=timeout)


def _status(page):
    return page.inner_text("#status")


def _wait_done(page, timeout=120_000):
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('done')", timeout=timeout)


def _table_rows(page):
    """Data rows of the results grid (ARIA row 1 is the header); rendered once on screen."""
    _scroll_to(page, "results-table")
    return page.evaluate("""() => Array.from(document.querySelectorAll('#results-table [role=row]'))
        .filter(r => Number(r.getAttribute('aria-rowindex')) > 1)
        .map(r => r.innerText.replace(/\\s+/g, ' ').trim()).filter(t => t.length > 0)""")


def test_training_updates_live_panels_and_stop_stops_it(browser, app_url):
    # long enough (~1 min on 2 cores) that every panel updates more than once before Stop
    page = _open(browser, app_url + "?signal=winner_high&length=4096&width=64&depth=2&steps=5000&methods=siren2")
    page.click("#train-button")
    page.wait_for_function("document.querySelector('#status').innerText.includes('step')", timeout=60_000)
    page.wait_for_function("document.querySelector('#ntk-plot .js-plotly-plot') !== null", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "training-early.png"), full_page=True)
    for name in ("curves-plot", "ntk-plot", "error-plot"):
        _wait_for_change(page, name, timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "training-later.png"), full_page=True)
    page.click("#stop-button")
    _wait_done(page, timeout=30_000)
    stopped = _status(page)
    assert "stopped" in stopped
    curve = _plot_data(page, "curves-plot")
    page.wait_for_timeout(2000)
    assert _plot_data(page, "curves-plot") == curve  # nothing trains after Stop
    rows = _table_rows(page)
    assert len(rows) == 1 and "stopped at step" in rows[0]
    page.screenshot(path=str(ARTIFACTS / "stopped.png"), full_page=True)


def test_compare_mode_gives_one_row_per_method_and_downloads(browser, app_url):
    page = _open(browser, app_url + "?signal=camera&image_size=32&width=32&depth=2&steps=60&methods=relu,siren")
    page.click("#train-button")
    _wait_done(page)
    rows = _table_rows(page)
    assert len(rows) == 2 and rows[0].startswith("relu") and rows[1].startswith("siren"), rows
    _scroll_to(page, "downloads")
    page.wait_for_timeout(500)
    downloads = page.inner_text("#downloads").replace("\n", "")
    assert "results.csv" in downloads and "psnr.png" in downloads, downloads
    share = page.input_value("#share-link textarea")
    assert "methods=relu%2Csiren" in share and "image_size=32" in share
    info = page.inner_text("#method-info")
    assert "Rahaman" in info and "Sitzmann" in info  # each method's paper is shown
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_modifier_checkboxes_compare_with_and_without(browser, app_url):
    page = _open(browser, app_url + "?signal=sines&length=512&width=16&depth=2&steps=40&methods=relu")
    page.get_by_label("iga: Inductive gradient adjustment", exact=False).check()
    page.click("#train-button")
    _wait_done(page)
    rows = _table_rows(page)
    assert len(rows) == 2 and rows[0].startswith("relu ") and rows[1].startswith("relu+iga"), rows


def test_two_sessions_training_at_once_do_not_see_each_other(browser, app_url):
    first = _open(browser, app_url + "?signal=sines&length=1024&width=16&depth=2&steps=150&methods=gauss")
    second = _open(browser, app_url + "?signal=camera&image_size=24&width=16&depth=2&steps=150&methods=wire")
    first.click("#train-button")
    second.click("#train-button")
    _wait_done(first)
    _wait_done(second)
    rows_first, rows_second = _table_rows(first), _table_rows(second)
    assert len(rows_first) == 1 and rows_first[0].startswith("gauss"), rows_first
    assert len(rows_second) == 1 and rows_second[0].startswith("wire"), rows_second
    assert "wire" not in _status(first) and "gauss" not in _status(second)


def test_bad_settings_show_a_message_not_a_traceback(browser, app_url):
    page = _open(browser, app_url + "?signal=camera&image_size=2000&steps=10&methods=siren")
    page.click("#train-button")
    toast = page.locator("text=limit").first
    toast.wait_for(timeout=20_000)
    body = page.inner_text("body")
    assert "Traceback" not in body and "limit" in body
    page.screenshot(path=str(ARTIFACTS / "bad-input.png"), full_page=True)


def test_nern_tab_trains_a_predictor_and_reports_accuracy_and_cr(browser, app_url):
    page = _open(browser, app_url)
    page.get_by_role("tab", name="CNN weights (NeRN / SBS)").click()
    page.wait_for_selector("#nern-train", state="visible", timeout=10_000)
    ratio_default = page.inner_text("#nern-ratio")
    assert "CR = " in ratio_default
    hidden = page.locator("#nern-hidden input[type=number]")
    hidden.fill("16")
    hidden.press("Enter")
    steps = page.get_by_label("Steps").last
    steps.fill("100")
    steps.press("Enter")
    page.click("#nern-train")
    page.wait_for_function("document.querySelector('#nern-status').innerText.startsWith('done')", timeout=120_000)
    status = page.inner_text("#nern-status")
    assert "accuracy" in status and "CR" in status, status
    # the CR shown beside the width followed it (read now: the change event has long settled)
    ratio_small = page.inner_text("#nern-ratio")
    assert ratio_small != ratio_default
    assert "CR " + ratio_small.split("CR = ")[1].split("%")[0] + "%" in status, (ratio_small, status)
    curves = _plot_data(page, "nern-curves")
    assert curves, "curves not drawn"
    _scroll_to(page, "nern-spectra")
    page.wait_for_function("document.querySelector('#nern-spectra .js-plotly-plot') !== null", timeout=20_000)
    _scroll_to(page, "nern-table")
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('#nern-table [role=row]'))
        .filter(r => Number(r.getAttribute('aria-rowindex')) > 1).map(r => r.innerText)""")
    assert len(rows) == 1 and "uos" in rows[0], rows
    assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "nern.png"), full_page=True)
