"""The ``default`` search as a state machine, on the synthetic motor + curve simulator.

Each row of the golden tables is a situation (a curve, a start, the motor's faults) and
what must come out of it: Done within the tolerance of focus, always approached from the
near side; or Failed with the right reason, back at the start and at the starting zoom.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from controller.search import (
    Default,
    Done,
    Drive,
    Failed,
    Observation,
    Zoom,
    create_strategy,
    recall_options,
    with_landing_top,
)
from tests.controller import af_synthetic as syn

TOL = 2.67  # 2 capture pixels of blur, in level-1 steps, with the simulator's defaults
SEEDS = range(3)


def _run(cam: syn.SynthCamera, **options: object) -> syn.Outcome:
    s = create_strategy("default", zoom_levels=cam.zoom_levels, capabilities=["zoom"], **options)
    return syn.run(s, cam)


def _run_keeping(cam: syn.SynthCamera, **options: object) -> tuple[Default, syn.Outcome]:
    """As :func:`_run`, and the strategy too, to look at its state after the run."""
    s = create_strategy("default", zoom_levels=cam.zoom_levels, capabilities=["zoom"], **options)
    assert isinstance(s, Default)
    return s, syn.run(s, cam)


def _last_drive(commands: list[object]) -> Drive:
    return [c for c in commands if isinstance(c, Drive)][-1]


# (label, curve, focus, camera options)
SUCCEEDS = [
    ("clean", syn.lorentz(420.0), 420.0, {"start": 150.0}),
    ("clean, from far", syn.lorentz(300.0), 300.0, {"start": 720.0}),
    ("at focus already", syn.lorentz(400.0), 400.0, {"start": 403.0}),
    ("noisy", syn.lorentz(420.0), 420.0, {"start": 650.0, "noise": 0.03}),
    ("heavy backlash", syn.lorentz(420.0), 420.0, {"start": 150.0, "backlash": 10.0, "asymmetry": 0.08}),
    ("many skips", syn.lorentz(380.0), 380.0, {"start": 600.0, "skip": 0.2}),
    ("near an end stop", syn.lorentz(60.0), 60.0, {"start": 400.0}),
    ("start at the far stop", syn.lorentz(420.0), 420.0, {"start": 795.0}),
    ("no zoom on this body", syn.lorentz(420.0), 420.0, {"start": 150.0, "zoom_levels": (1,)}),
]


# Each curve is run from 40 seeds (noise, jitter, skips): every run keeps the invariants,
# and all but a rare one land within tolerance (40 seeds give a rate, not one lucky path;
# at session 5 the misses were 4 of 360, against 7 of 360 before its coarse change).
RATE_SEEDS = range(40)
MIN_LANDED = 38


@pytest.mark.parametrize(("label", "curve", "focus", "opts"), SUCCEEDS, ids=[r[0] for r in SUCCEEDS])
def test_finds_focus(label: str, curve: syn.Curve, focus: float, opts: dict[str, object]) -> None:
    landed, drives = [], []
    for seed in RATE_SEEDS:
        cam = syn.SynthCamera(curve, seed=seed, **opts)  # type: ignore[arg-type]
        out = _run(cam)
        assert isinstance(out.end, Done), (seed, out.end)
        assert _last_drive(out.commands).direction == "far"  # the final approach, always from near
        assert cam.zoom == 1  # the view is as it was
        assert out.end.metrics["drives"] == cam.drives <= 40
        drives.append(cam.drives)
        if abs(cam.position - focus) <= TOL:
            landed.append(seed)
    assert len(landed) >= MIN_LANDED, sorted(set(RATE_SEEDS) - set(landed))
    # a rare path (a false top, an end stop) takes ~34; crossing the slack (session 9) costs
    # a drive or two (the approach's second leg, a scan back): 16 -> 17 from the far stop
    assert statistics.median(drives) <= 17


MOVING_ROWS = [(row, b) for row in SUCCEEDS for b in ((None,) if "backlash" in row[3] else (None, 0.0, 10.0))]


@pytest.mark.parametrize(
    ("row", "backlash"),
    MOVING_ROWS,
    ids=[f"{row[0]}" + ("" if b is None else f", backlash {b:g}") for row, b in MOVING_ROWS],
)
def test_finds_focus_on_the_move(
    row: tuple[str, syn.Curve, float, dict[str, object]], backlash: float | None
) -> None:
    """The same rows with a motor that moves in time and frames placed along each move
    (``travel``), as a node gives them: the coarse climb glides (level-3 drives back to back,
    every frame scored) and the magnified scan runs through the peak without stopping.
    Each row lands as often as the search that stops for every sample, on three lenses."""
    label, curve, focus, opts = row
    if backlash is not None:
        opts = {**opts, "backlash": backlash}
    landed, glided, moved = [], 0, 0
    for seed in RATE_SEEDS:
        cam = syn.SynthCamera(curve, seed=seed, moving=True, **opts)  # type: ignore[arg-type]
        out = _run(cam)
        assert isinstance(out.end, Done), (seed, out.end)
        assert _last_drive(out.commands).direction == "far"
        assert cam.zoom == 1
        glided += out.end.metrics["glide"] == 1.0
        moved += out.end.metrics["moving"] == 1.0
        if abs(cam.position - focus) <= TOL:
            landed.append(seed)
    assert len(landed) >= MIN_LANDED, sorted(set(RATE_SEEDS) - set(landed))
    if label == "noisy":  # 3 % frames: step by step, averaging; three frames' estimate of
        # the noise comes out under 1 % now and then, and a few runs glide all the same
        assert moved == 0 and glided <= 12
    elif label == "no zoom on this body":  # a glide, and the usual fine stage at 1x
        assert moved == 0 and glided >= 35
    else:  # the scan on the move lands most runs; with 10 units of slack (against the
        # prior's 4) it sees too little of the rise more often, and the usual scan takes over
        assert glided >= 35 and moved >= (5 if "backlash" in label or backlash == 10.0 else 20), (
            glided,
            moved,
        )


LAG_ROWS = [
    row for row in SUCCEEDS if row[0] in ("clean", "clean, from far", "at focus already", "many skips")
]


@pytest.mark.parametrize("lag", [0.0, 0.08])
@pytest.mark.parametrize(("label", "curve", "focus", "opts"), LAG_ROWS, ids=[r[0] for r in LAG_ROWS])
def test_frames_that_lag_otherwise_than_the_node_says(
    label: str, curve: syn.Curve, focus: float, opts: dict[str, object], lag: float
) -> None:
    """A body whose frames show the lens 0 or 80 ms before their moment, where the node's
    model says 40: every frame on the move is placed 7.5 steps off at level-3 speed.  The
    settled sample where the moving scan ends measures that shift (``lag_shift``: -7.5 for
    a far scan when the frames lag less, the other sign for a near scan or a longer lag),
    or the reading point keeps its distance from the top; either way the rows land."""
    landed, shifts = 0, []
    for seed in RATE_SEEDS:
        cam = syn.SynthCamera(curve, seed=seed, moving=True, lag=lag, **opts)  # type: ignore[arg-type]
        out = _run(cam)
        assert isinstance(out.end, Done), (seed, out.end)
        landed += abs(cam.position - focus) <= TOL
        if "lag_shift" in out.end.metrics:
            shifts.append(abs(out.end.metrics["lag_shift"]))
    assert landed >= 37, landed
    if lag == 0.0:  # the frames lag less: the shift shows, and it is about 7.5 steps
        assert len(shifts) >= 25 and 6.0 <= statistics.median(shifts) <= 9.5, shifts


def test_a_glide_top_between_frames_far_apart_is_scanned_again() -> None:
    """The synthetic node reads no frame while it sends a drive (0.1 s a command), so a
    magnified glide loses two or three frames at each of its level-3 drives: 20 steps with
    none.  Where that gap lies at the top or beside it (within ``glide_gap_reach``), the
    glide's frames are no fit: the moving scan runs through the top again.  Without the
    rule, a start at focus with frames lagging 80 ms lands past it in 17 runs of 40."""
    row = next(r for r in SUCCEEDS if r[0] == "at focus already")
    _, curve, focus, opts = row
    landed = {True: 0, False: 0}
    for rule in (True, False):
        for seed in RATE_SEEDS:
            cam = syn.SynthCamera(curve, seed=seed, moving=True, lag=0.08, **opts)  # type: ignore[arg-type]
            out = _run(cam, **({} if rule else {"glide_gap": 1e9}))
            assert isinstance(out.end, Done), (seed, out.end)
            landed[rule] += abs(cam.position - focus) <= TOL
    assert landed[True] >= 37 and landed[False] <= 30, landed


def test_a_reading_after_a_moving_scan_averages_the_frames_its_noise_asks_for() -> None:
    """A moving scan's frames are single, so its fit says nothing of a frame's noise: the
    reading's first frames at rest tell it, and the reading averages more of them until its
    error (the noise over the fitted log-slope there) is within ``reading_topup_aim`` (0.8
    steps), at most ``reading_frames``.  A magnified curve 100 steps wide with 0.6 % noise
    asks for 4 to 24; without the top-up each reading is the 3 frames that told the noise,
    and lands less often.  Quiet frames keep to those 3."""
    curve = syn.lorentz(420.0, widths={(5, 4): 100.0})
    taken: dict[bool, list[int]] = {True: [], False: []}
    landed = {True: 0, False: 0}
    for topup in (True, False):
        for seed in RATE_SEEDS:
            cam = syn.SynthCamera(curve, seed=seed, start=150.0, moving=True, noise=0.006)
            out = _run(cam, **({} if topup else {"reading_topup_aim": 100.0}))
            assert isinstance(out.end, Done), (seed, out.end)
            if out.end.metrics["moving"] == 1.0:
                taken[topup].append(int(out.end.metrics["reading_averaged"]))
                landed[topup] += abs(cam.position - 420.0) <= TOL
    assert len(taken[True]) >= 5 and min(taken[True]) >= 4 and set(taken[False]) == {3}, taken
    assert landed[True] > landed[False], landed
    quiet = [
        _run(syn.SynthCamera(curve, seed=seed, start=150.0, moving=True, noise=0.0005)) for seed in range(12)
    ]
    assert {int(o.end.metrics["reading_averaged"]) for o in quiet if o.end.metrics["moving"] == 1.0} == {3}


def test_frames_without_travel_are_searched_step_by_step() -> None:
    """An older node places no frame along a move: the search stops for every sample."""
    out = _run(syn.SynthCamera(syn.lorentz(420.0), start=150.0))
    assert isinstance(out.end, Done)
    assert (out.end.metrics["glide"], out.end.metrics["moving"]) == (0.0, 0.0)


OTHER_LENSES = [(row, b) for row in SUCCEEDS if "backlash" not in row[3] for b in (0.0, 10.0)]


@pytest.mark.parametrize(
    ("row", "backlash"), OTHER_LENSES, ids=[f"{row[0]}, backlash {b:g}" for row, b in OTHER_LENSES]
)
def test_finds_focus_whatever_the_backlash(
    row: tuple[str, syn.Curve, float, dict[str, object]], backlash: float
) -> None:
    """The same rows on lenses whose slack is not the prior (4): none, and 10.  The search
    crosses the slack (``cross_slack``, 12.8) rather than trusting the prior, so each row
    lands as often as on the prior's lens.  Leaning on the prior (``cross_slack`` = 0), the
    row "clean, from far" landed 2 of these 40 runs with no backlash and 11 with 10."""
    _, curve, focus, opts = row
    landed = []
    for seed in RATE_SEEDS:
        cam = syn.SynthCamera(curve, seed=seed, **{**opts, "backlash": backlash})  # type: ignore[arg-type]
        out = _run(cam)
        assert isinstance(out.end, Done), (seed, out.end)
        assert _last_drive(out.commands).direction == "far"
        if abs(cam.position - focus) <= TOL:
            landed.append(seed)
    assert len(landed) >= MIN_LANDED, sorted(set(RATE_SEEDS) - set(landed))


def _random_runs(n: int) -> list[tuple[str, float, float, int, float, float]]:
    """(curve kind, focus, start, seed, backlash, noise), drawn once with a fixed seed."""
    rnd = random.Random(20261126)
    kinds = ("lorentz", "lorentz", "double", "dim", "flat")
    return [
        (
            rnd.choice(kinds),
            rnd.uniform(20.0, 780.0),
            float(rnd.randint(0, 800)),
            rnd.randint(0, 999),
            rnd.choice((0.0, 4.0, 10.0)),
            rnd.choice((0.005, 0.005, 0.03)),
        )
        for _ in range(n)
    ]


def test_any_start_lens_and_curve_ends_in_done_or_failed() -> None:
    """A thousand drawn runs: peaks anywhere (near the end stops too), double peaks, dim and
    flat curves, any start, lenses with 0, 4 or 10 units of slack.  Every one ends with Done
    or Failed, never an exception and never a drive after the end.  (Before session 10 a
    start by the near end stop could overflow the coarse stage's Gaussian fit: 1 in ~1000.)"""
    ends: dict[str, int] = {"done": 0, "failed": 0}
    overflowed = ("lorentz", 420.0, 100.0, 83, 0.0, 0.005)  # the run that found the overflow
    for kind, focus, start, seed, backlash, noise in [overflowed, *_random_runs(1000)]:
        curve = {
            "lorentz": syn.lorentz(focus),
            "double": syn.double_peak(focus, 800.0 - focus, 0.6),
            "dim": _dim(focus),
            "flat": syn.flat(),
        }[kind]
        # every other run on the move (frames placed along each move: the glide, the moving scan)
        cam = syn.SynthCamera(
            curve, seed=seed, start=start, backlash=backlash, noise=noise, moving=seed % 2 == 0
        )
        out = _run(cam)
        assert isinstance(out.end, Done | Failed), (kind, focus, start, seed, backlash)
        assert out.commands[-1] is out.end
        ends["done" if isinstance(out.end, Done) else "failed"] += 1
    assert ends["done"] > 500 and ends["failed"] > 100, ends


def test_the_fine_scan_goes_back_rather_than_turning_round() -> None:
    """The coarse stage stops past the peak, so the fine scan's first sample is its best.  On
    a lens with 10 units of slack the scan does not reverse onto the curve (its samples
    would then be 10 - 4 units apart from the first ones): it goes back past where it began,
    in level-2 drives, and samples moving far again, filling the gap to what it has; every
    reversal is paired with one of the same commanded length."""
    cam = syn.SynthCamera(syn.lorentz(420.0), seed=1, start=150.0, backlash=10.0)
    out = _run(cam)
    assert isinstance(out.end, Done) and out.end.metrics["shifts"] == 2.0
    assert abs(cam.position - 420.0) <= TOL
    moves = [c for c in out.commands if isinstance(c, (Drive, Zoom))]
    i = moves.index(Zoom(5, (0.5, 0.5)))
    far2, back = Drive("far", 2, 2), Drive("near", 2, 8)
    assert moves[i + 1 : i + 14] == [
        Drive("far", 2, 1),  # to the scan's start: the first sample
        far2,  # the second, lower: the first is the best
        back,  # so back two steps before where the scan began, and the take-up ...
        far2,  # ... far, which crosses the slack whatever it is: a sample
        far2,  # a sample; the new first one is the best again
        back,  # back again
        far2,
        far2,  # on far, filling the gap to the first samples
        far2,
        Drive("near", 2, 3),  # the approach: near past the guard point, far back by 12.8
        far2,
        Drive("far", 2, 1),  # and on far by the reading
        Drive("far", 1, 4),
    ]


@pytest.mark.parametrize("backlash", [0.0, 4.0, 10.0])
def test_a_reading_measures_the_lens_slack(backlash: float) -> None:
    """After a near scan the way to the reading point reverses once, so the reading says how
    much slack that reversal crossed: ``slack`` in the metrics (reported, not used).  From
    150 to focus at 420 (the "clean" row) 34 of 40 runs measure it; their median is the
    lens's own, each within about 2.5 units."""
    est = []
    for seed in RATE_SEEDS:
        cam = syn.SynthCamera(syn.lorentz(420.0), seed=seed, start=150.0, backlash=backlash)
        out = _run(cam)
        if "slack" in out.end.metrics:
            est.append(out.end.metrics["slack"])
    assert len(est) >= 30
    assert abs(statistics.median(est) - backlash) <= 1.0, sorted(est)
    assert all(abs(e - backlash) <= 2.5 for e in est), sorted(est)


def test_leaning_on_the_prior_misses_on_another_lens() -> None:
    """Why the slack is crossed: with ``cross_slack`` = 0 the last drive after a far scan
    adds the prior's 4 units, so a lens without backlash overshoots (from 720 to focus at
    300, the fine scan runs far)."""
    landed = 0
    for seed in RATE_SEEDS:
        cam = syn.SynthCamera(syn.lorentz(300.0), seed=seed, start=720.0, backlash=0.0)
        _run(cam, cross_slack=0.0)
        landed += abs(cam.position - 300.0) <= TOL
    assert landed <= 10


def test_uses_magnification_for_the_fine_stage() -> None:
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0)
    out = _run(cam)
    zooms = [c for c in out.commands if isinstance(c, Zoom)]
    assert zooms[0] == Zoom(5, (0.5, 0.5)) and zooms[-1] == Zoom(1)


