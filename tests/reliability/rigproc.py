"""Real processes for the reliability tests: nodes, a controller, a viewer.

Each process prints one JSON ready line naming what it bound; tests bind port ``*`` (or
port 0) so there are no port races, except where a test restarts a process *on the same
ports* and so names them.  Every child dies with the test run (PR_SET_PDEATHSIG).  A
``prefix`` such as ``["ip", "netns", "exec", NS]`` runs the process in a network namespace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tetherfocus.procs import ReadyProcess, open_fds, tetherfocus_argv
from tetherfocus.procs import free_ports as free_ports  # re-exported: the tests use them from here
from tetherfocus.procs import rss_kb as rss_kb

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "camera_node" / "sim" / "scenes" / "assets"
ENV = {"PYTHONPATH": str(ROOT)}
T = TypeVar("T")
fds = open_fds  # how many file descriptors a pid holds open


class Proc(ReadyProcess):
    """A process started by :func:`start`; ``args`` are its ``tetherfocus`` arguments."""

    args: list[str]


def small_scene(tmp: Path) -> Path:
    """The tabletop scene with a small capture and a quick mirror: fast nodes and captures."""
    path = tmp / "small.toml"
    path.write_text(
        f'name = "small"\nimage = "{ASSETS / "tabletop.png"}"\nseed = 11\n'
        "[depth]\nfocus_at = 430\n[optics]\ncapture = [1200, 800]\n[stream]\nmirror_up_s = 0.3\n"
    )
    return path


def start(
    name: str, args: Sequence[str], tmp: Path, *, prefix: Sequence[str] = (), timeout: float = 60.0
) -> Proc:
    """Run ``tetherfocus ARGS`` and wait for its JSON ready line.  Raises RuntimeError."""
    log = tmp / f"{name}-{time.monotonic_ns()}.log"
    proc = Proc(tetherfocus_argv(*args, prefix=prefix), name=name, log=log, env=ENV, cwd=ROOT)
    proc.args = list(args)
    return proc.wait_ready(timeout)


def node(
    tmp: Path,
    name: str,
    scene: Path,
    *extra: str,
    pub: str = "tcp://127.0.0.1:*",
    rep: str = "tcp://127.0.0.1:*",
    prefix: Sequence[str] = (),
) -> Proc:
    args = ["node", "--camera", f"sim:{scene}", "--name", name, "--pub", pub, "--rep", rep, *extra]
    return start(name, args, tmp, prefix=prefix)


def write_rig(tmp: Path, cameras: Sequence[tuple[str, str, str | None]], file: str = "rig.toml") -> Path:
    """A rig file of (name, rep, pub-or-None) cameras."""
    lines: list[str] = []
    for name, rep, pub in cameras:
        lines += ["[[camera]]", f'name = "{name}"', f'rep = "{rep}"']
        if pub:
            lines.append(f'pub = "{pub}"')
        lines.append("")
    path = tmp / file
    path.write_text("\n".join(lines))
    return path


def controller(
    tmp: Path,
    rig: Path,
    *extra: str,
    rep: str = "tcp://127.0.0.1:*",
    pub: str = "tcp://127.0.0.1:*",
    prefix: Sequence[str] = (),
) -> Proc:
    args = ["controller", "--rig", str(rig), "--rep", rep, "--pub", pub, "-v", *extra]
    return start("controller", args, tmp, prefix=prefix)


def viewer(tmp: Path, rig: Path, ctl_rep: str, ctl_pub: str, *extra: str) -> Proc:
    args = ["viewer", "--rig", str(rig), "--controller", ctl_rep, "--controller-pub", ctl_pub]
    return start("viewer", [*args, "--http", "127.0.0.1:0", "-v", *extra], tmp)


def restart(p: Proc, tmp: Path, *, prefix: Sequence[str] = ()) -> Proc:
    """Start the same command again (same ports when they were given explicitly)."""
    return start(p.name, p.args, tmp, prefix=prefix)


def wait_for(check: Callable[[], T], timeout: float, what: str, period: float = 0.05) -> T:
    """Poll ``check`` until it returns something true; its value.  AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(period)


def figure(name: str, **values: Any) -> None:
    """Print one measured figure (``pytest -s`` shows them; docs/reliability.md records them)."""
    print(f"FIGURE {name} {json.dumps(values)}", flush=True)
