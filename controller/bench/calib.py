"""``tetherfocus bench calibrate CASES.toml [--trials 7] [--distance 100] --json OUT.json``.

How well ``tetherfocus calibrate`` measures a lens's direction asymmetry: every case (and
repeat) focuses from its start with ``default``, then calibrates from there, on the
simulated camera in virtual time (:func:`.harness.run_calibration`), and the measured
asymmetry is compared with the simulated lens's own (its scene's ``[motor] asymmetry``).
Deterministic by seed, so ``--jobs N`` gives the same figures.  It prints a table per case;
``--json`` writes ``{"trials", "distance", "summary", "runs"}``.

Errors: :class:`~tetherfocus.errors.UsageError` (one line) for a missing or malformed case
file, bad numbers, or an output path that cannot be written.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from controller.bench.cases import Case, load_cases, refuse_drift
from controller.bench.harness import CalibrationResult, run_calibration
from controller.process_cli import check_calibration_args
from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text

Job = tuple[Case, int, int, float]


def _run(job: Job) -> CalibrationResult:
    case, repeat, trials, distance = job
    return run_calibration(case, repeat, trials=trials, distance=distance)


def summary(runs: Sequence[CalibrationResult]) -> dict[str, Any]:
    """Runs, how many measured, and the errors (measured - truth) of those that did."""
    errors = [r.asymmetry - r.truth for r in runs if r.asymmetry is not None]
    measured = [r for r in runs if r.asymmetry is not None]
    return {
        "runs": len(runs),
        "measured": len(measured),
        "failures": dict(sorted(_count(r.failure for r in runs if r.failure is not None).items())),
        "mean_error": round(statistics.fmean(errors), 4) if errors else None,
        "sd_error": round(statistics.pstdev(errors), 4) if errors else None,
        "max_abs_error": round(max(abs(e) for e in errors), 4) if errors else None,
        "median_seconds": round(statistics.median(r.seconds for r in measured), 2) if measured else None,
    }


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in items:
        out[k] = out.get(k, 0) + 1
    return out


def table(runs: Sequence[CalibrationResult]) -> str:
    names = list(dict.fromkeys(r.case for r in runs))
    rows = [("case", "runs", "measured", "truth", "mean", "sd", "max |err|", "median s")]
    for name in [*names, "all"]:
        these = [r for r in runs if name == "all" or r.case == name]
        s = summary(these)
        got = [r.asymmetry for r in these if r.asymmetry is not None]
        truth = {r.truth for r in these}
        rows.append(
            (
                name,
                str(s["runs"]),
                str(s["measured"]),
                f"{truth.pop():+.3f}" if len(truth) == 1 else "mixed",
                f"{statistics.fmean(got):+.4f}" if got else "-",
                f"{s['sd_error']:.4f}" if got else "-",
                f"{s['max_abs_error']:.4f}" if got else "-",
                f"{s['median_seconds']:.1f}" if got else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(args: Any) -> int:
    """Handler for ``bench calibrate`` (cases, trials, distance, repeats, jobs, json, quiet)."""
    check_calibration_args(args)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    cases = load_cases(args.cases, args.repeats)
    refuse_drift(cases, "bench calibrate")
    out_path = check_out(args.json)
    work: list[Job] = [(c, k, args.trials, args.distance) for c in cases for k in range(c.repeats)]
    runs: list[CalibrationResult] = []

    def progress(r: CalibrationResult) -> None:
        runs.append(r)
        if args.quiet:
            return
        got = "failed" if r.asymmetry is None else f"{r.asymmetry:+.4f} (truth {r.truth:+.3f})"
        why = f"  ({r.failure}: {r.detail})" if r.failure else ""
        print(f"{r.case:28} #{r.repeat}  {got}  {r.seconds:5.1f} s{why}", file=sys.stderr, flush=True)

    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for r in pool.map(_run, work, chunksize=1):
                progress(r)
    else:
        for job in work:
            progress(_run(job))
    print(table(runs))
    if out_path is not None:
        doc = {
            "trials": args.trials,
            "distance": args.distance,
            "summary": summary(runs),
            "runs": [r.as_json() for r in runs],
        }
        write_text(out_path, json.dumps(doc, indent=2) + "\n")
    return 0
