"""A viewer app on a loopback test server, wired to fake nodes and a fake controller."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import zmq.asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from controller.rig import CameraSpec
from tests.viewer.fakes import FakeController, FakeNode
from viewer.app import HUB, make_app
from viewer.config import ViewerConfig
from viewer.feeds import Hub

T = TypeVar("T")


@dataclass
class Rig:
    client: TestClient[web.Request, web.Application]
    app: web.Application
    nodes: dict[str, FakeNode]
    controller: FakeController

    @property
    def hub(self) -> Hub:
        return self.app[HUB]


@contextlib.asynccontextmanager
async def fake_rig(
    cameras: int = 2, fps: float = 30.0, size: tuple[int, int] = (320, 214)
) -> AsyncIterator[Rig]:
    ctx = zmq.asyncio.Context()
    nodes = {f"cam{i}": FakeNode(ctx, f"cam{i}", fps, size) for i in range(1, cameras + 1)}
    ctl = FakeController(ctx, nodes)
    config = ViewerConfig(
        cameras=tuple(CameraSpec(n.name, n.rep, n.pub) for n in nodes.values()),
        controller=ctl.rep,
        controller_pub=ctl.pub,
        poll_period=0.3,
    )
    app = make_app(config)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    for n in nodes.values():
        n.start()
    ctl.start()
    await client.start_server()
    try:
        yield Rig(client, app, nodes, ctl)
    finally:
        await client.close()
        for n in nodes.values():
            await n.stop()
        await ctl.stop()
        ctx.destroy(linger=0)


async def eventually(check: Callable[[], Awaitable[T] | T], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]
