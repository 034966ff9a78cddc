"""The shared machinery of the searches: types, frame gating, one move at a time, endings."""

from __future__ import annotations

import math

import pytest

from controller.process_cli import STRATEGIES as CLI_STRATEGIES
from controller.search import NAMES, Default, Done, Drive, Failed, Observation, Zoom, create_strategy
from controller.search._machine import Levels, SearchMachine, plan_drives, sizes_toward, span
from controller.search._types import Command


def obs(
    move_id: int, measure: float = 1.0, *, settled: bool = True, zoom: int = 1, scale: int = 8
) -> Observation:
    return Observation(
        seq=0, t=0.0, move_id=move_id, settled=settled, zoom=zoom, measure=measure, scale=scale
    )


# -- types -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Drive("up", 1), "direction"),
        (lambda: Drive("far", 4), "level"),
        (lambda: Drive("far", 1, 0), "count"),
        (lambda: Zoom(3), "zoom level"),
        (lambda: Zoom(5, (1.5, 0.5)), "centre"),
        (lambda: obs(0, -1.0), "measure"),
        (lambda: obs(0, float("nan")), "measure"),
        (lambda: obs(0, scale=3), "scale"),
        (lambda: obs(0, zoom=0), "zoom"),
        (lambda: Observation(0, 0.0, 0, True, 1, 1.0, 8, None, (1.0, -0.5)), "tiles"),
        (lambda: Observation(0, 0.0, 0, True, 1, 1.0, 8, None, (float("inf"),)), "tiles"),
    ],
)
def test_types_check_their_fields(make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()


def test_observation_from_header() -> None:
    h = {
        "camera": "a",
        "seq": 7,
        "t": 1.5,
        "w": 960,
        "h": 640,
        "move_id": 3,
        "settled": True,
        "position": None,
        "homed": False,
        "zoom": 5,
    }
    assert Observation.from_header({**h, "travel": -12.5}, 1.0).travel == -12.5
    o = Observation.from_header(h, 2.5, 4)
    assert o.travel is None  # an older node
    assert (o.seq, o.move_id, o.settled, o.zoom, o.measure, o.scale, o.position) == (
        7,
        3,
        True,
        5,
        2.5,
        4,
        None,
    )


# -- drive planning ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("delta", "finest", "drives"),
    [
        (0.0, 1, []),
        (0.3, 1, []),
        (1.0, 1, [Drive("far", 1, 1)]),
        (-3.0, 1, [Drive("near", 1, 3)]),
        (12.8, 1, [Drive("far", 2, 2)]),
        (12.5, 1, [Drive("far", 2, 2)]),  # within half a level-1 step of two level-2 steps
        (9.0, 1, [Drive("far", 2, 1), Drive("far", 1, 3)]),
        (-100.0, 1, [Drive("near", 3, 2), Drive("near", 2, 1)]),  # 6 level-1 toggles avoided
        (94.0, 3, [Drive("far", 3, 2)]),
        (-70.0, 3, [Drive("near", 3, 1)]),
        (60.0, 2, [Drive("far", 3, 1), Drive("far", 2, 2)]),
    ],
)
def test_plan_drives(delta: float, finest: int, drives: list[Drive]) -> None:
    assert plan_drives(delta, finest=finest) == drives


def test_levels_know_the_lens_travels_further_one_way() -> None:
    # The EF-S 17-55 of the design notes: 739 level-1 steps end to end one way, 709 the
    # other, about 4 %.  Far drives of a lens with asymmetry 0.04 travel 2 % more than
    # nominal, near drives 2 % less; indexing still gives the nominal sizes.
    lens = Levels((1.0, 6.4, 47.0), 0.04)
    assert lens == (1.0, 6.4, 47.0) and lens[2] == 47.0
    assert sizes_toward(lens, "far") == pytest.approx((1.02, 6.528, 47.94))
    assert sizes_toward(lens, "near") == pytest.approx((0.98, 6.272, 46.06))
    assert span([Drive("far", 2, 10), Drive("near", 2, 10)], lens) == pytest.approx(2.56)  # 65.28 - 62.72
    assert sizes_toward((1.0, 6.4, 47.0), "far") == (1.0, 6.4, 47.0)  # a plain tuple: nominal
    # Planning a far move of 65.28 (true) takes ten level-2 drives on this lens, not 10.2.
    assert plan_drives(65.28, lens, 2, 2) == [Drive("far", 2, 10)]
    assert plan_drives(-62.72, lens, 2, 2) == [Drive("near", 2, 10)]
    assert plan_drives(65.28, (1.0, 6.4, 47.0), 1, 2) == [Drive("far", 2, 10), Drive("far", 1, 1)]
    for bad in (0.5, -0.7):
        with pytest.raises(ValueError, match="asymmetry"):
            Levels((1.0, 6.4, 47.0), bad)
    with pytest.raises(ValueError, match="level_sizes"):
        Levels((1.0, 6.4), 0.0)


