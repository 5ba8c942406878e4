"""Measurement values from image-pixel points and the image's spacing. Pure, no ORM.

The browser computes the same numbers for display; the server's are the ones saved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = Sequence[float]
POINTS_NEEDED = {"length": 2, "angle": 3, "arrow": 2}


def spacing_for(
    pixel_spacing: Sequence[float] | None, imager_pixel_spacing: Sequence[float] | None
) -> tuple[tuple[float, float] | None, str]:
    """(row spacing, column spacing) in mm and the unit it gives: Pixel Spacing is exact
    ("mm"); Imager Pixel Spacing is at the detector, so magnified ("mm_approx"); else "px"."""
    for spacing, unit in ((pixel_spacing, "mm"), (imager_pixel_spacing, "mm_approx")):
        if spacing and len(spacing) == 2 and all(s and s > 0 for s in spacing):
            return (float(spacing[0]), float(spacing[1])), unit
    return None, "px"


def length(a: Point, b: Point, spacing: tuple[float, float] | None) -> float:
    """Distance between two (x, y) points; x runs along columns, y along rows."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if spacing is not None:
        dx, dy = dx * spacing[1], dy * spacing[0]
    return math.hypot(dx, dy)


def angle(a: Point, vertex: Point, b: Point, spacing: tuple[float, float] | None) -> float:
    """The angle at `vertex` in degrees (0-180), in physical space when spacing is known."""
    sx, sy = (spacing[1], spacing[0]) if spacing is not None else (1.0, 1.0)
    ux, uy = (a[0] - vertex[0]) * sx, (a[1] - vertex[1]) * sy
    vx, vy = (b[0] - vertex[0]) * sx, (b[1] - vertex[1]) * sy
    norm = math.hypot(ux, uy) * math.hypot(vx, vy)
    if norm == 0:
        raise ValueError("the angle's arms must have length")
    cos = max(-1.0, min(1.0, (ux * vx + uy * vy) / norm))
    return math.degrees(math.acos(cos))


def valid_points(kind: str, points: object, rows: int, columns: int) -> list[list[float]]:
    """The points as floats, checked: the right number for the kind, inside the image."""
    needed = POINTS_NEEDED.get(kind)
    if needed is None:
        raise ValueError("unknown measurement kind")
    if not isinstance(points, list) or len(points) != needed:
        raise ValueError("wrong number of points")
    out = []
    for point in points:
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise ValueError("a point is [x, y]")
        x, y = float(point[0]), float(point[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("a point is [x, y]")
        if not (0 <= x <= columns and 0 <= y <= rows):
            raise ValueError("a point lies outside the image")
        out.append([x, y])
    return out


def measure(
    kind: str, points: list[list[float]], spacing: tuple[float, float] | None, unit: str
) -> tuple[float | None, str]:
    """(value, unit) for a measurement of `kind`."""
    if kind == "length":
        return round(length(points[0], points[1], spacing), 2), unit
    if kind == "angle":
        return round(angle(points[0], points[1], points[2], spacing), 1), "deg"
    return None, ""
