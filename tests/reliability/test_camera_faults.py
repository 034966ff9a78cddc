"""Camera faults through the simulated camera's fault injection.

How faults reach the node: the tests run the node **in-process** (``camera_node.service.Node``
with a RealClock, its real ROUTER and PUB on 127.0.0.1) and hold the simulator's handle
(``SimBackend.sim``), so they can pull the USB cable, freeze frames or make the body busy
while clients talk to the node over real sockets.  No test-only hook exists in the node
process: nothing a network client sends can inject a fault.

- USB disconnect during live view: the node reports camera_lost, retries with backoff (not
  a spin), and is back in live view when replugged.
- USB disconnect during a capture: the capture is an error with ``camera_lost``, or, if it
  was already downloaded, ok with size and sha256 matching the bytes, never a short file.
- Frozen frames: the node keeps publishing; an autofocus on them ends, ok or with a reason.
- A busy body: commands fail with an error code, the node stays up and recovers.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import zmq.asyncio

from camera_node.backends.base import Backend
from camera_node.backends.sim import SimBackend, open_sim_backend
from camera_node.clock import RealClock
from camera_node.config import CameraSpec, NodeConfig
from camera_node.service import Node
from controller.links import CameraLink
from controller.rig import CameraSpec as RigCamera
from controller.runner import AutofocusRun
from controller.search import create_strategy
from tests.reliability import rigproc
from tetherfocus.client import AsyncClient, RemoteError

Body = Callable[[Node, SimBackend, AsyncClient, list[float]], Awaitable[None]]


def _run(tmp: Path, body: Body) -> None:
    scene = rigproc.small_scene(tmp)

    async def main() -> None:
        clock = RealClock()
        backend = open_sim_backend(str(scene), seed=5, clock=clock)
        opens: list[float] = []

        def factory() -> Backend:
            opens.append(time.monotonic())
            return backend

        config = NodeConfig(
            camera=CameraSpec("sim", str(scene)),
            name="faulty",
            pub="tcp://127.0.0.1:*",
            rep="tcp://127.0.0.1:*",
        )
        node = Node(config, factory, clock=clock)
        stop = asyncio.Event()
        running = asyncio.ensure_future(node.run(stop))
        await asyncio.wait_for(node.started.wait(), 30)
        client = AsyncClient(node.rep_endpoint, timeout=20)
        try:
            await _until(lambda: node.state == "liveview")
            await body(node, backend, client, opens)
        finally:
            client.close()
            stop.set()
            await asyncio.wait_for(running, 30)

    asyncio.run(main())


async def _until(pred: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def _states(node: Node, seconds: float) -> list[str]:
    """The states in the node's status events over ``seconds`` (collapsed runs)."""
    ctx = zmq.asyncio.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"status.faulty")
    sub.connect(node.publisher.endpoint)
    from protocol import decode_event

    seen: list[str] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if await sub.poll(200):
                state = decode_event(await sub.recv_multipart()).header["state"]
                if not seen or seen[-1] != state:
                    seen.append(state)
    finally:
        sub.close(0)
    return seen


def test_usb_disconnect_during_liveview_backs_off_and_recovers(tmp_path: Path) -> None:
    async def body(node: Node, backend: SimBackend, client: AsyncClient, opens: list[float]) -> None:
        watcher = asyncio.ensure_future(_states(node, 12.0))
        await asyncio.sleep(1.2)
        opened = len(opens)
        t0 = time.monotonic()
        await asyncio.to_thread(backend.sim.usb_disconnect)
        await _until(lambda: node.state == "camera_lost")
        lost_after = time.monotonic() - t0
        with pytest.raises(RemoteError) as err:
            await client.call("focus.drive", {"direction": "far", "level": 1})
        assert err.value.code == "camera_error" and (err.value.details or {}).get("camera_lost") is True
        assert (await client.call("status"))["state"] == "camera_lost"  # still answering
        await asyncio.sleep(7.0)  # unplugged for ~7 s: backoff 0.5, 1, 2, 4 s
        attempts = opens[opened:]
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert 2 <= len(attempts) <= 6, attempts  # retried, but no spin
        assert gaps == sorted(gaps) and gaps[-1] >= 1.5, gaps  # the wait grows
        await asyncio.to_thread(backend.sim.replug)
        t1 = time.monotonic()
        await _until(lambda: node.state == "liveview", 15)
        back_after = time.monotonic() - t1
        seq = node.seq
        await _until(lambda: node.seq > seq + 3)  # frames flow again
        states = await watcher
        assert "camera_lost" in states and states[-1] == "liveview", states
        assert states.index("camera_lost") < len(states) - 1
        rigproc.figure(
            "usb_liveview",
            lost_seen_s=round(lost_after, 2),
            reopen_gaps_s=[round(g, 2) for g in gaps],
            liveview_after_replug_s=round(back_after, 2),
        )

    _run(tmp_path, body)


