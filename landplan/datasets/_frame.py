"""The district frame: where the towns, the big rivers and the highway lie.

Everything here is a pure function of ``(seed, district index)`` so that each
town can be generated on its own and still meet its neighbours: two towns
sharing a border build it from the same curve and the same vertices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely

#: The district seat (南湖区政府) at 120.779E 30.748N, in EPSG:4549.
SEAT_X, SEAT_Y = 574594.0, 3403295.0
#: Side of one town cell, metres (a town is about 74 km2).
CELL = 8600.0
#: The five towns of the 2008 plan, in the plan's order (T01..T05).
TOWN_NAMES = ("新丰镇", "余新镇", "大桥镇", "凤桥镇", "七星镇")
#: Town index -> (column, row) of its cell; cell (0, 1) is the urban core.
TOWN_CELLS = ((1, 0), (2, 1), (1, 1), (0, 0), (2, 0))
TOWNS_PER_DISTRICT = len(TOWN_NAMES)
#: Spacing of border vertices, metres (absolute multiples, so neighbours agree).
_BORDER_STEP = 100.0

# River lines of a district, in cell units relative to the district seat:
# (name, axis, fixed coordinate, start, end, width m).
_RIVERS = (
    ("东塘河", "x", -0.38, -0.62, 2.62, 48.0),
    ("南北港", "y", 1.47, -1.62, 0.62, 40.0),
    ("横泾塘", "x", 0.58, 0.38, 2.62, 34.0),
)


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """A generator for one part of the district, independent of the others."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, key)]))


@dataclass(frozen=True)
class _Wave:
    a1: float
    l1: float
    p1: float
    a2: float
    l2: float
    p2: float

    def __call__(self, t):
        t = np.asarray(t, dtype=float)
        return (self.a1 * np.sin(2 * np.pi * t / self.l1 + self.p1)
                + self.a2 * np.sin(2 * np.pi * t / self.l2 + self.p2))


def _wave(rng: np.random.Generator, a1: float, a2: float) -> _Wave:
    return _Wave(a1, rng.uniform(3000, 6500), rng.uniform(0, 2 * np.pi),
                 a2, rng.uniform(700, 1500), rng.uniform(0, 2 * np.pi))


