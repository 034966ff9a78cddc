"""A continuous depth map comes into focus where its depth says, not at the nearest layer.

The scene is a plane tilted left to right (focus 660 at the left edge, 140 at the right)
covered in fine texture.  Each narrow column of it has a known in-focus position; the
contrast of that column, over noise-free frames at many motor positions, must peak there.
With the depth layers alone (8 of them, 74 steps apart at 1x, 16 at 5x) a column peaks up
to 40 steps (1x) or 8 steps (5x) off, at a layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camera_node.sim.nearfocus import FADE_SHARE_INV, NearFocus, ladder
from camera_node.sim.optics import live_view
from camera_node.sim.render import _ViewModel
from tests.camera_node.sim.sim_helpers import open_test_sim, tilted_texture

NEAR, FAR = 140.0, 660.0


@pytest.fixture(scope="module")
def tilted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tilted")
    tilted_texture(d)
    toml = d / "tilted.toml"
    toml.write_text(
        'image = "tex.png"\nseed = 3\n[depth]\nmap = "ramp.npy"\nkind = "disparity"\n'
        f"near = {NEAR}\nfar = {FAR}\n"
        "[optics]\nbreathing = 0.0\n",
        encoding="utf-8",
    )
    return toml


def _column_peaks(vm: _ViewModel, render: str, xs: list[int], focus: np.ndarray) -> list[float]:
    """Offset of each column's contrast peak from the column's own focus (steps)."""
    offsets = []
    for x in xs:
        f = float(focus[:, x - 3 : x + 3].mean())
        ps = np.arange(f - 30.0, f + 30.01, 2.0)
        energy = []
        for p in ps:
            y = getattr(vm, render)(p, 2.8).y.astype(np.float64)
            strip = y[40:-40, x - 3 : x + 3]
            energy.append(float((np.diff(strip, axis=0) ** 2).sum()))
        k = int(np.argmax(energy))
        lo, hi = max(0, k - 2), min(len(ps), k + 3)
        a, b, _ = np.polyfit(ps[lo:hi] - ps[k], np.log(energy[lo:hi]), 2)
        offsets.append(float(ps[k] + (-b / (2 * a) if a < 0 else 0.0)) - f)
    return offsets


@pytest.mark.parametrize("zoom", [1, 5])
def test_every_column_of_a_tilted_plane_peaks_at_its_own_depth(tilted: Path, zoom: int) -> None:
    sim, _, _ = open_test_sim(tilted)
    view = live_view(sim.spec.optics, zoom, (0.5, 0.5))
    vm = sim.renderer.model(view)
    assert vm.near is not None
    focus = sim.renderer.focus_map(view)
    xs = list(range(100, 861, 76))  # 11 columns, at various offsets from the layers
    near = _column_peaks(vm, "render", xs, focus)
    layered = _column_peaks(vm, "render_layers", xs, focus)
    assert max(abs(o) for o in near) <= 1.0, near
    # Without the near-focus stage the columns snap to layers (the test can fail).
    assert max(abs(o) for o in layered) > 5.0, layered


def test_pixels_beyond_reach_keep_the_layered_value(tilted: Path) -> None:
    sim, _, _ = open_test_sim(tilted)
    vm = sim.renderer.model(live_view(sim.spec.optics, 1, (0.5, 0.5)))
    near = vm.near
    assert isinstance(near, NearFocus)
    rate = vm.rate_per_n / 2.8
    layered = vm.render_layers(300.0, 2.8).y.copy()
    out = layered.copy()
    n = near.apply(out, 300.0, rate)
    focus = sim.renderer.focus_map(vm.view)
    beyond = np.abs(focus - 300.0) * rate >= near.reach_px
    within = np.abs(focus - 300.0) * rate < near.reach_px * (1 - 1 / FADE_SHARE_INV) * 0.99
    assert 0 < n < focus.size
    assert np.array_equal(out[beyond], layered[beyond])
    # In focus (within 0.02 px of blur), a pixel is the sharp image.
    sharp = sim.renderer.sharp_luma(vm.view)
    at_focus = np.abs(focus - 300.0) * rate < 0.02
    assert at_focus.any() and within.any()
    assert np.abs(out[at_focus] - sharp[at_focus]).max() < 2.0


def _apply_per_pixel(near: NearFocus, out: np.ndarray, position: float, rate: float) -> None:
    """NearFocus.apply as a gather per pixel from the (rung, pixel) stack: the plain formula,
    each pixel's pair of rungs found on its own."""
    r = near.reach_px / rate
    r1 = near.inner_px / rate
    f = near.f_sorted.astype(np.float64)
    a, a1, b1, b = (int(np.sum(f < k)) for k in (position - r, position - r1, position + r1, position + r))
    d = np.abs(near.f_sorted[a:b] - np.float32(position)) * np.float32(rate)
    rung = np.clip(np.searchsorted(near.rungs, d, side="right") - 1, 0, near.rungs.size - 2)
    gap = np.diff(near.rungs)
    inv_gap = np.array([np.float32(1.0 / x) for x in gap], np.float32)[rung]
    offset = np.array([np.float32(r / x) for r, x in zip(near.rungs[:-1], gap, strict=True)], np.float32)[
        rung
    ]
    j = np.arange(a, b)
    lo, hi = near.stack[rung, j], near.stack[rung + 1, j]
    g = (hi - lo) * (d * inv_gap - offset) + lo
    flat = out.reshape(-1)
    pix = near.order[a:b]
    reach = np.float32(near.reach_px)
    for j0, j1 in ((0, a1 - a), (b1 - a, b - a)):
        fade = np.clip((reach - d[j0:j1]) * np.float32(FADE_SHARE_INV / near.reach_px), 0.0, 1.0)
        layered = flat[pix[j0:j1]]
        g[j0:j1] = (g[j0:j1] - layered) * fade + layered
    flat[pix] = g


