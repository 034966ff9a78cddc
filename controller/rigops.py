"""Rig actions of the controller: identity by serial, presets, focus-all, capture-all, stacks.

These are the controller commands ``preset.*``, ``rig.*`` and ``stack`` (docs/protocol.md,
section 6; docs/rig.md).  They work through the controller's links, so a command line tool
(:mod:`tetherfocus.rig_cli`) and a remote client do exactly the same thing.

- **Identity.**  When a link learns its node's ``info``, :meth:`RigOps.on_info` files the
  body under its serial number (:mod:`controller.state`): the region of interest stored for
  that serial is adopted, and the name and endpoint are recorded.  A node restarted on
  another port or host therefore keeps its region and its presets.
- **Synchronised capture** (:meth:`RigOps.capture_all`): offsets to each node's clock are
  estimated NTP-style (:mod:`controller.clocksync`), one instant ``lead_s`` ahead is chosen
  on the controller's clock, and each node is asked to release its shutter at that instant
  on its own clock (``capture {at}``).  The spread is computed from the shutter times the
  nodes report, mapped back to the controller's clock.
- **One operation per camera at a time**: a second one, or an autofocus, gets ``busy``.

Errors: handlers raise ``protocol.ProtocolError``; a node's error reply comes back as a
``ProtocolError`` with the node's code and the camera's name in the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller import clocksync, presets, shots
from controller.finetune import FineTune
from controller.links import CameraLink
from controller.runner import AutofocusRun
from controller.state import CameraState, StateStore, body_key, now_iso
from protocol import ErrorCode, ProtocolError
from tetherfocus.client import RemoteError

if TYPE_CHECKING:
    from controller.service import Controller

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
LONG_S = 60.0  # home, goto, capture with download


class RigOps:
    def __init__(self, ctl: Controller, store: StateStore) -> None:
        self.ctl = ctl
        self.store = store
        self.active: dict[str, str] = {}

    # ------------------------------------------------------------------ identity

    def serial(self, link: CameraLink) -> str:
        """The body's serial, or ``name:<camera>`` for a body that reports none."""
        return body_key(link.info, link.name)

    def state(self, link: CameraLink) -> CameraState:
        if link.info is None:
            raise ProtocolError(ErrorCode.NOT_READY, f"camera {link.name!r}: its node has not answered yet")
        return self.store.get(self.serial(link))

    def on_info(self, link: CameraLink, info: dict[str, Any]) -> None:
        """A node answered ``info``: adopt what is stored for its serial, record where it is."""
        st = self.store.get(self.serial(link))
        if st.roi is not None:
            link.roi = list(st.roi)
        else:
            st.roi = list(link.roi)
        st.name = link.name
        st.last_seen = {
            "rep": link.spec.rep,
            "model": info.get("model"),
            "node": info.get("name"),
            "seen": now_iso(),
        }
        self._save(st)

    def landed(self, link: CameraLink, roi: list[float], recall: dict[str, float]) -> None:
        """An autofocus landed on ``roi``: keep what a refocus of it starts from ({}: nothing,
        which forgets the landing before)."""
        st = self.store.get(self.serial(link))
        st.land(roi, recall)
        self._save(st)

    def recall(self, link: CameraLink) -> dict[str, float]:
        """What a refocus of the camera's current region starts from ({}: no landing on it)."""
        return self.store.get(self.serial(link)).recall(list(link.roi))

    def roi_changed(self, link: CameraLink) -> None:
        if link.info is not None:
            st = self.state(link)
            st.roi = list(link.roi)
            self._save(st)

    def _save(self, st: CameraState) -> None:
        try:
            self.store.save(st)
        except OSError as exc:
            log.error("cannot write the state of %s: %s", st.serial, exc)

    # ------------------------------------------------------------------ helpers

    def _links(self, names: Sequence[str] | None) -> list[CameraLink]:
        if not names:
            return list(self.ctl.links.values())
        return [self.ctl._link(str(n)) for n in names]

    @contextlib.asynccontextmanager
    async def _exclusive(self, links: Sequence[CameraLink], op: str) -> AsyncIterator[None]:
        for link in links:
            running = self.active.get(link.name) or ("autofocus" if link.name in self.ctl.runs else None)
            if running:
                raise ProtocolError(
                    ErrorCode.BUSY, f"{running} is running on {link.name!r}", {"running": running}
                )
            if not link.online:
                raise ProtocolError(ErrorCode.NOT_READY, f"camera {link.name!r} is offline")
        for link in links:
            self.active[link.name] = op
        try:
            yield
        finally:
            for link in links:
                self.active.pop(link.name, None)

    async def _call(
        self, link: CameraLink, cmd: str, args: dict[str, Any], timeout: float = 5.0
    ) -> dict[str, Any]:
        try:
            return await link.call(cmd, args, timeout=timeout)
        except RemoteError as exc:
            raise ProtocolError(exc.code, f"{link.name}: {cmd}: {exc.message}", exc.details) from None

    async def _homed_position(self, link: CameraLink, home: bool) -> tuple[float, bool]:
        """The node's position, homing first if it is not homed (or ``home``)."""
        st = await self._call(link, "status", {})
        homed_now = False
        if home or not st.get("homed"):
            await self._call(link, "focus.home", {}, LONG_S)
            homed_now = True
            st = await self._call(link, "status", {})
        return float(st.get("position") or 0.0), homed_now

    async def _capture(self, link: CameraLink, at: float | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"download": True}
        if at is not None:
            args["at"] = at
        return await self._call(link, "capture", args, LONG_S)

    async def _score(self, data: bytes, roi: Sequence[float]) -> float | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.ctl.executor, shots.sharpness, data, list(roi))
        except ValueError:
            return None

    # ------------------------------------------------------------------ presets

    async def cmd_preset_save(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, name, position?} -> {camera, serial, name, position}; default: where the motor is."""
        link = self.ctl._link(args["camera"])
        name = presets.check_name(args["name"])
        st = self.state(link)
        if "position" in args:
            position = float(args["position"])
        else:
            status = await self._call(link, "status", {})
            if not status.get("homed") or status.get("position") is None:
                raise ProtocolError(
                    ErrorCode.NOT_READY,
                    f"{link.name}: the motor is not homed; send focus.home (or give position)",
                )
            position = float(status["position"])
        entry = presets.save(st, name, position)
        self._save(st)
        return {"camera": link.name, "serial": st.serial, "name": name, "position": entry["position"]}

    async def cmd_preset_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera?} -> {presets: [{camera, serial, name, position, saved}]}"""
        out = []
        for link in self._links([args["camera"]] if args.get("camera") else None):
            if link.info is None:
                continue
            st = self.state(link)
            for name, entry in sorted(st.presets.items()):
                out.append({"camera": link.name, "serial": st.serial, "name": name, **entry})
        return {"presets": out}

    async def cmd_preset_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, name} -> {deleted}"""
        link = self.ctl._link(args["camera"])
        st = self.state(link)
        deleted = st.presets.pop(args["name"], None) is not None
        if deleted:
            self._save(st)
        return {"deleted": deleted}

    async def cmd_preset_goto(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, name, refine, home, sync} -> {camera, serial, preset, target, homed, drift, refine,
        synced, position}"""
        link = self.ctl._link(args["camera"])
        st = self.state(link)
        target = presets.lookup(st, args["name"])
        async with self._exclusive([link], "preset.goto"):
            _, homed_now = await self._homed_position(link, bool(args["home"]))
            await self._call(link, "focus.goto", {"position": target}, LONG_S)
            result: dict[str, Any] | None = None
            drift: float | None = None
            synced = False
            if args["refine"]:
                result = await self.refine(link)
                drift = float(result["position"]) if result.get("ok") else None
                if drift is not None and args["sync"]:
                    # the lens is at the preset's focus: the ledger says so from now on, so
                    # the next goto (a stack, another preset) starts from a known place
                    await self._call(link, "focus.sync", {"position": target})
                    synced = True
        position = target if synced else target + drift if drift is not None else target
        return {
            "camera": link.name,
            "serial": st.serial,
            "preset": args["name"],
            "target": target,
            "homed": homed_now,
            "drift": drift,
            "refine": result,
            "synced": synced,
            "position": position,
        }

    async def refine(self, link: CameraLink) -> dict[str, Any]:
        """A short fine autofocus (:class:`controller.finetune.FineTune`) where the motor is."""
        roi = link.roi
        strategy = FineTune(
            zoom_levels=link.zoom_levels if "zoom" in link.capabilities else (1,),
            roi_center=(roi[0] + roi[2] / 2, roi[1] + roi[3] / 2),
        )
        self.ctl._run_ids += 1
        run = AutofocusRun(
            link,
            strategy,
            "finetune",
            roi,
            self.ctl._emitter(link.name, self.ctl._run_ids),
            executor=self.ctl.executor,
            measure=self.ctl.measure,
        )
        self.ctl.runs[link.name] = run
        try:
            result = await run.run()
        finally:
            self.ctl.runs.pop(link.name, None)
        self.ctl.last_results[link.name] = result
        return result

    # ------------------------------------------------------------------ focus-all

    async def cmd_focus_all(self, args: dict[str, Any]) -> dict[str, Any]:
        """{cameras?, strategy, reference} -> {results, seconds}: every camera on its own region, at once."""
        links = self._links(args.get("cameras"))
        t0 = time.monotonic()
        async with self._exclusive(links, "rig.focus_all"):
            results = await asyncio.gather(*(self._focus_one(link, args) for link in links))
        return {"results": list(results), "seconds": round(time.monotonic() - t0, 3)}

    async def _focus_one(self, link: CameraLink, args: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"camera": link.name, "serial": self.serial(link)}
        try:
            started = await self.ctl.cmd_autofocus({"camera": link.name, "strategy": args["strategy"]})
            task = self.ctl._run_tasks.get(link.name)
            result = await task if task is not None else self.ctl.last_results.get(link.name, {})
        except ProtocolError as exc:
            return {**out, "ok": False, "reason": exc.code.value, "detail": exc.message}
        out.update(
            run_id=started["run_id"],
            ok=bool(result.get("ok")),
            position=result.get("position"),
            measure=result.get("measure"),
            reason=result.get("reason"),
            seconds=result.get("seconds"),
        )
        if result.get("ok") and args["reference"]:
            out["reference"] = await self._reference(link)
        return out

    async def _reference(self, link: CameraLink) -> float | None:
        """Capture once where autofocus landed and keep its sharpness as the camera's reference."""
        try:
            r = await self._capture(link)
        except ProtocolError as exc:
            log.warning("%s: no reference capture: %s", link.name, exc.message)
            return None
        value = await self._score(r["data"], link.roi)
        if value is None:
            return None
        st = self.state(link)
        st.reference = {
            "sharpness": value,
            "roi": list(link.roi),
            "position": r.get("position"),
            "saved": now_iso(),
        }
        self._save(st)
        return value

    # ------------------------------------------------------------------ home

    async def cmd_home(self, args: dict[str, Any]) -> dict[str, Any]:
        """{cameras?} -> {results, seconds}: focus.home on every camera at once."""
        links = self._links(args.get("cameras"))
        t0 = time.monotonic()

        async def one(link: CameraLink) -> dict[str, Any]:
            t = time.monotonic()
            try:
                r = await self._call(link, "focus.home", {}, LONG_S)
            except ProtocolError as exc:
                return {"camera": link.name, "ok": False, "reason": exc.code.value, "detail": exc.message}
            return {
                "camera": link.name,
                "ok": True,
                "drives": r.get("drives"),
                "seconds": time.monotonic() - t,
            }

        async with self._exclusive(links, "rig.home"):
            results = await asyncio.gather(*(one(link) for link in links))
        return {"results": list(results), "seconds": round(time.monotonic() - t0, 3)}

    # ------------------------------------------------------------------ clock

    async def offsets(self, links: Sequence[CameraLink], rounds: int) -> dict[str, clocksync.Offset]:
        async def one(link: CameraLink) -> clocksync.Offset:
            return await clocksync.estimate(lambda c, a: self._call(link, c, a), rounds)

        found = await asyncio.gather(*(one(link) for link in links))
        return {link.name: off for link, off in zip(links, found, strict=True)}

    async def cmd_clock(self, args: dict[str, Any]) -> dict[str, Any]:
        """{cameras?, rounds} -> {cameras: [{camera, offset_s, rtt_s, error_s}]}"""
        links = [link for link in self._links(args.get("cameras")) if link.info is not None]
        offs = await self.offsets(links, int(args["rounds"]))
        return {
            "cameras": [
                {"camera": n, "offset_s": o.offset, "rtt_s": o.rtt, "error_s": o.error}
                for n, o in offs.items()
            ]
        }

    # ------------------------------------------------------------------ capture-all

    async def cmd_capture_all(self, args: dict[str, Any]) -> dict[str, Any]:
        """{out, cameras?, lead_s, rounds} -> {shot, dir, manifest, spread_s, error_s, cameras, flagged}"""
        links = self._links(args.get("cameras"))
        out = Path(args["out"])
        async with self._exclusive(links, "rig.capture_all"):
            offs = await self.offsets(links, int(args["rounds"]))
            target = time.monotonic() + float(args["lead_s"])
            replies = await asyncio.gather(
                *(self._capture(link, offs[link.name].to_node(target)) for link in links),
                return_exceptions=True,
            )
        try:
            shot_dir = shots.next_dir(out, "shot")
        except OSError as exc:
            raise ProtocolError(
                ErrorCode.BAD_ARGS, f"out {str(out)!r}: {exc.strerror}", {"arg": "out"}
            ) from None
        entries = []
        for link, reply in zip(links, replies, strict=True):
            entries.append(await self._file_entry(link, reply, offs[link.name], target, shot_dir))
        times = [e["t"] for e in entries if e.get("t") is not None]
        spread = max(times) - min(times) if times else None
        error = max((e["offset_error_s"] for e in entries if e.get("t") is not None), default=None)
        manifest = {
            "shot": shot_dir.name,
            "saved": now_iso(),
            "target_t": target,
            "spread_s": spread,
            "offset_error_max_s": error,
            "spread_bound_s": None if spread is None or error is None else spread + 2 * error,
            "clock": "controller monotonic, s; node times mapped by NTP-style offsets",
            "cameras": entries,
        }
        path = shots.write_manifest(shot_dir, manifest)
        flagged = [e["camera"] for e in entries if e.get("flag")]
        failed = [e["camera"] for e in entries if e.get("error")]
        return {
            "shot": shot_dir.name,
            "dir": str(shot_dir),
            "manifest": str(path),
            "spread_s": spread,
            "error_s": error,
            "spread_bound_s": None if spread is None or error is None else spread + 2 * error,
            "cameras": entries,
            "flagged": flagged,
            "failed": failed,
        }

    async def _file_entry(
        self, link: CameraLink, reply: Any, off: clocksync.Offset, target: float, directory: Path
    ) -> dict[str, Any]:
        st = self.state(link)
        entry: dict[str, Any] = {
            "camera": link.name,
            "serial": st.serial,
            "model": (link.info or {}).get("model"),
            "offset_s": off.offset,
            "offset_error_s": off.error,
            "rtt_s": off.rtt,
        }
        if isinstance(reply, BaseException):
            msg = reply.message if isinstance(reply, ProtocolError) else repr(reply)
            return {**entry, "error": msg, "t": None}
        data: bytes = reply["data"]
        name = f"{link.name}{shots.ext_for(reply['name'], reply['mime'])}"
        sha = shots.write_file(directory / name, data)
        value = await self._score(data, link.roi)
        entry.update(
            file=name,
            size=len(data),
            sha256=sha,
            node_sha256_ok=sha == reply.get("sha256"),
            mime=reply["mime"],
            node_t=reply["t"],
            t=off.from_node(reply["t"]),
            late_s=reply.get("late_s"),
            offset_from_target_s=off.from_node(reply["t"]) - target,
            position=reply.get("position"),
            roi=list(link.roi),
            sharpness=value,
        )
        if value is not None:
            entry.update(shots.judge(value, st.reference, link.roi))
        return entry

    # ------------------------------------------------------------------ stack

    async def cmd_stack(self, args: dict[str, Any]) -> dict[str, Any]:
        """{camera, from, to, shots, out} -> {dir, manifest, positions, frames}"""
        link = self.ctl._link(args["camera"])
        st = self.state(link)
        start = presets.resolve(st, args["from"], "from")
        end = presets.resolve(st, args["to"], "to")
        positions = presets.stack_positions(start, end, int(args["shots"]))
        out = Path(args["out"])
        frames = []
        async with self._exclusive([link], "stack"):
            try:
                directory = shots.next_dir(out, f"stack-{link.name}")
            except OSError as exc:
                raise ProtocolError(
                    ErrorCode.BAD_ARGS, f"out {str(out)!r}: {exc.strerror}", {"arg": "out"}
                ) from None
            _, homed_now = await self._homed_position(link, False)
            for i, pos in enumerate(positions, 1):
                moved = await self._call(link, "focus.goto", {"position": pos}, LONG_S)
                await asyncio.sleep(float(moved.get("settle_s") or 0.0))
                r = await self._capture(link)
                name = f"{link.name}-{i:02d}{shots.ext_for(r['name'], r['mime'])}"
                sha = shots.write_file(directory / name, r["data"])
                frames.append(
                    {
                        "index": i,
                        "file": name,
                        "target": pos,
                        "position": r.get("position"),
                        "size": len(r["data"]),
                        "sha256": sha,
                        "node_t": r["t"],
                        "sharpness": await self._score(r["data"], link.roi),
                    }
                )
        manifest = {
            "camera": link.name,
            "serial": st.serial,
            "from": args["from"],
            "to": args["to"],
            "approach": "near to far: every goto ends with a far move",
            "homed": homed_now,
            "roi": list(link.roi),
            "saved": now_iso(),
            "frames": frames,
        }
        path = shots.write_manifest(directory, manifest)
        return {"dir": str(directory), "manifest": str(path), "positions": positions, "frames": frames}

    # ------------------------------------------------------------------ table

    def handlers(self) -> dict[str, Handler]:
        return {
            "preset.save": self.cmd_preset_save,
            "preset.list": self.cmd_preset_list,
            "preset.delete": self.cmd_preset_delete,
            "preset.goto": self.cmd_preset_goto,
            "rig.focus_all": self.cmd_focus_all,
            "rig.home": self.cmd_home,
            "rig.clock": self.cmd_clock,
            "rig.capture_all": self.cmd_capture_all,
            "rig.stack": self.cmd_stack,
        }
