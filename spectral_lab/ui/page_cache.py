"""The page's HTML, made once per address and served to every later visitor.

Gradio builds the page for each request: it deep-copies the whole configuration (every component and
event: ~300 KB here), rewrites its file addresses for the request's origin and renders it into the
template — ~50 ms of the server's one Python thread a visitor, 2.1 s for the 30th of a class opening
the link at once (bench/bench_class.py --page-loads). The page depends only on the address it is served
at (host, forwarded host and protocol, root path), not on the query: the link's settings are read by the
page's load events. So the first response per address is kept (a 200 with no cookie), at most
MAX_ADDRESSES of them, and a Gradio `deep_link` request is left to Gradio.
"""
from __future__ import annotations

import threading

MAX_ADDRESSES = 16  # a forged Host header cannot grow the cache past this
_ADDRESS_HEADERS = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-prefix")


class CachedPage:
    """ASGI middleware: GET / and HEAD / answered from the first response for the same address."""

    def __init__(self, app):
        self.app = app
        self._pages: dict[tuple, tuple[dict, bytes]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if not _cacheable(scope):
            await self.app(scope, receive, send)
            return
        key = _address(scope)
        cached = self._pages.get(key)
        if cached is not None:
            start, body = cached
            await send(start)
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        messages: list[dict] = []

        async def keep(message: dict) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, keep)
        self._keep(key, scope["method"], messages)

    def _keep(self, key: tuple, method: str, messages: list[dict]) -> None:
        start = messages[0] if messages else {}
        headers = dict(start.get("headers", []))
        if method != "GET" or start.get("status") != 200 or b"set-cookie" in headers:
            return
        body = b"".join(m.get("body", b"") for m in messages[1:] if m.get("type") == "http.response.body")
        with self._lock:
            if len(self._pages) < MAX_ADDRESSES:
                self._pages[key] = (start, body)
                self._pages[("HEAD",) + key[1:]] = (start, body)


def _cacheable(scope) -> bool:
    return (scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"] == "/"
            and b"deep_link" not in scope.get("query_string", b""))


def _address(scope) -> tuple:
    headers = dict(scope.get("headers", []))
    return (scope["method"], scope.get("scheme"), scope.get("root_path", ""),
            *(headers.get(name, b"") for name in _ADDRESS_HEADERS))


__all__ = ["CachedPage", "MAX_ADDRESSES"]
