"""``tetherfocus viewer bench``: latency from node publish to browser receive.

It starts ``--cameras`` publishers (:mod:`viewer.benchrig`: ``sim`` nodes and controller,
or ``replay``), the viewer, and ``--clients`` pages in headless Chromium (one browser
context each, ``--viewport`` CSS pixels at ``--dpr``), lets them run, and reports
percentiles as JSON.

Both sides of the tile-size comparison are measured in the same run, on the same pages:
*scaled* (the default: each tile declares its width and gets frames at the JPEG DCT scale
it needs) and *full frames* (the pages ask for the camera's own JPEG everywhere, as before
tiles declared their size).  They alternate, ``ROUNDS`` slices of ``--seconds / ROUNDS``
each, so both see the same load.  Before each slice every tile of every page draws two
frames after the switch, so no frame of the other side is counted.

Clocks (same host only).  A frame header's ``t`` is the node's ``time.monotonic()`` when it
read the frame.  The viewer maps it to wall time on receipt, ``t + (time.time() -
time.monotonic())``, and sends it with the frame as ``pub_wall``; the page stamps arrival
with ``performance.timeOrigin + performance.now()`` (wall time, sub-millisecond) and keeps
``arrival - pub_wall``.  Both are this host's CLOCK_REALTIME; the page's drift from
``Date.now()`` is reported as ``clock_skew_ms``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text
from viewer.benchrig import BenchRig, cpu_seconds

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SIDES = ("full", "scaled")  # the order within each round
ROUNDS = 2
DEFAULT_VIEWPORT = (1920, 1080)  # a common monitor: 4 tiles a row, each about 450 px wide
SWITCH_TIMEOUT_MS = 120_000

TILE_FRAMES_JS = "() => [...document.querySelectorAll('.tile')].map(t => Number(t.dataset.frames))"
DREW_SINCE_JS = (
    "before => [...document.querySelectorAll('.tile')]"
    ".every((t, i) => Number(t.dataset.frames) >= before[i] + 2)"
)
TILE_PX_JS = "() => [...tf.tiles.values()].map(t => t.widthPx)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure node publish -> browser receive latency with N cameras and M browsers",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--cameras", type=int, default=4, help="cameras (default 4)")
    p.add_argument("--clients", type=int, default=3, help="browser pages (default 3)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds of each side (default 20)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default 3)")
    p.add_argument("--fps", type=int, default=25, help="publish rate per camera (default 25)")
    p.add_argument("--source", choices=("sim", "replay"), default="sim", help="publishers (default sim)")
    p.add_argument(
        "--viewport",
        default="x".join(map(str, DEFAULT_VIEWPORT)),
        help="each page's size in CSS pixels, WxH (default %(default)s)",
    )
    p.add_argument("--dpr", type=float, default=1.0, help="device pixels per CSS pixel (default 1)")
    p.add_argument("--chromium", default=None, help="Chromium executable (default: chromium on PATH)")
    p.add_argument("--json", dest="json_out", help="write the results here as JSON")
    p.set_defaults(func=_cli)


def parse_viewport(value: str) -> tuple[int, int]:
    """``"1920x1080"`` -> ``(1920, 1080)``.  Raises UsageError."""
    w, sep, h = value.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and 200 <= int(w) <= 8000 and 200 <= int(h) <= 8000):
        raise UsageError(f"--viewport {value!r} must be WIDTHxHEIGHT in CSS pixels, e.g. 1920x1080")
    return int(w), int(h)


def _cli(args: argparse.Namespace) -> int:
    if not 1 <= args.cameras <= 32:
        raise UsageError("--cameras must be 1 to 32")
    if not 1 <= args.clients <= 16:
        raise UsageError("--clients must be 1 to 16")
    if args.seconds <= 0 or args.warmup < 0:
        raise UsageError("--seconds must be positive and --warmup not negative")
    if not 0.5 <= args.dpr <= 4:
        raise UsageError("--dpr must be 0.5 to 4")
    viewport = parse_viewport(args.viewport)
    out = check_out(args.json_out)
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
        viewport=viewport,
        dpr=args.dpr,
    )
    print(f"{args.cameras} cameras, {args.clients} browsers, {args.source}, node publish -> browser receive:")
    for label, side in (("scaled tiles", result), ("full frames ", result["full_frames"])):
        lat = side["latency_ms"]
        print(
            f"  {label}: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms (n={lat['n']}); "
            f"{side['received_fps_per_client_camera']:.1f} of {side['published_fps_per_camera']:.1f} fps "
            f"reach each page; viewer CPU {side['viewer_cpu_percent']:.0f}% "
            f"({side['scaler']['frames_made_per_s']:.0f} scaled frames/s)"
        )
    if out is not None:
        write_text(out, json.dumps(result, indent=2) + "\n")
    return 0


# --------------------------------------------------------------------------- figures


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


@dataclass(frozen=True, slots=True)
class Slice:
    """One measured stretch of one side: every page's ``tf.snapshot()`` and the viewer's work."""

    snaps: list[dict[str, Any]]
    elapsed: float
    viewer_cpu_s: float
    scaled_made: int
    scale_cpu_s: float
    scale_failed: int


def summarise(slices: list[Slice], cameras: int, clients: int) -> dict[str, Any]:
    """The figures of one side, from its slices.  Frame rates are over each page's own
    window (``seconds`` of its snapshot: from its reset to its snapshot), CPU over the
    viewer's (from before the first reset to after the last snapshot)."""
    elapsed = sum(s.elapsed for s in slices)
    snaps = [snap for s in slices for snap in s.snaps]
    published = [
        (c["last"] - c["first"] + 1) / snap["seconds"]
        for snap in snaps
        for c in snap["cams"].values()
        if c["n"] > 0
    ]
    names = [f"cam{i + 1}" for i in range(cameras)]
    received = [
        sum(s.snaps[k]["cams"].get(name, {"n": 0})["n"] for s in slices)
        / sum(s.snaps[k]["seconds"] for s in slices)
        for k in range(clients)
        for name in names
    ]
    by_scale: dict[str, int] = {}
    for snap in snaps:
        for scale, n in snap.get("scales", {}).items():
            by_scale[scale] = by_scale.get(scale, 0) + n
    made = sum(s.scaled_made for s in slices)
    scale_cpu = sum(s.scale_cpu_s for s in slices)
    cpu = 100.0 * sum(s.viewer_cpu_s for s in slices) / elapsed
    return {
        "latency_ms": _stats([v for s in snaps for v in s["lat"]]),
        "viewer_to_browser_ms": _stats([v for s in snaps for v in s["hop"]]),
        "publish_to_display_ms": _stats([v for s in snaps for v in s["shown"]]),
        "per_client": [
            {
                "latency_ms": _stats([v for s in slices for v in s.snaps[k]["lat"]]),
                "frames": sum(s.snaps[k]["frames"] for s in slices),
                "clock_skew_ms": round(slices[-1].snaps[k]["skew_ms"], 3),
            }
            for k in range(clients)
        ],
        "frames_by_scale": dict(sorted(by_scale.items(), key=lambda kv: -float(kv[0]))),
        "published_fps_per_camera": round(float(np.mean(published)), 2) if published else 0.0,
        "received_fps_per_client_camera": round(float(np.mean(received)), 2) if received else 0.0,
        "viewer_cpu_percent": round(cpu, 1),
        "viewer_cpu_percent_per_stream": round(cpu / (cameras * clients), 3),
        "scaler": {
            "frames_made_per_s": round(made / elapsed, 1),
            "cpu_ms_per_frame": round(1000.0 * scale_cpu / made, 2) if made else None,
            "cpu_percent": round(100.0 * scale_cpu / elapsed, 1),
            "failed": sum(s.scale_failed for s in slices),
        },
        "measured_seconds": round(
            float(np.mean([sum(s.snaps[k]["seconds"] for s in slices) for k in range(clients)])), 2
        ),
        "viewer_cpu_seconds_window": round(elapsed, 2),
    }


