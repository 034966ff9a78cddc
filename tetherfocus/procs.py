"""Start and stop child processes so that none is ever left behind.

Children get ``PR_SET_PDEATHSIG`` (Linux): if this process dies, even by SIGKILL, the
kernel sends them SIGTERM.  :meth:`Supervisor.stop` sends SIGTERM, waits a bounded time,
then SIGKILLs whatever is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def tetherfocus_argv(*args: str) -> list[str]:
    """argv that runs ``tetherfocus ARGS`` with this interpreter."""
    return [sys.executable, "-m", "tetherfocus.cli", *args]


class Supervisor:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: Sequence[str], *, quiet: bool = False, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        out = subprocess.DEVNULL if quiet else None
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
            env={**os.environ, **(env or {})},
        )
        self.procs.append((name, proc))
        return proc

    def dead(self) -> list[tuple[str, int]]:
        """Children that have exited, with their exit codes."""
        return [(n, p.returncode) for n, p in self.procs if p.poll() is not None]

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM every child (newest first), wait up to ``timeout``, then SIGKILL."""
        for _, p in reversed(self.procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, p in self.procs:
            left = max(0.0, deadline - time.monotonic())
            try:
                p.wait(left)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait(2.0)