def test_usb_disconnect_during_a_capture_is_never_a_silent_short_file(tmp_path: Path) -> None:
    async def body(node: Node, backend: SimBackend, client: AsyncClient, opens: list[float]) -> None:
        outcomes = []
        for delay in (0.0, 0.05, 0.2):
            if node.state != "liveview":
                await asyncio.to_thread(backend.sim.replug)
                await _until(lambda: node.state == "liveview", 20)
            shot = asyncio.ensure_future(client.call("capture", {"download": True}, timeout=70))
            await asyncio.sleep(delay)
            await asyncio.to_thread(backend.sim.usb_disconnect)
            try:
                r = await shot
            except RemoteError as exc:
                assert exc.code in ("camera_error", "timeout"), exc
                if exc.code == "camera_error":
                    assert (exc.details or {}).get("camera_lost") is True
                outcomes.append("failed")
            else:
                assert r["size"] == len(r["data"]) and r["sha256"] == hashlib.sha256(r["data"]).hexdigest()
                outcomes.append("ok")
        assert "failed" in outcomes, outcomes  # the fault was seen at least once
        await asyncio.to_thread(backend.sim.replug)
        await _until(lambda: node.state == "liveview", 20)
        r = await client.call("capture", {"download": True}, timeout=70)  # and captures work again
        assert r["size"] == len(r["data"]) > 1000 and r["sha256"] == hashlib.sha256(r["data"]).hexdigest()
        rigproc.figure("usb_capture", outcomes=outcomes)

    _run(tmp_path, body)


def test_busy_body_fails_commands_and_recovers(tmp_path: Path) -> None:
    async def body(node: Node, backend: SimBackend, client: AsyncClient, opens: list[float]) -> None:
        backend.sim.busy(True)
        for cmd, args in (
            ("focus.drive", {"direction": "near", "level": 1}),
            ("capture", {"download": True}),
        ):
            with pytest.raises(RemoteError) as err:
                await client.call(cmd, args, timeout=70)
            assert err.value.code in ("busy", "camera_error"), err.value
        status = await client.call("status")  # the node itself answers at once
        assert status["state"] in ("liveview", "idle", "camera_lost")
        backend.sim.busy(False)
        await _until(lambda: node.state == "liveview", 20)
        moved = await client.call("focus.drive", {"direction": "near", "level": 1})
        assert moved["move_id"] >= 1

    _run(tmp_path, body)


async def _autofocus(
    node: Node, prepare: Callable[[], None] = lambda: None, roi: list[float] | None = None, **options: Any
) -> tuple[AutofocusRun, dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """One autofocus run on ``node`` through a real CameraLink, as the controller makes it;
    ``prepare`` runs once the link is online, ``roi`` (default the link's) is what the run
    scores."""
    ctx = zmq.asyncio.Context.instance()
    link = CameraLink(RigCamera("faulty", node.rep_endpoint, node.publisher.endpoint), ctx)
    link.start()
    try:
        await _until(lambda: link.online, 10)
        prepare()
        events: list[tuple[str, dict[str, Any]]] = []
        strategy = create_strategy(
            "default", zoom_levels=link.zoom_levels, capabilities=link.capabilities, roi=link.roi
        )
        run = AutofocusRun(
            link, strategy, "default", roi or link.roi, lambda k, f: events.append((k, f)), **options
        )
        result = await asyncio.wait_for(run.run(), 120)
        return run, result, events
    finally:
        await link.stop()


def test_autofocus_on_frozen_frames_ends(tmp_path: Path) -> None:
    async def body(node: Node, backend: SimBackend, client: AsyncClient, opens: list[float]) -> None:
        try:
            _, result, events = await _autofocus(node, lambda: backend.sim.freeze_frames(True))
            assert node.seq > 0 and node.state == "liveview"  # frames kept flowing
            assert result["ok"] or result["reason"], result
            assert events[-1][0] == "result"
            rigproc.figure(
                "frozen_autofocus", ok=result["ok"], reason=result.get("reason"), seconds=result["seconds"]
            )
        finally:
            backend.sim.freeze_frames(False)

    _run(tmp_path, body)


def test_autofocus_on_frames_it_cannot_score_ends(tmp_path: Path) -> None:
    """Frames keep coming, but none can be scored (here a 2 x 1 pixel region, which the
    protocol refuses since 1.5 but a run can still be handed; a corrupt stream does the
    same): the run fails ``no_frames`` after ``frame_timeout`` instead of waiting for ever."""

    async def body(node: Node, backend: SimBackend, client: AsyncClient, opens: list[float]) -> None:
        run, result, events = await _autofocus(node, roi=[0.5, 0.5, 0.002, 0.002], frame_timeout=3.0)
        assert not result["ok"] and result["reason"] == "no_frames", result
        assert "could be scored" in result["detail"] and run.unscored > 0, result
        assert run.frames == 0 and node.seq > 0  # frames kept flowing, none was scored
        assert events[-1][0] == "result"

    _run(tmp_path, body)
