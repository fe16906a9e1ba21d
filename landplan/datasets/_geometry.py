"""Small vectorised geometry helpers for the generator (numpy + shapely 2)."""

from __future__ import annotations

import numpy as np
import shapely


def unit(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def left_normal(d: np.ndarray) -> np.ndarray:
    """The direction ``d`` turned 90 degrees anticlockwise."""
    return np.stack([-d[..., 1], d[..., 0]], axis=-1)


def intersect_lines(p1, d1, p2, d2) -> np.ndarray:
    """Intersection of lines ``p1 + a d1`` and ``p2 + b d2`` (broadcasting)."""
    p1, d1, p2, d2 = map(np.asarray, (p1, d1, p2, d2))
    cross = d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]
    w = p2 - p1
    a = (w[..., 0] * d2[..., 1] - w[..., 1] * d2[..., 0]) / cross
    return p1 + a[..., None] * d1


def frame_coords(origin, u, n, u0, u1, v0, v1) -> np.ndarray:
    """Closed rings (N, 5, 2) of rectangles given in local frames.

    ``origin``, ``u`` and ``n`` are (N, 2) arrays (or broadcastable), the
    rectangle of row i spans ``[u0, u1] x [v0, v1]`` along ``u`` and ``n``.
    """
    origin, u, n = (np.asarray(a, dtype=float) for a in (origin, u, n))
    uu = np.stack(np.broadcast_arrays(u0, u1, u1, u0, u0), axis=-1)[..., None]
    vv = np.stack(np.broadcast_arrays(v0, v0, v1, v1, v0), axis=-1)[..., None]
    return origin[..., None, :] + uu * u[..., None, :] + vv * n[..., None, :]


def frame_rects(origin, u, n, u0, u1, v0, v1) -> np.ndarray:
    """Rectangles given in local frames, as shapely polygons (see :func:`frame_coords`)."""
    return shapely.polygons(frame_coords(origin, u, n, u0, u1, v0, v1))


def rings_in_convex(rings: np.ndarray, quads: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Whether every vertex of ring i lies in convex anticlockwise polygon i.

    ``rings`` is (N, m, 2), ``quads`` is (N, k+1, 2) closed rings.
    """
    a = quads[:, :-1, None, :]                      # (N, k, 1, 2)
    e = (quads[:, 1:] - quads[:, :-1])[:, :, None]  # (N, k, 1, 2)
    p = rings[:, None, :, :] - a                    # (N, k, m, 2)
    cross = e[..., 0] * p[..., 1] - e[..., 1] * p[..., 0]
    return (cross >= -tol).all(axis=(1, 2))


def rings_in_polygon(rings: np.ndarray, polygon, geoms=None) -> np.ndarray:
    """Whether polygons (given by their rings and geometries) lie in ``polygon``.

    Vertex tests first (fast, prepared); exact tests only near the boundary.
    """
    shapely.prepare(polygon)
    n, m = rings.shape[:2]
    flat = rings.reshape(-1, 2)
    ok = shapely.contains_xy(polygon, flat[:, 0], flat[:, 1]).reshape(n, m).all(axis=1)
    if geoms is None:
        geoms = shapely.polygons(rings)
    core = shapely.buffer(polygon, -400.0, quad_segs=2)
    shapely.prepare(core)
    near = ok & ~shapely.contains_xy(core, rings[:, 0, 0], rings[:, 0, 1])
    if near.any():
        ok[near] = shapely.contains(polygon, geoms[near])
    return ok


def segment_point_distance(a: np.ndarray, b: np.ndarray, p) -> np.ndarray:
    """Distance from point ``p`` to segments ``a -> b`` ((N, 2) arrays)."""
    p = np.asarray(p, dtype=float)
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.einsum("ij,ij->i", ab, ab), 0, 1)
    q = a + t[:, None] * ab
    return np.hypot(*(p - q).T)


def round_geoms(geoms, decimals: int = 2) -> np.ndarray:
    """Round coordinates (cm by default), repairing any geometry rounding spoils."""
    out = shapely.transform(np.asarray(geoms, dtype=object), lambda c: np.round(c, decimals))
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad])
    return out


def polygon_parts(geoms) -> np.ndarray:
    """Keep only the polygonal parts of geometries (drop stray lines and points)."""
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    out = geoms.copy()
    mixed = ~np.isin(types, (3, 6))
    for i in np.flatnonzero(mixed):
        parts = shapely.get_parts(geoms[i])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        polys = shapely.get_parts(parts)
        out[i] = (shapely.multipolygons(polys) if len(polys) > 1
                  else (polys[0] if len(polys) else shapely.Polygon()))
    return out
