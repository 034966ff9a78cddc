"""``tetherfocus viewer``: serve the browser viewer; ``tetherfocus viewer bench``: measure it."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from typing import Any

from controller.rig import load_rig
from tetherfocus.errors import UsageError
from viewer.config import DEFAULT_CONTROLLER, DEFAULT_HTTP, ViewerConfig, parse_http


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "viewer",
        help="serve every camera live in a browser, with click-to-focus and the focus curve",
        description="Serve the web viewer: live view of every camera of the rig (frames straight "
        "from the nodes), click to set the focus point, autofocus through the controller.",
    )
    p.add_argument("--rig", help="rig file (TOML) listing the cameras; see docs/rig.md")
    p.add_argument(
        "--controller", default=DEFAULT_CONTROLLER, help=f"controller command endpoint ({DEFAULT_CONTROLLER})"
    )
    p.add_argument(
        "--controller-pub",
        help="controller event endpoint (default: the controller's host, command port + 1)",
    )
    p.add_argument("--http", default=DEFAULT_HTTP, help=f"HOST:PORT to serve on ({DEFAULT_HTTP})")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.set_defaults(func=_serve)
    sub = p.add_subparsers(dest="viewer_command", metavar="SUBCOMMAND")
    try:
        bench = importlib.import_module("viewer.bench")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while bench is being written
        if exc.name != "viewer.bench":
            raise
    else:
        bench.register(sub)


def _serve(args: argparse.Namespace) -> int:
    if not args.rig:
        raise UsageError("viewer needs --rig RIG.toml (the cameras to show)")
    rig = load_rig(args.rig)
    host, port = parse_http(args.http)
    config = ViewerConfig(
        cameras=rig.cameras,
        controller=args.controller,
        controller_pub=args.controller_pub,
        host=host,
        port=port,
    )
    config.events_endpoint  # noqa: B018 - fail early with one line when it cannot be guessed
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from viewer.server import run_viewer

    def ready(url: str) -> None:
        # First line for programs (like the node's), second for people.
        print(json.dumps({"ready": True, "url": url, "cameras": [c.name for c in rig.cameras]}), flush=True)
        print(f"viewer: open {url}  ({len(rig.cameras)} cameras; Ctrl-C stops)", flush=True)

    try:
        asyncio.run(run_viewer(config, on_ready=ready))
    except OSError as exc:
        raise UsageError(f"cannot serve on {args.http}: {exc.strerror or exc}") from None
    return 0


if __name__ == "__main__":  # pragma: no cover
    from tetherfocus.cli import main

    sys.exit(main(["viewer", *sys.argv[1:]]))
