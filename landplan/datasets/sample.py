"""The committed sample (one town) and the cached full district.

The sample lives in the repository at ``data/sample/`` (``project.gpkg`` and
``rasters/``); it is exactly what :func:`write_sample` writes, and the test
suite checks that it still is. In an installed package without the
repository's ``data/`` folder, it is generated once into the cache
(``$LANDPLAN_CACHE``, else ``~/.cache/landplan``).

Examples
--------
>>> p = sample_path()
>>> p.name
'project.gpkg'
>>> layers = load_sample_layers()
>>> layers["towns"]["name"].tolist()
['新丰镇']
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from ..schema import LAYERS
from ..units import WORKING_CRS
from .generate import resolve_n_towns, write_district

log = logging.getLogger(__name__)

__all__ = [
    "GENERATOR_VERSION",
    "SAMPLE_SEED",
    "SAMPLE_TOWNS",
    "cache_dir",
    "district_path",
    "load_sample_layers",
    "read_layers",
    "sample_dir",
    "sample_path",
    "write_sample",
]

#: The sample: town T01 (新丰镇) of the district generated with seed 2008.
SAMPLE_SEED = 2008
SAMPLE_TOWNS = 1
#: Bumped whenever the generator's output changes (names the cache folders).
GENERATOR_VERSION = 1

_REPO_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def cache_dir() -> Path:
    """Where generated data is cached: ``$LANDPLAN_CACHE`` or ``~/.cache/landplan``."""
    env = os.environ.get("LANDPLAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "landplan"


def write_sample(out_dir) -> Path:
    """Write the sample into ``out_dir``: town T01 of seed 2008, kept small.

    No spatial index in the GeoPackage and no raster overviews; otherwise the
    same as :func:`~landplan.datasets.write_district`.
    """
    return write_district(out_dir, n_towns=SAMPLE_TOWNS, seed=SAMPLE_SEED, spatial_index=False,
                          overviews=False)


def _generate_once(target: Path, make) -> Path:
    """Run ``make(folder)`` into a temporary folder, then move it to ``target``."""
    if (target / "project.gpkg").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        make(tmp)
        os.chmod(tmp, 0o755)                 # mkdtemp makes it private
        try:
            os.replace(tmp, target)
        except OSError:                     # another process got there first
            if not (target / "project.gpkg").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def sample_dir() -> Path:
    """The folder of the sample: the repository's ``data/sample``, else the cache."""
    if (_REPO_SAMPLE / "project.gpkg").exists():
        return _REPO_SAMPLE
    target = cache_dir() / f"sample-v{GENERATOR_VERSION}"
    log.info("no bundled sample; generating it into %s", target)
    return _generate_once(target, write_sample)


def sample_path() -> Path:
    """Path of the sample GeoPackage (one town of the synthetic district).

    Rasters are in ``rasters/`` beside it.
    """
    return sample_dir() / "project.gpkg"


def district_path(n_towns: int | None = None, seed: int = 2008, *, scale="district",
                  progress: bool = False) -> Path:
    """Path of a generated district's GeoPackage, generating and caching it once.

    Parameters
    ----------
    n_towns : int, optional
        Number of towns (default: the five towns of ``scale``).
    seed : int
        Generator seed.
    scale : {"town", "district"} or int
        See :func:`landplan.datasets.resolve_n_towns`.
    """
    n = resolve_n_towns(scale, n_towns)
    target = cache_dir() / f"district-n{n}-s{seed}-v{GENERATOR_VERSION}"
    _generate_once(target, lambda d: write_district(d, n_towns=n, seed=seed, progress=progress))
    return target / "project.gpkg"


def _coerce(name: str, df: pd.DataFrame) -> pd.DataFrame:
    spec = LAYERS[name]
    for c in spec.columns:
        if c.name not in df:
            continue
        df[c.name] = df[c.name].astype(c.pandas_dtype)
    cols = spec.column_names + (["geometry"] if spec.geometry else [])
    return df[[c for c in cols if c in df]]


def read_layers(path) -> dict[str, pd.DataFrame]:
    """Read every landplan layer of a GeoPackage, with the schema's dtypes."""
    path = Path(path)
    out = {}
    for name, _gtype in pyogrio.list_layers(path):
        if name not in LAYERS:
            continue
        df = pyogrio.read_dataframe(path, layer=name)
        if isinstance(df, gpd.GeoDataFrame) and df.crs is None:
            df = df.set_crs(WORKING_CRS)
        out[name] = _coerce(name, df)
    return out


def load_sample_layers() -> dict[str, pd.DataFrame]:
    """The sample's layers: GeoDataFrames (households: a DataFrame)."""
    return read_layers(sample_path())
