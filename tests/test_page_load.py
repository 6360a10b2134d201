"""A class opening a link at once (issue 35): what a page load costs the server. Gradio's session made once
and lazily (ui/gradio_session.py), the page's HTML made once per address (ui/page_cache.py), and a lesson's
page sending only its lesson's events (page.py's link triggers). Speed is benched, not tested
(bench/bench_class.py --page-loads); these check that each saving changes nothing a visitor gets."""
import asyncio
import re
import sys
import threading
from pathlib import Path

import pytest

from spectral_lab.ui import gradio_session
from spectral_lab.ui.page_cache import MAX_ADDRESSES, CachedPage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


@pytest.fixture(scope="module")
def demo():
    from spectral_lab.ui.page import build_demo

    return build_demo()


def test_a_lazy_session_configures_every_block_as_gradio_does(demo):
    from copy import copy

    blocks_config = copy(demo.default_config)
    ids = [k for k in blocks_config.blocks if k in demo.blocks]
    eager = {k: blocks_config.config_for_block(k, [], blocks_config.blocks[k]) for k in ids}
    lazy = gradio_session.LazyConfigValues(blocks_config, ids)
    assert len(dict.keys(lazy)) == 0  # nothing built up front
    first = ids[3]
    assert lazy[first] == eager[first] and len(dict.keys(lazy)) == 1
    assert dict(lazy.items()) == eager  # a deep link's page: every block, as Gradio builds it


def test_the_page_s_first_events_make_one_session(demo, monkeypatch):
    from gradio import state_holder

    made = []
    original = gradio_session._session_state_init

    def counted(self, blocks):
        made.append(1)
        original(self, blocks)

    gradio_session.install()
    monkeypatch.setattr(state_holder.SessionState, "__init__", counted)
    holder = state_holder.StateHolder()
    holder.set_blocks(demo)
    threads = [threading.Thread(target=holder.__getitem__, args=("one-page",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and list(holder.session_data) == ["one-page"]
    assert "props" in holder["one-page"].config_values[next(iter(demo.blocks))]


def _page_app(calls: list, cookie: bool = False):
    async def app(scope, receive, send):
        calls.append(scope["path"])
        headers = [(b"content-type", b"text/html")] + ([(b"set-cookie", b"a=b")] if cookie else [])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": f"page {len(calls)}".encode(), "more_body": False})
    return app


def _get(app, path="/", query=b"", host=b"lab.example", method="GET") -> bytes:
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": [(b"host", host)],
             "scheme": "http", "root_path": ""}
    asyncio.run(app(scope, None, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_page_is_made_once_per_address_whatever_the_link():
    calls = []
    app = CachedPage(_page_app(calls))
    assert _get(app, query=b"lesson=1") == b"page 1"
    assert _get(app, query=b"class=ABCD&lesson=3") == b"page 1"  # the query is read by the page's events
    assert _get(app, method="HEAD") == b""
    assert _get(app, host=b"other.example") == b"page 2"  # another address: its own page
    assert _get(app, query=b"deep_link=xyz") == b"page 3"  # Gradio's deep links: Gradio's own
    assert _get(app, path="/config") == b"page 4"
    assert calls == ["/", "/", "/", "/config"]


def test_a_page_with_a_cookie_and_forged_hosts_are_not_kept():
    calls = []
    app = CachedPage(_page_app(calls, cookie=True))
    _get(app), _get(app)
    assert len(calls) == 2
    calls, app = [], CachedPage(_page_app([]))
    for index in range(MAX_ADDRESSES * 3):
        _get(app, host=f"h{index}".encode())
    assert len(app._pages) <= 2 * MAX_ADDRESSES  # GET and HEAD per kept address


def test_the_bench_reads_a_link_as_the_page_s_script_does():
    from page_load import PAGE_KEYS, clicked_triggers

    from spectral_lab.ui.page import LINK_TRIGGERS_JS

    script_keys = set(re.search(r"new Set\(\[([^\]]*)\]\)", LINK_TRIGGERS_JS).group(1).replace('"', "").split(", "))
    assert script_keys == PAGE_KEYS
    assert clicked_triggers("?lesson=1") == set() and clicked_triggers("?class=AB&lesson=2&seed=3") == set()
    assert clicked_triggers("?followup=1.1") == {"lab", "cnn"}
    assert clicked_triggers("?teacher=k") == {"teacher"}


def test_a_lesson_s_page_sends_its_lesson_and_its_student_only(demo):
    from page_load import _load_chains

    config = demo.get_config_file()
    loads, after = _load_chains(config, "?class=ABCD&lesson=1")
    assert sorted(d["api_name"] for d in loads) == ["on_load", "on_student"]
    assert not any(after.get(d["id"]) for d in loads)
    follow_up, _ = _load_chains(config, "?followup=1.1")
    assert len(follow_up) == 4  # and the lab's settings and the CNN tab's (each says nothing unless it is theirs)
