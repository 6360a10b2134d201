"""The background recorder of a class's runs (spectral_lab.lab.prerecord): it takes a training slot only
when nobody waits for one, stops for a visitor who joins the line, and tries again after them."""
import threading
import time

from spectral_lab.lab.prerecord import Job, LessonDemand, Prerecorder, VisitorActivity, wanted
from spectral_lab.lab.slots import TrainingSlots


def test_what_the_setting_asks_to_record():
    assert wanted("1", "all") and wanted("4.3", "all")
    assert not wanted("1", "none") and not wanted("1", "0") and not wanted("1", "")
    assert wanted("1", "1,2.2") and wanted("2.2", "1,2.2")
    assert not wanted("2", "1,2.2") and not wanted("1.1", "1,2.2")


def _slot_job(slots: TrainingSlots, log: list, holding: threading.Event, steps: int = 200) -> Job:
    """A job that holds a slot for `steps` × 10 ms, stopping (False) when a visitor waits."""
    def record(visitor_waits) -> bool:
        turn = slots.enter("recording", 2.0)
        try:
            for _ in slots.wait(turn):
                pass
            holding.set()
            for _ in range(steps):
                if visitor_waits():
                    log.append("stopped")
                    return False
                time.sleep(0.01)
            log.append("recorded")
            return True
        finally:
            slots.leave(turn)
    return Job("1", record)


def test_a_visitor_who_joins_the_line_gets_the_slot_and_the_recording_is_made_after_them():
    slots, log, holding = TrainingSlots(1), [], threading.Event()
    recorder = Prerecorder(slots, [_slot_job(slots, log, holding)], poll=0.01)
    thread = recorder.start()
    assert holding.wait(10)
    visitor = slots.enter("a visitor's run", 1.0)
    assert visitor.granted.wait(10), "the background run kept the slot from a visitor"
    assert log == ["stopped"] and recorder.status.all_ready_s is None
    time.sleep(0.1)
    assert log == ["stopped"], "the recorder went on while the visitor trained"
    slots.leave(visitor)
    thread.join(20)
    assert log == ["stopped", "recorded"] and recorder.status.done == ["1"]
    assert "all 1 runs recorded" in recorder.status.line()


def test_nothing_is_recorded_while_a_visitor_waits_for_a_slot():
    slots, log, holding = TrainingSlots(1), [], threading.Event()
    busy = slots.enter("a visitor's run", 1.0)
    recorder = Prerecorder(slots, [_slot_job(slots, log, holding, steps=1)], poll=0.01)
    thread = recorder.start()
    time.sleep(0.2)
    assert not holding.is_set()  # the slot is the visitor's: the recorder waits for an idle one
    slots.leave(busy)
    thread.join(20)
    assert log == ["recorded"]


def test_a_job_that_fails_is_logged_and_the_others_go_on(caplog):
    def broken(_):
        raise RuntimeError("a bug")
    recorder = Prerecorder(TrainingSlots(1), [Job("1", broken), Job("2", lambda _: True)], poll=0.01)
    recorder.run()
    assert recorder.status.done == ["1", "2"] and "recording 1 failed" in caplog.text


def test_a_follow_up_is_recorded_under_the_key_its_link_looks_up_however_fast_the_server_reads(monkeypatch):
    """A follow-up trains as its lesson wrote it: its recording's key cannot depend on the speed estimate
    (a plan shrunk by the estimate recorded 1.1 under one step count and looked it up under another)."""
    from spectral_lab.lab.estimate import RATES
    from spectral_lab.ui.lab.runs import recording_key
    from spectral_lab.ui.prerecord import followup_run

    keys = {number: recording_key(followup_run(number)) for number in ("1.1", "4.3")}
    monkeypatch.setattr(RATES, "costs", {key: cost * 1000 for key, cost in RATES.costs.items()})
    monkeypatch.setattr(RATES, "cost", lambda method, device: 1e-6)  # a server that reads ~10⁴× slow
    assert {number: recording_key(followup_run(number)) for number in keys} == keys
    assert "steps=200" in keys["1.1"][1] and "width=512" in keys["1.1"][1]  # as the lesson wrote it


