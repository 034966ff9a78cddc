"""Start and stop child processes so that none is ever left behind.

Children get ``PR_SET_PDEATHSIG`` (Linux): if this process dies, even by SIGKILL, the
kernel sends them SIGTERM.  Note that the signal fires when the *thread* that forked the
child ends, so start children from a thread that outlives them (the main thread).
Stopping sends SIGTERM, waits a bounded time, then SIGKILLs whatever is left.

:class:`ReadyProcess` is a child that prints one JSON line on stdout once it is up, as
``tetherfocus node``, ``controller`` and ``viewer`` do (``{"ready": true, ...}`` naming the
endpoints they bound); :class:`Supervisor` runs children that print nothing of the kind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

_PR_SET_PDEATHSIG = 1
KILL_WAIT_S = 5.0  # how long to wait for a SIGKILLed child to be reaped


def die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PREEXEC = die_with_parent if sys.platform.startswith("linux") else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` different TCP ports that were free a moment ago (all bound at once, so distinct)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def tetherfocus_argv(*args: str, prefix: Sequence[str] = ()) -> list[str]:
    """argv that runs ``tetherfocus ARGS`` with this interpreter, after ``prefix`` (such as
    ``["ip", "netns", "exec", NS]``)."""
    return [*prefix, sys.executable, "-m", "tetherfocus.cli", *args]


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` in kB (VmRSS; 0 if it has none).  OSError if it is gone."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` holds open.  OSError if it is gone."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def terminate(procs: Sequence[subprocess.Popen[Any]], timeout: float) -> list[int | None]:
    """SIGTERM each process (in this order), wait for them all up to ``timeout`` s in total,
    SIGKILL whatever is left.  Their exit codes; None for one that had to be killed."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes: list[int | None] = []
    for p in procs:
        try:
            codes.append(p.wait(max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.wait(KILL_WAIT_S)
            codes.append(None)
    return codes


def read_line(stream: IO[str], timeout: float) -> str:
    """One line from ``stream``, or "" if none starts within ``timeout`` s (or at EOF)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        return stream.readline() if sel.select(timeout) else ""


class NotReady(RuntimeError):
    """A child exited, printed something else, or printed nothing in time, instead of its
    JSON ready line.  The message ends with the tail of its log."""


class ReadyProcess:
    """A child that prints one JSON line on stdout when it is up; :attr:`ready` is that line.

    Constructing one starts the process and does not wait, so that several can start at
    once (a node takes seconds to load its scene); :meth:`wait_ready` waits::

        node = ReadyProcess(tetherfocus_argv("node", ...), name="cam1", log=tmp / "cam1.log")
        rep = node.wait_ready(60).ready["rep"]
        ...
        assert node.stop() == 0

    stderr goes to ``log`` (inherited when None; :attr:`log` is then ``os.devnull``);
    stdout is a pipe, read for the ready line only.  ``env`` is added to this process's
    environment, with ``PYTHONUNBUFFERED=1``.  The child dies with this process (see
    :func:`die_with_parent`).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str | None = None,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stdin: int | None = None,
    ) -> None:
        self.argv = list(argv)
        self.name = name if name is not None else " ".join(self.argv)
        self.log = log if log is not None else Path(os.devnull)
        self.ready: dict[str, Any] = {}
        with open(log, "w") if log is not None else contextlib.nullcontext() as err:
            self.proc: subprocess.Popen[str] = subprocess.Popen(
                self.argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                cwd=cwd,
                preexec_fn=_PREEXEC,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self, tail: int | None = None) -> str:
        """What it wrote to its log (the last ``tail`` characters); "" without a log."""
        text = self.log.read_text(errors="replace")
        return text[-tail:] if tail else text

    def wait_ready(self, timeout: float = 60.0) -> Self:
        """Wait for the ready line and parse it into :attr:`ready`.  Raises :class:`NotReady`
        (after killing the process) if none comes within ``timeout`` s."""
        assert self.proc.stdout is not None
        line = read_line(self.proc.stdout, timeout)
        try:
            ready = json.loads(line) if line.startswith("{") else None
        except ValueError:
            ready = None
        if not isinstance(ready, dict):
            self.kill()
            raise NotReady(f"{self.name} did not start ({line!r}): {self.log_text(3000)}")
        self.ready = ready
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then its exit code; None when it had to be killed after ``timeout`` s."""
        return terminate([self.proc], timeout)[0]

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.proc.wait(KILL_WAIT_S)


def stop_all(procs: Sequence[ReadyProcess], timeout: float = 15.0) -> list[int | None]:
    """:func:`terminate` for ready processes: SIGTERM in this order, exit codes in this order."""
    return terminate([p.proc for p in procs], timeout)


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
            preexec_fn=_PREEXEC,
            env={**os.environ, **(env or {})},
        )
        self.procs.append((name, proc))
        return proc

    def dead(self) -> list[tuple[str, int]]:
        """Children that have exited, with their exit codes."""
        return [(n, p.returncode) for n, p in self.procs if p.poll() is not None]

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM every child (newest first), wait up to ``timeout``, then SIGKILL."""
        terminate([p for _, p in reversed(self.procs)], timeout)
