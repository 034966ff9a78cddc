"""The camera node's subcommands of ``tetherfocus``.

``tetherfocus node --camera sim[:SCENE] | gphoto2[:PORT] --name NAME ...`` runs a node;
``tetherfocus node bench`` measures one.  Each subcommand registers itself below.
"""

from __future__ import annotations

import argparse
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


def register(sub: Any) -> None:
    """Add the camera node's subcommands to the ``tetherfocus`` parser."""
    _register_node(sub)


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
    p.add_argument("--fps", type=float, default=DEFAULT_FPS, help="live-view rate cap, 0 for none (default: 25)")
    p.add_argument("--save-dir", type=Path, help="where capture {download: false} saves files on the node")
    p.add_argument("--seed", type=int, help="random seed of the simulated camera")
    p.add_argument("--no-liveview", action="store_true", help="do not start live view at startup")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)")
    p.set_defaults(func=_run_node)
    node_sub = p.add_subparsers(dest="node_command", metavar="{bench}")
    _register_bench(node_sub)


def node_config(args: argparse.Namespace) -> NodeConfig:
    """The node's settings from the parsed flags.  Raises UsageError."""
    if not args.camera:
        raise UsageError("--camera is required: sim, sim:SCENE, gphoto2 or gphoto2:PORT")
    if args.fps < 0 or args.fps > 120:
        raise UsageError(f"--fps {args.fps:g}: expected 0 (no cap) to 120")
    if args.save_dir is not None and args.save_dir.exists() and not args.save_dir.is_dir():
        raise UsageError(f"--save-dir {args.save_dir}: exists and is not a directory")
    return NodeConfig(
        camera=parse_camera(args.camera),
        name=check_name(args.name),
        pub=check_endpoint("--pub", args.pub),
        rep=check_endpoint("--rep", args.rep),
        fps=args.fps,
        save_dir=args.save_dir,
        seed=args.seed,
        liveview=not args.no_liveview,
    )


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
    return run_bench(seconds=args.seconds, fps=args.fps, scene=args.scene, json_out=args.json)
