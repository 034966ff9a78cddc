"""From a frame's JPEG bytes to the grayscale region a focus measure reads.

Nodes publish the camera's JPEG untouched; the controller decodes only what it needs:

- only the luma channel (Pillow's ``draft("L", ...)`` makes libjpeg skip the colour
  conversion);
- at a reduced scale when the region is large: libjpeg scales by 1/2, 1/4 or 1/8 in the
  DCT domain, which is several times faster than decoding every pixel and then shrinking;
- only down to the region's last row: a baseline JPEG is decoded top to bottom, so the
  data is fed to libjpeg a piece at a time and decoding stops once that row is written
  (:func:`_decode_rows`; the rows above must still be entropy-decoded, so a region near
  the bottom saves little);
- then only the region is cut out.

Not pure with respect to Pillow (it calls libjpeg) but there is no IO: bytes in, array out.

Regions are ``(x, y, w, h)`` fractions of the current view, as on the wire.

Errors: :func:`roi_gray` and :func:`roi_gray_reference` raise ``ValueError`` for a region
outside the unit square or of zero size, and for bytes that are not a decodable JPEG.
"""

from __future__ import annotations

import io
import math

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile

Roi = tuple[float, float, float, float]
SCALES = (1, 2, 4, 8)


def check_roi(roi: Roi) -> Roi:
    """``roi`` as a tuple of floats; raises ``ValueError`` unless it lies in the unit square."""
    if len(roi) != 4:
        raise ValueError(f"a region is [x, y, w, h], got {list(roi)}")
    x, y, w, h = (float(v) for v in roi)
    if not (w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 1.0 + 1e-9 and y + h <= 1.0 + 1e-9):
        raise ValueError(f"a region is [x, y, w, h] fractions with w, h > 0 inside [0, 1], got {list(roi)}")
    return (x, y, w, h)


def pick_scale(view: tuple[int, int], roi: Roi, min_side: int | None) -> int:
    """The largest DCT reduction (1, 2, 4, 8) that leaves the region ``min_side`` pixels on its short side."""
    if min_side is None:
        return 1
    w, h = view
    short = min(roi[2] * w, roi[3] * h)
    best = 1
    for s in SCALES:
        if short / s >= min_side:
            best = s
    return best


def _box(size: tuple[int, int], roi: Roi) -> tuple[int, int, int, int]:
    w, h = size
    x0 = math.floor(roi[0] * w)
    y0 = math.floor(roi[1] * h)
    x1 = max(x0 + 1, min(w, math.ceil((roi[0] + roi[2]) * w)))
    y1 = max(y0 + 1, min(h, math.ceil((roi[1] + roi[3]) * h)))
    return (x0, y0, x1, y1)


def _open(jpeg: bytes) -> ImageFile.ImageFile:
    try:
        im = Image.open(io.BytesIO(jpeg))
    except Exception as exc:  # Pillow raises several types for bad bytes
        raise ValueError(f"not a decodable JPEG: {exc}") from None
    if im.format != "JPEG":
        raise ValueError(f"not a JPEG but {im.format}")
    return im


MIN_SIDE_FLOOR = 8
FIRST_FEED = 0.85  # of the share of the data the rows wanted are expected to need
FEED_BYTES = 2048  # then this much more at a time until the last row wanted is written
PROBES = 8  # pixels looked at to see whether a row has been written


def _row_written(im: Image.Image, y: int) -> bool:
    """Whether row ``y`` of a freshly allocated (zeroed) image holds decoded pixels.  A row
    the JPEG makes black at every probe reads as not yet written: decoding then just goes on."""
    w = im.size[0]
    core = im.im
    return any(core.getpixel(((w - 1) * k // (PROBES - 1), y)) for k in range(PROBES))


def _decode_rows(im: ImageFile.ImageFile, jpeg: bytes, rows: int) -> bool:
    """Decode the opened (and drafted) ``im`` from ``jpeg`` until its first ``rows`` rows
    are written.  False, having decoded nothing, when the file is not one this can be done
    to (several tiles, progressive); the caller then loads it whole.  Raises ValueError for
    undecodable bytes."""
    if len(im.tile) != 1 or im.info.get("progressive") or im.info.get("progression"):
        return False
    codec, extents, offset, args = im.tile[0]
    if codec != "jpeg" or rows <= 0:
        return False
    im.load_prepare()
    decoder = Image._getdecoder(im.mode, codec, args, im.decoderconfig)
    try:
        decoder.setimage(im.im, extents)
        data = memoryview(jpeg)[offset:]
        want = rows / max(1, im.size[1])
        end = min(len(data), int(len(data) * want * FIRST_FEED) + FEED_BYTES)
        pending = bytes(data[:end])
        while True:
            n, err = decoder.decode(pending)
            if n < 0:  # the whole image is decoded (or the data ended)
                if err < 0:
                    raise ValueError(f"not a decodable JPEG (decoder error {err})")
                break
            pending = pending[n:]
            if _row_written(im, rows - 1):
                break
            if end >= len(data):  # no more data, and the row is not written: truncated
                raise ValueError("not a decodable JPEG: the data ends before the region")
            pending += bytes(data[end : end + FEED_BYTES])
            end += FEED_BYTES
    finally:
        decoder.cleanup()
    im.tile = []
    return True


def roi_gray(
    jpeg: bytes, roi: Roi, *, min_side: int | None = 96, scale: int | None = None
) -> npt.NDArray[np.uint8]:
    """The region of ``jpeg`` as a uint8 luma array.

    Decoded at DCT ``scale`` (1, 2, 4, 8) if given, reduced as needed to keep at least
    8 pixels on the region's short side; otherwise at the coarsest scale that keeps
    ``min_side`` pixels there (``None``: full resolution).
    """
    roi = check_roi(roi)
    if scale is not None and scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")
    src = _open(jpeg)
    if scale is None:
        scale = pick_scale(src.size, roi, min_side)
    else:
        scale = min(scale, pick_scale(src.size, roi, MIN_SIDE_FLOOR))
    src.draft("L", (max(1, -(-src.size[0] // scale)), max(1, -(-src.size[1] // scale))))
    box = _box(src.size, roi)
    im: Image.Image = src
    try:
        if not (src.mode == "L" and _decode_rows(src, jpeg, box[3])):
            im = src.convert("L") if src.mode != "L" else src
            im.load()
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"not a decodable JPEG: {exc}") from None
    return np.asarray(im.crop(box), dtype=np.uint8)


def roi_gray_reference(jpeg: bytes, roi: Roi, *, scale: int = 1) -> npt.NDArray[np.uint8]:
    """The slow reference: decode every pixel in colour, convert to luma, shrink by box
    averaging if ``scale`` > 1, then crop.  For comparing against :func:`roi_gray`."""
    roi = check_roi(roi)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")
    src = _open(jpeg)
    try:
        src.load()
    except Exception as exc:
        raise ValueError(f"not a decodable JPEG: {exc}") from None
    im = src.convert("L")
    if scale > 1:
        im = im.reduce(scale)
    return np.asarray(im.crop(_box(im.size, roi)), dtype=np.uint8)
