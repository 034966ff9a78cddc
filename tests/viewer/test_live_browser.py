"""The viewer in a real headless Chromium, against real sim nodes and the real controller.

One rig for the module: three `tetherfocus node --camera sim:SCENE` processes, `tetherfocus
controller` and `tetherfocus viewer`, all on loopback ports chosen by the OS.  Chromium is
Debian's (/usr/bin/chromium), driven through Playwright's Python API; ffprobe reads the
MJPEG stream.  The grid screenshot goes to docs/img/viewer-grid.png for the README.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.viewer.liveproc import ROOT, LiveRig, start_rig

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT = ROOT / "docs" / "img" / "viewer-grid.png"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRig]:
    r = start_rig(tmp_path_factory.mktemp("rig"), 3)
    yield r
    r.stop(timeout=5)  # the viewer's own clean exit is asserted below


@pytest.fixture(scope="module")
def page(rig: LiveRig) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (./dev test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1440, "height": 1000})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(rig.url)
        yield pg
        browser.close()
        assert errors == [], errors


def api_state(rig: LiveRig) -> dict[str, Any]:
    with urllib.request.urlopen(rig.url + "api/state", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def tile(name: str) -> str:
    return f"#tile-{name}"


def test_frames_arrive_in_every_tile(rig: LiveRig, page: Any) -> None:
    page.wait_for_function(
        """names => names.every(n => {
             const t = document.querySelector('#tile-' + n);
             return t && Number(t.dataset.frames) >= 5 && t.dataset.histogram === '1';
           })""",
        arg=rig.names,
        timeout=30_000,
    )
    tiles = page.eval_on_selector_all(".tile", "ts => ts.map(t => t.dataset.camera)")
    assert tiles == rig.names
    for name in rig.names:
        assert page.inner_text(f"{tile(name)} .label.state") == "liveview"
        assert page.inner_text(f"{tile(name)} .name") == name
        assert "fps" in page.inner_text(f"{tile(name)} .label.fps")
        # the tile shows a decoded frame, with an actual picture in it: at 1440 px three
        # tiles a row are under 480 device px wide, so the 960x640 frames come at 1/2
        shown = page.eval_on_selector(
            f"{tile(name)} canvas.frame",
            """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      const seen = new Set();
                      for (let i = 0; i < d.length; i += 4 * 997) seen.add(d[i] >> 3);
                      return [c.width, c.height, seen.size]; }""",
        )
        assert view_px(page, name) <= 480
        assert shown[:2] == [480, 320] and shown[2] > 8, shown
        assert "(1/2 of 960×640)" in page.inner_text(f"{tile(name)} .meta")


def view_px(page: Any, name: str) -> float:
    """The width of a camera's view in device pixels, as the page declares it."""
    return float(
        page.eval_on_selector(
            f"{tile(name)} .view", "v => v.getBoundingClientRect().width * devicePixelRatio"
        )
    )


def frame_widths(page: Any, names: list[str]) -> dict[str, tuple[int, str]]:
    """Per camera: the width of the frame its tile drew last, and the scale it came at."""
    got = page.evaluate(
        "names => names.map(n => { const d = document.querySelector('#tile-' + n).dataset;"
        " return [Number(d.frameWidth), d.scale]; })",
        names,
    )
    return {n: (int(w), sc) for n, (w, sc) in zip(names, got, strict=True)}


