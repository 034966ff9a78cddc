"""The node reads a JPEG's size from its SOF marker, without decoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from camera_node.jpeg import jpeg_size


@pytest.mark.parametrize(("w", "h", "progressive"), [(960, 640, False), (1, 1, False), (5184, 3456, True)])
def test_size_from_sof(w: int, h: int, progressive: bool) -> None:
    buf = io.BytesIO()
    Image.new("L", (w, h)).save(buf, "JPEG", progressive=progressive)
    assert jpeg_size(buf.getvalue()) == (w, h)


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xd8", b"GIF89a....", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\xff\xda"]
)
def test_not_a_jpeg(data: bytes) -> None:
    assert jpeg_size(data) is None
