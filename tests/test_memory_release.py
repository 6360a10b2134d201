"""A server that runs all day: what a closed tab owned is released, and every cache has a byte budget.

The app's own callbacks as plain functions with a fake request carrying a session hash (as
tests/test_app.py); weak references prove nothing of a closed session survives. bench/bench_soak.py
measures the same in a real browser, in MB.
"""
import gc
import os
import threading
import time
import weakref
from collections import OrderedDict
from datetime import datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
from spectral_lab.lab import Sessions  # noqa: E402
from spectral_lab.lab.allocator import limit_arenas, malloc_info, release_memory  # noqa: E402
from spectral_lab.lab.budget import ByteBudget, budget_bytes  # noqa: E402
from spectral_lab.lab.files import CacheSweeper  # noqa: E402
from spectral_lab.lab.recordings import Recordings  # noqa: E402
from spectral_lab.lab.replay import REPLAY_GONE, Replays  # noqa: E402
from spectral_lab.ui import build_demo, lab as app_lab, lessons as app_lessons, session_end  # noqa: E402

TINY = {"signal": "sines", "length": "256", "width": "16", "depth": "1", "steps": "20", "ntk_points": "64",
        "methods": "siren,relu"}


@pytest.fixture(scope="module", autouse=True)
def demo():
    return build_demo()  # creates the components the callbacks address


class FakeRequest:
    def __init__(self, session, query=None):
        self.query_params = query or {}
        self.headers = {"referer": "http://127.0.0.1:7860/"}
        self.session_hash = session


def _train(session: str) -> list:
    """A visitor opens a tiny link and presses Train; returns the updates."""
    request = FakeRequest(session, TINY)
    values = app_lab.on_load(request)[:len(app_lab.CONTROL_FIELDS) + 1]
    app_lab.on_queue(request)
    return list(app_lab.on_train(request, None, [], "each", False, *values))


def test_a_closed_tab_leaves_nothing_of_its_session_behind():
    before = session_end.held()  # other tests' sessions in this process stay as they are
    updates = _train("closing")
    assert updates[-1][app_lab.ui.status].startswith("**Finished**")
    _train("staying")  # another visitor, still here: untouched by the first one's closing
    request = FakeRequest("closing")
    live = app_lab.FINISHED.get("closing")
    folders = [p for p in map(os.path.dirname, live.downloads.values())]
    refs = [weakref.ref(x) for x in (live, live.signal, *live.views)]
    app_lab.on_replay(10, request)  # scrubbed, and a lesson picked: per-session state in two tabs
    app_lessons.on_pick("ntk", request)
    assert "closing" in app_lessons.CONTEXT.generations and "closing" in app_lab.FOLDERS
    del live, updates
    session_end.on_unload(request)  # the page's unload event
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)  # the comparison, its signal and views: gone
    assert "closing" not in app_lab.FINISHED and "closing" not in app_lab.FOLDERS
    assert "closing" not in app_lessons.CONTEXT.generations
    assert not any(os.path.exists(folder) for folder in folders)  # its downloads' temp folder
    assert app_lab.SESSIONS.running("closing") is None
    assert app_lab.FINISHED.get("staying") is not None  # the other visitor keeps theirs
    session_end.on_unload(FakeRequest("staying"))
    after = session_end.held()
    assert (after["lab_comparisons"], after["lab_folders"]) == (before["lab_comparisons"], before["lab_folders"])


def test_a_run_still_queued_when_its_tab_closes_never_starts():
    request = FakeRequest("gone-while-queued", TINY)
    values = app_lab.on_load(request)[:len(app_lab.CONTROL_FIELDS) + 1]
    app_lab.on_queue(request)
    session_end.on_unload(request)  # closed before the queue reached the run
    updates = list(app_lab.on_train(request, None, [], "each", False, *values))
    assert "Cancelled" in updates[-1][app_lab.ui.status]
    assert "gone-while-queued" not in app_lab.FINISHED and session_end.held()["train_queued"] == 0
    app_lab.on_queue(request)  # a Train click of it again: the tab is open after all (a connection back)
    assert not app_lab.SESSIONS.cancelled("gone-while-queued")
    app_lab.SESSIONS.discard("gone-while-queued")


def test_an_evicted_replay_says_so_in_one_line_on_every_replay_control():
    budget = app_lab.FINISHED.budget
    limit, budget.limit = budget.limit, 0  # room for one comparison's replay only: the newest
    try:
        _train("old-run")
        _train("new-run")
        request = FakeRequest("old-run")
        assert app_lab.on_replay(5, request) == {app_lab.ui.status: REPLAY_GONE}
        assert app_lab.on_live(request)[app_lab.ui.status] == REPLAY_GONE
        assert all(update[app_lab.ui.status] == REPLAY_GONE for update in app_lab.on_play(0, request))
        assert app_lab.on_details("relu", request)[app_lab.ui.activations] is not None  # the end still shows
        assert app_lab.ui.status not in app_lab.on_replay(5, FakeRequest("new-run"))  # the newest scrubs
        _train("old-run")  # trained again: its replay is back
        assert app_lab.ui.status not in app_lab.on_replay(5, request)
    finally:
        budget.limit = limit
        for session in ("old-run", "new-run"):
            session_end.on_unload(FakeRequest(session))