def test_flat_fails_and_returns_to_start() -> None:
    cam = syn.SynthCamera(syn.flat(), start=300.0)
    out = _run(cam)
    assert isinstance(out.end, Failed) and out.end.reason == "flat"
    assert abs(cam.position - 300.0) < 25.0  # nominal dead reckoning over ~400 steps of moves
    assert cam.zoom == 1


@pytest.mark.parametrize("seed", range(4))
def test_double_peak_lands_on_a_peak_or_fails(seed: int) -> None:
    cam = syn.SynthCamera(syn.double_peak(300.0, 520.0, 0.6), start=420.0, seed=seed)
    out = _run(cam)
    if isinstance(out.end, Done):
        assert min(abs(cam.position - 300.0), abs(cam.position - 520.0)) <= TOL
    else:
        assert abs(cam.position - 420.0) < 25.0


@pytest.mark.parametrize(
    ("at", "flat_5x", "says"),
    [
        # Past the far end stop.  Since session 7 a coarse no_peak looks again magnified,
        # and says what it saw: a magnified curve still rising to the end stop ...
        (900.0, False, "even magnified"),
        (805.0, False, "even magnified"),  # the last samples repeat the stop's (clipped)
        # ... or one too flat to tell, which leaves the 1x verdict standing.
        (900.0, True, "(at 1x; magnified, flat)"),
    ],
)
def test_peak_beyond_the_travel_fails_honestly(at: float, flat_5x: bool, says: str) -> None:
    cam = syn.SynthCamera(syn.lorentz(at, widths={(5, 8): 1e5} if flat_5x else None), start=500.0)
    out = _run(cam)
    assert isinstance(out.end, Failed) and out.end.reason == "no_peak", out.end
    assert out.end.detail.endswith(says), out.end


