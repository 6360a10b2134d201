"""The CNN lesson's follow-ups recorded like the lab's (issue 35): the background recording from start-up
(ui/prerecord.py) stores the predictor a follow-up's link trains, under the key a student's click in the CNN
tab computes, and the click is served from it without training; a click while it trains waits for it. In
process, at 50 steps (the served page: test_served_prerecord.py)."""
import contextlib
import json
import threading
from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from threadpoolctl import threadpool_limits

from spectral_lab.lab.recordings import Recordings
from spectral_lab.ui import nern, prerecord

STEPS = 50  # the Steps slider's smallest value: a few seconds a predictor


class FakeRequest:
    def __init__(self, query, session):
        self.query_params, self.session_hash, self.headers = dict(query), session, {}


@pytest.fixture(scope="module")
def recorded():
    """Follow-up 6.1 recorded by its background job, at STEPS steps (as SPECTRAL_LAB_LESSON_STEPS makes it),
    in a store of this module's own; `builds` lists every predictor built since (a click that trains builds
    one; a served click none)."""
    builds = []

    class Counted(nern.NernRun):
        def __init__(self, config, *args, **kwargs):
            builds.append(config)
            super().__init__(config, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch, one_thread():
        store = Recordings()
        for module in (nern, prerecord):
            patch.setattr(module, "FOLLOWUP_RECORDINGS", store)
            patch.setattr(module, "NernRun", Counted)
        patch.setattr(nern, "FOLLOWUP_STEPS", STEPS)
        assert prerecord.cnn_followup_job("6.1").record(lambda: False) is True
        yield SimpleNamespace(store=store, builds=builds, key=nern.recording_key(nern.followup_config("6.1")))


@contextlib.contextmanager
def one_thread():
    """One torch thread and one BLAS thread (the eNTK's eigenvalues), as the served app runs (OMP_NUM_THREADS=1):
    on the 2-core machine shared with other jobs, two of each made a 50-step predictor 4× slower (9 s, not 2)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def page_knobs(query: dict) -> list:
    """The knobs' values a page sends with its autorun: the built tab's own values, then the link's (on_link)."""
    with gr.Blocks():
        tab = nern.build_tab(1)
    values = [knob.value for knob in tab.knobs]
    linked = nern.on_link(FakeRequest(query, "page"))
    return [value if linked_value == gr.skip() else linked_value for value, linked_value in zip(values, linked)]


def click(number: str, session: str, table: list | None = None) -> list:
    """A student opening `?followup=N`: its autorun's outputs."""
    query = {"followup": number}
    return list(nern.on_autorun(FakeRequest(query, session), table or [], *page_knobs(query)))


def traces(panel) -> int:
    return len(json.loads(panel.plot)["data"])


@pytest.mark.parametrize("steps", [None, STEPS])
def test_the_background_recording_s_key_is_the_key_a_student_s_click_computes(monkeypatch, steps):
    monkeypatch.setattr(nern, "FOLLOWUP_STEPS", steps)
    for number in nern.follow_ups():
        clicked = nern._config(*page_knobs({"followup": number}))
        assert nern.recording_key(clicked) == nern.recording_key(nern.followup_config(number)), number
        assert nern._records(clicked)
    own_order, wider = nern.followup_config("6.1"), nern.followup_config("6.3")
    # the links' α = β = 0 (the reconstruction loss alone, as the lesson trains) reach the knobs
    assert own_order.feature_weight == own_order.kd_weight == 0 and wider.feature_weight == 0
    assert (own_order.smoothing, own_order.hidden, wider.hidden) == ("none", 24, 96)
    assert own_order.steps == (steps or 300)
    assert not nern._records(own_order.replace(seed=1))  # changed settings train live, unrecorded


def test_a_cnn_follow_up_recorded_in_the_background_is_served_to_each_click_without_training(recorded):
    assert len(recorded.builds) >= 1 and recorded.store.has(recorded.key)
    built = len(recorded.builds)
    first = click("6.1", "first")
    theirs = [{**first[0][6][0], "setting": "pe+nern", "hidden": 16}]  # the third student's own earlier run
    kept = [dict(row) for row in theirs]
    third = click("6.1", "third", table=theirs)
    assert len(recorded.builds) == built, "a click of a recorded follow-up trained it again"
    for outputs, rows in ((first, 1), (third, 2)):
        assert len(outputs) == 1  # the recorded run's final frame, every panel at once
        status, curves, spectra, ntk, table, cr_plot, state = outputs[0]
        assert status.startswith("**Finished**") and status.count("recorded on this server") == 1
        assert min(traces(curves), traces(spectra), traces(ntk)) >= 1 and len(cr_plot.data) >= 1
        assert len(table) == rows == len(state) and state[-1]["setting"] == "rff+none"
    assert theirs == kept and third[0][6][0] == kept[0]  # the third's table: theirs, not changed in place
    assert len(first[0][6]) == 1  # nothing of the third's table reached the first
    assert all(a is not b for a, b in zip(first[0][1:4], third[0][1:4]))  # each viewer its own copy
    # Train with the same settings (no link) is served too
    served = list(nern.on_train(FakeRequest({}, "trains"), [], *page_knobs({"followup": "6.1"})))
    assert len(recorded.builds) == built and "recorded on this server" in served[-1][0]


def test_a_click_while_the_follow_up_records_waits_for_that_run(recorded):
    store, key, built = recorded.store, recorded.key, len(recorded.builds)
    recording = store.lookup(key)
    store.clear()
    assert store.claim(key)[0]  # the background recording (or a first student) trains it now
    assert prerecord.cnn_followup_job("6.1").record(lambda: False) is True  # not trained twice
    outputs, done = [], threading.Event()

    def student():
        query = {"followup": "6.1"}
        for frame in nern.on_autorun(FakeRequest(query, "second"), [], *page_knobs(query)):
            outputs.append(frame)
        done.set()
    threading.Thread(target=student, daemon=True).start()
    assert not done.wait(1.5) and [frame[0] for frame in outputs] == [nern.RECORDING_ELSEWHERE]  # said once
    store.store(key, recording)  # that run ends: the waiting student is served it
    assert done.wait(10) and len(recorded.builds) == built
    assert "recorded on this server" in outputs[-1][0] and len(outputs[-1][6]) == 1


def test_a_background_cnn_run_gives_way_to_a_visitor_and_is_tried_again(recorded):
    key = nern.recording_key(nern.followup_config("6.3"))
    assert prerecord.cnn_followup_job("6.3").record(lambda: True) is False  # a visitor waits: stopped
    assert not recorded.store.has(key) and not recorded.store.training(key)  # released: tried again later


def test_the_cnn_follow_ups_come_last_before_the_calibration_and_as_asked(monkeypatch):
    monkeypatch.setenv("SPECTRAL_LAB_PRERECORD", "1.2,6.3")
    monkeypatch.setattr(prerecord, "_estimated_seconds", lambda number: 1.0)
    assert [job.name for job in prerecord.later_jobs(calibrate=True)] == ["1.2", "6.3", "calibration"]
    monkeypatch.setenv("SPECTRAL_LAB_PRERECORD", "6.1")
    assert [job.name for job in prerecord.cnn_followup_jobs()] == ["6.1"] and not prerecord.wanted_follow_ups()


def test_stop_while_a_cnn_run_waits_for_a_slot_leaves_the_line(recorded, monkeypatch):
    """Every slot busy: the CNN tab's Train waits in line, and Stop takes it out of the line (it stayed there
    and trained once a slot freed)."""
    from spectral_lab.lab.slots import TrainingSlots

    slots = TrainingSlots(1)
    monkeypatch.setattr(nern, "SLOTS", slots)
    busy = slots.enter("another visitor's run", 60.0)
    outputs, done = [], threading.Event()

    def student():
        for frame in nern.on_train(FakeRequest({}, "waits"), [], *page_knobs({"followup": "6.3"})):
            outputs.append(frame)
        done.set()
    threading.Thread(target=student, daemon=True).start()
    for _ in range(100):  # built, then in line
        if slots.waiting():
            break
        done.wait(0.1)
    assert slots.waiting() == 1 and not done.is_set()
    nern.on_stop(FakeRequest({}, "waits"))
    assert done.wait(5) and slots.waiting() == 0, "Stop left the run in line"
    assert outputs[-1][0].startswith("**Cancelled**"), outputs[-1][0]
    slots.leave(busy)
