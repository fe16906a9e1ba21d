"""The synthetic Nanhu-like district: layers in landplan's schema, plus rasters.

The district is synthetic: no public parcel, village or road data exist for
Nanhu, so the generator invents a plausible one around the real district seat
(120.779E 30.748N), in EPSG:4549. Names of people and ID numbers are
obviously fake (``测试户主000001``, ``TEST...``).

Each town is generated from its own seed, derived from ``(seed, district,
town)``, so ``n_towns=1`` gives exactly town T01 of the full district, and the
same seed gives the same layers (and, written, the same bytes).

Examples
--------
>>> from landplan.datasets import generate_district
>>> d = generate_district("town", seed=7, rasters=False)
>>> d.layers["towns"]["name"].tolist()
['新丰镇']
>>> d.layers["homesteads"].crs.to_epsg()
4549
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from ..schema import LAYERS, ROAD_CLASSES
from ..units import WORKING_CRS
from . import _people, _raster
from ._frame import TOWNS_PER_DISTRICT
from ._geometry import round_geoms
from ._town import Town, generate_town

log = logging.getLogger(__name__)

__all__ = [
    "GPKG_TIMESTAMP",
    "GeneratedDistrict",
    "file_digests",
    "generate_district",
    "resolve_n_towns",
    "write_district",
]

#: Timestamp written into the GeoPackage (the plan's date), for identical bytes.
GPKG_TIMESTAMP = "2008-01-28T00:00:00Z"
#: Layer order in the written GeoPackage.
LAYER_ORDER = ("towns", "villages", "households", "homesteads", "farmland", "roads", "water",
               "protected", "sites", "facilities")
_RESIDENCE = np.array(["resident", "migrant", "none"], dtype=object)
_MODES = np.array(["lease", "shares", "exchange"], dtype=object)


def resolve_n_towns(scale="district", n_towns: int | None = None) -> int:
    """Number of towns for a scale preset.

    Parameters
    ----------
    scale : {"town", "district"} or int
        ``"town"``: town T01 only; ``"district"``: the five towns; an int ``k``:
        ``k`` districts of five towns each (towns of district 2 are named
        新丰镇2, ...).
    n_towns : int, optional
        Overrides ``scale``.

    Examples
    --------
    >>> resolve_n_towns("town"), resolve_n_towns("district"), resolve_n_towns(3)
    (1, 5, 15)
    >>> resolve_n_towns(n_towns=2)
    2
    """
    if n_towns is not None:
        n = int(n_towns)
    elif scale == "town":
        n = 1
    elif scale == "district":
        n = TOWNS_PER_DISTRICT
    elif isinstance(scale, (int, np.integer)) and not isinstance(scale, bool):
        n = int(scale) * TOWNS_PER_DISTRICT
    else:
        raise ValueError(f"scale must be 'town', 'district' or a number of districts, "
                         f"not {scale!r}")
    if n < 1:
        raise ValueError(f"need at least one town, got {n}")
    return n


@dataclass
class GeneratedDistrict:
    """A generated district: its layers, and its rasters as arrays.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame or DataFrame
        One entry per schema layer, columns and dtypes as in
        :data:`landplan.schema.LAYERS` (households has no geometry).
    rasters : dict of str to numpy.ndarray
        ``"elevation"`` and ``"flood_depth"`` (float32, metres, ``nodata``
        outside the towns), or empty when generated with ``rasters=False``.
    transform : affine.Affine or None
        Transform of the rasters (10 m cells).
    """

    layers: dict
    rasters: dict = field(default_factory=dict)
    transform: object = None
    seed: int = 2008
    n_towns: int = 5
    crs: str = WORKING_CRS
    nodata: float = _raster.NODATA

    def write(self, out_dir, *, spatial_index: bool = True, overviews: bool = True,
              zlevel: int = 6) -> Path:
        """Write ``out_dir/project.gpkg`` and ``out_dir/rasters/*.tif``.

        Writing is atomic per file and gives the same bytes for the same
        district. Returns ``out_dir``.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created if missing; files are replaced).
        spatial_index : bool
            Write R-tree indexes in the GeoPackage.
        overviews : bool
            Build raster overviews (2x to 16x, averaged).
        zlevel : int
            DEFLATE level of the rasters (9: about 10 % smaller, five times slower).
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_gpkg(self.layers, out_dir / "project.gpkg", spatial_index=spatial_index)
        if self.rasters:
            rdir = out_dir / "rasters"
            rdir.mkdir(exist_ok=True)
            desc = {"elevation": "ground elevation (m, synthetic)",
                    "flood_depth": f"flood depth at a {_raster.DESIGN_FLOOD_LEVEL} m design "
                                   "flood level (m, synthetic)"}
            for name, arr in self.rasters.items():
                tmp = rdir / f".{name}.tif.tmp"
                _raster.write_geotiff(tmp, arr, self.transform, crs=self.crs,
                                      description=desc.get(name, name), overviews=overviews,
                                      zlevel=zlevel)
                os.replace(tmp, rdir / f"{name}.tif")
        log.info("wrote %d towns to %s", self.n_towns, out_dir)
        return out_dir


# ---------------------------------------------------------------------------------------
def _typed(layer: str, data: dict, geometry=None):
    """A (Geo)DataFrame with exactly the schema's columns and dtypes."""
    spec = LAYERS[layer]
    cols = {}
    n = None
    for c in spec.columns:
        v = data.get(c.name)
        if v is None:
            v = [None] * (n if n is not None else len(geometry))
        n = len(v)
        if c.dtype == "str":
            cols[c.name] = pd.array(np.asarray(v, dtype=object), dtype="str")
        elif c.dtype in ("int", "year"):
            cols[c.name] = pd.array(v, dtype="Int64")
        elif c.dtype == "bool":
            cols[c.name] = pd.array(v, dtype="boolean")
        else:
            cols[c.name] = np.asarray(v, dtype="float64")
    df = pd.DataFrame(cols)
    if spec.geometry is None:
        return df
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(round_geoms(geometry), crs=WORKING_CRS))


def _masked(values, mask):
    """Object array with None where ``mask``."""
    out = np.asarray(values, dtype=object).copy()
    out[np.asarray(mask)] = None
    return out


def _per_village_ids(vids: np.ndarray, letter: str, width: int) -> np.ndarray:
    """``{village_id}{letter}{n}`` numbered from 1 within each village, in order."""
    vids = np.asarray(vids, dtype=object)
    if not len(vids):
        return vids
    new = np.r_[True, vids[1:] != vids[:-1]]
    grp = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    n = np.arange(len(vids)) - first[grp] + 1
    return np.array([f"{v}{letter}{i:0{width}d}" for v, i in zip(vids, n)], dtype=object)


def _town_layers(seed: int, town: Town) -> dict:
    """Turn one generated town into the schema's layers."""
    tno = town.index + 1
    tid = f"T{tno:02d}"
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4000, town.index]))
    short = town.name.replace("镇", "")
    out = {}
    out["towns"] = _typed("towns", {"town_id": [tid], "name": [town.name],
                                    "seat_x": [round(town.seat[0], 2)],
                                    "seat_y": [round(town.seat[1], 2)]},
                          [town.polygon])
    nv = len(town.villages["name"])
    vid = np.array([f"{tid}V{v + 1:02d}" for v in range(nv)], dtype=object)
    out["villages"] = _typed("villages", {"village_id": vid, "town_id": [tid] * nv,
                                          "name": town.villages["name"]},
                             town.villages["geometry"])

    # homesteads and households, ordered by village, then hamlet, then along the row
    blk_v = town.blocks["village"]
    hs = town.homesteads
    hv = blk_v[hs["block"]]
    o = np.lexsort((np.arange(len(hv)), hs["hamlet"], hv))
    hv, hgeom = hv[o], hs["geometry"][o]
    people = _people.households_and_status(rng, hv, nv)
    hom_ids = _per_village_ids(vid[hv], "H", 5)
    hh_vid = vid[people["hh_village"]]
    hh_ids = _per_village_ids(hh_vid, "F", 4)
    holder = people["holder"]
    out["homesteads"] = _typed("homesteads", {
        "homestead_id": hom_ids,
        "household_id": _masked(hh_ids[np.maximum(holder, 0)] if len(hh_ids) else
                                np.full(len(holder), None), holder < 0),
        "village_id": vid[hv],
        "landuse_code": ["0702"] * len(hv),
        "status": _people.STATUS[people["status"]],
        "vacant_since": _masked(people["vacant_since"], people["vacant_since"] < 0),
        "built_year": _masked(people["built_year"], people["built_year"] < 0),
    }, hgeom)
    nh = len(hh_ids)
    gno = town.index * 100000 + np.arange(1, nh + 1)
    prim = people["hh_primary"]
    willing = people["willing"]
    out["households"] = _typed("households", {
        "household_id": hh_ids,
        "village_id": hh_vid,
        "members": people["members"],
        "residence": _RESIDENCE[people["residence"]],
        "willing_to_relocate": _masked(willing == 1, willing < 0),
        "registered_homestead_id": _masked(hom_ids[np.maximum(prim, 0)], prim < 0),
        "head_name": np.array([f"测试户主{g:07d}" for g in gno], dtype=object),
        "id_number": np.array([f"TEST{g:014d}" for g in gno], dtype=object),
    })

    # farmland: contracts and transfers
    st = town.strips
    sv = blk_v[st["block"]]
    o = np.lexsort((np.arange(len(sv)), sv))
    st = {k: v[o] for k, v in st.items()}
    sv = sv[o]
    contract = _people.contracts(rng, sv, people["hh_village"], people["members"])
    eligible = ~town.blocks["is_hole"]
    tr = _people.transfers(rng, st["block"], town.blocks["k"], town.blocks["j"], eligible, short)
    op = tr["operator"]
    none = op < 0
    opi = np.maximum(op, 0)
    pick = lambda a: _masked(a[opi] if len(a) else np.full(len(op), None), none)
    rent = tr["rent"][opi] if len(tr["rent"]) else np.full(len(op), np.nan)
    out["farmland"] = _typed("farmland", {
        "parcel_id": _per_village_ids(vid[sv], "P", 5),
        "household_id": _masked(hh_ids[np.maximum(contract, 0)] if nh else
                                np.full(len(contract), None), contract < 0),
        "village_id": vid[sv],
        "landuse_code": st["code"],
        "basic_farmland": st["basic"],
        "quality_grade": st["grade"],
        "transfer_mode": pick(_MODES[tr["mode"]] if len(tr["mode"]) else np.array([])),
        "transfer_operator": pick(tr["name"]),
        "transfer_start_year": pick(tr["start"]),
        "transfer_term_years": pick(tr["term"]),
        "rent_per_mu": np.where(none, np.nan, rent),
    }, st["geometry"])

    rd = town.roads
    cls = np.asarray(ROAD_CLASSES, dtype=object)[rd["cls"]]
    names = np.full(len(cls), None, dtype=object)
    names[rd["cls"] == 0] = "嘉南高速(虚构)"
    names[rd["cls"] == 1] = f"{short}县道"
    out["roads"] = _typed("roads", {
        "road_id": np.array([f"{tid}R{i + 1:05d}" for i in range(len(cls))], dtype=object),
        "road_class": cls, "bridge": rd["bridge"], "name": names}, rd["geometry"])
    w = town.water
    out["water"] = _typed("water", {
        "water_id": np.array([f"{tid}W{i + 1:05d}" for i in range(len(w["kind"]))], dtype=object),
        "kind": w["kind"], "name": w["name"]}, w["geometry"])
    pg = list(town.protected["geometry"])
    pk = list(town.protected["kind"])
    out["protected"] = _typed("protected", {
        "protected_id": np.array([f"{tid}Z{i + 1:05d}" for i in range(len(pk))], dtype=object),
        "kind": pk}, np.array(pg, dtype=object))
    s = town.sites
    kinds = np.asarray(s["kind"], dtype=object)
    comm = np.cumsum(kinds == "new_community")
    apt = np.cumsum(kinds == "town_apartments")
    sid = np.array([f"{tid}S{c:03d}" if k == "new_community" else f"{tid}A{a:02d}"
                    for k, c, a in zip(kinds, comm, apt)], dtype=object)
    sname = np.array([f"{town.name}新社区候选点{c}" if k == "new_community"
                      else f"{town.name}城镇公寓{a}" for k, c, a in zip(kinds, comm, apt)],
                     dtype=object)
    out["sites"] = _typed("sites", {
        "site_id": sid, "town_id": [tid] * len(sid), "kind": kinds,
        "capacity_households": s["capacity"], "fixed_cost": s["cost"], "name": sname},
        s["geometry"])
    f = town.facilities
    out["facilities"] = _typed("facilities", {
        "facility_id": np.array([f"{tid}F{i + 1:03d}" for i in range(len(f["kind"]))],
                                dtype=object),
        "kind": f["kind"], "town_id": [tid] * len(f["kind"]), "name": f["name"]},
        f["geometry"])
    return out


def generate_district(scale="district", *, n_towns: int | None = None, seed: int = 2008,
                      rasters: bool = True, progress: bool = False) -> GeneratedDistrict:
    """Generate a synthetic Nanhu-like district.

    Parameters
    ----------
    scale : {"town", "district"} or int
        One town (T01, 新丰镇), the five towns of the 2008 plan, or that many
        districts of five towns. See :func:`resolve_n_towns`.
    n_towns : int, optional
        Exact number of towns (overrides ``scale``).
    seed : int
        The same seed gives the same district.
    rasters : bool
        Also compute the 10 m elevation and flood-depth rasters.
    progress : bool
        Show a progress bar (tqdm).

    Returns
    -------
    GeneratedDistrict

    Examples
    --------
    >>> d = generate_district(n_towns=1, seed=1, rasters=False)
    >>> sorted(d.layers) == sorted(LAYERS)
    True
    >>> int(d.layers["households"]["members"].min()) >= 1
    True
    """
    n = resolve_n_towns(scale, n_towns)
    from tqdm.auto import tqdm

    parts: dict[str, list] = {k: [] for k in LAYER_ORDER}
    polys, water, houses = [], [], []
    for t in tqdm(range(n), desc="towns", disable=not progress, unit="town"):
        town = generate_town(seed, t)
        layers = _town_layers(seed, town)
        for k, v in layers.items():
            parts[k].append(v)
        polys.append(town.polygon)
        water.extend(layers["water"].geometry.array)
        houses.extend(layers["homesteads"].geometry.array)
        log.debug("town %s: %d homesteads, %d strips", town.name, len(layers["homesteads"]),
                  len(layers["farmland"]))
    layers = {}
    for k in LAYER_ORDER:
        df = pd.concat(parts[k], ignore_index=True)
        if LAYERS[k].geometry is not None:
            df = gpd.GeoDataFrame(df, geometry="geometry", crs=WORKING_CRS)
        layers[k] = df
    arrays, transform = ({}, None)
    if rasters:
        arrays, transform = _raster.make_rasters(seed, polys, water, houses)
    return GeneratedDistrict(layers, arrays, transform, seed=int(seed), n_towns=n)


def write_district(out_dir, scale="district", *, n_towns: int | None = None, seed: int = 2008,
                   spatial_index: bool = True, overviews: bool = True, zlevel: int = 6,
                   progress: bool = False) -> Path:
    """Generate a district and write it: ``project.gpkg`` and ``rasters/*.tif``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing; files in it are replaced).
    scale, n_towns, seed, progress
        As for :func:`generate_district`.
    spatial_index : bool
        Write R-tree indexes in the GeoPackage.
    overviews : bool
        Build raster overviews.
    zlevel : int
        DEFLATE level of the rasters.

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> import tempfile
    >>> out = write_district(tempfile.mkdtemp(), "town", seed=7)
    >>> sorted(p.name for p in out.rglob("*") if p.is_file())
    ['elevation.tif', 'flood_depth.tif', 'project.gpkg']
    """
    d = generate_district(scale, n_towns=n_towns, seed=seed, progress=progress)
    return d.write(out_dir, spatial_index=spatial_index, overviews=overviews, zlevel=zlevel)


def _write_gpkg(layers: dict, path: Path, *, spatial_index: bool = True) -> Path:
    """Write layers to one GeoPackage with pyogrio, with a fixed timestamp (same bytes)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".gpkg", dir=path.parent, prefix=f".{path.stem}-")
    os.close(fd)
    os.unlink(tmp)
    # a fixed timestamp for identical bytes; no fsync per transaction (the file is
    # written under a temporary name and renamed when complete)
    opts = {"OGR_CURRENT_DATE": GPKG_TIMESTAMP, "OGR_SQLITE_SYNCHRONOUS": "OFF"}
    old = {k: pyogrio.get_gdal_config_option(k) for k in opts}
    pyogrio.set_gdal_config_options(opts)
    try:
        for name in LAYER_ORDER:
            if name not in layers:
                continue
            df = layers[name]
            kwargs = {}
            if isinstance(df, gpd.GeoDataFrame):
                kwargs["layer_options"] = {"SPATIAL_INDEX": "YES" if spatial_index else "NO"}
                kwargs["promote_to_multi"] = False
            pyogrio.write_dataframe(df, tmp, layer=name, driver="GPKG", use_arrow=True,
                                    append=os.path.exists(tmp), **kwargs)
        os.replace(tmp, path)
    finally:
        pyogrio.set_gdal_config_options(old)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def file_digests(folder) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path -> hex digest).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (f / "a.txt").write_text("x")
    >>> file_digests(f)["a.txt"][:8]
    '2d711642'
    """
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith(".") and p.suffix != ".md":
            out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out