def test_poor_fit_fails_and_returns() -> None:
    # A comb: the fine view sees a ragged curve that no peak model fits.
    base = syn.lorentz(420.0)

    def ragged(p: float, zoom: int, scale: int) -> float:
        return base(p, zoom, scale) * (3.0 if zoom > 1 and int(p // 3) % 2 else 1.0)

    cam = syn.SynthCamera(ragged, start=200.0)
    out = _run(cam)
    assert isinstance(out.end, Failed) and out.end.reason == "poor_fit"
    assert abs(cam.position - 200.0) < 25.0 and cam.zoom == 1


def test_frames_overlapping_a_move_are_never_scored() -> None:
    # Every frame is stamped unsettled for a while after each move: the search must not
    # score any of them, so it must still land on focus.
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0)
    s = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"])
    scored: list[Observation] = []
    real_feed = s.feed

    def spy(o: Observation, now: float) -> list[object]:
        before = s.frames_used + len(s._acc)
        res = real_feed(o, now)
        if s.frames_used + len(s._acc) > before or s.finished:
            scored.append(o)
        return res  # type: ignore[return-value]

    s.feed = spy  # type: ignore[method-assign]
    out = syn.run(s, cam)
    assert isinstance(out.end, Done)
    assert scored and all(o.settled for o in scored)
    assert s.frames_ignored > 0


def test_deterministic() -> None:
    a = _run(syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=5))
    b = _run(syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=5))
    assert a.commands == b.commands and a.camera.position == b.camera.position


def test_construction_checks() -> None:
    with pytest.raises(ValueError, match="level_sizes"):
        Default(level_sizes=(1.0, 6.4))


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"cross_slack": math.nan}, "cross_slack must be a finite number"),
        ({"cross_slack": "12.8"}, "cross_slack must be a finite number"),
        ({"max_shifts": 1.5}, "max_shifts must be a whole number"),
        ({"predict": 1}, "predict must be true or false"),
        ({"level_sizes": "1,6.4,47"}, "level_sizes must be a list"),
    ],
)
def test_create_strategy_checks_option_types(options: dict[str, object], says: str) -> None:
    """An option of the wrong type used to be taken and fail in the middle of a search."""
    with pytest.raises(ValueError, match=says):
        create_strategy("default", **options)
    assert isinstance(
        create_strategy("default", cross_slack=0, max_shifts=3, level_sizes=[1, 6.4, 47]), Default
    )


def _dim(focus: float) -> syn.Curve:
    """Nothing but noise at 1x; magnified, the peak stands out."""
    sharp = syn.lorentz(focus)

    def curve(p: float, zoom: int, scale: int) -> float:
        return 1.0 if zoom == 1 else sharp(p, zoom, scale)

    return curve


def test_dim_light_fails_flat_without_the_fallback() -> None:
    cam = syn.SynthCamera(_dim(430.0), start=600.0, noise=0.03)
    out = _run(cam, dim_scale=0)
    assert isinstance(out.end, Failed) and out.end.reason == "flat"
    assert cam.zoom == 1


