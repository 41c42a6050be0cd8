"""Geo conditions over arrays of points (lat, lon in degrees), vectorised with numpy.

The arithmetic is done in the same order as Qdrant's scalar code so that boundary cases (strict
inequalities, "on the ring" tests with exact float equality) come out the same.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG), as Qdrant uses


def in_bounding_box(lat: np.ndarray, lon: np.ndarray, box) -> np.ndarray:
    """Strictly inside; a box whose left edge is east of its right edge crosses the antimeridian."""
    left, right = box.top_left.lon, box.bottom_right.lon
    if left > right:
        lon_ok = (lon > left) | (lon < right)
    else:
        lon_ok = (left < lon) & (lon < right)
    return lon_ok & (box.top_left.lat > lat) & (lat > box.bottom_right.lat)


def in_radius(lat: np.ndarray, lon: np.ndarray, circle) -> np.ndarray:
    """Haversine distance strictly below the radius (meters)."""
    lat1, lon1 = np.radians(lat), np.radians(lon)
    lat2, lon2 = np.radians(circle.center.lat), np.radians(circle.center.lon)
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_M * (2 * np.arcsin(np.sqrt(a))) < circle.radius


def in_polygon(lat: np.ndarray, lon: np.ndarray, polygon) -> np.ndarray:
    """Inside the exterior ring (its boundary excluded) and not inside or on any interior ring."""
    inside = _in_ring(lat, lon, polygon.exterior.points, boundary_counts=False)
    for hole in polygon.interiors or ():
        inside &= ~_in_ring(lat, lon, hole.points, boundary_counts=True)
    return inside


def _in_ring(x: np.ndarray, y: np.ndarray, points, boundary_counts: bool) -> np.ndarray:
    """Even-odd ray casting, one ring edge at a time over all points (x = lat, y = lon).

    A point found on an edge is decided right there (``boundary_counts``), whatever the later
    edges say; that is why ``decided`` is tracked instead of just flipping ``inside``.
    """
    ring = [(p.lat, p.lon) for p in points]
    if ring[0] == ring[-1]:
        ring = ring[:-1]
    inside = np.zeros(x.shape, dtype=bool)
    decided = np.zeros(x.shape, dtype=bool)
    verdict = np.zeros(x.shape, dtype=bool)
    j = len(ring) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(ring)):
            xi, yi = ring[i]
            xj, yj = ring[j]
            on_edge = (
                (y * (xi - xj) + yi * (xj - x) + yj * (x - xi) == 0)
                & ((xi - x) * (xj - x) <= 0)
                & ((yi - y) * (yj - y) <= 0)
            )
            newly = on_edge & ~decided
            verdict |= newly & boundary_counts
            decided |= newly
            if yi != yj:  # an edge parallel to the ray cannot cross it
                crosses = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
                inside ^= crosses
            j = i
    return np.where(decided, verdict, inside)
