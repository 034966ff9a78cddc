"""A rig of 8 simulated nodes, 3 of them in their own network namespaces, as real processes.

Topology (tests/rig/netns.py): a hub namespace holds the controller and five nodes on its
own loopback; three nodes each sit in a namespace of their own with a 10.77.N.x address,
wired to the hub's bridge.  The nodes announce themselves over mDNS (on those addresses
only); ``rig discover`` in the hub finds them.  The test process talks to the controller
over an ``ipc://`` socket, which crosses namespaces through the file system.

One set of processes serves the whole module; the tests run in order (discovery, capture,
focus, presets, restart, stack) and each leaves the rig usable for the next.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.rig import dump_rig, load_rig
from tests.rig import netns
from tests.rig.rigproc import ENV, ROOT, Proc, node_argv, run_in, spawn, start, start_node, tf, wait_ready
from tetherfocus.client import Client, RemoteError

pytestmark = [pytest.mark.live, pytest.mark.netns, pytest.mark.timeout(600)]

NS_CAMERAS = 3  # nodes in namespaces of their own
LO_CAMERAS = 5  # nodes on the hub's loopback
FPS = 10
CUSTOM_ROI = [0.3, 0.35, 0.25, 0.2]
LONG = 300.0
FIGURES: dict[str, Any] = {}


@dataclasses.dataclass
class Rig:
    net: netns.Net
    tmp: Path
    scene: Path
    state: Path
    nodes: dict[str, Proc]
    rig_path: Path
    ctl: Proc | None = None
    ctl_rep: str = ""

    def client(self) -> Client:
        return Client(self.ctl_rep, timeout=LONG)

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.client() as c:
            return c.call(cmd, args or {})

    def start_controller(self, rig_path: Path) -> None:
        sock = self.tmp / f"ctl-{time.monotonic_ns()}"
        argv = tf(
            "controller",
            "--rig",
            str(rig_path),
            "--rep",
            f"ipc://{sock}.rep",
            "--pub",
            f"ipc://{sock}.pub",
            "--state",
            str(self.state),
            "-v",
        )
        self.ctl = start(self.net.exec_argv(self.net.hub, argv), self.tmp / f"{sock.name}.log", timeout=30)
        self.ctl_rep = self.ctl.ready["rep"]
        deadline = time.monotonic() + 60
        while True:  # every camera online
            cams = self.call("status")["cameras"]
            if all(c["online"] for c in cams):
                return
            assert time.monotonic() < deadline, (
                f"cameras offline: {[c['name'] for c in cams if not c['online']]}"
            )
            time.sleep(0.3)

    def discover(self, out: Path) -> list[dict[str, Any]]:
        r = run_in(
            self.net,
            self.net.hub,
            "rig",
            "discover",
            "--seconds",
            "4",
            "--interface",
            "127.0.0.1",
            "--interface",
            self.net.hub_addr,
            "--state",
            str(self.state),
            "--write",
            str(out),
        )
        cams: list[dict[str, Any]] = tomllib.loads(out.read_text()).get("camera", [])
        assert cams, f"nothing discovered: {r.stdout} {r.stderr}"
        return cams


def _scene(tmp: Path) -> Path:
    path = tmp / "small.toml"
    assets = ROOT / "camera_node" / "sim" / "scenes" / "assets"
    path.write_text(
        f'name = "small"\nimage = "{assets / "tabletop.png"}"\nseed = 11\n'
        "[depth]\nfocus_at = 430\n[optics]\ncapture = [1200, 800]\n[stream]\nmirror_up_s = 0.3\n"
    )
    return path


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    why = netns.available()
    if why is not None:
        pytest.skip(f"network namespaces: {why}")
    tmp = tmp_path_factory.mktemp("rig")
    pid = os.getpid()
    net = netns.Net(f"tf7r{pid % 100000}", 100 + pid % 100, NS_CAMERAS)
    net.create()
    scene = _scene(tmp)
    nodes: dict[str, Proc] = {}
    r = Rig(net, tmp, scene, tmp / "state", nodes, tmp / "rig.toml")
    try:
        specs = [(net.ns(i), net.addr(i), f"ns{i}", i) for i in range(1, NS_CAMERAS + 1)]
        specs += [
            (net.hub, "127.0.0.1", f"lo{i}", i) for i in range(NS_CAMERAS + 1, NS_CAMERAS + LO_CAMERAS + 1)
        ]
        spawned = {  # all at once, from this thread (see rigproc.spawn)
            name: spawn(node_argv(net, ns, addr, name, seed, scene, FPS), tmp / f"node-{name}.log")
            for ns, addr, name, seed in specs
        }
        for name, (proc, log) in spawned.items():
            nodes[name] = wait_ready(proc, log)
        yield r
    finally:
        if r.ctl is not None:
            r.ctl.stop()
        for p in nodes.values():
            p.stop()
        net.destroy()
        if FIGURES:
            (tmp / "figures.json").write_text(json.dumps(FIGURES, indent=2))
            print("\nrig figures:", json.dumps(FIGURES, indent=2))


def _focus(rig: Rig, cams: list[str], **kw: Any) -> dict[str, dict[str, Any]]:
    """rig.focus_all; a camera whose run failed is tried once more (a loaded, shared machine
    can starve a run of frames).  The results by camera, every one ok."""
    results = {x["camera"]: x for x in rig.call("rig.focus_all", {"cameras": cams, **kw})["results"]}
    failed = [c for c, x in results.items() if not x["ok"]]
    if failed:
        FIGURES.setdefault("focus_retries", []).append({c: results[c].get("reason") for c in failed})
        again = rig.call("rig.focus_all", {"cameras": failed, **kw})["results"]
        results.update({x["camera"]: x for x in again})
    bad = {c: (x.get("reason"), x.get("detail")) for c, x in results.items() if not x["ok"]}
    assert not bad, bad
    return results


def _home(rig: Rig, cams: list[str]) -> None:
    """rig.home, every camera ok (it reports failures per camera instead of raising); a
    camera that failed is tried once more, as in :func:`_focus`, and the reason recorded."""
    results = {x["camera"]: x for x in rig.call("rig.home", {"cameras": cams})["results"]}
    failed = [c for c, x in results.items() if not x["ok"]]
    if failed:
        FIGURES.setdefault("home_retries", []).append({c: results[c].get("detail") for c in failed})
        again = rig.call("rig.home", {"cameras": failed})["results"]
        results.update({x["camera"]: x for x in again})
    bad = {c: (x.get("reason"), x.get("detail")) for c, x in results.items() if not x["ok"]}
    assert not bad, bad


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_discovery_finds_every_node_by_serial(rig: Rig) -> None:
    cams = rig.discover(rig.rig_path)
    by_name = {c["name"]: c for c in cams}
    assert set(by_name) == {f"ns{i}" for i in range(1, 4)} | {f"lo{i}" for i in range(4, 9)}
    assert sorted(c["serial"] for c in cams) == [f"SIM{i:06d}small" for i in range(1, 9)]
    for i in range(1, NS_CAMERAS + 1):  # the namespaced nodes are found at their own addresses
        assert by_name[f"ns{i}"]["rep"] == rig.nodes[f"ns{i}"].ready["rep"]
        assert by_name[f"ns{i}"]["rep"].startswith(f"tcp://{rig.net.addr(i)}:")
    for i in range(4, 9):
        assert by_name[f"lo{i}"]["rep"] == rig.nodes[f"lo{i}"].ready["rep"]
    # the first controller sees ns1 with a region of its own; the state keeps it by serial
    loaded = load_rig(rig.rig_path)
    cameras = tuple(
        dataclasses.replace(c, roi=tuple(CUSTOM_ROI)) if c.name == "ns1" else c for c in loaded.cameras
    )
    rig.rig_path.write_text(dump_rig(dataclasses.replace(loaded, cameras=cameras)))
    rig.start_controller(rig.rig_path)
    status = {c["name"]: c for c in rig.call("status")["cameras"]}
    assert status["ns1"]["roi"] == CUSTOM_ROI
    assert json.loads((rig.state / "SIM000001small.json").read_text())["roi"] == CUSTOM_ROI


def test_capture_all_fires_together_and_the_manifest_matches_the_files(rig: Rig) -> None:
    spreads, true_spreads = [], []
    for _ in range(3):
        r = rig.call("rig.capture_all", {"out": str(rig.tmp / "shots")})
        assert r["failed"] == []
        shot = Path(r["dir"])
        manifest = json.loads((shot / "manifest.json").read_text())
        assert len(manifest["cameras"]) == 8
        for e in manifest["cameras"]:
            f = shot / e["file"]
            assert f.name == f"{e['camera']}.jpg"
            assert _sha(f) == e["sha256"] and e["node_sha256_ok"]
            assert f.stat().st_size == e["size"]
            assert e["serial"].startswith("SIM") and isinstance(e["sharpness"], float)
            assert abs(e["offset_from_target_s"]) < 1.0  # scheduled, not fired one after another
        assert manifest["spread_s"] == pytest.approx(r["spread_s"])
        spreads.append(r["spread_s"])
        # every process here reads the same CLOCK_MONOTONIC (network namespaces do not change
        # it), so the nodes' own shutter times give the true spread to check the estimate by
        node_t = [e["node_t"] for e in manifest["cameras"]]
        true_spreads.append(max(node_t) - min(node_t))
        assert abs(r["spread_s"] - true_spreads[-1]) <= 2 * r["error_s"] + 1e-6
    FIGURES["capture_spread_ms_8_nodes"] = [round(1000 * s, 3) for s in spreads]
    FIGURES["true_spread_ms_8_nodes"] = [round(1000 * s, 3) for s in true_spreads]
    FIGURES["offset_error_bound_ms"] = round(1000 * r["error_s"], 3)
    FIGURES["spread_bound_ms"] = round(1000 * r["spread_bound_s"], 3)
    # the same through the command line, from the host's namespace
    out = subprocess.run(
        tf("rig", "capture-all", "--controller", rig.ctl_rep, "--out", str(rig.tmp / "cli-shots")),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "spread" in out.stdout and len(list((rig.tmp / "cli-shots").glob("shot-*/lo8.jpg"))) == 1


def test_focus_all_and_a_nudged_camera_is_flagged(rig: Rig) -> None:
    cams = ["ns2", "lo4", "lo5"]
    t0 = time.monotonic()
    results = _focus(rig, cams)
    assert all(isinstance(x["reference"], float) for x in results.values())
    FIGURES["focus_all_3_cameras_s"] = round(time.monotonic() - t0, 1)
    rig.call(
        "node.call",
        {"camera": "lo5", "cmd": "focus.drive", "args": {"direction": "far", "level": 3, "count": 3}},
    )
    time.sleep(1.0)
    shot = rig.call("rig.capture_all", {"out": str(rig.tmp / "check"), "cameras": cams})
    assert shot["flagged"] == ["lo5"], shot["cameras"]
    ratios = {e["camera"]: e["ratio"] for e in shot["cameras"]}
    FIGURES["sharpness_ratio_after_focus"] = ratios
    assert ratios["lo5"] < 0.8 <= min(ratios["ns2"], ratios["lo4"])


def test_preset_goto_absorbs_drift_and_reports_it(rig: Rig) -> None:
    _home(rig, ["ns1"])
    _focus(rig, ["ns1"], reference=False)
    saved = rig.call("preset.save", {"camera": "ns1", "name": "product-A"})
    assert saved["serial"] == "SIM000001small" and saved["position"] > 0
    rig.call("preset.save", {"camera": "ns1", "name": "far-end", "position": 700.0})
    away = rig.call("preset.goto", {"camera": "ns1", "name": "far-end", "refine": False})
    assert away["drift"] is None and away["refine"] is None
    back = rig.call("preset.goto", {"camera": "ns1", "name": "product-A"})
    assert back["refine"]["ok"], back
    assert abs(back["drift"]) < 25  # dead reckoning is close; the fine search measures the rest
    # the node was told it is at the preset, so what follows starts from there
    assert back["synced"] is True and back["position"] == back["target"]
    FIGURES["preset_drift_steps"] = [back["drift"]]
    with pytest.raises(RemoteError) as exc:
        rig.call("preset.goto", {"camera": "ns1", "name": "no-such"})
    assert exc.value.code.value == "not_found" and "product-A" in exc.value.message


def test_presets_and_region_survive_a_node_restart_on_a_new_port(rig: Rig) -> None:
    before = rig.call("preset.list", {"camera": "ns1"})["presets"]
    assert rig.ctl is not None
    rig.ctl.stop()
    rig.ctl = None
    old = rig.nodes.pop("ns1")
    old.stop()
    # same body (seed -> serial), another name and another port
    rig.nodes["ns1"] = start_node(
        rig.net, rig.net.ns(1), rig.net.addr(1), "renamed", 1, rig.scene, rig.tmp, FPS
    )
    assert rig.nodes["ns1"].ready["rep"] != old.ready["rep"]
    cams = {c["serial"]: c for c in rig.discover(rig.tmp / "rig2.toml")}
    again = cams["SIM000001small"]
    assert again["name"] == "ns1"  # named by the state, not by the node
    assert again["rep"] == rig.nodes["ns1"].ready["rep"]
    assert again["roi"] == CUSTOM_ROI
    rig.start_controller(rig.tmp / "rig2.toml")
    assert rig.call("preset.list", {"camera": "ns1"})["presets"] == before
    back = rig.call("preset.goto", {"camera": "ns1", "name": "product-A"})
    assert back["homed"] is True  # a restarted node has forgotten its position: homed first
    assert back["refine"]["ok"], back
    FIGURES["preset_drift_steps"].append(back["drift"])


def test_stack_steps_one_way_and_its_manifest_matches(rig: Rig) -> None:
    start_pos = rig.call("preset.list", {"camera": "ns1"})["presets"]
    a = next(p["position"] for p in start_pos if p["name"] == "product-A")
    r = rig.call(
        "rig.stack",
        {"camera": "ns1", "from": a + 30.0, "to": "product-A", "shots": 4, "out": str(rig.tmp / "stacks")},
    )
    assert r["positions"] == sorted(r["positions"]) and r["positions"][0] == pytest.approx(a)
    manifest = json.loads((Path(r["dir"]) / "manifest.json").read_text())
    got = [f["position"] for f in manifest["frames"]]
    assert got == sorted(got) and len(got) == 4
    for f in manifest["frames"]:
        assert _sha(Path(r["dir"]) / f["file"]) == f["sha256"]
    # focus falls off away from the preset
    assert manifest["frames"][0]["sharpness"] > manifest["frames"][-1]["sharpness"]


def test_cli_mistakes_are_one_line(rig: Rig) -> None:
    out = subprocess.run(
        tf("rig", "stack", "--controller", rig.ctl_rep, "--camera", "nope", "--from", "1", "--to", "2",
           "--shots", "3", "--out", str(rig.tmp / "x")),
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "not_found" in out.stderr and "ns1" in out.stderr
