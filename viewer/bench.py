"""``tetherfocus viewer bench``: latency from node publish to browser receive.

It starts ``--cameras`` publishers, the viewer, and ``--clients`` pages in headless
Chromium (one browser context each), lets them run, and reports percentiles as JSON.

Publishers (``--source``):

- ``sim`` (default): real ``tetherfocus node --camera sim:SCENE`` processes plus the real
  controller (which subscribes to the same frames, as in a deployment);
- ``replay``: one lightweight thread publishing pre-encoded 960x640 JPEGs of about 200 kB
  with real frame headers, no controller: the viewer's own cost without the sim's rendering.

Clocks (same host only).  A frame header's ``t`` is the node's ``time.monotonic()`` when it
read the frame.  The viewer maps it to wall time on receipt, ``t + (time.time() -
time.monotonic())``, and sends it with the frame as ``pub_wall``; the page stamps arrival
with ``performance.timeOrigin + performance.now()`` (wall time, sub-millisecond) and keeps
``arrival - pub_wall``.  Both are this host's CLOCK_REALTIME; the page's drift from
``Date.now()`` is reported as ``clock_skew_ms``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from protocol import FrameHeader, StatusHeader, encode
from tetherfocus.errors import UsageError
from tetherfocus.procs import NotReady, ReadyProcess, stop_all, tetherfocus_argv

SCENES = ("chart", "coffee", "tabletop", "moto", "highlight", "lowcontrast")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure node publish -> browser receive latency with N cameras and M browsers",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--cameras", type=int, default=4, help="cameras (default 4)")
    p.add_argument("--clients", type=int, default=3, help="browser pages (default 3)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds (default 20)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default 3)")
    p.add_argument("--fps", type=int, default=25, help="publish rate per camera (default 25)")
    p.add_argument("--source", choices=("sim", "replay"), default="sim", help="publishers (default sim)")
    p.add_argument("--chromium", default=None, help="Chromium executable (default: chromium on PATH)")
    p.add_argument("--json", dest="json_out", help="write the results here as JSON")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    if not 1 <= args.cameras <= 32:
        raise UsageError("--cameras must be 1 to 32")
    if not 1 <= args.clients <= 16:
        raise UsageError("--clients must be 1 to 16")
    if args.seconds <= 0 or args.warmup < 0:
        raise UsageError("--seconds must be positive and --warmup not negative")
    chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium or not Path(chromium).exists():
        raise UsageError("no Chromium found: apt-get install chromium, or give --chromium PATH")
    result = run_bench(
        cameras=args.cameras,
        clients=args.clients,
        seconds=args.seconds,
        warmup=args.warmup,
        fps=args.fps,
        source=args.source,
        chromium=chromium,
    )
    lat = result["latency_ms"]
    print(
        f"{args.cameras} cameras, {args.clients} browsers, {args.source}: node publish -> browser receive "
        f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms (n={lat['n']}); "
        f"{result['received_fps_per_client_camera']:.1f} of {result['published_fps_per_camera']:.1f} fps "
        f"reach each page; viewer CPU {result['viewer_cpu_percent']:.0f}%"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


# --------------------------------------------------------------------------- processes


class _Procs:
    """Child processes started with a JSON ready line; all stopped (SIGTERM, then kill)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[ReadyProcess] = []

    def spawn(self, name: str, args: list[str]) -> ReadyProcess:
        proc = ReadyProcess(tetherfocus_argv(*args), name=name, log=self.workdir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def ready(self, proc: ReadyProcess, timeout: float = 90.0) -> dict[str, Any]:
        try:
            return proc.wait_ready(timeout).ready
        except NotReady as exc:
            last = proc.log_text(1500).strip().splitlines()[-1:]
            raise UsageError(f"bench: {proc.name} did not start: {last or exc}") from None

    def stop(self) -> None:
        stop_all(self.procs[::-1], 10.0)


class _Replay:
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
        self.jpegs = [_photo_like_jpeg(i) for i in range(4)]
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
        self.thread.join(5)
        for s in self.socks:
            s.close(linger=0)
        self.ctx.term()


def _photo_like_jpeg(i: int) -> bytes:
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


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    a = np.asarray(values, dtype=float) * 1000.0
    return {
        "n": len(values),
        "p50": round(float(np.percentile(a, 50)), 2),
        "p90": round(float(np.percentile(a, 90)), 2),
        "p99": round(float(np.percentile(a, 99)), 2),
        "max": round(float(a.max()), 2),
        "mean": round(float(a.mean()), 2),
    }


# --------------------------------------------------------------------------- the run


def run_bench(
    *,
    cameras: int,
    clients: int,
    seconds: float,
    warmup: float,
    fps: int,
    source: str,
    chromium: str,
) -> dict[str, Any]:
    """Run one benchmark; return the results.  Raises UsageError when something fails to start."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tf-viewer-bench-") as tmp:
        work = Path(tmp)
        procs = _Procs(work)
        replay: _Replay | None = None
        try:
            lines: list[str] = []
            ctl_args: list[str] = []
            if source == "replay":
                replay = _Replay(cameras, fps)
                for i, pub in enumerate(replay.pubs):
                    lines += [
                        "[[camera]]",
                        f'name = "cam{i + 1}"',
                        'rep = "tcp://127.0.0.1:9"',
                        f'pub = "{pub}"',
                        "",
                    ]
                replay.thread.start()
            else:
                spawned = []
                for i in range(cameras):
                    name = f"cam{i + 1}"
                    args = ["node", "--camera", f"sim:{SCENES[i % len(SCENES)]}", "--name", name]
                    args += ["--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*", "--fps", str(fps)]
                    spawned.append(procs.spawn(name, args))
                for proc in spawned:
                    ready = procs.ready(proc)
                    lines += [
                        "[[camera]]",
                        f'name = "{proc.name}"',
                        f'rep = "{ready["rep"]}"',
                        f'pub = "{ready["pub"]}"',
                        "",
                    ]
            rig = work / "rig.toml"
            rig.write_text("\n".join(lines))
            if source == "sim":
                ctl = procs.ready(
                    procs.spawn(
                        "controller",
                        [
                            "controller",
                            "--rig",
                            str(rig),
                            "--rep",
                            "tcp://127.0.0.1:*",
                            "--pub",
                            "tcp://127.0.0.1:*",
                        ],
                    ),
                )
                ctl_args = ["--controller", ctl["rep"], "--controller-pub", ctl["pub"]]
            else:
                ctl_args = ["--controller", "tcp://127.0.0.1:9", "--controller-pub", "tcp://127.0.0.1:10"]
            vproc = procs.spawn("viewer", ["viewer", "--rig", str(rig), *ctl_args, "--http", "127.0.0.1:0"])
            url = procs.ready(vproc)["url"]

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
                pages = []
                for _ in range(clients):
                    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    page.goto(url)
                    pages.append(page)
                for page in pages:
                    page.wait_for_function(
                        "n => document.querySelectorAll('.tile').length === n && "
                        "[...document.querySelectorAll('.tile')].every(t => Number(t.dataset.frames) >= 2)",
                        arg=cameras,
                        timeout=90_000,
                    )
                time.sleep(warmup)
                load0 = os.getloadavg()
                for page in pages:
                    page.evaluate("tf.reset()")
                cpu0, t0 = _cpu_seconds(vproc.pid), time.monotonic()
                time.sleep(seconds)
                snaps = [page.evaluate("tf.snapshot()") for page in pages]
                cpu1, t1 = _cpu_seconds(vproc.pid), time.monotonic()
                version = browser.version
                browser.close()
        finally:
            if replay is not None:
                replay.stop()
            procs.stop()

    elapsed = t1 - t0
    lat = [v for s in snaps for v in s["lat"]]
    hop = [v for s in snaps for v in s["hop"]]
    published = [
        (c["last"] - c["first"] + 1) / elapsed for s in snaps for c in s["cams"].values() if c["n"] > 0
    ]
    received = [c["n"] / elapsed for s in snaps for c in s["cams"].values()]
    return {
        "what": "node publish -> browser receive latency through the viewer's WebSocket",
        "config": {
            "cameras": cameras,
            "clients": clients,
            "seconds": seconds,
            "warmup": warmup,
            "fps": fps,
            "source": source,
        },
        "latency_ms": _stats(lat),
        "viewer_to_browser_ms": _stats(hop),
        "publish_to_display_ms": _stats([v for s in snaps for v in s["shown"]]),
        "per_client": [
            {"latency_ms": _stats(s["lat"]), "frames": s["frames"], "clock_skew_ms": round(s["skew_ms"], 3)}
            for s in snaps
        ],
        "published_fps_per_camera": round(float(np.mean(published)), 2) if published else 0.0,
        "received_fps_per_client_camera": round(float(np.mean(received)), 2) if received else 0.0,
        "viewer_cpu_percent": round(100.0 * (cpu1 - cpu0) / elapsed, 1),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_1min_at_start": round(load0[0], 2),
            "python": platform.python_version(),
            "chromium": version,
            "platform": platform.platform(),
        },
        "clock": (
            "same host: frame header t (node CLOCK_MONOTONIC) mapped to CLOCK_REALTIME by the viewer on "
            "receipt; browser arrival = performance.timeOrigin + performance.now()"
        ),
    }
