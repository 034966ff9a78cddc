"""Bad input: ``tetherfocus fuzz`` against a real node and a real controller (a smoke run of a
few thousand requests each; the 100,000-request runs are on demand, docs/reliability.md),
and malformed HTTP and WebSocket input against a real viewer: 4xx with one line of JSON,
never a 5xx, never a traceback in its log.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
import zmq

from tests.reliability import rigproc
from tests.reliability.rigproc import figure
from viewer.actions import TIMEOUTS

pytestmark = pytest.mark.live

SMOKE = 2000


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, rigproc.Proc]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    node = rigproc.node(tmp, "cam1", rigproc.small_scene(tmp), "--seed", "2")
    procs = [node]
    try:
        rig_file = rigproc.write_rig(tmp, [("cam1", node.ready["rep"], node.ready["pub"])])
        ctl = rigproc.controller(tmp, rig_file)
        procs.append(ctl)
        view = rigproc.viewer(tmp, rig_file, ctl.ready["rep"], ctl.ready["pub"])
        procs.append(view)
        yield {"node": node, "ctl": ctl, "viewer": view}
    finally:
        for p in reversed(procs):
            p.stop()


def _fuzz(endpoint: str, count: int, tmp: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp / "fuzz.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tetherfocus.cli",
            "fuzz",
            "--endpoint",
            endpoint,
            "--count",
            str(count),
            "--json",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=rigproc.ROOT,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(out.read_text())


@pytest.mark.parametrize("which", ["node", "ctl"])
def test_fuzz_smoke_every_request_errors_and_no_motor_moves(
    rig: dict[str, rigproc.Proc], which: str, tmp_path: Path
) -> None:
    rc, rep = _fuzz(rig[which].ready["rep"], SMOKE, tmp_path, "--seed", "7")
    figure(f"fuzz_smoke_{which}", sent=rep["sent"], seconds=rep["seconds"], codes=rep["errors_by_code"])
    assert rc == 0 and rep["pass"], rep
    assert rep["target"] == ("node" if which == "node" else "controller")
    assert rep["replies"] == SMOKE and rep["ok_replies"] == 0 and rep["alive_after"]
    assert {"bad_request", "bad_args", "unknown_command", "unsupported_version"} <= set(rep["errors_by_code"])
    if which == "ctl":
        assert "not_found" in rep["errors_by_code"]  # unknown cameras
    motors = rep["motors"]
    assert motors and all(m["frames_seen"] > 0 for m in motors)  # the motor was watched ...
    assert not rep["motor_moved"]  # ... and never moved
    assert rig["node"].proc.poll() is None and rig["ctl"].proc.poll() is None


def test_fuzz_fails_against_a_service_that_accepts_garbage(tmp_path: Path) -> None:
    """The checker itself: a server that answers ok to everything does not pass."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if router.poll(100):
                frames = router.recv_multipart()
                ok = {"v": 1, "id": "x", "ok": True, "result": {"cameras": []}}
                try:
                    ok["id"] = msgpack.unpackb(frames[-1])["id"]
                except Exception:
                    pass
                router.send_multipart([*frames[:-1], msgpack.packb(ok)])

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        rc, rep = _fuzz(f"tcp://127.0.0.1:{port}", 200, tmp_path)
    finally:
        stop.set()
        t.join(5)
        ctx.destroy(linger=0)
    assert rc == 1 and not rep["pass"] and rep["ok_replies"] > 0


