"""``tetherfocus controller`` (the process) and ``tetherfocus focus`` (one shot, no controller)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import ProtocolError, check_roi
from tetherfocus.errors import UsageError, check_seconds

if TYPE_CHECKING:
    from controller.state import StateStore

STRATEGIES = ("default", "refocus", "sweep")  # controller.search.NAMES, without importing numpy here


def add_calibration_args(p: Any) -> None:
    """``--trials`` and ``--distance`` of ``calibrate`` and ``bench calibrate``."""
    from controller.search.calibrate import DISTANCE, TRIALS

    p.add_argument(
        "--trials",
        type=int,
        default=TRIALS,
        help="round trips through focus, by turns beyond either side (default %(default)s)",
    )
    p.add_argument(
        "--distance",
        type=float,
        default=DISTANCE,
        metavar="STEPS",
        help="level-1 steps each round trip goes beyond the scan of focus (default %(default)s)",
    )


def check_calibration_args(args: argparse.Namespace) -> None:
    """The bounds of ``--trials`` and ``--distance`` (the controller command's).  Raises UsageError."""
    if not 2 <= args.trials <= 50:
        raise UsageError(f"--trials {args.trials}: give 2 to 50 round trips")
    if not 12.8 <= args.distance <= 800:
        raise UsageError(f"--distance {args.distance:g}: give 12.8 to 800 level-1 steps")


def parse_roi(text: str) -> list[float]:
    """``"0.4,0.4,0.2,0.2"`` -> [0.4, 0.4, 0.2, 0.2].  Raises UsageError."""
    try:
        values = [float(v) for v in text.split(",")]
        return check_roi(values, "--roi")
    except ValueError:
        raise UsageError(f"--roi {text!r}: give x,y,w,h as fractions, e.g. 0.4,0.4,0.2,0.2") from None
    except ProtocolError as exc:
        raise UsageError(f"--roi {text!r}: {exc.message}") from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "controller", help="run the controller: autofocus for many cameras, one command socket"
    )
    p.add_argument("--rig", required=True, help="rig file (TOML, [[camera]] tables; docs/rig.md)")
    p.add_argument(
        "--rep", default="tcp://127.0.0.1:5560", help="command endpoint to bind (default %(default)s)"
    )
    p.add_argument(
        "--pub", default="tcp://127.0.0.1:5561", help="event endpoint to bind (default %(default)s)"
    )
    p.add_argument("--measure", default=None, help="focus measure (default: the strategy's own)")
    p.add_argument(
        "--state", default=None, help="per-serial camera state directory: regions, presets (docs/rig.md)"
    )
    p.add_argument(
        "--keys", default=None, help="CURVE keys directory (tetherfocus keys init); encrypts every socket"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=_controller)

    f = sub.add_parser("focus", help="autofocus one camera once, straight through its node")
    f.add_argument("--node", required=True, help="the node's command endpoint, e.g. tcp://127.0.0.1:5556")
    f.add_argument(
        "--roi", default="0.4,0.4,0.2,0.2", help="x,y,w,h fractions of the live view (default %(default)s)"
    )
    f.add_argument(
        "--strategy",
        default="default",
        help="default, refocus (from the last landing kept in --state) or sweep (default %(default)s)",
    )
    f.add_argument(
        "--state",
        default=None,
        metavar="DIR",
        help="per-serial camera state directory, as the controller's: each landing is kept there,"
        " and --strategy refocus starts from it",
    )
    f.add_argument(
        "--backlash",
        type=float,
        default=None,
        metavar="STEPS",
        help="the lens's slack in level-1 steps, when known (default: any slack up to 12.8 is crossed)",
    )
    f.add_argument(
        "--asymmetry",
        type=float,
        default=None,
        metavar="A",
        help="how much further the lens's far drives travel than its near ones, when known "
        "(0.04: 4 %% further; default: taken as equal)",
    )
    f.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node or a frame")
    f.add_argument("--quiet", action="store_true", help="print only the final line")
    f.add_argument("--keys", default=None, help="CURVE keys directory, when the node runs with --keys")
    f.set_defaults(func=_focus)

    c = sub.add_parser(
        "calibrate",
        help="measure a lens's direction asymmetry (for rig.toml): focus, then round trips through focus",
    )
    c.add_argument("--node", required=True, help="the node's command endpoint, e.g. tcp://127.0.0.1:5556")
    c.add_argument(
        "--roi",
        default="0.4,0.4,0.2,0.2",
        help="x,y,w,h fractions of the live view: a detailed subject near mid-travel (default %(default)s)",
    )
    add_calibration_args(c)
    c.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node or a frame")
    c.add_argument("--quiet", action="store_true", help="print only the final line")
    c.add_argument("--keys", default=None, help="CURVE keys directory, when the node runs with --keys")
    c.set_defaults(func=_calibrate)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )


def _controller(args: argparse.Namespace) -> int:
    from controller.rig import check_bind_endpoint, load_rig
    from controller.service import Controller, serve

    rig = load_rig(args.rig)
    check_bind_endpoint(args.rep, "--rep")
    check_bind_endpoint(args.pub, "--pub")
    _logging(args.verbose)
    from tetherfocus.security import load_security

    security = load_security(args.keys, "controller")
    state = Path(args.state) if args.state else None
    ctl = Controller(
        rig, rep=args.rep, pub=args.pub, measure=args.measure, security=security, state_dir=state
    )
    try:
        asyncio.run(serve(ctl))
    except OSError as exc:
        raise UsageError(f"cannot start the controller: {exc}") from None
    return 0


def _focus(args: argparse.Namespace) -> int:
    from controller.rig import check_endpoint

    check_endpoint(args.node, "--node")
    roi = parse_roi(args.roi)
    if args.strategy not in STRATEGIES:
        raise UsageError(f"--strategy {args.strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if args.strategy == "refocus" and args.state is None:
        raise UsageError(
            "--strategy refocus starts from the camera's last landing on the same region:"
            " give --state DIR, where the landings are kept (or use a controller)"
        )
    store = None
    if args.state is not None:
        from controller.state import StateStore

        store = StateStore(Path(args.state))
    check_seconds(args.timeout, "--timeout")
    from controller.rig import check_asymmetry, check_backlash

    backlash = getattr(args, "backlash", None)
    asymmetry = getattr(args, "asymmetry", None)
    for flag, value in (("--backlash", backlash), ("--asymmetry", asymmetry)):
        if value is not None and args.strategy == "sweep":
            raise UsageError(f"{flag} is for the default strategy, not {args.strategy!r}")
    if backlash is not None:
        backlash = check_backlash(backlash, "--backlash")
    if asymmetry is not None:
        asymmetry = check_asymmetry(asymmetry, "--asymmetry")
    _logging(False)
    return asyncio.run(
        _focus_once(
            args.node,
            roi,
            args.strategy,
            args.timeout,
            args.quiet,
            args.keys,
            backlash,
            asymmetry,
            store=store,
        )
    )


def _calibrate(args: argparse.Namespace) -> int:
    from controller.rig import check_endpoint

    check_endpoint(args.node, "--node")
    roi = parse_roi(args.roi)
    check_seconds(args.timeout, "--timeout")
    check_calibration_args(args)
    _logging(False)
    return asyncio.run(
        _focus_once(
            args.node,
            roi,
            "default",
            args.timeout,
            args.quiet,
            args.keys,
            calibrate=(args.trials, args.distance),
        )
    )


class FocusUnavailable(Exception):
    """The node could not be reached or cannot stream; the one line that says why."""


async def _focus_once(
    node: str,
    roi: list[float],
    strategy_name: str,
    timeout: float,
    quiet: bool,
    keys: str | None = None,
    backlash: float | None = None,
    asymmetry: float | None = None,
    calibrate: tuple[int, float] | None = None,
    *,
    store: StateStore | None = None,
) -> int:
    """Autofocus once and print its line; with ``calibrate`` (trials, distance), then measure
    the lens's direction asymmetry from there (:mod:`controller.search.calibrate`).  With
    ``store``, the landing is kept there, and a refocus starts from the one kept."""
    samples = 0

    def emit(name: str, kind: str, fields: dict[str, Any]) -> None:
        nonlocal samples
        if quiet:
            return
        if kind == "state":
            print(f"  {name}: {fields['state']}", flush=True)
        elif kind == "sample":
            samples += 1
            pos = fields.get("position")
            where = f"{pos:+.1f}" if isinstance(pos, int | float) else "?"
            print(
                f"  sample {samples:3d}  position {where:>7}  measure {fields['measure']:.5g}"
                f"  zoom {fields.get('zoom', 1)}x",
                flush=True,
            )

    try:
        name, r = await focus_through(
            node,
            roi,
            strategy_name,
            timeout,
            emit,
            keys,
            backlash,
            asymmetry,
            calibrate,
            signals=True,
            store=store,
        )
    except FocusUnavailable as exc:
        print(f"tetherfocus focus: {exc}", file=sys.stderr)
        return 1
    common = f"{r['drives']} drives, {r['frames']} frames, {r['seconds']:.1f} s"
    if calibrate is not None:
        return _calibration_line(name, r, common)
    if r["ok"]:
        print(
            f"{name}: focused at {r['position']:+.1f} steps from the start,"
            f" measure {r['measure']:.5g}, {common}{_depth_note(r)}{_slack_note(r)}{_refocus_note(r)}"
        )
        return 0
    print(f"{name}: autofocus failed ({r['reason']}): {r.get('detail', '')}; {common}{_refocus_note(r)}")
    return 1


async def focus_through(
    node: str,
    roi: list[float],
    strategy_name: str,
    timeout: float,
    emit: Callable[[str, str, dict[str, Any]], None] | None = None,
    keys: str | None = None,
    backlash: float | None = None,
    asymmetry: float | None = None,
    calibrate: tuple[int, float] | None = None,
    *,
    signals: bool = False,
    store: StateStore | None = None,
) -> tuple[str, dict[str, Any]]:
    """One autofocus through the node at ``node``, as ``tetherfocus focus`` runs it: the
    camera's name and the run's result (:class:`controller.runner.AutofocusRun`), after the
    calibration's when ``calibrate`` is given.  ``emit(name, kind, fields)`` sees the run's
    states and samples; with ``signals``, SIGINT and SIGTERM cancel the run.  With ``store``
    (a :class:`~controller.state.StateStore`), a landing is kept under the body's serial, and
    ``refocus`` starts from the one kept for ``roi``, as the controller does.  Raises
    :class:`FocusUnavailable` when the node does not answer or stream."""
    import signal

    import zmq.asyncio

    from controller.links import CameraLink
    from controller.rig import CameraSpec
    from controller.runner import AutofocusRun
    from controller.search import create_strategy
    from controller.state import body_key
    from tetherfocus.client import AsyncClient, RemoteError

    ctx = zmq.asyncio.Context()
    from tetherfocus.security import load_security

    own = load_security(keys, "controller")  # the one-shot command acts as a controller
    security = own.client_for("node") if own is not None else None
    probe = AsyncClient(node, timeout=timeout, context=ctx, security=security)
    try:
        try:
            info = await probe.call("info")
        except RemoteError as exc:
            raise FocusUnavailable(f"the node at {node} did not answer: {exc.message}") from None
        finally:
            probe.close()
        name = str(info.get("name", "camera"))
        link = CameraLink(
            CameraSpec(
                name, node, None, (roi[0], roi[1], roi[2], roi[3]), backlash=backlash, asymmetry=asymmetry
            ),
            ctx,
            timeout=timeout,
            security=security,
        )
        link.start()
        try:
            deadline = time.monotonic() + timeout
            while not link.online:
                if time.monotonic() > deadline:
                    raise FocusUnavailable(f"no frames from {name} at {node}")
                await asyncio.sleep(0.05)
            if link.node_state not in ("liveview", "busy"):
                try:
                    await link.call("liveview.start", timeout=30.0)
                except RemoteError as exc:
                    raise FocusUnavailable(f"cannot start live view on {name}: {exc.message}") from None

            def seen(kind: str, fields: dict[str, Any]) -> None:
                if emit is not None:
                    emit(name, kind, fields)

            options = link.spec.search_options(strategy_name)
            body = store.get(body_key(info, name)) if store is not None else None
            if body is not None and strategy_name == "refocus":
                options = {**options, **body.recall(list(roi))}
            strategy = create_strategy(
                strategy_name,
                zoom_levels=link.zoom_levels,
                capabilities=link.capabilities,
                roi=roi,
                **options,
            )
            run = AutofocusRun(link, strategy, strategy_name, roi, seen, frame_timeout=timeout)
            loop = asyncio.get_running_loop()
            if signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, run.cancel)
            r = await run.run()
            if (
                store is not None
                and body is not None
                and run.memory is not None
                and strategy_name in ("default", "refocus")
            ):
                body.land(list(roi), run.memory)
                try:
                    store.save(body)
                except OSError as exc:  # the focus itself stands
                    print(
                        f"tetherfocus focus: cannot keep the landing in {store.directory}: {exc}",
                        file=sys.stderr,
                    )
            if calibrate is not None and r["ok"]:
                from controller.search import create_calibration

                trials, distance = calibrate
                cal = create_calibration(
                    zoom_levels=link.zoom_levels,
                    capabilities=link.capabilities,
                    roi=roi,
                    trials=trials,
                    distance=distance,
                )
                run = AutofocusRun(link, cal, "calibrate", roi, seen, frame_timeout=timeout)
                if signals:
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        loop.add_signal_handler(sig, run.cancel)
                r = await run.run()
        finally:
            await link.stop()
    finally:
        ctx.term()
    return name, r


