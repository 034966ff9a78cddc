"""``tetherfocus rig ...``: a rig's cameras as one, from the command line.

    tetherfocus rig discover [--seconds S] [--write rig.toml] [--state DIR]
    tetherfocus rig focus-all   --rig rig.toml [--state DIR]
    tetherfocus rig capture-all --rig rig.toml --out DIR [--state DIR]
    tetherfocus rig stack --rig rig.toml --camera NAME --from PRESET|POS --to PRESET|POS --shots N --out DIR
    tetherfocus rig preset save|goto|list|delete --rig rig.toml --camera NAME [--name PRESET]
    tetherfocus rig clock --rig rig.toml

Every action is a controller command (docs/protocol.md, section 6).  With ``--controller
ENDPOINT`` it is sent to a running controller (files land on that controller's host);
with ``--rig`` a controller runs inside this process for the one action, with ``--state``
as its per-serial state directory.  A person's mistake is one line and exit status 2; a
failed action is one line and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any

from tetherfocus.errors import UsageError, check_seconds
from tetherfocus.outputs import check_out, write_text

DEFAULT_STATE = Path.home() / ".local" / "state" / "tetherfocus"
LONG_TIMEOUT_S = 900.0


def register(sub: Any) -> None:
    rig = sub.add_parser("rig", help="rig actions: discover, focus-all, capture-all, stack, presets")
    rsub = rig.add_subparsers(dest="rig_command", metavar="RIG_COMMAND")
    rsub.required = True

    d = rsub.add_parser("discover", help="list the nodes that answer over mDNS (_tetherfocus._tcp)")
    d.add_argument("--seconds", type=float, default=3.0, help="how long to listen (default %(default)s)")
    d.add_argument("--write", type=Path, metavar="RIG_TOML", help="write what answered as a rig file")
    d.add_argument(
        "--interface",
        action="append",
        metavar="ADDR",
        help="listen on the interface with this IPv4 address (repeatable; default 127.0.0.1)",
    )
    d.add_argument("--state", type=Path, help="name cameras as this state directory knows their serials")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=_discover)

    def common(p: Any, rig_needed: bool = True) -> None:
        g = p.add_mutually_exclusive_group(required=rig_needed)
        g.add_argument("--rig", type=Path, help="rig file: run a controller in this process for the action")
        g.add_argument("--controller", metavar="ENDPOINT", help="send the action to a running controller")
        p.add_argument("--state", type=Path, help=f"per-serial state directory (default {DEFAULT_STATE})")
        p.add_argument(
            "--wait", type=float, default=20.0, help="seconds to wait for the cameras (default 20)"
        )
        p.add_argument("--json", action="store_true", help="print the controller's whole result as JSON")

    f = rsub.add_parser("focus-all", help="autofocus every camera on its own region, concurrently")
    common(f)
    f.add_argument("--cameras", help="comma-separated camera names (default: all)")
    f.add_argument(
        "--strategy",
        default="default",
        choices=("default", "refocus", "sweep"),
        help="refocus: start from each camera's last run on its region (needs --controller)",
    )
    f.add_argument("--no-reference", action="store_true", help="no reference capture after focusing")
    f.set_defaults(func=_focus_all)

    c = rsub.add_parser("capture-all", help="fire every camera at one instant; files and manifest in --out")
    common(c)
    c.add_argument("--out", required=True, help="directory for shot-NNN/ (on the controller's host)")
    c.add_argument("--cameras", help="comma-separated camera names (default: all)")
    c.add_argument("--lead", type=float, default=1.0, help="schedule the shot this far ahead (default 1 s)")
    c.add_argument("--rounds", type=int, default=8, help="clock round trips per camera (default 8)")
    c.set_defaults(func=_capture_all)

    s = rsub.add_parser("stack", help="a focus stack: N shots between two presets or positions")
    common(s)
    s.add_argument("--camera", required=True)
    s.add_argument("--from", dest="start", required=True, metavar="PRESET|POS")
    s.add_argument("--to", dest="end", required=True, metavar="PRESET|POS")
    s.add_argument("--shots", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_stack)

    h = rsub.add_parser("home", help="home every camera against its near end stop, concurrently")
    common(h)
    h.add_argument("--cameras", help="comma-separated camera names (default: all)")
    h.set_defaults(func=_home)

    k = rsub.add_parser("clock", help="each node's clock offset, NTP-style")
    common(k)
    k.add_argument("--rounds", type=int, default=8)
    k.set_defaults(func=_clock)

    p = rsub.add_parser("preset", help="named focus positions per camera body")
    psub = p.add_subparsers(dest="preset_command", metavar="{save,goto,list,delete}")
    psub.required = True
    for name, helptext in (
        ("save", "store where the motor is now (or --position) under --name"),
        ("goto", "drive to a preset, then a short fine autofocus; prints the drift"),
        ("list", "the presets"),
        ("delete", "forget a preset"),
    ):
        q = psub.add_parser(name, help=helptext)
        common(q)
        q.add_argument("--camera", required=name != "list")
        if name != "list":
            q.add_argument("--name", required=True, metavar="PRESET")
        if name == "save":
            q.add_argument("--position", type=float, help="level-1 units from the near stop")
        if name == "goto":
            q.add_argument("--no-refine", action="store_true", help="no fine autofocus after the move")
            q.add_argument("--home", action="store_true", help="home against the near stop first")
            q.add_argument(
                "--no-sync", action="store_true", help="keep the node's position where the refine landed"
            )
        q.set_defaults(func=_preset, preset=name)


# ---------------------------------------------------------------------------- running


def _names(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


async def _in_process(args: argparse.Namespace, cmd: str, cargs: dict[str, Any]) -> dict[str, Any]:
    from controller.rig import load_rig
    from controller.service import Controller
    from protocol import CONTROLLER_COMMANDS, validate_args

    rig = load_rig(args.rig)
    check_seconds(args.wait, "--wait", "to wait for the cameras")
    tag = f"{time.monotonic_ns()}"
    ctl = Controller(
        rig,
        rep=f"inproc://rig-cli-{tag}",
        pub=f"inproc://rig-cli-pub-{tag}",
        announce=False,
        state_dir=args.state or DEFAULT_STATE,
    )
    checked = validate_args(CONTROLLER_COMMANDS[cmd], cargs)
    stop = asyncio.Event()
    task = asyncio.create_task(ctl.run(stop))
    try:
        await asyncio.wait_for(ctl.ready.wait(), 10)
        wanted = checked.get("cameras") or ([checked["camera"]] if checked.get("camera") else list(ctl.links))
        for n in wanted:
            ctl._link(n)  # not_found for a name the rig lacks
        deadline = time.monotonic() + args.wait
        while not all(ctl.links[n].online for n in wanted):
            if time.monotonic() > deadline:
                off = [n for n in wanted if not ctl.links[n].online]
                raise UsageError(f"no answer within {args.wait:g} s from: {', '.join(off)} (see --wait)")
            await asyncio.sleep(0.1)
        return await ctl.handlers()[cmd](checked)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def _run(args: argparse.Namespace, cmd: str, cargs: dict[str, Any]) -> dict[str, Any] | None:
    """The action's result, or None after printing why it failed (exit status 1)."""
    from protocol import ProtocolError
    from tetherfocus.client import Client, RemoteError

    cargs = {k: v for k, v in cargs.items() if v is not None}
    try:
        if args.controller:
            from controller.rig import check_endpoint

            check_endpoint(args.controller, "--controller")
            with Client(args.controller, timeout=LONG_TIMEOUT_S) as client:
                return client.call(cmd, cargs)
        return asyncio.run(_in_process(args, cmd, cargs))
    except (ProtocolError, RemoteError) as exc:
        print(f"tetherfocus rig: {cmd}: {exc.code.value}: {exc.message}", file=sys.stderr)
        return None


