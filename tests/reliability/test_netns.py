"""Network faults: a node behind a link that is cut for 10 s, in network namespaces.

Layout (created per test run, removed in the finalizer; names carry a random suffix):

    netns tfc-XXXX (controller)              netns tfn-XXXX (node)
      vc-XXXX 10.77.N.1/24  <── veth ──>  vn-XXXX 10.77.N.2/24
      controller: rep/pub on ipc://        node: tcp://10.77.N.2:5555/5556

The addresses exist only inside the two namespaces; the test process (root namespace)
talks to the controller over ipc:// sockets in the test's temporary directory, which work
across network namespaces.  The cut is ``tc netem loss 100%`` on both ends of the veth
(packets vanish, the links stay up: nothing tells TCP or ZeroMQ) where the kernel has
sch_netem; otherwise the node's end of the veth is set down.  Asserted: offline seen, then
online again; the controller still answers and frames flow (no stuck socket); the
controller's RSS stays flat; a capture started just before the cut either completes with
its sha256 verified, or is reported failed, never lost.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import rigproc
from tests.reliability.rigproc import figure
from tetherfocus.client import Client, RemoteError

pytestmark = [pytest.mark.live, pytest.mark.netns]

CUT_S = 10.0
BOUND_S = 15.0  # generous: the design target is 3 s


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class Net:
    def __init__(self) -> None:
        sfx = secrets.token_hex(3)
        self.ctl_ns, self.node_ns = f"tfc-{sfx}", f"tfn-{sfx}"
        self.ctl_if, self.node_if = f"vc-{sfx}", f"vn-{sfx}"
        n = int(sfx[:2], 16)
        self.ctl_ip, self.node_ip = f"10.77.{n}.1", f"10.77.{n}.2"
        self.method = ""

    def up(self) -> None:
        _ip("netns", "add", self.ctl_ns)
        _ip("netns", "add", self.node_ns)
        _ip(
            "link",
            "add",
            self.ctl_if,
            "netns",
            self.ctl_ns,
            "type",
            "veth",
            "peer",
            "name",
            self.node_if,
            "netns",
            self.node_ns,
        )
        for ns, dev, ip in (
            (self.ctl_ns, self.ctl_if, self.ctl_ip),
            (self.node_ns, self.node_if, self.node_ip),
        ):
            _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def cut(self, on: bool) -> None:
        """Cut (or restore) the link: netem loss 100% on both ends where the kernel has
        sch_netem, else the node's end of the veth down (a cable pulled at the node)."""
        if on:
            self.method = "netem loss 100%"
            for ns, dev in ((self.ctl_ns, self.ctl_if), (self.node_ns, self.node_if)):
                r = subprocess.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "tc",
                        "qdisc",
                        "add",
                        "dev",
                        dev,
                        "root",
                        "netem",
                        "loss",
                        "100%",
                    ],
                    capture_output=True,
                    timeout=20,
                )
                if r.returncode != 0:
                    self.method = "link down (node end)"
                    break
            if self.method.startswith("link"):
                self.cut(False)
                _ip("-n", self.node_ns, "link", "set", self.node_if, "down")
        else:
            for ns, dev in ((self.ctl_ns, self.ctl_if), (self.node_ns, self.node_if)):
                subprocess.run(
                    ["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"],
                    capture_output=True,
                    timeout=20,
                )
            _ip("-n", self.node_ns, "link", "set", self.node_if, "up", check=False)

    def down(self) -> None:
        for ns in (self.ctl_ns, self.node_ns):  # deleting a namespace removes its veth end too
            _ip("netns", "del", ns, check=False)

    def exec_prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]


def _netns_available() -> bool:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tc"):
        return False
    probe = f"tfprobe-{secrets.token_hex(3)}"
    ok = _ip("netns", "add", probe, check=False).returncode == 0
    _ip("netns", "del", probe, check=False)
    return ok


