"""viewer.scaler: JPEGs decoded at a DCT scale, and the cache that makes each one once."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

import pytest
from PIL import Image

from tests.viewer.fakes import make_jpeg
from viewer import scaler as scaler_mod
from viewer.feeds import Frame
from viewer.scale import scaled_size
from viewer.scaler import BadFrame, FrameScaler, ScaledJpeg, scale_jpeg


def size_of(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as im:
        im.load()  # the whole image decodes
        return im.size


def frame(seq: int, jpeg: bytes, w: int = 960, h: int = 640) -> Frame:
    return Frame({"seq": seq, "w": w, "h": h}, jpeg, 0.0, 0.0, None)


@pytest.mark.parametrize(
    ("size", "denom", "want"),
    [
        ((960, 640), 2, (480, 320)),
        ((960, 640), 4, (240, 160)),
        ((960, 640), 8, (120, 80)),
        ((1001, 667), 8, (126, 84)),  # libjpeg rounds up
        ((1001, 667), 4, (251, 167)),
        ((17, 9), 8, (3, 2)),
        ((5, 5), 8, (2, 2)),  # libjpeg shrinks a 5-px frame by 4 at most: the result says 1/4
    ],
)
def test_scale_jpeg_decodes_at_the_dct_scale(
    size: tuple[int, int], denom: int, want: tuple[int, int]
) -> None:
    out = scale_jpeg(make_jpeg(3, *size), denom)
    assert (out.w, out.h) == want
    assert size_of(out.jpeg) == want
    assert scaled_size(*size, out.denom) == want and out.scale == 1 / out.denom
    assert out.denom == (denom if size != (5, 5) else 4) and out.cpu_s >= 0


def test_scale_jpeg_keeps_grey_frames_grey() -> None:
    buf = io.BytesIO()
    Image.new("L", (960, 640), 90).save(buf, "JPEG", quality=90)
    out = scale_jpeg(buf.getvalue(), 4)
    with Image.open(io.BytesIO(out.jpeg)) as im:
        assert (im.mode, im.size) == ("L", (240, 160))


def test_scale_jpeg_keeps_the_picture() -> None:
    src = make_jpeg(5, 960, 640)
    small = Image.open(io.BytesIO(scale_jpeg(src, 4).jpeg)).convert("RGB")
    ref = Image.open(io.BytesIO(src)).convert("RGB").resize((240, 160), Image.Resampling.BOX)
    diff = sum(abs(a - b) for a, b in zip(small.tobytes(), ref.tobytes(), strict=True)) / (240 * 160 * 3)
    assert diff < 6, diff  # mean absolute difference per channel, of 255


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a jpeg at all",
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # a JPEG start, then nonsense
        make_jpeg(1, 960, 640)[:3000],  # cut short
    ],
)
def test_scale_jpeg_raises_bad_frame_for_what_does_not_decode(data: bytes) -> None:
    with pytest.raises(BadFrame):
        scale_jpeg(data, 2)


def test_scale_jpeg_refuses_a_png() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "PNG")
    with pytest.raises(BadFrame):
        scale_jpeg(buf.getvalue(), 2)


@pytest.mark.parametrize("denom", [1, 3, 16])
def test_scale_jpeg_only_makes_reduced_scales(denom: int) -> None:
    with pytest.raises(ValueError):
        scale_jpeg(make_jpeg(1), denom)


def counting(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> list[tuple[int, int]]:
    """Count the real scale_jpeg calls as (len(jpeg), denom), each taking ``delay`` longer."""
    calls: list[tuple[int, int]] = []
    real = scaler_mod.scale_jpeg

    def spy(jpeg: bytes, denom: int) -> ScaledJpeg:
        calls.append((len(jpeg), denom))
        time.sleep(delay)
        return real(jpeg, denom)

    monkeypatch.setattr(scaler_mod, "scale_jpeg", spy)
    return calls


def test_one_job_per_frame_and_scale_however_many_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting(monkeypatch, delay=0.05)

    async def go() -> None:
        s = FrameScaler()
        a, b = frame(1, make_jpeg(1, 960, 640)), frame(2, make_jpeg(2, 960, 640))
        try:
            # eight clients at once on frame a at 1/4, two on 1/2, two on frame b
            got = await asyncio.gather(
                *[s.get("cam1", a, 4) for _ in range(8)],
                s.get("cam1", a, 2),
                s.get("cam1", a, 2),
                s.get("cam1", b, 4),
                s.get("cam1", b, 4),
            )
            again = await s.get("cam1", a, 4)  # later: the one made before
        finally:
            s.close()
        made = [g for g in got if isinstance(g, ScaledJpeg)]
        assert len(made) == len(got)
        assert len({id(g) for g in made[:8]}) == 1 and again is made[0]
        assert [(g.w, g.h) for g in made[7:]] == [(240, 160), (480, 320), (480, 320), (240, 160), (240, 160)]
        assert sorted(d for _, d in calls) == [2, 4, 4]  # a at 1/4, a at 1/2, b at 1/4
        assert s.stats.made == 3 and s.stats.by_denom == {2: 1, 4: 2}

    asyncio.run(go())


def test_the_event_loop_runs_while_frames_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decode runs on the pool's threads, never on the loop's."""
    threads: list[str] = []
    real = scaler_mod.scale_jpeg

    def spy(jpeg: bytes, denom: int) -> ScaledJpeg:
        threads.append(threading.current_thread().name)
        time.sleep(0.3)
        return real(jpeg, denom)

    monkeypatch.setattr(scaler_mod, "scale_jpeg", spy)

    async def go() -> None:
        s = FrameScaler()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            job = s.request("cam1", frame(1, make_jpeg(1, 960, 640)), 2)
            assert not job.done()  # handed to the pool, not made on the spot
            await job
        finally:
            ticker.cancel()
            s.close()
        assert ticks >= 5  # the loop kept turning during the 0.3 s job
        assert threads and all(t.startswith("viewer-scale") for t in threads)

    asyncio.run(go())


def test_a_frame_that_does_not_decode_resolves_to_none_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = counting(monkeypatch)

    async def go() -> None:
        s = FrameScaler()
        bad = frame(7, b"\xff\xd8 garbage")
        try:
            got = await asyncio.gather(*[s.get("cam1", bad, 4) for _ in range(3)])
        finally:
            s.close()
        assert got == [None, None, None]
        assert len(calls) == 1 and s.stats.failed == 1 and s.stats.made == 0

    with caplog.at_level("DEBUG"):
        asyncio.run(go())
    assert all(r.exc_info is None for r in caplog.records)
    assert "Traceback" not in caplog.text


def test_only_the_latest_frames_of_each_camera_are_kept() -> None:
    async def go() -> None:
        s = FrameScaler()
        jpeg = make_jpeg(1, 96, 64)
        frames = [frame(i, jpeg, 96, 64) for i in range(5)]
        try:
            for f in frames:
                await s.get("cam1", f, 2)
                await s.get("cam2", f, 2)
            kept: dict[str, Any] = {cam: [f.seq for f, _ in d] for cam, d in s._recent.items()}
        finally:
            s.close()
        assert kept == {"cam1": [3, 4], "cam2": [3, 4]}

    asyncio.run(go())
