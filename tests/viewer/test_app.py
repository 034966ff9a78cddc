"""The viewer's endpoints against fake nodes and a fake controller (real zmq on loopback)."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import socket
import struct
from typing import Any

import aiohttp
import zmq.asyncio
from PIL import Image

from controller.rig import CameraSpec
from tests.viewer.fakes import FakeNode
from tests.viewer.harness import Rig, eventually, fake_rig, run
from viewer.config import ViewerConfig
from viewer.routes import BOUNDARY
from viewer.server import run_viewer


def parse_frame_message(data: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack(">I", data[:4])
    return json.loads(data[4 : 4 + n]), data[4 + n :]


async def state(rig: Rig) -> dict[str, Any]:
    resp = await rig.client.get("/api/state")
    assert resp.status == 200
    return await resp.json()  # type: ignore[no-any-return]


async def live(rig: Rig) -> None:
    async def ok() -> bool:
        cams = (await state(rig))["cameras"]
        return all(c["state"] == "liveview" and c["fps"] > 0 for c in cams)

    await eventually(ok, what="every camera live")


def test_state_lists_every_camera() -> None:
    async def go() -> None:
        async with fake_rig(3) as rig:
            await live(rig)
            st = await state(rig)
            assert [c["name"] for c in st["cameras"]] == ["cam1", "cam2", "cam3"]
            for c in st["cameras"]:
                assert {"name", "state", "fps", "roi", "af"} <= set(c)
                assert c["roi"] == [0.4, 0.4, 0.2, 0.2]
                assert c["af"]["state"] == "idle"
            await eventually(lambda: rig.hub.controller_online, what="controller online")

    run(go())


def test_unknown_camera_and_path_get_one_line_json_404() -> None:
    async def go() -> None:
        async with fake_rig(1) as rig:
            for path in ("/stream/nope.mjpg", "/snapshot/nope.jpg", "/no/such/page"):
                resp = await rig.client.get(path)
                assert resp.status == 404
                assert resp.content_type == "application/json"
                text = await resp.text()
                assert text.count("\n") <= 1 and "Traceback" not in text
                assert "error" in json.loads(text)
            resp = await rig.client.get("/stream/nope.mjpg")
            assert "cam1" in (await resp.json())["error"]  # names the cameras there are
            resp = await rig.client.get("/ws?cameras=cam1,zzz")
            assert resp.status == 404

    run(go())


def test_snapshot_is_the_node_jpeg_untouched() -> None:
    async def go() -> None:
        async with fake_rig(1) as rig:
            await live(rig)
            resp = await rig.client.get("/snapshot/cam1.jpg")
            assert resp.status == 200 and resp.content_type == "image/jpeg"
            body = await resp.read()
            seq = int(resp.headers["X-Frame-Seq"])
            assert body == rig.nodes["cam1"].sent[seq]

    run(go())


async def read_part(reader: aiohttp.StreamReader) -> tuple[dict[str, str], bytes]:
    line = await reader.readline()
    while line in (b"\r\n", b""):
        line = await reader.readline()
    assert line == f"--{BOUNDARY}\r\n".encode(), line
    headers: dict[str, str] = {}
    while (line := await reader.readline()) != b"\r\n":
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    assert await reader.readexactly(2) == b"\r\n"
    return headers, body


def test_mjpeg_parts_carry_the_node_jpegs_with_their_length() -> None:
    async def go() -> None:
        async with fake_rig(1) as rig:
            await live(rig)
            resp = await rig.client.get("/stream/cam1.mjpg")
            assert resp.status == 200
            assert resp.headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            seqs = []
            for _ in range(5):
                headers, body = await read_part(resp.content)
                assert headers["content-type"] == "image/jpeg"
                assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"
                seq = int(headers["x-frame-seq"])
                assert body == rig.nodes["cam1"].sent[seq]
                seqs.append(seq)
            assert seqs == sorted(set(seqs))
            resp.close()

    run(go())


def test_mjpeg_width_parameter_sends_the_dct_scale_at_least_that_wide() -> None:
    async def go() -> None:
        async with fake_rig(1, size=(960, 640)) as rig:
            await live(rig)
            node = rig.nodes["cam1"]
            for width, size in ((240, (240, 160)), (200, (240, 160)), (400, (480, 320))):
                resp = await rig.client.get(f"/stream/cam1.mjpg?width={width}")
                assert resp.status == 200
                for _ in range(3):
                    headers, body = await read_part(resp.content)
                    with Image.open(io.BytesIO(body), formats=["JPEG"]) as im:
                        im.load()
                        assert im.size == size
                    assert headers["x-frame-scale"] == f"1/{960 // size[0]}"
                    assert body != node.sent[int(headers["x-frame-seq"])]
                resp.close()
            for query in ("?width=960", "?width=5000", ""):  # as wide as the frame: untouched
                resp = await rig.client.get(f"/stream/cam1.mjpg{query}")
                headers, body = await read_part(resp.content)
                assert body == node.sent[int(headers["x-frame-seq"])] and "x-frame-scale" not in headers
                resp.close()
            for bad in ("0", "-5", "wide", "1e3", "99999999"):
                resp = await rig.client.get(f"/stream/cam1.mjpg?width={bad}")
                assert resp.status == 400 and "width" in (await resp.json())["error"]

    run(go())


def test_slow_mjpeg_client_gets_fewer_frames_not_a_backlog() -> None:
    """A client that stops reading makes the viewer skip frames; when it reads again it
    gets recent frames, not everything published meanwhile."""

    async def go() -> None:
        async with fake_rig(1, fps=30) as rig:
            node = rig.nodes["cam1"]
            node.jpegs = [_big_jpeg(i) for i in range(4)]  # about 200 kB each
            await live(rig)
            port = rig.client.port
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
            s.connect(("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=s)
            writer.write(b"GET /stream/cam1.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            first = node.seq
            # not reading while 90 frames of 200 kB (18 MB) are published
            await eventually(lambda: node.seq - first >= 90, timeout=60, what="90 frames published")
            resumed = node.seq
            data = b""
            seqs: list[int] = []
            while not seqs or seqs[-1] < resumed:  # read until caught up with the resume point
                data += await asyncio.wait_for(reader.read(1 << 20), 10)
                seqs = [int(x) for x in _find_all(data, b"X-Frame-Seq: ")]
            writer.close()
            published = resumed - first
            assert published > 40
            # Kernel buffers hold some frames; everything else published meanwhile was skipped.
            assert len(seqs) < published / 2, (published, seqs)
            assert max(b - a for a, b in itertools.pairwise(seqs)) > 1

    run(go())


def _big_jpeg(i: int) -> bytes:
    import io
    import random

    from PIL import Image

    rnd = random.Random(i)
    img = Image.frombytes("RGB", (480, 320), bytes(rnd.getrandbits(8) for _ in range(480 * 320 * 3)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _find_all(data: bytes, key: bytes) -> list[bytes]:
    out = []
    i = data.find(key)
    while i >= 0:
        j = data.find(b"\r\n", i)
        if j < 0:
            break
        out.append(data[i + len(key) : j])
        i = data.find(key, j)
    return out


async def ws_messages(ws: aiohttp.ClientWebSocketResponse, want: int, timeout: float = 10.0) -> list[Any]:
    out: list[Any] = []
    while len(out) < want:
        msg = await ws.receive(timeout)
        assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
        out.append(json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else msg.data)
    return out


async def next_text(ws: aiohttp.ClientWebSocketResponse, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = await ws.receive()
            assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
            if msg.type == aiohttp.WSMsgType.BINARY:
                head, _ = parse_frame_message(msg.data)
                await ws.send_json({"action": "ack", "camera": head["camera"]})
                continue
            m = json.loads(msg.data)
            if pred(m):
                return m  # type: ignore[no-any-return]

    return await asyncio.wait_for(loop(), timeout)


def test_ws_sends_one_frame_per_camera_until_acked_then_the_newest() -> None:
    async def go() -> None:
        async with fake_rig(2) as rig:
            await live(rig)
            ws = await rig.client.ws_connect("/ws")
            frames: dict[str, list[dict[str, Any]]] = {"cam1": [], "cam2": []}

            async def collect(seconds: float) -> None:
                loop = asyncio.get_running_loop()
                end = loop.time() + seconds
                while (left := end - loop.time()) > 0:
                    try:
                        msg = await ws.receive(left)
                    except TimeoutError:
                        return
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        head, jpeg = parse_frame_message(msg.data)
                        assert jpeg == rig.nodes[head["camera"]].sent[head["seq"]]
                        assert head["bytes"] == len(jpeg)
                        frames[head["camera"]].append(head)

            await collect(1.0)  # 30 fps published, no acks sent
            assert [len(frames["cam1"]), len(frames["cam2"])] == [1, 1]
            first = frames["cam1"][0]["seq"]
            feed = rig.hub.feeds["cam1"]
            await eventually(
                lambda: feed.latest is not None and feed.latest.seq > first + 5, what="newer frames"
            )
            assert feed.latest is not None
            newest = feed.latest.seq
            await ws.send_json({"action": "ack", "camera": "cam1"})
            for _ in range(50):  # at most 10 s
                if len(frames["cam1"]) >= 2:
                    break
                await collect(0.2)
            assert [len(frames["cam1"]), len(frames["cam2"])] == [2, 1]  # cam2 still awaits its ack
            assert frames["cam1"][1]["seq"] >= newest  # the newest, not the next in line
            await ws.close()

    run(go())


def test_ws_rejects_malformed_input_with_error_replies_and_stays_open() -> None:
    async def go() -> None:
        async with fake_rig(1) as rig:
            ws = await rig.client.ws_connect("/ws?frames=none")
            bad = [
                ("not json", "bad_request"),
                ('"a string"', "bad_request"),
                ('{"action": "fly", "camera": "cam1", "id": 1}', "bad_request"),
                ('{"action": "home", "camera": "zz", "id": 2}', "not_found"),
                ('{"action": "roi", "camera": "cam1", "roi": [2, 0, 1, 1], "id": 3}', "bad_args"),
                ('{"action": "subscribe", "cameras": "cam1"}', "bad_args"),
            ]
            for text, code in bad:
                await ws.send_str(text)
                m = await next_text(ws, lambda m: m.get("type") == "reply")
                assert m["ok"] is False and m["error"]["code"] == code, (text, m)
                assert "Traceback" not in m["error"]["message"]
            await ws.send_bytes(b"\x00\x01")
            m = await next_text(ws, lambda m: m.get("type") == "reply")
            assert m["error"]["code"] == "bad_request"
            await ws.send_json({"action": "cancel", "camera": "cam1", "id": "ok?"})
            m = await next_text(ws, lambda m: m.get("type") == "reply")
            assert m == {
                "type": "reply",
                "id": "ok?",
                "action": "cancel",
                "camera": "cam1",
                "ok": True,
                "result": {"cancelled": False},
            }
            await ws.close()
            resp = await rig.client.get("/ws?frames=lots")
            assert resp.status == 400

    run(go())


def test_ws_actions_drive_the_controller_and_af_events_draw_the_curve() -> None:
    async def go() -> None:
        async with fake_rig(2) as rig:
            await live(rig)
            ws = await rig.client.ws_connect("/ws")
            await ws.send_json({"action": "roi", "camera": "cam2", "roi": [0.1, 0.1, 0.3, 0.2], "id": 1})
            m = await next_text(ws, lambda m: m.get("type") == "reply" and m["id"] == 1)
            assert m["ok"] and m["result"]["roi"] == [0.1, 0.1, 0.3, 0.2]
            assert ("roi.set", {"camera": "cam2", "roi": [0.1, 0.1, 0.3, 0.2]}) in rig.controller.calls
            assert (await state(rig))["cameras"][1]["roi"] == [0.1, 0.1, 0.3, 0.2]

            await ws.send_json({"action": "autofocus", "camera": "cam2", "id": 2})
            m = await next_text(ws, lambda m: m.get("type") == "reply" and m["id"] == 2)
            assert m["ok"] and m["result"]["run_id"] == 1
            samples = 0
            while True:
                ev = await next_text(ws, lambda m: m.get("type") == "af")
                assert ev["camera"] == "cam2"
                samples += ev["kind"] == "sample"
                if ev["kind"] == "result":
                    break
            assert samples == 9 and ev["result"]["ok"] is True and ev["af_state"] == "done"
            af = (await state(rig))["cameras"][1]["af"]
            assert af["state"] == "done" and len(af["samples"]) == 9 and af["result"]["position"] == 260.0

            before = rig.nodes["cam1"].move_id
            await ws.send_json({"action": "nudge", "camera": "cam1", "direction": "far", "level": 2, "id": 3})
            m = await next_text(ws, lambda m: m.get("type") == "reply" and m["id"] == 3)
            assert m["ok"] and m["result"]["move_id"] == before + 1

            async def frame_with_new_move() -> bool:
                return (await state(rig))["cameras"][0]["move_id"] == before + 1

            await eventually(frame_with_new_move, what="frames carrying the new move_id")

            await ws.send_json({"action": "capture", "camera": "cam1", "id": 4})
            m = await next_text(ws, lambda m: m.get("type") == "reply" and m["id"] == 4)
            assert m["ok"] and m["result"]["url"].startswith("/captures/")
            resp = await rig.client.get(m["result"]["url"])
            assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
            body = await resp.read()
            assert body[:2] == b"\xff\xd8" and len(body) == m["result"]["size"]
            await ws.close()

    run(go())


def test_http_action_endpoint() -> None:
    async def go() -> None:
        async with fake_rig(1) as rig:
            resp = await rig.client.post("/api/action", data="{nope")
            assert resp.status == 400 and "error" in await resp.json()
            resp = await rig.client.post("/api/action", json={"action": "zoom", "camera": "cam1", "zoom": 3})
            assert resp.status == 400 and "zoom" in (await resp.json())["error"]
            resp = await rig.client.post("/api/action", json={"action": "home", "camera": "cam7"})
            assert resp.status == 404
            resp = await rig.client.post("/api/action", json={"action": "zoom", "camera": "cam1", "zoom": 5})
            assert resp.status == 200 and (await resp.json())["result"]["zoom"] == 5

    run(go())


def test_run_viewer_stops_cleanly_closing_streams_and_sockets() -> None:
    async def go() -> None:
        ctx = zmq.asyncio.Context()
        node = FakeNode(ctx, "cam1")
        node.start()
        config = ViewerConfig(
            cameras=(CameraSpec("cam1", node.rep, node.pub),),
            controller="tcp://127.0.0.1:9",  # nobody there: the viewer must still serve and stop
            port=0,
        )
        stop = asyncio.Event()
        urls: list[str] = []
        server = asyncio.create_task(
            run_viewer(config, stop=stop, on_ready=urls.append, handle_signals=False)
        )
        await eventually(lambda: urls, what="viewer ready")
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(urls[0] + "ws")
            stream = await http.get(urls[0] + "stream/cam1.mjpg")
            await read_part(stream.content)

            async def controller_offline() -> bool:
                async with http.get(urls[0] + "api/state") as r:
                    return (await r.json())["controller"]["online"] is False

            await eventually(controller_offline, what="controller reported offline")
            stop.set()
            await asyncio.wait_for(server, 10)
            while (msg := await ws.receive(5)).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            ):
                pass
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)  # going away
            assert await asyncio.wait_for(stream.content.read(), 5) is not None  # the stream ended
        await node.stop()
        ctx.destroy(linger=0)

    run(go())
