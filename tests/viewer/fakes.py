"""Small stand-ins at the viewer's ZeroMQ seams, speaking the real protocol on loopback.

:class:`FakeNode` is a real PUB publishing real JPEGs (and status heartbeats) as a node
does; :class:`FakeController` is a real ROUTER (tetherfocus.server.CommandServer with the
controller's command schemas) plus a PUB for ``af.*`` events.  They run as asyncio tasks in
the test's loop, so the viewer's own tests need no subprocess; the live tests
(test_live_browser.py) use the real node and controller processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import time
from typing import Any

import zmq
import zmq.asyncio
from PIL import Image, ImageDraw

from protocol import CONTROLLER_COMMANDS, AfEventHeader, ErrorCode, FrameHeader, ProtocolError, encode
from protocol.events import StatusHeader
from tetherfocus.server import CommandServer, bind_pub, bind_router, bound_endpoint


def make_jpeg(i: int, w: int = 320, h: int = 214) -> bytes:
    img = Image.new("RGB", (w, h), (40 + (i * 7) % 160, 60, 90))
    d = ImageDraw.Draw(img)
    d.rectangle([(i * 5) % w, 40, (i * 5) % w + 40, 100], fill=(230, 230, 230))
    d.text((10, 10), f"frame {i}", fill=(255, 255, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


class FakeNode:
    """Publishes ``frame.<name>`` at ``fps`` and ``status.<name>`` every second."""

    def __init__(
        self, ctx: zmq.asyncio.Context, name: str, fps: float = 30.0, size: tuple[int, int] = (320, 214)
    ) -> None:
        self.name = name
        self.fps = fps
        self.size = size  # the frame header's w and h (the JPEGs are made this size)
        self.sock = bind_pub(ctx, "tcp://127.0.0.1:*", hwm=4)
        self.pub = bound_endpoint(self.sock)
        self.rep = "tcp://127.0.0.1:9"  # never asked: the rig names pub
        self.seq = 0
        self.move_id = 0
        self.jpegs = [make_jpeg(i, *size) for i in range(8)]
        self.sent: dict[int, bytes] = {}  # seq -> jpeg, to check pass-through
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        last_status = 0.0
        while True:
            self.seq += 1
            jpeg = self.jpegs[self.seq % len(self.jpegs)]
            self.sent[self.seq] = jpeg
            if len(self.sent) > 200:
                self.sent.pop(min(self.sent))
            w, hh = self.size
            h = FrameHeader(self.name, self.seq, time.monotonic(), w, hh, self.move_id, True, None, False, 1)
            await self.sock.send_multipart(encode(h.event(jpeg)))
            now = time.monotonic()
            if now - last_status > 1.0:
                last_status = now
                st = StatusHeader(
                    self.name, now, "liveview", self.fps, self.seq, 0, self.move_id, None, False, 1
                )
                await self.sock.send_multipart(encode(st.event()))
            await asyncio.sleep(1.0 / self.fps)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sock.close(linger=0)


class FakeController:
    """The controller's commands on a ROUTER, and ``af.*`` events on a PUB.

    ``autofocus`` emits state, a few samples of a parabola and a result, as the real one does.
    ``node.call`` handles focus.drive (advances the node's move_id), zoom.set, focus.home
    and capture.
    """

    def __init__(self, ctx: zmq.asyncio.Context, nodes: dict[str, FakeNode]) -> None:
        self.nodes = nodes
        self.router = bind_router(ctx, "tcp://127.0.0.1:*")
        self.rep = bound_endpoint(self.router)
        self.pub_sock = bind_pub(ctx, "tcp://127.0.0.1:*", hwm=1000)
        self.pub = bound_endpoint(self.pub_sock)
        self.rois: dict[str, list[float]] = {n: [0.4, 0.4, 0.2, 0.2] for n in nodes}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.run_id = 0
        handlers = {
            "status": self.status,
            "autofocus": self.autofocus,
            "cancel": self.cancel,
            "roi.set": self.roi_set,
            "node.call": self.node_call,
        }
        # the viewer uses these commands of the controller; the rest answer unknown_command
        specs = {name: CONTROLLER_COMMANDS[name] for name in handlers}
        self.server = CommandServer(self.router, specs, handlers, name="fake-controller")
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._tasks.add(asyncio.create_task(self.server.serve()))

    def _camera(self, args: dict[str, Any]) -> str:
        name = str(args["camera"])
        if name not in self.nodes:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no camera {name!r}")
        return name

    async def status(self, args: dict[str, Any]) -> dict[str, Any]:
        cams = [
            {
                "name": n,
                "online": True,
                "state": "liveview",
                "roi": self.rois[n],
                "last_result": None,
                "fps": node.fps,
                "node": node.rep,
            }
            for n, node in self.nodes.items()
        ]
        return {"cameras": cams}

    async def roi_set(self, args: dict[str, Any]) -> dict[str, Any]:
        name = self._camera(args)
        self.calls.append(("roi.set", args))
        self.rois[name] = list(args["roi"])
        return {"camera": name, "roi": self.rois[name]}

    async def autofocus(self, args: dict[str, Any]) -> dict[str, Any]:
        name = self._camera(args)
        self.calls.append(("autofocus", args))
        self.run_id += 1
        task = asyncio.create_task(self._run_af(name, self.run_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"run_id": self.run_id, "camera": name, "strategy": "default", "roi": self.rois[name]}

    async def _emit(self, name: str, run_id: int, kind: str, **kw: Any) -> None:
        ev = AfEventHeader(name, run_id, kind, time.monotonic(), **kw)
        await self.pub_sock.send_multipart(encode(ev.event()))

    async def _run_af(self, name: str, run_id: int) -> None:
        await asyncio.sleep(0.2)
        await self._emit(name, run_id, "state", state="bracketing")
        for i in range(9):
            pos = 100.0 + 40.0 * i
            await self._emit(name, run_id, "sample", position=pos, measure=1000.0 - (pos - 260.0) ** 2 / 40.0)
            await asyncio.sleep(0.05)
        await self._emit(name, run_id, "state", state="done")
        result = {
            "ok": True,
            "position": 260.0,
            "measure": 1000.0,
            "drives": 12,
            "frames": 11,
            "seconds": 0.7,
            "strategy": "default",
        }
        await self._emit(name, run_id, "result", result=result)

    async def cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        self._camera(args)
        return {"cancelled": False}

    async def node_call(self, args: dict[str, Any]) -> dict[str, Any]:
        name = self._camera(args)
        self.calls.append(("node.call", args))
        node = self.nodes[name]
        cmd, nargs = args["cmd"], args.get("args", {})
        if cmd == "focus.drive":
            node.move_id += 1
            return {"result": {"move_id": node.move_id, "settle_s": 0.1, "settle_at": 0.0, "position": None}}
        if cmd == "zoom.set":
            node.move_id += 1
            return {"result": {"move_id": node.move_id, "zoom": nargs["zoom"], "center": [0.5, 0.5]}}
        if cmd == "focus.home":
            node.move_id += 1
            return {"result": {"move_id": node.move_id, "position": 0.0, "drives": 3}}
        if cmd == "capture":
            data = make_jpeg(999, 640, 428)
            return {
                "result": {
                    "name": "IMG_0001.JPG",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "mime": "image/jpeg",
                    "data": data,
                    "t": 1.0,
                }
            }
        raise ProtocolError(ErrorCode.UNKNOWN_COMMAND, f"unknown node command {cmd!r}")

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.router.close(linger=0)
        self.pub_sock.close(linger=0)