def _http_cases(rng: random.Random) -> list[tuple[str, str, Any]]:
    paths = [
        "/",
        "/api/state",
        "/api/action",
        "/stream/cam1.mjpg",
        "/snapshot/nope.jpg",
        "/captures/1/x",
        "/captures/../../etc/passwd",
        "/static/../cli.py",
        "/ws",
        "/%00",
        "/api/action?x=%ff",
        "/" + "a" * 3000,
        "/stream/.mjpg",
        "/snapshot/cam1.jpg?token=1",
        "/ws?frames=bogus",
        "/ws?cameras=nope",
    ]
    bodies: list[Any] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"\xff\xfe",
        b'{"action": 5}',
        b'{"action": "nudge", "camera": "cam1", "level": 9}',
        b'{"action": "autofocus", "camera": "zzz"}',
        b'{"action": "roi", "camera": "cam1", "roi": [2, 2, 2, 2]}',
        b'{"action": "zoom", "camera": "cam1", "zoom": 3}',
        b'{"action": "nudge", "camera": "cam1", "count": 1e400}',
        b'{"action": "capture", "camera": ["cam1"]}',
        b'{"id": {"a": 1}, "action": "cancel"}',
        b"x" * 70000,
        json.dumps({"action": "roi", "camera": "cam1", "roi": "NaN"}).encode(),
    ]
    cases: list[tuple[str, str, Any]] = []
    for p in paths:
        cases += [("GET", p, None), ("DELETE", p, None), ("PUT", p, b"x")]
    for b in bodies:
        cases.append(("POST", "/api/action", b))
    for _ in range(150):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        cases.append(("POST", "/api/action", raw))
        obj = {
            "action": rng.choice(["roi", "nudge", "zoom", "home", "x", 1, None]),
            "camera": rng.choice(["cam1", "", None, 3, "nope"]),
            rng.choice(["roi", "level", "count", "zoom", "center"]): rng.choice(
                [None, -1, 1e9, "a", [1], [0.1, 0.1, 0.1, 0.1], True]
            ),
        }
        cases.append(("POST", "/api/action", json.dumps(obj).encode()))
    return cases


def test_viewer_rejects_malformed_http_and_ws_input_with_4xx(rig: dict[str, rigproc.Proc]) -> None:
    base = rig["viewer"].ready["url"].rstrip("/")
    cases = _http_cases(random.Random(3))

    async def go() -> dict[int, int]:
        statuses: dict[int, int] = {}
        # Valid cases among the random ones (a "home" on cam1 drives 20+ times, ~10 s) may
        # take as long as the viewer's own bound for that action: wait a little longer.
        timeout = aiohttp.ClientTimeout(total=max(TIMEOUTS.values()) + 15)
        async with aiohttp.ClientSession(timeout=timeout) as s:
            for method, path, body in cases:
                if path.startswith("/stream/cam1"):
                    continue  # a good stream never ends; covered by the viewer's own tests
                async with s.request(method, base + path, data=body) as r:
                    text = await r.text(errors="replace")
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    assert r.status < 500 or r.status in (502, 504), (method, path, body, r.status, text)
                    if r.status >= 400:
                        assert "Traceback" not in text
                        if r.status not in (405, 413):  # aiohttp's own, before any handler
                            assert "error" in json.loads(text), (method, path, text)
            async with s.ws_connect(base + "/ws?frames=none") as ws:
                await ws.receive_json(timeout=10)  # hello
                junk: list[Any] = [
                    "",
                    "{",
                    "null",
                    "[1]",
                    '{"action": 1}',
                    '{"action": "nudge"}',
                    "\x00" * 100,
                    '{"action": "zoom", "camera": "cam1", "zoom": "x", "id": [1]}',
                ]
                for j in junk:
                    await ws.send_str(j)
                await ws.send_bytes(b"\x00\x01")
                replies = 0
                while replies < len(junk) + 1:
                    m = await ws.receive(timeout=10)
                    assert m.type == aiohttp.WSMsgType.TEXT, m
                    msg = json.loads(m.data)
                    if msg.get("type") == "reply":
                        replies += 1
                        assert msg["ok"] is False and msg["error"]["code"] in (
                            "bad_request",
                            "bad_args",
                            "not_found",
                        )
                assert not ws.closed  # the socket stays open
        return statuses

    statuses = asyncio.run(go())
    figure("viewer_http_fuzz", requests=sum(statuses.values()), statuses=statuses)
    log = rig["viewer"].log.read_text()
    assert "Traceback" not in log and rig["viewer"].proc.poll() is None
