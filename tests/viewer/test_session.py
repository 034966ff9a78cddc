"""viewer.session: frames at the scale each page's tiles need (fake nodes, real zmq, real viewer app)."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.viewer.fakes import make_jpeg
from tests.viewer.harness import Rig, eventually, fake_rig, run
from viewer import scaler as scaler_mod
from viewer.app import SCALER
from viewer.scaler import ScaledJpeg

FULL = (960, 640)


def parse_frame_message(data: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack(">I", data[:4])
    return json.loads(data[4 : 4 + n]), data[4 + n :]


def jpeg_size(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as im:
        im.load()  # a valid JPEG: it decodes to the end
        return im.size


async def declare(
    ws: aiohttp.ClientWebSocketResponse, widths: dict[str, Any], rid: int = 1
) -> dict[str, Any]:
    """Send a ``tiles`` declaration and return its reply (acking any frame meanwhile)."""
    await ws.send_json({"action": "tiles", "widths": widths, "id": rid})
    return await reply(ws, rid)


async def reply(ws: aiohttp.ClientWebSocketResponse, rid: int) -> dict[str, Any]:
    while True:
        msg = await ws.receive(10)
        if msg.type == aiohttp.WSMsgType.BINARY:
            head, _ = parse_frame_message(msg.data)
            await ws.send_json({"action": "ack", "camera": head["camera"]})
            continue
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        m = json.loads(msg.data)
        if m.get("type") == "reply" and m.get("id") == rid:
            return m  # type: ignore[no-any-return]


async def frames(
    ws: aiohttp.ClientWebSocketResponse, n: int, *, after_seq: int = -1, ack: bool = True
) -> list[tuple[dict[str, Any], bytes]]:
    """The next ``n`` frames with a seq above ``after_seq``, acking each."""
    out: list[tuple[dict[str, Any], bytes]] = []
    while len(out) < n:
        msg = await ws.receive(10)
        assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
        if msg.type != aiohttp.WSMsgType.BINARY:
            continue
        head, jpeg = parse_frame_message(msg.data)
        if ack:
            await ws.send_json({"action": "ack", "camera": head["camera"]})
        if head["seq"] > after_seq:
            out.append((head, jpeg))
    return out


async def live(rig: Rig) -> None:
    await eventually(lambda: all(f.latest is not None for f in rig.hub.feeds.values()), what="frames")


def test_a_small_tile_gets_a_scaled_jpeg_and_the_others_the_original_bytes() -> None:
    async def go() -> None:
        async with fake_rig(1, fps=15, size=FULL) as rig:
            await live(rig)
            node = rig.nodes["cam1"]
            small = await rig.client.ws_connect("/ws")
            wide = await rig.client.ws_connect("/ws")
            plain = await rig.client.ws_connect("/ws")
            r = await declare(small, {"cam1": 240})
            assert r["ok"] and r["result"] == {"widths": {"cam1": 240}}
            r = await declare(wide, {"cam1": 960})
            assert r["ok"] and r["result"] == {"widths": {"cam1": 960}}
            since = node.seq  # frames sent before the declarations are not looked at
            for head, jpeg in await frames(small, 5, after_seq=since):
                assert jpeg_size(jpeg) == (240, 160)
                assert (head["scale"], head["w"], head["h"]) == (0.25, 240, 160)
                assert (head["full_w"], head["full_h"], head["bytes"]) == (960, 640, len(jpeg))
                assert jpeg != node.sent[head["seq"]]
            for ws in (wide, plain):
                for head, jpeg in await frames(ws, 5, after_seq=since):
                    assert jpeg == node.sent[head["seq"]]  # byte for byte
                    assert (head["scale"], head["w"], head["h"], head["full_w"]) == (1, 960, 640, 960)
            # forgetting the declaration brings the original bytes back
            r = await declare(small, {"cam1": None}, rid=2)
            assert r["ok"] and r["result"] == {"widths": {}}
            since = node.seq
            for head, jpeg in await frames(small, 3, after_seq=since):
                assert jpeg == node.sent[head["seq"]] and head["scale"] == 1
            for ws in (small, wide, plain):
                await ws.close()

    run(go())


def test_two_pages_with_the_same_tiles_share_one_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = scaler_mod.scale_jpeg

    def spy(jpeg: bytes, denom: int) -> ScaledJpeg:
        calls.append(denom)
        return real(jpeg, denom)

    monkeypatch.setattr(scaler_mod, "scale_jpeg", spy)

    async def go() -> None:
        async with fake_rig(1, fps=8, size=FULL) as rig:
            await live(rig)
            a = await rig.client.ws_connect("/ws")
            b = await rig.client.ws_connect("/ws")
            await declare(a, {"cam1": 300})
            await declare(b, {"cam1": 300})
            got_a, got_b = await asyncio.gather(frames(a, 8), frames(b, 8))
            # stop acking; take whatever is on its way so no scaled frame is still unaccounted for
            await asyncio.sleep(0.5)
            for ws, got in ((a, got_a), (b, got_b)):
                while True:
                    try:
                        got += await asyncio.wait_for(frames(ws, 1, ack=False), 0.3)
                    except TimeoutError:
                        break
            seqs_a = {h["seq"]: j for h, j in got_a if h["scale"] == 0.5}
            seqs_b = {h["seq"]: j for h, j in got_b if h["scale"] == 0.5}
            both = set(seqs_a) & set(seqs_b)
            assert both, (sorted(seqs_a), sorted(seqs_b))
            for seq in both:
                assert seqs_a[seq] == seqs_b[seq]  # the same bytes: one JPEG made for both
            # one encode per frame, however many pages got it
            assert calls.count(2) == len(set(seqs_a) | set(seqs_b)), (calls, sorted(seqs_a), sorted(seqs_b))
            assert rig.app[SCALER].stats.made == len(calls)
            await a.close()
            await b.close()

    run(go())


BAD_DECLARATIONS = [
    ({"cam1": -240}, "bad_args"),
    ({"cam1": 0}, "bad_args"),
    ({"cam1": "240px"}, "bad_args"),
    ({"cam1": True}, "bad_args"),
    ({"cam1": [240]}, "bad_args"),
    ({"nope": 240}, "not_found"),
    ({"cam1": 240, "nope": 240}, "not_found"),
    ([240], "bad_args"),
    ("cam1=240", "bad_args"),
]


def test_bad_declarations_get_an_error_reply_with_a_code_and_change_nothing() -> None:
    async def go() -> None:
        async with fake_rig(1, size=FULL) as rig:
            await live(rig)
            ws = await rig.client.ws_connect("/ws")
            for i, (widths, code) in enumerate(BAD_DECLARATIONS, start=10):
                r = await declare(ws, widths, rid=i)  # type: ignore[arg-type]
                assert r["ok"] is False and r["action"] == "tiles", r
                assert r["error"]["code"] == code, (widths, r)
                assert "Traceback" not in r["error"]["message"]
            await ws.send_json({"action": "tiles", "id": 99})
            r = await reply(ws, 99)
            assert r["error"]["code"] == "bad_args"
            # the socket is still open, nothing was declared, and frames are the originals
            r = await declare(ws, {}, rid=100)
            assert r["ok"] and r["result"] == {"widths": {}}
            node = rig.nodes["cam1"]
            for head, jpeg in await frames(ws, 3, after_seq=node.seq):
                assert jpeg == node.sent[head["seq"]]
            await ws.close()

    run(go())


def test_a_frame_that_does_not_decode_is_skipped_for_small_tiles_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = b"\xff\xd8\xff\xe0 this is not a JPEG \xff\xd9"

    async def go() -> None:
        async with fake_rig(1, fps=20, size=FULL) as rig:
            node = rig.nodes["cam1"]
            good = make_jpeg(1, *FULL)
            node.jpegs = [good, bad]  # odd seqs bad, even seqs good
            await live(rig)
            small = await rig.client.ws_connect("/ws")
            plain = await rig.client.ws_connect("/ws")
            await declare(small, {"cam1": 240})
            since = node.seq
            got_small, got_plain = await asyncio.gather(
                frames(small, 5, after_seq=since), frames(plain, 8, after_seq=since)
            )
            for head, jpeg in got_small:
                assert head["seq"] % 2 == 0, head  # never one of the bad ones
                assert jpeg_size(jpeg) == (240, 160)
            assert any(j == bad for _, j in got_plain)  # the original, as the node sent it
            for head, jpeg in got_plain:
                assert jpeg == node.sent[head["seq"]]
            assert rig.app[SCALER].stats.failed > 0
            resp = await rig.client.get("/snapshot/cam1.jpg")
            assert await resp.read() == node.sent[int(resp.headers["X-Frame-Seq"])]
            await small.close()
            await plain.close()

    with caplog.at_level("DEBUG"):
        run(go())
    assert all(r.exc_info is None for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert "Traceback" not in caplog.text
