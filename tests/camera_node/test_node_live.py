"""A simulated node as a real subprocess on tcp://127.0.0.1, driven over its sockets."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from tests.camera_node.nodeproc import ROOT, NodeProc, node_command
from tetherfocus.client import Client, RemoteError, Subscriber

pytestmark = pytest.mark.live


# ---------------------------------------------------------------------- a client from the docs alone


class DocsClient:
    """Written from the envelope in docs/protocol.md only: raw pyzmq and msgpack, nothing of ours.

    Request: one msgpack map {"v": 1, "id": str, "cmd": str, "args": map} on a REQ socket;
    reply: {"v": 1, "id", "ok": true, "result": map} or {"ok": false, "error": {"code", "message"}}.
    Frames: SUB to "frame.<camera>", three parts [topic, msgpack header, JPEG].
    """

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.Context()
        self.req = self.ctx.socket(zmq.REQ)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.setsockopt(zmq.RCVTIMEO, 10000)
        self.req.connect(endpoint)
        self.n = 0

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        self.n += 1
        rid = f"docs-{self.n}"
        self.req.send(msgpack.packb({"v": 1, "id": rid, "cmd": cmd, "args": args}))
        reply = msgpack.unpackb(self.req.recv())
        assert reply["v"] == 1 and reply["id"] == rid
        if not reply["ok"]:
            raise AssertionError(f"{cmd}: {reply['error']['code']}: {reply['error']['message']}")
        return reply["result"]  # type: ignore[no-any-return]

    def subscribe(self, endpoint: str, topic: str) -> zmq.Socket[bytes]:
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVTIMEO, 10000)
        sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        sub.connect(endpoint)
        return sub

    def close(self) -> None:
        self.ctx.destroy(linger=0)


def test_client_from_the_docs_sees_move_id_advance(sim_node: NodeProc) -> None:
    client = DocsClient(sim_node.rep)
    try:
        info = client.call("info")
        assert info["name"] == "cam1" and info["backend"] == "sim"
        assert "focus.levels" in info["capabilities"]
        frames = client.subscribe(f"tcp://127.0.0.1:{info['pub_port']}", "frame.cam1")
        topic, raw_header, jpeg = frames.recv_multipart()
        header = msgpack.unpackb(raw_header)
        assert topic == b"frame.cam1" and header["v"] == 1
        assert jpeg[:2] == b"\xff\xd8" and (header["w"], header["h"]) == (960, 640)
        before = header["move_id"]

        moved = client.call("focus.drive", direction="near", level=2, count=2)
        assert moved["move_id"] == before + 1 and moved["settle_s"] >= 0

        seen_settled = False
        seqs = []
        for _ in range(60):
            _t, raw_header, _jpeg = frames.recv_multipart()
            header = msgpack.unpackb(raw_header)
            seqs.append(header["seq"])
            if header["move_id"] == moved["move_id"] and header["settled"]:
                assert header["t"] >= moved["settle_at"]
                seen_settled = True
                break
        assert seen_settled
        assert seqs == sorted(seqs)
    finally:
        client.close()


def test_live_view_keeps_its_frames_during_a_many_part_drive(sim_node: NodeProc) -> None:
    # Each Canon drive is "None", a 100 ms pause, then the target.  The pause is spent off
    # the camera thread, so frames keep coming (27 in 1.09 s here); holding the camera
    # through it left at most one frame between parts (7 in all, same drive time).
    count = 8
    with Client(sim_node.rep, timeout=10) as c:
        info = c.call("info")
        sub = zmq.Context.instance().socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.RCVTIMEO, 5000)
            sub.setsockopt(zmq.SUBSCRIBE, b"frame.")
            sub.connect(f"tcp://127.0.0.1:{info['pub_port']}")
            sub.recv_multipart()  # connected and streaming
            t0 = time.monotonic()
            c.call("focus.drive", {"direction": "near", "level": 1, "count": count})
            t1 = time.monotonic()
            inside = 0
            while True:
                _topic, raw, _jpeg = sub.recv_multipart()
                t = msgpack.unpackb(raw)["t"]  # the node's CLOCK_MONOTONIC: this host's
                if t > t1:
                    break
                inside += t > t0
        finally:
            sub.close()
    # The pauses were kept: one before each part but the first (the widget was left at
    # "None" by the last drive, long before).
    assert t1 - t0 >= (count - 1) * 0.1
    assert inside > count + 3, f"{inside} frames during a {t1 - t0:.2f} s drive of {count} parts"


# ---------------------------------------------------------------------- busy, home, goto


def test_long_operation_answers_busy_and_everything_is_answered(sim_node: NodeProc) -> None:
    done: dict[str, Any] = {}

    def home() -> None:
        with Client(sim_node.rep, timeout=60) as c:
            done["home"] = c.call("focus.home")

    with Client(sim_node.rep, timeout=10) as c:
        c.call("focus.drive", {"direction": "far", "level": 3})
        thread = threading.Thread(target=home)
        thread.start()
        deadline = time.monotonic() + 10
        while c.call("status")["busy"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        cases: list[tuple[str, dict[str, Any]]] = [
            ("focus.drive", {"direction": "near", "level": 1}),
            ("capture", {}),
            ("zoom.set", {"zoom": 5}),
            ("config.get", {"name": "iso"}),
            ("focus.home", {}),
        ]
        for cmd, args in cases:
            with pytest.raises(RemoteError) as err:
                c.call(cmd, args)
            assert err.value.code == "busy", cmd
        status = c.call("status")  # info and status are always answered
        assert status["state"] == "busy" and status["busy"] == "focus.home"
        assert c.call("info")["name"] == "cam1"
        thread.join(60)
        assert done["home"]["position"] == 0.0 and done["home"]["drives"] >= 3
        status = c.call("status")
        assert status["homed"] and status["position"] == 0.0 and status["busy"] is None

        went = c.call("focus.goto", {"position": 250.0}, timeout=30)
        assert went["move_id"] > done["home"]["move_id"]
        assert abs(went["position"] - 250.0) <= 0.5
        back = c.call("focus.goto", {"position": 120.0}, timeout=30)
        assert abs(back["position"] - 120.0) <= 0.5 and back["drives"] > 0


def test_invalid_commands_never_move_the_motor(sim_node: NodeProc) -> None:
    with Client(sim_node.rep) as c:
        start = c.call("status")["move_id"]
        bad: list[tuple[str, dict[str, Any], str]] = [
            ("focus.drive", {"direction": "near", "level": 4}, "bad_args"),
            ("focus.drive", {"direction": "up", "level": 1}, "bad_args"),
            ("focus.drive", {"direction": "near", "level": 1, "count": 0}, "bad_args"),
            ("focus.drive", {"direction": "near", "level": 1, "steps": 3}, "bad_args"),
            ("focus.drive", {"level": 2}, "bad_args"),
            ("focus.drive", {"steps": 40}, "not_supported"),  # a Canon-like body
            ("focus.goto", {"position": 100.0}, "not_ready"),  # not homed
            ("focus.goto", {"position": -1}, "bad_args"),
            ("focus.home", {"max_drives": 0}, "bad_args"),
            ("zoom.set", {"zoom": 3}, "bad_args"),
            ("zoom.set", {"zoom": 5, "center": [2, 0.5]}, "bad_args"),
            ("config.set", {"name": "manualfocusdrive", "value": "Near 3"}, "bad_args"),
            ("config.set", {"name": "iso", "value": "123"}, "bad_args"),
            ("config.get", {"name": "nosuchwidget"}, "not_found"),
            ("focus.spin", {}, "unknown_command"),
        ]
        for cmd, args, code in bad:
            with pytest.raises(RemoteError) as err:
                c.call(cmd, args)
            assert err.value.code == code, (cmd, args, err.value.message)
        assert c.call("status")["move_id"] == start


# ---------------------------------------------------------------------- capture, live view, zoom


def test_capture_download_and_save(
    node_factory: Callable[..., NodeProc], tmp_path: Path, small_scene: Path
) -> None:
    node = node_factory("--camera", f"sim:{small_scene}", "--save-dir", str(tmp_path / "shots"))
    with Client(node.rep, timeout=30) as c:
        shot = c.call("capture", {"download": True})
        assert shot["size"] == len(shot["data"]) and shot["data"][:2] == b"\xff\xd8"
        assert hashlib.sha256(shot["data"]).hexdigest() == shot["sha256"]
        saved = c.call("capture", {"download": False})
        assert "data" not in saved
        data = Path(saved["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == saved["sha256"] and len(data) == saved["size"]


def test_liveview_stop_and_start_and_zoom(sim_node: NodeProc) -> None:
    with Client(sim_node.rep, timeout=10) as c, Subscriber(sim_node.pub, ["frame.cam1"]) as sub:
        assert sub.recv(10) is not None
        assert c.call("liveview.stop")["state"] == "idle"
        with pytest.raises(RemoteError) as err:
            c.call("focus.drive", {"direction": "far", "level": 1})
        assert err.value.code == "not_ready"
        time.sleep(0.3)
        while sub.recv(0.3) is not None:  # drain what was in flight
            pass
        assert sub.recv(0.5) is None
        assert c.call("liveview.start")["state"] == "liveview"
        zoomed = c.call("zoom.set", {"zoom": 10, "center": [0.25, 0.75]})
        deadline = time.monotonic() + 10
        while True:
            ev = sub.recv(5)
            assert ev is not None and time.monotonic() < deadline
            if ev.header["move_id"] == zoomed["move_id"] and ev.header["zoom"] == 10:
                assert ev.header["zoom_center"] == [0.25, 0.75]
                break


def test_status_events_at_one_hertz(sim_node: NodeProc) -> None:
    with Subscriber(sim_node.pub, ["status.cam1"]) as sub:
        first = sub.recv(5)
        second = sub.recv(5)
    assert first is not None and second is not None
    assert 0.5 < second.header["t"] - first.header["t"] < 2.0
    assert second.header["state"] in ("liveview", "starting")
    assert second.header["versions"]["protocol"] == "1"


# ---------------------------------------------------------------------- the process


def test_sigterm_exits_cleanly(sim_node: NodeProc) -> None:
    with Client(sim_node.rep) as c:
        c.call("status")
    assert sim_node.stop() == 0
    assert "Traceback" not in sim_node.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--camera", "webcam"], "--camera 'webcam'"),
        (["--camera", "sim:nosuchscene"], "unknown scene"),
        (["--camera", "sim", "--pub", "udp://x"], "--pub"),
        (["--camera", "sim", "--name", "bad name"], "--name"),
        (["--name", "x"], "--camera is required"),
        (["--camera", "sim", "--rep", "tcp://127.0.0.1:99999"], "ports are 1 to 65535"),
        (["--camera", "sim", "--log-level", "LOUD"], "--log-level 'LOUD'"),
        (
            ["--camera", "sim", "--save-dir", "/proc/no-such-dir"],
            "--save-dir /proc/no-such-dir: cannot make it",
        ),
    ],
)
def test_usage_errors_are_one_line(args: list[str], needle: str) -> None:
    done = subprocess.run(node_command(*args), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr


def test_endpoint_in_use_is_a_usage_error(sim_node: NodeProc) -> None:
    port = sim_node.rep.rsplit(":", 1)[1]
    done = subprocess.run(
        node_command("--camera", "sim", "--pub", "tcp://127.0.0.1:*", "--rep", f"tcp://127.0.0.1:{port}"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "--rep" in done.stderr and "Traceback" not in done.stderr
