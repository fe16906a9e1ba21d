"""Generate one town: canal-and-road grid, villages, hamlets, strips, sites.

A town is laid on a slightly skewed grid of corridors (a Jiangnan polder
landscape): grid lines carry roads on their centre lines (the county roads
through the seat, a town road on every third line, village roads on many
other edges) and, on most edges, a canal just north (or east) of the line.
The cells between corridors are blocks. A block holds rows of houses (hamlets)
along its southern and northern edges, long narrow contracted strips in bands
between them, fish ponds, and a farm road across its middle. Each block
belongs to one administrative village.

The road network is one piece, as in reality:

- the town joins the district's network: the highway through an interchange
  (a county-class link to the nearest county or town road), and every earlier
  neighbouring town's county road, continued from where it meets the shared
  border (:func:`border_crossings`), so the two towns share that road end;
- an edge with houses along it carries a village road (a lane in front of the
  hamlet; across a canal, the hamlet has a bridge to it);
- every piece of village and town road is joined to the town's main network
  along road-less grid edges (:func:`_connect_grid`); fragments the wavy
  border cuts off a road are dropped;
- left apart on purpose: one boat-only area per town (no road within about a
  kilometre of its hamlet), three village roads that stop 6 to 9 m short of
  their junction (gaps for the network's gap report; each on a loop, so
  nothing is cut off), and the farm roads of blocks with no road on either
  side (isolated field roads).

Candidate new-community sites are laid where planners would put them
(:func:`_sites`): along a road, next to a hamlet, off basic farmland, water,
the rivers' red line and flood zones; one site per town deliberately on basic
farmland, for the suitability check to find.

Everything is vectorised per town; the Python loops run over blocks, bands and
hamlets (hundreds), never over parcels.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import shapely

from . import _raster
from ._frame import (
    CELL,
    TOWN_CELLS,
    TOWNS_PER_DISTRICT,
    district_frame,
    lower_neighbours,
    rng_for,
    town_name,
)
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
_HOLE_RADIUS = 1100.0  # no road this close to the boat-only hamlet's block centre

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


def _town_grid(seed: int, t_global: int):
    """The frame, polygon, random generator and corridor grid of one town.

    The grid is the first thing drawn from the town's generator, so a
    neighbouring town can rebuild it (to continue its county road) without
    generating the whole town.
    """
    d, t = divmod(t_global, TOWNS_PER_DISTRICT)
    frame = district_frame(seed, d)
    rng = rng_for(seed, d, t)
    col, row = TOWN_CELLS[t]
    poly = frame.town_polygon(col, row)
    shapely.prepare(poly)
    cx = frame.ox + col * CELL
    cy = frame.oy + (row - 1) * CELL
    seat_guess = (cx + rng.uniform(-900, 900), cy + rng.uniform(-900, 900))
    return frame, poly, rng, _Grid(rng, poly, seat_guess)


def border_crossings(seed: int, t_global: int, poly) -> list[np.ndarray]:
    """Where the county roads of the earlier neighbouring towns reach this town.

    Each earlier neighbour's county road (its grid line through its seat,
    perpendicular to the shared border) ends on the border; this town
    continues it from that point, so the two towns meet at one shared road
    end. Returns one point per earlier neighbour.
    """
    d, t = divmod(t_global, TOWNS_PER_DISTRICT)
    out = []
    boundary = poly.boundary
    for a, axis in lower_neighbours(t):
        _, _, _, ga = _town_grid(seed, d * TOWNS_PER_DISTRICT + a)
        if axis == "x":     # side by side: the neighbour's east-west county road
            line = shapely.LineString([ga.nodes[0, ga.js], ga.nodes[-1, ga.js]])
        else:               # one above the other: its north-south county road
            line = shapely.LineString([ga.nodes[ga.ks, 0], ga.nodes[ga.ks, -1]])
        pts = shapely.get_coordinates(shapely.intersection(line, boundary))
        if len(pts):
            out.append(pts[np.argmin(np.hypot(*(pts - ga.seat).T))])
    return out


def _lattice_nodes(g: _Grid, poly) -> np.ndarray:
    """(K, J) mask of grid nodes on a county or town line, well inside the town."""
    on = (g.xline_class[:, None] >= 0) | (g.yline_class[None, :] >= 0)
    inner = shapely.buffer(poly, -30.0, quad_segs=2)
    inside = shapely.contains_xy(inner, g.nodes[..., 0], g.nodes[..., 1])
    return on & inside


def _nearest_node(g: _Grid, mask: np.ndarray, p, poly) -> np.ndarray:
    """The node of ``mask`` nearest ``p`` that a straight road from ``p`` reaches inside ``poly``."""
    k, j = np.nonzero(mask)
    d = np.hypot(*(g.nodes[k, j] - np.asarray(p)).T)
    o = np.argsort(d, kind="stable")
    roads = shapely.linestrings(np.stack([np.broadcast_to(p, (len(o), 2)), g.nodes[k[o], j[o]]],
                                         axis=1))
    ok = shapely.within(roads, shapely.buffer(poly, 0.05, quad_segs=2))
    i = o[int(np.argmax(ok))] if ok.any() else o[0]
    return g.nodes[k[i], j[i]]


def _connect_grid(g: _Grid, poly, terminals, hole_centre=None,
                  hole_radius: float = _HOLE_RADIUS + 50.0):
    """Join every piece of the grid's road network to the town's main network.

    Random village edges, the roads removed around the boat-only area and the
    wavy town border leave pieces of village (and town) road that reach the
    rest only across a field. Each piece is joined to the piece through the
    seat by the shortest run of road-less grid edges inside the town (made
    village roads), avoiding the boat-only area; a piece that cannot be joined
    that way is removed. Edges that only clip a corner of the town (both nodes
    outside) are removed. ``terminals`` (grid indices ``(k, j)``) must be
    joined too: the nodes where links to the highway and to neighbouring towns
    arrive.
    """
    K, J = g.K, g.J
    nodes = g.nodes
    inside = shapely.contains_xy(poly, nodes[..., 0], nodes[..., 1]).ravel()
    # every grid edge, by its end nodes (k * J + j); kind 0 = x-edge xr[k, j], 1 = y-edge yr[j, k]
    kx, jx = np.meshgrid(np.arange(K), np.arange(J - 1), indexing="ij")
    jy, ky = np.meshgrid(np.arange(J), np.arange(K - 1), indexing="ij")
    kx, jx, jy, ky = kx.ravel(), jx.ravel(), jy.ravel(), ky.ravel()
    eu = np.r_[kx * J + jx, ky * J + jy]
    ev = np.r_[kx * J + jx + 1, (ky + 1) * J + jy]
    kind = np.r_[np.zeros(len(kx), int), np.ones(len(jy), int)]
    ia, ib = np.r_[kx, jy], np.r_[jx, ky]          # xr[ia, ib] or yr[ia, ib]
    flat = nodes.reshape(-1, 2)
    segs = shapely.linestrings(np.stack([flat[eu], flat[ev]], axis=1))

    def set_cls(e, c):
        (g.xr if kind[e] == 0 else g.yr)[ia[e], ib[e]] = c

    road = np.r_[g.xr[kx, jx], g.yr[jy, ky]] >= 0
    within = inside[eu] & inside[ev] & shapely.within(segs, poly)
    # corner clips: a road edge with both nodes outside the town
    clip = road & ~inside[eu] & ~inside[ev] & shapely.intersects(segs, poly)
    for e in np.flatnonzero(clip):
        set_cls(e, NOROAD)
    road &= ~clip
    free = within & ~road
    if hole_centre is not None:
        free &= segment_point_distance(flat[eu], flat[ev], hole_centre) > hole_radius
    # roads cost nothing to follow, a road-less edge its length
    graph = nx.Graph()
    graph.add_edges_from((int(eu[e]), int(ev[e]), {"e": int(e), "weight": 0.0 if road[e] else
                                                    float(shapely.length(segs[e]))})
                         for e in np.flatnonzero((road & within) | free))
    needed = {int(x) for e in np.flatnonzero(road) for x in (eu[e], ev[e]) if inside[x]}
    needed |= {int(k) * J + int(j) for k, j in terminals}
    seat = int(g.ks) * J + int(g.js)
    graph.add_nodes_from(needed | {seat})

    def pieces():
        on_road = nx.Graph()
        on_road.add_nodes_from(graph)
        on_road.add_edges_from((u, v) for u, v, w in graph.edges(data="weight") if w == 0.0)
        return [c for c in nx.connected_components(on_road) if c & needed or seat in c]

    added = removed = 0
    while True:
        main = next(c for c in pieces() if seat in c)
        rest = sorted((c for c in pieces() if seat not in c and c & needed), key=min)
        if not rest:
            break
        piece = rest[0]
        dist, path = nx.multi_source_dijkstra(graph, piece)
        reach = sorted((dist[n], n) for n in main if n in dist)
        if not reach:
            # cut off (behind the boat-only area): the piece's roads go
            for e in np.flatnonzero(road):
                if int(eu[e]) in piece or int(ev[e]) in piece:
                    set_cls(e, NOROAD)
                    road[e] = False
                    removed += 1
            graph.remove_nodes_from(piece - {seat})
            needed -= piece
            continue
        for u, v in itertools.pairwise(path[reach[0][1]]):
            edge = graph.edges[u, v]
            if edge["weight"] > 0.0:
                set_cls(edge["e"], VILLAGE)
                road[edge["e"]] = True
                edge["weight"] = 0.0
                added += 1
    log.debug("grid roads: %d edges added to join pieces, %d removed, %d corner clips removed",
              added, removed, int(clip.sum()))


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
    frame, poly, rng, g = _town_grid(seed, t_global)
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

    # links to the district's network: the highway interchange, and the county
    # roads of earlier neighbouring towns continued from the border (county class)
    lattice = _lattice_nodes(g, poly)
    links = []                     # (start, end): start on the highway or the border
    hw_join = None                 # (highway part, point) where the interchange joins it
    if hw_parts:
        best = min(range(len(hw_parts)), key=lambda i: hw_parts[i].distance(shapely.Point(seat)))
        hp = hw_parts[best]
        h = np.asarray(shapely.get_coordinates(hp.interpolate(hp.project(shapely.Point(seat))))[0])
        links.append((h, _nearest_node(g, lattice, h, poly)))
        hw_join = (best, h)
    for p in border_crossings(seed, t_global, poly):
        links.append((np.asarray(p), _nearest_node(g, lattice, p, poly)))
    link_lines = shapely.linestrings(np.array([[a, b] for a, b in links]).reshape(-1, 2, 2))
    link_buffer = (shapely.buffer(shapely.multilinestrings(link_lines), 10.0)
                   if len(link_lines) else None)
    terminals = [tuple(np.argwhere(np.all(g.nodes == b, axis=-1))[0]) for _, b in links]

    # a boat-only hamlet: a block far from the county roads, highway, links, rivers and
    # the town's border
    dline = np.minimum(np.abs(np.einsum("ij,j->i", centre - g.seat, g.Nx[g.ks])),
                       np.abs(np.einsum("ij,j->i", centre - g.seat, g.Ny[g.js])))
    pts = shapely.points(centre)
    d_hw = shapely.distance(pts, frame.highway)
    d_river = shapely.distance(pts, river_lines)
    d_link = (shapely.distance(pts, shapely.multilinestrings(link_lines)) if len(link_lines)
              else np.full(nb, np.inf))
    d_link = np.minimum(d_link, shapely.distance(pts, poly.boundary))   # neighbours' roads
    cand = []
    # as far from the trunk roads as the town allows (the nearer limits still keep them
    # beyond the road-less radius)
    for lim_line, lim_hw, lim_river, lim_seat in ((1450, 1500, 400, 2500),
                                                  (1250, 1250, 250, 2000)):
        cand = np.flatnonzero(whole & ~is_town & (dline > lim_line) & (d_hw > lim_hw)
                              & (d_river > lim_river) & (d_link > lim_hw) & (dseat > lim_seat))
        if len(cand):
            break
    hole_block = int(rng.choice(cand)) if len(cand) else -1
    is_hole = np.zeros(nb, bool)
    hole_centre = None
    if hole_block >= 0:
        hole_centre = centre[hole_block]
        _remove_roads_near(g, hole_centre, _HOLE_RADIUS)
        is_hole = np.hypot(*(centre - hole_centre).T) < _HOLE_RADIUS + 100.0
    else:
        log.warning("town %s: no block is far enough from roads for a boat-only area", town.name)
    # hamlets along block edges: how many on each edge, drawn now so that an edge
    # with houses along it carries a village road (a lane in front of the houses,
    # across a bridge where a canal lies between) before the blocks are laid out
    road_b, road_t = g.yr[jj, kk] >= 0, g.yr[jj + 1, kk] >= 0
    canal_b = g.yw[jj, kk] > 0
    p_good, p_poor = np.array([0.03, 0.32, 0.65]), np.array([0.42, 0.43, 0.15])
    n_hamlets = np.zeros((nb, 2), int)
    for e, good in enumerate((road_b | canal_b, road_t)):
        cum = np.cumsum(np.where(good[:, None], p_good, p_poor), axis=1)
        n_hamlets[:, e] = (rng.random(nb)[:, None] > cum).sum(axis=1)
    # no houses along an edge that lies mostly outside the town (its lane would be too)
    for e, jl in enumerate((jj, jj + 1)):
        edge = shapely.linestrings(np.stack([g.nodes[kk, jl], g.nodes[kk + 1, jl]], axis=1))
        n_hamlets[shapely.length(shapely.intersection(edge, poly))
                  < 0.8 * shapely.length(edge), e] = 0
    # the boat-only area is fields and water around its one hamlet: no houses along
    # the edges near it (they would have no road either)
    if hole_centre is not None:
        for e, jl in enumerate((jj, jj + 1)):
            near = segment_point_distance(g.nodes[kk, jl], g.nodes[kk + 1, jl], hole_centre)
            n_hamlets[is_hole | (near < _HOLE_RADIUS + 50.0), e] = 0
    lane_ok = ~is_town & shapely.intersects(poly, cells)
    for e, (road, jl) in enumerate(((road_b, jj), (road_t, jj + 1))):
        for b in np.flatnonzero(lane_ok & (n_hamlets[:, e] > 0) & ~road):
            g.yr[jl[b], kk[b]] = VILLAGE
    _connect_grid(g, poly, terminals, hole_centre)

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
    U0, U1 = cu.min(axis=1), cu.max(axis=1)
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
    hamlet_edge = []  # 0: along the bottom edge, 1: the top edge, 2: the boat-only hamlet
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
        # fish ponds inside one middle band (not where the boat-only hamlet goes)
        if nbnd >= 3 and b != hole_block and rng.random() < 0.5:
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
        if nbnd >= 3 and b != hole_block and rng.random() < 0.12:
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
            ends, joins = [], []
            for side, kl in enumerate((k, k + 1)):
                if g.xr[kl, j] >= 0:
                    e = intersect_lines(q, fu[b], g.Px[kl], g.Dx[kl])
                    joins.append((0, kl, j, e))
                else:
                    e = intersect_lines(q, fu[b], Lp[b] if side == 0 else Rp[b],
                                        Ld[b] if side == 0 else Rd[b])
                ends.append(e)
            # none reaches into the boat-only area
            if hole_centre is None or segment_point_distance(
                    ends[0][None], ends[1][None], hole_centre)[0] > _HOLE_RADIUS:
                farm_roads.append((ends[0], ends[1]))
                junctions.extend(joins)
        # hamlets along the southern and northern edges
        k, j = kk[b], jj[b]
        for edge in ("bottom", "top"):
            if edge == "bottom":
                origin, u, n = BL[b], fu[b], fn[b]
                length = float(np.hypot(*(BR[b] - BL[b])))
            else:
                origin, u, n = TL[b], tu[b], tn[b]
                length = float(np.hypot(*(TR[b] - TL[b])))
            nh = int(n_hamlets[b, 0 if edge == "bottom" else 1])
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
                hamlet_edge.append(0 if edge == "bottom" else 1)
                if edge == "bottom" and has_yc[b] and g.yr[j, k] >= 0 and not is_hole[b]:
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
            hamlet_edge.append(2)

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
        for trunk in (link_buffer, hw_buffer):
            if trunk is not None:
                okp &= ~shapely.intersects(trunk, pg)
        water_geom += list(pg[okp])
        water_kind += ["pond"] * int(okp.sum())
        water_name += [None] * int(okp.sum())
    water_geom = np.array(water_geom, dtype=object)
    water_kind = np.array(water_kind)
    town.water = {"geometry": water_geom, "kind": water_kind,
                  "name": np.array(water_name, dtype=object)}
    wtree = shapely.STRtree(water_geom)
    obstacles = (list(water_geom) + ([hw_buffer] if hw_buffer is not None else [])
                 + ([link_buffer] if link_buffer is not None else []))
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

    # roads -------------------------------------------------------------------
    town.roads = _roads(rng, g, farm_roads, junctions, hw_parts, hw_join, links, wtree,
                        water_geom, poly)

    # protected land other than farmland: the rivers' red line, flood zones
    red = polygon_parts([shapely.intersection(frame.redline_polygon, poly)])[0]
    redline = [part for part in shapely.get_parts(red) if part.area > 1000]
    floods = _raster.flood_zones(seed, poly)

    # sites -------------------------------------------------------------------
    frames = {"BL": BL, "BR": BR, "TL": TL, "TR": TR, "fu": fu, "fn": fn, "tu": tu, "tn": tn,
              "V": Vlo, "has_yc": has_yc, "k": kk, "j": jj}
    town.sites = _sites(rng, seed, town, g, field_block & ~is_hole & inside, is_town, frames,
                        quads, otree, hamlets, hamlet_edge, redline + floods, basic_block)

    # basic farmland: every strip of a basic block, except around the candidate
    # sites (one per town is left on basic farmland, on purpose); one protected
    # polygon per run of adjacent basic strips in a band
    st = town.strips
    off = ((np.asarray(town.sites["kind"]) == "new_community")
           & ~town.sites["on_basic_farmland"])
    if off.any():
        cut = shapely.STRtree(st["geometry"]).query(
            shapely.buffer(town.sites["geometry"][off], 10.0, quad_segs=2),
            predicate="intersects")[1]
        st["basic"][cut] = False
    runs, run_strips = _basic_runs(st, TL, tu, tn, BL, fu, fn)
    small = shapely.area(runs) <= 2000.0        # a lone strip is not a protected patch
    for r in np.flatnonzero(small):
        st["basic"][run_strips[r]] = False
    prot_geom = list(runs[~small]) + redline + floods
    prot_kind = (["basic_farmland"] * int((~small).sum()) + ["ecological_redline"] * len(redline)
                 + ["flood_zone"] * len(floods))
    town.protected = {"geometry": prot_geom, "kind": prot_kind}

    # facilities ----------------------------------------------------------------
    town.facilities = _facilities(rng, town, g, is_town, quads, dseat)
    return town


def _basic_runs(st: dict, TL, tu, tn, BL, fu, fn):
    """Runs of adjacent basic strips in a band, as rectangles, with their strips' indices."""
    idx = np.flatnonzero(st["basic"])
    if not len(idx):
        return np.array([], dtype=object), []
    o = np.lexsort((st["u0"][idx], st["band"][idx]))
    idx = idx[o]
    bandv, u0v, u1v = st["band"][idx], st["u0"][idx], st["u1"][idx]
    new_run = np.r_[True, (bandv[1:] != bandv[:-1]) | (u0v[1:] - u1v[:-1] > 1.0)]
    first = np.flatnonzero(new_run)
    last = np.r_[first[1:] - 1, len(idx) - 1]
    rb = st["block"][idx][first]
    rtop = st["top"][idx][first][:, None]
    runs = frame_rects(np.where(rtop, TL[rb], BL[rb]), np.where(rtop, tu[rb], fu[rb]),
                       np.where(rtop, tn[rb], fn[rb]), u0v[first], u1v[last],
                       st["v0"][idx][first], st["v1"][idx][first])
    return runs, [idx[a:b + 1] for a, b in zip(first, last)]