@pytest.mark.parametrize("seed", range(6))
def test_dim_light_fallback_looks_again_magnified(seed: int) -> None:
    # On by default (dim_scale=8): magnified, decoded at 1/8, from the near end stop,
    # sweeping far; the fine scan in level-2 steps averaging dim_frames frames per sample.
    # Since session 14 it lands by a reading when one can be made good to half a step
    # within dim_reading_frames frames (here all six seeds: -0.7 to +2.6 steps off), and
    # blind otherwise (below).
    cam = syn.SynthCamera(_dim(430.0), start=600.0, noise=0.03, seed=seed)
    s, out = _run_keeping(cam)
    assert isinstance(out.end, Done), out.end
    assert abs(cam.position - 430.0) <= TOL and cam.zoom == 1
    assert out.end.metrics["dim"] == 1.0 and out.end.metrics["blind"] == 0.0
    # The fine scan ran near, back from the sweep; the reading's last drive is far.
    assert isinstance(s, Default) and s.scan_dir == "near"
    assert _last_drive(out.commands).direction == "far"


@pytest.mark.parametrize("seed", range(6))
def test_dim_light_fallback_lands_blind_without_averaged_readings(seed: int) -> None:
    # dim_reading_frames=0: always a blind landing, as before session 14 (seeds 0-5 land
    # -0.4 to +2.6 off).
    cam = syn.SynthCamera(_dim(430.0), start=600.0, noise=0.03, seed=seed)
    s, out = _run_keeping(cam, dim_reading_frames=0)
    assert isinstance(out.end, Done), out.end
    assert abs(cam.position - 430.0) <= TOL
    assert out.end.metrics["blind"] == 1.0
    # A blind landing ends moving the way the samples were taken, its reversals in pairs
    # (the slack cancels whatever it is); the fine scan here ran near, back from the sweep.
    assert isinstance(s, Default) and s.scan_dir == "near"
    assert _last_drive(out.commands).direction == s.scan_dir and cam.zoom == 1


def _false_hump(height: float, focus: float = 430.0) -> syn.Curve:
    """At 1x a false, broad hump at 300 that the coarse climb brackets; magnified, nothing
    at 1/4 and the true peak at ``focus`` at 1/8."""
    sharp = syn.lorentz(focus)

    def curve(p: float, zoom: int, scale: int) -> float:
        if zoom == 1:
            return 1.0 + height * math.exp(-(((p - 300.0) / 150.0) ** 2))
        return sharp(p, zoom, scale) if scale == 8 else 1.0

    return curve


def test_a_noisy_failed_fine_scan_looks_again_magnified() -> None:
    # The noisy 1x curve has a false hump the coarse climb brackets, so the 5x scan at 1/4
    # finds nothing; with noisy 1x frames that is the cue to try the dim fallback once.
    cam = syn.SynthCamera(_false_hump(3.0), start=600.0, noise=0.02, seed=3)
    s, out = _run_keeping(cam)
    assert isinstance(s, Default) and s.coarse_center is not None  # the fine stage ran first
    assert isinstance(out.end, Done), out.end
    assert out.end.metrics["dim"] == 1.0
    # The dim look lands blind after a near scan: far past the centre and back near, so the
    # slack cancels, but the lens's 4 % asymmetry over that round trip does not.  Over seeds
    # 0-9 this lands 7 of 10 within tolerance, all within 4.4 steps (10 of 10 with the prior
    # told the truth, 0-1 of 10 on lenses with 0 or 10 units of slack; 5-8 crossing it).
    assert abs(cam.position - 430.0) <= 2 * TOL


def _faint(focus: float) -> syn.Curve:
    """A small, faint region: at 1x its few coarse pixels are swamped by bright surroundings
    bleeding in far out of focus, so the measure rises towards the near end stop (as
    `moto door` did, 500 steps from its focus); magnified, the peak stands out."""
    sharp = syn.lorentz(focus)

    def curve(p: float, zoom: int, scale: int) -> float:
        return 1.0 + 0.3 * math.exp(-p / 150.0) if zoom == 1 else sharp(p, zoom, scale)

    return curve


@pytest.mark.parametrize("seed", range(6))
def test_a_quiet_dim_look_hands_over_to_the_usual_fine_stage(seed: int) -> None:
    # The coarse stage ends at the near stop (no_peak) and looks again magnified.  Its frames
    # are quiet, so the curve was lost to the region, not to low light: the fine stage
    # decodes at 1/4 and the landing takes a reading, as on a clean curve.
    cam = syn.SynthCamera(_faint(600.0), start=300.0, noise=0.002, seed=seed)
    s, out = _run_keeping(cam)
    assert isinstance(out.end, Done), out.end
    assert out.end.metrics["dim"] == 1.0 and out.end.metrics["blind"] == 0.0
    assert isinstance(s, Default) and s.fine_scale == 4
    assert abs(cam.position - 600.0) <= TOL
    assert _last_drive(out.commands).direction == "far" and cam.zoom == 1


def test_a_quiet_dim_look_stays_in_the_dim_regime_when_asked() -> None:
    # dim_quiet_fine=False: the 1/8 scan of low light; its landing reads the image (its
    # quiet frames make a good reading), or goes blind with dim_reading_frames=0 too.
    for blind, opts in ((0.0, {}), (1.0, {"dim_reading_frames": 0})):
        cam = syn.SynthCamera(_faint(600.0), start=300.0, noise=0.002, seed=0)
        s, out = _run_keeping(cam, dim_quiet_fine=False, **opts)
        assert isinstance(out.end, Done), out.end
        assert out.end.metrics["dim"] == 1.0 and out.end.metrics["blind"] == blind
        assert isinstance(s, Default) and s.fine_scale == 8
        assert abs(cam.position - 600.0) <= TOL


def test_a_dim_look_after_a_failed_fine_stage_keeps_its_own_scan_even_when_quiet() -> None:
    # The 1x curve is shallow with a false hump; the 5x view at 1/4 shows nothing there, so
    # the fine stage fails and the dim look follows.  The usual fine stage has just failed
    # on this region, so the look keeps its own 1/8 scan, quiet frames or not.  (A
    # shallow hump: with quiet 1x frames only a shallow curve sends a failed fine stage there.)
    # Its quiet frames read well, so it lands by a reading (1.6 steps off; blind, with
    # dim_reading_frames=0 as before session 14, 2.0).
    cam = syn.SynthCamera(_false_hump(0.2), start=420.0, noise=0.002, seed=3)
    s, out = _run_keeping(cam)
    assert isinstance(s, Default) and s.coarse_center is not None  # the fine stage ran first
    assert isinstance(out.end, Done), out.end
    assert out.end.metrics["dim"] == 1.0 and out.end.metrics["blind"] == 0.0
    assert s.fine_scale == 8 and abs(cam.position - 430.0) <= TOL


