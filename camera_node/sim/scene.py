"""Scene files: parameters of the simulated camera and what it looks at.

A scene is a TOML file in exactly this format (every key optional except ``image`` and a
depth source)::

    name = "moto"                 # default: the file's stem
    image = "photo.png"           # relative to the scene file
    seed = 1
    [depth]                       # in-focus motor position of every pixel
    focus_at = 430                # base plane (required unless map is given)
    map = "depth.npy"             # optional per-pixel map (.npy float, or 16-bit PNG)
    kind = "depth"                # "depth": small is near; "disparity": large is near
    near = 120                    # motor position of the nearest map value
    far = 690                     # motor position of the farthest; non-finite values take far
    [[depth.region]]              # optional rectangles over the base, later ones on top
    box = [0.1, 0.2, 0.4, 0.9]    # x0, y0, x1, y1 as fractions of the image
    focus_at = 610
    [optics]  # f_number, defocus_um_per_step, sensor_width_mm, liveview, capture, breathing
    [motor]   # range, start, step_sizes, jitter, skip_probability, asymmetry, backlash,
              # latency_s, level_durations_s
    [stream]  # fps, jpeg_quality, read_noise, shot_noise, flicker, mirror_up_s, lag_s

Errors: :class:`tetherfocus.errors.UsageError` with one line naming the file and the key
(unknown keys, wrong types, missing files, unreadable images).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tetherfocus.errors import UsageError

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class OpticsParams:
    f_number: float = 2.8
    defocus_um_per_step: float = 7.8  # image-side focus travel per level-1 step
    sensor_width_mm: float = 22.3
    liveview: tuple[int, int] = (960, 640)
    capture: tuple[int, int] = (6000, 4000)
    breathing: float = 0.005  # relative magnification change over the full travel


@dataclass(frozen=True, slots=True)
class MotorParams:
    range: float = 800.0
    start: float | None = None  # default: range / 2
    step_sizes: tuple[float, float, float] = (1.0, 6.4, 47.0)
    jitter: float = 0.05
    skip_probability: float = 0.03
    asymmetry: float = 0.04
    backlash: float = 4.0
    latency_s: float = 0.03
    level_durations_s: tuple[float, float, float] = (0.05, 0.08, 0.25)


@dataclass(frozen=True, slots=True)
class StreamParams:
    fps: float = 25.0
    jpeg_quality: int = 75
    read_noise: float = 1.2  # sigma in 8-bit levels
    shot_noise: float = 0.04  # variance per 8-bit level of signal
    flicker: float = 0.01  # relative sigma of exposure, frame to frame
    mirror_up_s: float = 1.2
    # A frame shows the lens as it stood this long before the frame's moment: the exposure
    # and the body's processing.  It only shows while the motor moves (the node's settle
    # margin, 60 ms, is longer), so settled frames are the same whatever it is.
    lag_s: float = 0.04


@dataclass(frozen=True, slots=True)
class Region:
    box: tuple[float, float, float, float]
    focus_at: float


@dataclass(frozen=True, slots=True)
class DepthSpec:
    focus_at: float | None = None
    map: str | None = None
    kind: str = "depth"
    near: float | None = None
    far: float | None = None
    region: tuple[Region, ...] = ()


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """A parsed scene file; paths are absolute."""

    name: str
    image: Path
    depth: DepthSpec
    seed: int = 1
    optics: OpticsParams = field(default_factory=OpticsParams)
    motor: MotorParams = field(default_factory=MotorParams)
    stream: StreamParams = field(default_factory=StreamParams)
    map_path: Path | None = None


@dataclass(frozen=True, slots=True)
class SceneData:
    """A scene ready to render: RGB image and focus map, cropped to the sensor's aspect."""

    spec: SceneSpec
    rgb: U8  # (H, W, 3)
    focus: F32  # (H, W) in-focus motor position per pixel
    smooth_depth: bool  # True when focus came from a continuous map


_TOP_KEYS = {"name", "image", "seed", "depth", "optics", "motor", "stream"}
_DEPTH_KEYS = {"focus_at", "map", "kind", "near", "far", "region"}
_REGION_KEYS = {"box", "focus_at"}


def _check_keys(where: str, table: dict[str, Any], allowed: set[str], src: Path) -> None:
    for key in table:
        if key not in allowed:
            raise UsageError(
                f"{src}: unknown key '{where}{key}' (expected one of: {', '.join(sorted(allowed))})"
            )