def _print(args: argparse.Namespace, result: dict[str, Any], lines: list[str]) -> int:
    if args.json:
        print(json.dumps(result, indent=2, default=lambda b: f"<{len(b)} bytes>"))
    else:
        print("\n".join(lines))
    return 0


def _fmt(v: Any, spec: str = ".1f") -> str:
    return format(v, spec) if isinstance(v, int | float) else "-"


def _ms(v: Any) -> str:
    return _fmt(None if v is None else 1000 * v, ".2f")


def _focus_all(args: argparse.Namespace) -> int:
    if args.strategy == "refocus" and args.controller is None:
        raise UsageError(
            "--strategy refocus starts from what a running controller remembers of each camera's"
            " last run: use --controller ENDPOINT (a controller started here with --rig has none)"
        )
    r = _run(
        args,
        "rig.focus_all",
        {"cameras": _names(args.cameras), "strategy": args.strategy, "reference": not args.no_reference},
    )
    if r is None:
        return 1
    lines = []
    for x in r["results"]:
        if x["ok"]:
            lines.append(
                f"{x['camera']}: focused, {_fmt(x.get('position'), '+.1f')} steps, measure"
                f" {_fmt(x.get('measure'), '.4g')}, {_fmt(x.get('seconds'))} s,"
                f" reference sharpness {_fmt(x.get('reference'), '.4g')}"
            )
        else:
            lines.append(f"{x['camera']}: FAILED ({x.get('reason')}) {x.get('detail') or ''}".rstrip())
    lines.append(
        f"{sum(1 for x in r['results'] if x['ok'])}/{len(r['results'])} focused in {r['seconds']:.1f} s"
    )
    _print(args, r, lines)
    return 0 if all(x["ok"] for x in r["results"]) else 1