@pytest.fixture
def netrig(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not _netns_available():
        pytest.skip("needs root, iproute2 (ip netns) and tc")
    net = Net()
    procs: list[rigproc.Proc] = []
    try:
        net.up()
        scene = rigproc.small_scene(tmp_path)
        node = rigproc.node(
            tmp_path,
            "cam1",
            scene,
            "--seed",
            "4",
            pub=f"tcp://{net.node_ip}:5555",
            rep=f"tcp://{net.node_ip}:5556",
            prefix=net.exec_prefix(net.node_ns),
        )
        procs.append(node)
        rig = rigproc.write_rig(
            tmp_path, [("cam1", f"tcp://{net.node_ip}:5556", f"tcp://{net.node_ip}:5555")]
        )
        ctl = rigproc.controller(
            tmp_path,
            rig,
            rep=f"ipc://{tmp_path}/ctl-rep.ipc",
            pub=f"ipc://{tmp_path}/ctl-pub.ipc",
            prefix=net.exec_prefix(net.ctl_ns),
        )
        procs.append(ctl)
        yield {"net": net, "node": node, "ctl": ctl}
    finally:
        net.cut(False)
        for p in reversed(procs):
            p.stop()
        net.down()


def _camera(ctl: rigproc.Proc) -> dict[str, Any]:
    with Client(ctl.ready["rep"], timeout=3) as c:
        return dict(c.call("status")["cameras"][0])


def test_a_cut_link_goes_offline_comes_back_and_loses_no_shot(netrig: dict[str, Any]) -> None:
    net: Net = netrig["net"]
    ctl: rigproc.Proc = netrig["ctl"]
    rigproc.wait_for(lambda: _camera(ctl)["online"] and _camera(ctl)["fps"] > 0, 40, "cam1 online", 0.2)
    time.sleep(2.0)  # let the controller settle before measuring its memory
    rss_before = rigproc.rss_kb(ctl.pid)
    fds_before = rigproc.fds(ctl.pid)

    shot: dict[str, Any] = {}

    def capture() -> None:
        try:
            with Client(ctl.ready["rep"], timeout=90) as c:
                shot["result"] = c.call("node.call", {"camera": "cam1", "cmd": "capture", "args": {}})[
                    "result"
                ]
        except RemoteError as exc:
            shot["error"] = exc
        shot["t"] = time.monotonic()

    worker = threading.Thread(target=capture, daemon=True)
    worker.start()
    time.sleep(0.05)  # the request is on its way or being served
    t0 = time.monotonic()
    net.cut(True)
    offline = None
    try:
        while time.monotonic() - t0 < CUT_S:
            if offline is None and not _camera(ctl)["online"]:
                offline = time.monotonic() - t0
            time.sleep(0.1)
    finally:
        net.cut(False)
    t1 = time.monotonic()
    rigproc.wait_for(lambda: _camera(ctl)["online"], BOUND_S, "cam1 online after the cut", 0.1)
    online = time.monotonic() - t1
    worker.join(100)
    assert not worker.is_alive(), "the capture call never returned"
    assert offline is not None and offline < BOUND_S, "the cut was never seen"

    # no stuck socket: commands through the controller and frames flow again
    with Client(ctl.ready["rep"], timeout=10) as c:
        st = c.call("node.call", {"camera": "cam1", "cmd": "status", "args": {}})["result"]
        assert st["state"] in ("liveview", "busy")
    rigproc.wait_for(lambda: _camera(ctl)["fps"] > 0, BOUND_S, "frames after the cut", 0.2)

    # the capture: whole and verified, or reported failed
    if "result" in shot:
        r = shot["result"]
        assert r["size"] == len(r["data"]) and hashlib.sha256(r["data"]).hexdigest() == r["sha256"]
        outcome = "ok, sha256 verified"
    else:
        assert isinstance(shot.get("error"), RemoteError) and shot["error"].code.value in (
            "timeout",
            "camera_error",
        )
        outcome = f"failed: {shot['error'].code.value}"

    time.sleep(2.0)
    rss_after = rigproc.rss_kb(ctl.pid)
    fds_after = rigproc.fds(ctl.pid)
    figure(
        "netns_cut_10s",
        method=net.method,
        offline_seen_s=round(offline, 2),
        online_after_restore_s=round(online, 2),
        capture=outcome,
        capture_returned_after_cut_s=round(shot["t"] - t0, 2),
        controller_rss_kb=[rss_before, rss_after],
        controller_fds=[fds_before, fds_after],
    )
    assert rss_after < rss_before * 1.5 + 30_000, (rss_before, rss_after)  # flat, generously
    assert fds_after <= fds_before + 10, (fds_before, fds_after)
