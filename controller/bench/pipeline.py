"""``tetherfocus bench pipeline [--cameras N] [--seconds S] --json OUT.json``.

Every figure is measured together with the baseline it is compared against, in the same
run, so the comparison holds on a busy machine (the absolute figures do not: the JSON
records the load average at start and end).

1. Node: :func:`camera_node.bench` (``tetherfocus node bench``) on the same pre-rendered
   frames: publish CPU per frame and at 25 fps, capture-to-publish latency; the simulator's
   render cost apart.
2. Transport: :mod:`.transport` (one unpaced stream, against a bare pyzmq pair) and, at
   the largest step of the ramp, N cameras at 25 fps against the same N bare streams.
3. Controller: measures per second on 960x640 frames with a 256x256 region, region decode
   and full decode, on the controller's measure pool; then two ramps of cameras at 25 fps
   until frame-to-measure latency p99 passes 40 ms: :mod:`.afscale`, real autofocus runs
   (``default``) on real nodes over simulated bodies whose frames come from a pre-rendered
   focus stack (:mod:`.stack`), the headline; and :mod:`.scaling`, the worst case where
   every frame of every camera is measured and the motor never moves.
4. Viewer: :func:`viewer.bench.run_bench` with 16 cameras and 4 browser pages, tiles at
   the scale they need (the default) against full frames, alternating on the same pages.
5. Autofocus: :func:`controller.bench.af.run_all` on a few cases, ``default`` and ``sweep``.

Top-level JSON keys for scripts: ``cameras_sustained`` (real autofocus runs),
``measure_per_s``, ``full_decode_measure_per_s``, ``transport_ratio`` (at the largest
step of the every-frame ramp), ``latency_ms_p50``/``latency_ms_p99`` (frame-to-measure at
``cameras_sustained``, or at the first step when none is sustained),
``viewer_latency_ms_p99`` (tiles at the scale they need), ``af_median_ratio``; and beside them
``viewer_full_frames_latency_ms_p50``/``viewer_full_frames_latency_ms_p99`` (every tile the
full frame, as before tiles declared their size), ``viewer_cpu_percent_per_stream`` and
``viewer_full_frames_cpu_percent_per_stream``,
``full_decode_cameras_sustained``, ``af_success_rate`` (at ``cameras_sustained``),
``cameras_sustained_every_frame``, ``full_decode_cameras_sustained_every_frame`` and
``latency_ms_p50_every_frame``/``latency_ms_p99_every_frame``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from controller.bench import afscale, scaling, transport
from controller.bench.feeder import save_frames
from controller.bench.stack import Grid, render_stack, save_stack
from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text

VIEW = (960, 640)
ROI_PX = 256
SHIPPED_CASES = Path(__file__).parent / "cases" / "af.toml"
QUICK_AF_CASES = 3
SKIPPABLE = ("node", "transport", "decode", "afscale", "scale", "viewer", "af")
AF_SCENE = "chart"  # one flat plane: the region's true focus is well defined
QUICK_GRID = Grid(coarse_step=100.0, fine_half=2.0, mid_half=16.0, variants=2)  # smoke runs


def region() -> tuple[float, float, float, float]:
    """A 256x256 region in the middle of a 960x640 view, as fractions."""
    w, h = ROI_PX / VIEW[0], ROI_PX / VIEW[1]
    return ((1 - w) / 2, (1 - h) / 2, w, h)


def decode_rate(frames: list[bytes], seconds: float, scale: int) -> dict[str, float]:
    """Measures per second through the controller's path on a pool of 2 threads (as its
    measure pool), region decode against full decode, alternating halves of ``seconds``."""
    from controller.observe import score_region

    roi = region()
    rates: dict[str, list[float]] = {"region": [], "full": []}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(2):
            for mode in ("region", "full"):

                def work(i: int, ref: bool = mode == "full") -> float:
                    return score_region(frames[i % len(frames)], roi, scale=scale, reference=ref)[0]

                n, t0 = 0, time.monotonic()
                while time.monotonic() - t0 < seconds / 4:
                    list(pool.map(work, range(n, n + 16)))
                    n += 16
                rates[mode].append(n / (time.monotonic() - t0))
    return {k: round(statistics.fmean(v), 1) for k, v in rates.items()}


def _node(frames: list[bytes], render_cpu: list[float], seconds: float) -> dict[str, Any]:
    from camera_node.bench import _measure

    r = asyncio.run(_measure(frames, 25.0, seconds))
    return {
        "publish_us_per_frame": round(r["node_cpu_ms_per_frame"] * 1000, 1),
        "cpu_percent_of_one_core_at_25fps": r["node_cpu_percent_of_one_core"],
        "capture_to_publish_ms": r["latency_backend_to_pub_ms"],
        "capture_to_subscriber_ms": r["latency_backend_to_subscriber_ms"],
        "render_ms_per_frame_not_counted": round(statistics.median(render_cpu) * 1000, 3),
        "fps_measured": r["fps_measured"],
    }


def _viewer(seconds: float) -> dict[str, Any]:
    from viewer.bench import run_bench

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    r = run_bench(
        cameras=16, clients=4, seconds=seconds, warmup=2.0, fps=25, source="replay", chromium=chromium
    )
    for side in (r, r["full_frames"]):
        side["viewer_cpu_percent_per_camera"] = round(side["viewer_cpu_percent"] / 16, 2)
    return r


def viewer_keys(r: dict[str, Any]) -> dict[str, Any]:
    """The viewer's top-level figures from :func:`viewer.bench.run_bench`'s result: tiles at
    the scale they need (its top level), full frames (its ``full_frames``) beside them."""
    full = r["full_frames"]
    return {
        "viewer_latency_ms_p50": r["latency_ms"]["p50"],
        "viewer_latency_ms_p99": r["latency_ms"]["p99"],
        "viewer_full_frames_latency_ms_p50": full["latency_ms"]["p50"],
        "viewer_full_frames_latency_ms_p99": full["latency_ms"]["p99"],
        "viewer_cpu_percent_per_stream": r["viewer_cpu_percent_per_stream"],
        "viewer_full_frames_cpu_percent_per_stream": full["viewer_cpu_percent_per_stream"],
    }


def _af(cases_path: Path, full: bool, jobs: int) -> dict[str, Any]:
    from controller.bench.af import run_all
    from controller.bench.cases import load_cases
    from controller.bench.report import summarize

    cases = load_cases(cases_path)
    if not full:  # a few cases, one repeat each
        cases = [dataclasses.replace(c, repeats=1) for c in cases[:QUICK_AF_CASES]]
    results = run_all(cases, ["sweep", "default"], jobs=jobs)
    summary = {name: summarize(runs) for name, runs in results.items()}
    sweep, default = summary["sweep"]["median_seconds"], summary["default"]["median_seconds"]
    return {
        "cases": len(cases),
        "full": full,
        "summary": summary,
        "median_seconds_ratio_default_to_sweep": round(default / sweep, 3) if sweep else float("nan"),
    }


def _af_ramp(tmp: Path, cameras: int, seconds: float) -> dict[str, Any]:
    """The real-autofocus ramp (:mod:`.afscale`): the headline figures."""
    from camera_node.sim import open_sim
    from controller.bench.harness import tolerance_steps

    quick = seconds < 2  # a smoke run: a stack of a few dozen frames
    t0 = time.monotonic()
    stack = render_stack(AF_SCENE, region(), grid=QUICK_GRID if quick else Grid())
    render_s = time.monotonic() - t0
    path = tmp / "stack.msgpack"
    save_stack(path, stack)
    sim, _ = open_sim(AF_SCENE)
    tolerance = tolerance_steps(sim.spec.optics)
    window, linger = 2 * seconds, min(30.0, 3 * seconds)
    steps: list[dict[str, Any]] = []
    sustained, full_alive = 0, True
    for n in scaling.ramp(cameras):
        r = afscale.step(
            path,
            n,
            roi=region(),
            focus=stack.focus,
            tolerance=tolerance,
            seconds=window,
            linger=linger,
            full_decode=full_alive,
        )
        steps.append(r)
        full_alive = "full_decode" in r and r["full_decode"]["sustained"]
        if not r["region_decode"]["sustained"]:
            break
        sustained = n
    at = next((s for s in steps if s["cameras"] == sustained), steps[0])["region_decode"]
    return {
        "af_scale": {
            "scene": AF_SCENE,
            "strategy": afscale.STRATEGY,
            "window_seconds": window,
            "tolerance_steps": round(tolerance, 3),
            "stack": {
                "frames": stack.frame_count,
                "views": [{"zoom": v.zoom, "positions": len(v.positions)} for v in stack.views.values()],
                "true_focus": stack.focus,
                "render_seconds": round(render_s, 1),
                "quick": quick,
            },
            "ramp": steps,
        },
        "cameras_sustained": sustained,
        "full_decode_cameras_sustained": max(
            [s["cameras"] for s in steps if s.get("full_decode", {}).get("sustained")], default=0
        ),
        "latency_ms_p50": at["latency_ms_p50"],
        "latency_ms_p99": at["latency_ms_p99"],
        "af_success_rate": at["success_rate"],
    }


def run(
    cameras: int, seconds: float, *, skip: frozenset[str] = frozenset(), af_full: bool = False
) -> dict[str, Any]:
    """Every figure (see the module docstring) as one document."""
    from camera_node.bench import prerender

    load0 = os.getloadavg()
    frames, render_cpu = prerender(None, 16)
    jpeg_bytes = statistics.fmean(len(f) for f in frames)
    doc: dict[str, Any] = {
        "config": {"cameras": cameras, "seconds": seconds, "skipped": sorted(skip)},
        "frames": {"size": list(VIEW), "jpeg_bytes_mean": round(jpeg_bytes), "count": len(frames)},
        "roi": list(region()),
    }
    scale = 2  # the coarsest DCT scale that leaves the 256 px region 96 px (decode.pick_scale)
    with tempfile.TemporaryDirectory(prefix="tf-pipeline-") as tmp:
        path = Path(tmp) / "frames.msgpack"
        save_frames(path, frames)
        if "node" not in skip:
            doc["node"] = _node(frames, render_cpu, seconds)
        if "transport" not in skip:
            doc["transport_single_stream"] = transport.measure(path, jpeg_bytes, seconds)
        if "decode" not in skip:
            rate = decode_rate(frames, seconds, scale)
            doc["decode"] = {"scale": scale, **rate}
            doc["measure_per_s"] = rate["region"]
            doc["full_decode_measure_per_s"] = rate["full"]
        if "afscale" not in skip:
            doc.update(_af_ramp(Path(tmp), cameras, seconds))
        if "scale" not in skip:
            steps, sustained, full_alive = [], 0, True
            for n in scaling.ramp(cameras):
                r = scaling.step(path, n, roi=region(), scale=scale, seconds=seconds, full_decode=full_alive)
                steps.append(r)
                full_alive = "full_decode" in r and r["full_decode"]["sustained"]
                if not r["region_decode"]["sustained"]:
                    break
                sustained = n
            doc["ramp"] = steps
            doc["cameras_sustained_every_frame"] = sustained
            doc["full_decode_cameras_sustained_every_frame"] = max(
                [s["cameras"] for s in steps if s.get("full_decode", {}).get("sustained")], default=0
            )
            at = next((s for s in steps if s["cameras"] == sustained), steps[0])["region_decode"]
            doc["latency_ms_p50_every_frame"] = at["latency_ms_p50"]
            doc["latency_ms_p99_every_frame"] = at["latency_ms_p99"]
            doc["transport_ratio"] = steps[-1]["transport"]["ratio"]
            doc["transport_at_cameras"] = steps[-1]["cameras"]
    if "viewer" not in skip:
        doc["viewer"] = _viewer(seconds)
        doc.update(viewer_keys(doc["viewer"]))
    if "af" not in skip:
        doc["af"] = _af(SHIPPED_CASES, af_full, jobs=2)
        doc["af_median_ratio"] = doc["af"]["median_seconds_ratio_default_to_sweep"]
    doc["host"] = {
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(v, 2) for v in load0],
        "loadavg_at_end": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    return doc


def main(args: Any) -> int:
    """Handler for ``bench pipeline`` (namespace: cameras, seconds, json, skip, af_full)."""
    if not 1 <= args.cameras <= 64:
        raise UsageError("--cameras must be 1 to 64")
    if args.seconds <= 0:
        raise UsageError("--seconds must be positive")
    skip = frozenset(s.strip() for s in (args.skip or "").split(",") if s.strip())
    unknown = skip - set(SKIPPABLE)
    if unknown:
        raise UsageError(f"--skip: unknown part {sorted(unknown)[0]!r}; choose from {', '.join(SKIPPABLE)}")
    out = check_out(args.json)
    doc = run(args.cameras, args.seconds, skip=skip, af_full=args.af_full)
    text = json.dumps(doc, indent=2)
    keys = (
        "cameras_sustained", "full_decode_cameras_sustained", "af_success_rate",
        "measure_per_s", "full_decode_measure_per_s", "transport_ratio",
        "latency_ms_p50", "latency_ms_p99", "viewer_latency_ms_p99",
        "viewer_full_frames_latency_ms_p99", "af_median_ratio",
        "cameras_sustained_every_frame", "full_decode_cameras_sustained_every_frame",
        "latency_ms_p99_every_frame",
    )  # fmt: skip
    print(json.dumps({k: doc.get(k) for k in keys}, indent=2))
    if out is not None:
        write_text(out, text + "\n")
    return 0