def _capture_all(args: argparse.Namespace) -> int:
    cargs = {
        "out": str(Path(args.out).resolve()) if not args.controller else args.out,
        "cameras": _names(args.cameras),
        "lead_s": args.lead,
        "rounds": args.rounds,
    }
    r = _run(args, "rig.capture_all", cargs)
    if r is None:
        return 1
    lines = []
    for e in r["cameras"]:
        if e.get("error"):
            lines.append(f"{e['camera']}: FAILED: {e['error']}")
            continue
        flag = {True: "  LESS SHARP THAN ITS REFERENCE", False: "", None: "  (no reference)"}[e.get("flag")]
        lines.append(
            f"{e['camera']}: {e['file']} {e['size']} bytes,"
            f" shutter {1000 * e['offset_from_target_s']:+.2f} ms"
            f" (clock error <= {1000 * e['offset_error_s']:.2f} ms), position {_fmt(e.get('position'))},"
            f" sharpness {_fmt(e.get('sharpness'), '.4g')} ratio {_fmt(e.get('ratio'), '.2f')}{flag}"
        )
    spread = r.get("spread_s")
    lines.append(
        f"{r['shot']}: {len(r['cameras']) - len(r['failed'])} files in {r['dir']};"
        f" spread {_fmt(None if spread is None else 1000 * spread, '.2f')} ms"
        f" (offset error <= {_fmt(None if r.get('error_s') is None else 1000 * r['error_s'], '.2f')} ms;"
        f" true spread <= {_ms(r.get('spread_bound_s'))} ms)"
    )
    _print(args, r, lines)
    return 0 if not r["failed"] else 1


def _stack(args: argparse.Namespace) -> int:
    def pos(v: str) -> Any:
        try:
            return float(v)
        except ValueError:
            return v

    out = str(Path(args.out).resolve()) if not args.controller else args.out
    r = _run(
        args,
        "rig.stack",
        {
            "camera": args.camera,
            "from": pos(args.start),
            "to": pos(args.end),
            "shots": args.shots,
            "out": out,
        },
    )
    if r is None:
        return 1
    lines = [
        f"{f['file']}: target {f['target']:.1f}, position {_fmt(f.get('position'))},"
        f" sharpness {_fmt(f.get('sharpness'), '.4g')}"
        for f in r["frames"]
    ]
    lines.append(f"{len(r['frames'])} shots in {r['dir']}")
    return _print(args, r, lines)


