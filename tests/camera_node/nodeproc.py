"""Starting a node as a real subprocess on loopback, with ports chosen by the OS.

The node prints one JSON line when it is up (``{"ready": true, "pub": ..., "rep": ...}``),
so tests bind ``tcp://127.0.0.1:*`` and read the ports from it: no port races.
"""

from __future__ import annotations

import time
from pathlib import Path

from tetherfocus.procs import ReadyProcess, tetherfocus_argv

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT)}


class ServiceProc(ReadyProcess):
    """A node or the controller: its ready line names its ``rep`` and ``pub`` endpoints."""

    @property
    def pub(self) -> str:
        return str(self.ready["pub"])

    @property
    def rep(self) -> str:
        return str(self.ready["rep"])


class NodeProc(ServiceProc):
    """A node started by :func:`start_node` (dies with the test run, even if it is killed)."""

    @property
    def stderr(self) -> str:
        return self.log_text()


def node_command(*args: str) -> list[str]:
    return tetherfocus_argv("node", *args)


def start_node(
    tmp: Path,
    *args: str,
    name: str = "cam1",
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> NodeProc:
    """A running node (sim unless ``args`` say otherwise).  Raises RuntimeError if it fails."""
    log = tmp / f"node-{name}-{time.monotonic_ns()}.log"
    cmd = node_command("--name", name, "--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*", *args)
    node = NodeProc(cmd, name=name, log=log, env={**ENV, **(env or {})}, cwd=ROOT)
    return node.wait_ready(timeout)
