"""The fast live-view path against the plain formulas it replaces.

The renderer and the encoder take short cuts for speed (mirrored rows of the transfer
function, complex blocks multiplied as float pairs, column-pruned inverse FFTs, breathing as
block copies, noise in row bands, JPEG straight from 4:2:0 planes).  Each is checked here
against the straightforward dense computation; all of them must agree to float rounding.  The
one approximation, grey scenes rendering no chroma, is bounded explicitly.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from camera_node.sim.optics import LUT_STEP, live_view
from camera_node.sim.render import MARGIN, Planes, _Grid, _ViewModel, breathe
from camera_node.sim.scene import StreamParams
from camera_node.sim.stream import Encoder, NoisePool, YccFrame, encode_frame, full_chroma, ycc_image
from camera_node.sim.views import sample_view, to_ycc
from tests.camera_node.sim.sim_helpers import open_test_sim

# Float32 rounding of a different summation order; the fast path is in fact bit-identical.
DENSE_TOLERANCE = 1e-3  # 8-bit levels
# A grey scene's chroma is 0 instead of the +-1e-5 that the JPEG colour matrix leaves.
GREY_CHROMA_BOUND = 1e-4  # 8-bit levels


def _dense_otf(grid: _Grid, d: float) -> np.ndarray:
    """The disk's H on the whole rfft2 grid, zero beyond the cut, with no blocks or mirrors."""
    if d < 0.01:
        return np.ones(grid.spec_shape, np.float32)
    x = grid.centres * np.float32(np.pi * d)
    idx = np.minimum((x * np.float32(1.0 / LUT_STEP)).astype(np.int32), grid.lut.size - 1)
    radial = grid.lut[idx]
    radial[x > np.float32(grid.X_CUT)] = 0.0
    return radial[grid.bins]


