"""Reduced-resolution frames for grid tiles: made lazily, once, off the event loop.

:func:`scale_jpeg` decodes a camera's JPEG at 1/2, 1/4 or 1/8 inside libjpeg (Pillow's
``Image.draft``) and encodes that again with the camera's own quantization tables.  No
other resampling: the browser scales the rest.  It raises :class:`BadFrame` for bytes it
cannot decode.

:class:`FrameScaler` is the one cache of the viewer.  A scaled frame is made at most once
per (camera, frame, scale), only when a client asks for it, on a small thread pool so the
event loop never decodes; every client that asks for the same one gets the same job.  Only
the last :data:`KEEP_FRAMES` frames of each camera are remembered (clients only ever ask
for the newest frame there is).  A frame that cannot be decoded resolves to ``None``: the
asking client skips it, and the original stays available to everyone else.

Exceptions::

    Exception
    └── BadFrame      the bytes are not a JPEG that libjpeg can decode
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import time
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

from PIL import Image

from viewer.feeds import Frame
from viewer.scale import SCALES, scaled_size

log = logging.getLogger(__name__)

# One thread: scaling costs at most one core however fast the clients are.  At 2-4 ms a
# frame that is 250-500 scaled frames/s across all cameras; beyond that tiles get fewer
# frames (each page still gets the newest one), where two threads would take the 2 cores
# the viewer shares with everything else on its host.
WORKERS = 1
KEEP_FRAMES = 2  # per camera: the newest frame, and the one a slow client may still be on
FALLBACK_QUALITY = 85  # when the camera's JPEG carries no quantization tables to keep


class BadFrame(Exception):
    """The frame's bytes could not be decoded as a JPEG."""


@dataclass(frozen=True, slots=True)
class ScaledJpeg:
    """A frame decoded at ``1/denom`` and encoded again."""

    jpeg: bytes
    w: int
    h: int
    denom: int
    cpu_s: float  # the decode and encode, in the worker thread's CPU time

    @property
    def scale(self) -> float:
        return 1.0 / self.denom


def scale_jpeg(jpeg: bytes, denom: int) -> ScaledJpeg:
    """``jpeg`` decoded at ``1/denom`` by libjpeg and encoded as a JPEG again.

    Raises BadFrame when the bytes are not a JPEG that decodes, ValueError for a
    denominator other than 2, 4 or 8 (scale 1 is the original bytes: nothing to make).
    """
    if denom not in SCALES[1:]:
        raise ValueError(f"scale 1/{denom}: only 1/2, 1/4 and 1/8 are made")
    t0 = time.thread_time()
    try:
        im = Image.open(io.BytesIO(jpeg), formats=["JPEG"])
        w, h = im.size
        # draft picks the largest reduction that keeps at least the size asked for; asking
        # for the floor of each side makes that exactly 1/denom (libjpeg rounds up).
        im.draft("YCbCr" if im.mode == "RGB" else im.mode, (max(1, w // denom), max(1, h // denom)))
        im.load()
        out = io.BytesIO()
        quality: int | str = "keep" if getattr(im, "quantization", None) else FALLBACK_QUALITY
        im.save(out, "JPEG", quality=quality)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise BadFrame(f"cannot decode the frame: {exc}") from None
    sw, sh = im.size
    # a frame narrower than 8 px cannot shrink by 8: say the scale libjpeg really applied
    done = next((d for d in SCALES if scaled_size(w, h, d) == (sw, sh)), denom)
    return ScaledJpeg(out.getvalue(), sw, sh, done, time.thread_time() - t0)


def _scale_or_none(jpeg: bytes, denom: int) -> ScaledJpeg | BadFrame:
    try:
        return scale_jpeg(jpeg, denom)
    except BadFrame as exc:
        return exc


@dataclass(slots=True)
class ScalerStats:
    """What the scaler has done since the viewer started (``/api/state`` shows it)."""

    made: int = 0  # scaled frames made
    failed: int = 0  # frames that could not be decoded
    cpu_s: float = 0.0  # CPU time of all decodes and encodes
    by_denom: dict[int, int] = field(default_factory=dict)  # scaled frames made, by denominator

    def to_json(self) -> dict[str, object]:
        return {
            "made": self.made,
            "failed": self.failed,
            "cpu_s": round(self.cpu_s, 4),
            "by_scale": {f"1/{d}": n for d, n in sorted(self.by_denom.items())},
        }


Job = asyncio.Future[ScaledJpeg | BadFrame]


class FrameScaler:
    """Scaled frames by (camera, frame, scale), each made once, on a small thread pool."""

    def __init__(self, executor: Executor | None = None) -> None:
        self._own = executor is None
        self.executor: Executor = executor or ThreadPoolExecutor(WORKERS, thread_name_prefix="viewer-scale")
        self._recent: dict[str, deque[tuple[Frame, dict[int, Job]]]] = {}
        self.stats = ScalerStats()

    def request(self, camera: str, frame: Frame, denom: int) -> Job:
        """The job making ``frame`` at ``1/denom``: started now, or the one already running or done.

        Its result is a :class:`ScaledJpeg`, or the :class:`BadFrame` that stopped it (as a
        value, not raised).  Must be called on the event loop.  Raises RuntimeError after
        :meth:`close`.
        """
        recent = self._recent.setdefault(camera, deque(maxlen=KEEP_FRAMES))
        jobs = next((j for f, j in recent if f is frame), None)
        if jobs is None:
            jobs = {}
            recent.append((frame, jobs))
        job = jobs.get(denom)
        if job is None:
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(self.executor, _scale_or_none, frame.jpeg, denom)
            job.add_done_callback(functools.partial(self._count, camera=camera, seq=frame.seq))
            jobs[denom] = job
        return job

    async def get(self, camera: str, frame: Frame, denom: int) -> ScaledJpeg | None:
        """The scaled frame, waiting for it; None when the frame cannot be decoded."""
        return outcome(await asyncio.shield(self.request(camera, frame, denom)))

    def _count(self, job: Job, camera: str, seq: int) -> None:
        if job.cancelled() or job.exception() is not None:
            return
        result = job.result()
        if isinstance(result, BadFrame):
            self.stats.failed += 1
            log.info("camera %s frame %d: %s; sent unscaled only", camera, seq, result)
            return
        self.stats.made += 1
        self.stats.cpu_s += result.cpu_s
        self.stats.by_denom[result.denom] = self.stats.by_denom.get(result.denom, 0) + 1

    def close(self) -> None:
        """Stop the pool (jobs not started are dropped) if this scaler made it."""
        self._recent.clear()
        if self._own:
            self.executor.shutdown(wait=False, cancel_futures=True)


def outcome(result: ScaledJpeg | BadFrame) -> ScaledJpeg | None:
    return result if isinstance(result, ScaledJpeg) else None


def job_outcome(job: Job) -> ScaledJpeg | None:
    """A finished job's scaled frame; None when it failed, was cancelled or raised."""
    if job.cancelled() or job.exception() is not None:
        return None
    return outcome(job.result())
