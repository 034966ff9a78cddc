"""The camera node's subcommands of ``tetherfocus``.

``tetherfocus node --camera sim[:SCENE] | gphoto2[:PORT] --name NAME ...`` runs a node;
``tetherfocus node bench`` measures one.  ``tetherfocus sim render|scenes|bench-render|bench-capture``
work with the simulated camera.  Each subcommand registers itself below.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from camera_node.config import (
    DEFAULT_FPS,
    DEFAULT_PUB,
    DEFAULT_REP,
    NodeConfig,
    check_endpoint,
    check_name,
    parse_camera,
)
from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text


def register(sub: Any) -> None:
    """Add the camera node's subcommands to the ``tetherfocus`` parser."""
    _register_node(sub)
    _register_sim(sub)


# --------------------------------------------------------------------------- node


def _register_node(sub: Any) -> None:
    p = sub.add_parser(
        "node",
        help="run a camera node: live view on PUB, commands on a ROUTER (REQ/DEALER clients)",
        description="Run one camera node. Frames go out on --pub as [frame.NAME, header, jpeg]; "
        "commands come in on --rep. Without keys, bind to loopback unless you mean otherwise "
        "(e.g. --pub tcp://*:5555).",
    )
    p.add_argument("--camera", metavar="SPEC", help="sim, sim:SCENE (name or .toml), gphoto2 or gphoto2:PORT")
    p.add_argument("--name", default="cam1", help="camera name, used in topics (default: cam1)")
    p.add_argument("--pub", default=DEFAULT_PUB, help=f"PUB endpoint to bind (default: {DEFAULT_PUB})")
    p.add_argument("--rep", default=DEFAULT_REP, help=f"command endpoint to bind (default: {DEFAULT_REP})")
    p.add_argument(
        "--fps", type=float, default=DEFAULT_FPS, help="live-view rate cap, 0 for none (default: 25)"
    )
    p.add_argument("--save-dir", type=Path, help="where capture {download: false} saves files on the node")
    p.add_argument("--seed", type=int, help="random seed of the simulated camera")
    p.add_argument("--no-liveview", action="store_true", help="do not start live view at startup")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)")
    p.add_argument(
        "--advertise",
        nargs="?",
        const="",
        default=None,
        metavar="ADDR[,ADDR]",
        help="announce the node over mDNS (_tetherfocus._tcp) on these IPv4 interface addresses"
        " (default: the --rep address; every interface for tcp://*)",
    )
    p.add_argument(
        "--keys",
        type=Path,
        metavar="DIR",
        help="CURVE keys (tetherfocus keys init DIR): encrypt both sockets, accept only DIR/authorized/",
    )
    p.set_defaults(func=_run_node)
    node_sub = p.add_subparsers(dest="node_command", metavar="{bench}")
    _register_bench(node_sub)