def _dense_render(vm: _ViewModel, position: float, f_number: float) -> Planes:
    """Sum of every layer's spectrum times H, one irfft2 per grid, weights normalised."""
    rate = vm.rate_per_n / f_number
    ds = [abs(position - layer.focus) * rate for layer in vm.layers]
    y_spec = sum(layer.y * _dense_otf(vm.acc_full.grid, d) for layer, d in zip(vm.layers, ds, strict=True))
    y = np.fft.irfft2(y_spec, s=vm.full_shape)
    v, m = vm.view, MARGIN
    y = y[m : m + v.height, m : m + v.width]
    hh, hw = v.height // 2, v.width // 2
    zeros = np.zeros((hh, hw), np.float32)
    if vm.acc_half is None:
        return Planes(y, zeros, zeros)
    grid_h = vm.acc_half.grid
    h_spec = sum(
        layer.half * _dense_otf(grid_h, d / 2)
        for layer, d in zip(vm.layers, ds, strict=True)
        if layer.half is not None
    )
    halves = np.fft.irfft2(h_spec, s=vm.half_shape)[:, m // 2 : m // 2 + hh, m // 2 : m // 2 + hw]
    cb, cr = (zeros, zeros) if vm.grey else (halves[0], halves[1])
    if vm.single:
        return Planes(y, cb, cr)
    inv = 1.0 / np.maximum(halves[-1], 1e-3)
    inv_full = np.repeat(np.repeat(inv, 2, axis=0), 2, axis=1)
    inv_full = np.pad(inv_full, ((0, v.height - 2 * hh), (0, v.width - 2 * hw)), mode="edge")
    return Planes(y * inv_full, cb * inv, cr * inv)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


@pytest.mark.parametrize(("scene", "zoom"), [("chart", 1), ("tabletop", 1), ("moto", 1), ("coffee", 5)])
def test_fast_render_equals_the_dense_formula(scene: str, zoom: int) -> None:
    sim, _, _ = open_test_sim(scene)
    view = live_view(sim.spec.optics, zoom, (0.45, 0.55))
    vm = sim.renderer.model(view)
    wr = vm.acc_full.grid.spec_shape[1]
    pruned = 0
    for p in (0.0, 137.5, 400.0, 512.25, 800.0):
        fast = vm.render_layers(p, 2.8)  # the near-focus stage: test_sim_nearfocus.py
        dense = _dense_render(vm, p, 2.8)
        for a, b in zip((fast.y, fast.cb, fast.cr), (dense.y, dense.cb, dense.cr), strict=True):
            assert a.shape == b.shape
            assert _max_diff(a, b) <= DENSE_TOLERANCE
        ds = [abs(p - layer.focus) * vm.rate_per_n / 2.8 for layer in vm.layers]
        pruned += max(wr if d < 0.01 else vm.acc_full.grid.extent(d)[1] for d in ds) < wr
    if scene == "chart":
        assert pruned >= 2  # the column-pruned inverse FFT was exercised


def test_grey_scene_renders_no_chroma_and_the_bound_holds() -> None:
    sim, _, _ = open_test_sim("chart")
    view = live_view(sim.spec.optics)
    vm = sim.renderer.model(view)
    assert vm.grey and vm.acc_half is None
    planes = vm.render(250.0, 2.8)
    assert not planes.cb.any() and not planes.cr.any()
    # What the colour path would have carried: the JPEG matrix applied to R = G = B.
    cb, cr = to_ycc(sample_view(sim.scene, view, MARGIN).rgb)
    assert max(float(np.abs(cb).max()), float(np.abs(cr).max())) <= GREY_CHROMA_BOUND
    colour = open_test_sim("coffee")[0].renderer.model(live_view(sim.spec.optics))
    assert not colour.grey and colour.acc_half is not None


@pytest.mark.parametrize("magnification", [0.975, 0.9991, 1.0, 1.013, 1.025])
def test_breathing_block_copies_equal_a_per_pixel_gather(magnification: float) -> None:
    sim, _, _ = open_test_sim("tabletop")
    for view in (live_view(sim.spec.optics), live_view(sim.spec.optics, 10, (0.2, 0.7))):
        planes = sim.renderer.model(view).render(300.0, 2.8)
        out = breathe(planes, view, magnification)
        a = 1.0 / magnification
        for got, src in ((out.y, planes.y), (out.cb, planes.cb), (out.cr, planes.cr)):
            h, w = src.shape  # the sensor centre's offset, in this plane's own pixels
            cx = ((0.5 + (view.x0 - 0.5) * a) - view.x0) / (view.x1 - view.x0) * w
            cy = ((0.5 + (view.y0 - 0.5) * a) - view.y0) / (view.y1 - view.y0) * h
            ry = np.clip(np.floor(cy + (np.arange(h) + 0.5) * a).astype(int), 0, h - 1)
            rx = np.clip(np.floor(cx + (np.arange(w) + 0.5) * a).astype(int), 0, w - 1)
            assert np.array_equal(got, src[ry][:, rx])


def _expose_dense(
    p: StreamParams, rng: np.random.Generator, planes: Planes, pools: dict[tuple[int, int], NoisePool]
) -> np.ndarray:
    """Whole-frame flicker + noise + rounding, drawing from ``rng`` in the encoder's order."""
    gain = np.float32(1.0 + p.flicker * float(rng.standard_normal()))
    y = planes.y * gain
    shape = (y.shape[0], y.shape[1])
    if shape not in pools:
        pools[shape] = NoisePool(rng, shape)
    var = np.maximum(planes.y, np.float32(0)) * np.float32(p.shot_noise) + np.float32(p.read_noise**2)
    y = y + np.sqrt(var) * pools[shape].take()
    return np.clip(y + np.float32(0.5), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("scene", ["tabletop", "lowlight"])
def test_banded_expose_equals_the_whole_frame_formula(scene: str) -> None:
    sim, _, _ = open_test_sim(scene)
    view = live_view(sim.spec.optics)
    enc = Encoder(sim.spec.stream, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    pools: dict[tuple[int, int], NoisePool] = {}
    a = sim.renderer.render(view, 300.0, 2.8)
    b = sim.renderer.render(view, 520.0, 2.8)
    for planes in (a, a, b, a):  # fresh, cached (a still motor), fresh, fresh
        got = enc.expose(planes)
        want = _expose_dense(sim.spec.stream, rng, planes, pools)
        assert np.array_equal(got.y, want)
        # Chroma draws two more fields; keep the reference generator in step.
        for plane in (planes.cb, planes.cr):
            shape = (plane.shape[0], plane.shape[1])
            if shape not in pools:
                pools[shape] = NoisePool(rng, shape)
            pools[shape].take()


@pytest.mark.parametrize(("w", "h"), [(960, 640), (37, 23)])
def test_ycc_planes_keep_chroma_at_half_resolution_and_fill_odd_edges(w: int, h: int) -> None:
    enc = Encoder(open_test_sim("coffee")[0].spec.stream, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 255, (h, w)).astype(np.float32)
    cb = rng.uniform(-100, 100, (h // 2, w // 2)).astype(np.float32)
    cr = rng.uniform(-100, 100, (h // 2, w // 2)).astype(np.float32)
    frame: YccFrame = enc.expose(Planes(y, cb, cr), noise=False)
    hh, hw = (h + 1) // 2, (w + 1) // 2
    for got, c in ((frame.cb, cb), (frame.cr, cr)):
        assert got.shape == (hh, hw) and got.dtype == np.uint8
        c8 = np.clip(c * 1.0 + 128.5, 0, 255).astype(np.uint8)
        want = np.pad(c8, ((0, hh - c8.shape[0]), (0, hw - c8.shape[1])), mode="edge")
        # Flicker scales chroma by ~1 %: compare with a 2-level allowance, then check the edges.
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 2
        if hh > h // 2:
            assert np.array_equal(got[-1], got[-2])
        if hw > w // 2:
            assert np.array_equal(got[:, -1], got[:, -2])
    image = ycc_image(frame)
    assert image.mode == "YCbCr" and image.size == (w, h)
    full = np.asarray(image)
    assert np.array_equal(full[..., 0], frame.y)
    for k, plane in ((1, frame.cb), (2, frame.cr)):
        assert np.array_equal(full[..., k], np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)[:h, :w])


@pytest.mark.parametrize(("w", "h"), [(960, 640), (37, 23)])
def test_encoded_frame_is_a_420_jpeg_of_the_planes(w: int, h: int) -> None:
    enc = Encoder(open_test_sim("coffee")[0].spec.stream, np.random.default_rng(1))
    rng = np.random.default_rng(3)
    # Smooth planes, so JPEG's loss is small and a wrong layout or subsampling shows.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    y = 128 + 80 * np.sin(xx / 9.0) * np.cos(yy / 7.0)
    hy, hx = np.mgrid[0 : h // 2, 0 : w // 2].astype(np.float32)
    cb = 40 * np.sin(hx / 5.0 + rng.uniform())
    cr = -40 * np.cos(hy / 4.0)
    planes = Planes(y.astype(np.float32), cb.astype(np.float32), cr.astype(np.float32))
    frame = enc.expose(planes, noise=False)
    data = encode_frame(frame, 90)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and img.mode == "RGB" and img.size == (w, h)
        assert JpegImagePlugin.get_sampling(img) == 2  # 4:2:0
        img.draft("YCbCr", img.size)
        back = np.asarray(img.convert("YCbCr")).astype(int)
    assert np.abs(back[..., 0] - frame.y).mean() < 2.0
    cb_full, cr_full = (p.astype(int) for p in full_chroma(frame))
    assert np.abs(back[..., 1] - cb_full).mean() < 3.0
    assert np.abs(back[..., 2] - cr_full).mean() < 3.0


def test_odd_live_view_renders_every_pixel(tmp_path: Path) -> None:
    img = np.random.default_rng(3).integers(0, 255, (300, 450, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "odd.png")
    (tmp_path / "odd.toml").write_text(
        'image = "odd.png"\n[depth]\nfocus_at = 400\n[[depth.region]]\nbox = [0.1, 0.1, 0.5, 0.5]\n'
        "focus_at = 600\n[optics]\nliveview = [161, 107]\n",
        encoding="utf-8",
    )
    sim, _, _ = open_test_sim(tmp_path / "odd.toml")
    view = live_view(sim.spec.optics)
    planes = sim.renderer.model(view).render(500.0, 2.8)
    assert planes.y.shape == (107, 161)
    dense = _dense_render(sim.renderer.model(view), 500.0, 2.8)
    assert not sim.renderer.model(view).single  # the weight normalisation ran, odd last row and column too
    assert _max_diff(planes.y, dense.y) <= DENSE_TOLERANCE
