"""Which JPEG DCT scale a grid tile needs.  Pure: no Pillow, no IO.

libjpeg can decode a JPEG at 1/1, 1/2, 1/4 or 1/8 of its size for little more than the
cost of reading its entropy-coded data (Pillow's ``Image.draft``).  A tile ``tile_px``
device pixels wide needs no more than that: the viewer sends it the *smallest* of those
scales whose width is still at least ``tile_px``, and the browser scales the rest.  Scale
1 means the camera's own bytes, untouched.

A scale is given by its denominator ``d`` (1, 2, 4 or 8): the image is ``1/d`` of the
frame's size, rounded up as libjpeg rounds it (``ceil(w / d)``).
"""

from __future__ import annotations

SCALES = (1, 2, 4, 8)  # denominators libjpeg decodes at, full size first


def scaled_size(w: int, h: int, denom: int) -> tuple[int, int]:
    """The size libjpeg decodes a ``w`` x ``h`` JPEG to at ``1/denom``: ``ceil`` of each side.

    Raises ValueError for a denominator not in :data:`SCALES` or a size that is not positive.
    """
    if denom not in SCALES:
        raise ValueError(f"scale 1/{denom} is not one of 1/{', 1/'.join(map(str, SCALES))}")
    if w <= 0 or h <= 0:
        raise ValueError(f"frame size {w}x{h} is not positive")
    return -(-w // denom), -(-h // denom)


def choose_scale(tile_px: int | None, frame_w: int | None) -> int:
    """The largest denominator ``d`` in :data:`SCALES` with ``ceil(frame_w / d) >= tile_px``.

    1 (the original frame) when the tile's width is not known (``None``), when the frame's
    width is not known, or when the tile is at least as wide as the frame.  Never raises:
    a width that is not positive counts as unknown.
    """
    if tile_px is None or frame_w is None or tile_px <= 0 or frame_w <= 0:
        return 1
    best = 1
    for d in SCALES:
        if -(-frame_w // d) >= tile_px:
            best = d
    return best