class DistrictFrame:
    """Borders, rivers and the highway of district ``d`` (0-based)."""

    def __init__(self, seed: int, d: int):
        self.seed = int(seed)
        self.d = int(d)
        col, row = d % 2, d // 2
        self.ox = SEAT_X - col * 3.4 * CELL
        self.oy = SEAT_Y - row * 2.6 * CELL
        rng = rng_for(seed, 1000 + d)
        # vertical borders b=0..3 at x = ox + (b - 0.5) CELL + f_b(y)
        self.vx = [self.ox + (b - 0.5) * CELL for b in range(4)]
        self.vw = [_wave(rng, 260.0, 80.0) for _ in range(4)]
        # horizontal borders r=0..2 at y = oy + (r - 1.5) CELL + g_r(x)
        self.hy = [self.oy + (r - 1.5) * CELL for r in range(3)]
        self.hw = [_wave(rng, 260.0, 80.0) for _ in range(3)]
        self._river_rng = rng_for(seed, 2000 + d)

    # borders ---------------------------------------------------------------
    def _vx(self, b, y):
        return self.vx[b] + self.vw[b](y)

    def _hy(self, r, x):
        return self.hy[r] + self.hw[r](x)

    def corner(self, b: int, r: int) -> tuple[float, float]:
        x, y = self.vx[b], self.hy[r]
        for _ in range(30):
            x = float(self._vx(b, y))
            y = float(self._hy(r, x))
        return x, y

    def _samples(self, a: float, b: float) -> np.ndarray:
        lo, hi = (a, b) if a < b else (b, a)
        mid = np.arange(np.floor(lo / _BORDER_STEP) + 1, np.ceil(hi / _BORDER_STEP)) * _BORDER_STEP
        mid = mid[(mid > lo + 1.0) & (mid < hi - 1.0)]
        out = np.concatenate([[lo], mid, [hi]])
        return out if a < b else out[::-1]

    def town_polygon(self, c: int, r: int) -> shapely.Polygon:
        """The polygon of the town in cell (c, r)."""
        bl, br = self.corner(c, r), self.corner(c + 1, r)
        tr, tl = self.corner(c + 1, r + 1), self.corner(c, r + 1)
        xs = self._samples(bl[0], br[0])[:-1]
        bottom = np.c_[xs, self._hy(r, xs)]
        bottom[0] = bl
        ys = self._samples(br[1], tr[1])[:-1]
        right = np.c_[self._vx(c + 1, ys), ys]
        right[0] = br
        xs = self._samples(tr[0], tl[0])[:-1]
        top = np.c_[xs, self._hy(r + 1, xs)]
        top[0] = tr
        ys = self._samples(tl[1], bl[1])[:-1]
        left = np.c_[self._vx(c, ys), ys]
        left[0] = tl
        ring = np.vstack([bottom, right, top, left, [bl]])
        return shapely.Polygon(np.round(ring, 2))

    # rivers and highway ------------------------------------------------------
    @cached_property
    def rivers(self) -> list[tuple[str, shapely.LineString, float]]:
        """The big rivers: (name, centre line, width)."""
        out = []
        rng = self._river_rng
        for name, axis, fixed, start, end, width in _RIVERS:
            t = np.arange(start * CELL, end * CELL + 1, 50.0)
            w = (rng.uniform(250, 450) * np.sin(2 * np.pi * t / rng.uniform(3500, 5500)
                                                + rng.uniform(0, 6.3))
                 + rng.uniform(60, 160) * np.sin(2 * np.pi * t / rng.uniform(900, 1400)
                                                 + rng.uniform(0, 6.3)))
            if axis == "x":
                xy = np.c_[self.ox + t, self.oy + fixed * CELL + w]
            else:
                xy = np.c_[self.ox + fixed * CELL + w, self.oy + t]
            name = name if self.d == 0 else f"{name}{self.d + 1}"
            out.append((name, shapely.LineString(np.round(xy, 2)), width))
        return out

    @cached_property
    def river_polygons(self) -> list[tuple[str, shapely.Geometry, float]]:
        return [(n, shapely.buffer(line, w / 2, quad_segs=4, cap_style="flat"), w)
                for n, line, w in self.rivers]

    @cached_property
    def redline_polygon(self) -> shapely.Geometry:
        """Ecological red line: the rivers and 80 m of bank either side."""
        return shapely.union_all([shapely.buffer(line, w / 2 + 80, quad_segs=4, cap_style="flat")
                                  for _, line, w in self.rivers])

    @cached_property
    def highway(self) -> shapely.LineString:
        """The expressway across the district (a straight line)."""
        return shapely.LineString([(self.ox - 0.65 * CELL, self.oy - 1.25 * CELL),
                                   (self.ox + 2.65 * CELL, self.oy + 0.42 * CELL)])


_FRAMES: dict[tuple[int, int], DistrictFrame] = {}


def district_frame(seed: int, d: int) -> DistrictFrame:
    """The (cached) frame of district ``d``."""
    key = (int(seed), int(d))
    if key not in _FRAMES:
        _FRAMES[key] = DistrictFrame(seed, d)
    return _FRAMES[key]


def lower_neighbours(t: int) -> list[tuple[int, str]]:
    """Towns of the same district that share a border with town ``t`` and come before it.

    Returns ``(a, axis)`` pairs: ``a`` the neighbour's index within the district,
    ``axis`` ``"x"`` when the shared border runs north-south (the towns sit side
    by side) and ``"y"`` when it runs east-west. The county road of the earlier
    town crosses each such border, and the later town continues it (see
    :func:`landplan.datasets._town.border_crossings`), so each border is crossed
    once and every town reaches the district's network.
    """
    col, row = TOWN_CELLS[t]
    out = []
    for a in range(t):
        ca, ra = TOWN_CELLS[a]
        if abs(ca - col) + abs(ra - row) == 1:
            out.append((a, "x" if ra == row else "y"))
    return out


def town_name(t_global: int) -> str:
    """Name of the global town index (0-based): 新丰镇, ..., 新丰镇2, ..."""
    d, t = divmod(t_global, TOWNS_PER_DISTRICT)
    return TOWN_NAMES[t] if d == 0 else f"{TOWN_NAMES[t]}{d + 1}"