def test_a_noisy_reading_averages_frames_instead_of_landing_blind() -> None:
    # At 5 % noise one sample's reading would be off by more than ``max_reading_error``.
    # Rather than land blind by the ledger, the search averages as many frames per reading
    # as bring its error to ``reading_aim`` (here 17, at most ``reading_frames``).  This
    # seed lands blind 2.9 steps off, by the averaged reading 1.5.
    cam = syn.SynthCamera(syn.lorentz(420.0), start=650.0, noise=0.05, seed=11)
    out = _run(cam)
    assert isinstance(out.end, Done) and out.end.metrics["blind"] == 0.0
    n = out.end.metrics["reading_frames"]
    assert 3 < n <= 24 and abs(cam.position - 420.0) <= TOL
    blind_cam = syn.SynthCamera(syn.lorentz(420.0), start=650.0, noise=0.05, seed=11)
    blind = _run(blind_cam, reading_aim=0.0)
    assert isinstance(blind.end, Done) and blind.end.metrics["blind"] == 1.0
    assert blind.end.metrics["reading_frames"] == 0.0 and abs(blind_cam.position - 420.0) > TOL
    # Up to the fit both runs are the same; the reading then takes its n frames.
    assert out.end.metrics["frames"] >= blind.end.metrics["frames"] + n


def test_a_clean_curve_lands_by_reading_not_blind() -> None:
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=2)
    out = _run(cam)
    assert isinstance(out.end, Done) and out.end.metrics["blind"] == 0.0 and out.end.metrics["dim"] == 0.0
    assert abs(cam.position - 420.0) <= TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_the_last_drive_never_reverses(seed: int) -> None:
    # Whichever way the fine scan ran, the drive that lands follows a far move: the slack
    # is taken up before it (only the reading move may reverse).
    for start in (150.0, 720.0):
        cam = syn.SynthCamera(syn.lorentz(420.0), start=start, seed=seed)
        out = _run(cam)
        assert isinstance(out.end, Done)
        drives = [c for c in out.commands if isinstance(c, Drive)]
        assert drives[-1].direction == "far"
        assert abs(cam.position - 420.0) <= TOL


def _sidelobe(focus: float) -> syn.Curve:
    """A chart far out of focus: at 1x a false hump 340 steps off (the disk's sidelobe
    passing over a periodic pattern, as bench pipeline's chart showed from a start at 654);
    magnified, the true peak rises steeply toward focus."""
    sharp = syn.lorentz(focus, floor=0.005, widths={(1, 8): 60.0})

    def curve(p: float, zoom: int, scale: int) -> float:
        hump = 0.1 / (1.0 + ((p - (focus + 340.0)) / 40.0) ** 2) if zoom == 1 else 0.0
        return sharp(p, zoom, scale) + hump

    return curve


@pytest.mark.parametrize("seed", SEEDS)
def test_a_false_coarse_top_resumes_the_climb_the_way_the_fine_scan_rose(seed: int) -> None:
    cam = syn.SynthCamera(_sidelobe(400.0), start=654.0, seed=seed)
    s = create_strategy("default", zoom_levels=cam.zoom_levels, capabilities=["zoom"])
    out = syn.run(s, cam)
    assert isinstance(out.end, Done), out.end
    assert abs(cam.position - 400.0) <= TOL
    assert out.end.metrics["resumed"] == 1.0 and out.end.metrics["dim"] == 0.0
    assert _last_drive(out.commands).direction == "far" and cam.zoom == 1
    # the first fine stage ran around the false top, far from focus
    zooms = [c for c in out.commands if isinstance(c, Zoom)]
    assert [z.level for z in zooms] == [5, 1, 5, 1]


def test_without_resuming_a_false_coarse_top_fails_and_returns() -> None:
    # (Here the 1x curve is shallow enough for the dim fallback to rescue the run, after a
    # sweep of the whole travel; on bench pipeline's chart it was not, and the run failed.)
    cam = syn.SynthCamera(_sidelobe(400.0), start=654.0, seed=0)
    out = _run(cam, resume_rise=0.0, dim_scale=0)
    assert isinstance(out.end, Failed) and out.end.reason == "no_peak", out.end
    assert cam.zoom == 1  # (the way back is by the ledger, which a clip at the far stop upset)


# ----------------------------------------------------------------- regions wider than the magnified view

WIDE = (0.1, 0.1, 0.8, 0.8)


def _cup_on_a_saucer(roi: tuple[float, float, float, float] = WIDE, cup: float = 500.0) -> syn.Tiles:
    """A region whose centre (the frame's middle 0.2 x 0.2: a cup's rim, at 500, with half
    as much detail again per tile) lies at another depth than the rest of it (a saucer, at
    470): most of its detail is the saucer's, so its median depth is 470.  A magnified view
    around the region's centre sees only the cup."""
    from controller.search._types import view_window

    def tiles(p: float, zoom: int, center: tuple[float, float] | None, n: int) -> list[float]:
        wx, wy, ww, wh = view_window(zoom, center or (0.5, 0.5))
        x0, y0 = max(roi[0], wx), max(roi[1], wy)
        x1, y1 = min(roi[0] + roi[2], wx + ww), min(roi[1] + roi[3], wy + wh)
        width = 25.0 if zoom == 1 else 8.0
        out = []
        for k in range(n * n):
            i, j = divmod(k, n)
            cx, cy = x0 + (j + 0.5) * (x1 - x0) / n, y0 + (i + 0.5) * (y1 - y0) / n
            at_cup = 0.4 <= cx <= 0.6 and 0.4 <= cy <= 0.6
            focus, weight = (cup, 1.5) if at_cup else (470.0, 1.0)
            u = (p - focus) / width
            out.append(weight * (0.02 + 1.0 / (1.0 + u * u)) / (n * n))
        return out

    return tiles


def _wide(cam: syn.SynthCamera, **options: object) -> syn.Outcome:
    s = create_strategy("default", zoom_levels=cam.zoom_levels, capabilities=["zoom"], roi=WIDE, **options)
    return syn.run(s, cam)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_wide_region_lands_on_the_median_depth_of_its_detail(seed: int) -> None:
    cam = syn.SynthCamera(syn.flat(), start=250.0, seed=seed, tiles=_cup_on_a_saucer())
    out = _wide(cam)
    assert isinstance(out.end, Done), out.end
    assert abs(cam.position - 470.0) <= TOL, cam.position
    m = out.end.metrics
    assert m["refocused"] == 1.0 and m["depth_offset"] < -20  # 1x tiles said 470, the cup 500
    # the second magnified look was centred off the cup, on the saucer
    zooms = [c for c in out.commands if isinstance(c, Zoom) and c.level == 5]
    assert len(zooms) == 2 and zooms[1].center is not None
    assert not (0.4 <= zooms[1].center[0] <= 0.6 and 0.4 <= zooms[1].center[1] <= 0.6)
    assert _last_drive(out.commands).direction == "far" and cam.zoom == 1


def test_without_depth_tiles_a_wide_region_lands_on_its_centre() -> None:
    cam = syn.SynthCamera(syn.flat(), start=250.0, seed=0, tiles=_cup_on_a_saucer())
    out = _wide(cam, depth_tiles=0)
    assert isinstance(out.end, Done) and abs(cam.position - 500.0) <= TOL
    assert "refocused" not in out.end.metrics


def test_a_wide_region_at_one_depth_keeps_the_magnified_landing() -> None:
    # the cup at the saucer's depth: what the 1x tiles find agrees with the magnified
    # peak, so the search lands by the magnified fit (no second magnified look)
    cam = syn.SynthCamera(syn.flat(), start=250.0, seed=1, tiles=_cup_on_a_saucer(cup=470.0))
    out = _wide(cam)
    assert isinstance(out.end, Done) and abs(cam.position - 470.0) <= TOL
    assert out.end.metrics.get("refocused", 0.0) == 0.0
    assert abs(out.end.metrics.get("depth_offset", 0.0)) <= 3.0


