"""controller.search.coarse: the coarse bracket's decisions, as golden tables."""

from __future__ import annotations

import pytest

from controller.search._types import Direction
from controller.search.coarse import CoarseClimb, Decision


def climb(predict: bool = False, first_step: float | None = None, first_noise: float = 0.0) -> CoarseClimb:
    return CoarseClimb(
        step=94.0,
        small_step=47.0,
        travel=800.0,
        significance=0.04,
        top_rise=1.25,
        same_tolerance=0.005,
        flat_ratio=1.1,
        predict=predict,
        first_step=first_step,
        first_noise=first_noise,
    )


# Each row: (position, measure, direction of the move before it, expected decision).
Row = tuple[float, float, Direction | None, Decision]
TABLES: dict[str, list[Row]] = {
    "rise, rise, fall: bracketed": [
        (0.0, 1.0, None, Decision("climb", target=94.0)),
        (94.0, 2.0, "far", Decision("climb", target=188.0)),
        (188.0, 4.0, "far", Decision("climb", target=282.0)),
        (282.0, 1.5, "far", Decision("bracketed", center=pytest.approx(176.0, abs=20))),  # type: ignore[arg-type]
    ],
    "wrong way first": [
        (0.0, 2.0, None, Decision("climb", target=94.0)),
        (94.0, 1.0, "far", Decision("climb", target=-94.0)),
        (-94.0, 3.0, "near", Decision("climb", target=-188.0)),
        (-188.0, 1.0, "near", Decision("bracketed", center=pytest.approx(-58.3, abs=1))),  # type: ignore[arg-type]
    ],
    "flattening: a smaller jump": [
        (0.0, 1.0, None, Decision("climb", target=94.0)),
        (94.0, 1.1, "far", Decision("climb", target=141.0)),
    ],
    "end stop far, then the climb turns round": [
        (0.0, 1.0, None, Decision("climb", target=94.0)),
        (94.0, 1.0, "far", Decision("climb", target=188.0)),  # unchanged: probe once more
        (188.0, 1.0, "far", Decision("end_stop", target=-94.0, stop_at=0.0)),  # still: a stop
        (-94.0, 1.5, "near", Decision("climb", target=-188.0)),
    ],
    "featureless: unchanged at both ends": [
        (0.0, 1.0, None, Decision("climb", target=94.0)),
        (94.0, 1.0, "far", Decision("climb", target=188.0)),
        (188.0, 1.0, "far", Decision("end_stop", target=-94.0, stop_at=0.0)),
        (-94.0, 1.0, "near", Decision("climb", target=-188.0)),
        (-188.0, 1.0, "near", Decision("flat", stop_at=0.0, detail="the measure does not change with focus")),
    ],
    "highest at the far stop": [
        (0.0, 1.0, None, Decision("climb", target=94.0)),
        (94.0, 2.0, "far", Decision("climb", target=188.0)),
        (188.0, 2.0, "far", Decision("climb", target=282.0)),  # unchanged: probe
        (
            282.0,
            2.0,
            "far",
            Decision("no_peak", stop_at=94.0, detail="the measure is highest at an end of the travel"),
        ),
    ],
}


@pytest.mark.parametrize("name", list(TABLES))
def test_golden(name: str) -> None:
    c = climb()
    for i, (pos, m, moved, expected) in enumerate(TABLES[name]):
        c.moved = moved
        got = c.add(pos, m, noise=0.001)
        assert got == expected, f"row {i}"


def test_prediction_stops_short_of_the_top() -> None:
    c = climb(predict=True)
    rows = [(0.0, 0.30, None), (94.0, 0.62, "far"), (141.0, 0.70, "far")]
    got = [c.add(p, m, noise=0.001) for p, m, moved in rows if not setattr(c, "moved", moved)]
    assert got[-1].outcome == "predicted" and 141.0 < got[-1].center < 141.0 + 47.0


def test_noise_raises_the_bar() -> None:
    c = climb()
    c.add(0.0, 1.0, noise=0.05)
    c.moved = "far"
    # A 10 % drop is not significant when one frame varies by 5 %: keep climbing far.
    assert c.add(94.0, 0.9, noise=0.05).outcome == "climb"


def test_the_first_probe_is_short_unless_the_frames_are_noisy() -> None:
    def first(noise: float) -> Decision:
        return climb(first_step=47.0, first_noise=0.012).add(100.0, 1.0, noise=noise)

    # Quiet frames: 47 steps tell the way; noisy ones: a full jump, so the change shows.
    assert first(0.002) == Decision("climb", target=147.0)
    assert first(0.02) == Decision("climb", target=194.0)
