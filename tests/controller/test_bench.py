"""controller.bench: case files, the summary, and a few-second run of ``tetherfocus bench af``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from camera_node.clock import VirtualClock
from camera_node.sim import SimCamera, open_sim
from camera_node.sim.scene import OpticsParams
from camera_node.sim.truth import best_position_at
from controller.bench.cases import Case, load_cases
from controller.bench.harness import RunResult, tolerance_steps, travel_seconds
from controller.bench.report import case_misses, summarize, table
from controller.search.default import _cover
from tetherfocus.cli import main
from tetherfocus.errors import UsageError

SCENES = Path(__file__).resolve().parents[2] / "camera_node" / "sim" / "scenes"
SHIPPED = Path(__file__).resolve().parents[2] / "controller" / "bench" / "cases" / "af.toml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cases.toml"
    p.write_text(text)
    return p


def test_shipped_cases_load() -> None:
    cases = load_cases(SHIPPED)
    assert len(cases) >= 12 and all(c.repeats >= 3 for c in cases)
    assert {Path(c.scene).stem for c in cases} >= {"chart", "tabletop", "coffee", "lowlight", "moto"}
    assert all(Path(c.scene).is_file() for c in cases)


def _truths(name: str) -> list[tuple[str, float, float, float]]:
    """(case, truth at 1x, truth at 5x sampling, tolerance) for each region of a shipped file."""
    out, seen = [], set()
    for c in load_cases(SHIPPED.with_name(name)):
        if (c.scene, c.roi) in seen:
            continue
        seen.add((c.scene, c.roi))
        sim, _ = open_sim(c.scene, clock=VirtualClock(), seed=1)
        out.append(
            (
                c.name,
                sim.best_position(c.roi),
                best_position_at(sim, c.roi, 5),
                tolerance_steps(sim.spec.optics),
            )
        )
    return out


def test_every_shipped_case_has_a_truth() -> None:
    """af.toml judges success against the truth, so each region's truth must be defined to
    within half the tolerance: sampling the sharp image as the 1x or the 5x view does must
    not move it further (``RunResult.well_posed``)."""
    bad = [(n, round(t1, 1), round(t5, 1)) for n, t1, t5, tol in _truths("af.toml") if abs(t5 - t1) > tol / 2]
    assert not bad


def test_the_at_focus_cases_start_at_focus() -> None:
    """af-at-focus.toml: af.toml's regions, each started at its truth (rounded)."""
    shipped = {(c.scene, c.roi) for c in load_cases(SHIPPED)}
    cases = load_cases(SHIPPED.with_name("af-at-focus.toml"))
    assert len(cases) == 14 and {(c.scene, c.roi) for c in cases} == shipped
    for c in cases:
        sim, _ = open_sim(c.scene, clock=VirtualClock(), seed=1)
        assert c.start == round(sim.best_position(c.roi)), c.name


def test_the_depth_cases_span_depth() -> None:
    """af-depth.toml holds the regions whose truth is not defined that well."""
    truths = _truths("af-depth.toml")
    assert len(truths) == 3 and all(abs(t5 - t1) > tol / 2 for _, t1, t5, tol in truths)


def test_the_lowlight_cases_are_well_posed_regions_of_the_lowlight_scene() -> None:
    """af-lowlight.toml: six regions of `lowlight`, each at one depth (truth at 1x and 5x
    within half the tolerance), two of them af.toml's, each from two starts x five seeds."""
    cases = load_cases(SHIPPED.with_name("af-lowlight.toml"))
    assert len(cases) == 12 and {Path(c.scene).stem for c in cases} == {"lowlight"}
    assert all(c.repeats == 5 and c.start is not None for c in cases)
    regions = {c.roi for c in cases}
    assert len(regions) == 6
    assert {c.roi for c in load_cases(SHIPPED) if Path(c.scene).stem == "lowlight"} <= regions
    truths = _truths("af-lowlight.toml")
    assert len(truths) == 6 and all(abs(t5 - t1) <= tol / 2 for _, t1, t5, tol in truths)


