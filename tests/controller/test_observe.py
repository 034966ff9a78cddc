"""Finding the region of interest in a magnified live view."""

from __future__ import annotations

import pytest

from controller.observe import roi_in_view, view_window


@pytest.mark.parametrize(
    ("zoom", "center", "window"),
    [
        (1, (0.5, 0.5), (0.0, 0.0, 1.0, 1.0)),
        (5, (0.5, 0.5), (0.4, 0.4, 0.2, 0.2)),
        (10, (0.5, 0.5), (0.45, 0.45, 0.1, 0.1)),
        (5, (0.0, 1.0), (0.0, 0.8, 0.2, 0.2)),  # clamped at the edges as the camera does
    ],
)
def test_view_window(zoom: int, center: tuple[float, float], window: tuple[float, ...]) -> None:
    assert view_window(zoom, center) == pytest.approx(window)


@pytest.mark.parametrize(
    ("roi", "zoom", "center", "expected"),
    [
        ((0.4, 0.4, 0.2, 0.2), 1, (0.5, 0.5), (0.4, 0.4, 0.2, 0.2)),
        ((0.45, 0.45, 0.1, 0.1), 5, (0.5, 0.5), (0.25, 0.25, 0.5, 0.5)),
        ((0.3, 0.3, 0.4, 0.4), 5, (0.5, 0.5), (0.0, 0.0, 1.0, 1.0)),  # larger than the view: all of it
        ((0.4, 0.4, 0.2, 0.2), 10, (0.6, 0.6), (0.0, 0.0, 0.5, 0.5)),
    ],
)
def test_roi_in_view(
    roi: tuple[float, ...], zoom: int, center: tuple[float, float], expected: tuple[float, ...]
) -> None:
    assert roi_in_view(roi, zoom, center) == pytest.approx(expected)


def test_roi_outside_the_magnified_view() -> None:
    with pytest.raises(ValueError, match="outside"):
        roi_in_view((0.0, 0.0, 0.1, 0.1), 10, (0.9, 0.9))
