"""Scene files: the exact TOML format, defaults, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from camera_node.sim import list_scenes, open_sim, resolve_scene
from camera_node.sim.scene import SceneSpec, load_scene, parse_scene, parse_scene_dict
from tetherfocus.errors import UsageError


def _image(tmp_path: Path, w: int = 300, h: int = 200) -> None:
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(tmp_path / "photo.png")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "scene.toml"
    p.write_text(text, encoding="utf-8")
    return p


FULL = """
name = "moto"
image = "photo.png"
seed = 1
[depth]
focus_at = 430
map = "depth.npy"
kind = "depth"
near = 120
far = 690
[[depth.region]]
box = [0.1, 0.2, 0.4, 0.9]
focus_at = 610
[optics]
f_number = 4.0
defocus_um_per_step = 7.8
sensor_width_mm = 22.3
liveview = [960, 640]
capture = [6000, 4000]
breathing = 0.005
[motor]
range = 800
start = 100
step_sizes = [1, 6.4, 47]
jitter = 0.05
skip_probability = 0.03
asymmetry = 0.04
backlash = 4
latency_s = 0.03
level_durations_s = [0.05, 0.08, 0.25]
[stream]
fps = 25
jpeg_quality = 75
read_noise = 1.0
shot_noise = 0.05
flicker = 0.01
mirror_up_s = 1.2
lag_s = 0.05
"""


def test_every_documented_key_parses(tmp_path: Path) -> None:
    _image(tmp_path)
    np.save(tmp_path / "depth.npy", np.linspace(1, 5, 300 * 200, dtype=np.float32).reshape(200, 300))
    spec = parse_scene(_write(tmp_path, FULL))
    assert spec.name == "moto"
    assert spec.optics.f_number == 4.0 and spec.optics.liveview == (960, 640)
    assert spec.motor.start == 100 and spec.motor.step_sizes == (1.0, 6.4, 47.0)
    assert spec.stream.jpeg_quality == 75 and isinstance(spec.stream.jpeg_quality, int)
    assert spec.stream.lag_s == 0.05
    assert spec.depth.region[0].focus_at == 610
    data = load_scene(spec)
    assert data.rgb.shape == (200, 300, 3)
    # A region overrides the map; the map's nearest value (small depth) maps to `near`.
    h, w = data.focus.shape
    assert data.focus[int(0.5 * h), int(0.2 * w)] == pytest.approx(610)
    assert data.focus.max() == pytest.approx(690, abs=1)
    assert data.focus.min() == pytest.approx(120, abs=1)


def test_defaults_and_name_from_stem(tmp_path: Path) -> None:
    _image(tmp_path)
    spec = parse_scene(_write(tmp_path, 'image = "photo.png"\n[depth]\nfocus_at = 300\n'))
    assert spec.name == "scene"
    assert spec.motor.range == 800 and spec.stream.fps == 25 and spec.optics.f_number == 2.8


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('image = "photo.png"\ncolour = 1\n[depth]\nfocus_at = 1\n', "colour"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\nfocus = 2\n', "depth.focus"),
        (
            'image = "photo.png"\n[depth]\nfocus_at = 1\n'
            "[[depth.region]]\nbox = [0,0,1,1]\nfocus_at = 2\nz = 1\n",
            "depth.region.z",
        ),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[optics]\nfnumber = 2\n', "optics.fnumber"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[motor]\nrange_ = 2\n', "motor.range_"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[stream]\nquality = 2\n', "stream.quality"),
    ],
)
def test_unknown_key_is_one_line_naming_it(tmp_path: Path, text: str, key: str) -> None:
    _image(tmp_path)
    with pytest.raises(UsageError) as exc:
        parse_scene(_write(tmp_path, text))
    msg = str(exc.value)
    assert f"'{key}'" in msg and "\n" not in msg and "expected one of" in msg


@given(st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True))
@settings(max_examples=40, deadline=None)
def test_any_unknown_top_level_key_is_refused(key: str) -> None:
    raw = {"image": "x.png", "depth": {"focus_at": 1}, key: 1}
    if key in {"image", "depth", "name", "seed", "optics", "motor", "stream"}:
        return
    with pytest.raises(UsageError, match=f"'{key}'"):
        parse_scene_dict(raw, Path("/tmp/s.toml"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[depth]\nfocus_at = 1\n", "'image' is required"),
        ('image = "photo.png"\n', "[depth]"),
        ('image = "photo.png"\n[depth]\nmap = "d.npy"\n', "near"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\nkind = "height"\n', "depth.kind"),
        ('image = "photo.png"\n[depth]\nfocus_at = "x"\n', "depth.focus_at"),
        ('image = "photo.png"\n[depth]\nfocus_at = nan\n', "'depth.focus_at' must be a finite number"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[optics]\nf_number = inf\n', "optics.f_number"),
        (
            'image = "photo.png"\n[depth]\nfocus_at = 1\n'
            "[[depth.region]]\nbox = [0.5, 0, 0.2, 1]\nfocus_at = 2\n",
            "box",
        ),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[optics]\nliveview = [960]\n', "optics.liveview"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[optics]\ncapture = [99999, 99999]\n', "16 to 16384"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[optics]\nliveview = [8000, 6000]\n', "16 to 4096"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[stream]\njpeg_quality = 0\n', "jpeg_quality"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[stream]\nlag_s = 0.6\n', "stream.lag_s"),
        ('image = "photo.png"\n[depth]\nfocus_at = 1\n[motor]\nstart = 900\n', "motor.start"),
        ("image = [\n", "not valid TOML"),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    _image(tmp_path)
    with pytest.raises(UsageError) as exc:
        parse_scene(_write(tmp_path, text))
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_missing_image_file_is_a_usage_error(tmp_path: Path) -> None:
    spec = parse_scene(_write(tmp_path, 'image = "nope.png"\n[depth]\nfocus_at = 1\n'))
    with pytest.raises(UsageError, match="cannot read scene image"):
        load_scene(spec)


def test_disparity_png16_map_and_non_finite_far(tmp_path: Path) -> None:
    _image(tmp_path, 300, 200)
    disp = np.tile(np.linspace(1000, 9000, 300).astype(np.uint16), (200, 1))
    Image.fromarray(disp).save(tmp_path / "d.png")
    spec = parse_scene(
        _write(
            tmp_path,
            'image = "photo.png"\n[depth]\nmap = "d.png"\nkind = "disparity"\nnear = 100\nfar = 700\n',
        )
    )
    f = load_scene(spec).focus
    assert f[:, -1].mean() == pytest.approx(100, abs=3)  # large disparity is near
    assert f[:, 0].mean() == pytest.approx(700, abs=3)
    nan_map = np.full((200, 300), np.nan, np.float32)
    nan_map[:, :150] = 5.0
    nan_map[:, 150:160] = 10.0
    np.save(tmp_path / "n.npy", nan_map)
    spec = parse_scene(
        _write(
            tmp_path,
            'image = "photo.png"\n[depth]\nmap = "n.npy"\nkind = "disparity"\nnear = 100\nfar = 700\n',
        )
    )
    f = load_scene(spec).focus
    assert f[100, 280] == pytest.approx(700)  # NaN takes far


def test_image_is_cropped_to_the_sensor_aspect(tmp_path: Path) -> None:
    _image(tmp_path, 400, 400)
    data = load_scene(parse_scene(_write(tmp_path, 'image = "photo.png"\n[depth]\nfocus_at = 1\n')))
    h, w = data.rgb.shape[:2]
    assert w / h == pytest.approx(1.5, abs=0.01)


def test_builtin_scenes_all_load_and_unknown_name_lists_them() -> None:
    names = list_scenes()
    assert len(names) >= 6 and {"moto", "tabletop", "lowcontrast", "highlight", "lowlight"} <= set(names)
    for n in names:
        spec = resolve_scene(n)
        assert isinstance(spec, SceneSpec)
        assert load_scene(spec).rgb.ndim == 3
    with pytest.raises(UsageError) as exc:
        open_sim("nope")
    assert "moto" in str(exc.value) and "\n" not in str(exc.value)


def test_builtin_assets_are_small_and_have_sources() -> None:
    from camera_node.sim import SCENES_DIR

    total = sum(p.stat().st_size for p in SCENES_DIR.rglob("*") if p.is_file())
    assert total < 10 * 1024 * 1024
    sources = (SCENES_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for asset in (SCENES_DIR / "assets").iterdir():
        if asset.suffix in (".png", ".npy"):
            assert asset.name in sources, f"{asset.name} has no source in SOURCES.md"


def test_a_depth_map_of_another_aspect_is_one_line(tmp_path: Path) -> None:
    """The map must have its image's aspect: a 10 x 3 map on a 300 x 200 image used to be
    stretched over it without a word.  Half a percent off (a row short) is fine."""
    _image(tmp_path, 300, 200)
    text = 'image = "photo.png"\n[depth]\nmap = "d.npy"\nnear = 100\nfar = 700\n'
    np.save(tmp_path / "d.npy", np.linspace(1, 2, 30, dtype=np.float32).reshape(10, 3))
    with pytest.raises(UsageError, match="depth map is 3 x 10, not the image's aspect"):
        load_scene(parse_scene(_write(tmp_path, text)))
    np.save(tmp_path / "d.npy", np.linspace(1, 2, 199 * 300, dtype=np.float32).reshape(199, 300))
    assert load_scene(parse_scene(_write(tmp_path, text))).focus.shape == (200, 300)