@pytest.mark.parametrize(
    ("delta", "finest", "coarsest", "drives"),
    [
        (60.0, 1, 2, [Drive("far", 2, 9), Drive("far", 1, 2)]),  # 57.6 + 2: no level 3
        (-100.0, 2, 2, [Drive("near", 2, 16)]),  # 102.4, to the nearest level-2 step
        (94.0, 1, 3, [Drive("far", 3, 2)]),
        (9.0, 1, 1, [Drive("far", 1, 9)]),
    ],
)
def test_plan_drives_up_to_a_coarsest_level(
    delta: float, finest: int, coarsest: int, drives: list[Drive]
) -> None:
    assert plan_drives(delta, finest=finest, coarsest=coarsest) == drives


# -- gating: a golden table fed one call at a time --------------------------------------------
# (call, argument, expected commands).  The first sample averages three frames (noise still
# unknown); the coarse stage of ``default`` then probes far with one level-3 drive (its frames
# are quiet), and climbs on in jumps of two.
GATING = [
    ("start", None, []),
    ("feed", obs(0, settled=False), []),  # overlaps a move: never scored
    ("feed", obs(0, scale=4), []),  # measured at the wrong scale
    ("feed", obs(0, zoom=5), []),  # the wrong view
    ("feed", obs(0, 1.000), []),
    ("feed", obs(0, 1.001), []),
    ("feed", obs(0, 0.999), [Drive("far", 3, 1)]),
    ("feed", obs(0, 5.0), []),  # the move is not accepted yet: stale
    ("moved", 4, []),
    ("feed", obs(3, 5.0), []),  # predates the move
    ("feed", obs(4, 5.0, settled=False), []),  # overlaps it
    ("feed", obs(4, 2.0), [Drive("far", 3, 2)]),  # rose: climb on (noise now known: one frame)
]


def test_gating_golden_table() -> None:
    s = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"])
    for i, (call, arg, expected) in enumerate(GATING):
        if call == "start":
            got = s.start(0.0)
        elif call == "moved":
            assert isinstance(arg, int)
            got = s.moved(arg, 0.0)
        else:
            assert isinstance(arg, Observation)
            got = s.feed(arg, 0.0)
        assert got == expected, f"step {i}: {call}({arg})"
    assert s.frames_ignored == 6
    assert s.frames_used == 4


def test_a_move_reply_nobody_asked_for_is_ignored() -> None:
    s = Default()
    s.start(0.0)
    assert s.moved(9, 0.0) == []
    assert s.feed(obs(0), 0.0) == []  # the spurious id did not raise the floor


class _Mover(SearchMachine):
    """One drive of two level-3 parts far, scoring frames on the way when ``moving``."""

    def __init__(self, *, moving: bool = True, asymmetry: float = 0.0) -> None:
        super().__init__(asymmetry=asymmetry)
        self.moving = moving
        self.seen: list[tuple[str, float, float]] = []

    def _begin(self, now: float) -> list[Command]:
        self._moving = self.moving
        return self._go([Drive("far", 3, 2)])

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        self.seen.append(("settled", self.pos, measure))
        return []

    def _on_moving(
        self, travel: float, measure: float, tiles: tuple[float, ...], now: float
    ) -> list[Command]:
        self.seen.append(("moving", self._travelled(travel), measure))
        return []


def _moving_obs(move_id: int, travel: float | None, *, settled: bool = False, zoom: int = 1) -> Observation:
    return Observation(0, 0.0, move_id, settled, zoom, 2.0, 1, None, (), travel)


