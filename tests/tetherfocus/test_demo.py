"""``tetherfocus demo``, the README's first command, end to end: two simulated cameras, the
controller and the viewer as real processes; the viewer serves its page, the controller
sees both cameras and autofocuses one; Ctrl-C or SIGTERM stops it with exit 0 and no
child left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tetherfocus.client import Client, RemoteError
from tetherfocus.procs import free_port, tetherfocus_argv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.live
T = TypeVar("T")


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    kids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            kids.add(int(entry.name))
    return kids


def _until(pred: Callable[[], T | None], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got = pred()
        except (OSError, RemoteError, TimeoutError):
            got = None
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {seconds:g} s")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_demo_serves_focuses_and_stops_cleanly(stop: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen(
        tetherfocus_argv("demo", "--cameras", "2", "--http", f"127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    out = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(iter(out.readline, "")), daemon=True)
    reader.start()
    try:
        _until(lambda: any("Open http://" in ln for ln in lines), 60, "URL line")
        ctl = next(m.group(1) for ln in lines if (m := re.search(r"controller: commands (\S+),", ln)))

        page = _until(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read(), 60, "viewer page"
        )
        assert b"<html" in page.lower()

        with Client(ctl, timeout=10) as c:

            def online() -> bool | None:
                cams = c.call("status")["cameras"]
                return len(cams) == 2 and all(cam["online"] for cam in cams)

            _until(online, 60, "two cameras online")
            started = c.call("autofocus", {"camera": "cam1"})
            assert started["camera"] == "cam1"

            def result() -> dict[str, Any] | None:
                cam = next(x for x in c.call("status")["cameras"] if x["name"] == "cam1")
                done = cam["af"] == "idle" and cam["last_result"] is not None
                return cam["last_result"] if done else None

            r = _until(result, 120, "autofocus result")
            assert r["ok"] or r["reason"], r  # a result either way: the whole path works
        kids = _children(proc.pid)
        assert len(kids) == 4, (kids, lines)  # two nodes, the controller, the viewer
    finally:
        proc.send_signal(stop)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, "".join(lines)
    left = [
        k for k in kids if os.path.exists(f"/proc/{k}") and "Z" not in Path(f"/proc/{k}/stat").read_text()
    ]
    assert not left, (left, "".join(lines))
