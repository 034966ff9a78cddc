"""Starting a node as a real subprocess on loopback, with ports chosen by the OS.

The node prints one JSON line when it is up (``{"ready": true, "pub": ..., "rep": ...}``),
so tests bind ``tcp://127.0.0.1:*`` and read the ports from it: no port races.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tetherfocus.procs import die_with_parent

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class NodeProc:
    proc: subprocess.Popen[str]
    pub: str
    rep: str
    name: str
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then the exit status (kills and fails the wait after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise


def node_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tetherfocus.cli", "node", *args]


def _readline(stream: IO[str], timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return ""
        return stream.readline()
    finally:
        sel.close()


def start_node(
    tmp: Path,
    *args: str,
    name: str = "cam1",
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> NodeProc:
    """A running node (sim unless ``args`` say otherwise).  Raises RuntimeError if it fails."""
    stderr_path = tmp / f"node-{name}-{time.monotonic_ns()}.log"
    full_env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = node_command("--name", name, "--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*", *args)
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=full_env,
            cwd=ROOT,
            preexec_fn=die_with_parent,  # no orphan if the test run itself is killed
        )
    assert proc.stdout is not None
    line = _readline(proc.stdout, timeout)
    if not line:
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"node did not start: {stderr_path.read_text()}")
    ready = json.loads(line)
    return NodeProc(proc, ready["pub"], ready["rep"], name, stderr_path)
