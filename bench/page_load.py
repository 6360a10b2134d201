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


class Visitor:
    """One browser on the app: its session, its page's query, and the events it sends (as the page's own
    client sends them: off-queue events by one POST, queued ones joined and awaited on the session's
    stream), each event's chain followed."""

    def __init__(self, url: str, query: str = "", timeout: float = 180.0):
        self.url, self.query, self.timeout = url, query, timeout
        self.config = app_config(url)  # fetched once per server (a browser gets it inside the page)
        self.values = _initial_values(self.config)  # the page's component values, as its events change them
        self.session = secrets.token_hex(6)
        self.http = httpx.Client(base_url=url, timeout=timeout)
        self.outputs: dict[str, list] = {}  # api name -> its last completed output's data
        self.after = _load_chains(self.config)[1]  # event id -> the events chained after it

    def open(self) -> float:
        """Seconds from the page's request until its load events and their chains completed."""
        started = time.perf_counter()
        self.http.get(self.query or "/").raise_for_status()
        self._send(_load_chains(self.config, self.query)[0])
        return time.perf_counter() - started

    def press(self, api_name: str, data: list) -> float:
        """Seconds until the event named `api_name` (with `data` as its inputs) and its chain completed."""
        dependency = next(d for d in self.config["dependencies"] if d.get("api_name") == api_name)
        started = time.perf_counter()
        self._send([dependency], data)
        return time.perf_counter() - started

    def close(self) -> None:
        self.http.close()

    def _send(self, dependencies: list[dict], data: list | None = None) -> None:
        after, pending = self.after, {}

        def join(dependency: dict, inputs: list | None = None) -> None:
            body = {"data": inputs if inputs is not None else [self.values.get(i) for i in dependency["inputs"]],
                    "fn_index": dependency["id"], "trigger_id": None, "session_hash": self.session, "event_data": None}
            if dependency.get("queue") is False:  # off the queue: one POST, answered at once
                response = self.http.post("gradio_api/run/predict" + self.query, json=body)
                response.raise_for_status()
                self._apply(dependency, response.json().get("data"))
                for chained in after.get(dependency["id"], []):
                    join(chained)
                return
            response = self.http.post("gradio_api/queue/join" + self.query, json=body)  # the link's query
            response.raise_for_status()
            pending[response.json()["event_id"]] = dependency

        for dependency in dependencies:
            join(dependency, data)
        if pending:
            self._await(pending, join, after)

    def _apply(self, dependency: dict, data) -> None:
        """An event's outputs into the page's values, as the browser applies them: the events chained after
        it send what it set (a link's settings, then its run)."""
        self.outputs[dependency.get("api_name")] = data
        for component, value in zip(dependency["outputs"], data or []):
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "value" in value:
                    self.values[component] = value["value"]
            else:
                self.values[component] = value

    def _await(self, pending: dict, join, after: dict) -> None:
        started = time.perf_counter()
        with self.http.stream("GET", f"gradio_api/queue/data?session_hash={self.session}") as stream:
            for line in stream.iter_lines():
                if time.perf_counter() - started > self.timeout:
                    raise RuntimeError("no answer in time")
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") != "process_completed" or message.get("event_id") not in pending:
                    continue
                dependency = pending.pop(message["event_id"])
                if not message.get("success", False):
                    raise RuntimeError(f"{dependency.get('api_name')}: {str(message.get('output'))[:200]}")
                self._apply(dependency, (message.get("output") or {}).get("data"))
                for chained in after.get(dependency["id"], []):
                    join(chained)
                if not pending:
                    return


def page_load(url: str, query: str = "", timeout: float = 180.0) -> float:
    """Seconds from a new visitor's request for the page until its load events completed."""
    visitor = Visitor(url, query, timeout)
    try:
        return visitor.open()
    finally:
        visitor.close()


__all__ = ["Visitor", "app_config", "clicked_triggers", "page_load"]
