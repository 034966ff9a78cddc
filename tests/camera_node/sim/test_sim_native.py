"""The compiled loops (camera_node/sim/_native.c) against the numpy code they stand in for.

A frame must be the same bit for bit either way, or seeded autofocus figures would depend on
whether a machine had a C compiler when it installed the package.  Every path of the loops is
run: each built-in scene's layers (hard masks, depth maps, grey and colour, one layer), at 1x
and 5x, at positions far from focus, near it (the near-focus ladder and its fade) and exactly
on a layer (no blur: the spectrum is added as it is); the exposure with and without noise, and
again on the same planes (the noise's sigma kept from the frame before).
"""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from camera_node.sim import native
from camera_node.sim.render import Planes
from camera_node.sim.stream import Encoder
from tests.camera_node.sim.sim_helpers import edge_scene, open_test_sim

compiled = native.module()
needs_compiled = pytest.mark.skipif(compiled is None, reason="camera_node.sim._native is not built")


@pytest.fixture(autouse=True)
def _compiled_loops_after() -> Iterator[None]:
    yield
    native.use(True)


def test_the_loops_are_built_where_a_c_compiler_is() -> None:
    # ./dev installs gcc and the Python headers for the tests, so here the extension must
    # exist: a build that failed quietly (setup.py marks it optional) would otherwise only
    # show as slower frames.
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    if not (shutil.which("cc") and headers):
        pytest.skip("no C compiler or Python headers: the numpy loops run")
    assert native.available()


def _both(render: object, *args: object) -> tuple[object, object]:
    native.use(True)
    a = render(*args)  # type: ignore[operator]
    native.use(False)
    b = render(*args)  # type: ignore[operator]
    return a, b


def _planes_equal(a: Planes, b: Planes) -> None:
    for name in ("y", "cb", "cr"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and x.dtype == y.dtype
        assert np.array_equal(x, y), name


@needs_compiled
@pytest.mark.parametrize(
    "scene", ["moto", "tabletop", "coffee", "chart", "lowlight", "highlight", "lowcontrast"]
)
@pytest.mark.parametrize("zoom", [1, 5])
def test_frames_are_the_same_bit_for_bit(scene: str, zoom: int) -> None:
    sim, _, _ = open_test_sim(scene)
    sim.zoom = zoom
    vm = sim.renderer.model(sim.current_view())
    focus = [layer.focus for layer in vm.layers]
    mid = float(np.median(vm.focus_sharp))
    positions = [0.0, 800.0, mid, mid + 3.3, mid - 11.7, focus[0], focus[len(focus) // 2], 123.4]
    for p in positions:
        a, b = _both(vm.render, p, sim.f_number)
        _planes_equal(a, b)  # type: ignore[arg-type]


@needs_compiled
def test_a_single_layer_scene_is_the_same_bit_for_bit(tmp_path: Path) -> None:
    sim, _, _ = open_test_sim(edge_scene(tmp_path))
    vm = sim.renderer.model(sim.current_view())
    assert vm.single
    for p in (400.0, 380.0, 100.0):
        a, b = _both(vm.render, p, sim.f_number)
        _planes_equal(a, b)  # type: ignore[arg-type]


@needs_compiled
@pytest.mark.parametrize("scene", ["moto", "chart"])
def test_exposed_frames_are_the_same_bytes(scene: str) -> None:
    sim, _, _ = open_test_sim(scene)
    view = sim.current_view()
    encoders = {flag: Encoder(sim.spec.stream, np.random.default_rng(7)) for flag in (True, False)}
    for i, p in enumerate([300.0, 300.0, 512.5, 77.0, 77.0, 640.0]):
        planes = sim.renderer.render(view, p, sim.f_number)
        noise = i != 3
        frames = {}
        for flag, enc in encoders.items():
            native.use(flag)
            frames[flag] = enc.expose(planes, noise=noise)
        for name in ("y", "cb", "cr"):
            assert np.array_equal(getattr(frames[True], name), getattr(frames[False], name)), (p, name)


@needs_compiled
def test_odd_frame_sizes_expose_the_same_bytes() -> None:
    # A 5 x 7 frame: chroma (2, 3) is padded to (3, 4) by repeating its last row and column.
    rng = np.random.default_rng(3)
    planes = Planes(
        (rng.random((5, 7)) * 300 - 20).astype(np.float32),
        (rng.random((2, 3)) * 60 - 30).astype(np.float32),
        (rng.random((2, 3)) * 60 - 30).astype(np.float32),
    )
    sim, _, _ = open_test_sim("chart")
    encoders = {flag: Encoder(sim.spec.stream, np.random.default_rng(7)) for flag in (True, False)}
    frames = {}
    for flag, enc in encoders.items():
        native.use(flag)
        frames[flag] = enc.expose(planes)
    for name in ("y", "cb", "cr"):
        assert np.array_equal(getattr(frames[True], name), getattr(frames[False], name)), name


@needs_compiled
def test_wrong_arrays_get_a_value_error_not_a_crash() -> None:
    assert compiled is not None
    f32 = np.zeros((4, 4), np.float32)
    u8 = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="noise field"):
        compiled.luma_8bit(f32, u8, f32.copy(), True, np.zeros((2, 2), np.float32), 0, 0, 1.0, 0.04, 1.44)
    with pytest.raises(ValueError, match="wrong shape"):
        compiled.chroma_8bit(f32, np.zeros((2, 2), np.uint8), None, 0, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match="inconsistent"):
        compiled.normalise(
            f32, 0, np.zeros((3, 2, 2), np.float32), 9, np.zeros((4, 4), np.float32), None, None, True
        )
    order = np.array([0, 1, 99], np.intp)  # 99 is outside a 16-pixel frame
    with pytest.raises(ValueError, match="outside the frame"):
        compiled.near_apply(
            np.zeros(16, np.float32), np.array([1, 2, 3], np.float32), order, np.zeros((3, 3), np.float32),
            np.ones(2, np.float32), np.zeros(2, np.float32), np.ones(1, np.float32),
            0, 0, 3, 3, 1, 2.0, 1.0, 4.0, 0.75,
        )  # fmt: skip
    spec = np.zeros((4, 3), np.complex64)
    with pytest.raises(ValueError, match="inconsistent"):
        compiled.layer_sum(
            spec, [spec], [1.0, 2.0], [(2, 2)], np.zeros((3, 3), np.uint16), np.zeros(8, np.float32),
            np.ones(8, np.float32), (1, 4, 3), 3, 1, np.pi, 25.9, 100.0, 0.01,
        )  # fmt: skip
    with pytest.raises(ValueError, match="spectrum"):
        compiled.layer_sum(
            spec, [spec[:2]], [1.0], [(2, 2)], np.zeros((3, 3), np.uint16), np.zeros(8, np.float32),
            np.ones(8, np.float32), (1, 4, 3), 3, 1, np.pi, 25.9, 100.0, 0.01,
        )  # fmt: skip
