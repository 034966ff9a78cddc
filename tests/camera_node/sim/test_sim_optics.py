"""Blur grows linearly with |p - f| at s / N per pixel pitch, measured from rendered images.

For each view (live 1x, 5x, 10x, capture) we render an edge in focus and out of focus, and
find the pillbox diameter that turns the in-focus edge profile into the defocused one (the
1-D profile of a disk-blurred edge is the profile convolved with the disk's chord length).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camera_node.sim.capture import render_capture_rgb
from camera_node.sim.optics import View, blur_rate_px, capture_view, live_view
from camera_node.sim.stream import ycc_image
from tests.camera_node.sim.sim_helpers import edge_scene, open_test_sim


def _lsf(d: float) -> np.ndarray:
    """Line spread of a disk of diameter d, integrated over pixels (10x supersampled)."""
    r = d / 2
    n = int(np.ceil(r)) + 1
    xs = (np.arange(-n * 10, n * 10) + 0.5) / 10
    chord = np.sqrt(np.clip(r * r - xs * xs, 0, None))
    px = chord.reshape(-1, 10).sum(axis=1)
    return px / px.sum()


def _predict(sharp: np.ndarray, d: float) -> np.ndarray:
    k = _lsf(d)
    pad = len(k)
    padded = np.pad(sharp, pad, mode="edge")
    return np.convolve(padded, k, mode="same")[pad:-pad]


def measure_diameter(sharp: np.ndarray, blurred: np.ndarray, d_max: float) -> float:
    core = slice(int(d_max) + 4, len(sharp) - int(d_max) - 4)

    def sse(d: float) -> float:
        return float(((_predict(sharp, d) - blurred)[core] ** 2).sum())

    grid = np.arange(0.2, d_max, 0.25)
    best = grid[int(np.argmin([sse(d) for d in grid]))]
    fine = np.arange(max(0.05, best - 0.3), best + 0.3, 0.02)
    return float(fine[int(np.argmin([sse(d) for d in fine]))])


def _profile(luma: np.ndarray) -> np.ndarray:
    return luma[20:-20].astype(np.float64).mean(axis=0)


@pytest.fixture(scope="module")
def edge_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    sim, _, _ = open_test_sim(edge_scene(tmp_path_factory.mktemp("edge")))
    return sim


@pytest.mark.parametrize(("zoom", "offsets"), [(1, (60, 120, 200)), (5, (12, 25, 45)), (10, (6, 12, 22))])
def test_live_view_blur_is_linear_at_the_stated_rate(edge_sim, zoom: int, offsets: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    sim = edge_sim
    view: View = live_view(sim.spec.optics, zoom, (0.5, 0.5))
    rate = blur_rate_px(sim.spec.optics, view)
    # s / N per pixel pitch: 7.8 um / 2.8 / (22.3 mm / 960 * span)
    assert rate == pytest.approx(7.8 / 2.8 / (22300 / 960 / zoom), rel=1e-9)
    sharp = _profile(sim.renderer.render(view, 400, 2.8).y)
    measured, expected = [], []
    for off in offsets:
        for p in (400 - off, 400 + off):
            blurred = _profile(sim.renderer.render(view, p, 2.8).y)
            d = measure_diameter(sharp, blurred, rate * off * 1.5 + 4)
            measured.append(d)
            expected.append(rate * off)
            assert d == pytest.approx(rate * off, rel=0.06, abs=0.3)
    slope = np.polyfit(expected, measured, 1)[0]
    assert slope == pytest.approx(1.0, abs=0.04)


def test_f_number_scales_the_blur(edge_sim) -> None:  # type: ignore[no-untyped-def]
    sim = edge_sim
    view = live_view(sim.spec.optics, 5, (0.5, 0.5))
    sharp = _profile(sim.renderer.render(view, 400, 5.6).y)
    blurred = _profile(sim.renderer.render(view, 440, 5.6).y)
    d = measure_diameter(sharp, blurred, 20)
    assert d == pytest.approx(40 * blur_rate_px(sim.spec.optics, view, 5.6), rel=0.06)


def test_capture_blur_is_linear_at_the_capture_pitch(tmp_path: Path) -> None:
    sim, _, _ = open_test_sim(edge_scene(tmp_path, capture=(1800, 1200)))
    view = capture_view(sim.spec.optics)
    rate = blur_rate_px(sim.spec.optics, view)
    assert rate == pytest.approx(7.8 / 2.8 / (22300 / 1800), rel=1e-9)

    def prof(p: float) -> np.ndarray:
        y = np.asarray(render_capture_rgb(sim.scene, p, 2.8, sim.seed), np.float64)[..., 0]
        return _profile(y)

    sharp = prof(400)
    for off in (30, 80, 130):
        d = measure_diameter(sharp, prof(400 + off), rate * off * 1.5 + 4)
        assert d == pytest.approx(rate * off, rel=0.06, abs=0.3)


def test_default_capture_is_a_real_6000x4000_jpeg() -> None:
    from io import BytesIO

    from PIL import Image

    from camera_node.sim.capture import render_capture

    sim, _, _ = open_test_sim("chart")
    data = render_capture(sim.scene, 400, 2.8, 1, 90)
    with Image.open(BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (6000, 4000)


def test_breathing_scales_the_frame_about_the_centre(tmp_path: Path) -> None:
    from camera_node.sim import SCENES_DIR

    toml = tmp_path / "chart_breathing.toml"
    chart = (SCENES_DIR / "assets" / "chart.png").as_posix()
    toml.write_text(f'image = "{chart}"\n[depth]\nfocus_at = 400\n[optics]\nbreathing = 0.05\n')
    sim, _, _ = open_test_sim(toml)
    view = live_view(sim.spec.optics)
    assert sim.renderer.magnification(0) == pytest.approx(0.975)
    assert sim.renderer.magnification(800) == pytest.approx(1.025)

    def left_edge(p: float) -> float:
        row = sim.renderer.render(view, p, 22.0).y[100:540].mean(axis=0)  # f/22: nearly sharp
        # The chart's bright left bar starts 40 / 1200 of the width from the left.
        return float(np.argmax(row[:120] > 180))

    centre = 480.0
    bar = 40 / 1200 * 960
    for p, m in ((0, 0.975), (800, 1.025)):
        assert left_edge(p) == pytest.approx(centre + (bar - centre) * m, abs=2.5)


def test_noise_free_planes_become_a_jpeg_of_the_view_size(edge_sim) -> None:  # type: ignore[no-untyped-def]
    sim = edge_sim
    view = live_view(sim.spec.optics, 10, (0.3, 0.7))
    img = ycc_image(sim.encoder.expose(sim.renderer.render(view, 380, 2.8)))
    assert img.size == (960, 640)
