"""Shot files on the controller host: names, atomic writes, manifests, sharpness.  No sockets.

- :func:`next_dir` picks ``DIR/<prefix>-NNN`` (the next free number).
- :func:`write_file` writes bytes atomically and returns their sha256, so a manifest
  always describes the bytes on disk, not what the node said it sent.
- :func:`sharpness` scores a full-resolution capture in a region with the controller's
  default focus measure, decoded at a scale that keeps the capture near live-view width.
- :func:`judge` compares a capture's sharpness with the camera's reference (see
  docs/rig.md, "Is the shot as sharp as promised?").

Errors: :func:`sharpness` raises ``ValueError`` for bytes that are not a JPEG.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller import measures
from controller.observe import score_region

LIVEVIEW_WIDTH = 960  # captures are scored at about this width (DCT scaling)
SHARP_ENOUGH = 0.8  # a capture scoring below this fraction of its reference is flagged


def ext_for(name: str, mime: str) -> str:
    """The file extension of a shot: the camera's own, else from the mime type."""
    ext = os.path.splitext(name)[1].lower()
    if ext and len(ext) <= 6:
        return ext
    return mimetypes.guess_extension(mime or "") or ".bin"


def next_dir(out: Path, prefix: str) -> Path:
    """A new directory ``out/<prefix>-NNN``.  Raises OSError."""
    out.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        d = out / f"{prefix}-{n:03d}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            n += 1


def write_file(path: Path, data: bytes) -> str:
    """Write ``data`` atomically; its sha256 (hex).  Raises OSError."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return hashlib.sha256(data).hexdigest()


def write_manifest(directory: Path, manifest: dict[str, Any]) -> Path:
    path = directory / "manifest.json"
    write_file(path, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode())
    return path


def _scale_for(data: bytes) -> int:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        width = im.size[0]
    scale = 1
    while scale < 8 and width / (scale * 2) >= LIVEVIEW_WIDTH:
        scale *= 2
    return scale


def sharpness(data: bytes, roi: Sequence[float]) -> float:
    """The focus measure of ``roi`` (fractions) in a capture.  Raises ValueError."""
    return score_region(data, roi, scale=_scale_for(data), measure=measures.DEFAULT)[0]


def judge(value: float, reference: dict[str, Any] | None, roi: Sequence[float]) -> dict[str, Any]:
    """``ratio`` to the camera's reference capture and ``flag`` (True: less sharp than
    promised); ``flag`` is None when there is no reference for this region."""
    if reference is None or list(reference.get("roi") or []) != [float(v) for v in roi]:
        return {"reference": None, "ratio": None, "flag": None}
    ref = float(reference["sharpness"])
    ratio = value / ref if ref > 0 else None
    return {
        "reference": ref,
        "ratio": None if ratio is None else round(ratio, 4),
        "flag": None if ratio is None else ratio < SHARP_ENOUGH,
    }
