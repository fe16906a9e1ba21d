"""File-writing helpers shared by every writer: atomic replacement and fixed GDAL settings.

Examples
--------
>>> import pathlib, tempfile
>>> target = pathlib.Path(tempfile.mkdtemp()) / "表.txt"
>>> with atomic_path(target) as tmp:
...     _ = tmp.write_text("南湖", encoding="utf-8")
>>> target.read_text(encoding="utf-8"), sorted(p.name for p in target.parent.iterdir())
('南湖', ['表.txt'])
"""

from __future__ import annotations

import os

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyogrio

__all__ = ["atomic_path", "gdal_config", "fixed_gpkg_time", "GPKG_TIMESTAMP"]

#: Timestamp written into GeoPackages, so that the same data gives the same bytes.
GPKG_TIMESTAMP = "2008-01-28T00:00:00Z"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only when the block succeeds.

    The temporary file is not created (writers such as GDAL want to create it);
    on success it is moved over ``target`` with the permissions a new file gets
    (the umask, not ``mkstemp``'s private 0600); on failure it is removed and
    ``target`` is left as it was.

    Parameters
    ----------
    target : str or Path
        The file to write.

    Yields
    ------
    Path
        Where to write.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.stem}-{uuid.uuid4().hex[:8]}{target.suffix}"
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL configuration options for the block, then restore the old values.

    Examples
    --------
    >>> with gdal_config(OGR_CURRENT_DATE=GPKG_TIMESTAMP):
    ...     pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    '2008-01-28T00:00:00Z'
    """
    old = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(old)


def fixed_gpkg_time() -> "contextmanager":
    """GeoPackages written in this block carry :data:`GPKG_TIMESTAMP` (identical bytes)."""
    return gdal_config(OGR_CURRENT_DATE=GPKG_TIMESTAMP)



