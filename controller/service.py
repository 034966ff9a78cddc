"""The controller process: many camera nodes, one command socket, one event socket.

``tetherfocus controller --rig rig.toml --rep tcp://127.0.0.1:5560 --pub tcp://127.0.0.1:5561``

It keeps a :class:`~controller.links.CameraLink` per camera of the rig, runs autofocus on
several cameras at once (one run per camera), and publishes ``af.<camera>`` events and a
``status.<camera>`` summary about once a second.  Commands are those of
:data:`protocol.CONTROLLER_COMMANDS` (docs/protocol.md, section 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from controller.links import CameraLink
from controller.rig import SLACK_RUNS, Rig, slack_summary
from controller.rigops import RigOps
from controller.runner import AutofocusRun
from controller.search import Strategy, create_calibration, create_strategy
from controller.state import StateStore
from protocol import CONTROLLER_COMMANDS, AfEventHeader, ErrorCode, Event, ProtocolError, encode
from protocol.events import topic
from tetherfocus.client import RemoteError
from tetherfocus.server import CommandServer, Handler, bind_pub, bind_router, bound_endpoint

log = logging.getLogger(__name__)

DEFAULT_REP = "tcp://127.0.0.1:5560"
DEFAULT_PUB = "tcp://127.0.0.1:5561"
STATUS_PERIOD_S = 1.0
# node commands that move the motor or the view: refused while that camera autofocuses
_MOVING = {"focus.drive", "focus.home", "focus.goto", "zoom.set", "liveview.stop", "liveview.start"}


class Controller:
    def __init__(
        self,
        rig: Rig,
        *,
        rep: str = DEFAULT_REP,
        pub: str = DEFAULT_PUB,
        security: Any = None,
        measure: str | None = None,
        announce: bool = True,
        state_dir: Path | None = None,
    ) -> None:
        self.rig = rig
        self.announce = announce
        self.rep_endpoint = rep
        self.pub_endpoint = pub
        self.security = security
        self.measure = measure
        self.ctx = zmq.asyncio.Context()
        node_security = security.client_for("node") if security is not None else None
        self.links = {c.name: CameraLink(c, self.ctx, security=node_security) for c in rig.cameras}
        self._auth: Any = None
        self.runs: dict[str, AutofocusRun] = {}
        self.last_results: dict[str, dict[str, Any]] = {}
        self.slacks: dict[str, list[float]] = {}  # per camera: the slack its last runs measured
        self.asymmetries: dict[str, dict[str, Any]] = {}  # per camera: its last calibration
        self._run_tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._run_ids = 0
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="measure")
        self.pub: zmq.asyncio.Socket | None = None
        self.server: CommandServer | None = None
        self.ready = asyncio.Event()
        # rigs: what is known per camera body (serial), and the rig actions (docs/rig.md)
        self.store = StateStore(state_dir)
        self.rigops = RigOps(self, self.store)
        for link in self.links.values():
            link.on_info = self.rigops.on_info

    # ------------------------------------------------------------------ events

    def publish(self, event: Event) -> None:
        if self.pub is None:
            return
        with contextlib.suppress(zmq.Again, zmq.ZMQError):
            self.pub.send_multipart(encode(event), flags=zmq.NOBLOCK)

    def _emitter(self, camera: str, run_id: int) -> Callable[[str, dict[str, Any]], None]:
        def emit(kind: str, fields: dict[str, Any]) -> None:
            h = AfEventHeader(camera=camera, run_id=run_id, kind=kind, t=time.monotonic(), **fields)
            self.publish(h.event())

        return emit

    def _link(self, name: str) -> CameraLink:
        link = self.links.get(name)
        if link is None:
            known = ", ".join(self.links) or "none"
            raise ProtocolError(
                ErrorCode.NOT_FOUND, f"no camera named {name!r} (known: {known})", {"camera": name}
            )
        return link

    def camera_status(self, link: CameraLink) -> dict[str, Any]:
        run = self.runs.get(link.name)
        return {
            "name": link.name,
            "online": link.online,
            "state": link.state,
            "roi": link.roi,
            "fps": round(link.fps, 2),
            "af": run.state if run is not None else "idle",
            "last_result": self.last_results.get(link.name),
            "slack": slack_summary(self.slacks.get(link.name, [])),
            "asymmetry": self.asymmetries.get(link.name),
            "node": link.spec.rep,
            "serial": (link.info or {}).get("serial", link.spec.serial),
            "model": (link.info or {}).get("model"),
        }

    # ------------------------------------------------------------------ commands

    async def cmd_status(self, args: dict[str, Any]) -> dict[str, Any]:
        """{} -> {"cameras": [{name, online, state, roi, last_result, fps, af, node}]}"""
        return {"cameras": [self.camera_status(link) for link in self.links.values()]}

    async def cmd_roi_set(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, roi} -> {camera, roi}"""
        link = self._link(args["camera"])
        link.roi = list(args["roi"])
        self.rigops.roi_changed(link)
        return {"camera": link.name, "roi": link.roi}

    def _ready_for_run(self, args: dict[str, Any]) -> CameraLink:
        """The camera of ``args``, free and online, its region updated from ``args``."""
        link = self._link(args["camera"])
        if link.name in self.runs:
            raise ProtocolError(
                ErrorCode.BUSY, f"autofocus is already running on {link.name!r}", {"running": "autofocus"}
            )
        if not link.online:
            raise ProtocolError(ErrorCode.NOT_READY, f"camera {link.name!r} is offline")
        if "roi" in args:
            link.roi = list(args["roi"])
        return link

    async def cmd_autofocus(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, roi?, strategy?} -> {run_id, camera, strategy, roi}; busy while one runs."""
        link = self._ready_for_run(args)
        name = args["strategy"]
        options = link.spec.search_options(name)
        if name == "refocus":  # from the last landing on this region, if any (kept by serial)
            options = {**options, **self.rigops.recall(link)}
        strategy = create_strategy(
            name,
            zoom_levels=link.zoom_levels,
            capabilities=link.capabilities,
            roi=link.roi,
            **options,
        )
        return self._start_run(link, name, strategy)

    async def cmd_calibrate(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, roi?, trials?, distance?} -> {run_id, camera, strategy, roi}: the lens's
        direction asymmetry, measured from focus (controller/search/calibrate.py)."""
        link = self._ready_for_run(args)
        strategy = create_calibration(
            zoom_levels=link.zoom_levels,
            capabilities=link.capabilities,
            roi=link.roi,
            trials=int(args["trials"]),
            distance=float(args["distance"]),
        )
        return self._start_run(link, "calibrate", strategy)

    def _start_run(self, link: CameraLink, name: str, strategy: Strategy) -> dict[str, Any]:
        self._run_ids += 1
        run_id = self._run_ids
        run = AutofocusRun(
            link,
            strategy,
            name,
            link.roi,
            self._emitter(link.name, run_id),
            executor=self.executor,
            measure=self.measure,
        )
        self.runs[link.name] = run
        task = asyncio.get_running_loop().create_task(self._autofocus(link.name, run))
        self._run_tasks[link.name] = task
        return {"run_id": run_id, "camera": link.name, "strategy": name, "roi": link.roi}

    async def _autofocus(self, camera: str, run: AutofocusRun) -> dict[str, Any]:
        try:
            result = await run.run()
        except Exception as exc:  # a bug in a strategy must not take the controller down
            log.exception("%s: autofocus crashed", camera)
            result = {"ok": False, "reason": "internal", "detail": f"{type(exc).__name__}: {exc}"}
            run.emit("result", {"result": result})
        finally:
            self.runs.pop(camera, None)
            self._run_tasks.pop(camera, None)
        self.last_results[camera] = result
        if run.memory is not None and run.strategy_name in ("default", "refocus"):
            # A landing replaces the one kept, or (a dim look, a region wider than the view:
            # nothing to start from) forgets it; a failed run leaves it as it was.
            self.rigops.landed(self.links[camera], run.roi, run.memory)
        if isinstance(result.get("slack"), int | float):
            self.slacks[camera] = [*self.slacks.get(camera, []), float(result["slack"])][-SLACK_RUNS:]
        if isinstance(result.get("asymmetry"), int | float):
            self.asymmetries[camera] = {"value": result["asymmetry"], "se": result.get("asymmetry_se")}
        return result

    async def cmd_cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera} -> {cancelled}"""
        link = self._link(args["camera"])
        run = self.runs.get(link.name)
        if run is None:
            return {"cancelled": False}
        run.cancel()
        return {"cancelled": True}

    async def cmd_node_call(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, cmd, args} -> {result}: forwards one command to the camera's node."""
        link = self._link(args["camera"])
        cmd = args["cmd"]
        if cmd in _MOVING and link.name in self.runs:
            raise ProtocolError(
                ErrorCode.BUSY, f"autofocus is running on {link.name!r}", {"running": "autofocus"}
            )
        timeout = 60.0 if cmd in ("capture", "focus.home", "focus.goto", "liveview.start") else 5.0
        try:
            result = await link.call(cmd, args.get("args") or {}, timeout=timeout)
        except RemoteError as exc:
            raise ProtocolError(exc.code, f"{link.name}: {exc.message}", exc.details) from None
        return {"result": result}

    def handlers(self) -> dict[str, Handler]:
        return {
            "status": self.cmd_status,
            "autofocus": self.cmd_autofocus,
            "calibrate": self.cmd_calibrate,
            "cancel": self.cmd_cancel,
            "roi.set": self.cmd_roi_set,
            "node.call": self.cmd_node_call,
            **self.rigops.handlers(),
        }

    # ------------------------------------------------------------------ lifecycle

    async def _heartbeat(self) -> None:
        while True:
            for link in self.links.values():
                st = self.camera_status(link)
                st.pop("last_result", None)
                self.publish(
                    Event(topic("status", link.name), {"camera": link.name, "t": time.monotonic(), **st})
                )
            await asyncio.sleep(STATUS_PERIOD_S)

    async def run(self, stop: asyncio.Event) -> None:
        if self.security is not None:
            self._auth = self.security.start_authenticator(self.ctx)
        rep = bind_router(self.ctx, self.rep_endpoint, self.security)
        self.pub = bind_pub(self.ctx, self.pub_endpoint, hwm=1000, security=self.security)
        self.rep_endpoint = bound_endpoint(rep)
        self.pub_endpoint = bound_endpoint(self.pub)
        self.server = CommandServer(rep, CONTROLLER_COMMANDS, self.handlers(), name="controller")
        for link in self.links.values():
            link.start()
        tasks = [asyncio.create_task(self.server.serve()), asyncio.create_task(self._heartbeat())]
        self.ready.set()
        if self.announce:
            # one JSON line on stdout, so scripts and tests learn the bound endpoints
            print(json.dumps({"ready": True, "rep": self.rep_endpoint, "pub": self.pub_endpoint}), flush=True)
        log.info("controller: commands on %s, events on %s", self.rep_endpoint, self.pub_endpoint)
        try:
            await stop.wait()
        finally:
            for run in list(self.runs.values()):
                run.cancel()
            if self._run_tasks:
                await asyncio.wait(set(self._run_tasks.values()), timeout=3.0)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.server.drain(1.0)
            for link in self.links.values():
                await link.stop()
            rep.close(linger=0)
            self.pub.close(linger=0)
            self.executor.shutdown(wait=False, cancel_futures=True)
            if self._auth is not None:
                self._auth.stop()
            self.ctx.term()


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(controller: Controller) -> None:
    stop = asyncio.Event()
    install_stop_signals(stop)
    await controller.run(stop)
