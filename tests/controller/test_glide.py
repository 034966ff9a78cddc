"""The coarse climb with the motor moving (``controller.search.glide``): golden cases.

Frames come every 7.5 steps, as at level-3 speed and 25 fps; the curves are noise-free
unless a case adds noise, so each case says exactly when the glide must answer.
"""

from __future__ import annotations

import math
import random

import pytest

from controller.search.glide import Glide, GlideStep

STEP = 7.52  # level-1 steps between frames: 47 per 250 ms, 25 frames a second


def lorentz(focus: float, width: float, floor: float = 0.05) -> object:
    return lambda p: floor + 1.0 / (1.0 + ((p - focus) / width) ** 2)


def _glide_over(
    curve: object, start: float, direction: str, n: int, *, noise: float = 0.003, seed: int = 0, **kw: object
) -> tuple[list[GlideStep], Glide]:
    f = curve  # type: ignore[assignment]
    sgn = 1.0 if direction == "far" else -1.0
    before = [(start - sgn * 47.0, f(start - sgn * 47.0)), (start, f(start))]  # type: ignore[operator]
    g = Glide(direction, noise=noise, significance=0.04, before=before, **kw)  # type: ignore[arg-type]
    rnd = random.Random(seed)
    steps = []
    for i in range(1, n + 1):
        p = start + sgn * i * STEP
        steps.append(g.add(p, f(p) * (1.0 + noise * rnd.gauss(0.0, 1.0))))  # type: ignore[operator]
        if steps[-1].outcome != "on":
            break
    return steps, g


@pytest.mark.parametrize(
    ("label", "focus", "width", "start", "direction"),
    [
        ("a sharp top ahead, far", 400.0, 40.0, 250.0, "far"),
        ("a sharp top ahead, near", 400.0, 40.0, 560.0, "near"),
        ("a broad top", 400.0, 160.0, 150.0, "far"),
        ("a top just ahead", 400.0, 60.0, 380.0, "far"),
    ],
)
def test_the_top_is_bracketed_soon_after_it_and_placed_near_it(
    label: str, focus: float, width: float, start: float, direction: str
) -> None:
    steps, g = _glide_over(lorentz(focus, width), start, direction, 120)
    assert steps[-1].outcome == "top", label
    sgn = 1.0 if direction == "far" else -1.0
    past = sgn * (g.samples[-1][0] - focus)
    # A 4 % fall, seen on two frames in a row: a little past the top, more on a broad one.
    assert 0.0 < past <= 0.25 * width + 2 * STEP + 1.0, past
    assert abs(steps[-1].center - focus) <= 0.1 * width + STEP, steps[-1].center


def test_noise_alone_makes_no_top() -> None:
    """Frames with 1 % noise on a rising flank: no two in a row 4 % below the best."""
    for seed in range(20):
        steps, _ = _glide_over(lorentz(700.0, 100.0), 100.0, "far", 40, noise=0.01, seed=seed)
        assert all(s.outcome != "top" for s in steps), seed


def test_a_settled_sample_before_the_glide_is_never_its_top() -> None:
    """The settled start sample is the highest and the frames beyond it read a little lower
    (a slack the prior missed puts them behind where the ledger has them): no top there,
    since the top must be a frame of the glide, and the climb goes on."""
    g = Glide("near", noise=0.003, significance=0.04, before=[(691.0, 0.36), (638.0, 0.69)])
    for i, m in enumerate((0.60, 0.64, 0.66, 0.65, 0.66, 0.67)):
        assert g.add(660.0 - i * STEP, m).outcome == "on"


def test_an_end_stop_stalls_the_glide() -> None:
    """Canon motors clip silently: the frames go on showing the lens where it stopped."""
    g = Glide("far", noise=0.005, significance=0.04, before=[(700.0, 0.18), (747.0, 0.20)])
    rnd = random.Random(3)
    outcomes = []
    for i in range(1, 30):
        outcomes.append(g.add(747.0 + i * STEP, 0.2 * (1 + 0.005 * rnd.gauss(0, 1))).outcome)
        if outcomes[-1] != "on":
            break
    assert outcomes[-1] == "stall"
    assert (len(outcomes) - 1) * STEP >= 94.0 - STEP  # not before ``flat_reach`` of frames


def test_the_whole_travel_without_a_top_stalls() -> None:
    g = Glide("far", noise=0.003, significance=0.04, limit=200.0)
    out = [g.add(i * STEP, 1.0 + 0.01 * i).outcome for i in range(40)]
    assert out[-1] == "stall" and out.index("stall") == math.ceil(200.0 / STEP)


