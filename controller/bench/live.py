"""``tetherfocus bench live CASES.toml [--repeats N] [--strategy S] [--json OUT.json]``.

Autofocus against a live node, each run beside the same case and repeat in virtual time.

For every case and repeat:

1. a fresh ``tetherfocus node`` process on the case's scene, with the seed ``bench af``
   uses (the case's or the scene's, plus the repeat); when the case gives a start, the
   node is homed and sent there (``focus.home``, ``focus.goto``: dead reckoning, so the
   motor lands within its jitter of the start);
2. one autofocus through the node's sockets, exactly as ``tetherfocus focus`` runs it
   (:func:`controller.process_cli.focus_through`); ``seconds`` is the run's own time, from
   its first command to its result, as ``tetherfocus focus`` reports it;
3. the node is stopped (SIGTERM) before the next run starts;
4. the same case and repeat in virtual time (:func:`controller.bench.harness.run_case`).

The gap between the two is what virtual time does not count: each frame's render after
its moment, its transport and decode, the command round trips, and the node's one camera
thread.  A live run has no truth (a node does not know where focus is): ``ok`` says that it
reported focus, and its final position is not judged.

Errors: :class:`~tetherfocus.errors.UsageError` (one line) for a bad case file, an unknown
strategy or case name, a bad ``--repeats``, or an output path that cannot be written.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from camera_node.sim import resolve_scene
from controller.bench.cases import Case, load_cases, refuse_drift
from controller.bench.harness import run_case
from controller.search import NAMES as STRATEGY_NAMES
from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text
from tetherfocus.procs import NotReady, ReadyProcess, tetherfocus_argv

NODE_START_S = 60.0  # a node loads its scene and raises the mirror within this
FOCUS_TIMEOUT_S = 10.0  # the run's frame and node timeout, as ``tetherfocus focus --timeout``


def select(cases: list[Case], names: str | None) -> list[Case]:
    """The cases named in ``names`` (comma-separated, exact), in file order; all for None."""
    if not names:
        return cases
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {c.name for c in cases}
    for n in wanted:
        if n not in known:
            raise UsageError(f"--cases: no case named {n!r} in the case file")
    return [c for c in cases if c.name in wanted]


async def _place(rep: str, start: float) -> None:
    """Home the node's motor and send it to ``start``; back once it should have settled."""
    from tetherfocus.client import AsyncClient

    client = AsyncClient(rep, timeout=30.0)
    try:
        await client.call("focus.home")
        went = await client.call("focus.goto", {"position": float(start)})
        await asyncio.sleep(float(went.get("settle_s", 0.0)) + 0.3)
    finally:
        client.close()


def live_run(case: Case, repeat: int, strategy: str, log: Path) -> dict[str, Any]:
    """One autofocus through a fresh node process; the run's result, with ``wall_seconds``
    (connection set-up included) and ``node_exit`` (the node's exit status, 0 when clean)."""
    from controller.process_cli import FocusUnavailable, focus_through

    seed = (resolve_scene(case.scene).seed if case.seed is None else case.seed) + repeat
    argv = tetherfocus_argv(
        "node",
        *("--camera", f"sim:{case.scene}", "--name", "live", "--seed", str(seed)),
        *("--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*"),
    )
    node = ReadyProcess(argv, name="node", log=log)
    try:
        rep = str(node.wait_ready(NODE_START_S).ready["rep"])
        if case.start is not None:
            asyncio.run(_place(rep, case.start))
        t0 = time.monotonic()
        try:
            _, result = asyncio.run(focus_through(rep, list(case.roi), strategy, FOCUS_TIMEOUT_S))
        except FocusUnavailable as exc:
            result = {"ok": False, "reason": "node_unavailable", "detail": str(exc)}
        result["wall_seconds"] = round(time.monotonic() - t0, 3)
    finally:
        code = node.stop()  # also when the run raised: no node is left behind
    result["node_exit"] = code
    return result


def run(cases: list[Case], strategy: str, *, progress: bool = True) -> dict[str, Any]:
    """Every case and repeat, live then virtual; the JSON document."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tf-bench-live-") as tmp:
        for case in cases:
            for k in range(case.repeats):
                try:
                    live = live_run(case, k, strategy, Path(tmp) / f"node-{len(runs)}.log")
                except NotReady as exc:
                    raise SystemExit(f"tetherfocus bench live: a node did not start: {exc}") from None
                virtual = run_case(case, k, strategy)
                row = {
                    "case": case.name,
                    "repeat": k,
                    "live": {
                        key: live.get(key)
                        for key in (
                            "ok",
                            "seconds",
                            "wall_seconds",
                            "drives",
                            "frames",
                            "reason",
                            "node_exit",
                        )
                    },
                    "virtual": {
                        "ok": virtual.failure is None,
                        "success": virtual.success,
                        "seconds": round(virtual.seconds, 3),
                        "drives": virtual.drives,
                        "frames": virtual.frames,
                    },
                }
                runs.append(row)
                if progress:
                    print(_line(row), file=sys.stderr, flush=True)
    return {"strategy": strategy, "runs": runs, "summary": summary(runs)}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs that reported focus both live and in virtual time."""
    both = [r for r in runs if r["live"]["ok"] and r["virtual"]["ok"]]

    def med(values: list[float]) -> float | None:
        return round(statistics.median(values), 3) if values else None

    return {
        "runs": len(runs),
        "live_ok": sum(1 for r in runs if r["live"]["ok"]),
        "virtual_ok": sum(1 for r in runs if r["virtual"]["ok"]),
        "median_live_seconds": med([r["live"]["seconds"] for r in both]),
        "median_virtual_seconds": med([r["virtual"]["seconds"] for r in both]),
        "median_gap_seconds": med([r["live"]["seconds"] - r["virtual"]["seconds"] for r in both]),
        "node_exits_clean": all(r["live"]["node_exit"] == 0 for r in runs),
    }


def _line(row: dict[str, Any]) -> str:
    live, virtual = row["live"], row["virtual"]
    said = "ok  " if live["ok"] else f"FAIL ({live.get('reason')})"
    secs = live.get("seconds")
    shown = f"{secs:6.2f} s" if isinstance(secs, int | float) else "     - s"
    return (
        f"{row['case']:24} #{row['repeat']}  live {said} {shown}, {live.get('drives')} drives"
        f"  | virtual {virtual['seconds']:6.2f} s, {virtual['drives']} drives"
    )


def main(args: Any) -> int:
    """Handler for ``bench live`` (argparse namespace: cases, strategy, repeats, names, json,
    quiet)."""
    if args.strategy not in STRATEGY_NAMES:
        raise UsageError(f"--strategy {args.strategy!r}: choose one of {', '.join(STRATEGY_NAMES)}")
    cases = select(load_cases(args.cases, args.repeats), args.names)
    refuse_drift(cases, "bench live")
    out_path = check_out(args.json)
    doc = run(cases, args.strategy, progress=not args.quiet)
    s = doc["summary"]
    print(
        f"{args.strategy}: {s['runs']} runs, focus reported {s['live_ok']} live and {s['virtual_ok']} in"
        f" virtual time; median {s['median_live_seconds']} s live against"
        f" {s['median_virtual_seconds']} s virtual (gap {s['median_gap_seconds']} s)"
    )
    if out_path is not None:
        write_text(out_path, json.dumps(doc, indent=1))
    return 0 if s["node_exits_clean"] else 1