def _num(src: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{src}: '{key}' must be a finite number, not {value!r}")
    return float(value)


def _pair(src: Path, key: str, value: Any, n: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise UsageError(f"{src}: '{key}' must be a list of {n} numbers, not {value!r}")
    return tuple(_num(src, key, v) for v in value)


def _params(src: Path, section: str, table: Any, cls: type[Any]) -> Any:
    if not isinstance(table, dict):
        raise UsageError(f"{src}: '[{section}]' must be a table")
    base = cls()
    names = {f.name for f in fields(cls)}
    _check_keys(section + ".", table, names, src)
    values: dict[str, Any] = {}
    for key, value in table.items():
        default = getattr(base, key)
        full = f"{section}.{key}"
        if isinstance(default, tuple):
            tup = _pair(src, full, value, len(default))
            values[key] = tuple(int(v) for v in tup) if isinstance(default[0], int) else tup
        elif isinstance(default, int) and not isinstance(default, bool):
            values[key] = int(_num(src, full, value))
        else:
            values[key] = _num(src, full, value)
    result = replace(base, **values)
    _validate(src, section, result)
    return result


# Sizes a simulated body may have (a 100 MP capture is 11648 x 8736; live view is ~1 MP):
# far larger ones would only exhaust memory.
MAX_LIVEVIEW_SIDE = 4096
MAX_CAPTURE_SIDE = 16384


def _validate(src: Path, section: str, p: Any) -> None:
    def bad(key: str, why: str) -> UsageError:
        return UsageError(f"{src}: '{section}.{key}' {why}")

    if isinstance(p, OpticsParams):
        if p.f_number <= 0 or p.defocus_um_per_step <= 0 or p.sensor_width_mm <= 0:
            raise bad("f_number", "and the other optics numbers must be positive")
        for key, most in (("liveview", MAX_LIVEVIEW_SIDE), ("capture", MAX_CAPTURE_SIDE)):
            w, h = getattr(p, key)
            if w < 16 or h < 16 or w > most or h > most:
                raise bad(key, f"must be 16 to {most} pixels on each side")
    elif isinstance(p, MotorParams):
        if p.range <= 0:
            raise bad("range", "must be positive")
        if p.start is not None and not 0 <= p.start <= p.range:
            raise bad("start", f"must lie in [0, {p.range:g}]")
        if min(p.step_sizes) <= 0 or min(p.level_durations_s) < 0:
            raise bad("step_sizes", "and level_durations_s must be positive")
        if not 0 <= p.skip_probability <= 1:
            raise bad("skip_probability", "must lie in [0, 1]")
        if p.jitter < 0 or p.backlash < 0 or p.latency_s < 0 or not 0 <= p.asymmetry < 1:
            raise bad("jitter", "backlash, latency_s must be >= 0 and asymmetry in [0, 1)")
    elif isinstance(p, StreamParams):
        if p.fps <= 0 or p.fps > 240:
            raise bad("fps", "must lie in (0, 240]")
        if not 1 <= p.jpeg_quality <= 100:
            raise bad("jpeg_quality", "must lie in [1, 100]")
        if min(p.read_noise, p.shot_noise, p.flicker, p.mirror_up_s) < 0:
            raise bad("read_noise", "shot_noise, flicker and mirror_up_s must be >= 0")
        if not 0 <= p.lag_s <= 0.5:
            raise bad("lag_s", "must lie in [0, 0.5]")


def parse_scene(path: Path) -> SceneSpec:
    """Read and check a scene file.  Raises UsageError with one line."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"scene file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    return parse_scene_dict(raw, path)


def parse_scene_dict(raw: dict[str, Any], path: Path) -> SceneSpec:
    """Check a decoded scene table; ``path`` locates relative files.  Raises UsageError."""
    _check_keys("", raw, _TOP_KEYS, path)
    base = path.parent
    if "image" not in raw or not isinstance(raw["image"], str):
        raise UsageError(f"{path}: 'image' is required and must be a file name")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise UsageError(f"{path}: 'name' must be a non-empty string")
    seed = raw.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"{path}: 'seed' must be an integer")
    depth_raw = raw.get("depth")
    if not isinstance(depth_raw, dict):
        raise UsageError(f"{path}: '[depth]' is required (focus_at, or map with near and far)")
    depth, map_path = _parse_depth(path, depth_raw)
    return SceneSpec(
        name=name,
        image=(base / raw["image"]).resolve(),
        depth=depth,
        seed=seed,
        optics=_params(path, "optics", raw.get("optics", {}), OpticsParams),
        motor=_params(path, "motor", raw.get("motor", {}), MotorParams),
        stream=_params(path, "stream", raw.get("stream", {}), StreamParams),
        map_path=(base / map_path).resolve() if map_path else None,
    )


def _parse_depth(path: Path, d: dict[str, Any]) -> tuple[DepthSpec, str | None]:
    _check_keys("depth.", d, _DEPTH_KEYS, path)
    focus_at = _num(path, "depth.focus_at", d["focus_at"]) if "focus_at" in d else None
    map_name = d.get("map")
    if map_name is not None and not isinstance(map_name, str):
        raise UsageError(f"{path}: 'depth.map' must be a file name")
    kind = d.get("kind", "depth")
    if kind not in ("depth", "disparity"):
        raise UsageError(f'{path}: \'depth.kind\' must be "depth" or "disparity", not {kind!r}')
    near = _num(path, "depth.near", d["near"]) if "near" in d else None
    far = _num(path, "depth.far", d["far"]) if "far" in d else None
    if map_name is None and focus_at is None:
        raise UsageError(f"{path}: '[depth]' needs focus_at (or a map with near and far)")
    if map_name is not None and (near is None or far is None):
        raise UsageError(f"{path}: 'depth.map' needs 'depth.near' and 'depth.far'")
    regions_raw = d.get("region", [])
    if not isinstance(regions_raw, list):
        raise UsageError(f"{path}: 'depth.region' must be an array of tables ([[depth.region]])")
    regions: list[Region] = []
    for r in regions_raw:
        if not isinstance(r, dict):
            raise UsageError(f"{path}: each [[depth.region]] must be a table")
        _check_keys("depth.region.", r, _REGION_KEYS, path)
        if "box" not in r or "focus_at" not in r:
            raise UsageError(f"{path}: each [[depth.region]] needs 'box' and 'focus_at'")
        x0, y0, x1, y1 = _pair(path, "depth.region.box", r["box"], 4)
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise UsageError(f"{path}: 'depth.region.box' must be x0 < x1, y0 < y1 within [0, 1]")
        regions.append(Region((x0, y0, x1, y1), _num(path, "depth.region.focus_at", r["focus_at"])))
    return DepthSpec(focus_at, map_name, kind, near, far, tuple(regions)), map_name


MAP_ASPECT_TOLERANCE = 0.05  # a map a row or column short of its image still fits it


def _load_map(spec: SceneSpec, size: tuple[int, int]) -> F32:
    """The per-pixel focus map from ``depth.map``, resized to ``size`` (w, h)."""
    assert spec.map_path is not None
    d = spec.depth
    try:
        if spec.map_path.suffix.lower() == ".npy":
            raw = np.load(spec.map_path).astype(np.float32)
        else:
            with Image.open(spec.map_path) as im:
                raw = np.asarray(im, dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{spec.map_path}: cannot read depth map ({exc})") from None
    if raw.ndim == 3:
        raw = raw[..., 0]
    if raw.ndim != 2:
        raise UsageError(f"{spec.map_path}: depth map must be a 2-D array")
    mh, mw = raw.shape
    if abs((mw / mh) / (size[0] / size[1]) - 1.0) > MAP_ASPECT_TOLERANCE:
        raise UsageError(
            f"{spec.map_path}: depth map is {mw} x {mh}, not the image's aspect ({size[0]} x {size[1]})"
        )
    finite = np.isfinite(raw)
    if d.kind == "depth":
        finite &= raw > 0
    if not finite.any():
        raise UsageError(f"{spec.map_path}: depth map has no usable values")
    vals = raw[finite]
    # Image-side focus travel is close to linear in 1 / distance, so a depth map is mapped
    # through its inverse and a disparity map (already ~ 1 / distance) linearly.
    inv = np.where(finite, 1.0 / np.where(finite, raw, 1.0), 0.0) if d.kind == "depth" else raw
    lo, hi = (1.0 / vals.max(), 1.0 / vals.min()) if d.kind == "depth" else (vals.min(), vals.max())
    t = (inv - lo) / max(float(hi - lo), 1e-12)  # 0 = farthest, 1 = nearest
    assert d.near is not None and d.far is not None
    f = d.far + t * (d.near - d.far)
    f = np.where(finite, f, d.far).astype(np.float32)
    resized = Image.fromarray(f, "F").resize(size, Image.Resampling.BILINEAR)
    return np.array(resized, dtype=np.float32)  # a writable copy: regions go on top


def load_scene(spec: SceneSpec) -> SceneData:
    """Load the image and build the focus map, cropped to the sensor's aspect.  Raises UsageError."""
    try:
        with Image.open(spec.image) as im:
            rgb_im = im.convert("RGB")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{spec.image}: cannot read scene image ({exc})") from None
    w, h = rgb_im.size
    rgb = np.asarray(rgb_im, dtype=np.uint8)
    smooth = spec.map_path is not None
    if spec.map_path is not None:
        focus = _load_map(spec, (w, h))
    else:
        assert spec.depth.focus_at is not None
        focus = np.full((h, w), spec.depth.focus_at, np.float32)
    for r in spec.depth.region:
        x0, y0, x1, y1 = r.box
        focus[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)] = r.focus_at
    # Crop to the sensor's aspect ("scaled to fill the view").
    sw, sh = spec.optics.capture
    aspect = sw / sh
    if w / h > aspect:
        cw, ch = round(h * aspect), h
    else:
        cw, ch = w, round(w / aspect)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    rgb = np.ascontiguousarray(rgb[y0 : y0 + ch, x0 : x0 + cw])
    focus = np.ascontiguousarray(focus[y0 : y0 + ch, x0 : x0 + cw])
    # Not clipped to the motor's range: an object nearer than the lens can focus stays soft.
    return SceneData(spec=spec, rgb=rgb, focus=focus, smooth_depth=smooth)
