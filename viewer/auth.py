"""The viewer's access token: who may see the cameras and drive them from a browser.

A viewer that listens beyond loopback (``--http 0.0.0.0:8080``) serves every camera of the
rig and forwards actions (focus, capture) to the controller, so it demands a token:
``--token TOKEN`` (or ``TETHERFOCUS_VIEWER_TOKEN``), or one made up at start and printed in
the URL.  ``--require-token`` turns the check on for a loopback viewer too.

A request is let through when it carries the token in any of:

- the query, ``?token=TOKEN`` (the URL the viewer prints); the reply then sets a cookie,
  so the page's WebSocket, streams and downloads carry it from there on;
- the cookie ``tetherfocus_token`` (``HttpOnly``, ``SameSite=Strict``);
- the header ``Authorization: Bearer TOKEN`` (scripts).

Anything else gets ``401 {"error": ...}``, before any handler runs (a WebSocket is refused
before the upgrade).  Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from viewer.jsonutil import dumps

COOKIE = "tetherfocus_token"
ENV = "TETHERFOCUS_VIEWER_TOKEN"
MIN_LENGTH = 16

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    """A fresh random token (about 190 bits), URL-safe."""
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name, 0.0.0.0, '' ...: may be reachable from elsewhere


def _presented(request: web.Request) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the query."""
    q = request.query.get("token")
    if q:
        return q, True
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:].strip(), False
    return request.cookies.get(COOKIE), False


def require_token(token: str) -> Callable[[web.Request, Handler], Coroutine[Any, Any, web.StreamResponse]]:
    """An aiohttp middleware that refuses (401) every request without ``token``."""
    expected = token.encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        given, in_query = _presented(request)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            return web.Response(
                status=401,
                text=dumps({"error": "this viewer needs its token: open the URL it printed (…?token=…)"})
                + "\n",
                content_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        response = await handler(request)
        if in_query and not response.prepared:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return check_token
