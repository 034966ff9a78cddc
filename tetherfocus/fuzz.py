"""``tetherfocus fuzz``: hammer one command socket with malformed requests.

Each request is random bytes, truncated or byte-mutated msgpack of a plausible request,
an argument of the wrong type or out of range, an unknown command, a wrong version, a
wrong id, nested junk, an unknown camera, or an odd frame layout.  Anything the service
could act on is discarded before sending, so **every** reply must be an error; a success
reply, a missing reply, or a motor that moved fails the run.

What is checked, and reported as JSON:

- every request got exactly one reply, each an error with a code from the closed set
  (``internal`` counts as a failure too: it is a bug);
- the process still answers ``status`` afterwards;
- no motor moved: the node's ``move_id`` (from ``status``, and in the frame headers seen
  during the run) is what it was before.  For a controller, every camera of its rig is
  watched this way, straight at its node.

The target kind (node or controller) is found by asking ``status``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import zmq

from protocol import (
    CONTROLLER_COMMANDS,
    ERROR_CODES,
    NODE_COMMANDS,
    CommandSpec,
    ProtocolError,
    decode_event,
    decode_request,
    validate_args,
)
from tetherfocus.client import Client, RemoteError
from tetherfocus.outputs import check_out, write_text

WINDOW = 50  # requests in flight at once
REPLY_TIMEOUT_S = 15.0

NODE_BASES: list[dict[str, Any]] = [
    {"v": 1, "id": "a", "cmd": "focus.drive", "args": {"direction": "near", "level": 2, "count": 3}},
    {"v": 1, "id": "b", "cmd": "focus.drive", "args": {"steps": 40}},
    {"v": 1, "id": "c", "cmd": "focus.goto", "args": {"position": 120.0}},
    {"v": 1, "id": "d", "cmd": "zoom.set", "args": {"zoom": 5, "center": [0.5, 0.5]}},
    {"v": 1, "id": "e", "cmd": "focus.home", "args": {"max_drives": 10}},
    {"v": 1, "id": "f", "cmd": "config.set", "args": {"name": "iso", "value": "400"}},
    {"v": 1, "id": "g", "cmd": "capture", "args": {"download": True}},
]
CONTROLLER_BASES: list[dict[str, Any]] = [
    {"v": 1, "id": "a", "cmd": "autofocus", "args": {"camera": "cam1", "strategy": "default"}},
    {"v": 1, "id": "b", "cmd": "roi.set", "args": {"camera": "cam1", "roi": [0.4, 0.4, 0.2, 0.2]}},
    {
        "v": 1,
        "id": "c",
        "cmd": "node.call",
        "args": {"camera": "cam1", "cmd": "focus.drive", "args": {"direction": "far", "level": 3}},
    },
    {"v": 1, "id": "d", "cmd": "cancel", "args": {"camera": "cam1"}},
]
WRONG: list[Any] = [
    None, True, False, -1, 0, 4, 51, 2**63, -(2**63), 1e308, float("nan"), float("inf"), "", "x" * 300,
    "\u00e9\u4e2d\U0001f600", [], {}, [1, 2], [0.5], [2, 2, 2, 2], b"\x00", -10001, 10001, 3.5,
    {"a": {"b": [1]}},
]  # fmt: skip
BAD_CMDS: list[Any] = [
    "focus.spin", "Focus.Drive", "", "info ", "capture.all", "x" * 70, "a..b", ".x", "x.", "rig.nope",
    7, None, ["status"], b"status",
]  # fmt: skip


@dataclass
class Target:
    kind: str  # "node" or "controller"
    specs: Mapping[str, CommandSpec]
    cameras: frozenset[str] = frozenset()


class Generator:
    """Malformed requests for ``target``, reproducible from ``seed``."""

    def __init__(self, target: Target, seed: int) -> None:
        self.target = target
        self.rng = random.Random(seed)
        self.bases = NODE_BASES if target.kind == "node" else CONTROLLER_BASES
        self.kinds: dict[str, int] = {}

    def acceptable(self, raw: bytes) -> bool:
        """Whether the service could act on ``raw`` (then it is not sent)."""
        try:
            req = decode_request([raw])
            spec = self.target.specs.get(req.cmd)
            if spec is None:
                return False
            args = validate_args(spec, req.args)
        except ProtocolError:
            return False
        except Exception:
            return False  # whatever our own validator chokes on, the server must survive too
        cam = args.get("camera") if isinstance(args, dict) else None
        return not (
            self.target.kind == "controller" and isinstance(cam, str) and cam not in self.target.cameras
        )

    def _junk(self, depth: int = 0) -> Any:
        r = self.rng
        k = r.randrange(8 if depth < 3 else 5)
        if k == 0:
            return r.randrange(-(2**40), 2**40)
        if k == 1:
            return r.random() * 10 ** r.randrange(-5, 30)
        if k == 2:
            return r.randbytes(r.randrange(0, 20)).decode("latin-1")
        if k == 3:
            return r.randbytes(r.randrange(0, 20))
        if k == 4:
            return r.choice(WRONG)
        if k == 5:
            return [self._junk(depth + 1) for _ in range(r.randrange(0, 4))]
        if k == 6:
            return {str(self._junk(depth + 1))[:10]: self._junk(depth + 1) for _ in range(r.randrange(0, 4))}
        return msgpack.ExtType(r.randrange(0, 127), r.randbytes(r.randrange(0, 8)))

    def candidate(self) -> tuple[str, list[bytes]]:
        r = self.rng
        base = r.choice(self.bases)
        kind = r.randrange(13)
        if kind == 0:
            return "random_bytes", [r.randbytes(r.randrange(0, 96))]
        if kind == 1:
            raw = msgpack.packb(base)
            return "truncated", [raw[: r.randrange(0, len(raw))]]
        if kind == 2:
            buf = bytearray(msgpack.packb(base))
            for _ in range(r.randrange(1, 5)):
                buf[r.randrange(len(buf))] = r.randrange(256)
            return "mutated", [bytes(buf)]
        msg: dict[str, Any] = {**base, "args": json.loads(json.dumps(base["args"]))}
        if kind == 3:
            msg["args"][r.choice(list(msg["args"]))] = r.choice(WRONG)
            name = "wrong_arg"
        elif kind == 4:
            msg["args"][r.choice(list(msg["args"]))] = self._junk()
            name = "junk_arg"
        elif kind == 5:
            msg["args"][r.choice(["bogus", "extra", "zzz"])] = r.choice(WRONG)
            if r.random() < 0.5:
                msg["args"].pop(r.choice(list(msg["args"])))
            name = "missing_or_extra_arg"
        elif kind == 6:
            msg["cmd"] = r.choice(BAD_CMDS)
            name = "unknown_command"
        elif kind == 7:
            msg["v"] = r.choice([0, 2, 99, "1", None, 1.0, True, -1])
            name = "wrong_version"
        elif kind == 8:
            msg[r.choice(["id", "args"])] = r.choice(WRONG)
            name = "wrong_envelope"
        elif kind == 9:
            msg.pop(r.choice(["v", "id", "cmd"]))
            name = "missing_field"
        elif kind == 10:
            if self.target.kind == "controller":
                msg["args"]["camera"] = r.choice(["nope", "", "cam1 ", "CAM1", "x" * 200])
            else:
                msg["args"] = self._junk()
            name = "unknown_camera" if self.target.kind == "controller" else "junk_args"
        elif kind == 11:
            return "frame_layout", r.choice(
                [[msgpack.packb(msg), msgpack.packb(msg)], [b"", msgpack.packb(msg)], [b"\x00", b"", b"\x01"]]
            )
        else:
            return "not_a_map", [msgpack.packb(self._junk())]
        return name, [msgpack.packb(msg)]

    def malformed(self) -> list[bytes]:
        while True:
            name, frames = self.candidate()
            if len(frames) != 1 or not self.acceptable(frames[0]):
                self.kinds[name] = self.kinds.get(name, 0) + 1
                return frames


@dataclass
class MotorWatch:
    """The move_id of one node: from status before/after, and in every frame seen."""

    name: str
    rep: str
    pub: str
    before: int = -1
    after: int = -1
    frames: int = 0
    max_frame_move_id: int = -1
    sock: Any = field(default=None, repr=False)

    def moved(self) -> bool:
        return self.after != self.before or self.max_frame_move_id > self.before


def _pub_of(rep: str, info: dict[str, Any]) -> str:
    pub = info.get("pub")
    host = rep.rsplit(":", 1)[0]
    if isinstance(pub, str) and not any(h in pub for h in ("*", "0.0.0.0")):
        return pub
    return f"{host}:{info.get('pub_port')}"


def probe(
    endpoint: str, security: Any, node_security: Any, timeout: float
) -> tuple[Target, list[MotorWatch]]:
    """What is at ``endpoint``, and the motors to watch.  Raises RemoteError."""
    with Client(endpoint, timeout=timeout, security=security) as c:
        st = c.call("status")
        if isinstance(st.get("cameras"), list):
            cams = [x for x in st["cameras"] if isinstance(x, dict)]
            target = Target("controller", CONTROLLER_COMMANDS, frozenset(str(x.get("name")) for x in cams))
            nodes = [(str(x["name"]), str(x["node"])) for x in cams if x.get("node")]
        else:
            target = Target("node", NODE_COMMANDS)
            info = c.call("info")
            nodes = [(str(info.get("name")), endpoint)]
    watches = []
    for name, rep in nodes:
        try:
            with Client(rep, timeout=timeout, security=node_security) as c:
                info = c.call("info")
                watches.append(MotorWatch(name, rep, _pub_of(rep, info)))
        except RemoteError:
            pass  # an offline camera cannot move either; it is reported as unwatched
    return target, watches


def _move_id(w: MotorWatch, security: Any, timeout: float) -> int:
    with Client(w.rep, timeout=timeout, security=security) as c:
        return int(c.call("status")["move_id"])


def _drain(w: MotorWatch) -> None:
    while w.sock.poll(0):
        try:
            ev = decode_event(w.sock.recv_multipart())
        except ProtocolError:
            continue
        mid = ev.header.get("move_id")
        if isinstance(mid, int):
            w.frames += 1
            w.max_frame_move_id = max(w.max_frame_move_id, mid)


def run_fuzz(
    endpoint: str,
    count: int,
    *,
    seed: int = 1,
    window: int = WINDOW,
    security: Any = None,
    node_security: Any = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Fuzz ``endpoint`` with ``count`` malformed requests; the report (``pass`` says it all)."""
    target, watches = probe(endpoint, security, node_security, timeout)
    ctx = zmq.Context()
    for w in watches:
        w.before = _move_id(w, node_security, timeout)
        w.sock = ctx.socket(zmq.SUB)
        w.sock.setsockopt(zmq.LINGER, 0)
        w.sock.setsockopt(zmq.RCVHWM, 100)
        if node_security is not None:
            node_security.apply_client(w.sock)
        w.sock.setsockopt(zmq.SUBSCRIBE, f"frame.{w.name}".encode())
        w.sock.connect(w.pub)
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    if security is not None:
        security.apply_client(dealer)
    dealer.connect(endpoint)
    gen = Generator(target, seed)
    codes: dict[str, int] = {}
    ok_replies = unanswered = unreadable = 0
    sent = 0
    t0 = time.monotonic()
    try:
        while sent < count:
            batch = min(window, count - sent)
            for _ in range(batch):
                dealer.send_multipart([b"", *gen.malformed()])
            sent += batch
            got = 0
            while got < batch:
                if not dealer.poll(int(REPLY_TIMEOUT_S * 1000)):
                    unanswered += batch - got
                    break
                frames = dealer.recv_multipart()
                got += 1
                try:
                    reply = msgpack.unpackb(frames[-1])
                    if reply.get("ok") is not False:
                        ok_replies += 1
                        continue
                    code = str(reply["error"]["code"])
                except Exception:
                    unreadable += 1
                    continue
                codes[code] = codes.get(code, 0) + 1
            if unanswered:
                break
            for w in watches:
                _drain(w)
        seconds = time.monotonic() - t0
        time.sleep(0.5)
        alive = True
        try:
            with Client(endpoint, timeout=timeout, security=security) as c:
                c.call("status")
        except RemoteError:
            alive = False
        for w in watches:
            _drain(w)
            w.after = _move_id(w, node_security, timeout)
            _drain(w)
    finally:
        for w in watches:
            if w.sock is not None:
                w.sock.close(0)
        ctx.destroy(linger=0)
    unknown_codes = sorted(set(codes) - set(ERROR_CODES))
    moved = [w.name for w in watches if w.moved()]
    report: dict[str, Any] = {
        "endpoint": endpoint,
        "target": target.kind,
        "count": count,
        "sent": sent,
        "replies": sum(codes.values()) + ok_replies + unreadable,
        "errors_by_code": dict(sorted(codes.items())),
        "kinds": dict(sorted(gen.kinds.items())),
        "ok_replies": ok_replies,
        "unreadable_replies": unreadable,
        "unanswered": unanswered,
        "unknown_codes": unknown_codes,
        "internal_errors": codes.get("internal", 0),
        "seconds": round(seconds, 2),
        "rate_per_s": round(sent / seconds, 1) if seconds > 0 else None,
        "alive_after": alive,
        "motors": [
            {
                "camera": w.name,
                "move_id_before": w.before,
                "move_id_after": w.after,
                "frames_seen": w.frames,
                "max_frame_move_id": w.max_frame_move_id,
            }
            for w in watches
        ],
        "motor_moved": moved,
        "seed": seed,
    }
    report["pass"] = bool(
        alive
        and sent == count
        and report["replies"] == count
        and not ok_replies
        and not unreadable
        and not unanswered
        and not unknown_codes
        and not report["internal_errors"]
        and not moved
    )
    return report