def _home(args: argparse.Namespace) -> int:
    r = _run(args, "rig.home", {"cameras": _names(args.cameras)})
    if r is None:
        return 1
    lines = [
        f"{x['camera']}: homed, {x['drives']} drives, {x['seconds']:.1f} s"
        if x["ok"]
        else f"{x['camera']}: FAILED ({x['reason']}) {x.get('detail', '')}"
        for x in r["results"]
    ]
    _print(args, r, lines)
    return 0 if all(x["ok"] for x in r["results"]) else 1


def _clock(args: argparse.Namespace) -> int:
    r = _run(args, "rig.clock", {"rounds": args.rounds})
    if r is None:
        return 1
    lines = [
        f"{c['camera']}: offset {1000 * c['offset_s']:+.3f} ms, round trip {1000 * c['rtt_s']:.3f} ms"
        for c in r["cameras"]
    ]
    return _print(args, r, lines)


def _preset(args: argparse.Namespace) -> int:
    name = args.preset
    if name == "save":
        r = _run(args, "preset.save", {"camera": args.camera, "name": args.name, "position": args.position})
        lines = [] if r is None else [f"{r['camera']} ({r['serial']}): {r['name']} = {r['position']:.1f}"]
    elif name == "goto":
        cargs = {
            "camera": args.camera,
            "name": args.name,
            "refine": not args.no_refine,
            "home": args.home,
            "sync": not args.no_sync,
        }
        r = _run(args, "preset.goto", cargs)
        if r is None:
            return 1
        fine = r.get("refine") or {}
        if r.get("refine") is not None and not fine.get("ok"):
            lines = [
                f"{r['camera']}: at {r['preset']} ({r['target']:.1f});"
                f" fine autofocus failed: {fine.get('reason')}"
            ]
        else:
            lines = [
                f"{r['camera']}: {r['preset']} target {r['target']:.1f}, drift {_fmt(r.get('drift'), '+.1f')}"
                f" steps, now {r['position']:.1f}"
                + (" (synced)" if r.get("synced") else "")
                + (" (homed first)" if r.get("homed") else "")
            ]
    elif name == "list":
        r = _run(args, "preset.list", {"camera": args.camera})
        lines = (
            []
            if r is None
            else [
                f"{p['camera']} ({p['serial']}): {p['name']} = {p['position']:.1f}"
                f"  saved {p.get('saved', '')}"
                for p in r["presets"]
            ]
            or [f"{args.camera}: no presets"]
        )
    else:
        r = _run(args, "preset.delete", {"camera": args.camera, "name": args.name})
        lines = [] if r is None else ["deleted" if r["deleted"] else "no such preset"]
    if r is None:
        return 1
    return _print(args, r, lines)


def _discover(args: argparse.Namespace) -> int:
    from controller.identity import discover, rig_from

    if not 0 < args.seconds <= 120:
        raise UsageError("--seconds must be between 0 and 120")
    interfaces = args.interface or ["127.0.0.1"]
    for a in interfaces:
        try:
            ipaddress.IPv4Address(a)
        except ValueError:
            raise UsageError(f"--interface {a!r}: not an IPv4 address, e.g. 10.0.0.21") from None
    check_out(args.write, "--write")
    found = discover(args.seconds, interfaces)
    state = None
    if args.state is not None:
        from controller.state import StateStore

        state = StateStore(args.state)
    rig = rig_from(found, state)
    if args.json:
        print(json.dumps([f.__dict__ for f in found], indent=2))
    else:
        for f, cam in zip(found, rig.cameras, strict=True):
            print(
                f"{cam.name}: {f.model or '?'} serial {f.serial or '?'} rep {f.rep} pub {f.pub} spec {f.spec}"
            )
        print(f"{len(found)} node(s) answered in {args.seconds:g} s")
    if args.write is not None:
        from controller.rig import dump_rig

        write_text(args.write, dump_rig(rig), "--write")
        print(f"wrote {args.write}", file=sys.stderr)
    return 0
