"""``tetherfocus demo``: simulated cameras, a controller and the viewer, on this machine.

It starts N ``tetherfocus node --camera sim:SCENE`` processes on different built-in
scenes, writes a rig file for them, starts the controller and the viewer, and prints the
URL.  Ctrl-C (or SIGTERM) stops everything; no child outlives it.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from tetherfocus.errors import UsageError
from tetherfocus.procs import Supervisor, free_port, tetherfocus_argv

MAX_CAMERAS = 16


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run simulated cameras, the controller and the viewer; print the URL")
    p.add_argument(
        "--cameras", type=int, default=4, help=f"how many simulated cameras, 1-{MAX_CAMERAS} (default 4)"
    )
    p.add_argument("--http", default="127.0.0.1:8080", help="where the viewer listens (default %(default)s)")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: until Ctrl-C)")
    p.set_defaults(func=run_demo)


def _split_http(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def run_demo(args: argparse.Namespace) -> int:
    from camera_node.sim import list_scenes
    from controller.rig import CameraSpec, Rig, dump_rig

    if not 1 <= args.cameras <= MAX_CAMERAS:
        raise UsageError(f"--cameras {args.cameras}: choose 1 to {MAX_CAMERAS}")
    _split_http(args.http)
    scenes = list_scenes()
    sup = Supervisor()
    stop = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["now"] = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    workdir = tempfile.TemporaryDirectory(prefix="tetherfocus-demo-")
    try:
        cams = []
        for i in range(args.cameras):
            name = f"cam{i + 1}"
            scene = scenes[i % len(scenes)]
            pub, rep = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
            sup.start(
                name,
                tetherfocus_argv(
                    "node",
                    "--camera",
                    f"sim:{scene}",
                    "--name",
                    name,
                    "--pub",
                    pub,
                    "--rep",
                    rep,
                    "--seed",
                    str(i + 1),
                ),
            )
            cams.append(CameraSpec(name, rep, pub))
            print(f"node {name}: scene {scene}, commands {rep}, frames {pub}")
        rig_path = Path(workdir.name) / "rig.toml"
        rig_path.write_text(dump_rig(Rig(tuple(cams), "demo")), encoding="utf-8")
        ctl_rep, ctl_pub = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        sup.start(
            "controller",
            tetherfocus_argv("controller", "--rig", str(rig_path), "--rep", ctl_rep, "--pub", ctl_pub),
        )
        print(f"controller: commands {ctl_rep}, events {ctl_pub}")
        sup.start(
            "viewer",
            tetherfocus_argv(
                "viewer",
                "--rig",
                str(rig_path),
                "--controller",
                ctl_rep,
                "--controller-pub",
                ctl_pub,
                "--http",
                args.http,
            ),
        )
        print(f"\nOpen http://{args.http}/ in a browser.  Ctrl-C stops the demo.\n", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
        while not stop["now"]:
            dead = sup.dead()
            if dead:
                names = ", ".join(f"{n} (exit {c})" for n, c in dead)
                print(f"tetherfocus demo: stopped because a process ended: {names}")
                return 1
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        print("stopping ...")
        return 0
    finally:
        sup.stop()
        for s, h in old.items():
            with contextlib.suppress(Exception):
                signal.signal(s, h)
        workdir.cleanup()