# --------------------------------------------------------------------------- the run


def _scaler(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.split("?")[0] + "api/state", timeout=10) as r:
        return json.loads(r.read())["scaler"]  # type: ignore[no-any-return]


def _measure(pages: list[Any], side: str, seconds: float, pid: int, url: str) -> Slice:
    """Switch every page to ``side``, wait until the switch has gone through, measure."""
    for page in pages:
        page.evaluate("on => tf.setFullFrames(on)", side == "full")
    # one frame per tile may have been on its way (or being scaled) at the switch: two
    # frames drawn after it mean the second was asked for after the switch
    for page, before in [(pg, pg.evaluate(TILE_FRAMES_JS)) for pg in pages]:
        page.wait_for_function(DREW_SINCE_JS, arg=before, timeout=SWITCH_TIMEOUT_MS)
    for page in pages:
        page.evaluate("tf.reset()")
    s0, cpu0, t0 = _scaler(url), cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    snaps = [page.evaluate("tf.snapshot()") for page in pages]
    cpu1, t1, s1 = cpu_seconds(pid), time.monotonic(), _scaler(url)
    return Slice(
        snaps,
        t1 - t0,
        cpu1 - cpu0,
        s1["made"] - s0["made"],
        s1["cpu_s"] - s0["cpu_s"],
        s1["failed"] - s0["failed"],
    )


