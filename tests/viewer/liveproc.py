"""A whole rig as real processes on loopback: sim nodes, the controller, the viewer.

Every process binds port 0 (``tcp://127.0.0.1:*``, ``--http 127.0.0.1:0``) and prints one
JSON ready line naming what it bound, so there are no port races.  ``LiveRig.stop`` sends
SIGTERM to each and returns their exit codes; anything left is killed.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCENES = ("chart", "coffee", "tabletop", "moto", "highlight", "lowcontrast")


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[str]
    ready: dict[str, Any]
    log: Path

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None


def spawn(name: str, args: list[str], tmp: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start ``tetherfocus ARGS`` (stdout piped for its ready line, stderr to a log file)."""
    log = tmp / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tetherfocus.cli", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            cwd=ROOT,
        )
    return proc, log


def ready(name: str, proc: subprocess.Popen[str], log: Path, timeout: float = 60.0) -> Proc:
    """Wait for the process's JSON ready line.  Raises RuntimeError (after killing it)."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    line = proc.stdout.readline() if sel.select(timeout) else ""
    sel.close()
    if not line.startswith("{"):
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"{name} did not start ({line!r}): {log.read_text()[-2000:]}")
    return Proc(name, proc, json.loads(line), log)


def start(name: str, args: list[str], tmp: Path, timeout: float = 60.0) -> Proc:
    """Start ``tetherfocus ARGS`` and wait until it is ready.  Raises RuntimeError."""
    return ready(name, *spawn(name, args, tmp), timeout)


@dataclass
class LiveRig:
    tmp: Path
    nodes: list[Proc] = field(default_factory=list)
    controller: Proc | None = None
    viewer: Proc | None = None

    @property
    def url(self) -> str:
        assert self.viewer is not None
        return str(self.viewer.ready["url"])

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def stop(self, timeout: float = 15.0) -> dict[str, int | None]:
        """SIGTERM everything (viewer first), then the exit codes by process name; None for
        a process that had to be killed after ``timeout`` s."""
        procs = [p for p in [self.viewer, self.controller, *self.nodes] if p is not None]
        for p in procs:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        return {p.name: p.stop(max(0.1, deadline - time.monotonic())) for p in procs}


def start_rig(tmp: Path, cameras: int, *, viewer: bool = True, fps: int = 25) -> LiveRig:
    """``cameras`` sim nodes on different scenes, a controller, and (optionally) the viewer."""
    rig = LiveRig(tmp)
    try:
        spawned = []
        for i in range(cameras):  # all at once: each takes seconds to load its scene
            name = f"cam{i + 1}"
            scene = SCENES[i % len(SCENES)]
            args = ["node", "--camera", f"sim:{scene}", "--name", name, "--seed", str(7 + i)]
            args += ["--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*", "--fps", str(fps)]
            spawned.append((name, *spawn(name, args, tmp)))
        for name, proc, log in spawned:
            try:
                rig.nodes.append(ready(name, proc, log))
            except RuntimeError:
                for _, other, _ in spawned:
                    if other.poll() is None:
                        other.kill()
                raise
        lines = []
        for i, n in enumerate(rig.nodes):
            lines += ["[[camera]]", f'name = "{n.name}"', f'rep = "{n.ready["rep"]}"']
            if i < len(rig.nodes) - 1 or len(rig.nodes) == 1:
                lines.append(f'pub = "{n.ready["pub"]}"')
            # else: no pub, so the viewer and the controller ask the node's info for it
            lines.append("")
        rig_file = tmp / "rig.toml"
        rig_file.write_text("\n".join(lines))
        ctl = [
            "controller",
            "--rig",
            str(rig_file),
            "--rep",
            "tcp://127.0.0.1:*",
            "--pub",
            "tcp://127.0.0.1:*",
        ]
        rig.controller = start("controller", ctl, tmp)
        if viewer:
            rig.viewer = start("viewer", viewer_args(rig, rig_file), tmp)
    except BaseException:
        rig.stop()
        raise
    return rig


def viewer_args(rig: LiveRig, rig_file: Path, http: str = "127.0.0.1:0") -> list[str]:
    assert rig.controller is not None
    return [
        "viewer",
        "--rig",
        str(rig_file),
        "--controller",
        rig.controller.ready["rep"],
        "--controller-pub",
        rig.controller.ready["pub"],
        "--http",
        http,
    ]


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
