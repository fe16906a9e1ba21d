"""The bundled sample and the synthetic district generator.

- :func:`generate_district` -- a synthetic Nanhu-like district in memory
- :func:`write_district` -- the same, written as ``project.gpkg`` + ``rasters/``
- :func:`sample_path` -- the committed one-town sample (``data/sample``)
- :func:`load_sample_layers` -- its layers as (Geo)DataFrames
- :func:`district_path` -- the full district, generated once and cached

Everything here is synthetic; no real household, parcel or road is in it.
"""

from .generate import GeneratedDistrict, generate_district, resolve_n_towns, write_district
from .sample import district_path, load_sample_layers, sample_path

__all__ = [
           "GeneratedDistrict",
           "district_path",
           "generate_district",
           "load_sample_layers",
           "resolve_n_towns",
           "sample_path",
           "write_district",
]
