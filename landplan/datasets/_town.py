"""Generate one town: canal-and-road grid, villages, hamlets, strips, sites.

A town is laid on a slightly skewed grid of corridors (a Jiangnan polder
landscape): every grid line carries a road on its centre line and, on most
edges, a canal just north (or east) of it. The cells between corridors are
blocks. A block holds rows of houses (hamlets) along its southern and northern
edges, long narrow contracted strips in bands between them, fish ponds, and a
farm road across its middle. Each block belongs to one administrative village.

Everything is vectorised per town; the Python loops run over blocks, bands and
hamlets (hundreds), never over parcels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import shapely

from ._frame import CELL, TOWN_CELLS, TOWNS_PER_DISTRICT, district_frame, rng_for, town_name
from ._geometry import (
    frame_coords,
    frame_rects,
    intersect_lines,
    left_normal,
    polygon_parts,
    rings_in_convex,
    rings_in_polygon,
    segment_point_distance,
    unit,
)

log = logging.getLogger(__name__)

# Road classes as indices into schema.ROAD_CLASSES.
HIGHWAY, COUNTY, TOWN, VILLAGE, FARM = range(5)
NOROAD = -1

_HAMLET_BAND = 80.0    # depth of the first and last band of a block (houses or short strips)
_ROAD_HALF = 4.5       # clearance from a road centre line
_NEAR_SEAT = 950.0     # blocks this close to the seat are the town centre (no fields)

_VILLAGE_C1 = "新东西南北长永联红光明建胜丰和平安福兴盛华民立群星湖桥塘浜港荡泾溪洋庄桑梅竹荷凤云"
_VILLAGE_C2 = "丰民星联合胜利新华光明强农桥港浜塘湾河泾圩兜庙埭庄园林溪荡田桑湖阳家堰汇"


@dataclass
class Town:
    """The raw pieces of one generated town (ids not yet attached)."""

    index: int
    name: str
    polygon: shapely.Polygon
    seat: tuple[float, float]
    villages: dict = field(default_factory=dict)
    hamlets: dict = field(default_factory=dict)
    homesteads: dict = field(default_factory=dict)
    strips: dict = field(default_factory=dict)
    roads: dict = field(default_factory=dict)
    water: dict = field(default_factory=dict)
    protected: dict = field(default_factory=dict)
    sites: dict = field(default_factory=dict)
    facilities: dict = field(default_factory=dict)
    blocks: dict = field(default_factory=dict)


def _village_names(rng, n):
    pairs = [a + b for a in _VILLAGE_C1 for b in _VILLAGE_C2 if a != b]
    pick = rng.choice(len(pairs), size=n, replace=False)
    return [pairs[i] + "村" for i in pick]


def _farthest_points(pts: np.ndarray, n: int, first: int) -> np.ndarray:
    chosen = [first]
    d = np.hypot(*(pts - pts[first]).T)
    for _ in range(n - 1):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.hypot(*(pts - pts[i]).T))
    return np.array(chosen)


def _lines(rng, lo, hi, spacing):
    pos = [lo]
    while pos[-1] < hi:
        pos.append(pos[-1] + rng.uniform(*spacing))
    return np.array(pos)


class _Grid:
    """Corridor lines, their nodes, and the roads and canals on their edges."""

    def __init__(self, rng, poly, seat_guess):
        minx, miny, maxx, maxy = poly.bounds
        self.xc, self.yc = (minx + maxx) / 2, (miny + maxy) / 2
        a = _lines(rng, minx - 380.0, maxx + 380.0, (700.0, 920.0))
        c = _lines(rng, miny - 380.0, maxy + 380.0, (600.0, 820.0))
        K, J = len(a), len(c)
        bx = rng.uniform(-0.015, 0.015, K)
        by = rng.uniform(-0.015, 0.015, J)
        # x-lines (running north): point (a, yc), direction (b, 1)
        self.Px = np.c_[a, np.full(K, self.yc)]
        self.Dx = unit(np.c_[bx, np.ones(K)])
        self.Nx = -left_normal(self.Dx)              # points east
        # y-lines (running east): point (xc, c), direction (1, b)
        self.Py = np.c_[np.full(J, self.xc), c]
        self.Dy = unit(np.c_[np.ones(J), by])
        self.Ny = left_normal(self.Dy)               # points north
        self.K, self.J = K, J
        self.nodes = intersect_lines(self.Px[:, None], self.Dx[:, None],
                                     self.Py[None, :], self.Dy[None, :])  # (K, J, 2)
        d = np.hypot(*(self.nodes - np.asarray(seat_guess)).transpose(2, 0, 1))
        self.ks, self.js = np.unravel_index(np.argmin(d), d.shape)
        self.seat = self.nodes[self.ks, self.js]

        # line classes: county through the seat, town every third line
        def line_class(n, s):
            cls = np.full(n, NOROAD)
            cls[(np.arange(n) - s) % 3 == 0] = TOWN
            cls[s] = COUNTY
            return cls

        self.xline_class = line_class(K, self.ks)
        self.yline_class = line_class(J, self.js)
        # roads on edges: x-edge (k, j) joins node (k, j) to (k, j+1)
        xr = np.where(self.xline_class[:, None] >= 0, self.xline_class[:, None],
                      np.where(rng.random((K, J - 1)) < 0.55, VILLAGE, NOROAD))
        yr = np.where(self.yline_class[:, None] >= 0, self.yline_class[:, None],
                      np.where(rng.random((J, K - 1)) < 0.55, VILLAGE, NOROAD))
        xmid = (self.nodes[:, :-1] + self.nodes[:, 1:]) / 2
        ymid = ((self.nodes[:-1, :] + self.nodes[1:, :]) / 2).transpose(1, 0, 2)
        near = lambda m: np.hypot(*(m - self.seat).transpose(2, 0, 1)) < 1700
        xr[(xr < 0) & near(xmid)] = VILLAGE
        yr[(yr < 0) & near(ymid)] = VILLAGE
        self.xr, self.yr = xr, yr
        # canals: one width per line, present on most edges
        def widths(n):
            w = rng.uniform(9.0, 20.0, n)
            big = rng.random(n) < 0.12
            w[big] = rng.uniform(24.0, 36.0, big.sum())
            return w

        self.xline_w, self.yline_w = widths(K), widths(J)
        self.xw = np.where(rng.random((K, J - 1)) < 0.75, self.xline_w[:, None], 0.0)
        self.yw = np.where(rng.random((J, K - 1)) < 0.75, self.yline_w[:, None], 0.0)
        self.xs = 7.0 + self.xline_w / 2        # canal centre offset from the road line
        self.ys = 7.0 + self.yline_w / 2

    def edge_arrays(self):
        """All edges with a road: (a, b, class, kind, i, j) with kind 0=x, 1=y."""
        K, J = self.K, self.J
        kx, jx = np.nonzero(self.xr >= 0)
        jy, ky = np.nonzero(self.yr >= 0)
        a = np.r_[self.nodes[kx, jx], self.nodes[ky, jy]]
        b = np.r_[self.nodes[kx, jx + 1], self.nodes[ky + 1, jy]]
        cls = np.r_[self.xr[kx, jx], self.yr[jy, ky]]
        kind = np.r_[np.zeros(len(kx), int), np.ones(len(jy), int)]
        del K, J
        return a, b, cls, kind, np.r_[kx, jy], np.r_[jx, ky]


def _remove_roads_near(grid: _Grid, centre, radius):
    xa, xb = grid.nodes[:, :-1].reshape(-1, 2), grid.nodes[:, 1:].reshape(-1, 2)
    dx = segment_point_distance(xa, xb, centre).reshape(grid.xr.shape)
    grid.xr[dx < radius] = NOROAD
    ya = grid.nodes[:-1, :].transpose(1, 0, 2).reshape(-1, 2)
    yb = grid.nodes[1:, :].transpose(1, 0, 2).reshape(-1, 2)
    dy = segment_point_distance(ya, yb, centre).reshape(grid.yr.shape)
    grid.yr[dy < radius] = NOROAD


def _hamlet_houses(rng, n):
    """Areas and frontage/depth of ``n`` homesteads (12 % oversize)."""
    over = rng.random(n) < 0.12
    area = np.where(over, rng.uniform(142.0, 290.0, n),
                    np.clip(rng.normal(112.0, 13.0, n), 72.0, 139.0))
    ratio = rng.uniform(0.8, 1.3, n)
    depth = np.sqrt(area / ratio)
    front = area / depth
    return front, depth


def _place_hamlet(rng, n, start_u, v_start):
    """Local (u0, u1, v0, v1) of the houses of one hamlet, in 1 to 3 rows."""
    front, depth = _hamlet_houses(rng, n)
    rows = 1 if n <= 12 else (2 if n <= 30 else 3)
    row = np.repeat(np.arange(rows), np.diff(np.linspace(0, n, rows + 1).round().astype(int)))
    gap = rng.uniform(1.5, 5.0, n)
    u0 = np.empty(n)
    v0 = np.empty(n)
    v = v_start
    length = 0.0
    for r in range(rows):
        m = row == r
        step = front[m] + gap[m]
        u0[m] = start_u + np.r_[0.0, np.cumsum(step)[:-1]] + rng.uniform(0, 3.0)
        v0[m] = v
        v += depth[m].max() + 5.0
        length = max(length, u0[m][-1] + front[m][-1] - start_u)
    return u0, u0 + front, v0, v0 + depth[np.arange(n)], length, v - 5.0


def generate_town(seed: int, t_global: int) -> Town:
    """Generate the raw pieces of town ``t_global`` (0-based, across districts)."""
    d, t = divmod(t_global, TOWNS_PER_DISTRICT)
    frame = district_frame(seed, d)
    rng = rng_for(seed, d, t)
    col, row = TOWN_CELLS[t]
    poly = frame.town_polygon(col, row)
    shapely.prepare(poly)
    cx = frame.ox + col * CELL
    cy = frame.oy + (row - 1) * CELL
    seat_guess = (cx + rng.uniform(-900, 900), cy + rng.uniform(-900, 900))
    g = _Grid(rng, poly, seat_guess)
    seat = tuple(float(v) for v in g.seat)
    town = Town(t_global, town_name(t_global), poly, seat)

    # rivers and highway crossing the town
    river_parts = []
    for rname, rpoly, _w in frame.river_polygons:
        inter = shapely.intersection(rpoly, poly)
        if not inter.is_empty:
            for part in shapely.get_parts(polygon_parts([inter])[0]):
                if part.area > 50:
                    river_parts.append((rname, part))
    hw = shapely.intersection(frame.highway, poly)
    hw_parts = [p for p in shapely.get_parts(hw) if p.geom_type == "LineString" and p.length > 50]
    hw_buffer = shapely.buffer(shapely.multilinestrings(hw_parts), 20.0) if hw_parts else None
    river_lines = shapely.multilinestrings([ln for _, ln, _ in frame.rivers])

    # blocks ------------------------------------------------------------------
    K, J = g.K, g.J
    kk, jj = np.meshgrid(np.arange(K - 1), np.arange(J - 1), indexing="ij")
    kk, jj = kk.ravel(), jj.ravel()
    n00, n10 = g.nodes[kk, jj], g.nodes[kk + 1, jj]
    n11, n01 = g.nodes[kk + 1, jj + 1], g.nodes[kk, jj + 1]
    cells = shapely.polygons(np.stack([n00, n10, n11, n01, n00], axis=1))
    keep = shapely.intersects(poly, cells)
    kk, jj, cells = kk[keep], jj[keep], cells[keep]
    n00, n10, n11, n01 = n00[keep], n10[keep], n11[keep], n01[keep]
    centre = (n00 + n10 + n11 + n01) / 4
    nb = len(kk)
    inside = shapely.contains_xy(poly, centre[:, 0], centre[:, 1])
    whole = shapely.contains(poly, cells)
    dseat = np.hypot(*(centre - g.seat).T)
    is_town = dseat < _NEAR_SEAT

    # a boat-only hamlet: a block far from the county roads, highway and rivers
    dline = np.minimum(np.abs(np.einsum("ij,j->i", centre - g.seat, g.Nx[g.ks])),
                       np.abs(np.einsum("ij,j->i", centre - g.seat, g.Ny[g.js])))
    pts = shapely.points(centre)
    far_hw = shapely.distance(pts, frame.highway) > 1500
    far_river = shapely.distance(pts, river_lines) > 400
    cand = np.flatnonzero(whole & ~is_town & (dline > 1400) & far_hw & far_river & (dseat > 2500))
    hole_block = int(rng.choice(cand)) if len(cand) else -1
    is_hole = np.zeros(nb, bool)
    if hole_block >= 0:
        hole_centre = centre[hole_block]
        _remove_roads_near(g, hole_centre, 1050.0)
        is_hole = np.hypot(*(centre - hole_centre).T) < 1150.0

    # villages: farthest-point seeds among block centres, nearest-seed blocks
    cand_v = np.flatnonzero(inside)
    n_v = int(rng.integers(18, 23))
    seeds = cand_v[_farthest_points(centre[cand_v], n_v, int(rng.integers(len(cand_v))))]
    sc = centre[seeds]
    order = np.lexsort((sc[:, 0], -np.round(sc[:, 1] / 1500.0)))
    sc = sc[order]
    block_village = np.argmin(np.hypot(centre[:, None, 0] - sc[None, :, 0],
                                       centre[:, None, 1] - sc[None, :, 1]), axis=1)
    vpolys = []
    for v in range(n_v):
        u = shapely.union_all(cells[block_village == v])
        vpolys.append(polygon_parts([shapely.intersection(u, poly)])[0])
    town.villages = {"geometry": np.array(vpolys, dtype=object),
                     "name": _village_names(rng, n_v)}

    # inner quads of the blocks -----------------------------------------------
    has_xc = g.xw[kk, jj] > 0
    o_left = np.where(has_xc, g.xs[kk] + g.xw[kk, jj] / 2 + 3.0,
                      np.where(g.xr[kk, jj] >= 0, _ROAD_HALF, 2.0))
    o_right = np.where(g.xr[kk + 1, jj] >= 0, _ROAD_HALF, 2.0)
    has_yc = g.yw[jj, kk] > 0
    o_bottom = np.where(has_yc, g.ys[jj] + g.yw[jj, kk] / 2 + 3.0,
                        np.where(g.yr[jj, kk] >= 0, _ROAD_HALF, 2.0))
    o_top = np.where(g.yr[jj + 1, kk] >= 0, _ROAD_HALF, 2.0)
    Lp, Ld = g.Px[kk] + o_left[:, None] * g.Nx[kk], g.Dx[kk]
    Rp, Rd = g.Px[kk + 1] - o_right[:, None] * g.Nx[kk + 1], g.Dx[kk + 1]
    Bp, Bd = g.Py[jj] + o_bottom[:, None] * g.Ny[jj], g.Dy[jj]
    Tp, Td = g.Py[jj + 1] - o_top[:, None] * g.Ny[jj + 1], g.Dy[jj + 1]
    BL, BR = intersect_lines(Bp, Bd, Lp, Ld), intersect_lines(Bp, Bd, Rp, Rd)
    TR, TL = intersect_lines(Tp, Td, Rp, Rd), intersect_lines(Tp, Td, Lp, Ld)
    quad_rings = np.stack([BL, BR, TR, TL, BL], axis=1)
    quads = shapely.polygons(quad_rings)
    fu, fn = Bd, g.Ny[jj]                       # bottom frame of each block
    tu, tn = Td, -g.Ny[jj + 1]                  # top frame (n points south, into the block)
    corners = np.stack([BL, BR, TR, TL], axis=1) - BL[:, None]
    cu = np.einsum("bcj,bj->bc", corners, fu)
    cv = np.einsum("bcj,bj->bc", corners, fn)
    U0, U1, V1 = cu.min(axis=1), cu.max(axis=1), cv.max(axis=1)
    town.blocks = {"village": block_village, "is_town": is_town, "is_hole": is_hole,
                   "centre": centre, "k": kk, "j": jj}

    field_block = ~is_town & (inside | shapely.intersects(poly, quads))
    basic_block = rng.random(nb) < np.where(dseat < 2500, 0.6, 0.9)
    grade_block = np.clip(np.round(rng.normal(6.0, 1.6, nb)), 1, 15).astype(int)

    # strips, ponds, farm roads, hamlets per block ------------------------------
    # the top band of a block is laid in the top frame (parallel to the top road);
    # the middle bands must stay clear of it and of the bottom band
    tcorners = np.stack([BL, BR, TR, TL], axis=1) - TL[:, None]
    TU0 = np.einsum("bcj,bj->bc", tcorners, tu).min(axis=1)
    TU1 = np.einsum("bcj,bj->bc", tcorners, tu).max(axis=1)
    Vlo = np.minimum(cv[:, 2], cv[:, 3])
    hb_off = _HAMLET_BAND + 1.0
    mB = intersect_lines(Bp + hb_off * g.Ny[jj], Bd, Lp, Ld)
    mBR = intersect_lines(Bp + hb_off * g.Ny[jj], Bd, Rp, Rd)
    mTR = intersect_lines(Tp - hb_off * g.Ny[jj + 1], Td, Rp, Rd)
    mTL = intersect_lines(Tp - hb_off * g.Ny[jj + 1], Td, Lp, Ld)
    mid_rings = np.stack([mB, mBR, mTR, mTL, mB], axis=1)
    S = {k: [] for k in ("block", "band", "u0", "u1", "v0", "v1", "code", "top", "mid")}
    ponds, farm_roads, junctions = [], [], []   # junctions: (edge kind, i, j, point)
    hamlets = []  # (block, origin, u, n, u0, u1, v0, v1, envelope)
    codes = np.array(["0101", "0102", "0103"])
    band_id = 0

    def add_band(b, lo, hi, v0, v1, top, mid):
        nonlocal band_id
        mw = rng.uniform(11.0, 15.5)
        nmax = int((hi - lo) / (0.8 * mw)) + 2
        widths = mw * rng.uniform(0.8, 1.2, nmax)
        starts = lo + np.r_[0.0, np.cumsum(widths + 0.5)[:-1]]
        ends = starts + widths
        ok = ends <= hi
        ns = int(ok.sum())
        S["block"].append(np.full(ns, b))
        S["band"].append(np.full(ns, band_id))
        S["u0"].append(starts[ok])
        S["u1"].append(ends[ok])
        S["v0"].append(np.full(ns, v0))
        S["v1"].append(np.full(ns, v1))
        S["code"].append(np.full(ns, codes[rng.choice(3, p=[0.88, 0.07, 0.05])]))
        S["top"].append(np.full(ns, top))
        S["mid"].append(np.full(ns, mid))
        band_id += 1

    for b in np.flatnonzero(field_block):
        V, u_lo, u_hi = Vlo[b], U0[b], U1[b]
        if V < 120 or u_hi - u_lo < 60:
            continue
        if V >= 300:
            m = max(1, int(round((V - 2 * hb_off) / 150.0)))
            w = rng.uniform(0.8, 1.2, m)
            cuts = hb_off + (V - 2 * hb_off) * np.cumsum(w)[:-1] / w.sum()
            bounds = np.r_[1.0, hb_off, cuts, V - hb_off]
            top_band = True
        else:
            bounds = np.r_[1.0, V / 2, V - 1.0]
            top_band = False
        nbnd = len(bounds) - 1
        gaps = np.full(len(bounds), 2.0)
        gaps[[0, -1]] = 0.0
        road_at = 1 + int(np.argmin(np.abs(bounds[1:-1] - V / 2)))
        gaps[road_at] = 5.0
        for i in range(nbnd):
            add_band(b, u_lo, u_hi, bounds[i] + gaps[i] / 2, bounds[i + 1] - gaps[i + 1] / 2,
                     False, top_band and i > 0)
        if top_band:
            add_band(b, TU0[b], TU1[b], 1.0, _HAMLET_BAND - 1.0, True, False)
        # fish ponds inside one middle band
        if nbnd >= 3 and rng.random() < 0.5:
            i = int(rng.integers(1, nbnd - 1))
            v0, v1 = bounds[i] + 4.0, bounds[i + 1] - 4.0
            if v1 - v0 > 25:
                npd = int(rng.integers(1, 5))
                pw = rng.uniform(40.0, 90.0, npd)
                total = pw.sum() + 4.0 * (npd - 1)
                if total < u_hi - u_lo - 80:
                    s0 = rng.uniform(u_lo + 40, u_hi - 40 - total)
                    pu0 = s0 + np.r_[0.0, np.cumsum(pw + 4.0)[:-1]]
                    ph = min(v1 - v0, rng.uniform(30.0, 70.0))
                    pv0 = rng.uniform(v0, v1 - ph)
                    for a0, wdt in zip(pu0, pw):
                        ponds.append((b, a0, a0 + wdt, pv0, pv0 + ph, False))
        if nbnd >= 3 and rng.random() < 0.12:
            i = int(rng.integers(1, nbnd - 1))
            r = min(rng.uniform(15.0, 40.0), (bounds[i + 1] - bounds[i]) / 2 - 5)
            if r > 8:
                uc = rng.uniform(u_lo + 60, u_hi - 60)
                vc = (bounds[i] + bounds[i + 1]) / 2
                ponds.append((b, uc - r * 1.4, uc + r * 1.4, vc - r, vc + r, True))
        # farm road along the middle gap, from grid line to grid line
        if not is_hole[b]:
            k, j = kk[b], jj[b]
            q = BL[b] + bounds[road_at] * fn[b]
            ends = []
            for side, kl in enumerate((k, k + 1)):
                if g.xr[kl, j] >= 0:
                    e = intersect_lines(q, fu[b], g.Px[kl], g.Dx[kl])
                    junctions.append((0, kl, j, e))
                else:
                    e = intersect_lines(q, fu[b], Lp[b] if side == 0 else Rp[b],
                                        Ld[b] if side == 0 else Rd[b])
                ends.append(e)
            farm_roads.append((ends[0], ends[1]))
        # hamlets along the southern and northern edges
        k, j = kk[b], jj[b]
        for edge in ("bottom", "top"):
            if edge == "bottom":
                good = has_yc[b] or g.yr[j, k] >= 0
                origin, u, n = BL[b], fu[b], fn[b]
                length = float(np.hypot(*(BR[b] - BL[b])))
            else:
                good = g.yr[j + 1, k] >= 0
                origin, u, n = TL[b], tu[b], tn[b]
                length = float(np.hypot(*(TR[b] - TL[b])))
            p = [0.08, 0.40, 0.52] if good else [0.55, 0.38, 0.07]
            nh = int(rng.choice(3, p=p))
            for s in range(nh):
                lo = s * length / nh
                slot = length / nh
                nhouse = int(np.clip(round(rng.gamma(3.5, 8.4)), 10, 50))
                hu0, hu1, hv0, hv1, hlen, vend = _place_hamlet(rng, nhouse, 0.0, 5.0)
                if hlen > slot - 25:
                    keep_h = hu1 <= slot - 25
                    if keep_h.sum() < 6:
                        continue
                    hu0, hu1, hv0, hv1 = hu0[keep_h], hu1[keep_h], hv0[keep_h], hv1[keep_h]
                    hlen = hu1.max()
                start = lo + 12 + rng.uniform(0, max(0.0, slot - 25 - hlen))
                hamlets.append((b, origin, u, n, hu0 + start, hu1 + start, hv0, hv1,
                                (start - 6, start + hlen + 6, 0.0, vend + 8)))
                if (edge == "bottom" and has_yc[b] and g.yr[j, k] >= 0 and not is_hole[b]
                        and rng.random() < 0.6):
                    uc = start + hlen / 2
                    gpt = origin + uc * u - o_bottom[b] * n
                    junctions.append((1, j, k, gpt))
                    farm_roads.append((gpt, origin + uc * u + 3.0 * n, VILLAGE))
        if b == hole_block:
            nhouse = int(rng.integers(18, 30))
            hu0, hu1, hv0, hv1, hlen, vend = _place_hamlet(rng, nhouse, 0.0, 0.0)
            su = (u_lo + u_hi) / 2 - hlen / 2
            sv = V / 2 - vend / 2
            hamlets.append((b, BL[b], fu[b], fn[b], hu0 + su, hu1 + su, hv0 + sv, hv1 + sv,
                            (su - 8, su + hlen + 8, sv - 8, sv + vend + 8)))

    # water ------------------------------------------------------------------
    water_geom, water_kind, water_name = [], [], []
    canal_a, canal_b, canal_w = [], [], []
    for kind, (P, D, N, W, S_off) in enumerate(((g.nodes, g.Dx, g.Nx, g.xw, g.xs),
                                                (g.nodes.transpose(1, 0, 2), g.Dy, g.Ny,
                                                 g.yw, g.ys))):
        for i in range(W.shape[0]):
            present = W[i] > 0
            if not present.any():
                continue
            edges = np.flatnonzero(present)
            breaks = np.flatnonzero(np.diff(edges) > 1)
            for r0, r1 in zip(np.r_[0, breaks + 1], np.r_[breaks, len(edges) - 1]):
                e0, e1 = edges[r0], edges[r1]
                a = P[i, e0] + S_off[i] * N[i] - 30.0 * D[i]
                bb = P[i, e1 + 1] + S_off[i] * N[i] + 30.0 * D[i]
                canal_a.append(a)
                canal_b.append(bb)
                canal_w.append((W[i, e0], N[i]))
    if canal_a:
        ca, cb = np.array(canal_a), np.array(canal_b)
        cw = np.array([w for w, _ in canal_w])
        cn = np.array([nn for _, nn in canal_w])
        h = (cw / 2)[:, None] * cn
        canals = shapely.polygons(np.stack([ca - h, cb - h, cb + h, ca + h, ca - h], axis=1))
        canals = polygon_parts(shapely.intersection(canals, poly))
        ok = shapely.area(canals) > 20
        water_geom += list(canals[ok])
        water_kind += ["canal"] * int(ok.sum())
        water_name += [None] * int(ok.sum())
    for rname, part in river_parts:
        water_geom.append(part)
        water_kind.append("river")
        water_name.append(rname)
    if ponds:
        pb = np.array([p[0] for p in ponds])
        pr = np.array([p[1:5] for p in ponds])
        natural = np.array([p[5] for p in ponds])
        pg = frame_rects(BL[pb], fu[pb], fn[pb], pr[:, 0], pr[:, 1], pr[:, 2], pr[:, 3])
        if natural.any():
            # natural ponds: ellipses in the rectangles
            cen = shapely.get_coordinates(shapely.centroid(pg[natural]))
            rx = (pr[natural, 1] - pr[natural, 0]) / 2
            ry = (pr[natural, 3] - pr[natural, 2]) / 2
            ang = np.linspace(0, 2 * np.pi, 21)
            uu = np.cos(ang)[None, :] * rx[:, None]
            vv = np.sin(ang)[None, :] * ry[:, None]
            ub, nbv = fu[pb[natural]], fn[pb[natural]]
            xy = (cen[:, None, :] + uu[..., None] * ub[:, None, :] + vv[..., None] * nbv[:, None, :])
            xy[:, -1] = xy[:, 0]
            pg[natural] = shapely.polygons(xy)
        okp = shapely.contains(poly, pg)
        water_geom += list(pg[okp])
        water_kind += ["pond"] * int(okp.sum())
        water_name += [None] * int(okp.sum())
    water_geom = np.array(water_geom, dtype=object)
    water_kind = np.array(water_kind)
    town.water = {"geometry": water_geom, "kind": water_kind,
                  "name": np.array(water_name, dtype=object)}
    wtree = shapely.STRtree(water_geom)
    obstacles = list(water_geom) + ([hw_buffer] if hw_buffer is not None else [])
    otree = shapely.STRtree(np.array(obstacles, dtype=object))

    # homesteads ----------------------------------------------------------------
    hb = np.repeat([h[0] for h in hamlets], [len(h[4]) for h in hamlets])
    ham_idx = np.repeat(np.arange(len(hamlets)), [len(h[4]) for h in hamlets])
    ho = np.repeat(np.array([h[1] for h in hamlets]), [len(h[4]) for h in hamlets], axis=0)
    hu = np.repeat(np.array([h[2] for h in hamlets]), [len(h[4]) for h in hamlets], axis=0)
    hn = np.repeat(np.array([h[3] for h in hamlets]), [len(h[4]) for h in hamlets], axis=0)
    hu0, hu1, hv0, hv1 = (np.concatenate([h[i] for h in hamlets]) for i in (4, 5, 6, 7))
    hc = frame_coords(ho, hu, hn, hu0, hu1, hv0, hv1)
    houses = shapely.polygons(hc)
    ok = rings_in_convex(hc, quad_rings[hb]) & rings_in_polygon(hc, poly, houses)
    bad = otree.query(houses, predicate="intersects")[0]
    ok[bad] = False
    town.homesteads = {"geometry": houses[ok], "block": hb[ok], "hamlet": ham_idx[ok]}
    env = np.array([h[8] for h in hamlets])
    envelopes = frame_rects(np.array([h[1] for h in hamlets]), np.array([h[2] for h in hamlets]),
                            np.array([h[3] for h in hamlets]), env[:, 0], env[:, 1],
                            env[:, 2], env[:, 3])
    town.hamlets = {"block": np.array([h[0] for h in hamlets]), "envelope": envelopes}

    # strips ------------------------------------------------------------------
    sb = np.concatenate(S["block"])
    su0, su1, sv0, sv1 = (np.concatenate(S[k]) for k in ("u0", "u1", "v0", "v1"))
    stop, smid = np.concatenate(S["top"]), np.concatenate(S["mid"])
    sorig = np.where(stop[:, None], TL[sb], BL[sb])
    su_ = np.where(stop[:, None], tu[sb], fu[sb])
    sn_ = np.where(stop[:, None], tn[sb], fn[sb])
    sc = frame_coords(sorig, su_, sn_, su0, su1, sv0, sv1)
    strips = shapely.polygons(sc)
    ok = rings_in_convex(sc, np.where(smid[:, None, None], mid_rings[sb], quad_rings[sb]))
    ok &= rings_in_polygon(sc, poly, strips)
    bad = otree.query(strips, predicate="intersects")[0]
    ok[bad] = False
    etree = shapely.STRtree(envelopes)
    bad = etree.query(strips, predicate="intersects")[0]
    ok[bad] = False
    town.strips = {"geometry": strips[ok], "block": sb[ok],
                   "band": np.concatenate(S["band"])[ok], "code": np.concatenate(S["code"])[ok],
                   "u0": su0[ok], "u1": su1[ok], "v0": sv0[ok], "v1": sv1[ok],
                   "top": stop[ok], "basic": basic_block[sb[ok]], "grade": grade_block[sb[ok]]}

    # basic farmland: one polygon per run of adjacent strips in a band
    st = town.strips
    basic = st["basic"]
    bandv, u0v, u1v = st["band"][basic], st["u0"][basic], st["u1"][basic]
    o = np.lexsort((u0v, bandv))
    bandv, u0v, u1v = bandv[o], u0v[o], u1v[o]
    blk = st["block"][basic][o]
    v0v, v1v = st["v0"][basic][o], st["v1"][basic][o]
    new_run = np.r_[True, (bandv[1:] != bandv[:-1]) | (u0v[1:] - u1v[:-1] > 1.0)]
    run = np.cumsum(new_run) - 1
    first = np.flatnonzero(new_run)
    last = np.r_[first[1:] - 1, len(run) - 1]
    rb = blk[first]
    rtop = st["top"][basic][o][first][:, None]
    runs = frame_rects(np.where(rtop, TL[rb], BL[rb]), np.where(rtop, tu[rb], fu[rb]),
                       np.where(rtop, tn[rb], fn[rb]), u0v[first], u1v[last], v0v[first],
                       v1v[first])
    big = shapely.area(runs) > 2000
    prot_geom = list(runs[big])
    prot_kind = ["basic_farmland"] * int(big.sum())
    red = polygon_parts([shapely.intersection(frame.redline_polygon, poly)])[0]
    for part in shapely.get_parts(red):
        if part.area > 1000:
            prot_geom.append(part)
            prot_kind.append("ecological_redline")
    town.protected = {"geometry": prot_geom, "kind": prot_kind}

    # roads -------------------------------------------------------------------
    town.roads = _roads(rng, g, farm_roads, junctions, hw_parts, wtree, water_geom, poly)

    # sites ---------------------------------------------------------------------
    town.sites = _sites(rng, town, g, field_block & ~is_hole & inside, is_town, TL, tu, tn, V1,
                        TR, quads, otree, block_village)
    # facilities ----------------------------------------------------------------
    town.facilities = _facilities(rng, town, g, is_town, quads, dseat)
    return town


def _roads(rng, g: _Grid, farm_roads, junctions, hw_parts, wtree, water_geom, poly):
    """Road pieces split at junctions and at water (bridges)."""
    ea, eb, ecls, ekind, ei, ej = g.edge_arrays()
    seg_a, seg_b, seg_cls = [ea], [eb], [ecls]
    edge_index = {(int(k), int(i), int(j)): n for n, (k, i, j) in enumerate(zip(ekind, ei, ej))}
    breaks: dict[int, list] = {}
    for kind, i, j, pt in junctions:
        n = edge_index.get((kind, int(i), int(j)))
        if n is not None:
            breaks.setdefault(n, []).append(np.asarray(pt, dtype=float))
    fa = np.array([f[0] for f in farm_roads]).reshape(-1, 2)
    fb = np.array([f[1] for f in farm_roads]).reshape(-1, 2)
    fc = np.array([f[2] if len(f) > 2 else FARM for f in farm_roads], dtype=int)
    seg_a.append(fa)
    seg_b.append(fb)
    seg_cls.append(fc)
    # highway pieces, and one interchange link to the nearest county-road node
    hw_a, hw_b = [], []
    for part in hw_parts:
        c = shapely.get_coordinates(part)
        hw_a.append(c[0])
        hw_b.append(c[-1])
    links_a, links_b = [], []
    if hw_parts:
        seat = shapely.Point(g.seat)
        best = min(range(len(hw_parts)), key=lambda i: hw_parts[i].distance(seat))
        hp = hw_parts[best]
        h = np.asarray(shapely.get_coordinates(hp.interpolate(hp.project(seat)))[0])
        nodes = np.r_[ea, eb]
        inside = shapely.contains_xy(poly, nodes[:, 0], nodes[:, 1])
        nodes = nodes[inside & (np.r_[ecls, ecls] <= TOWN)]
        if len(nodes):
            nd = nodes[np.argmin(np.hypot(*(nodes - h).T))]
            links_a.append(h)
            links_b.append(nd)
            n_hw = sum(len(a) for a in seg_a) + best
            breaks.setdefault(n_hw, []).append(h)
    seg_a.append(np.array(hw_a).reshape(-1, 2))
    seg_b.append(np.array(hw_b).reshape(-1, 2))
    seg_cls.append(np.full(len(hw_a), HIGHWAY))
    seg_a.append(np.array(links_a).reshape(-1, 2))
    seg_b.append(np.array(links_b).reshape(-1, 2))
    seg_cls.append(np.full(len(links_a), COUNTY))
    A, B, CLS = np.concatenate(seg_a), np.concatenate(seg_b), np.concatenate(seg_cls)
    # keep what is inside the town: grid edges are clipped to the town polygon
    segs = shapely.linestrings(np.stack([A, B], axis=1))
    L = np.hypot(*(B - A).T)
    D = (B - A) / L[:, None]
    # bridges: where a segment crosses canals or rivers (not ponds)
    bridge_iv: dict[int, list] = {}
    pairs = wtree.query(segs, predicate="intersects")
    if pairs.shape[1]:
        inter = shapely.intersection(segs[pairs[0]], water_geom[pairs[1]])
        parts, idx = shapely.get_parts(inter, return_index=True)
        seg_of = pairs[0][idx]
        for s, part in zip(seg_of, parts):
            c = shapely.get_coordinates(part)
            t = (c - A[s]) @ D[s]
            lo, hi = max(0.0, t.min() - 3.0), min(L[s], t.max() + 3.0)
            if hi - lo > 0.5:
                bridge_iv.setdefault(int(s), []).append((lo, hi))
    out_a, out_b, out_cls, out_bridge = [], [], [], []
    for s in range(len(A)):
        pts = [(0.0, A[s]), (L[s], B[s])]
        for p in breaks.get(s, []):
            pts.append((float((p - A[s]) @ D[s]), p))
        ivs = sorted(bridge_iv.get(s, []))
        merged = []
        for lo, hi in ivs:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        for lo, hi in merged:
            for t in (lo, hi):
                if 0.5 < t < L[s] - 0.5:
                    pts.append((t, A[s] + t * D[s]))
        pts.sort(key=lambda p: p[0])
        ts = [pts[0]]
        for p in pts[1:]:
            if p[0] - ts[-1][0] > 0.3:
                ts.append(p)
            elif p[0] >= L[s] - 1e-9:
                ts[-1] = p
        for (t0, p0), (t1, p1) in zip(ts[:-1], ts[1:]):
            mid = (t0 + t1) / 2
            out_a.append(p0)
            out_b.append(p1)
            out_cls.append(CLS[s])
            out_bridge.append(any(lo <= mid <= hi for lo, hi in merged))
    oa, ob = np.array(out_a), np.array(out_b)
    ocls, obr = np.array(out_cls), np.array(out_bridge)
    # a few deliberate small gaps (digitising errors the network step must bridge)
    cand = np.flatnonzero((ocls == VILLAGE) & ~obr & (np.hypot(*(ob - oa).T) > 40))
    for s in rng.choice(cand, size=min(3, len(cand)), replace=False):
        d = (ob[s] - oa[s]) / np.hypot(*(ob[s] - oa[s]))
        oa[s] = oa[s] + 2.0 * d
    lines = shapely.linestrings(np.stack([oa, ob], axis=1))
    # clip to the town
    within = shapely.within(lines, poly)
    clipped = lines.copy()
    clipped[~within] = shapely.intersection(lines[~within], poly)
    keep = ~shapely.is_empty(clipped) & (shapely.length(clipped) > 1.0)
    keep &= np.isin(shapely.get_type_id(clipped), (1, 5))
    return {"geometry": clipped[keep], "cls": ocls[keep], "bridge": obr[keep]}


def _sites(rng, town, g, cand_blocks, is_town, TL, tu, tn, V1, TR, quads, otree, block_village):
    poly = town.polygon
    n_target = int(rng.integers(20, 41))
    cand = np.flatnonzero(cand_blocks)
    pick = rng.choice(cand, size=min(len(cand), 3 * n_target), replace=False)
    cap = rng.integers(60, 401, len(pick))
    area = cap * 180.0
    aspect = rng.uniform(0.7, 1.4, len(pick))
    w = np.sqrt(area * aspect)
    h = area / w
    top_len = np.hypot(*(TR[pick] - TL[pick]).T)
    room = top_len - 30 - w
    u0 = 15 + rng.uniform(0, 1, len(pick)) * np.maximum(room, 0)
    v0 = np.full(len(pick), _HAMLET_BAND + 6.0)
    geoms = frame_rects(TL[pick], tu[pick], tn[pick], u0, u0 + w, v0, v0 + h)
    ok = (room > 0) & (V1[pick] - 2 * _HAMLET_BAND > h)
    ok &= shapely.within(geoms, quads[pick]) & shapely.contains(poly, geoms)
    ok[otree.query(geoms, predicate="intersects")[0]] = False
    htree = shapely.STRtree(town.homesteads["geometry"])
    ok[htree.query(geoms, predicate="intersects")[0]] = False
    chosen = []
    for i in np.flatnonzero(ok):
        if len(chosen) >= n_target:
            break
        if any(geoms[i].intersects(geoms[c]) for c in chosen):
            continue
        chosen.append(i)
    chosen = np.array(chosen, dtype=int)
    out_geom = list(geoms[chosen])
    out_kind = ["new_community"] * len(chosen)
    out_cap = list(cap[chosen])
    out_cost = list(np.round((1.2e6 + cap[chosen] * 1.5e4 * rng.uniform(0.85, 1.15, len(chosen)))
                             / 1000) * 1000)
    # town apartments: 1-2 blocks of flats beside the seat
    tb = np.flatnonzero(is_town & shapely.within(quads, poly))
    tb = tb[np.argsort(np.hypot(*(town.blocks["centre"][tb] - g.seat).T), kind="stable")]
    n_apt = int(rng.integers(1, 3))
    placed = 0
    for b in tb[1:]:
        if placed >= n_apt:
            break
        c = shapely.get_coordinates(shapely.centroid(quads[b]))[0]
        u, n = tu[b], -tn[b]
        geom = frame_rects(c - 55 * u - 45 * n, u, n, 0.0, 110.0, 0.0, 90.0)
        if not geom.within(quads[b]) or otree.query(geom, predicate="intersects").size:
            continue
        out_geom.append(geom)
        out_kind.append("town_apartments")
        capa = int(rng.integers(30, 81)) * 10
        out_cap.append(capa)
        out_cost.append(float(np.round(rng.uniform(6e6, 12e6) / 1000) * 1000))
        placed += 1
    return {"geometry": np.array(out_geom, dtype=object), "kind": out_kind,
            "capacity": out_cap, "cost": out_cost}


def _facilities(rng, town, g, is_town, quads, dseat):
    """Town hall, market, schools and clinic in the centre; village clinics, schools."""
    name = town.name
    pts, kinds, names, villages = [], [], [], []
    tb = np.flatnonzero(is_town & shapely.within(quads, town.polygon))
    tb = tb[np.argsort(dseat[tb], kind="stable")]
    central = [("town_hall", f"{name}人民政府"), ("market", f"{name}农贸市场"),
               ("school", f"{name}中学"), ("school", f"{name}中心小学"),
               ("clinic", f"{name}卫生院")]
    for (kind, nm), b in zip(central, np.resize(tb, len(central))):
        c = shapely.get_coordinates(shapely.centroid(quads[b]))[0]
        off = rng.uniform(-60, 60, 2) if kind != "town_hall" else np.zeros(2)
        if kind != "town_hall" and len(tb) < len(central):
            off = rng.uniform(-150, 150, 2)
        pts.append(c + off)
        kinds.append(kind)
        names.append(nm)
        villages.append(-1)
    # village services near the largest hamlet of each village
    hom = town.homesteads
    hblock = town.hamlets["block"]
    hv = town.blocks["village"][hblock]
    sizes = np.bincount(hom["hamlet"], minlength=len(hblock))
    env_c = shapely.get_coordinates(shapely.centroid(town.hamlets["envelope"]))
    vnames = town.villages["name"]
    vsize = np.bincount(hv, weights=sizes, minlength=len(vnames))
    big_villages = set(np.argsort(-vsize, kind="stable")[: int(np.ceil(len(vnames) / 4))])
    for v in range(len(vnames)):
        hs = np.flatnonzero((hv == v) & (sizes > 0))
        if not len(hs):
            continue
        hs = hs[np.argsort(-sizes[hs], kind="stable")]
        pts.append(env_c[hs[0]] + rng.uniform(-10, 10, 2))
        kinds.append("clinic")
        names.append(f"{vnames[v]}卫生室")
        villages.append(v)
        if v in big_villages:
            pts.append(env_c[hs[min(1, len(hs) - 1)]] + rng.uniform(-10, 10, 2))
            kinds.append("school")
            names.append(f"{vnames[v]}小学")
            villages.append(v)
        if v == int(np.argmax(vsize)):
            pts.append(env_c[hs[-1]] + rng.uniform(-10, 10, 2))
            kinds.append("market")
            names.append(f"{vnames[v]}集市")
            villages.append(v)
    # bus stops at the middle of county-road edges
    ea, eb, ecls, *_ = g.edge_arrays()
    county = np.flatnonzero(ecls == COUNTY)
    mids = (ea[county] + eb[county]) / 2
    inside = shapely.contains_xy(town.polygon, mids[:, 0], mids[:, 1])
    for i, m in enumerate(mids[inside]):
        d = (eb[county][inside][i] - ea[county][inside][i])
        d = d / np.hypot(*d)
        pts.append(m - 6.0 * np.array([-d[1], d[0]]))
        kinds.append("bus_stop")
        names.append(f"{name}公交站{i + 1}")
        villages.append(-1)
    return {"geometry": shapely.points(np.array(pts)), "kind": kinds, "name": names}
