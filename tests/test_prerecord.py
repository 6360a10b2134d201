"""The background recorder of a class's runs (spectral_lab.lab.prerecord): it takes a training slot only
when nobody waits for one, stops for a visitor who joins the line, and tries again after them."""
import threading
import time

from spectral_lab.lab.prerecord import Job, Prerecorder, wanted
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
