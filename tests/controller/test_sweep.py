"""The ``sweep`` baseline as a state machine: its published shape, and where it ends."""

from __future__ import annotations

import pytest

from controller.search import Done, Drive, Failed, Observation, Sweep
from tests.controller import af_synthetic as syn


def obs(move_id: int, measure: float, *, settled: bool = True) -> Observation:
    return Observation(seq=0, t=0.0, move_id=move_id, settled=settled, zoom=1, measure=measure, scale=1)


def test_golden_opening() -> None:
    """To the near end in one command, then one settled frame per level-3 step."""
    s = Sweep(travel=100.0)  # 3 level-3 steps cover it
    table: list[tuple[str, object, list[object]]] = [
        ("start", None, [Drive("near", 3, 4)]),
        ("moved", 1, []),
        ("feed", obs(1, 1.0, settled=False), []),
        ("feed", obs(1, 1.0), [Drive("far", 3, 1)]),
        ("moved", 2, []),
        ("feed", obs(1, 9.0), []),  # stale
        ("feed", obs(2, 3.0), [Drive("far", 3, 1)]),
        ("moved", 3, []),
        ("feed", obs(3, 2.0), [Drive("far", 3, 1)]),
        ("moved", 4, []),
        # Swept: the best was at 47; go one level-3 step before it to climb in level-2 steps.
        ("feed", obs(4, 1.0), [Drive("near", 3, 3)]),
        ("moved", 5, []),
        ("feed", obs(5, 1.0), [Drive("far", 2, 1)]),
    ]
    for i, (call, arg, expected) in enumerate(table):
        if call == "start":
            got = s.start(0.0)
        elif call == "moved":
            got = s.moved(arg, 0.0)  # type: ignore[arg-type]
        else:
            got = s.feed(arg, 0.0)  # type: ignore[arg-type]
        assert got == expected, f"step {i}: {call}({arg})"
    assert s.phase == "refine"


@pytest.mark.parametrize("seed", range(2))
def test_finds_the_peak_on_a_clean_curve(seed: int) -> None:
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=seed, backlash=0.0, skip=0.0)
    out = syn.run(Sweep(), cam)
    assert isinstance(out.end, Done) and out.end.reason == "peak"
    assert abs(cam.position - 420.0) <= 3.0
    drives = [c for c in out.commands if isinstance(c, Drive)]
    assert drives[0] == Drive("near", 3, 19)  # to the end stop
    assert sum(1 for d in drives if d == Drive("far", 3, 1)) >= 17  # the full sweep, 0 to 846
    assert {d.level for d in drives} == {1, 2, 3}  # refined in level 2, then level 1
    assert cam.t > 15.0  # it is the slow baseline


def test_backlash_is_not_compensated() -> None:
    """As published: it climbs far past the best and goes back to it, reversing without overscan."""
    cam = syn.SynthCamera(syn.lorentz(420.0), start=150.0, seed=3)
    out = syn.run(Sweep(), cam)
    assert isinstance(out.end, Done)
    assert [c for c in out.commands if isinstance(c, Drive)][-1].direction == "near"


def test_flat_fails() -> None:
    cam = syn.SynthCamera(syn.flat(), start=300.0)
    out = syn.run(Sweep(), cam)
    assert isinstance(out.end, Failed) and out.end.reason == "flat"
