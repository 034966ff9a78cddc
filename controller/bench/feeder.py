"""Frame publishers for ``tetherfocus bench pipeline``, each run as a child process.

``python -m controller.bench.feeder MODE FRAMES.msgpack [COUNT] [FPS] [SEED]`` where FRAMES is a
msgpack list of pre-rendered JPEGs (:func:`camera_node.bench.prerender`):

- ``nodes``: COUNT real camera nodes (:class:`camera_node.service.Node`, as ``tetherfocus
  node`` runs it) over :class:`camera_node.bench.FrameSource` at FPS each (0: as fast as the
  node can go), in one asyncio loop, sharing one ZeroMQ context (one I/O thread);
- ``afnodes``: COUNT real camera nodes over the real simulated camera (motor, live-view
  timing, zoom, the gphoto2 facade and backend) whose frames are looked up in the focus
  stack FRAMES (:mod:`.stack`) instead of rendered; FPS is ignored (the scene's live view
  sets it); an extra argument SEED seeds the bodies (SEED + i) and their start positions.
  Besides EOF, stdin takes the line ``truth``, answered by one JSON line
  ``{"truth": {name: true motor position}, "missed": frames rendered for real}``;
- ``bare``: plain pyzmq sockets (the node's SNDHWM) sending the same three-part messages
  (topic ``frame.bare``, the node's header, JPEG), encoded once: COUNT PUB sockets at FPS,
  or with FPS 0 one XPUB (``XPUB_NODROP``) as fast as its subscriber takes them.

Both print one JSON line when bound (``{"ready": true, "nodes": [{name, rep, pub}]}``), run
until stdin closes, then print ``{"cpu_s": ..., "published": ...}`` (user + system CPU of
the process, frames sent; for the nodes also both counted from the ready line on).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.asyncio

from tetherfocus.procs import NotReady, ReadyProcess, read_line

UNPACED_FPS = 1e9  # FrameSource never waits for a frame slot


def load_frames(path: Path) -> list[bytes]:
    frames = msgpack.unpackb(path.read_bytes())
    return [bytes(f) for f in frames]


def save_frames(path: Path, frames: list[bytes]) -> None:
    path.write_bytes(msgpack.packb(frames))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _say(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)


def _stdin_closed() -> None:
    sys.stdin.read()


async def _serve(nodes: list[Any], ctx: zmq.asyncio.Context, until: Callable[[], Awaitable[None]]) -> None:
    """Run ``nodes`` (camera_node Nodes on ``ctx``): say the ready line once they all
    started, wait ``until()`` returns, stop them, say the CPU line."""
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(n.run(stop)) for n in nodes]
    await asyncio.gather(*(asyncio.wait_for(n.started.wait(), 30) for n in nodes))
    cpu0, seq0 = _cpu_s(), sum(n.seq for n in nodes)
    _say(
        {
            "ready": True,
            "nodes": [{"name": n.name, "rep": n.rep_endpoint, "pub": n.publisher.endpoint} for n in nodes],
        }
    )
    await until()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    ctx.term()
    _say(
        {
            "cpu_s": _cpu_s(),
            "published": sum(n.seq for n in nodes),
            "cpu_s_since_ready": _cpu_s() - cpu0,
            "published_since_ready": sum(n.seq for n in nodes) - seq0,
        }
    )


async def _af_nodes(stack_path: Path, count: int, seed: int) -> None:
    import random
    from typing import cast

    from camera_node.backends.gpcamera import GPCamera
    from camera_node.backends.sim import SimBackend
    from camera_node.clock import RealClock
    from camera_node.config import CameraSpec, NodeConfig
    from camera_node.service import Node
    from camera_node.sim import resolve_scene
    from camera_node.sim.facade import SimGPCamera
    from camera_node.sim.scene import load_scene
    from controller.bench.stack import StackCamera, load_stack

    ctx = zmq.asyncio.Context()  # one I/O thread for the nodes of this process
    stack = load_stack(stack_path)
    scene = load_scene(resolve_scene(stack.scene))  # one copy shared by the bodies
    clock = RealClock()
    nodes, sims = [], []
    for i in range(count):
        rng = random.Random(seed + i)
        period = 1.0 / scene.spec.stream.fps
        sim = StackCamera(scene, stack, clock=clock, seed=seed + i, phase=rng.uniform(0.0, period))
        sim.set_true_position(rng.uniform(0.0, stack.travel))
        backend = SimBackend(sim, cast(GPCamera, SimGPCamera(sim)), clock)
        config = NodeConfig(
            camera=CameraSpec("sim", stack.scene),
            name=f"cam{i + 1:02d}",
            pub="tcp://127.0.0.1:*",
            rep="tcp://127.0.0.1:*",
            fps=0.0,  # the body paces live view (its frame slots)
        )
        nodes.append(Node(config, lambda b=backend: b, clock=clock, context=ctx))  # type: ignore[misc]
        sims.append(sim)

    async def until_stdin_closes() -> None:  # answering "truth" lines meanwhile
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "truth":
                truth = {n.name: round(s.true_position(), 3) for n, s in zip(nodes, sims, strict=True)}
                _say({"truth": truth, "missed": sum(s.missed for s in sims)})

    await _serve(nodes, ctx, until_stdin_closes)


async def _nodes(frames: list[bytes], count: int, fps: float) -> None:
    from camera_node.bench import FrameSource
    from camera_node.clock import RealClock
    from camera_node.config import CameraSpec, NodeConfig
    from camera_node.service import Node

    nodes = []
    ctx = zmq.asyncio.Context()  # one I/O thread for the nodes of this process
    for i in range(count):
        config = NodeConfig(
            camera=CameraSpec("sim", None),
            name=f"cam{i + 1:02d}",
            pub="tcp://127.0.0.1:*",
            rep="tcp://127.0.0.1:*",
            fps=0.0,
        )
        # each node starts at another frame, so the cameras do not publish identical bytes
        source = FrameSource(frames[i % len(frames) :] + frames[: i % len(frames)], fps or UNPACED_FPS)
        nodes.append(Node(config, lambda s=source: s, clock=RealClock(), context=ctx))  # type: ignore[misc]

    async def until_stdin_closes() -> None:
        await asyncio.get_running_loop().run_in_executor(None, _stdin_closed)

    await _serve(nodes, ctx, until_stdin_closes)


def _bare(frames: list[bytes], count: int, fps: float) -> None:
    """``count`` streams at ``fps`` on plain PUB sockets; with ``fps`` 0 one unpaced stream."""
    from camera_node.publisher import SNDHWM
    from protocol import FrameHeader, encode

    ctx = zmq.Context()
    socks = []
    for _ in range(count if fps else 1):
        if fps:
            s = ctx.socket(zmq.PUB)
        else:  # XPUB_NODROP: at the HWM a blocking send waits instead of dropping, so the
            # publisher does not spin on drops and starve its own subscriber of a core
            s = ctx.socket(zmq.XPUB)
            s.setsockopt(zmq.XPUB_NODROP, 1)
            s.setsockopt(zmq.SNDTIMEO, 200)
        s.setsockopt(zmq.SNDHWM, SNDHWM)
        s.setsockopt(zmq.LINGER, 0)
        s.bind("tcp://127.0.0.1:*")
        socks.append(s)
    # the node's messages, encoded once: the bare publisher pays no Python per frame
    messages = []
    for i, jpeg in enumerate(frames):
        h = FrameHeader("bare", i + 1, 0.0, 960, 640, 0, True, None, False, 1)
        messages.append([zmq.Frame(p) for p in encode(h.event(jpeg))])
    done = threading.Event()

    def watch_stdin() -> None:
        _stdin_closed()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    _say(
        {
            "ready": True,
            "nodes": [
                {"name": "bare", "rep": "", "pub": s.getsockopt_string(zmq.LAST_ENDPOINT)} for s in socks
            ],
        }
    )
    sent, i = 0, 0
    period = 1.0 / fps if fps else 0.0
    next_t = time.monotonic()
    while not done.is_set():
        if period:
            next_t += period
            done.wait(max(0.0, next_t - time.monotonic()))
        for s in socks:
            try:
                s.send_multipart(messages[i], copy=False, flags=zmq.NOBLOCK if period else 0)
                sent += 1
            except zmq.Again:  # unpaced: no subscriber yet, or it stopped reading
                continue
        i = (i + 1) % len(messages)
    for s in socks:
        s.close(linger=0)
    ctx.term()
    _say({"cpu_s": _cpu_s(), "published": sent})


class Feeder:
    """The parent's handle on one feeder process: start, wait for its endpoints, stop."""

    def __init__(self, mode: str, frames: Path, count: int = 1, fps: float = 0.0, seed: int = 0) -> None:
        self.child = ReadyProcess(
            [
                sys.executable,
                "-m",
                "controller.bench.feeder",
                mode,
                str(frames),
                str(count),
                str(fps),
                str(seed),
            ],
            name="a frame feeder",
            stdin=subprocess.PIPE,
        )
        self.proc = self.child.proc
        self.nodes: list[dict[str, str]] = []
        self.cpu_s = float("nan")
        self.published = 0
        self.cpu_s_since_ready = float("nan")  # nodes, afnodes: without the start-up
        self.published_since_ready = 0

    def ready(self, timeout: float = 120.0) -> list[dict[str, str]]:
        """The published endpoints; raises RuntimeError when the process does not start."""
        try:
            self.nodes = list(self.child.wait_ready(timeout).ready["nodes"])
        except NotReady:
            self.stop()
            raise RuntimeError(f"a frame feeder did not start (exit {self.proc.poll()})") from None
        return self.nodes

    def truth(self, timeout: float = 10.0) -> dict[str, Any]:
        """``afnodes`` only: the bodies' true motor positions (and frames rendered for real).
        Raises RuntimeError when the feeder does not answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("truth\n")
        self.proc.stdin.flush()
        line = read_line(self.proc.stdout, timeout)
        if not line.startswith('{"truth"'):
            raise RuntimeError(f"the feeder did not tell the truth: {line!r}")
        return dict(json.loads(line))

    def stop(self, timeout: float = 20.0) -> None:
        """Close its stdin (it stops and reports its CPU time), kill it if it lingers."""
        try:  # communicate() closes stdin first
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            return
        for line in (out or "").splitlines():
            if line.startswith('{"cpu_s"'):
                doc = json.loads(line)
                self.cpu_s, self.published = float(doc["cpu_s"]), int(doc["published"])
                self.cpu_s_since_ready = float(doc.get("cpu_s_since_ready", "nan"))
                self.published_since_ready = int(doc.get("published_since_ready", 0))


def main(argv: list[str]) -> int:
    mode, path = argv[0], Path(argv[1])
    if mode == "afnodes":
        asyncio.run(_af_nodes(path, int(argv[2]), int(argv[4]) if len(argv) > 4 else 0))
        return 0
    frames = load_frames(path)
    if mode == "nodes":
        asyncio.run(_nodes(frames, int(argv[2]), float(argv[3])))
    elif mode == "bare":
        _bare(frames, int(argv[2]), float(argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}; choose nodes, afnodes or bare")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
