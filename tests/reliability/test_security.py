"""--keys: every ZeroMQ socket encrypted and authenticated; strangers are refused.

A node, a controller and a viewer run with the same keys directory.  A client whose key is
in ``authorized/`` drives and watches; a stranger that even knows the node's public key
(it is public) but whose own key is not authorized gets no reply, no frame and moves no
motor; a plain (unencrypted) client fares no better.  The viewer's token is demanded on
HTTP and on the WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import zmq

from tests.reliability import rigproc
from tetherfocus.client import CallTimeout, Client, Subscriber
from tetherfocus.security import ClientSecurity, Security, init_keys, load_security
from viewer.auth import is_loopback
from viewer.cli import viewer_token

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("secure")
    keys = tmp / "keys"
    init_keys(keys)
    scene = rigproc.small_scene(tmp)
    node = rigproc.node(tmp, "cam1", scene, "--keys", str(keys))
    procs = [node]
    try:
        rig = rigproc.write_rig(tmp, [("cam1", node.ready["rep"], None)])  # pub from the node's info
        ctl = rigproc.controller(tmp, rig, "--keys", str(keys))
        procs.append(ctl)
        view = rigproc.viewer(
            tmp, rig, ctl.ready["rep"], ctl.ready["pub"], "--keys", str(keys), "--require-token"
        )
        procs.append(view)
        yield {"keys": keys, "node": node, "ctl": ctl, "viewer": view, "tmp": tmp}
    finally:
        for p in reversed(procs):
            p.stop()


def stranger(keys: Path, server_role: str) -> ClientSecurity:
    """A client with a fresh key pair of its own that knows the server's public key."""
    public, secret = zmq.curve_keypair()
    own = Security(keys, "controller", public, secret)
    return ClientSecurity(own, load_security(keys, "controller").server_public(server_role))


def test_known_key_drives_and_watches_the_node(secured: dict[str, Any]) -> None:
    node = secured["node"]
    sec = load_security(secured["keys"], "controller").client_for("node")
    with Client(node.ready["rep"], timeout=10, security=sec) as c:
        before = c.call("status")["move_id"]
        moved = c.call("focus.drive", {"direction": "far", "level": 1})
        assert moved["move_id"] == before + 1
    with Subscriber(node.ready["pub"], ["frame.cam1"], security=sec) as sub:
        ev = sub.recv(10)
    assert ev is not None and ev.header["move_id"] >= before + 1 and ev.payload


@pytest.mark.parametrize("who", ["stranger", "plain"])
def test_unknown_key_can_neither_drive_nor_subscribe(secured: dict[str, Any], who: str) -> None:
    node = secured["node"]
    known = load_security(secured["keys"], "controller").client_for("node")
    bad = stranger(secured["keys"], "node") if who == "stranger" else None
    with Client(node.ready["rep"], timeout=10, security=known) as c:
        before = c.call("status")["move_id"]
    with Client(node.ready["rep"], timeout=2, security=bad) as c:
        for cmd, args in (("focus.drive", {"direction": "near", "level": 3, "count": 5}), ("status", {})):
            with pytest.raises(CallTimeout):
                c.call(cmd, args)
    with Subscriber(node.ready["pub"], [""], security=bad) as sub:
        assert sub.recv(3) is None  # not one frame, not one heartbeat
    with Client(node.ready["rep"], timeout=10, security=known) as c:
        assert c.call("status")["move_id"] == before  # the motor never moved
    with Subscriber(node.ready["pub"], ["frame.cam1"], security=known) as sub:
        ev = sub.recv(10)
    assert ev is not None and ev.header["move_id"] == before


def test_controller_talks_to_the_secured_node_and_refuses_strangers(secured: dict[str, Any]) -> None:
    ctl = secured["ctl"]
    sec = load_security(secured["keys"], "viewer").client_for("controller")
    with Client(ctl.ready["rep"], timeout=10, security=sec) as c:
        cams = rigproc.wait_for(
            lambda: [x for x in c.call("status")["cameras"] if x["online"]],
            30,
            "cam1 online in the controller",
        )
        assert cams[0]["state"] == "liveview"
    with Client(ctl.ready["rep"], timeout=2, security=stranger(secured["keys"], "controller")) as c:
        with pytest.raises(CallTimeout):
            c.call("node.call", {"camera": "cam1", "cmd": "focus.drive", "args": {"steps": 5}})
    with Subscriber(ctl.ready["pub"], [""], security=stranger(secured["keys"], "controller")) as sub:
        assert sub.recv(2.5) is None
    with Subscriber(ctl.ready["pub"], ["status."], security=sec) as sub:
        assert sub.recv(5) is not None


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_viewer_demands_its_token_and_sees_the_secured_rig(secured: dict[str, Any]) -> None:
    url = secured["viewer"].ready["url"]
    base, _, query = url.partition("?")
    token = query.removeprefix("token=")
    assert len(token) >= 16
    for path in ("", "api/state", "snapshot/cam1.jpg", "stream/cam1.mjpg", "static/app.js", "nope"):
        status, _, body = _get(base + path)
        assert status == 401, path
        assert "token" in json.loads(body)["error"]
    assert _get(base + "api/state?token=wrong" + token[5:])[0] == 401
    status, headers, _ = _get(url)
    assert status == 200 and "tetherfocus_token=" in headers.get("Set-Cookie", "")

    def state() -> Any:
        status, _, body = _get(base + "api/state", {"Authorization": f"Bearer {token}"})
        assert status == 200
        s = json.loads(body)
        cam = s["cameras"][0]
        return s if cam["state"] == "liveview" and cam["frames"] > 0 and s["controller"]["online"] else None

    rigproc.wait_for(state, 30, "frames and the controller through CURVE in the viewer", period=0.3)

    async def ws() -> None:
        # a cookie jar that keeps cookies of an IP address (aiohttp's default does not)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await session.ws_connect(base + "ws?frames=none")
            assert err.value.status == 401
            async with session.get(url) as r:  # the printed URL sets the cookie ...
                assert r.status == 200
            async with session.ws_connect(base + "ws?frames=none") as sock:  # ... the socket carries it
                hello = await sock.receive_json(timeout=10)
                assert hello["type"] == "hello" and hello["cameras"] == ["cam1"]

    asyncio.run(ws())


def test_viewer_token_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("myhost")
    assert viewer_token(None, "127.0.0.1", False) is None  # loopback: no token by default
    made = viewer_token(None, "0.0.0.0", False)  # beyond loopback: always one
    assert made is not None and len(made) >= 16 and made != viewer_token(None, "0.0.0.0", False)
    assert viewer_token("a" * 20, "0.0.0.0", False) == "a" * 20
    assert viewer_token(None, "127.0.0.1", True) is not None


def test_keys_mistakes_are_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    for args in (
        ["node", "--camera", "sim", "--keys", str(tmp_path / "none")],
        [
            "viewer",
            "--rig",
            str(rigproc.write_rig(tmp_path, [("c", "tcp://127.0.0.1:1", None)])),
            "--keys",
            str(tmp_path / "none"),
        ],
        ["viewer", "--rig", str(tmp_path / "rig.toml"), "--token", "short"],
        ["keys", "init", "/proc/no-such-dir"],  # was a traceback
    ):
        r = subprocess.run(
            [sys.executable, "-m", "tetherfocus.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=rigproc.ROOT,
        )
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