def _af_toml_variants(name: str) -> list[tuple[str, Case, Case, SimCamera, SimCamera]]:
    """A shipped file of af.toml's cases on scene variants: (tag, case, af.toml's case,
    the variant's simulator, af.toml's), its regions, starts, repeats and seeds checked."""
    by_name = {c.name: c for c in load_cases(SHIPPED)}
    cases = load_cases(SHIPPED.with_name(name))
    assert len(cases) == 18
    out = []
    for c in cases:
        tag, base_name = c.name.split(" ", 1)
        base = by_name[base_name]
        assert (c.roi, c.start, c.repeats, c.seed) == (base.roi, base.start, base.repeats, base.seed)
        sim, _ = open_sim(c.scene, clock=VirtualClock(), seed=1)
        ref, _ = open_sim(base.scene, clock=VirtualClock(), seed=1)
        out.append((tag, c, base, sim, ref))
    return out


def test_the_backlash_cases_are_af_toml_on_other_lenses() -> None:
    """af-backlash.toml: af.toml's chart, tabletop and coffee cases (regions, starts,
    repeats), on the same scenes but for the lens's backlash: 0 and 12, against the 4 of
    the built-ins and of the search's prior."""
    for tag, c, base, sim, ref in _af_toml_variants("af-backlash.toml"):
        assert sim.spec.motor.backlash == float(tag[1:]) != ref.spec.motor.backlash == 4.0
        assert replace(sim.spec.motor, backlash=4.0) == ref.spec.motor
        assert sim.spec.depth == ref.spec.depth and sim.spec.optics == ref.spec.optics
        assert sim.best_position(c.roi) == pytest.approx(ref.best_position(base.roi))


def test_the_lag_cases_are_af_toml_with_frames_that_lag_otherwise() -> None:
    """af-lag.toml: af.toml's chart, tabletop and coffee cases, on the same scenes but for
    how long before its moment a frame shows the lens: 0 and 80 ms, against the 40 of the
    built-ins and of the node's model."""
    for tag, _c, _base, sim, ref in _af_toml_variants("af-lag.toml"):
        assert sim.spec.stream.lag_s == int(tag[3:]) / 1000 != ref.spec.stream.lag_s == 0.04
        assert replace(sim.spec.stream, lag_s=0.04) == ref.spec.stream
        assert sim.spec.motor == ref.spec.motor and sim.spec.depth == ref.spec.depth
        assert sim.spec.optics == ref.spec.optics and sim.spec.seed == ref.spec.seed


@pytest.mark.parametrize(
    ("name", "low", "high"), [("af-refocus.toml", 0, 40), ("af-refocus-far.toml", 100, 400)]
)
def test_the_refocus_cases_are_af_toml_regions_moved_from_focus(name: str, low: int, high: int) -> None:
    """af-refocus*.toml: af.toml's regions and starts, each focused and then moved by drifts
    of ``low`` to ``high`` steps either way, different ones for each region."""
    by_region: dict[tuple[str, tuple[float, ...]], Case] = {}
    for c in load_cases(SHIPPED):
        by_region.setdefault((c.scene, c.roi), c)  # the region's first case
    cases = load_cases(SHIPPED.with_name(name))
    assert {(c.scene, c.roi) for c in cases} == set(by_region)
    for c in cases:
        base = by_region[(c.scene, c.roi)]
        assert c.start == base.start and c.drift is not None and low <= abs(c.drift) <= high, c
        assert c.name == f"{base.name}, drift {c.drift:+g}"
    assert len({c.name for c in cases}) == len(cases)


