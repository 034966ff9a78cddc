"""Processes of the rig tests: nodes and a controller, each inside a network namespace.

Every process prints one JSON ready line; ports are chosen by the OS (``*``) and read from
it.  The controller's command socket is an ``ipc://`` path, which the test process (in
the host's namespace) reaches through the file system.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.camera_node.nodeproc import _readline
from tests.rig.netns import Net
from tetherfocus.procs import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@dataclass
class Proc:
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
            return self.proc.wait(5)


def tf(*args: str) -> list[str]:
    return [sys.executable, "-m", "tetherfocus.cli", *args]


def spawn(argv: list[str], log: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start ``argv`` from this thread: PR_SET_PDEATHSIG fires when the *thread* that forked
    the child ends, so never spawn from a worker thread."""
    with open(log, "w") as err:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT, env=ENV, preexec_fn=die_with_parent
        )
    return proc, log


def wait_ready(proc: subprocess.Popen[str], log: Path, timeout: float = 90.0) -> Proc:
    """The ready line of a spawned process.  Raises RuntimeError with the log if none comes."""
    assert proc.stdout is not None
    line = _readline(proc.stdout, timeout)
    if not line:
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"{proc.args!r} did not start: {log.read_text()[-2000:]}")
    return Proc(proc, json.loads(line), log)


def start(argv: list[str], log: Path, timeout: float = 90.0) -> Proc:
    return wait_ready(*spawn(argv, log), timeout=timeout)


def node_argv(net: Net, ns: str, addr: str, name: str, seed: int, scene: Path, fps: int) -> list[str]:
    argv = tf(
        "node",
        "--camera",
        f"sim:{scene}",
        "--name",
        name,
        "--seed",
        str(seed),
        "--pub",
        f"tcp://{addr}:*",
        "--rep",
        f"tcp://{addr}:*",
        "--fps",
        str(fps),
        "--advertise",
        addr,
        "--log-level",
        "INFO",
    )
    return net.exec_argv(ns, argv)


def start_node(net: Net, ns: str, addr: str, name: str, seed: int, scene: Path, tmp: Path, fps: int) -> Proc:
    argv = node_argv(net, ns, addr, name, seed, scene, fps)
    return start(argv, tmp / f"node-{name}-{time.monotonic_ns()}.log")


def run_in(net: Net, ns: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """``tetherfocus ARGS`` inside namespace ``ns``; raises if it fails."""
    r = subprocess.run(
        net.exec_argv(ns, tf(*args)), capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout
    )
    if r.returncode != 0:
        raise AssertionError(f"tetherfocus {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r
