"""The committed sample (one town) and the cached full district.

The sample lives in the repository at ``data/sample/``: ``project.gpkg.zip``
(the GeoPackage, zipped: 2.3 MB instead of 9.5) and ``rasters/``; it is exactly
what :func:`write_sample` writes, and the test suite checks that it still is.
:func:`sample_path` unpacks it once into the cache (``$LANDPLAN_CACHE``, else
``~/.cache/landplan``), in a folder named after the zip's SHA-256, so an
updated sample is never read from an old copy. In an installed package without
the repository's ``data/`` folder, the sample is generated once into the cache.

A cached district can never be stale: its folder is named after the generator
version *and* a hash of the generator's source files
(:func:`generator_fingerprint`), so any change to the generator -- bumped
version or not -- makes the next :func:`district_path` generate afresh.

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

import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
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
    "PACKED_NAME",
    "SAMPLE_SEED",
    "SAMPLE_TOWNS",
    "cache_dir",
    "district_path",
    "generator_fingerprint",
    "load_sample_layers",
    "read_layers",
    "sample_dir",
    "sample_path",
    "write_sample",
]

#: The sample: town T01 (新丰镇) of the district generated with seed 2008.
SAMPLE_SEED = 2008
SAMPLE_TOWNS = 1
#: Bumped whenever the generator's output changes on purpose (names the cache
#: folders, with :func:`generator_fingerprint`). 2: towns joined by county roads,
#: candidate sites off basic farmland with capacity for every household.
GENERATOR_VERSION = 2

_PACKAGE = Path(__file__).resolve().parents[1]
_REPO_SAMPLE = _PACKAGE.parent / "data" / "sample"


def _generator_sources() -> list[Path]:
    """The files whose content decides what the generator makes."""
    return sorted(_PACKAGE.joinpath("datasets").glob("*.py")) + [
        _PACKAGE / "schema.py", _PACKAGE / "units.py"]


def generator_fingerprint(paths=None) -> str:
    """A short hash of the generator's source files (names the cache folders).

    Parameters
    ----------
    paths : list of path, optional
        Files to hash (default: every module of :mod:`landplan.datasets`, and
        :mod:`landplan.schema` and :mod:`landplan.units`, which fix the
        layers' columns and the CRS).

    Returns
    -------
    str
        12 hexadecimal digits; any change to any of the files changes it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gen.py"
    >>> _ = f.write_text("x = 1")
    >>> a = generator_fingerprint([f])
    >>> _ = f.write_text("x = 2")
    >>> len(a), a != generator_fingerprint([f])
    (12, True)
    """
    h = hashlib.sha256()
    for path in (_generator_sources() if paths is None else [Path(p) for p in paths]):
        h.update(path.name.encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")
    return h.hexdigest()[:12]


def _cache_name(kind: str) -> str:
    return f"{kind}-v{GENERATOR_VERSION}-{generator_fingerprint()}"


def cache_dir() -> Path:
    """Where generated data is cached: ``$LANDPLAN_CACHE`` or ``~/.cache/landplan``."""
    env = os.environ.get("LANDPLAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "landplan"


#: Name of the zipped GeoPackage in the repository's sample folder.
PACKED_NAME = "project.gpkg.zip"
# a fixed time in the zip, so the same GeoPackage gives the same zip bytes
_ZIP_TIME = (2008, 1, 28, 0, 0, 0)


def write_sample(out_dir, *, packed: bool = True) -> Path:
    """Write the sample into ``out_dir``: town T01 of seed 2008, kept small.

    No spatial index in the GeoPackage, no raster overviews and the strongest
    DEFLATE level; otherwise the same as :func:`~landplan.datasets.write_district`.
    With ``packed`` (the repository's form) the GeoPackage is stored zipped as
    ``project.gpkg.zip``, byte for byte the same for the same generator.
    """
    out = write_district(out_dir, n_towns=SAMPLE_TOWNS, seed=SAMPLE_SEED, spatial_index=False,
                         overviews=False, zlevel=9)
    if packed:
        gpkg = Path(out) / "project.gpkg"
        info = zipfile.ZipInfo("project.gpkg", date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with zipfile.ZipFile(Path(out) / PACKED_NAME, "w") as z:
            with z.open(info, "w") as dst, gpkg.open("rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
        gpkg.unlink()
    return out


def _unpack_sample(packed_dir: Path) -> Path:
    """The repository's zipped sample, unpacked once into the cache; its folder."""
    zpath = packed_dir / PACKED_NAME
    digest = hashlib.sha256(zpath.read_bytes()).hexdigest()[:12]
    target = cache_dir() / f"sample-{digest}"

    def unpack(folder: Path) -> None:
        with zipfile.ZipFile(zpath) as z:
            z.extract("project.gpkg", folder)
        shutil.copytree(packed_dir / "rasters", folder / "rasters")

    if not (target / "project.gpkg").exists():
        log.info("unpacking the sample into %s", target)
    return _generate_once(target, unpack)


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
    """The folder of the sample: the repository's ``data/sample`` unpacked, else generated.

    Both live in the cache; the folder holds ``project.gpkg`` and ``rasters/``.
    """
    if (_REPO_SAMPLE / PACKED_NAME).exists():
        return _unpack_sample(_REPO_SAMPLE)
    if (_REPO_SAMPLE / "project.gpkg").exists():    # unpacked by hand
        return _REPO_SAMPLE
    target = cache_dir() / _cache_name("sample")
    log.info("no bundled sample; generating it into %s", target)
    return _generate_once(target, lambda d: write_sample(d, packed=False))


def sample_path() -> Path:
    """Path of the sample GeoPackage (one town of the synthetic district).

    Rasters are in ``rasters/`` beside it.
    """
    return sample_dir() / "project.gpkg"


def district_path(n_towns: int | None = None, seed: int = 2008, *, scale="district",
                  progress: bool = False) -> Path:
    """Path of a generated district's GeoPackage, generating and caching it once.

    The cache folder (under :func:`cache_dir`) is named after the number of
    towns, the seed, :data:`GENERATOR_VERSION` and
    :func:`generator_fingerprint`, so a changed generator never hands back a
    district it made before the change. Folders of earlier generators are left
    in place (delete them to free the space).

    Parameters
    ----------
    n_towns : int, optional
        Number of towns (default: the five towns of ``scale``).
    seed : int
        Generator seed.
    scale : {"town", "district"} or int
        See :func:`landplan.datasets.resolve_n_towns`.
    progress : bool
        Show a progress bar while generating.
    """
    n = resolve_n_towns(scale, n_towns)
    target = cache_dir() / _cache_name(f"district-n{n}-s{seed}")
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