def test_small_tiles_get_smaller_frames_and_a_large_tile_the_full_ones(rig: LiveRig, page: Any) -> None:
    names = rig.names
    assert all(view_px(page, n) < 960 for n in names)
    page.wait_for_function(
        "names => names.every(n => Number(document.querySelector('#tile-' + n).dataset.frameWidth) === 480)",
        arg=names,
        timeout=15_000,
    )
    assert frame_widths(page, names) == dict.fromkeys(names, (480, "0.5"))

    page.click(f"{tile('cam2')} button.large")  # cam2 across the whole grid
    assert view_px(page, "cam2") > 960
    page.wait_for_function(
        "() => Number(document.querySelector('#tile-cam2').dataset.frameWidth) === 960", timeout=15_000
    )
    frames_before = int(page.eval_on_selector(tile("cam2"), "t => Number(t.dataset.frames)"))
    page.wait_for_function(  # and they keep coming at that size
        "n => Number(document.querySelector('#tile-cam2').dataset.frames) >= n + 5",
        arg=frames_before,
        timeout=15_000,
    )
    widths = frame_widths(page, names)
    assert widths["cam2"] == (960, "1"), widths  # the camera's own JPEG, untouched
    assert widths["cam1"] == widths["cam3"] == (480, "0.5"), widths
    assert page.eval_on_selector(f"{tile('cam2')} canvas.frame", "c => [c.width, c.height]") == [960, 640]
    assert "(1/" not in page.inner_text(f"{tile('cam2')} .meta")

    page.click(f"{tile('cam2')} button.large")  # back into the grid: small frames again
    page.wait_for_function(
        "() => Number(document.querySelector('#tile-cam2').dataset.frameWidth) === 480", timeout=15_000
    )

    # a page opened with ?full asks for no reduced frames at all
    full = page.context.browser.new_page(viewport={"width": 1440, "height": 1000})
    full.goto(rig.url + "?full")
    full.wait_for_function(
        "names => names.every(n => Number(document.querySelector('#tile-' + n)?.dataset.frames) >= 3)",
        arg=names,
        timeout=30_000,
    )
    assert frame_widths(full, names) == dict.fromkeys(names, (960, "1"))
    assert full.evaluate("Object.keys(tf.stats.scales)") == ["1"]
    full.close()


def _frames(page: Any, name: str) -> int:
    return int(page.eval_on_selector(tile(name), "t => Number(t.dataset.frames || 0)"))


CAM1_GAINS = "([n, k]) => Number(document.querySelector('#tile-cam1').dataset.frames) >= n + k"


def test_tiles_off_screen_get_no_frames_until_scrolled_into_view(rig: LiveRig, page: Any) -> None:
    # One tile a row in a narrow window: cam1 is on screen, cam3 far below it.
    pg = page.context.browser.new_page(viewport={"width": 520, "height": 700})
    try:
        pg.goto(rig.url)
        pg.wait_for_function(
            "() => document.querySelector('#tile-cam3')?.dataset.paused === 'true'"
            " && Number(document.querySelector('#tile-cam1').dataset.frames) >= 3",
            timeout=30_000,
        )
        assert pg.eval_on_selector(tile("cam1"), "t => t.dataset.paused") == "false"
        # A frame already on its way may still land: wait until cam3's count has held still
        # for a whole second.
        seen = [_frames(pg, "cam3")]
        for _ in range(40):
            if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]:
                break
            pg.wait_for_timeout(500)
            seen.append(_frames(pg, "cam3"))
        last = seen[-1]
        cam1 = _frames(pg, "cam1")
        pg.wait_for_function(CAM1_GAINS, arg=[cam1, 5], timeout=30_000)  # cam1 streams on ...
        assert _frames(pg, "cam3") == last  # ... while cam3, off screen, gets nothing

        pg.locator(tile("cam3")).scroll_into_view_if_needed()
        pg.wait_for_function(
            "n => { const t = document.querySelector('#tile-cam3');"
            " return t.dataset.paused === 'false' && Number(t.dataset.frames) >= n + 3; }",
            arg=last,
            timeout=30_000,
        )
        assert pg.eval_on_selector(tile("cam1"), "t => t.dataset.paused") == "true"  # now cam1 is off

        pg.evaluate("tf.setAllTiles(true)")  # a wall display: every tile streams, seen or not
        cam1 = _frames(pg, "cam1")
        pg.wait_for_function(CAM1_GAINS, arg=[cam1, 3], timeout=30_000)
    finally:
        pg.close()


def test_drag_draws_the_focus_region(rig: LiveRig, page: Any) -> None:
    box = page.locator(f"{tile('cam2')} .view").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.15, y0 + box["height"] * 0.1, steps=5)
    page.mouse.move(x0 + box["width"] * 0.3, y0 + box["height"] * 0.2, steps=5)
    page.mouse.up()

    def roi_of(name: str) -> list[float]:
        return next(c["roi"] for c in api_state(rig)["cameras"] if c["name"] == name)

    page.wait_for_function(
        "() => document.querySelector('#tile-cam2 .msg').textContent.startsWith('focus region')"
    )
    x, y, w, h = roi_of("cam2")
    assert (x, y, w, h) == pytest.approx((0.2, 0.3, 0.3, 0.2), abs=0.02)  # the controller has it


