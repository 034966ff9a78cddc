"""Running one node process: signals, the ready line, and a clean exit.

``run_node(config)`` returns the exit status: 0 after SIGINT or SIGTERM (sockets closed with
linger 0, the camera worker stopped, the camera closed).  Once its sockets are bound
and the camera has been tried (opened, live view started, or found missing) it prints one
JSON line on stdout, ``{"ready": true, "name", "pub", "rep", "state"}``, with the endpoints
as bound (a ``*`` port resolved), so scripts and tests can use port ``*``.
Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import signal
import sys

import zmq

from camera_node.clock import Clock, RealClock
from camera_node.config import NodeConfig, backend_factory
from camera_node.service import Node
from protocol import PROTOCOL_VERSION, SPEC_VERSION
from tetherfocus import __version__

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 30.0  # the ready line waits this long at most for the first camera open
JOIN_TIMEOUT_S = 5.0  # after shutdown, how long a hung camera call may hold the exit


def versions(config: NodeConfig) -> dict[str, str]:
    """Versions for the status event: ours, the protocol's, ZeroMQ's, libgphoto2's when real."""
    v = {
        "tetherfocus": __version__,
        "protocol": str(PROTOCOL_VERSION),
        "spec": SPEC_VERSION,
        "python": platform.python_version(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "backend": config.camera.kind,
    }
    if config.camera.kind == "gphoto2":
        import gphoto2 as gp

        v["python-gphoto2"] = gp.__version__
        v["libgphoto2"] = str(gp.gp_library_version(gp.GP_VERSION_SHORT)[0])
    return v


async def serve(config: NodeConfig, clock: Clock) -> Node:
    """Start a node, print the ready line, serve until SIGINT/SIGTERM; returns the stopped node.

    Raises UsageError when an endpoint cannot be bound or the scene is wrong.
    """
    factory = backend_factory(config.camera, clock, config.seed)
    node = Node(config, factory, clock=clock, versions=versions(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.ensure_future(node.run(stop))
    try:  # ready once the camera was tried (state liveview, idle or camera_lost)
        await asyncio.wait_for(asyncio.shield(node.started.wait()), READY_TIMEOUT_S)
    except TimeoutError:
        log.warning("the camera has not answered within %.0f s; serving anyway", READY_TIMEOUT_S)
    ready = {
        "ready": True,
        "name": node.name,
        "pub": node.publisher.endpoint,
        "rep": node.rep_endpoint,
        "state": node.state,
    }
    print(json.dumps(ready), flush=True)
    log.info("node %s: frames on %s, commands on %s", node.name, node.publisher.endpoint, node.rep_endpoint)
    await running
    return node


def run_node(config: NodeConfig, level: str = "INFO") -> int:
    """The ``tetherfocus node`` command.  Raises UsageError (one line) for a person's mistake."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format=f"%(asctime)s {config.name} %(levelname)s %(name)s: %(message)s",
    )
    node = asyncio.run(serve(config, RealClock()))
    if not node.worker.join(JOIN_TIMEOUT_S):
        log.error("a camera call did not return within %.0f s of shutdown; exiting anyway", JOIN_TIMEOUT_S)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the worker thread is stuck inside libgphoto2; do not wait for it
    log.info("node %s stopped", config.name)
    return 0