def node_config(args: argparse.Namespace) -> NodeConfig:
    """The node's settings from the parsed flags.  Raises UsageError."""
    if not args.camera:
        raise UsageError("--camera is required: sim, sim:SCENE, gphoto2 or gphoto2:PORT")
    if args.fps < 0 or args.fps > 120:
        raise UsageError(f"--fps {args.fps:g}: expected 0 (no cap) to 120")
    if args.save_dir is not None:
        _check_save_dir(args.save_dir)
    if str(args.log_level).upper() not in LOG_LEVELS:
        raise UsageError(f"--log-level {args.log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
    return NodeConfig(
        camera=parse_camera(args.camera),
        name=check_name(args.name),
        pub=check_endpoint("--pub", args.pub),
        rep=check_endpoint("--rep", args.rep),
        fps=args.fps,
        save_dir=args.save_dir,
        seed=args.seed,
        liveview=not args.no_liveview,
        advertise=_advertise(getattr(args, "advertise", None)),
        keys=_check_keys(getattr(args, "keys", None)),
    )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _check_save_dir(path: Path) -> None:
    """The directory captures are saved in: made now if missing, and writable, so that a
    mistake is one line at start rather than a failed capture later.  Raises UsageError."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--save-dir {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--save-dir {path}: cannot make it ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--save-dir {path}: not writable")


def _check_keys(keys: Path | None) -> Path | None:
    """The keys directory, checked now so a mistake is one line.  Raises UsageError."""
    if keys is not None:
        from tetherfocus.security import load_security

        load_security(keys, "node")
    return keys


def _advertise(text: str | None) -> tuple[str, ...] | None:
    """--advertise [ADDR,ADDR]: IPv4 interface addresses.  Raises UsageError."""
    if text is None:
        return None
    import socket

    addrs = tuple(a.strip() for a in text.split(",") if a.strip())
    for a in addrs:
        try:
            socket.inet_aton(a)
        except OSError:
            raise UsageError(f"--advertise {text!r}: {a!r} is not an IPv4 address, e.g. 10.0.0.21") from None
    return addrs


def _run_node(args: argparse.Namespace) -> int:
    from camera_node.node import run_node

    return run_node(node_config(args), args.log_level)


# --------------------------------------------------------------------------- node bench


def _register_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure a node at 25 fps: CPU per frame and capture-to-publish latency",
        description="Run a node in-process on pre-rendered simulated frames at --fps and measure "
        "the node's CPU per frame (rendering excluded, reported separately) and the latency from "
        "the backend returning a frame to the PUB socket and to a subscriber on loopback.",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="measuring time (default: 10)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate (default: 25)")
    p.add_argument("--scene", default=None, help="simulated scene (default: the sim's default)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON to OUT")
    p.set_defaults(func=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from camera_node.bench import run_bench

    if args.seconds <= 0 or args.fps <= 0:
        raise UsageError("--seconds and --fps must be positive")
    check_out(args.json)
    return run_bench(seconds=args.seconds, fps=args.fps, scene=args.scene, json_out=args.json)


# --------------------------------------------------------------------------- sim


def _register_sim(subparsers: Any) -> None:
    sim = subparsers.add_parser("sim", help="the simulated camera: render frames, list scenes, benchmark")
    sub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sub.required = True

    render = sub.add_parser("render", help="write live-view frames (or captures) at given motor positions")
    render.add_argument("scene", metavar="SCENE", help="a built-in scene name or a path to a .toml")
    render.add_argument("--positions", required=True, help="motor positions, e.g. 100,400,700")
    render.add_argument("--zoom", type=int, default=1, help="live-view magnification: 1, 5 or 10")
    render.add_argument("--center", default=None, help="centre of the magnified view, x,y as fractions")
    render.add_argument("--capture", action="store_true", help="full-resolution captures instead")
    render.add_argument("--no-noise", action="store_true", help="leave out sensor noise and flicker")
    render.add_argument("--format", choices=("jpg", "png"), default="jpg")
    render.add_argument("--seed", type=int, default=None)
    render.add_argument("--out", required=True, type=Path, help="directory for the frames")
    render.set_defaults(func=cmd_sim_render)

    scenes = sub.add_parser("scenes", help="list the built-in scenes")
    scenes.set_defaults(func=cmd_sim_scenes)

    bench = sub.add_parser("bench-render", help="time live-view rendering and JPEG encoding (JSON)")
    bench.add_argument("--scene", default=None, help="scene (default: the default scene)")
    bench.add_argument("--frames", type=int, default=200)
    bench.add_argument("--zoom", type=int, default=1)
    bench.add_argument("--seed", type=int, default=1)
    bench.add_argument("--json", type=Path, default=None, help="also write the result here")
    bench.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    bench.set_defaults(func=cmd_sim_bench)

    cap = sub.add_parser("bench-capture", help="time full-resolution captures (JSON)")
    cap.add_argument("--scene", default=None, help="scene (default: the default scene)")
    cap.add_argument("--positions", default="240,430", help="motor positions, e.g. 240,430")
    cap.add_argument("--size", default=None, help="capture size W,H (default: the scene's)")
    cap.add_argument("--seed", type=int, default=1)
    cap.add_argument("--json", type=Path, default=None, help="also write the result here")
    cap.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    cap.set_defaults(func=cmd_sim_bench_capture)


def _parse_positions(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"--positions must be numbers separated by commas, e.g. 100,400,700 (got {text!r})"
        ) from None
    if not values:
        raise UsageError("--positions needs at least one motor position, e.g. 100,400,700")
    return values


def _parse_center(text: str | None) -> tuple[float, float]:
    if text is None:
        return (0.5, 0.5)
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(
            f"--center must be x,y as fractions of the frame, e.g. 0.5,0.4 (got {text!r})"
        ) from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise UsageError(f"--center must lie within 0..1 on both axes (got {text!r})")
    return (x, y)


def cmd_sim_render(args: argparse.Namespace) -> int:
    """Write one frame per position; print the paths."""
    from camera_node.clock import VirtualClock
    from camera_node.sim import open_sim
    from camera_node.sim.camera import ZOOM_LEVELS
    from camera_node.sim.capture import render_capture_rgb
    from camera_node.sim.optics import live_view
    from camera_node.sim.stream import ycc_image

    positions = _parse_positions(args.positions)
    if args.zoom not in ZOOM_LEVELS:
        raise UsageError(f"--zoom must be one of {', '.join(map(str, ZOOM_LEVELS))} (got {args.zoom})")
    center = _parse_center(args.center)
    sim, _ = open_sim(args.scene, clock=VirtualClock(), seed=args.seed)
    rng = sim.spec.motor.range
    bad = [p for p in positions if not 0 <= p <= rng]
    if bad:
        raise UsageError(f"--positions must lie in the motor's range 0..{rng:g} (got {bad[0]:g})")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {args.out} ({exc.strerror})") from None
    view = live_view(sim.spec.optics, args.zoom, center)
    for p in positions:
        if args.capture:
            image = render_capture_rgb(sim.scene, p, sim.f_number, sim.seed).convert("RGB")
            stem = f"{sim.spec.name}_capture_p{p:g}"
        else:
            planes = sim.renderer.render(view, p, sim.f_number)
            image = ycc_image(sim.encoder.expose(planes, noise=not args.no_noise)).convert("RGB")
            stem = f"{sim.spec.name}_z{args.zoom}_p{p:g}"
        path = args.out / f"{stem}.{args.format}"
        if args.format == "jpg":
            image.save(path, "JPEG", quality=sim.spec.stream.jpeg_quality)
        else:
            image.save(path, "PNG")
        print(path)
    return 0


def cmd_sim_scenes(args: argparse.Namespace) -> int:
    """List the built-in scenes with their first comment line."""
    from camera_node.sim import DEFAULT_SCENE, SCENES_DIR, list_scenes

    for name in list_scenes():
        text = (SCENES_DIR / f"{name}.toml").read_text(encoding="utf-8")
        first = next((ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")), "")
        mark = " (default)" if name == DEFAULT_SCENE else ""
        print(f"{name}{mark}: {first}")
    return 0


def _pin_one_core(all_cores: bool) -> None:
    if not all_cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})


def _print_json(result: dict[str, object], path: Path | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if path is not None:
        write_text(path, text + "\n")
    sys.stdout.flush()


def _parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--size must be two integers W,H, e.g. 1200,800 (got {text!r})") from None
    from camera_node.sim.scene import MAX_CAPTURE_SIDE

    if not (16 <= w <= MAX_CAPTURE_SIDE and 16 <= h <= MAX_CAPTURE_SIDE):
        raise UsageError(f"--size must be 16 to {MAX_CAPTURE_SIDE} on each side (got {text!r})")
    return w, h


def cmd_sim_bench_capture(args: argparse.Namespace) -> int:
    """Print the capture benchmark as JSON (pinned to one core unless --all-cores)."""
    from camera_node.sim.bench import bench_capture

    positions = _parse_positions(args.positions)
    size = _parse_size(args.size)
    check_out(args.json)
    _pin_one_core(args.all_cores)
    _print_json(bench_capture(args.scene, positions, seed=args.seed, size=size), args.json)
    return 0


def cmd_sim_bench(args: argparse.Namespace) -> int:
    """Print the render benchmark as JSON (pinned to one core unless --all-cores)."""
    from camera_node.sim.bench import bench_render

    if args.frames < 1:
        raise UsageError("--frames must be at least 1")
    check_out(args.json)
    _pin_one_core(args.all_cores)
    _print_json(bench_render(args.scene, frames=args.frames, seed=args.seed, zoom=args.zoom), args.json)
    return 0
