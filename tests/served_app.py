"""`python app.py` served on a free local port for a test module (the browser tests, the API test),
and Debian's headless Chromium for those that drive a page."""
import contextlib
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
# The lessons tab's load event has run (it marks the question) and no progress bar lies over the question
# (it takes clicks; on a loaded machine it stayed 30 s and more)
PAGE_LOADED = ("!!document.querySelector('#lesson-question.lesson-loaded')"
               " && !document.querySelector('#lesson-card .eta-bar')")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served_app(log_name: str, **settings: str):
    """The app's URL while it runs, with `settings` as environment variables (SPECTRAL_LAB_*); its
    output goes to test-artifacts/`log_name`. Fails the test when it does not answer within 90 s, and
    the module when its log holds a traceback once the server has stopped."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False",
           "SPECTRAL_LAB_PRERECORD": "none",  # no background recording beside a test's own runs, unless asked
           **settings}
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / log_name, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        try:
            _wait_for(url, process, ARTIFACTS / log_name)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    text = (ARTIFACTS / log_name).read_text()
    if "Traceback" in text:  # a request the server could not handle: a bug, even when the page looked fine
        pytest.fail(f"a traceback in the server's log ({log_name}):\n{text[text.index('Traceback'):][:3000]}")


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail(f"app did not start; see {log}")
            time.sleep(0.5)


@contextlib.contextmanager
def headless_chromium(playwright_api):
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
