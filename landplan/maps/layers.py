"""Map-ready layers from plan tables: moves as lines.

A consolidation plan's ``moves`` table says which hamlet moves how many
households to which site, without geometry; :func:`move_lines` draws each
move as a straight line from the hamlet to the site, so that
:func:`~landplan.maps.plan_map` can show it.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import box, Point
>>> hamlets = gpd.GeoDataFrame({"hamlet_id": ["H1"]}, geometry=[Point(500000, 3400000)],
...                            crs="EPSG:4549")
>>> sites = gpd.GeoDataFrame({"site_id": ["S1"]},
...                          geometry=[box(501000, 3400000, 501100, 3400100)], crs="EPSG:4549")
>>> moves = pd.DataFrame({"origin": ["H1"], "destination": ["S1"], "households": [30]})
>>> lines = move_lines(moves, hamlets, sites)
>>> lines.geometry.iloc[0].length
1051.1898...
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import Problem, ValidationError

__all__ = ["move_lines"]


def _points_by_key(layer: gpd.GeoDataFrame, keys: tuple[str, ...], name: str, crs) -> pd.Series:
    key = next((k for k in keys if k in layer.columns), None)
    if key is None and layer.index.name in keys:
        layer = layer.reset_index()
        key = layer.columns[0]
    if key is None:
        raise ValidationError([Problem(name, "missing_key", [], f"{name} has no {' or '.join(keys)} column",
                                       f"pass the {name} layer with its key column")])
    if not isinstance(layer, gpd.GeoDataFrame) or layer.crs is None:
        raise ValidationError([Problem(name, "no_geometry", [], f"{name} has no geometry or no CRS",
                                       f"pass {name} as a GeoDataFrame with a CRS")])
    geom = layer.geometry.to_crs(crs)
    pts = shapely.point_on_surface(np.asarray(geom.values))
    return pd.Series(pts, index=layer[key].astype(str).to_numpy())


def move_lines(moves: pd.DataFrame, origins: gpd.GeoDataFrame, destinations: gpd.GeoDataFrame, *,
               origin_keys: tuple[str, ...] = ("hamlet_id", "origin"),
               destination_keys: tuple[str, ...] = ("site_id", "destination")) -> gpd.GeoDataFrame:
    """Each move as a line from its origin (hamlet) to its destination (site).

    Parameters
    ----------
    moves : DataFrame
        ``origin``, ``destination`` and any other columns (households,
        distance, cost ...), one row per move.
    origins : GeoDataFrame
        The hamlets (key ``hamlet_id``), polygons or points.
    destinations : GeoDataFrame
        The sites (key ``site_id``, or ``destination`` for a plan's sites table).
    origin_keys, destination_keys : tuple of str
        Key column names tried in turn.

    Returns
    -------
    GeoDataFrame
        Row-aligned to ``moves`` (same index and columns) with a LineString
        from a point on the origin's surface to one on the destination's, in
        the origins' CRS.

    Raises
    ------
    landplan.errors.ValidationError
        Moves whose origin or destination is not in the layers given (listed
        as ``origin->destination``): nothing is dropped.
    """
    crs = origins.crs
    o = _points_by_key(origins, origin_keys, "origins", crs)
    d = _points_by_key(destinations, destination_keys, "destinations", crs)
    src = moves["origin"].astype(str).to_numpy()
    dst = moves["destination"].astype(str).to_numpy()
    o = o[~o.index.duplicated()]
    d = d[~d.index.duplicated()]
    problems = []
    bad_o = ~pd.Index(src).isin(o.index)
    bad_d = ~pd.Index(dst).isin(d.index)
    if bad_o.any():
        problems.append(Problem("moves", "unknown_origin",
                                [f"{a}->{b}" for a, b in zip(src[bad_o], dst[bad_o])],
                                "moves from origins not in the origins (hamlets) layer",
                                "pass the hamlets the plan was made from"))
    if bad_d.any():
        problems.append(Problem("moves", "unknown_destination",
                                [f"{a}->{b}" for a, b in zip(src[bad_d], dst[bad_d])],
                                "moves to destinations not in the destinations (sites) layer",
                                "pass the sites the plan was made from"))
    if problems:
        raise ValidationError(problems)
    a = o.reindex(src).to_numpy()
    b = d.reindex(dst).to_numpy()
    coords = np.stack([shapely.get_coordinates(a), shapely.get_coordinates(b)], axis=1)
    lines = shapely.linestrings(coords)
    return gpd.GeoDataFrame(moves.copy(), geometry=gpd.GeoSeries(lines, index=moves.index, crs=crs))
