"""The pure parts: AF state folding, latest-frame feeds, node/controller event handling."""

from __future__ import annotations

import asyncio
import json
import time

import msgpack

from protocol import AfEventHeader, FrameHeader, encode
from tests.viewer.harness import run
from viewer.afstate import AfState
from viewer.feeds import CameraFeed, Frame, Hub
from viewer.jsonutil import dumps
from viewer.links import handle_controller_event, handle_node_event, pub_endpoint, publish_wall_time


def af(run_id: int, kind: str, **kw: object) -> AfEventHeader:
    return AfEventHeader("cam1", run_id, kind, 1.0, **kw)  # type: ignore[arg-type]


def test_af_state_builds_the_curve_and_result() -> None:
    s = AfState()
    assert s.apply(af(1, "state", state="bracketing"))
    assert s.apply(af(1, "sample", position=10.0, measure=5.0))
    assert s.apply(af(1, "sample", position=20.0, measure=9.0, zoom=5, series="5x 1/4 @0.50,0.50"))
    assert s.state == "bracketing"
    assert s.apply(
        af(1, "result", result={"ok": True, "position": 18.0, "measure": 9.5, "strategy": "default"})
    )
    j = s.to_json()
    assert j["state"] == "done"
    # an event without a series (an older controller) is drawn with its zoom's
    assert j["samples"] == [[10.0, 5.0, 1, "1x"], [20.0, 9.0, 5, "5x 1/4 @0.50,0.50"]]
    assert j["result"]["position"] == 18.0
    assert j["strategy"] == "default"


def test_af_state_new_run_clears_curve_and_old_runs_are_ignored() -> None:
    s = AfState()
    s.apply(af(3, "sample", position=1.0, measure=1.0))
    s.apply(af(4, "sample", position=2.0, measure=2.0))
    assert s.run_id == 4 and len(s.samples) == 1
    assert not s.apply(af(3, "sample", position=9.0, measure=9.0))
    assert len(s.samples) == 1
    s.apply(af(4, "result", result={"ok": False, "reason": "flat"}))
    assert s.state == "failed"
    s.apply(af(5, "result", result={"ok": False, "reason": "cancelled"}))
    assert s.state == "cancelled" and s.samples == []


def test_af_state_json_has_no_nan_or_bytes() -> None:
    s = AfState()
    s.apply(
        af(1, "result", result={"ok": False, "measure": float("nan"), "blob": b"xx", "pos": float("inf")})
    )
    text = dumps(s.to_json())
    assert json.loads(text)["result"] == {"ok": False, "measure": None, "blob": "<2 bytes>", "pos": None}


def _frame(seq: int) -> Frame:
    return Frame(
        {"seq": seq}, b"\xff\xd8" + bytes([seq % 256]) + b"\xff\xd9", time.monotonic(), time.time(), None
    )


def test_feed_keeps_only_the_latest_frame_and_slow_readers_skip() -> None:
    async def go() -> None:
        feed = CameraFeed("cam1", "tcp://127.0.0.1:1")
        assert await feed.wait_newer(-1, 0.05) is None  # nothing yet: times out
        for i in range(1, 11):
            feed.put_frame(_frame(i))
        got = await feed.wait_newer(-1, 1.0)
        assert got is not None and got.seq == 10  # the reader skipped 1..9
        waiter = asyncio.create_task(feed.wait_newer(10, 5.0))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        feed.put_frame(_frame(11))
        got = await waiter
        assert got is not None and got.seq == 11
        feed.put_frame(_frame(1))  # a restarted node starts again at 1: still delivered
        got = await feed.wait_newer(11, 1.0)
        assert got is not None and got.seq == 1

    run(go())


def test_feed_state_connecting_liveview_offline() -> None:
    feed = CameraFeed("cam1", "tcp://127.0.0.1:1")
    assert feed.state(100.0) == "connecting"
    feed.put_status({"state": "idle"}, 100.0)
    assert feed.state(101.0) == "idle"
    assert feed.state(104.0) == "offline"


def test_pub_endpoint_and_clock_mapping() -> None:
    rep = "tcp://10.0.0.5:5556"
    assert pub_endpoint(rep, {"pub": "tcp://10.0.0.5:5555"}) == "tcp://10.0.0.5:5555"
    assert pub_endpoint(rep, {"pub": "tcp://*:5555", "pub_port": 5555}) == "tcp://10.0.0.5:5555"
    assert pub_endpoint(rep, {"pub": "tcp://0.0.0.0:7", "pub_port": 7}) == "tcp://10.0.0.5:7"
    assert publish_wall_time(99.0, 100.0, 5000.0) == 4999.0
    assert publish_wall_time(1e9, 100.0, 5000.0) is None  # another host's clock
    assert publish_wall_time(True, 100.0, 5000.0) is None


def test_node_events_for_other_cameras_and_garbage_are_dropped() -> None:
    async def go() -> None:
        feed = CameraFeed("cam1", "tcp://127.0.0.1:1")
        hub = Hub([feed])
        h = FrameHeader("cam1", 5, time.monotonic(), 2, 2, 3, True, None, False, 1)
        other = FrameHeader("cam10", 6, time.monotonic(), 2, 2, 3, True, None, False, 1)
        handle_node_event(feed, hub, encode(other.event(b"jpeg")), time.monotonic(), time.time())
        handle_node_event(feed, hub, [b"frame.cam1", b"\xc1garbage", b"x"], time.monotonic(), time.time())
        handle_node_event(feed, hub, [b"frame.cam1", msgpack.packb({"v": 1, "seq": "x"}), b"x"], 1.0, 1.0)
        assert feed.latest is None
        handle_node_event(feed, hub, encode(h.event(b"jpeg-bytes")), time.monotonic(), time.time())
        assert feed.latest is not None and feed.latest.jpeg == b"jpeg-bytes" and feed.latest.seq == 5
        assert feed.latest.pub_wall is not None

    run(go())


def test_controller_af_events_reach_listeners() -> None:
    async def go() -> None:
        hub = Hub([CameraFeed("cam1", "tcp://127.0.0.1:1")])
        seen: list[dict[str, object]] = []
        hub.on_af(seen.append)
        handle_controller_event(hub, encode(af(2, "sample", position=3.0, measure=4.0).event()), 0.0)
        handle_controller_event(hub, encode(AfEventHeader("camX", 1, "state", 1.0).event()), 0.0)
        handle_controller_event(hub, [b"af.cam1", b"junk"], 0.0)
        assert [m["kind"] for m in seen] == ["sample"]
        assert hub.feeds["cam1"].af.samples == [(3.0, 4.0, 1, "1x")]

    run(go())
