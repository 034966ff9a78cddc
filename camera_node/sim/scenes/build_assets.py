"""Rebuild the built-in scenes' images from scikit-image's sample data (not a dependency).

Usage: pip download --no-deps -d /tmp/ski scikit-image && unzip the wheel, then
    python camera_node/sim/scenes/build_assets.py /path/to/skimage/data
Every source is CC0 or public domain except the Middlebury pair (see SOURCES.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

OUT = Path(__file__).parent / "assets"


def _img(data: Path, name: str) -> Image.Image:
    return Image.open(data / name).convert("RGB")


def tabletop(data: Path) -> None:
    """Brick wall far, a coffee cup mid, coins near: 1200 x 800."""
    wall = _img(data, "brick.png").resize((800, 800)).crop((0, 0, 800, 800))
    canvas = Image.new("RGB", (1200, 800))
    canvas.paste(wall, (0, 0))
    canvas.paste(wall.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (800, 0))
    cup = _img(data, "coffee.png").crop((100, 0, 500, 400)).resize((480, 480))
    canvas.paste(cup, (600, 250))
    coins = _img(data, "coins.png").resize((420, 331))
    canvas.paste(coins, (110, 420))
    canvas.save(OUT / "tabletop.png", optimize=True)


def lowcontrast(data: Path) -> None:
    g = np.asarray(Image.open(data / "grass.png").convert("L"), np.float32)
    g = 120 + (g - g.mean()) * 0.12
    Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).resize((900, 600)).save(
        OUT / "grass_low.png", optimize=True
    )


def highlight(data: Path) -> None:
    cat = _img(data, "chelsea.png")  # 451 x 300
    draw = ImageDraw.Draw(cat)
    for r, v in ((26, 200), (18, 240), (12, 255)):
        draw.ellipse((370 - r, 60 - r, 370 + r, 60 + r), fill=(v, v, int(v * 0.95)))
    cat.save(OUT / "chelsea_glint.png", optimize=True)


def lowlight(data: Path) -> None:
    c = np.asarray(_img(data, "coffee.png"), np.float32) * 0.14
    Image.fromarray(c.astype(np.uint8)).save(OUT / "coffee_dark.png", optimize=True)


def moto(data: Path) -> None:
    _img(data, "motorcycle_left.png").save(OUT / "motorcycle_left.png", optimize=True)
    with np.load(data / "motorcycle_disp.npz") as z:
        disp = z["arr_0"].astype(np.float16)
    np.save(OUT / "motorcycle_disp.npy", disp)


def coffee(data: Path) -> None:
    _img(data, "coffee.png").save(OUT / "coffee.png", optimize=True)


def chart() -> None:
    """A synthetic focus chart (our own work, CC0): Siemens star, edges, text-like bars."""
    w, h = 1200, 800
    im = Image.new("L", (w, h), 128)
    d = ImageDraw.Draw(im)
    cx, cy, r = 600, 400, 300
    for k in range(36):
        a0, a1 = k * 10, k * 10 + 5
        d.pieslice((cx - r, cy - r, cx + r, cy + r), a0, a1, fill=20)
        d.pieslice((cx - r, cy - r, cx + r, cy + r), a1, a1 + 5, fill=235)
    d.rectangle((40, 60, 220, 740), fill=235)
    d.rectangle((980, 60, 1160, 740), fill=20)
    for i in range(12):
        d.rectangle((250, 80 + i * 54, 250 + 20 + i * 3, 80 + i * 54 + 18), fill=20)
    im.convert("RGB").save(OUT / "chart.png", optimize=True)


if __name__ == "__main__":
    src = Path(sys.argv[1])
    OUT.mkdir(exist_ok=True)
    tabletop(src)
    lowcontrast(src)
    highlight(src)
    lowlight(src)
    moto(src)
    coffee(src)
    chart()
