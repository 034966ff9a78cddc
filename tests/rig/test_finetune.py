"""The short fine autofocus after a preset goto (controller.finetune), fed a synthetic curve.

A golden table: where the true peak lies relative to the start (the preset's drift) and
what the search must report.  Moves are carried out exactly (nominal step sizes), or with
a backlash that loses steps on every reversal, which the search's one-way scan and double
reversal must cancel.  No sockets, no clocks.
"""

from __future__ import annotations

import math

import pytest

from controller.finetune import TRANSITIONS, FineTune, S, fit_log_parabola, plan
from controller.search._types import Command, Done, Drive, Failed, Observation, Zoom

SIZES = (1.0, 6.4, 47.0)


def run(
    peak: float, *, backlash: float = 0.0, width: float = 25.0, zoom_levels: tuple[int, ...] = (1, 5, 10)
):
    """Drive a FineTune against a Gaussian focus curve; (end, true landing, commands sent)."""
    s = FineTune(zoom_levels=zoom_levels)
    true_pos, zoom, move_id, last_dir = 0.0, 1, 0, None
    sent: list[Command] = []
    out = s.start(0.0)
    now = 0.0
    for _ in range(500):
        for cmd in out:
            sent.append(cmd)
        moves = [c for c in out if isinstance(c, Drive | Zoom)]
        ends = [c for c in out if isinstance(c, Done | Failed)]
        out = []
        for m in moves:
            if isinstance(m, Drive):
                d = m.count * SIZES[m.level - 1]
                if last_dir is not None and m.direction != last_dir:
                    d = max(0.0, d - backlash)
                true_pos += d if m.direction == "far" else -d
                last_dir = m.direction
            else:
                zoom = m.level
            move_id += 1
            out += s.moved(move_id, now)
        if ends:
            return ends[0], true_pos, sent
        if out:
            continue
        now += 0.04
        measure = 0.1 + math.exp(-0.5 * ((true_pos - peak) / width) ** 2)
        obs = Observation(seq=1, t=now, move_id=move_id, settled=True, zoom=zoom, measure=measure, scale=4)
        out = s.feed(obs, now)
    raise AssertionError("the search did not end")


@pytest.mark.parametrize(
    ("peak", "backlash"),
    [
        (0.0, 0.0),
        (-6.0, 0.0),
        (9.5, 0.0),
        (-14.0, 0.0),
        (17.0, 0.0),
        (-30.0, 0.0),
        (35.0, 0.0),
        (4.0, 3.0),
        (-9.0, 3.0),
    ],
)
def test_lands_on_the_peak_and_reports_the_drift(peak: float, backlash: float) -> None:
    end, landed, sent = run(peak, backlash=backlash)
    assert isinstance(end, Done), end
    # the reported drift is where the curve peaks, in the units of the scan: the backlash
    # taken up by the scan's first reversal is in it (docs/rig.md)
    assert abs(end.position - peak - backlash) < 2.5
    assert abs(landed - peak) < 2.5  # the motor is on the peak: the reversals cancel
    drives = [c for c in sent if isinstance(c, Drive)]
    assert drives[-1].direction == "far"  # the last approach is from the near side
    zooms = [c.level for c in sent if isinstance(c, Zoom)]
    assert zooms == [5, 1]  # magnified for the scan, restored at the end


def test_without_zoom_it_scans_unmagnified() -> None:
    end, _, sent = run(5.0, zoom_levels=(1,))
    assert isinstance(end, Done) and not any(isinstance(c, Zoom) for c in sent)


def test_a_flat_region_fails_and_returns_to_the_start() -> None:
    end, landed, _ = run(0.0, width=1e9)
    assert isinstance(end, Failed) and end.reason in ("no_peak", "poor_fit")
    assert abs(landed) < 0.5  # back where it started, to the nearest level-1 step


def test_a_peak_beyond_reach_fails_and_returns() -> None:
    end, landed, _ = run(-200.0)
    assert isinstance(end, Failed) and end.reason == "no_peak"
    assert abs(landed) < 0.5  # back where it started, to the nearest level-1 step


def test_cancel_drives_back_and_ends() -> None:
    s = FineTune(zoom_levels=(1, 5))
    s.start(0.0)
    first = s.feed(Observation(1, 0.0, 0, True, 1, 1.0, 4), 0.0)
    assert isinstance(first[0], Zoom)
    s.moved(1, 0.1)
    out = s.cancel(0.2)
    assert out == [] or isinstance(out[0], Drive | Zoom)  # a move is outstanding: it waits for it


def test_transitions_table_names_every_state() -> None:
    assert {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values()) == set(S)


def test_plan_and_fit() -> None:
    assert plan(-19.2 - 6.4) == [Drive("near", 2, 4)]
    assert plan(53.4) == [Drive("far", 3, 1), Drive("far", 2, 1)]
    xs = [-2.0, -1.0, 0.0, 1.0, 2.0]
    fit = fit_log_parabola(xs, [math.exp(-0.5 * (x - 0.3) ** 2) for x in xs])
    assert fit is not None and fit[0] == pytest.approx(0.3)
    assert fit_log_parabola(xs, [math.exp(x * x) for x in xs]) is None  # a valley, no peak