def test_jobs_decided_later_run_after_the_first_ones():
    order = []
    job = lambda name: Job(name, lambda _: order.append(name) or True)  # noqa: E731
    recorder = Prerecorder(TrainingSlots(1), [job("1"), job("2")], poll=0.01, later=lambda: [job("1.1"), job("c")])
    recorder.run()
    assert order == ["1", "2", "1.1", "c"] and recorder.status.all_ready_s is not None


def test_each_lessons_slowest_follow_up_is_recorded_first_in_lesson_order_then_the_rest_slowest_first(monkeypatch):
    from spectral_lab.ui import prerecord

    monkeypatch.setenv("SPECTRAL_LAB_PRERECORD", "1.1,1.2,2.2,4.2,4.3,5.2")
    assert prerecord._estimated_seconds("2.2") > 0  # the plan's own estimate (this machine's rates decide)
    estimates = {"1.1": 28.0, "1.2": 8.0, "2.2": 1.0, "4.2": 20.0, "4.3": 32.0, "5.2": 44.0}
    monkeypatch.setattr(prerecord, "_estimated_seconds", estimates.get)
    assert [job.name for job in prerecord.later_jobs(calibrate=True)] == ["1.1", "2.2", "4.3", "5.2", "4.2", "1.2",
                                                                          "calibration"]


def test_a_visitors_run_in_the_other_slot_pauses_the_background_run_until_it_ends():
    """Two slots: a visitor's run beside a recording shared the cores (a follow-up took 77 s instead of ~30 s).
    The recording pauses meanwhile, and does not start while a visitor trains."""
    slots, log, holding = TrainingSlots(2), [], threading.Event()
    recorder = Prerecorder(slots, [_slot_job(slots, log, holding, steps=30)], poll=0.01)
    visitor = slots.enter("a visitor's run", 1.0)
    thread = recorder.start()
    time.sleep(0.2)
    assert not holding.is_set()  # a slot is free, but a visitor trains: no recording starts
    slots.leave(visitor)
    assert holding.wait(10)
    visitor = slots.enter("a visitor's run", 1.0)
    assert visitor.granted.wait(1)  # the other slot, at once (nobody waits: the recording is not stopped)
    time.sleep(0.5)  # 30 × 10 ms would have ended by now
    assert log == [] and thread.is_alive(), "the recording went on beside the visitor's run"
    slots.leave(visitor)
    thread.join(20)
    assert log == ["recorded"]


def test_no_background_run_starts_while_the_server_serves_a_class():
    clock = [0.0]
    visitors = VisitorActivity(clock=lambda: clock[0])
    started = []
    recorder = Prerecorder(TrainingSlots(1), [Job("1", lambda _: started.append(clock[0]) or True)], poll=0.01,
                           visitors=visitors)
    visitors.touch()  # a page served at t = 0
    thread = recorder.start()
    time.sleep(0.1)
    assert not started  # the class is being served
    clock[0] = 2.5  # quiet since
    thread.join(5)
    assert started == [2.5]


def test_the_follow_ups_of_the_lesson_a_class_runs_go_before_the_others_then_the_order_resumes():
    order, demand = [], LessonDemand()
    job = lambda name: Job(name, lambda _: order.append(name) or True)  # noqa: E731
    lessons, follow_ups = ["1", "2"], ["1.1", "3.2", "4.3", "5.2", "4.1", "1.2", "calibration"]

    def record(demand):
        order.clear()
        Prerecorder(TrainingSlots(1), [job(name) for name in lessons], poll=0.01, demand=demand,
                    later=lambda: [job(name) for name in follow_ups]).run()
        return order

    for number in (4, 1, 4):  # lesson 4 asked again: the latest
        demand.ask(number)
    assert record(demand) == ["1", "2", "4.3", "4.1", "1.1", "1.2", "3.2", "5.2", "calibration"]  # lessons first
    assert record(LessonDemand()) == lessons + follow_ups  # nobody asked: the order as given