def _calibration_line(name: str, r: dict[str, Any], common: str) -> int:
    """The calibration's one line: the asymmetry for rig.toml, or why there is none."""
    if r.get("strategy") != "calibrate":
        print(f"{name}: calibration not started: autofocus failed ({r['reason']}): {r.get('detail', '')}")
        return 1
    a = r.get("asymmetry")
    if not r["ok"] or not isinstance(a, int | float):
        print(f"{name}: calibration failed ({r.get('reason')}): {r.get('detail', '')}; {common}")
        return 1
    se = r.get("asymmetry_se")
    pm = f" +- {se:.3f}" if isinstance(se, int | float) and math.isfinite(se) else ""
    way = "far" if a >= 0 else "near"
    print(
        f"{name}: asymmetry {a:+.3f}{pm} ({way} drives travel {abs(a) * 100:.1f} % further); {common};"
        f" put asymmetry = {a:.3f} in the camera's rig.toml entry"
    )
    return 0


def _slack_note(result: dict[str, Any]) -> str:
    """The lens's slack, when this run's reading measured it (rig.toml ``backlash``)."""
    slack = result.get("slack")
    return f"; lens slack about {slack:.1f} steps" if isinstance(slack, int | float) else ""


def _refocus_note(result: dict[str, Any]) -> str:
    """What the one-line result adds for a refocus: whether it started from the last landing."""
    return {
        "landed": "; refocused from the last landing",
        "fell_back": "; focus had moved too far for a refocus: the whole search ran",
        "no_memory": "; no landing kept for this camera and region: the whole search ran",
    }.get(result.get("refocus") or "", "")


def _depth_note(result: dict[str, Any]) -> str:
    """What the one-line result adds when the region spans depth (see ``Default.spans_depth``)."""
    if not result.get("spans_depth"):
        return ""
    spread = result.get("depth_spread")
    over = f"over {spread:.0f} steps" if isinstance(spread, int | float) else "beyond the fine scan"
    return f"; the region spans depth (its parts come into focus {over}): not all of it can be sharp"