def test_frames_on_the_move_are_taken_only_when_wanted_and_of_the_last_move() -> None:
    s = _Mover()
    assert s.start(0.0) == [Drive("far", 3, 2)]
    assert s.wants_moving
    assert s.feed(_moving_obs(1, 5.0), 0.0) == []  # the move is not accepted yet
    s.moved(1, 0.0)
    s.feed(_moving_obs(0, 5.0), 0.0)  # a frame of the move before
    s.feed(_moving_obs(1, None), 0.0)  # not placed (a zoom settling, an older node)
    s.feed(_moving_obs(1, 47.0, zoom=5), 0.0)  # another view
    s.feed(_moving_obs(1, 23.5), 0.0)
    s.feed(_moving_obs(1, 94.0, settled=True), 0.0)  # settled: a sample as ever
    assert s.seen == [("moving", 23.5, 2.0), ("settled", 94.0, 2.0)]
    assert (s.frames_ignored, s.frames_used) == (4, 2)
    s.finished = True
    assert not s.wants_moving


def test_frames_on_the_move_are_ignored_unless_wanted_and_placed_by_the_ledger() -> None:
    s = _Mover(moving=False)
    s.start(0.0)
    s.moved(1, 0.0)
    s.feed(_moving_obs(1, 23.5), 0.0)
    assert s.seen == [] and s.frames_ignored == 1
    # The node's travel is nominal; the ledger counts far drives longer by the asymmetry.
    t = _Mover(asymmetry=0.04)
    t.start(0.0)
    t.moved(1, 0.0)
    t.feed(_moving_obs(1, 47.0), 0.0)
    assert t.seen == [("moving", pytest.approx(47.0 * 1.02), 2.0)]


# -- endings ---------------------------------------------------------------------------------------
def _climbed(s: Default) -> None:
    """Start, take the first sample, and have the first jump accepted (2 x 47 far)."""
    s.start(0.0)
    for m in (1.0, 1.0, 1.0):
        s.feed(obs(0, m), 0.0)
    s.moved(1, 0.0)


def test_cancel_drives_back_to_the_start_then_fails() -> None:
    s = Default()
    _climbed(s)
    out = s.cancel(1.0)
    assert out == [Drive("near", 3, 1), Failed("cancelled", "cancelled on request", out[1].metrics)]  # type: ignore[union-attr]
    assert s.finished and s.feed(obs(2), 2.0) == []


def test_cancel_while_a_move_is_outstanding_waits_for_it() -> None:
    s = Default()
    s.start(0.0)
    for m in (1.0, 1.0, 1.0):
        out = s.feed(obs(0, m), 0.0)
    assert out == [Drive("far", 3, 1)]
    assert s.cancel(0.1) == []  # the drive is on its way: cannot send another yet
    out = s.moved(1, 0.2)
    assert out[0] == Drive("near", 3, 1) and isinstance(out[1], Failed) and out[1].reason == "cancelled"


def test_zoomed_failure_restores_the_zoom_first() -> None:
    s = Default(zoom_levels=(1, 5))
    s.start(0.0)
    s.feed(obs(0), 0.0)  # learns the starting zoom (1)
    s.zoom = 5  # as if the fine stage had zoomed in
    s.pos = 12.8
    out = s.cancel(0.0)
    assert out == [Zoom(1)]
    out = s.moved(1, 0.0)
    assert out[0] == Drive("near", 2, 2) and isinstance(out[1], Failed)


def test_move_failed_goes_back_and_reports() -> None:
    s = Default()
    _climbed(s)
    out = s.move_failed("camera_lost: USB gone", 1.0)
    assert out[0] == Drive("near", 3, 1)  # try to go back, then report
    assert isinstance(out[1], Failed) and out[1].reason == "camera_error" and "USB gone" in out[1].detail
    assert s.finished and s.move_failed("again", 1.1) == []


def test_move_failed_during_a_multi_move_return_gives_up() -> None:
    s = Default(zoom_levels=(1, 5))
    s.start(0.0)
    s.feed(obs(0), 0.0)
    s.zoom, s.pos = 5, 12.8
    assert s.cancel(0.0) == [Zoom(1)]
    out = s.move_failed("busy", 0.1)
    assert len(out) == 1 and isinstance(out[0], Failed) and out[0].reason == "camera_error"