def test_a_broad_top_is_a_top_and_not_an_end_stop() -> None:
    """Over a broad top the frames on either side read alike: a test of halves took that
    for an end stop, and the climb went on step by step (the synthetic ``clean`` row: 15
    of 40 seeds, before thirds).  Seed 0's frames, with the gaps where the next drive went
    out, and two more falling."""
    frames = [
        (188, 0.8656), (194, 0.8802), (201, 0.9103), (208.6, 0.9378), (231, 1.0119), (235, 1.0106),
        (241, 1.0341), (248, 1.0394), (256, 1.0492), (278, 1.0391), (282, 1.0492), (288, 1.0342),
        (295, 1.0238), (302.7, 1.001), (310, 0.981), (318, 0.958),
    ]  # fmt: skip
    g = Glide("far", noise=0.006, significance=0.04, before=[(0.0, 0.45), (47.0, 0.55)])
    outcomes = [g.add(p, m).outcome for p, m in frames]
    assert "stall" not in outcomes
    assert outcomes[-1] == "top"


# -- two scales: coarse frames and finer ones, alternately -------------------------------


def _two_scales(
    coarse: object,
    sharp: object,
    start: float,
    direction: str,
    n: int,
    *,
    noise: float = 0.003,
    seed: int = 0,
) -> tuple[list[tuple[str, GlideStep]], Glide]:
    """Frames alternate coarse (even) and finer (odd), as ``default`` decodes them."""
    c, s = coarse, sharp
    sgn = 1.0 if direction == "far" else -1.0
    before = [(start - sgn * 47.0, c(start - sgn * 47.0)), (start, c(start))]  # type: ignore[operator]
    g = Glide(direction, noise=noise, significance=0.04, before=before)  # type: ignore[arg-type]
    rnd = random.Random(seed)
    out: list[tuple[str, GlideStep]] = []
    for i in range(1, n + 1):
        p = start + sgn * i * STEP
        e = 1.0 + noise * rnd.gauss(0.0, 1.0)
        if i % 2:
            out.append(("sharp", g.add_sharp(p, s(p) * e)))  # type: ignore[operator]
        else:
            out.append(("coarse", g.add(p, c(p) * e)))  # type: ignore[operator]
        if out[-1][1].outcome != "on":
            break
    return out, g


@pytest.mark.parametrize(
    ("label", "focus", "start", "direction"),
    [
        ("from far below", 400.0, 150.0, "far"),
        ("from far above", 400.0, 700.0, "near"),
        ("from just below", 400.0, 340.0, "far"),
    ],
)
def test_finer_frames_bracket_the_top_much_sooner(
    label: str, focus: float, start: float, direction: str
) -> None:
    """A coarse 1x curve 160 steps wide falls 4 % some 50 steps past the top; the same
    region decoded finer, 30 wide, within a few steps (sim: tabletop cup, scale 8 and 2)."""
    coarse, sharp = lorentz(focus, 160.0), lorentz(focus, 30.0)
    steps, g = _two_scales(coarse, sharp, start, direction, 120)
    kind, last = steps[-1]
    assert (kind, last.outcome) == ("sharp", "top"), label
    sgn = 1.0 if direction == "far" else -1.0
    past = sgn * (g.sharp[-1][0] - focus)
    # Two finer frames, 15 steps apart, 4 % down: within some 40 steps.
    assert 0.0 < past <= 4 * STEP + 8.0, past
    assert abs(last.center - focus) <= 4.0, last.center
    # The coarse frames alone, as before, pass it by far more.
    steps1, g1 = _glide_over(coarse, start, direction, 120)
    assert steps1[-1].outcome == "top" and sgn * (g1.samples[-1][0] - focus) > past + 15.0


def test_a_finer_top_where_the_coarse_curve_still_climbs_is_no_top() -> None:
    """A region that spans depth: a small part (the cup's rim, 430) peaks first in the finer
    decode while the coarse measure, most of the region the wall behind (650), still
    climbs (sim: af-stress ``tabletop small``).  The glide passes the small top and stops
    at the wall's."""
    coarse = lorentz(650.0, 200.0)

    def sharp(p: float) -> float:
        return 0.4 / (1.0 + ((p - 430.0) / 20.0) ** 2) + 1.0 / (1.0 + ((p - 650.0) / 30.0) ** 2)

    steps, g = _two_scales(coarse, sharp, 240.0, "far", 200)
    kind, last = steps[-1]
    assert last.outcome == "top" and abs(last.center - 650.0) <= 6.0, (kind, last)
    assert not any(s.outcome == "top" for _, s in steps[:-1])
    assert g.sharp[-1][0] > 650.0