def register(sub: Any) -> None:
    p = sub.add_parser(
        "fuzz",
        help="fuzz a command socket: every malformed request gets an error, no motor moves",
        description="Send COUNT malformed requests (random, truncated, mutated msgpack; wrong types; unknown "
        "commands; out-of-range values; odd frame layouts) to a node's or a controller's command socket. "
        "Passes when every request got an error reply, the process still answers, and no motor moved. "
        "Exit status 0 on pass, 1 on fail.",
    )
    p.add_argument("--endpoint", required=True, help="the command endpoint, e.g. tcp://127.0.0.1:5556")
    p.add_argument("--count", type=int, default=100_000, help="requests to send (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--window", type=int, default=WINDOW, help=f"requests in flight (default {WINDOW})")
    p.add_argument("--keys", metavar="DIR", help="CURVE keys directory, when the rig runs with --keys")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the report to OUT")
    p.set_defaults(func=_cmd)


def _cmd(args: Any) -> int:
    from controller.rig import check_endpoint
    from tetherfocus.errors import UsageError
    from tetherfocus.security import load_security

    check_endpoint(args.endpoint, "--endpoint")
    check_out(args.json)
    if args.count < 1 or args.window < 1:
        raise UsageError("--count and --window must be at least 1")
    sec = load_security(args.keys, "controller")
    target_sec = node_sec = None
    if sec is not None:
        node_sec = sec.client_for("node")
        with_ctl = sec.client_for("controller")
        # which server is it? try the node's key first, then the controller's
        for candidate in (node_sec, with_ctl):
            try:
                with Client(args.endpoint, timeout=3, security=candidate) as c:
                    c.call("status")
                target_sec = candidate
                break
            except RemoteError:
                continue
    try:
        report = run_fuzz(
            args.endpoint,
            args.count,
            seed=args.seed,
            window=args.window,
            security=target_sec,
            node_security=node_sec,
        )
    except RemoteError as exc:
        raise UsageError(f"--endpoint {args.endpoint}: {exc.message}") from None
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        write_text(args.json, text + "\n")
    return 0 if report["pass"] else 1
