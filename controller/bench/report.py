"""Summaries of benchmark runs: the printed table and the JSON document.

JSON: ``{"strategies": {NAME: {"summary": {...}, "runs": [...]}}}`` where the summary holds
runs, success_rate, median_seconds, p90_seconds, median_drives, median_motor_moves,
median_frames and median_abs_error_steps, and each run is :meth:`RunResult.as_json`.

The summary also counts ``ill_posed_runs``: runs whose truth moves by more than half the
tolerance when the sharp image is sampled as at 5x instead of 1x (a region that spans
depth, see :attr:`RunResult.well_posed`), and gives ``well_posed_success_rate`` over the
others.  ``success_rate`` counts every run, as the issue defines it.  ``spans_depth_runs``
counts the runs whose search reported that the region spans depth (``Default.spans_depth``),
``spans_depth_ill_posed`` how many of those are ill-posed.

``median_travel_seconds`` is the floor for any search: the median of each run's
``travel_seconds`` (:func:`~controller.bench.harness.travel_seconds`, driving straight from
the start to the truth).  When the runs report their stages (``default``'s metrics
``coarse_seconds``, ``fine_seconds``, ``approach_seconds``), ``stages`` holds their medians
and ``median_seconds_coarse_at_travel`` the median of ``travel_seconds + seconds -
coarse_seconds``: the runs as they would be if the coarse stage had driven straight to focus
and the rest had gone as it did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from controller.bench.harness import RunResult


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without numpy."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(runs: Sequence[RunResult]) -> dict[str, Any]:
    n = len(runs)
    ok = sum(r.success for r in runs)
    well = [r for r in runs if r.well_posed]
    failures: dict[str, int] = {}
    for r in runs:
        if r.failure is not None:
            failures[r.failure] = failures.get(r.failure, 0) + 1
        elif not r.success:
            failures["off_target"] = failures.get("off_target", 0) + 1
    staged = [r for r in runs if r.metrics and "coarse_seconds" in r.metrics]
    stages: dict[str, float] | None = None
    if staged:
        stages = {
            k: round(_percentile([(r.metrics or {}).get(f"{k}_seconds", 0.0) for r in staged], 50), 3)
            for k in ("coarse", "fine", "approach")
        }
    return {
        "runs": n,
        "success_rate": round(ok / n, 4) if n else 0.0,
        "median_seconds": round(_percentile([r.seconds for r in runs], 50), 3),
        "p90_seconds": round(_percentile([r.seconds for r in runs], 90), 3),
        "median_drives": _percentile([r.drives for r in runs], 50),
        "median_motor_moves": _percentile([r.motor_moves for r in runs], 50),
        "median_frames": _percentile([r.frames for r in runs], 50),
        "median_abs_error_steps": round(_percentile([r.abs_error_steps for r in runs], 50), 3),
        "failures": failures,
        "ill_posed_runs": sum(not r.well_posed for r in runs),
        "well_posed_success_rate": round(sum(r.success for r in well) / len(well), 4) if well else None,
        "spans_depth_runs": sum(r.spans_depth for r in runs),
        "spans_depth_ill_posed": sum(r.spans_depth and not r.well_posed for r in runs),
        "median_travel_seconds": round(_percentile([r.travel_seconds for r in runs], 50), 3),
        "stages": stages,
        "median_seconds_coarse_at_travel": (
            round(
                _percentile(
                    [r.travel_seconds + r.seconds - (r.metrics or {})["coarse_seconds"] for r in staged], 50
                ),
                3,
            )
            if staged
            else None
        ),
    }


def document(results: Mapping[str, Sequence[RunResult]]) -> dict[str, Any]:
    return {
        "strategies": {
            name: {"summary": summarize(runs), "runs": [r.as_json() for r in runs]}
            for name, runs in results.items()
        }
    }


MISSES_SHOWN = 6


def case_misses(runs: Sequence[RunResult]) -> list[tuple[str, int, int]]:
    """(case, successes, runs) of each case with a run that did not succeed, fewest
    successes (as a share of its runs) first, then by name."""
    by_case: dict[str, list[bool]] = {}
    for r in runs:
        by_case.setdefault(r.case, []).append(r.success)
    out = [(case, sum(oks), len(oks)) for case, oks in by_case.items() if not all(oks)]
    return sorted(out, key=lambda t: (t[1] / t[2], t[0]))


def table(results: Mapping[str, Sequence[RunResult]]) -> str:
    """The summary as a fixed-width table, one row per strategy."""
    head = ("strategy", "runs", "success", "median s", "p90 s", "drives", "motor", "frames", "|err| steps")
    rows = [head]
    summaries = {name: summarize(runs) for name, runs in results.items()}
    for name, s in summaries.items():
        rows.append(
            (
                name,
                str(s["runs"]),
                f"{100 * s['success_rate']:.1f}%",
                f"{s['median_seconds']:.2f}",
                f"{s['p90_seconds']:.2f}",
                f"{s['median_drives']:g}",
                f"{s['median_motor_moves']:g}",
                f"{s['median_frames']:g}",
                f"{s['median_abs_error_steps']:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name, s in summaries.items():
        if s["ill_posed_runs"]:
            rest = s["runs"] - s["ill_posed_runs"]
            wp = s["well_posed_success_rate"]
            rate = "" if wp is None else f": {100 * wp:.1f}%"
            lines.append(
                f"{name}: {s['ill_posed_runs']} runs ill-posed (truth at 1x and 5x sampling more than half"
                f" the tolerance apart); success on the other {rest}{rate}"
            )
        if s["stages"] is not None:
            st = s["stages"]
            lines.append(
                f"{name}: stages, median s: coarse {st['coarse']:.2f}, fine {st['fine']:.2f}, approach"
                f" {st['approach']:.2f}; with a coarse stage that drove straight to focus:"
                f" {s['median_seconds_coarse_at_travel']:.2f} s"
            )
        if s["spans_depth_runs"]:
            lines.append(
                f"{name}: {s['spans_depth_runs']} runs reported that the region spans depth"
                f" ({s['spans_depth_ill_posed']} of them ill-posed)"
            )
        misses = case_misses(results[name])
        if misses:
            shown = ", ".join(f"{case} {ok} of {n}" for case, ok, n in misses[:MISSES_SHOWN])
            more = f", and {len(misses) - MISSES_SHOWN} more" if len(misses) > MISSES_SHOWN else ""
            lines.append(f"{name}: cases with misses, fewest successes first: {shown}{more}")
    if summaries:
        travel = next(iter(summaries.values()))["median_travel_seconds"]
        lines.append(f"driving straight from start to truth: {travel:.2f} s median, the floor for any search")
    return "\n".join(lines)
