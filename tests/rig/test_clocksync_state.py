"""Pure pieces of the rig: NTP-style offsets, the per-serial state store, presets, stacks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from controller import presets
from controller.clocksync import Sample, best_offset, estimate
from controller.search import create_strategy, recall_options
from controller.search.default import Default
from controller.shots import judge, next_dir, write_file
from controller.state import StateStore
from protocol import ProtocolError
from tetherfocus.errors import UsageError


def test_the_minimum_round_trip_sample_wins() -> None:
    # node = ours + 100; symmetric 1 ms trip, then a slow asymmetric one (8 ms out, 1 ms back)
    good = Sample(t0=10.000, tn=110.001, t1=10.002)
    bad = Sample(t0=20.000, tn=120.008, t1=20.009)
    off = best_offset([bad, good])
    assert off.offset == pytest.approx(100.0) and off.rtt == pytest.approx(0.002)
    assert off.error == pytest.approx(0.001)
    assert off.from_node(off.to_node(5.0)) == pytest.approx(5.0)
    # the error bound holds for any split of the round trip
    for out in (0.0, 0.0005, 0.002):
        s = Sample(0.0, 100.0 + out, 0.002)
        assert abs(best_offset([s]).offset - 100.0) <= best_offset([s]).error + 1e-12


def test_best_offset_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        best_offset([])
    with pytest.raises(ValueError):
        best_offset([Sample(2.0, 0.0, 1.0)])


def test_estimate_makes_round_trips_through_the_call() -> None:
    ticks = iter(float(i) for i in range(100))
    calls = []

    async def call(cmd: str, args: dict[str, object]) -> dict[str, object]:
        calls.append(cmd)
        return {"t": 1000.0}

    off = asyncio.run(estimate(call, rounds=4, clock=lambda: next(ticks)))
    assert calls == ["clock"] * 4 and off.samples == 4 and off.rtt == 1.0


def test_state_survives_a_reload_and_is_written_atomically(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    st = store.get("083024001234")
    st.name, st.roi = "left", [0.1, 0.2, 0.3, 0.4]
    presets.save(st, "product-A", 412.4)
    store.save(st)
    assert [p.name for p in tmp_path.iterdir()] == ["083024001234.json"]  # no temporary left
    again = StateStore(tmp_path).get("083024001234")
    assert again.name == "left" and again.roi == [0.1, 0.2, 0.3, 0.4]
    assert presets.lookup(again, "product-A") == 412.4
    assert StateStore(tmp_path).by_name("left") is not None


def test_the_last_landing_survives_a_reload_for_its_region_only(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    st = store.get("S1")
    st.landing = {"roi": [0.4, 0.4, 0.2, 0.2], "recall": {"recall_peak": 1.9, "recall_coarse": 0.4}}
    store.save(st)
    again = StateStore(tmp_path).get("S1")
    assert again.recall([0.4, 0.4, 0.2, 0.2]) == {"recall_peak": 1.9, "recall_coarse": 0.4}
    assert again.recall([0.1, 0.4, 0.2, 0.2]) == {}  # another region: nothing to start from
    assert StateStore(None).get("S2").recall([0.4, 0.4, 0.2, 0.2]) == {}
    (tmp_path / "S1.json").write_text(json.dumps({"serial": "S1", "landing": {"roi": [1, 2], "recall": {}}}))
    with pytest.raises(UsageError, match=r"S1\.json: 'landing' must be"):
        StateStore(tmp_path)


def test_a_dim_landing_survives_a_reload_as_options_a_refocus_takes(tmp_path: Path) -> None:
    # recall_dim is a switch: it must come back from the file a bool, which the strategy's
    # option check insists on, not a number.
    store = StateStore(tmp_path)
    st = store.get("S1")
    st.land([0.4, 0.1, 0.2, 0.15], recall_options({"memory_peak": 0.049, "memory_dim": 1.0}))
    store.save(st)
    back = StateStore(tmp_path).get("S1").recall([0.4, 0.1, 0.2, 0.15])
    assert back == {"recall_peak": 0.049, "recall_dim": True} and back["recall_dim"] is True
    s = create_strategy("refocus", zoom_levels=(1, 5, 10), capabilities=["zoom"], **back)
    assert isinstance(s, Default) and s.recall_dim is True


def test_a_foreign_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(UsageError, match=r"x\.json: not a camera state file"):
        StateStore(tmp_path)


def test_presets_errors_name_what_is_known(tmp_path: Path) -> None:
    st = StateStore(None).get("S1")
    presets.save(st, "a", 1.0)
    with pytest.raises(ProtocolError) as exc:
        presets.lookup(st, "b")
    assert exc.value.code.value == "not_found" and "a" in exc.value.message
    with pytest.raises(ProtocolError):
        presets.check_name("bad name")
    assert presets.resolve(st, "a", "from") == 1.0
    assert presets.resolve(st, "12.5", "to") == 12.5
    assert presets.resolve(st, 3, "to") == 3.0


def test_stack_positions_go_near_to_far_whatever_the_order() -> None:
    assert presets.stack_positions(500.0, 400.0, 3) == [400.0, 450.0, 500.0]
    assert presets.stack_positions(400.0, 500.0, 2) == [400.0, 500.0]
    with pytest.raises(ProtocolError):
        presets.stack_positions(1.0, 2.0, 1)


def test_shot_files_and_judgement(tmp_path: Path) -> None:
    d1, d2 = next_dir(tmp_path, "shot"), next_dir(tmp_path, "shot")
    assert (d1.name, d2.name) == ("shot-001", "shot-002")
    import hashlib

    assert write_file(d1 / "a.jpg", b"xyz") == hashlib.sha256(b"xyz").hexdigest()
    roi = [0.4, 0.4, 0.2, 0.2]
    ref = {"sharpness": 2.0, "roi": roi}
    assert judge(1.0, ref, roi)["flag"] is True
    assert judge(1.9, ref, roi)["flag"] is False
    assert judge(1.0, ref, [0.1, 0.1, 0.2, 0.2])["flag"] is None  # another region: no reference
    assert judge(1.0, None, roi)["flag"] is None
