"""``tetherfocus viewer``: serve the browser viewer; ``tetherfocus viewer bench``: measure it."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from controller.rig import check_endpoint, load_rig
from tetherfocus.errors import UsageError
from tetherfocus.security import load_security
from viewer import auth
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
    p.add_argument(
        "--keys", metavar="DIR", help="CURVE keys (tetherfocus keys init DIR): encrypt every ZeroMQ socket"
    )
    p.add_argument(
        "--token",
        help=f"access token every browser must present (default: ${auth.ENV}, or a new one printed "
        "at start when serving beyond localhost)",
    )
    p.add_argument("--require-token", action="store_true", help="demand the token on a loopback address too")
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


def viewer_token(given: str | None, host: str, required: bool) -> str | None:
    """The token to demand: ``given``, or a new one when serving beyond loopback (or
    ``required``); None on loopback without one.  Raises UsageError for a short token."""
    if given is not None:
        if len(given) < auth.MIN_LENGTH:
            raise UsageError(f"--token: use at least {auth.MIN_LENGTH} characters (or omit it to get one)")
        return given
    if required or not auth.is_loopback(host):
        return auth.new_token()
    return None


def _serve(args: argparse.Namespace) -> int:
    if not args.rig:
        raise UsageError("viewer needs --rig RIG.toml (the cameras to show)")
    rig = load_rig(args.rig)
    check_endpoint(args.controller, "--controller")
    if args.controller_pub is not None:
        check_endpoint(args.controller_pub, "--controller-pub")
    host, port = parse_http(args.http)
    token = viewer_token(args.token or os.environ.get(auth.ENV), host, args.require_token)
    if args.keys is not None:
        load_security(args.keys, "viewer")  # a mistake is one line now, not a traceback later
    config = ViewerConfig(
        cameras=rig.cameras,
        controller=args.controller,
        controller_pub=args.controller_pub,
        host=host,
        port=port,
        keys=Path(args.keys) if args.keys else None,
        token=token,
    )
    config.events_endpoint  # noqa: B018 - fail early with one line when it cannot be guessed
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from viewer.server import run_viewer

    def ready(url: str) -> None:
        if token:  # the URL to open carries the token; the page keeps it as a cookie
            url = f"{url}?token={token}"
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