def test_runs_of_rungs_give_the_per_pixel_formula_bit_for_bit(tilted: Path) -> None:
    sim, _, _ = open_test_sim(tilted)
    vm = sim.renderer.model(live_view(sim.spec.optics, 1, (0.5, 0.5)))
    near = vm.near
    assert isinstance(near, NearFocus)
    layered = vm.render_layers(300.0, 2.8).y.copy()
    # Random positions, and positions exactly on pixels' own focus (the split between the
    # falling and rising blur).
    positions = [*np.random.default_rng(0).uniform(NEAR - 20, FAR + 20, 6), *near.f_sorted[::150_000]]
    for p in positions:
        for rate in (vm.rate_per_n / 2.8, vm.rate_per_n / 11.0):
            fast, plain = layered.copy(), layered.copy()
            near.apply(fast, float(p), rate)
            _apply_per_pixel(near, plain, float(p), rate)
            assert np.array_equal(fast.view(np.uint32), plain.view(np.uint32))


def test_ladder() -> None:
    rungs = ladder(12.0)
    assert np.allclose(rungs[:9], np.arange(0, 4.01, 0.5))
    assert np.allclose(rungs[9:], 4 * 1.25 ** np.arange(1, 6))  # 5 .. 12.2: the last reaches 12


def test_a_pixel_between_rungs_is_linear_in_its_blur(tilted: Path) -> None:
    """Halfway between two rungs' blurs, a pixel is the mean of the two rungs' values; at a
    rung's blur, that rung's value; inside the fade, mixed with the layered value."""
    sim, _, _ = open_test_sim(tilted)
    vm = sim.renderer.model(live_view(sim.spec.optics, 1, (0.5, 0.5)))
    near = vm.near
    assert isinstance(near, NearFocus)
    rate = vm.rate_per_n / 2.8
    i = near.f_sorted.size // 2  # one pixel (in f order), put at chosen blurs
    f = float(near.f_sorted[i])
    for r, t in ((3, 0.5), (5, 0.0), (10, 0.25)):
        blur = near.rungs[r] + t * (near.rungs[r + 1] - near.rungs[r])
        assert blur < near.inner_px
        out = np.full(vm.view.height * vm.view.width, -1.0, np.float32)
        near.apply(out.reshape(vm.view.height, vm.view.width), f + blur / rate, rate)
        want = (1 - t) * near.stack[r, i] + t * near.stack[r + 1, i]
        assert out[near.order[i]] == pytest.approx(want, abs=2e-3)
    # In the fade: a third of the way into it, two thirds of the ladder's value.
    blur = near.reach_px * (1 - 2 / (3 * FADE_SHARE_INV))
    out = np.zeros(vm.view.height * vm.view.width, np.float32)
    near.apply(out.reshape(vm.view.height, vm.view.width), f + blur / rate, rate)
    r = int(np.searchsorted(near.rungs, blur, side="right") - 1)
    t = (blur - near.rungs[r]) / (near.rungs[r + 1] - near.rungs[r])
    want = (2 / 3) * ((1 - t) * near.stack[r, i] + t * near.stack[r + 1, i])
    assert out[near.order[i]] == pytest.approx(want, rel=1e-3)
