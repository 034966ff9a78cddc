"""The viewer's aiohttp application: factory, typed keys, background tasks, error middleware.

``make_app(config)`` builds the app; its cleanup context owns the zmq context and every
background task (one SUB per camera node, the controller's events and status poll) and the
scaler's thread pool (reduced frames for grid tiles, viewer.scaler), so starting and
stopping the app starts and stops all of them.  On shutdown the open
WebSockets are closed with 1001 (going away) and the MJPEG streams end.

Every error a client can cause becomes a 4xx response with a one-line JSON body
``{"error": "..."}``; anything unexpected is logged and answered 500 the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import zmq.asyncio
from aiohttp import web

from tetherfocus.client import AsyncClient
from tetherfocus.security import load_security
from viewer import links
from viewer.auth import require_token
from viewer.config import ViewerConfig
from viewer.control import CaptureStore
from viewer.feeds import CameraFeed, Hub
from viewer.jsonutil import dumps
from viewer.scaler import FrameScaler

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

CONFIG = web.AppKey("config", ViewerConfig)
HUB = web.AppKey("hub", Hub)
CONTROLLER = web.AppKey("controller", AsyncClient)
CAPTURES = web.AppKey("captures", CaptureStore)
STOP = web.AppKey("stop", asyncio.Event)
SCALER = web.AppKey("scaler", FrameScaler)
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")


def json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=dumps({"error": message}) + "\n", content_type="application/json")


@web.middleware
async def errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        text = exc.text or ""
        return json_error(exc.status, exc.reason if text.startswith(f"{exc.status}:") or not text else text)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return json_error(500, "internal error (see the viewer's log)")


async def _background(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    hub = app[HUB]
    stop = app[STOP]
    ctx = zmq.asyncio.Context()
    security = load_security(config.keys, "viewer")  # --keys: every ZeroMQ socket is a CURVE client
    node_sec = security.client_for("node") if security else None
    ctl_sec = security.client_for("controller") if security else None
    controller = AsyncClient(config.controller, timeout=5.0, context=ctx, security=ctl_sec)
    app[CONTROLLER] = controller
    tasks = [
        asyncio.create_task(links.node_subscription(feed, hub, ctx, stop, node_sec), name=f"sub-{feed.name}")
        for feed in hub.feeds.values()
    ]
    tasks.append(
        asyncio.create_task(links.controller_events(hub, ctx, config.events_endpoint, stop, ctl_sec))
    )
    tasks.append(asyncio.create_task(links.controller_poll(hub, controller, stop, config.poll_period)))
    try:
        yield
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 3.0)
        controller.close()
        ctx.destroy(linger=0)
        app[SCALER].close()


async def _on_shutdown(app: web.Application) -> None:
    app[STOP].set()
    sockets = app[SOCKETS]
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"viewer shutting down")


def make_app(config: ViewerConfig) -> web.Application:
    """The viewer as an aiohttp application (not yet started)."""
    from viewer import routes  # the handlers need the keys above

    middlewares: list[Any] = [errors_as_json]
    if config.token:  # every request must carry the token (viewer.auth); errors stay JSON
        middlewares.append(require_token(config.token))
    app = web.Application(middlewares=middlewares, client_max_size=1 << 20)
    app[CONFIG] = config
    app[HUB] = Hub([CameraFeed(c.name, c.rep, c.pub, list(c.roi)) for c in config.cameras])
    app[CAPTURES] = CaptureStore()
    app[STOP] = asyncio.Event()
    app[SCALER] = FrameScaler()
    sockets: set[web.WebSocketResponse] = set()
    app[SOCKETS] = sockets
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_on_shutdown)
    routes.add_routes(app)
    return app