def test_replays_evict_the_least_recently_used_finished_one_never_a_running_one():
    def comparison(nbytes: int, running: bool = False):
        view = SimpleNamespace(predictions=[(0, np.zeros(nbytes, np.uint8))], ntk_history=[], error_history=[],
                               activation_history=[])
        return SimpleNamespace(views=[view], stopping=not running)

    replays = Replays(ByteBudget("replays", limit=2500))
    replays["a"], replays["b"] = comparison(1000), comparison(1000, running=True)
    replays.get("a")  # a used since b: b would go first, but b is still training
    replays["c"] = comparison(1000)
    assert replays.get("b").views[0].predictions and replays.get("c").views[0].predictions
    gone = replays.get("a")
    assert gone.frame_at(3).status == REPLAY_GONE and gone.views[0].predictions == []
    assert replays.nbytes == 2000 and replays.budget.evicted == 1
    replays.pop("a")
    assert "a" not in replays and len(replays) == 2


def test_byte_budget_keeps_the_newest_even_alone_over_and_names_what_it_evicted():
    evicted = []
    budget = ByteBudget("replays", limit=100)
    budget.charge("x", 60, on_evict=lambda: evicted.append("x"))
    budget.charge("y", 30, on_evict=lambda: evicted.append("y"))
    budget.touch("x")
    assert budget.charge("z", 40) == ["y"] and evicted == ["y"]  # y was the least recently used
    assert budget.charge("huge", 500) == ["x", "z"] and "huge" in budget  # kept: a cache that keeps nothing serves nobody
    budget.resize("huge", 10)
    assert budget.nbytes == 10


def test_budgets_come_from_the_environment_or_the_machine(monkeypatch):
    monkeypatch.setenv("SPECTRAL_LAB_RECORDINGS_MB", "3")
    assert Recordings().budget == 3 * 2**20
    monkeypatch.delenv("SPECTRAL_LAB_RECORDINGS_MB")
    monkeypatch.delenv("SPECTRAL_LAB_REPLAYS_MB", raising=False)
    assert budget_bytes("replays", memory=16 * 2**30) == 2**30  # 1/16 of 16 GB
    assert budget_bytes("replays", memory=2**30) == 256 * 2**20  # the floor on a small machine
    assert budget_bytes("recordings", memory=2**40) == 2**30  # the ceiling on a big one
    assert session_end.gradio_capacity() >= 100


def test_closed_tabs_gradio_state_is_dropped_after_the_grace_unless_used_again():
    holder = SimpleNamespace(session_data=OrderedDict(gone=object(), back=object(), open=object()),
                             time_last_used={}, lock=threading.Lock())
    closed = session_end.ClosedTabs(grace=0.3)
    now = datetime.now()
    holder.time_last_used.update(gone=now, back=now, open=now)
    closed.closed("gone", holder)
    closed.closed("back", holder)
    holder.time_last_used["back"] = now + timedelta(seconds=10)  # its connection came back and it was used
    deadline = time.time() + 10
    while "gone" in holder.session_data and time.time() < deadline:
        time.sleep(0.05)
    assert list(holder.session_data) == ["back", "open"] and closed.dropped == 1
    session_end.ClosedTabs(grace=0).closed("x", None)  # outside a server (no Gradio state): nothing to do


def test_sessions_close_forgets_the_run_and_refuses_the_queued_one():
    sessions, run = Sessions(), SimpleNamespace(stopped=False)
    run.stop = lambda: setattr(run, "stopped", True)
    sessions.queue("s")
    assert sessions.start("s", run)
    sessions.queue("s")  # a second click while it runs
    sessions.close("s")
    assert run.stopped and sessions.running("s") is None and sessions.cancelled("s")
    assert not sessions.start("s", SimpleNamespace(stop=lambda: None))
    assert sessions.held() == {"running": 0, "queued": 0, "closed": 1}


def test_the_file_cache_is_swept_oldest_first_to_its_budget(tmp_path):
    for age, name in enumerate(["newest", "middle", "oldest"]):
        folder = tmp_path / f"hash-{name}"
        folder.mkdir()
        (folder / f"{name}.png").write_bytes(b"x" * 1000)
        os.utime(folder / f"{name}.png", (time.time() - 100 * age,) * 2)
    sweeper = CacheSweeper(tmp_path, budget=1500)
    assert sweeper.sweep(force=True) == 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hash-newest"]  # and the emptied folders went
    assert sweeper.sweep() == 0  # not again within its period


def test_freed_memory_can_be_handed_back():
    release_memory()  # gc + malloc_trim: no error, whatever the libc
    info = malloc_info()
    assert not info or {"heap", "in_use", "free_held"} <= set(info)
    assert limit_arenas(0) == 0  # 0: left to glibc