def test_click_sets_focus_point_then_autofocus_draws_curve_and_result(rig: LiveRig, page: Any) -> None:
    view = page.locator(f"{tile('cam1')} .view")
    box = view.bounding_box()
    view.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})  # the chart's star centre
    page.wait_for_function(
        "() => document.querySelector('#tile-cam1 .msg').textContent.startsWith('focus region')"
    )
    x, y, w, h = next(c["roi"] for c in api_state(rig)["cameras"] if c["name"] == "cam1")
    assert (x + w / 2, y + h / 2) == pytest.approx((0.5, 0.5), abs=0.01)
    assert page.locator(f"{tile('cam1')} .roi").is_visible()

    page.click(f"{tile('cam1')} button[data-act=autofocus]")
    page.wait_for_function(
        "() => Number(document.querySelector('#tile-cam1').dataset.samples) >= 3", timeout=60_000
    )
    page.wait_for_function("() => document.querySelector('#tile-cam1').dataset.result !== ''", timeout=90_000)
    ds = page.eval_on_selector(tile("cam1"), "t => ({...t.dataset})")
    af = next(c["af"] for c in api_state(rig)["cameras"] if c["name"] == "cam1")
    assert af["result"] is not None and int(ds["samples"]) == len(af["samples"]) >= 3
    assert ds["result"] == "ok", af["result"]  # a flat chart focuses
    assert "focused at" in page.inner_text(f"{tile('cam1')} .msg")
    # one plane: the result says its parts focus together, and the message adds nothing
    assert af["result"]["spans_depth"] is False, af["result"]
    assert "spans depth" not in page.inner_text(f"{tile('cam1')} .msg")
    # the curve canvas shows the samples (blue-ish points) and the result line (green)
    drawn = page.eval_on_selector(
        f"{tile('cam1')} canvas.curve",
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let pts = 0, ok = 0;
                  for (let i = 0; i < d.length; i += 4) {
                    if (d[i + 2] > 200 && d[i] < 180) pts++;
                    if (d[i + 1] > 180 && d[i] < 100 && d[i + 2] < 140) ok++;
                  }
                  return {pts, ok}; }""",
    )
    assert drawn["pts"] > 20 and drawn["ok"] > 10, drawn

    # Refocus: the controller remembers that landing on this region, and starts from it
    page.click(f"{tile('cam1')} button[data-act=autofocus][data-strategy=refocus]")
    page.wait_for_function(
        "() => document.querySelector('#tile-cam1 .msg').textContent.startsWith('refocused at')",
        timeout=90_000,
    )
    af = next(c["af"] for c in api_state(rig)["cameras"] if c["name"] == "cam1")
    assert af["result"]["ok"] and af["result"]["refocus"] == "landed", af["result"]
    assert af["samples"][0][2] == 1 and all(s[2] == 5 for s in af["samples"][1:]), af["samples"]


def test_grid_screenshot_for_the_readme(page: Any) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.locator("#grid").screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 50_000


def test_nudge_advances_move_id(rig: LiveRig, page: Any) -> None:
    before = int(page.eval_on_selector(tile("cam3"), "t => Number(t.dataset.moveId)"))
    page.click(f"{tile('cam3')} button[data-act=nudge][data-direction=far][data-level='2']")
    page.wait_for_function(
        "before => Number(document.querySelector('#tile-cam3').dataset.moveId) > before",
        arg=before,
        timeout=15_000,
    )
    # the reply (with the move's id) can arrive after the first frame that carries it
    page.wait_for_function(
        "() => document.querySelector('#tile-cam3 .msg').textContent.startsWith('moved (move ')"
    )
    reply_move = int(page.inner_text(f"{tile('cam3')} .msg").split("move ")[1].rstrip(")"))
    assert reply_move > before


def test_ffprobe_reads_the_mjpeg_stream(rig: LiveRig) -> None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.fail("ffprobe is missing: apt-get install ffmpeg (./dev test installs it)")
    out = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-f",
            "mpjpeg",
            "-i",
            rig.url + "stream/cam2.mjpg",
            "-show_streams",
            "-of",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    (stream,) = json.loads(out.stdout)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 960, 640)


def test_viewer_exits_cleanly_on_sigterm(rig: LiveRig, page: Any) -> None:
    assert rig.viewer is not None
    assert rig.viewer.stop(timeout=10) == 0
    page.wait_for_function("() => document.querySelector('#conn').dataset.state === 'closed'", timeout=10_000)
    log = rig.viewer.log.read_text()
    assert "Traceback" not in log, log
