"""The README's teacher link on a server whose speed calibration reads slow (issue 35, part 5): the
real app, driven by gradio_client through `/train_link` (the Train button's path), with every cost
×17 (SPECTRAL_LAB_RATE_SCALE, test-only: the issue's start that said "about 13.8 h here … lower the
size" and then trained 512² × 500 steps). It must shrink the run or refuse it in one line, never
start it with an estimate over the budget."""
import re

import pytest

from served_app import served_app

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client():
    with served_app("served-estimates.log", SPECTRAL_LAB_CALIBRATE="0", SPECTRAL_LAB_RATE_SCALE="17",
                    SPECTRAL_LAB_RUN_BUDGET_S="60", SPECTRAL_LAB_CONCURRENCY="1", SPECTRAL_LAB_PRERECORD="none",
                    OMP_NUM_THREADS="1") as url:
        yield gradio_client.Client(url, verbose=False)


def test_the_teacher_link_on_a_slow_server_trains_shrunk_within_the_budget(client):
    statuses = [update[0] for update in client.submit("?signal=camera&methods=relu,siren&hide=controls,presets",
                                                      api_name="/train_link")]
    shrunk = [s for s in statuses if "instead of 512² and 500" in s]
    assert shrunk, statuses[:3]
    planned = re.search(r"~(\d+) s instead of ~[\d.]+ h here \(this server allows 60 s a run\)", shrunk[0])
    assert planned and int(planned.group(1)) <= 60, shrunk[0]
    assert not any("/500" in s or "over this server" in s for s in statuses)  # never 500 steps, never advice
    assert statuses[-1].startswith("**Finished**: 2 method(s)"), statuses[-1]


def test_a_size_the_link_sets_that_cannot_fit_is_refused_in_one_line_before_any_work(client):
    statuses = [update[0] for update in client.submit("?signal=camera&image_size=512&methods=relu,siren",
                                                      api_name="/train_link")]
    refusal = statuses[-1]
    assert refusal.startswith("⚠️ Not started: relu, siren on camera") and "\n" not in refusal, statuses
    assert "even at 512² and 50 steps" in refusal and "lower the image size" in refusal
    assert not any(s.startswith(("Training", "Starting")) for s in statuses)