@pytest.mark.parametrize("drift", [-30.0, 0.0, 25.0])
def test_a_wide_region_refocuses_on_the_view_it_landed_by(drift: float) -> None:
    # At one depth, the whole search lands by the magnified view of the region's centre
    # (its 1x tiles put all of it at that depth): that view's peak is what it remembers.
    # A refocus magnifies that view at once, with no coarse climb and no 1x depth scan.
    first = _wide(syn.SynthCamera(syn.flat(), start=250.0, seed=1, tiles=_cup_on_a_saucer(cup=470.0)))
    assert isinstance(first.end, Done)
    memory = recall_options(first.end.metrics)
    assert set(memory) == {"recall_peak", "recall_coarse"}, first.end.metrics
    cam = syn.SynthCamera(syn.flat(), start=470.0 + drift, seed=2, tiles=_cup_on_a_saucer(cup=470.0))
    s = create_strategy("refocus", zoom_levels=cam.zoom_levels, capabilities=["zoom"], roi=WIDE, **memory)
    out = syn.run(s, cam)
    assert isinstance(out.end, Done) and abs(cam.position - 470.0) <= TOL, (cam.position, out.end)
    m = out.end.metrics
    assert m["recall"] == 1.0 and m["coarse_samples"] == 0.0 and "looked_again" not in m, m
    assert [z.level for z in out.commands if isinstance(z, Zoom)] == [5, 1]  # no 1x depth scan
    full = _wide(syn.SynthCamera(syn.flat(), start=470.0 + drift, seed=2, tiles=_cup_on_a_saucer(cup=470.0)))
    assert isinstance(full.end, Done) and m["seconds"] < full.end.metrics["seconds"]


def test_a_landing_remembers_its_1x_measure_where_the_search_saw_none() -> None:
    """A magnified glide sees no 1x frame near focus: the shell scores the first settled
    frame back at 1x after the landing, and that is the 1x top a refocus compares its
    first frame with.  A 1x top the search had stays; a dim look's memory takes none."""
    seen = recall_options({"memory_peak": 1.2})
    assert seen == {"recall_peak": 1.2}
    assert with_landing_top(seen, 3.5) == {"recall_peak": 1.2, "recall_coarse": 3.5}
    had = recall_options({"memory_peak": 1.2, "memory_coarse": 3.0})
    assert with_landing_top(had, 3.5) == had
    dim = recall_options({"memory_peak": 0.05, "memory_dim": 1.0})
    assert with_landing_top(dim, 3.5) == dim
    assert with_landing_top(seen, None) == seen and with_landing_top(seen, 0.0) == seen
    assert with_landing_top({}, 3.5) == {}  # no memory at all: nothing to add to


def test_a_wide_region_landed_on_a_part_of_it_leaves_no_memory() -> None:
    # The depth stage moved the magnified view off the region's centre and measured only
    # the tiles at the median depth: a refocus would have to choose that part again.
    out = _wide(syn.SynthCamera(syn.flat(), start=250.0, seed=0, tiles=_cup_on_a_saucer()))
    assert isinstance(out.end, Done) and out.end.metrics["refocused"] == 1.0
    assert recall_options(out.end.metrics) == {}


# (median, low, high, beyond_low, beyond_high) of the fine scan's tiles -> spans depth?
SPANS = [
    ("one plane", (400.0, 399.5, 400.8, 0.0, 0.0), False),
    ("noisy plane", (400.0, 396.0, 409.0, 0.0, 0.1), False),
    ("wide spread", (400.0, 390.0, 405.0, 0.0, 0.0), True),
    ("a little beyond the near end", (400.0, 397.0, 404.0, 0.05, 0.0), False),
    ("a tenth beyond the near end", (400.0, -math.inf, 404.0, 0.1, 0.0), True),  # spread: inf
    ("a little beyond both ends", (400.0, 398.0, 402.0, 0.08, 0.08), True),
    ("a fifth beyond", (400.0, 396.0, math.inf, 0.0, 0.2), True),
]


@pytest.mark.parametrize(("label", "est", "spans"), SPANS, ids=[r[0] for r in SPANS])
def test_spans_depth_from_the_fine_tiles(label: str, est: tuple[float, ...], spans: bool) -> None:
    from controller.search.depth import DepthEstimate

    s = Default()
    assert not s.spans_depth  # no tiles, nothing to say
    s.fine_depth = DepthEstimate(*est, tiles=16)
    assert s.spans_depth is spans


def test_spans_depth_is_not_said_from_noisy_frames() -> None:
    # In low light (1 % noise per frame at the fine view and scale) tiles' peaks scatter as
    # far as a real spread of depth: the search says nothing rather than cry wolf.
    from controller.search.depth import DepthEstimate

    s = Default(zoom_levels=(1, 5))
    s.fine_depth = DepthEstimate(400.0, -math.inf, math.inf, 0.2, 0.2, tiles=16)
    assert s.spans_depth
    s._noise[(s.fine_zoom, s.fine_scale)] = [0.01]  # as a three-frame sample records it
    assert not s.spans_depth


# The dim sweep's samples (ledger position, measure), the first at the near end stop, and
# which one is its peak when its best lies on a shoulder falling from that stop (the
# sweep has crossed the whole travel with no bracket round its best).
_DOOR = [0.0026, 0.00263, 0.00252, 0.00243, 0.00234, 0.00217, 0.00162, 0.00053, 0.00047]
SHOULDER = [
    ("moto door: a peak beyond the bleed", [*_DOOR, 0.0023, 0.00252, 0.00049, 0.00032], 10),
    ("the highest of two such peaks", [*_DOOR, 0.0012, 0.0004, 0.0023, 0.0003], 11),
    ("falling all the way: focus at the stop", [0.0026, 0.0025, 0.0022, 0.0018, 0.0012, 0.0008], None),
    ("a bump within the noise", [0.0026, 0.0024, 0.0020, 0.00204, 0.0019, 0.0018], None),
    ("nothing lower after the peak", [*_DOOR, 0.0023, 0.00252], None),
    (
        "the best is no shoulder: a lower sample nearer",
        [0.0010, 0.0026, 0.0020, 0.0005, 0.0024, 0.0004],
        None,
    ),
]


@pytest.mark.parametrize(("label", "measures", "peak"), SHOULDER, ids=[c[0] for c in SHOULDER])
def test_the_dim_sweep_finds_a_peak_beyond_the_bleed_by_the_near_stop(
    label: str, measures: list[float], peak: int | None
) -> None:
    s = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"])
    assert isinstance(s, Default)
    s._dim = [(47.0 * i, m) for i, m in enumerate(measures)]
    i_best = max(range(len(measures)), key=lambda i: measures[i])
    # noise unknown: a significant difference is the significance
    assert s._dim_shoulder_peak(i_best, s.climb.significance) == peak


