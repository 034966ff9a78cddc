"""The viewer's HTTP endpoints (docs/viewer.md lists them with their formats).

``/``, ``/static/*``, ``/stream/<camera>.mjpg``, ``/snapshot/<camera>.jpg``, ``/api/state``,
``POST /api/action``, ``/captures/<id>/<name>`` and ``/ws``.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from viewer.actions import MAX_TILE_PX, ActionError, action_id, parse_action
from viewer.app import CAPTURES, CONTROLLER, HUB, SCALER, SOCKETS, STATIC, STOP, json_error
from viewer.control import run_action
from viewer.feeds import CameraFeed
from viewer.jsonutil import dumps
from viewer.scale import choose_scale
from viewer.session import FRAME_MODES, Session

BOUNDARY = "tetherfocusframe"
WAIT_S = 1.0  # an MJPEG stream re-checks for shutdown this often while no frame comes
WRITE_TIMEOUT_S = 10.0  # a client that takes longer than this to take one part is dropped


def _feed(request: web.Request) -> CameraFeed:
    hub = request.app[HUB]
    name = request.match_info["camera"]
    feed = hub.get(name)
    if feed is None:
        raise web.HTTPNotFound(
            text=dumps({"error": f"no camera {name!r}; cameras: {', '.join(hub.names()) or 'none'}"}) + "\n",
            content_type="application/json",
        )
    return feed


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def api_state(request: web.Request) -> web.Response:
    state = {**request.app[HUB].state(time.monotonic()), "scaler": request.app[SCALER].stats.to_json()}
    return web.Response(
        text=dumps(state),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def api_action(request: web.Request) -> web.Response:
    """``POST /api/action`` with one action object (the same as over the WebSocket)."""
    try:
        msg = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "the body must be one JSON action object")
    hub = request.app[HUB]
    try:
        call = parse_action(msg, hub.names())
        result = await run_action(call, request.app[CONTROLLER], hub, request.app[CAPTURES])
    except ActionError as exc:
        status = {
            "not_found": 404,
            "bad_request": 400,
            "bad_args": 400,
            "busy": 409,
            "not_ready": 409,
            "timeout": 504,
        }.get(exc.code.value, 502)
        return web.Response(
            status=status,
            text=dumps({"error": exc.message, "code": exc.code.value, "id": action_id(msg)}) + "\n",
            content_type="application/json",
        )
    return web.Response(
        text=dumps({"ok": True, "id": action_id(msg), "result": result}), content_type="application/json"
    )


async def snapshot(request: web.Request) -> web.Response:
    feed = _feed(request)
    frame = feed.latest
    if frame is None:
        return json_error(503, f"no frame from camera {feed.name!r} yet")
    return web.Response(
        body=frame.jpeg,
        content_type="image/jpeg",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Seq": str(frame.seq),
            "X-Move-Id": str(frame.header.get("move_id")),
        },
    )


def _width(request: web.Request) -> int | None:
    """The ``width`` query parameter (device pixels), or None.  Raises HTTPBadRequest (JSON)."""
    value = request.query.get("width")
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_TILE_PX:
        raise web.HTTPBadRequest(
            text=dumps({"error": f"width must be a whole number of pixels, 1 to {MAX_TILE_PX}"}) + "\n",
            content_type="application/json",
        )
    return int(value)


async def stream(request: web.Request) -> web.StreamResponse:
    """multipart/x-mixed-replace: each part is one node JPEG, untouched, with its length.

    Each client gets the newest frame whenever it has taken the previous one; a slow client
    sees fewer frames, nothing is queued for it.  With ``?width=N`` each part is the frame at
    the smallest JPEG DCT scale at least N pixels wide (the original when that is 1; a frame
    that cannot be decoded is skipped).
    """
    feed = _feed(request)
    width = _width(request)
    scaler = request.app[SCALER]
    stop = request.app[STOP]
    resp = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    seq = -1
    try:
        while not stop.is_set():
            frame = await feed.wait_newer(seq, WAIT_S)
            if frame is None:
                continue
            seq = frame.seq
            jpeg, scale = frame.jpeg, ""
            denom = choose_scale(width, frame.width)
            if denom > 1:
                scaled = await scaler.get(feed.name, frame, denom)
                if scaled is None:
                    continue  # did not decode: skipped at this width
                jpeg, scale = scaled.jpeg, f"X-Frame-Scale: 1/{denom}\r\n"
            head = (
                f"--{BOUNDARY}\r\n"
                "Content-Type: image/jpeg\r\n"
                f"Content-Length: {len(jpeg)}\r\n"
                f"X-Frame-Seq: {seq}\r\n"
                f"X-Move-Id: {frame.header.get('move_id')}\r\n"
                f"{scale}"
                "\r\n"
            ).encode("ascii")
            await asyncio.wait_for(resp.write(head + jpeg + b"\r\n"), WRITE_TIMEOUT_S)
    except (ConnectionError, TimeoutError):
        pass  # the client went away or stalled
    return resp


async def capture_file(request: web.Request) -> web.Response:
    cap = request.app[CAPTURES].get(request.match_info["id"])
    if cap is None or cap.name != request.match_info["name"]:
        return json_error(404, "no such capture (only the last few are kept)")
    return web.Response(
        body=cap.data,
        content_type=cap.mime,
        headers={"Content-Disposition": f'attachment; filename="{cap.name}"', "Cache-Control": "no-store"},
    )


async def websocket(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    frames = request.query.get("frames", "ack")
    if frames not in FRAME_MODES:
        return json_error(400, f"frames must be one of {', '.join(FRAME_MODES)}")
    cams = request.query.get("cameras")
    cameras = hub.names() if not cams else cams.split(",")
    unknown = [c for c in cameras if hub.get(c) is None]
    if unknown:
        return json_error(404, f"no camera {unknown[0]!r}; cameras: {', '.join(hub.names())}")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 16, compress=False)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    session = Session(
        ws, hub, request.app[CONTROLLER], request.app[CAPTURES], cameras, frames, request.app[SCALER]
    )
    try:
        await session.run()
    finally:
        request.app[SOCKETS].discard(ws)
        await ws.close()
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/api/state", api_state)
    app.router.add_post("/api/action", api_action)
    app.router.add_get("/stream/{camera}.mjpg", stream)
    app.router.add_get("/snapshot/{camera}.jpg", snapshot)
    app.router.add_get("/captures/{id}/{name}", capture_file)
    app.router.add_get("/ws", websocket)
    app.router.add_static("/static/", STATIC, append_version=False)
