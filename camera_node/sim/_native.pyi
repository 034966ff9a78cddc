from collections.abc import Sequence
from typing import Any

from numpy.typing import NDArray

def layer_sum(
    acc: NDArray[Any],
    spectra: Sequence[NDArray[Any]],
    diameters: Sequence[float],
    extents: Sequence[tuple[int, int]],
    bins: NDArray[Any],
    centres: NDArray[Any],
    lut: NDArray[Any],
    shape: tuple[int, int, int],
    width: int,
    neg_rows: int,
    scale_per_px: float,
    x_cut: float,
    inv_step: float,
    quantum: float,
    /,
) -> None: ...
def luma_8bit(
    y: NDArray[Any],
    out: NDArray[Any],
    sigma: NDArray[Any],
    fresh: bool,
    field: NDArray[Any] | None,
    oy: int,
    ox: int,
    gain: float,
    shot: float,
    read2: float,
    /,
) -> None: ...
def chroma_8bit(
    c: NDArray[Any],
    out: NDArray[Any],
    field: NDArray[Any] | None,
    oy: int,
    ox: int,
    gain: float,
    sigma: float,
    /,
) -> None: ...
def normalise(
    y: NDArray[Any],
    y_col: int,
    half: NDArray[Any],
    h_col: int,
    out: NDArray[Any],
    cb: NDArray[Any] | None,
    cr: NDArray[Any] | None,
    grey: bool,
    /,
) -> None: ...
def near_apply(
    out: NDArray[Any],
    f_sorted: NDArray[Any],
    order: NDArray[Any],
    stack: NDArray[Any],
    inv_gap: NDArray[Any],
    offset: NDArray[Any],
    bounds: NDArray[Any],
    a: int,
    a1: int,
    b1: int,
    b: int,
    split: int,
    p: float,
    rate: float,
    reach: float,
    fade_scale: float,
    /,
) -> None: ...
