"""One browser's first load of the app, replayed over HTTP: the page, then every load event and the
events chained after them (`.then`), through Gradio's queue as the page's own client sends them, each
with the components' initial values. A page is loaded when its last load event has completed.

    seconds = page_load("http://127.0.0.1:7860/", "?class=ABCD&lesson=1")

Used by bench/bench_class.py (30 students opening a class link at once). It replays the requests, not a
browser's rendering: a student's own machine draws the page; the server's work is what a class shares.
"""
from __future__ import annotations

import json
import secrets
import time

import httpx

_CONFIGS: dict[str, dict] = {}


def app_config(url: str) -> dict:
    if url not in _CONFIGS:
        _CONFIGS[url] = httpx.get(url + "config", timeout=60).json()
    return _CONFIGS[url]


def _initial_values(config: dict) -> dict[int, object]:
    return {component["id"]: component.get("props", {}).get("value") for component in config["components"]}


PAGE_KEYS = {"lesson", "seed", "class", "teacher", "hide", "__theme"}  # as the page's script reads a link


def clicked_triggers(query: str) -> set[str]:
    """The hidden link buttons the page's own script clicks for this query (spectral_lab/ui/page.py)."""
    from urllib.parse import parse_qsl

    keys = {key for key, _ in parse_qsl(query.lstrip("?"), keep_blank_values=True)}
    clicked = {name for name in ("teacher", "hide") if name in keys}
    return clicked | ({"lab", "cnn"} if keys - PAGE_KEYS else set())


def _load_chains(config: dict, query: str = "") -> tuple[list[dict], dict[int, list[dict]]]:
    """The events a page sends as it loads (its load events with a server function, and the clicks of the
    link buttons its script makes), and for each event the events chained after it."""
    buttons = {component.get("props", {}).get("elem_id"): component["id"] for component in config["components"]}
    clicked = {buttons.get(f"link-{name}") for name in clicked_triggers(query)}
    loads, after = [], {}
    for dependency in config["dependencies"]:
        if dependency.get("trigger_after") is not None:
            after.setdefault(dependency["trigger_after"], []).append(dependency)
        elif dependency.get("backend_fn") is False:
            continue  # the browser runs it (the page's script)
        elif any(target[1] == "load" or (target[1] == "click" and target[0] in clicked)
                 for target in dependency["targets"]):
            loads.append(dependency)
    return loads, after


def page_load(url: str, query: str = "", timeout: float = 180.0) -> float:
    """Seconds from the page's request until its last load event (and what chains after them) completed.
    Raises RuntimeError when an event fails or the page does not load within `timeout`."""
    config = app_config(url)  # fetched once per server (a browser gets it inside the page, timed below)
    values, (loads, after) = _initial_values(config), _load_chains(config, query)
    session = secrets.token_hex(6)
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=timeout) as http:
        http.get(query or "/").raise_for_status()
        pending: dict[str, dict] = {}  # event id -> its dependency

        def join(dependency: dict) -> None:
            body = {"data": [values.get(i) for i in dependency["inputs"]], "fn_index": dependency["id"],
                    "trigger_id": None, "session_hash": session, "event_data": None}
            if dependency.get("queue") is False:  # an event off the queue: one POST, answered at once
                response = http.post("gradio_api/run/predict" + query, json=body)
                response.raise_for_status()
                for chained in after.get(dependency["id"], []):
                    join(chained)
                return
            response = http.post("gradio_api/queue/join" + query, json=body)  # the page's query: the link's settings
            response.raise_for_status()
            pending[response.json()["event_id"]] = dependency

        for dependency in loads:
            join(dependency)
        if not pending:
            return time.perf_counter() - started
        with http.stream("GET", f"gradio_api/queue/data?session_hash={session}") as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") != "process_completed":
                    continue
                dependency = pending.pop(message.get("event_id"), None)
                if dependency is None:
                    continue
                if not message.get("success", False):
                    raise RuntimeError(f"{dependency.get('api_name')}: {str(message.get('output'))[:200]}")
                for chained in after.get(dependency["id"], []):
                    join(chained)
                if not pending:
                    break
                if time.perf_counter() - started > timeout:
                    raise RuntimeError("the page did not load in time")
    return time.perf_counter() - started


__all__ = ["app_config", "page_load"]