def test_the_wide_refocus_cases_are_the_stress_sets_wide_regions_moved_from_focus() -> None:
    """af-refocus-wide.toml: every region of the stress sets that the 5x view shows less than
    half of (the depth stage's), from its first start, moved by 4 drifts of up to 40 steps."""
    by_region: dict[tuple[str, tuple[float, ...]], Case] = {}
    for name in ("af-stress.toml", "af-stress-b.toml"):
        for c in load_cases(SHIPPED.with_name(name)):
            if _cover((c.roi[2], c.roi[3]), 5) < 0.5:
                by_region.setdefault((c.scene, c.roi), c)
    cases = load_cases(SHIPPED.with_name("af-refocus-wide.toml"))
    assert len(by_region) == 30 and len(cases) == 4 * 30
    assert {(c.scene, c.roi) for c in cases} == set(by_region)
    for c in cases:
        base = by_region[(c.scene, c.roi)]
        assert c.start == base.start and c.drift is not None and 0 < abs(c.drift) <= 40, c
        assert c.name == f"{base.name.split(' @')[0]} @{base.start:g}, drift {c.drift:+g}"
    assert len({c.name for c in cases}) == len(cases)


@pytest.mark.parametrize("name", ["af-stress.toml", "af-stress-b.toml"])
def test_stress_cases_load(name: str) -> None:
    cases = load_cases(SHIPPED.with_name(name))
    assert len(cases) == 120 and all(c.seed is not None and c.start is not None for c in cases)
    assert len({c.name for c in cases}) == 120 and all(Path(c.scene).is_file() for c in cases)


def test_case_defaults_and_paths(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "x.toml").write_text((SCENES / "chart.toml").read_text())
    p = write(tmp_path, '[[case]]\nscene = "s/x.toml"\nroi = [0.1, 0.2, 0.3, 0.4]\n')
    (c,) = load_cases(p)
    assert c.scene == str((tmp_path / "s" / "x.toml").resolve())
    assert (c.roi, c.start, c.repeats, c.seed, c.name) == ((0.1, 0.2, 0.3, 0.4), None, 1, None, "x")
    assert c.drift is None
    p = write(
        tmp_path, '[[case]]\nscene = "s/x.toml"\nroi = [0.1, 0.2, 0.3, 0.4]\nstart = 400\ndrift = -25\n'
    )
    (c,) = load_cases(p)
    assert (c.drift, c.name) == (-25.0, "x@400 drift -25")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no \\[\\[case\\]\\] tables"),
        ("x = 1\n", "unknown top-level key 'x'"),
        ('[[case]]\nscene = "chart"\nroi = [0, 0, 1, 1]\nspeed = 2\n', "case 1: unknown key 'speed'"),
        ("[[case]]\nroi = [0, 0, 1, 1]\n", "'scene' is required"),
        ('[[case]]\nscene = "nope.toml"\nroi = [0, 0, 1, 1]\n', "scene file not found"),
        ('[[case]]\nscene = "chart"\nroi = [0, 0, 1]\n', "'roi' is required"),
        ('[[case]]\nscene = "chart"\nroi = [0.5, 0, 0.6, 1]\n', "must lie inside"),
        ('[[case]]\nscene = "chart"\nroi = [0, 0, 1, 1]\nrepeats = 0\n', "'repeats'"),
        ('[[case]]\nscene = "chart"\nroi = [0, 0, 1, 1]\nstart = "x"\n', "'start'"),
        ('[[case]]\nscene = "chart"\nroi = [0, 0, 1, 1]\nstart = nan\n', "'start'"),  # was a traceback
        ('[[case]]\nscene = "chart"\nroi = [0.5, 0.5, 0.002, 0.002]\n', "at least 0.01"),
        ('[[case]]\nscene = "chart"\nroi = [0, 0, 1, 1]\ndrift = "x"\n', "'drift'"),
        ("[[case]\n", "not valid TOML"),
    ],
)
def test_bad_case_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        load_cases(write(tmp_path, text))


def test_missing_case_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="case file not found"):
        load_cases(tmp_path / "none.toml")


def test_tolerance_is_two_capture_pixels() -> None:
    assert tolerance_steps(OpticsParams()) == pytest.approx(2 * 22.3e3 / 6000 * 2.8 / 7.8)


