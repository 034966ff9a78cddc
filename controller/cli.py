"""Subcommands of the controller package.

``register(subparsers)`` adds them to the ``tetherfocus`` command; each parser sets
``func`` to a handler that takes the parsed arguments and returns an exit status.
Add new subcommands as further ``_add_*`` functions called from :func:`register`.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    _add_bench(subparsers)


def _add_bench(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench", help="autofocus benchmarks: in virtual time, and against a live node"
    )
    kinds = bench.add_subparsers(dest="bench", metavar="KIND")
    kinds.required = True
    af = kinds.add_parser(
        "af",
        help="autofocus strategies against the simulated camera",
        description="Run every case of CASES.toml with each strategy on the simulated camera, "
        "in virtual time, and print a summary table.",
    )
    _cases_arguments(af)
    af.add_argument(
        "--strategy", default="sweep,default", help="comma-separated strategies (default %(default)s)"
    )
    af.add_argument("--json", metavar="OUT.json", help="write every run and the summaries here")
    af.add_argument("--measure", default=None, help="focus measure (default: the controller's default)")
    af.add_argument("--jobs", type=int, default=1, help="worker processes (results do not depend on it)")
    af.add_argument("--quiet", action="store_true", help="print only the table")
    af.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a constructor option for every strategy run, e.g. cross_slack=12.8 (repeatable)",
    )
    af.set_defaults(func=_bench_af)
    _add_bench_pipeline(kinds)
    _add_bench_calibrate(kinds)
    _add_bench_live(kinds)


def _cases_arguments(p: Any) -> None:
    """The case file and ``--repeats``, as ``bench af``, ``live`` and ``calibrate`` take them."""
    p.add_argument(
        "cases", metavar="CASES.toml", help="case file ([[case]] tables: scene, roi, start, repeats)"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        metavar="N",
        help="run every case N times (repeat k uses seed + k) instead of its own repeats: "
        "enough seeds to tell a success rate from luck",
    )


def _add_bench_live(kinds: Any) -> None:
    live = kinds.add_parser(
        "live",
        help="autofocus against a live node process, each run beside the same case in virtual time",
        description="For every case and repeat of CASES.toml: start a node process on the case's "
        "scene, autofocus through its sockets as `tetherfocus focus` does, stop it, and run the "
        "same case and repeat in virtual time (see controller/bench/live.py).",
    )
    _cases_arguments(live)
    live.add_argument("--strategy", default="default", help="default or sweep (default %(default)s)")
    live.add_argument(
        "--cases", dest="names", default=None, metavar="NAME[,NAME]", help="only these cases (exact names)"
    )
    live.add_argument("--json", metavar="OUT.json", help="write every run and the summary here")
    live.add_argument("--quiet", action="store_true", help="print only the summary line")
    live.set_defaults(func=_bench_live)


def _bench_live(args: argparse.Namespace) -> int:
    from controller.bench.live import main

    return main(args)


def _add_bench_calibrate(kinds: Any) -> None:
    from controller.process_cli import add_calibration_args

    c = kinds.add_parser(
        "calibrate",
        help="how well `tetherfocus calibrate` measures a lens's asymmetry, on the simulated camera",
        description="Focus every case of CASES.toml from its start, then calibrate from there, in "
        "virtual time; compare the measured asymmetry with the simulated lens's own.",
    )
    _cases_arguments(c)
    add_calibration_args(c)
    c.add_argument("--jobs", type=int, default=1, help="worker processes (results do not depend on it)")
    c.add_argument("--json", metavar="OUT.json", help="write every run and the summary here")
    c.add_argument("--quiet", action="store_true", help="print only the table")
    c.set_defaults(func=_bench_calibrate)


def _bench_calibrate(args: argparse.Namespace) -> int:
    from controller.bench.calib import main

    return main(args)


def _add_bench_pipeline(kinds: Any) -> None:
    p = kinds.add_parser(
        "pipeline",
        help="node, transport, controller, viewer and autofocus figures, each beside its baseline",
        description="Measure the pipeline's throughput, latency and scale, each figure beside a "
        "baseline measured in the same run (see controller/bench/pipeline.py).",
    )
    p.add_argument("--cameras", type=int, default=48, help="largest camera count of the ramp (default 48)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per figure (default 10)")
    p.add_argument("--json", metavar="OUT.json", help="write every figure here")
    p.add_argument(
        "--skip", default="", help="comma-separated parts: node,transport,decode,afscale,scale,viewer,af"
    )
    p.add_argument(
        "--af-full", action="store_true", help="every autofocus case and repeat (default: 3 cases)"
    )
    p.set_defaults(func=_bench_pipeline)


def _bench_pipeline(args: argparse.Namespace) -> int:
    from controller.bench.pipeline import main

    return main(args)


def _bench_af(args: argparse.Namespace) -> int:
    from controller import measures
    from controller.bench.af import main

    if args.measure is None:
        args.measure = measures.DEFAULT
    return main(args)