def test_finer_frames_with_little_contrast_make_no_top() -> None:
    """A faint region at an end stop: the finer frames scatter 2-3 % about one level (their
    noise unknown, several times the coarse frames' 0.5 %), the coarse ones are flat.  No
    top from the finer frames; the coarse ones stall the glide (sim: af.toml moto door)."""
    rnd = random.Random(5)
    g = Glide("near", noise=0.005, significance=0.04, before=[(152.0, 0.035), (106.0, 0.039)])
    outcomes = []
    for i in range(1, 40):
        p = 106.0 - i * STEP
        if i % 2:
            outcomes.append(g.add_sharp(p, 0.0057 * (1 + 0.025 * rnd.gauss(0, 1))).outcome)
        else:
            outcomes.append(g.add(p, 0.05 * (1 + 0.005 * rnd.gauss(0, 1))).outcome)
        if outcomes[-1] != "on":
            break
    assert outcomes[-1] == "stall", outcomes


def test_past_best_asks_for_a_fall_where_the_coarse_curve_is_level() -> None:
    """No more drives once the last finer frame is below an earlier one where the coarse
    frames have levelled off; while the coarse curve still rises, a finer dip is not it."""
    g = Glide("far", noise=0.003, significance=0.04, before=[(0.0, 0.5)])
    g.add(10.0, 0.80)
    g.add_sharp(15.0, 0.50)
    g.add(40.0, 0.90)  # coarse still rising 12 % over 30 steps
    g.add_sharp(45.0, 0.80)
    g.add_sharp(50.0, 0.78)
    assert not g.past_best()
    g.add(60.0, 0.905)  # level: 0.6 % over the last 20+ steps
    g.add(75.0, 0.91)
    assert g.level()
    assert g.past_best()
    g.add_sharp(80.0, 0.85)
    assert not g.past_best()  # a new finer best: still climbing


def test_a_finer_top_at_ledger_zero_is_a_top() -> None:
    """The ledger starts at 0: a top there is a position like any other, not "none"."""
    g = Glide("far", noise=0.003, significance=0.04, before=[(-47.0, 0.5), (-10.0, 0.9)])
    g.add(-7.5, 0.97)
    g.add(-2.0, 0.99)
    g.add_sharp(-15.0, 0.6)
    assert g.add_sharp(0.0, 1.0).outcome == "on"
    g.add(5.0, 0.99)
    g.add(25.0, 0.98)
    assert g.add_sharp(15.0, 0.95).outcome == "on"  # 5 % down: one frame is not enough
    g.add(35.0, 0.975)
    step = g.add_sharp(30.0, 0.94)  # two frames 5-6 % down
    assert step.outcome == "top", step  # (its centre: a Gaussian through these frames)


def test_frames_that_fall_without_rising_put_the_top_behind() -> None:
    """A magnified glide's first frames come once the zoom settles, maybe past the top:
    frames that halve from their best with none before it significantly lower say the top
    lies behind them (or among the first).  Frames that rose first do not; nor does a fall
    short of half; nor do finer frames while the coarse ones still climb."""
    g = Glide("far", noise=0.003, significance=0.04)
    for p, m in [(0.0, 1.0), (7.5, 1.01), (15.0, 0.8), (22.5, 0.6)]:
        g.add(p, 2.0)  # the coarse frames (the same decode shrunk): level
        g.add_sharp(p, m)
    assert not g.fell_unrisen(sharp=True)  # 0.6 of the best: not yet half
    g.add(30.0, 1.99)
    g.add_sharp(30.0, 0.45)
    assert g.fell_unrisen(sharp=True)
    assert not g.fell_unrisen()  # the coarse frames: level, not fallen
    # af-stress's "tabletop small @60" (session 25): the magnified view's small part at
    # another depth fell from the first frame, while the region's coarse measure climbed on
    # (0.318 to 0.364 in 23 steps) to its focus 270 steps farther.  Not behind: glide on.
    climbing = Glide("far", noise=0.003, significance=0.04)
    for p, low, sharp in [
        (376.0, 0.318, 0.0975),
        (376.9, 0.319, 0.0943),
        (384.5, 0.333, 0.0719),
        (392.0, 0.349, 0.0551),
        (399.5, 0.364, 0.0436),
    ]:
        climbing.add(p, low)
        climbing.add_sharp(p, sharp)
    assert not climbing.fell_unrisen(sharp=True)
    risen = Glide("far", noise=0.003, significance=0.04)
    for p, m in [(0.0, 0.5), (7.5, 1.0), (15.0, 0.6), (22.5, 0.4)]:
        risen.add_sharp(p, m)
    assert not risen.fell_unrisen(sharp=True)  # it rose to its best: a top, not behind
    assert risen.rose(0.3, sharp=True) and not risen.rose(0.6, sharp=True)  # by half, not more
    assert not g.rose(0.04, sharp=True) and not g.rose(0.04)  # no frame before the best