def _run(case: str, ok: bool, seconds: float, drives: int, err: float) -> RunResult:
    return RunResult(
        case,
        0,
        "x",
        ok,
        1.0,
        1.0,
        err,
        2.67,
        drives,
        drives * 2,
        0,
        10,
        seconds,
        None if ok else "flat",
        "",
        0.0,
    )


def test_summary_figures() -> None:
    runs = [_run("a", True, 1.0, 10, 0.5), _run("b", True, 3.0, 12, 1.0), _run("c", False, 2.0, 4, 9.0)]
    s = summarize(runs)
    assert s["runs"] == 3 and s["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["median_seconds"] == 2.0 and s["p90_seconds"] == pytest.approx(2.8)
    assert s["median_drives"] == 10 and s["median_motor_moves"] == 20
    assert s["median_abs_error_steps"] == 1.0 and s["failures"] == {"flat": 1}
    assert "66.7%" in table({"x": runs})
    assert s["ill_posed_runs"] == 0 and s["well_posed_success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert "ill-posed" not in table({"x": runs})


@pytest.mark.parametrize(
    ("distance", "seconds"),
    [
        (0.0, 0.0),  # already there: nothing to drive
        (6.4, 0.005 + 0.030 + 0.080 + 0.060),  # one level-2 drive: command, latency, motion, margin
        (47.0, 0.005 + 0.030 + 0.250 + 0.060),  # one level-3 drive
        (-94.0, 0.005 + 0.030 + 2 * 0.250 + 0.060),  # two queue behind each other, either way
        (53.4, 0.005 + 0.030 + 0.250 + 0.080 + 0.060),  # level 2 waits for the level 3 to end
        (3.0, 0.005 + 0.030 + 3 * 0.050 + 2 * (0.100 - 0.050) + 0.060),  # level 1: the None pause
    ],
)
def test_travel_seconds(distance: float, seconds: float) -> None:
    assert travel_seconds(distance) == pytest.approx(seconds)


def test_stage_medians_and_the_floor_with_a_perfect_coarse_stage() -> None:
    def staged(seconds: float, coarse: float, start: float) -> RunResult:
        m = {"coarse_seconds": coarse, "fine_seconds": 1.0, "approach_seconds": 0.5}
        return replace(_run("a", True, seconds, 10, 0.5), start=start, metrics=m)

    runs = [staged(4.0, 2.0, 1.0 - 47.0), staged(3.0, 1.0, 1.0 + 94.0), staged(5.0, 2.5, 1.0)]
    s = summarize(runs)
    assert s["stages"] == {"coarse": 2.0, "fine": 1.0, "approach": 0.5}
    # travel 0.345, 0.595 and 0, plus the runs less their coarse stage (2.0, 2.0, 2.5)
    assert s["median_seconds_coarse_at_travel"] == pytest.approx(2.5)
    assert s["median_travel_seconds"] == pytest.approx(0.345)
    text = table({"x": runs})
    assert "x: stages, median s: coarse 2.00, fine 1.00, approach 0.50" in text
    assert "drove straight to focus: 2.50 s" in text and "straight from start to truth: 0.34 s" in text
    plain = summarize([_run("a", True, 1.0, 10, 0.5)])
    assert plain["stages"] is None and plain["median_seconds_coarse_at_travel"] is None
    assert "stages" not in table({"x": [_run("a", True, 1.0, 10, 0.5)]})


def test_ill_posed_runs_are_counted_apart_but_still_in_the_success_rate() -> None:
    wide = replace(_run("deep", False, 2.0, 10, 4.0), truth_5x=1.0 + 1.4)  # 1.4 > 2.67 / 2
    near = replace(_run("deep", True, 2.0, 10, 1.0), truth_5x=1.0 + 1.3)
    flat = _run("plane", True, 2.0, 10, 1.0)
    assert not wide.well_posed and near.well_posed and flat.well_posed
    s = summarize([wide, near, flat])
    assert s["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["ill_posed_runs"] == 1 and s["well_posed_success_rate"] == 1.0
    assert wide.as_json()["well_posed"] is False and wide.as_json()["truth_5x"] == 2.4
    assert "x: 1 runs ill-posed" in table({"x": [wide, near, flat]})
    assert "success on the other 2: 100.0%" in table({"x": [wide, near, flat]})


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "af", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "case file not found" in err
    p = write(tmp_path, f'[[case]]\nscene = "{SCENES / "chart.toml"}"\nroi = [0.4, 0.4, 0.2, 0.2]\n')
    assert main(["bench", "af", str(p), "--strategy", "default,bisect"]) == 2
    assert "unknown strategy 'bisect'" in capsys.readouterr().err
    assert main(["bench", "af", str(p), "--measure", "sobel"]) == 2
    assert "unknown measure 'sobel'" in capsys.readouterr().err
    # a drift case is bench af's alone: the others run each case from its start only
    d = write(
        tmp_path, f'[[case]]\nscene = "{SCENES / "chart.toml"}"\nroi = [0.4, 0.4, 0.2, 0.2]\ndrift = 9\n'
    )
    for cmd in (["bench", "live", str(d)], ["bench", "calibrate", str(d)]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "has a drift, which only bench af runs" in err, err


def _chart_case(tmp_path: Path) -> Path:
    """One tiny case: the chart's centre from 330."""
    return write(
        tmp_path,
        f'[[case]]\nname = "chart"\nscene = "{SCENES / "chart.toml"}"\n'
        "roi = [0.4, 0.4, 0.2, 0.2]\nstart = 330\n",
    )


def test_bench_af_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--option NAME=VALUE`` reaches the strategy; a bad one is one line."""
    p = _chart_case(tmp_path)
    out_json = tmp_path / "out.json"
    args = ["bench", "af", str(p), "--strategy", "default", "--json", str(out_json), "--quiet"]
    assert main([*args, "--option", "glide_zoom=false"]) == 0
    plain = tmp_path / "plain.json"
    assert main(["bench", "af", str(p), "--strategy", "default", "--json", str(plain), "--quiet"]) == 0
    (unzoomed,) = json.loads(out_json.read_text())["strategies"]["default"]["runs"]
    (zoomed,) = json.loads(plain.read_text())["strategies"]["default"]["runs"]
    # the glide at 1x, then a magnified scan back through the top (before session 25's
    # default): other drives, and another landing
    assert (zoomed["motor_moves"], zoomed["final_position"]) != (
        unzoomed["motor_moves"],
        unzoomed["final_position"],
    )
    capsys.readouterr()
    for bad, says in [
        ("cross_slack", "is not NAME=VALUE"),
        ("no_such_option=1", "does not take these options"),
        ("cross_slack=nan", "option cross_slack must be a finite number"),  # was a traceback mid-run
        ("max_shifts=1.5", "option max_shifts must be a whole number"),
        ("predict=1", "option predict must be true or false"),
    ]:
        assert main([*args, "--option", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err
    assert main(["bench", "af", str(p), "--strategy", "sweep", "--option", "cross_slack=12.8"]) == 2
    assert "strategy 'sweep' does not take" in capsys.readouterr().err


def test_bench_af_repeats_overrides_every_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--repeats N`` runs every case N times, repeat k with seed + k."""
    p = _chart_case(tmp_path)
    out_json = tmp_path / "out.json"
    args = ["bench", "af", str(p), "--strategy", "default", "--json", str(out_json), "--quiet"]
    assert main([*args, "--repeats", "2"]) == 0
    runs = json.loads(out_json.read_text())["strategies"]["default"]["runs"]
    assert [r["repeat"] for r in runs] == [0, 1]
    # another seed: other jitter and noise, so another path
    assert (runs[0]["seconds"], runs[0]["final_position"]) != (runs[1]["seconds"], runs[1]["final_position"])
    capsys.readouterr()
    assert main([*args, "--repeats", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--repeats must be at least 1" in err


def test_the_table_names_the_cases_with_misses() -> None:
    def run(case: str, ok: bool) -> RunResult:
        return _run(case, ok, 1.0, 10, 1.0)

    runs = [run("a", True), run("a", False), run("b", False), run("b", False), run("c", True)]
    assert case_misses(runs) == [("b", 0, 2), ("a", 1, 2)]
    assert "x: cases with misses, fewest successes first: b 0 of 2, a 1 of 2\n" in table({"x": runs})
    many = table({"x": [run(f"case {i}", False) for i in range(8)]})
    assert "case 0 0 of 1, case 1 0 of 1," in many and "case 5 0 of 1, and 2 more\n" in many
    assert "case 6" not in many
    assert "cases with misses" not in table({"x": [run("c", True)]})


def test_bench_af_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One tiny case, both strategies, in virtual time: a few seconds of wall time."""
    p = _chart_case(tmp_path)
    out_json = tmp_path / "out.json"
    assert (
        main(["bench", "af", str(p), "--strategy", "sweep,default", "--json", str(out_json), "--quiet"]) == 0
    )
    printed = capsys.readouterr().out
    assert "sweep" in printed and "default" in printed and "success" in printed
    doc = json.loads(out_json.read_text())
    for name in ("sweep", "default"):
        summary = doc["strategies"][name]["summary"]
        assert set(summary) >= {
            "runs",
            "success_rate",
            "median_seconds",
            "p90_seconds",
            "median_drives",
            "median_frames",
            "median_abs_error_steps",
        }
        (run,) = doc["strategies"][name]["runs"]
        assert set(run) >= {
            "case",
            "repeat",
            "success",
            "final_position",
            "truth",
            "abs_error_steps",
            "tolerance_steps",
            "drives",
            "motor_moves",
            "frames",
            "seconds",
            "failure",
        }
        assert run["truth"] == 400.0 and run["motor_moves"] >= run["drives"]
    d, s = (doc["strategies"][n]["runs"][0] for n in ("default", "sweep"))
    assert d["success"] and d["abs_error_steps"] <= d["tolerance_steps"]
    assert d["seconds"] < s["seconds"]  # virtual seconds: deterministic


def test_runs_are_deterministic(tmp_path: Path) -> None:
    from controller.bench.cases import Case
    from controller.bench.harness import run_case

    case = Case("c", str(SCENES / "chart.toml"), (0.4, 0.4, 0.2, 0.2), 360.0, 1, None)
    a, b = run_case(case, 0, "default"), run_case(case, 0, "default")
    assert a == b


def test_bench_calibrate_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``bench calibrate`` (a few seconds here; BENCHMARKS.md has the full run): focus, then
    calibrate, on the simulated lens (4 % asymmetry), and the JSON document.  Three trips
    are few: over repeats 0-11 of this case, two in twelve fail the check that both sides
    agree (with 50-step trips, four); this seed is one that calibrates (session 22: the
    glide moved every later frame's noise, and 50-step trips from seed 0 no longer did)."""
    p = _chart_case(tmp_path)
    out_json = tmp_path / "cal.json"
    args = ["bench", "calibrate", str(p), "--trials", "3", "--distance", "100", "--json", str(out_json)]
    assert main([*args, "--quiet"]) == 0
    doc = json.loads(out_json.read_text())
    assert doc["trials"] == 3 and doc["distance"] == 100.0
    (run,) = doc["runs"]
    assert run["truth"] == 0.04 and run["failure"] is None, run
    assert abs(run["error"]) < 0.04 and run["error"] == pytest.approx(run["asymmetry"] - 0.04, abs=1e-4)
    assert doc["summary"]["runs"] == 1 and doc["summary"]["measured"] == 1
    assert "chart" in capsys.readouterr().out  # the table
    for bad, says in [
        (["--trials", "1"], "--trials 1: give 2 to 50 round trips"),
        (["--distance", "5"], "--distance 5: give 12.8 to 800 level-1 steps"),
        (["--jobs", "0"], "--jobs must be at least 1"),
    ]:
        assert main(["bench", "calibrate", str(p), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err
