"""What ``tetherfocus viewer bench`` measures against: publishers, controller and viewer.

- ``sim``: real ``tetherfocus node --camera sim:SCENE`` processes plus the real controller
  (which subscribes to the same frames, as in a deployment);
- ``replay``: one thread publishing pre-encoded 960x640 JPEGs of about 200 kB with real
  frame headers, and no controller: the viewer's own cost without the sim's rendering.

:class:`BenchRig` starts them, then the viewer on a free port, and stops everything.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import Any, Self

import numpy as np
import zmq

from protocol import FrameHeader, StatusHeader, encode
from tetherfocus.errors import UsageError
from tetherfocus.procs import NotReady, ReadyProcess, stop_all, tetherfocus_argv

SCENES = ("chart", "coffee", "tabletop", "moto", "highlight", "lowcontrast")
NOBODY = ("tcp://127.0.0.1:9", "tcp://127.0.0.1:10")  # replay: no controller there


class Procs:
    """Child processes started with a JSON ready line; all stopped (SIGTERM, then kill)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[ReadyProcess] = []

    def spawn(self, name: str, args: list[str]) -> ReadyProcess:
        proc = ReadyProcess(tetherfocus_argv(*args), name=name, log=self.workdir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def ready(self, proc: ReadyProcess, timeout: float = 90.0) -> dict[str, Any]:
        """The child's ready line.  Raises UsageError (its last log line) when it did not start."""
        try:
            return proc.wait_ready(timeout).ready
        except NotReady as exc:
            last = proc.log_text(1500).strip().splitlines()[-1:]
            raise UsageError(f"bench: {proc.name} did not start: {last or exc}") from None

    def stop(self) -> None:
        stop_all(self.procs[::-1], 10.0)


class Replay:
    """Publish pre-encoded JPEGs with real frame headers from one thread."""

    def __init__(self, cameras: int, fps: int) -> None:
        self.ctx = zmq.Context()
        self.socks = []
        self.pubs = []
        for _ in range(cameras):
            s = self.ctx.socket(zmq.PUB)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 4)
            s.bind("tcp://127.0.0.1:*")
            self.socks.append(s)
            self.pubs.append(s.getsockopt_string(zmq.LAST_ENDPOINT))
        self.fps = fps
        self.jpegs = [photo_like_jpeg(i) for i in range(4)]
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        period = 1.0 / self.fps
        seq = 0
        next_t = time.monotonic()
        last_status = 0.0
        while not self.stop_event.is_set():
            seq += 1
            jpeg = self.jpegs[seq % len(self.jpegs)]
            for i, s in enumerate(self.socks):
                h = FrameHeader(f"cam{i + 1}", seq, time.monotonic(), 960, 640, 0, True, None, False, 1)
                s.send_multipart(encode(h.event(jpeg)), copy=False)
            now = time.monotonic()
            if now - last_status >= 1.0:
                last_status = now
                for i, s in enumerate(self.socks):
                    st = StatusHeader(
                        f"cam{i + 1}", now, "liveview", float(self.fps), seq, 0, 0, None, False, 1
                    )
                    s.send_multipart(encode(st.event()))
            next_t += period
            self.stop_event.wait(max(0.0, next_t - time.monotonic()))

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(5)
        for s in self.socks:
            s.close(linger=0)
        self.ctx.term()


def photo_like_jpeg(i: int) -> bytes:
    """A 960x640 JPEG of about 200 kB, like an 80D live-view frame."""
    from PIL import Image

    rng = np.random.default_rng(i)
    y, x = np.mgrid[0:640, 0:960]
    base = (128 + 60 * np.sin(x / 37.0 + i) * np.cos(y / 23.0)).astype(np.float32)
    noise = rng.normal(0, 22, (640, 960, 3)).astype(np.float32)
    rgb = np.clip(base[..., None] + noise + np.array([10, 0, -10]), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far.  OSError when it is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BenchRig:
    """``cameras`` publishers of ``source``, the controller (sim only) and the viewer.

    Use as a context manager: on entry everything is up and :attr:`url` serves the page;
    on exit everything is stopped.  Raises UsageError when something fails to start.
    """

    def __init__(self, workdir: Path, cameras: int, fps: int, source: str) -> None:
        self.work = workdir
        self.cameras, self.fps, self.source = cameras, fps, source
        self.procs = Procs(workdir)
        self.replay: Replay | None = None
        self.viewer: ReadyProcess | None = None
        self.url = ""

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        lines: list[str] = []
        if self.source == "replay":
            self.replay = Replay(self.cameras, self.fps)
            for i, pub in enumerate(self.replay.pubs):
                # No node answers commands in a replay: each camera names its own endpoint
                # where nobody listens (never asked; a rig gives each camera its own node).
                lines += _camera(f"cam{i + 1}", f"ipc://{self.work}/no-node-cam{i + 1}", pub)
            self.replay.thread.start()
        else:
            spawned = []
            for i in range(self.cameras):
                args = ["node", "--camera", f"sim:{SCENES[i % len(SCENES)]}", "--name", f"cam{i + 1}"]
                args += ["--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*", "--fps", str(self.fps)]
                spawned.append(self.procs.spawn(f"cam{i + 1}", args))
            for proc in spawned:
                ready = self.procs.ready(proc)
                lines += _camera(proc.name, ready["rep"], ready["pub"])
        rig = self.work / "rig.toml"
        rig.write_text("\n".join(lines))
        ctl_rep, ctl_pub = NOBODY
        if self.source == "sim":
            args = [
                "controller",
                "--rig",
                str(rig),
                "--rep",
                "tcp://127.0.0.1:*",
                "--pub",
                "tcp://127.0.0.1:*",
            ]
            ctl = self.procs.ready(self.procs.spawn("controller", args))
            ctl_rep, ctl_pub = ctl["rep"], ctl["pub"]
        args = ["viewer", "--rig", str(rig), "--controller", ctl_rep, "--controller-pub", ctl_pub]
        self.viewer = self.procs.spawn("viewer", [*args, "--http", "127.0.0.1:0"])
        self.url = self.procs.ready(self.viewer)["url"]

    def stop(self) -> None:
        if self.replay is not None:
            self.replay.stop()
            self.replay = None
        self.procs.stop()


def _camera(name: str, rep: str, pub: str) -> list[str]:
    return ["[[camera]]", f'name = "{name}"', f'rep = "{rep}"', f'pub = "{pub}"', ""]
