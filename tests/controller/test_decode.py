"""controller.decode: region cut-out, DCT-domain scaling, agreement with the full-decode reference."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from controller import decode, measures


def _jpeg(w: int = 960, h: int = 640, quality: int = 90) -> bytes:
    yy, xx = np.mgrid[0:h, 0:w]
    r = (xx * 255 // (w - 1)).astype(np.uint8)
    g = (yy * 255 // (h - 1)).astype(np.uint8)
    b = (((xx // 16 + yy // 16) % 2) * 200).astype(np.uint8)  # a checkerboard for detail
    buf = io.BytesIO()
    Image.fromarray(np.dstack([r, g, b])).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


JPEG = _jpeg()


@pytest.mark.parametrize(
    ("view", "roi", "min_side", "scale"),
    [
        ((960, 640), (0.0, 0.0, 1.0, 1.0), None, 1),
        ((960, 640), (0.0, 0.0, 1.0, 1.0), 96, 4),  # 640 / 4 = 160 >= 96, / 8 = 80 < 96
        ((960, 640), (0.4, 0.4, 0.1, 0.1), 96, 1),  # 64 px short side: no room to shrink
        ((960, 640), (0.25, 0.25, 0.5, 0.5), 64, 4),  # 320 / 4 = 80
        ((960, 640), (0.0, 0.0, 1.0, 1.0), 16, 8),
    ],
)
def test_pick_scale(view: tuple[int, int], roi: decode.Roi, min_side: int | None, scale: int) -> None:
    assert decode.pick_scale(view, roi, min_side) == scale


@pytest.mark.parametrize(
    ("roi", "min_side", "shape"),
    [
        ((0.0, 0.0, 1.0, 1.0), None, (640, 960)),
        ((0.0, 0.0, 1.0, 1.0), 96, (160, 240)),
        ((0.25, 0.5, 0.5, 0.25), None, (160, 480)),
        ((0.25, 0.5, 0.5, 0.25), 80, (80, 240)),
        ((0.4, 0.4, 0.1, 0.1), 96, (64, 96)),
    ],
)
def test_roi_shapes(roi: decode.Roi, min_side: int | None, shape: tuple[int, int]) -> None:
    g = decode.roi_gray(JPEG, roi, min_side=min_side)
    assert g.dtype == np.uint8 and g.shape == shape


def test_full_scale_matches_reference() -> None:
    roi = (0.1, 0.2, 0.3, 0.4)
    fast = decode.roi_gray(JPEG, roi, min_side=None).astype(float)
    ref = decode.roi_gray_reference(JPEG, roi).astype(float)
    assert fast.shape == ref.shape
    assert np.abs(fast - ref).mean() < 1.0  # luma straight from libjpeg vs colour then convert


def test_region_is_where_it_should_be() -> None:
    # Red grows left to right, green top to bottom: a region's mean luma tracks its place.
    left = decode.roi_gray(JPEG, (0.0, 0.3, 0.2, 0.2), min_side=None).mean()
    right = decode.roi_gray(JPEG, (0.8, 0.3, 0.2, 0.2), min_side=None).mean()
    assert right > left + 20


def test_scaled_decode_close_to_reference_and_measure_order_kept() -> None:
    roi = (0.0, 0.0, 1.0, 1.0)
    fast = decode.roi_gray(JPEG, roi, min_side=160)
    ref = decode.roi_gray_reference(JPEG, roi, scale=4)
    assert fast.shape == ref.shape == (160, 240)
    assert np.abs(fast.astype(float) - ref.astype(float)).mean() < 4.0
    soft = io.BytesIO()
    Image.open(io.BytesIO(JPEG)).resize((240, 160)).resize((960, 640)).save(soft, "JPEG", quality=90)
    blurred = decode.roi_gray(soft.getvalue(), roi, min_side=160)
    assert measures.tenengrad(fast) > measures.tenengrad(blurred)


@pytest.mark.parametrize("roi", [(0.5, 0.5, 0.6, 0.1), (0, 0, 0, 0.5), (-0.1, 0, 0.5, 0.5), (0.1, 0.1, 0.1)])
def test_bad_roi(roi: decode.Roi) -> None:
    with pytest.raises(ValueError, match="region"):
        decode.roi_gray(JPEG, roi)


def test_bad_bytes() -> None:
    with pytest.raises(ValueError, match="JPEG"):
        decode.roi_gray(b"not a jpeg", (0, 0, 1, 1))
    png = io.BytesIO()
    Image.new("L", (8, 8)).save(png, "PNG")
    with pytest.raises(ValueError, match="not a JPEG"):
        decode.roi_gray(png.getvalue(), (0, 0, 1, 1))
    with pytest.raises(ValueError, match="JPEG"):
        decode.roi_gray(JPEG[: len(JPEG) // 3], (0, 0, 1, 1))


@pytest.mark.parametrize(
    ("roi", "scale", "shape"),
    [
        ((0.0, 0.0, 1.0, 1.0), 8, (80, 120)),
        ((0.0, 0.0, 1.0, 1.0), 2, (320, 480)),
        ((0.4, 0.4, 0.1, 0.1), 8, (8, 12)),  # 64 px short side: 1/8 leaves 8
        ((0.45, 0.45, 0.05, 0.05), 8, (8, 12)),  # 32 px: clamped to 1/4 (8 px)
        ((0.45, 0.45, 0.05, 0.05), 2, (16, 24)),
    ],
)
def test_explicit_scale(roi: decode.Roi, scale: int, shape: tuple[int, int]) -> None:
    assert decode.roi_gray(JPEG, roi, scale=scale).shape == shape


def test_explicit_scale_must_be_a_dct_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        decode.roi_gray(JPEG, (0, 0, 1, 1), scale=3)


REGIONS = [
    (0.0, 0.0, 1.0, 1.0),
    (0.1, 0.2, 0.3, 0.4),
    (0.0, 0.0, 0.2, 0.05),
    (0.6, 0.9, 0.4, 0.1),
    (0.5, 0.49, 0.01, 0.02),
    (0.0, 0.999, 1.0, 0.001),
]


@pytest.mark.parametrize("roi", REGIONS)
@pytest.mark.parametrize("scale", decode.SCALES)
def test_decoding_only_the_rows_needed_gives_the_same_pixels(
    roi: decode.Roi, scale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = decode.roi_gray(JPEG, roi, scale=scale)
    monkeypatch.setattr(decode, "_decode_rows", lambda *a: False)  # decode the whole frame
    assert np.array_equal(rows, decode.roi_gray(JPEG, roi, scale=scale))


def test_decoding_stops_after_the_regions_last_row() -> None:
    # data cut after 60 %: a region in the top third is whole (so nothing below it was
    # needed); one at the bottom is not there, which is an error, never made-up pixels
    cut = JPEG[: len(JPEG) * 6 // 10]
    top = (0.1, 0.05, 0.3, 0.25)
    assert np.array_equal(decode.roi_gray(cut, top, scale=2), decode.roi_gray(JPEG, top, scale=2))
    with pytest.raises(ValueError, match="JPEG"):
        decode.roi_gray(cut, (0.1, 0.8, 0.3, 0.2), scale=2)


def test_progressive_jpegs_are_decoded_whole() -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(JPEG)).save(buf, "JPEG", quality=90, progressive=True)
    prog = buf.getvalue()
    im = Image.open(io.BytesIO(prog))
    assert isinstance(im, ImageFile.ImageFile)
    assert decode._decode_rows(im, prog, 10) is False  # rows are final only after the last scan
    roi = (0.1, 0.1, 0.3, 0.3)
    assert decode.roi_gray(prog, roi, scale=2).shape == decode.roi_gray(JPEG, roi, scale=2).shape