def _roads(rng, g: _Grid, farm_roads, junctions, hw_parts, hw_join, links, wtree, water_geom,
           poly):
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
    # highway pieces; the links (interchange, county roads from the neighbours) are
    # county roads, the interchange joining the highway where it starts
    hw_a, hw_b = [], []
    for part in hw_parts:
        c = shapely.get_coordinates(part)
        hw_a.append(c[0])
        hw_b.append(c[-1])
    n_before_hw = sum(len(a) for a in seg_a)
    if hw_join is not None:
        breaks.setdefault(n_before_hw + hw_join[0], []).append(np.asarray(hw_join[1]))
    seg_a.append(np.array(hw_a).reshape(-1, 2))
    seg_b.append(np.array(hw_b).reshape(-1, 2))
    seg_cls.append(np.full(len(hw_a), HIGHWAY))
    n_before_links = n_before_hw + len(hw_a)
    seg_a.append(np.array([a for a, _ in links]).reshape(-1, 2))
    seg_b.append(np.array([b for _, b in links]).reshape(-1, 2))
    seg_cls.append(np.full(len(links), COUNTY))
    A, B, CLS = np.concatenate(seg_a), np.concatenate(seg_b), np.concatenate(seg_cls)
    # keep what is inside the town: grid edges are clipped to the town polygon
    segs = shapely.linestrings(np.stack([A, B], axis=1))
    L = np.hypot(*(B - A).T)
    D = (B - A) / L[:, None]
    # a link meets the roads it crosses at grade (the highway passes over them)
    link_idx = np.arange(n_before_links, n_before_links + len(links))
    if len(link_idx):
        others = np.flatnonzero(CLS != HIGHWAY)
        others = others[~np.isin(others, link_idx)]
        li, oj = shapely.STRtree(segs[others]).query(segs[link_idx], predicate="intersects")
        for a, o in zip(link_idx[li], others[oj]):
            x = shapely.intersection(segs[a], segs[o])
            if x.geom_type == "Point":
                pt = np.asarray(x.coords[0])
                breaks.setdefault(int(a), []).append(pt)
                breaks.setdefault(int(o), []).append(pt)
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
        for (t0, p0), (t1, p1) in itertools.pairwise(ts):
            mid = (t0 + t1) / 2
            out_a.append(p0)
            out_b.append(p1)
            out_cls.append(CLS[s])
            out_bridge.append(any(lo <= mid <= hi for lo, hi in merged))
    oa, ob = np.array(out_a), np.array(out_b)
    ocls, obr = np.array(out_cls), np.array(out_bridge)
    lines = shapely.linestrings(np.stack([oa, ob], axis=1))
    # clip to the town
    within = shapely.within(lines, poly)
    clipped = lines.copy()
    clipped[~within] = shapely.intersection(lines[~within], poly)
    # drop the slivers a clip leaves where a road ends on the border
    for i in np.flatnonzero(~within):
        parts = shapely.get_parts(clipped[i])
        parts = parts[(shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 1.0)]
        clipped[i] = (parts[0] if len(parts) == 1 else shapely.multilinestrings(parts)
                      if len(parts) else shapely.LineString())
    # (a short piece inside the town stays: it may join a bridge to a junction)
    keep = ~shapely.is_empty(clipped) & ((shapely.length(clipped) > 1.0) | within)
    keep &= np.isin(shapely.get_type_id(clipped), (1, 5))
    geoms, cls, bridge, within = clipped[keep], ocls[keep], obr[keep], within[keep]
    # the border cuts fragments off some roads (a road that leaves the town and comes
    # back): pieces of village, town or county road joined to no county road go
    # (isolated field roads stay)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    ends = np.round(shapely.get_coordinates(shapely.boundary(parts)), 2).reshape(-1, 2, 2)
    graph = nx.Graph()
    graph.add_edges_from((tuple(a), tuple(b)) for a, b in ends)
    comp = {}
    for c, nodes in enumerate(nx.connected_components(graph)):
        comp.update(dict.fromkeys(nodes, c))
    part_comp = np.array([comp[tuple(a)] for a, _ in ends], dtype=int)
    trunk = set(part_comp[np.isin(cls[part_of], (HIGHWAY, COUNTY))].tolist())
    stray = ~np.isin(part_comp, sorted(trunk)) & (cls[part_of] != FARM)
    if stray.any():
        log.debug("roads: %d border fragments of village and town roads dropped (%.0f m)",
                  int(stray.sum()), float(shapely.length(parts[stray]).sum()))
        kept = [parts[(part_of == i) & ~stray] for i in range(len(geoms))]
        geoms = np.array([p[0] if len(p) == 1 else shapely.multilinestrings(p) if len(p)
                          else shapely.LineString() for p in kept], dtype=object)
        ok = ~shapely.is_empty(geoms)
        geoms, cls, bridge, within = geoms[ok], cls[ok], bridge[ok], within[ok]
    # a few deliberate small gaps (digitising errors for the network's gap report): a
    # village road stops 6 to 9 m short of the junction it should meet -- wider than
    # the network's 3 m snapping, so the gap is reported, and on a road that lies on a
    # loop of the clipped network, so nothing is cut off by it
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    ends = np.round(shapely.get_coordinates(shapely.boundary(parts)), 2).reshape(-1, 2, 2)
    graph = nx.MultiGraph()
    graph.add_edges_from((tuple(a), tuple(b), i) for (a, b), i in zip(ends, part_of.tolist()))
    for _ in range(3):                  # one at a time: two gaps must not cut a piece off
        on_bridge = {k for u, v in nx.bridges(graph) for k in graph[u][v]}
        cand = np.flatnonzero((cls == VILLAGE) & ~bridge & within & (shapely.length(geoms) > 100))
        cand = cand[~np.isin(cand, sorted(on_bridge))]
        if not len(cand):
            break
        s = int(rng.choice(cand))
        a, b = shapely.get_coordinates(geoms[s])[[0, -1]]
        d = (b - a) / np.hypot(*(b - a))
        geoms[s] = shapely.LineString([a + rng.uniform(6.0, 9.0) * d, b])
        graph.remove_edge(tuple(np.round(a, 2)), tuple(np.round(b, 2)), key=s)
        graph.add_edge(("gap", s), tuple(np.round(b, 2)), key=s)
    return {"geometry": geoms, "cls": cls, "bridge": bridge}


