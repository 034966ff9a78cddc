"""Processes of the rig tests: nodes and a controller, each inside a network namespace.

Every process prints one JSON ready line; ports are chosen by the OS (``*``) and read from
it.  The controller's command socket is an ``ipc://`` path, which the test process (in
the host's namespace) reaches through the file system.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.rig.netns import Net
from tetherfocus.procs import ReadyProcess, tetherfocus_argv

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # for subprocess.run; ReadyProcess adds os.environ itself
Proc = ReadyProcess
tf = tetherfocus_argv


def spawn(argv: list[str], log: Path) -> tuple[Proc, Path]:
    """Start ``argv`` from this thread: PR_SET_PDEATHSIG fires when the *thread* that forked
    the child ends, so never spawn from a worker thread."""
    return Proc(argv, name=repr(argv), log=log, env=ENV, cwd=ROOT), log


def wait_ready(proc: Proc, log: Path, timeout: float = 90.0) -> Proc:
    """The ready line of a spawned process.  Raises RuntimeError with the log if none comes."""
    return proc.wait_ready(timeout)


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