def test_stall_fails_after_the_timeout() -> None:
    s = Default()
    s.stall_timeout_s = 2.0
    s.start(0.0)
    assert s.feed(obs(0, settled=False), 1.0) == []
    out = s.feed(obs(0, settled=False), 2.5)
    assert isinstance(out[-1], Failed) and out[-1].reason == "stalled"


def test_create_strategy() -> None:
    s = create_strategy("default", zoom_levels=(1, 5, 10), capabilities=["zoom"], roi=[0.2, 0.4, 0.2, 0.2])
    assert isinstance(s, Default) and s.fine_zoom == 5 and s.roi_center == pytest.approx((0.3, 0.5))
    assert create_strategy("default", zoom_levels=(1, 5, 10), capabilities=["liveview"]).fine_zoom == 1
    assert create_strategy("sweep").name == "sweep"
    with pytest.raises(ValueError, match="known: default, refocus, sweep"):
        create_strategy("bisect")
    assert CLI_STRATEGIES == NAMES  # `tetherfocus focus` checks --strategy without importing the search
    with pytest.raises(ValueError, match="not offered"):
        Default(zoom_levels=(1,), fine_zoom=5)
    assert isinstance(Done(0.0, 1.0, "fit").metrics, dict)


def test_a_search_that_asks_for_tiles_takes_only_frames_scored_in_them() -> None:
    # a region wider than the magnified view: the coarse samples are scored in tiles too
    s = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"], roi=(0.1, 0.1, 0.8, 0.8))
    n = s.wanted_tiles
    assert n >= 2 and s.wanted_scale == 8
    s.start(0.0)
    assert s.feed(obs(0), 0.0) == []  # no tiles: not what it asked for
    assert s.frames_ignored == 1
    tiled = [Observation(0, 0.0, 0, True, 1, 1.0, 8, None, (1.0 / n**2,) * n**2)] * 3
    out = [s.feed(o, 0.0) for o in tiled]
    assert out[-1] and s.frames_used == 3
    assert s.sample_tiles == pytest.approx((1.0 / n**2,) * n**2)  # the sample's tiles, averaged


def test_tiles_asked_for_the_noise_alone_may_be_missing() -> None:
    # A region the magnified view covers needs no tiles of its own; while a sample averages
    # several frames it asks for 2 x 2 (a 64-pixel-high region at 1/8) to estimate the noise.
    s = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"], roi=(0.45, 0.45, 0.1, 0.1))
    assert s.wanted_tiles == 2 and s.frames_per_sample == 3
    s.start(0.0)
    # The three frames' measures agree exactly, their tiles swing by 20 %: the tiles are
    # believed (the measure's variance is the sum of the tiles').
    swing = [(0.6, 0.4, 0.5, 0.5), (0.4, 0.6, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)]
    for i, tiles in enumerate(swing):
        out = s.feed(Observation(i, 0.0, 0, True, 1, 2.0, 8, None, tiles), 0.0)
    assert out and s.frames_used == 3
    assert s.noise == pytest.approx(math.sqrt(2 * 0.01) / 2.0, rel=1e-9)
    assert s.sample_tiles == ()  # not the search's own tiles
    # A frame without tiles is taken too (noise from the measures alone).
    t = create_strategy("default", zoom_levels=(1, 5), capabilities=["zoom"], roi=(0.45, 0.45, 0.1, 0.1))
    t.start(0.0)
    for i in range(3):
        out = t.feed(obs(0, 2.0 + 0.001 * i), 0.0)
    assert out and t.frames_ignored == 0 and t.noise == pytest.approx(0.0005, rel=1e-3)
    # One frame per sample (quiet frames): no tiles asked for.
    assert t.frames_per_sample == 1 and t.wanted_tiles == 0
    # Without the option, or for a region too small to split at 1/8: none.
    assert create_strategy("default", roi=(0.45, 0.45, 0.1, 0.1), noise_tiles=0).wanted_tiles == 0
    assert create_strategy("default", roi=(0.45, 0.45, 0.02, 0.02)).wanted_tiles == 0