def run_bench(
    *,
    cameras: int,
    clients: int,
    seconds: float,
    warmup: float,
    fps: int,
    source: str,
    chromium: str,
    viewport: tuple[int, int] = DEFAULT_VIEWPORT,
    dpr: float = 1.0,
) -> dict[str, Any]:
    """Run one benchmark, both sides; return the results (the scaled side at the top level,
    the full-frame side under ``full_frames``).  Raises UsageError when something fails to start."""
    from playwright.sync_api import sync_playwright

    slices: dict[str, list[Slice]] = {side: [] for side in SIDES}
    with (
        tempfile.TemporaryDirectory(prefix="tf-viewer-bench-") as tmp,
        BenchRig(Path(tmp), cameras, fps, source) as rig,
    ):
        assert rig.viewer is not None
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            pages = []
            for _ in range(clients):
                page = browser.new_context(
                    viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=dpr
                ).new_page()
                page.goto(rig.url)
                page.evaluate("tf.setAllTiles(true)")  # every camera streams, on screen or below it
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
            tile_px = sorted({px for page in pages for px in page.evaluate(TILE_PX_JS)})
            for _ in range(ROUNDS):
                for side in SIDES:
                    slices[side].append(_measure(pages, side, seconds / ROUNDS, rig.viewer.pid, rig.url))
            load1 = os.getloadavg()
            version = browser.version
            browser.close()

    return {
        "what": "node publish -> browser receive latency through the viewer's WebSocket",
        "config": {
            "cameras": cameras,
            "clients": clients,
            "seconds": seconds,
            "warmup": warmup,
            "fps": fps,
            "source": source,
            "viewport": list(viewport),
            "device_scale_factor": dpr,
            "rounds": ROUNDS,
        },
        "tile_px": tile_px,
        **summarise(slices["scaled"], cameras, clients),
        "full_frames": summarise(slices["full"], cameras, clients),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_1min_at_start": round(load0[0], 2),
            "loadavg_1min_at_end": round(load1[0], 2),
            "python": platform.python_version(),
            "chromium": version,
            "platform": platform.platform(),
        },
        "clock": (
            "same host: frame header t (node CLOCK_MONOTONIC) mapped to CLOCK_REALTIME by the viewer on "
            "receipt; browser arrival = performance.timeOrigin + performance.now()"
        ),
    }