# The 1x samples (ledger position, measure) and a magnified peak: do they deny it?  Noise
# unknown, so "significantly" means by the climb's significance (4 %).
DENIES = [
    # tabletop top strip @120, repeat 3 (session 13): 27 steps far of the peak the curve is
    # lower than 73 steps near of it
    (
        "lower near the peak than farther on the other side",
        [(0, 0.0124), (47, 0.0130), (147, 0.0106)],
        120.0,
        True,
    ),
    ("falls away both ways", [(0, 0.0100), (47, 0.0125), (147, 0.0130)], 120.0, False),
    ("within the significance", [(0, 0.0124), (47, 0.0128), (147, 0.0125)], 120.0, False),
    ("rises away on one side", [(47, 0.012), (94, 0.010), (200, 0.009)], 120.0, True),
    ("the far sample is not half a jump farther", [(100, 0.0130), (147, 0.0106)], 120.0, False),
    ("nothing within 1.5 jumps on the near side", [(0, 0.0124), (300, 0.0130)], 120.0, False),
]


@pytest.mark.parametrize(("label", "samples", "center", "denied"), DENIES, ids=[c[0] for c in DENIES])
def test_the_1x_samples_deny_a_magnified_peak(
    label: str, samples: list[tuple[float, float]], center: float, denied: bool
) -> None:
    s = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"])
    assert isinstance(s, Default)
    s.climb.samples = list(samples)
    assert s._contradicts_coarse(center) is denied
    if denied and label.startswith("lower near"):
        off = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"], check_across=False)
        assert isinstance(off, Default)
        off.climb.samples = list(samples)
        assert not off._contradicts_coarse(center)  # only the check across the peak sees it
        s._resumed = True  # after a resumed climb the check across does not decide
        assert not s._contradicts_coarse(center)


@pytest.mark.parametrize("told", [0.0, 0.04])
def test_a_search_told_the_lens_asymmetry_keeps_its_ledger_true(told: float) -> None:
    # A lens whose far drives travel 4 % further than its near ones, with no jitter, skips
    # or slack, so that the ledger's only error is the asymmetry.  Told it, the search's
    # ledger (where it believes the motor is, relative to the start) matches the motor's
    # true travel to float rounding; not told, it is off by 2 % of every drive, each way.
    cam = syn.SynthCamera(syn.lorentz(430.0), start=120.0, jitter=0.0, skip=0.0, backlash=0.0, asymmetry=0.04)
    s, out = _run_keeping(cam, asymmetry=told)
    assert isinstance(out.end, Done)
    off = abs(s.pos - (cam.position - 120.0))
    if told:
        assert off < 1e-6
        assert abs(cam.position - 430.0) < TOL
    else:
        assert off > 1.0


# ----------------------------------------------------------------- refocus: from a landing remembered


def _remembered(focus: float, seed: int = 0) -> dict[str, float]:
    """What a landing on a lorentz peak at ``focus`` leaves for a refocus (recall_options)."""
    out = _run(syn.SynthCamera(syn.lorentz(focus), start=150.0, seed=seed))
    assert isinstance(out.end, Done) and abs(out.camera.position - focus) <= TOL, out.end
    memory = recall_options(out.end.metrics)
    assert set(memory) == {"recall_peak", "recall_coarse"}, out.end.metrics
    return memory


def _refocus(cam: syn.SynthCamera, memory: dict[str, float], **options: object) -> syn.Outcome:
    s = create_strategy("refocus", zoom_levels=cam.zoom_levels, capabilities=["zoom"], **memory, **options)
    return syn.run(s, cam)


@pytest.mark.parametrize("drift", [-36.0, -12.0, 0.0, 9.0, 33.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_a_refocus_lands_from_a_small_drift_without_the_coarse_climb(drift: float, seed: int) -> None:
    memory = _remembered(420.0)
    cam = syn.SynthCamera(syn.lorentz(420.0), start=420.0 + drift, seed=seed)
    out = _refocus(cam, memory)
    assert isinstance(out.end, Done), out.end
    assert abs(cam.position - 420.0) <= TOL
    assert out.end.metrics["recall"] == 1.0 and out.end.metrics["coarse_samples"] == 0.0
    assert [z.level for z in out.commands if isinstance(z, Zoom)] == [5, 1]  # magnified at once


def test_refocusing_takes_less_time_than_the_whole_search_over_small_drifts() -> None:
    # Virtual time, so deterministic.  One drift on its own may take longer (a drift far
    # ahead of the window's start costs a long scan); over drifts either way it does not.
    memory = _remembered(420.0)
    quick = full = 0.0
    for drift in (-36.0, -12.0, 0.0, 9.0, 33.0):
        for seed in SEEDS:
            a = _refocus(syn.SynthCamera(syn.lorentz(420.0), start=420.0 + drift, seed=seed), memory)
            b = _run(syn.SynthCamera(syn.lorentz(420.0), start=420.0 + drift, seed=seed))
            assert isinstance(a.end, Done) and isinstance(b.end, Done)
            quick += a.end.metrics["seconds"]
            full += b.end.metrics["seconds"]
    assert quick < 0.9 * full, (quick, full)


def test_a_refocus_far_from_focus_goes_straight_to_the_whole_search() -> None:
    # The first frame, at 1x, is far below the remembered 1x top: no magnified scan at all.
    memory = _remembered(420.0)
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=1)
    out = _refocus(cam, memory)
    assert isinstance(out.end, Done) and abs(cam.position - 420.0) <= TOL, out.end
    assert out.end.metrics["recall"] == -1.0
    first_zoom = next(i for i, c in enumerate(out.commands) if isinstance(c, Zoom))
    assert any(isinstance(c, Drive) and c.level == 3 for c in out.commands[:first_zoom])  # climbed first


def test_a_refocus_far_from_focus_without_the_1x_top_falls_back_after_its_scan() -> None:
    # Told only the magnified peak: the scan around the start finds nothing like it, and the
    # search falls back to the whole search from there.
    memory = {"recall_peak": _remembered(420.0)["recall_peak"]}
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=1)
    out = _refocus(cam, memory)
    assert isinstance(out.end, Done) and abs(cam.position - 420.0) <= TOL, out.end
    assert out.end.metrics["recall"] == -1.0
    assert [z.level for z in out.commands if isinstance(z, Zoom)][:2] == [5, 1]  # looked, went back to 1x


def _bump(focus: float, at: float) -> syn.Curve:
    """A peak at ``focus`` and a bump a tenth as high at ``at``, narrow at every scale (so that
    the 1x curve does not tell the bump from the peak by level)."""
    peak, bump = syn.lorentz(focus, floor=0.0), syn.lorentz(at, floor=0.0)
    return lambda p, z, s: 0.05 + peak(p, z, s) + 0.1 * bump(p, z, s)


def test_a_refocus_does_not_report_a_bump_far_from_focus() -> None:
    # Focus is at 420; the lens stands by a small bump at 200.  A magnified scan there fits
    # the bump well, and only its height, a fraction of the remembered peak, gives it away.
    memory = {"recall_peak": _remembered(420.0)["recall_peak"]}
    cam = syn.SynthCamera(_bump(420.0, 200.0), start=205.0, seed=2)
    out = _refocus(cam, memory)
    assert isinstance(out.end, Done) and abs(cam.position - 420.0) <= TOL, out.end
    assert out.end.metrics["recall"] == -1.0
    # without the band it would have landed on the bump
    cam = syn.SynthCamera(_bump(420.0, 200.0), start=205.0, seed=2)
    blind = _refocus(cam, memory, recall_band=1e9)
    assert isinstance(blind.end, Done) and abs(cam.position - 200.0) <= TOL, blind.end
    assert blind.end.metrics["recall"] == 1.0


