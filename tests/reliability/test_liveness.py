"""Liveness and restarts, with real processes on loopback.

- A node that stops (SIGSTOP: it misses its heartbeats, its TCP connections stay up) is
  shown offline by the controller and the viewer, and online again once it runs.
- A node killed and started again on the same ports is found again by the controller and
  the viewer on their own, and autofocus works on it.
- An autofocus running on a node that vanishes ends as failed, with a reason.
- A controller killed and started again on the same ports is found again by the viewer.

Times are measured and printed (``FIGURE ...`` lines, see docs/reliability.md); the only
bounds asserted are generous ones (10 s), so a loaded 2-core machine does not make them flaky.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import rigproc
from tests.reliability.rigproc import figure
from tetherfocus.client import Client, RemoteError, Subscriber

pytestmark = pytest.mark.live

BOUND_S = 10.0  # generous: the design target is ~3 s


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.scene = rigproc.small_scene(tmp)
        n_pub, n_rep, c_rep, c_pub = rigproc.free_ports(4)
        self.node = rigproc.node(
            tmp,
            "cam1",
            self.scene,
            "--seed",
            "3",
            pub=f"tcp://127.0.0.1:{n_pub}",
            rep=f"tcp://127.0.0.1:{n_rep}",
        )
        rig = rigproc.write_rig(tmp, [("cam1", self.node.ready["rep"], self.node.ready["pub"])])
        self.ctl = rigproc.controller(
            tmp, rig, rep=f"tcp://127.0.0.1:{c_rep}", pub=f"tcp://127.0.0.1:{c_pub}"
        )
        self.viewer = rigproc.viewer(tmp, rig, self.ctl.ready["rep"], self.ctl.ready["pub"])

    def procs(self) -> list[rigproc.Proc]:
        return [self.viewer, self.ctl, self.node]

    def ctl_camera(self) -> dict[str, Any]:
        with Client(self.ctl.ready["rep"], timeout=3) as c:
            return dict(c.call("status")["cameras"][0])

    def viewer_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.viewer.ready["url"] + "api/state", timeout=5) as r:
            return dict(json.loads(r.read()))

    def viewer_camera(self) -> dict[str, Any]:
        return dict(self.viewer_state()["cameras"][0])

    def wait_online(self, timeout: float = 30.0) -> None:
        rigproc.wait_for(lambda: self.ctl_camera()["online"], timeout, "controller: cam1 online", 0.1)
        rigproc.wait_for(
            lambda: self.viewer_camera()["state"] == "liveview", timeout, "viewer: cam1 in live view", 0.1
        )


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    r = Rig(tmp_path_factory.mktemp("liveness"))
    try:
        r.wait_online()
        yield r
    finally:
        for p in r.procs():
            p.stop()


def _transition(rig: Rig, online: bool, since: float) -> dict[str, float]:
    """Seconds from ``since`` until the controller and the viewer both show ``online``."""
    seen: dict[str, float] = {}
    deadline = since + BOUND_S + 5

    def done() -> bool:
        now = time.monotonic()
        if "controller" not in seen and rig.ctl_camera()["online"] is online:
            seen["controller"] = now - since
        vs = rig.viewer_camera()["state"]
        if "viewer" not in seen and (vs == "offline") is not online and vs != "connecting":
            seen["viewer"] = now - since
        return len(seen) == 2 or now > deadline

    rigproc.wait_for(done, BOUND_S + 10, "a transition", 0.05)
    return seen


def test_a_silent_node_goes_offline_and_comes_back(rig: Rig) -> None:
    pid = rig.node.pid
    log_before = rig.ctl.log.read_text().count("resubscribing")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        off = _transition(rig, False, t0)
        time.sleep(max(0.0, 6.0 - (time.monotonic() - t0)))  # long enough for both to resubscribe
    finally:
        os.kill(pid, signal.SIGCONT)
    t1 = time.monotonic()
    on = _transition(rig, True, t1)
    figure("sigstop_offline_s", **off)
    figure("sigcont_online_s", **on)
    assert set(off) == {"controller", "viewer"} and max(off.values()) < BOUND_S, off
    assert set(on) == {"controller", "viewer"} and max(on.values()) < BOUND_S, on
    # the controller's subscriber noticed the silence and rebuilt itself
    assert rig.ctl.log.read_text().count("resubscribing") > log_before


def _autofocus(ctl_rep: str, ctl_pub: str, camera: str = "cam1", timeout: float = 90) -> dict[str, Any]:
    with Subscriber(ctl_pub, [f"af.{camera}"]) as sub, Client(ctl_rep, timeout=10) as c:
        time.sleep(0.3)
        run_id = c.call("autofocus", {"camera": camera})["run_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = sub.recv(2)
            if ev is not None and ev.header.get("run_id") == run_id and ev.header.get("kind") == "result":
                return dict(ev.header["result"])
    raise AssertionError("no autofocus result")


def test_autofocus_on_a_vanishing_node_fails_with_a_reason(rig: Rig) -> None:
    with Subscriber(rig.ctl.ready["pub"], ["af.cam1"]) as sub, Client(rig.ctl.ready["rep"], timeout=10) as c:
        time.sleep(0.3)
        run_id = c.call("autofocus", {"camera": "cam1"})["run_id"]
        # let the run get going (a few samples), then the node vanishes
        samples = 0
        while samples < 3:
            ev = sub.recv(20)
            assert ev is not None, "autofocus produced no samples"
            samples += ev.header.get("kind") == "sample"
        t0 = time.monotonic()
        rig.node.kill()
        result = None
        while time.monotonic() - t0 < 60:
            ev = sub.recv(2)
            if ev is not None and ev.header.get("run_id") == run_id and ev.header.get("kind") == "result":
                result = ev.header["result"]
                break
    assert result is not None, "the run never ended"
    figure(
        "autofocus_node_vanished", seconds_to_fail=round(time.monotonic() - t0, 2), reason=result["reason"]
    )
    assert result["ok"] is False and result["reason"] and result.get("detail")
    assert rig.ctl_camera()["af"] == "idle"  # the camera is free for the next run
    # bring it back on the same ports for the next test
    t1 = time.monotonic()
    rig.node = rigproc.restart(rig.node, rig.tmp)
    up = time.monotonic()
    rig.wait_online()
    figure(
        "node_restart_online_s",
        after_ready=round(time.monotonic() - up, 2),
        total=round(time.monotonic() - t1, 2),
    )


def test_a_restarted_node_is_reconnected_and_autofocus_works(rig: Rig) -> None:
    rig.node.kill()
    rigproc.wait_for(lambda: not rig.ctl_camera()["online"], BOUND_S, "cam1 offline after the kill")
    rig.node = rigproc.restart(rig.node, rig.tmp)
    ready = time.monotonic()
    rig.wait_online()
    figure("node_killed_restarted_online_s", after_ready=round(time.monotonic() - ready, 2))
    result = _autofocus(rig.ctl.ready["rep"], rig.ctl.ready["pub"])
    assert result["ok"] is True, result
    seq = rig.viewer_camera()["seq"]
    rigproc.wait_for(
        lambda: rig.viewer_camera()["seq"] != seq, BOUND_S, "frames of the new node in the viewer"
    )


def test_a_restarted_controller_is_found_again_by_the_viewer(rig: Rig) -> None:
    rig.ctl.kill()
    t0 = time.monotonic()
    rigproc.wait_for(
        lambda: rig.viewer_state()["controller"]["online"] is False, BOUND_S, "viewer: controller offline"
    )
    gone = time.monotonic() - t0
    rig.ctl = rigproc.restart(rig.ctl, rig.tmp)
    t1 = time.monotonic()
    rigproc.wait_for(
        lambda: rig.viewer_state()["controller"]["online"] is True, BOUND_S, "viewer: controller online again"
    )
    back = time.monotonic() - t1
    # and its events flow again: the controller's liveness of cam1 reaches the viewer
    rigproc.wait_for(
        lambda: rig.viewer_camera()["online"] is True, BOUND_S + 10, "cam1 online via the controller"
    )
    figure("controller_restart_viewer", offline_seen_s=round(gone, 2), online_again_s=round(back, 2))
    try:
        with Client(rig.ctl.ready["rep"], timeout=3) as c:
            c.call("status")
    except RemoteError as exc:  # pragma: no cover - diagnostic
        raise AssertionError(exc) from None
