"""What the node reads of a JPEG without decoding it: its size, from the SOF marker.

The node never decodes a frame; walking the marker segments up to the first SOFn is a
few dozen byte reads, whatever the image size.
"""

from __future__ import annotations

# SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length


def jpeg_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """``(width, height)`` from the first SOF segment, or None when ``data`` is not a JPEG."""
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    i = 2
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _NO_LENGTH:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any SOF
            return None
        length = (data[i + 2] << 8) | data[i + 3]
        if marker in _SOF:
            if i + 9 > n:
                return None
            h = (data[i + 5] << 8) | data[i + 6]
            w = (data[i + 7] << 8) | data[i + 8]
            return (w, h) if w and h else None
        if length < 2:
            return None
        i += 2 + length
    return None