def test_a_refocus_of_a_changed_scene_runs_the_whole_search() -> None:
    # The remembered peak is three times what this scene's focus gives: not the same scene.
    memory = _remembered(420.0)
    cam = syn.SynthCamera(syn.lorentz(420.0), start=430.0, seed=0)
    out = _refocus(cam, {**memory, "recall_peak": 3 * memory["recall_peak"]})
    assert isinstance(out.end, Done) and abs(cam.position - 420.0) <= TOL, out.end
    assert out.end.metrics["recall"] == -1.0


def test_recall_options_come_from_a_magnified_landing_only() -> None:
    assert recall_options({}) == {}
    assert recall_options({"memory_peak": 0.0}) == {}
    assert recall_options({"memory_peak": 2.0}) == {"recall_peak": 2.0}
    assert recall_options({"memory_peak": 2.0, "memory_coarse": 0.5}) == {
        "recall_peak": 2.0,
        "recall_coarse": 0.5,
    }
    assert recall_options({"memory_peak": 2.0, "memory_dim": 1.0}) == {"recall_peak": 2.0, "recall_dim": True}
    # a body without magnification has no magnified fit to remember
    out = _run(syn.SynthCamera(syn.lorentz(420.0), start=150.0, zoom_levels=(1,)))
    assert isinstance(out.end, Done) and recall_options(out.end.metrics) == {}
    # without a memory, refocus is the whole search, step for step
    a = _run(syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=4))
    s = create_strategy("refocus", zoom_levels=(1, 5, 10), capabilities=["zoom"])
    b = syn.run(s, syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=4))
    assert a.commands == b.commands and isinstance(b.end, Done) and b.end.metrics["recall"] == 0.0
    # ... and so is its failure, which says so too (the shells' "no landing kept" note)
    s = create_strategy("refocus", zoom_levels=(1, 5, 10), capabilities=["zoom"])
    flat = syn.run(s, syn.SynthCamera(syn.flat(), start=150.0, seed=4))
    assert isinstance(flat.end, Failed) and flat.end.metrics["recall"] == 0.0, flat.end


def _dim_remembered(seed: int = 0) -> dict[str, float]:
    """What the dim look's landing on ``_dim(430)`` (3 % noise) leaves for a refocus."""
    out = _run(syn.SynthCamera(_dim(430.0), start=600.0, noise=0.03, seed=seed))
    assert isinstance(out.end, Done) and out.end.metrics["dim"] == 1.0, out.end
    memory = recall_options(out.end.metrics)
    assert set(memory) == {"recall_peak", "recall_dim"} and memory["recall_dim"] is True, out.end.metrics
    return memory


@pytest.mark.parametrize("drift", [-30.0, 0.0, 25.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_a_dim_refocus_scans_as_the_dim_look_did_without_its_sweep(drift: float, seed: int) -> None:
    # In low light the whole search sweeps the travel magnified from the near end stop
    # (20 s on the simulator).  A refocus of a dim landing magnifies at once, scans its
    # window as the dim look's fine stage does (1/8, single level-2 steps, frames averaged)
    # and lands as it does.
    memory = _dim_remembered()
    cam = syn.SynthCamera(_dim(430.0), start=430.0 + drift, noise=0.03, seed=seed)
    s = create_strategy("refocus", zoom_levels=cam.zoom_levels, capabilities=["zoom"], **memory)
    out = syn.run(s, cam)
    assert isinstance(out.end, Done), out.end
    assert abs(cam.position - 430.0) <= TOL, (cam.position, out.end)
    m = out.end.metrics
    assert m["recall"] == 1.0 and m["dim"] == 1.0 and m["coarse_samples"] == 0.0, m
    assert isinstance(s, Default) and s.fine_scale == 8 and s.fine_parts == 1
    assert not any(isinstance(c, Drive) and c.level == 3 and c.count > 2 for c in out.commands)  # no sweep
    full = _run(syn.SynthCamera(_dim(430.0), start=430.0 + drift, noise=0.03, seed=seed))
    assert isinstance(full.end, Done) and m["seconds"] < 0.5 * full.end.metrics["seconds"], (m, full.end)
    # and it leaves the same kind of memory for the next refocus
    assert set(recall_options(m)) == {"recall_peak", "recall_dim"}


def test_a_dim_refocus_far_from_focus_falls_back_to_the_whole_search_and_its_dim_look() -> None:
    # Nothing like the remembered peak in the window: the whole search from there, which
    # takes the dim look of its own (the refocus's dim settings do not leak into it).
    memory = _dim_remembered()
    cam = syn.SynthCamera(_dim(430.0), start=180.0, noise=0.03, seed=1)
    out = _refocus(cam, memory)
    assert isinstance(out.end, Done) and abs(cam.position - 430.0) <= TOL, out.end
    assert out.end.metrics["recall"] == -1.0 and out.end.metrics["dim"] == 1.0
    sweeps = [c for c in out.commands if isinstance(c, Drive) and c.level == 3 and c.count > 2]
    assert sweeps and sweeps[0].direction == "near"  # the dim look's drive to the near end stop


def test_a_quiet_dim_look_leaves_no_memory() -> None:
    # Its fit is the usual fine stage's, but the 1x curve that would check a refocus was
    # lost: a faint region's refocus landed 2.8-4.4 steps off in 6 of 64 runs on the
    # simulator (af-refocus x 8) that the whole search lands.
    out = _run(syn.SynthCamera(_faint(600.0), start=300.0, noise=0.002, seed=0))
    assert isinstance(out.end, Done) and out.end.metrics["dim"] == 1.0, out.end
    assert recall_options(out.end.metrics) == {} and "memory_peak" not in out.end.metrics


def test_refocus_options_are_checked() -> None:
    for bad in ({"recall_peak": -1.0}, {"recall_band": 0.5}, {"recall_window": 0.0}, {"recall_keep": 0}):
        with pytest.raises(ValueError, match="recall"):
            create_strategy("refocus", zoom_levels=(1, 5), capabilities=["zoom"], **bad)


def test_a_peak_too_narrow_for_frames_on_the_move_is_scanned_step_by_step() -> None:
    """A magnified peak 8 steps wide, 4 to 80 % of its top: frames on a level-3 move lie
    7.5 steps apart.  On the simulator such fits (`coffee cup rim`, 6 to 80 %) landed 8.5
    steps off (af-at-focus #1): the reading point, a few steps down so narrow a flank,
    ended on the other side of the top.  Under ``moving_min_width`` (7) the usual scan
    runs around the best frame instead, and lands.  (On a peak 5 wide that scan, in
    12.8-step parts, fails honestly 2 runs in 12: ``poor_fit``.)"""
    curve = syn.lorentz(420.0, widths={(5, 4): 8.0})
    landed, moved = 0, 0
    for seed in range(12):
        cam = syn.SynthCamera(curve, seed=seed, start=150.0, moving=True)
        out = _run(cam)
        assert isinstance(out.end, Done), (seed, out.end)
        moved += out.end.metrics["moving"] == 1.0
        landed += abs(cam.position - 420.0) <= TOL
    assert moved == 0 and landed == 12, (moved, landed)
    # Without the rule, most of these runs land from the moving fit: the rule decided.
    off = [
        _run(syn.SynthCamera(curve, seed=seed, start=150.0, moving=True), moving_min_width=0.0)
        for seed in range(12)
    ]
    assert sum(isinstance(o.end, Done) and o.end.metrics["moving"] == 1.0 for o in off) >= 6