#: Land a new community takes per household: a 125 m2 plot on cultivated land plus
#: the 30 % of a site for roads, green space and public buildings (the scenario's
#: plot standard and road and green share).
SITE_M2_PER_HOUSEHOLD = 180.0
#: Candidate new-community sites per town, at most.
MAX_SITES = 40
#: Candidate capacity aimed for, as a multiple of the town's households (drawn per
#: town), and the least a town is given (planners offer more room than is needed).
CAPACITY_RATIO = (1.3, 1.5)
MIN_CAPACITY_RATIO = 1.2
#: Households per homestead plot, for the capacity target (96 % of plots are held,
#: by households holding 1.095 plots on average; see ``_people``).
_HOUSEHOLDS_PER_HOMESTEAD = 0.96 / 1.095


def _sites(rng, seed, town, g, cand_blocks, is_town, fr, quads, otree, hamlets, hamlet_edge,
           protected, basic_block):
    """Candidate new-community sites, and one or two blocks of town apartments.

    A candidate site is where planners would put one: on a field along a road
    (the block's edge, with no canal between), next to an existing hamlet on
    the same road, off water, off the rivers' red line and flood zones and on
    ground above the flood-zone depth, clear of houses and roads. Sites are
    drawn (60 to 400 households each) until their capacity reaches 1.3 to 1.5
    times the town's households, at most :data:`MAX_SITES` of them, the roomiest
    stretches of road first and each site's size drawn around the mean capacity
    still needed. Sites avoid
    basic farmland by construction (the strips under them are general farmland);
    the first site found on a block of basic farmland keeps it, so each town has
    one candidate the suitability check must flag (``on_basic_farmland``).
    """
    poly = town.polygon
    n_households = _HOUSEHOLDS_PER_HOMESTEAD * len(town.homesteads["geometry"])
    target = rng.uniform(*CAPACITY_RATIO) * n_households
    htree = shapely.STRtree(town.homesteads["geometry"])
    rtree = shapely.STRtree(town.roads["geometry"])
    ptree = shapely.STRtree(np.asarray(protected, dtype=object)) if len(protected) else None
    k, j = fr["k"], fr["j"]
    # anchors: the free stretch of road either side of each hamlet along a block edge
    # that has a road (no canal between), up to the next hamlet or the block's end
    edges: dict[tuple, list] = {}
    for h, e in zip(hamlets, hamlet_edge):
        if e != 2 and cand_blocks[h[0]]:
            edges.setdefault((h[0], e), []).append((h[8][0], h[8][1]))
    anchors = []
    for (b, e), spans in sorted(edges.items()):
        if e == 0:
            road = g.yr[j[b], k[b]] >= 0 and not fr["has_yc"][b]
            origin, u, n = fr["BL"][b], fr["fu"][b], fr["fn"][b]
            length = float(np.hypot(*(fr["BR"][b] - fr["BL"][b])))
        else:
            road = g.yr[j[b] + 1, k[b]] >= 0
            origin, u, n = fr["TL"][b], fr["tu"][b], fr["tn"][b]
            length = float(np.hypot(*(fr["TR"][b] - fr["TL"][b])))
        if not road:
            continue
        spans = sorted(spans)
        for i, (s0, s1) in enumerate(spans):
            right_end = spans[i + 1][0] - 12.0 if i + 1 < len(spans) else length - 15.0
            left_end = spans[i - 1][1] + 12.0 if i > 0 else 15.0
            anchors.append((b, origin, u, n, s1, right_end, 1))
            anchors.append((b, origin, u, n, s0, left_end, -1))
    # the roomiest stretches first (planners look for room), in a random order among equals
    room_cap = np.array([min(400.0, abs(a[5] - a[4]) * min(240.0, 0.44 * fr["V"][a[0]])
                             / SITE_M2_PER_HOUSEHOLD) for a in anchors])
    order = np.argsort(-room_cap * rng.uniform(0.35, 1.0, len(anchors)), kind="stable")
    chosen, caps, blocks = [], [], []
    total = 0.0
    for i in order:
        if len(chosen) >= MAX_SITES or total >= target:
            break
        b, origin, u, n, edge_u, far_u, side = anchors[i]
        need = (target - total) / (MAX_SITES - len(chosen))    # mean capacity still needed
        cap = int(np.clip(need * rng.uniform(0.5, 1.5), 60, 400))
        aspect = rng.uniform(1.0, 2.2)                # along the road / depth
        gap = rng.uniform(12.0, 30.0)
        room = (far_u - edge_u) * side - gap          # free length along the road
        max_depth = min(240.0, 0.44 * fr["V"][b])
        area = cap * SITE_M2_PER_HOUSEHOLD
        w = np.sqrt(area * aspect)
        depth = area / w
        if depth > max_depth:
            depth, w = max_depth, area / max_depth
        if w > room:
            w = room
            depth = min(max_depth, area / max(w, 1.0))
        for _attempt in range(3):
            cap = int(w * depth / SITE_M2_PER_HOUSEHOLD)
            if cap < 60:
                break
            u0 = edge_u + gap if side > 0 else edge_u - gap - w
            geom = frame_rects(origin, u, n, u0, u0 + w, 2.0, 2.0 + depth)
            if (shapely.within(geom, quads[b]) and shapely.contains(poly, geom)
                    and _site_is_clear(geom, seed, otree, htree, rtree, ptree, chosen)):
                chosen.append(geom)
                caps.append(min(cap, 400))
                blocks.append(b)
                total += caps[-1]
                break
            w, depth = w * 0.8, depth * 0.9
    blocks = np.array(blocks, dtype=int)
    on_basic = np.zeros(len(chosen), bool)
    basic_sites = np.flatnonzero(basic_block[blocks]) if len(blocks) else []
    if len(basic_sites):
        on_basic[basic_sites[0]] = True
    if total < MIN_CAPACITY_RATIO * n_households:
        log.warning("town %s: candidate sites hold %d households, less than %.1f times the "
                    "town's %d", town.name, int(total), MIN_CAPACITY_RATIO, int(n_households))
    out_geom = list(chosen)
    out_kind = ["new_community"] * len(chosen)
    out_cap = list(caps)
    out_cost = list(np.round((1.2e6 + np.array(caps) * 1.5e4
                              * rng.uniform(0.85, 1.15, len(caps))) / 1000) * 1000)
    # town apartments: 1-2 blocks of flats beside the seat
    tb = np.flatnonzero(is_town & shapely.within(quads, poly))
    tb = tb[np.argsort(np.hypot(*(town.blocks["centre"][tb] - g.seat).T), kind="stable")]
    n_apt = int(rng.integers(1, 3))
    placed = 0
    for b in tb[1:]:
        if placed >= n_apt:
            break
        c = shapely.get_coordinates(shapely.centroid(quads[b]))[0]
        u, n = fr["tu"][b], -fr["tn"][b]
        geom = frame_rects(c - 55 * u - 45 * n, u, n, 0.0, 110.0, 0.0, 90.0)
        if not geom.within(quads[b]) or otree.query(geom, predicate="intersects").size:
            continue
        if ptree is not None and ptree.query(geom, predicate="intersects").size:
            continue
        out_geom.append(geom)
        out_kind.append("town_apartments")
        capa = int(rng.integers(30, 81)) * 10
        out_cap.append(capa)
        out_cost.append(float(np.round(rng.uniform(6e6, 12e6) / 1000) * 1000))
        placed += 1
    return {"geometry": np.array(out_geom, dtype=object), "kind": out_kind,
            "capacity": out_cap, "cost": out_cost,
            "on_basic_farmland": np.r_[on_basic, np.zeros(placed, bool)]}


def _site_is_clear(geom, seed, otree, htree, rtree, ptree, chosen) -> bool:
    """Off water, the highway and links, houses, roads, protected land and low ground."""
    if otree.query(geom, predicate="intersects").size:
        return False
    if htree.query(geom, predicate="dwithin", distance=5.0).size:
        return False
    if rtree.query(geom, predicate="dwithin", distance=3.0).size:
        return False
    if ptree is not None and ptree.query(geom, predicate="dwithin", distance=5.0).size:
        return False
    if any(shapely.dwithin(geom, c, 30.0) for c in chosen):
        return False
    # ground above the flood-zone depth at the corners and the middle
    c = shapely.get_coordinates(geom)[:4]
    pts = np.r_[c, c.mean(axis=0, keepdims=True), (c + c.mean(axis=0)) / 2]
    z = _raster.smooth_elevation(seed, pts[:, 0], pts[:, 1])
    return bool((z >= _raster.DESIGN_FLOOD_LEVEL - _raster.FLOOD_ZONE_DEPTH + 0.05).all())


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
