"""``tetherfocus bench af CASES.toml --strategy sweep,default --json OUT.json``.

Runs every case (and repeat) with every strategy, in virtual time, and prints the summary
table; ``--json`` writes the whole document (see :mod:`.report`).  Runs are independent
and deterministic, so ``--jobs N`` spreads them over N processes with identical results.  ``--option
NAME=VALUE`` passes a constructor option to every strategy run (to measure a variant).

Errors: :class:`~tetherfocus.errors.UsageError` (one line) for a missing or malformed case
file, an unknown strategy or measure, or an output path that cannot be written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from controller import measures
from controller.bench.cases import Case, load_cases
from controller.bench.harness import RunResult, run_case
from controller.bench.report import document, table
from controller.search import NAMES as STRATEGY_NAMES
from controller.search import create_strategy
from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text

Job = tuple[Case, int, str, str, dict[str, Any]]


def parse_strategies(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError(f"--strategy needs at least one of: {', '.join(STRATEGY_NAMES)}")
    for n in names:
        if n not in STRATEGY_NAMES:
            raise UsageError(f"--strategy: unknown strategy {n!r}; choose from {', '.join(STRATEGY_NAMES)}")
    return names


def parse_options(items: Sequence[str], strategies: Sequence[str]) -> dict[str, Any]:
    """``--option NAME=VALUE`` items as constructor options (VALUE as JSON: 12.8, true,
    "text"; anything else as a string), checked against every strategy to run."""
    options: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--option: {item!r} is not NAME=VALUE")
        try:
            options[name] = json.loads(text)
        except ValueError:
            options[name] = text
    for s in strategies:
        try:
            create_strategy(s, **options)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--option: strategy {s!r} does not take these options ({exc})") from None
    return options


def _run(job: Job) -> RunResult:
    case, repeat, strategy, measure, options = job
    return run_case(case, repeat, strategy, measure=measure, options=options or None)


def run_all(
    cases: Sequence[Case],
    strategies: Sequence[str],
    *,
    measure: str = measures.DEFAULT,
    jobs: int = 1,
    progress: Callable[[RunResult], None] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, list[RunResult]]:
    """Every (strategy, case, repeat) run, grouped by strategy, in case order; ``options``
    go to every strategy's constructor."""
    opts = dict(options or {})
    work: list[Job] = [(c, k, s, measure, opts) for s in strategies for c in cases for k in range(c.repeats)]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = []
            for r in pool.map(_run, work, chunksize=1):
                done.append(r)
                if progress:
                    progress(r)
    else:
        done = []
        for job in work:
            r = _run(job)
            done.append(r)
            if progress:
                progress(r)
    out: dict[str, list[RunResult]] = {s: [] for s in strategies}
    for r in done:
        out[r.strategy].append(r)
    return out


def main(args: Any) -> int:
    """Handler for ``bench af`` (argparse namespace: cases, strategy, json, measure, jobs, quiet,
    option, repeats)."""
    strategies = parse_strategies(args.strategy)
    if args.measure not in measures.NAMES:
        raise UsageError(
            f"--measure: unknown measure {args.measure!r}; choose from {', '.join(measures.NAMES)}"
        )
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    options = parse_options(getattr(args, "option", None) or [], strategies)
    cases = load_cases(args.cases, getattr(args, "repeats", None))
    out_path = check_out(args.json)

    def progress(r: RunResult) -> None:
        if args.quiet:
            return
        mark = "ok  " if r.success else "FAIL"
        why = f" ({r.failure})" if r.failure else ""
        if not r.well_posed and r.truth_5x is not None:
            why += f"  [ill-posed: truth {r.truth:.1f} at 1x, {r.truth_5x:.1f} at 5x]"
        if r.spans_depth:
            why += "  [spans depth]"
        print(
            f"{mark} {r.strategy:8} {r.case:24} #{r.repeat}  {r.seconds:6.2f} s  {r.drives:3d} drives  "
            f"err {r.abs_error_steps:6.2f} / {r.tolerance_steps:.2f}{why}",
            file=sys.stderr,
            flush=True,
        )

    results = run_all(
        cases, strategies, measure=args.measure, jobs=args.jobs, progress=progress, options=options
    )
    print(table(results))
    if out_path is not None:
        write_text(out_path, json.dumps(document(results), indent=2) + "\n")
    return 0
