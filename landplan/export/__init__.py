"""County GIS exports: Shapefile, GeoPackage and File Geodatabase for ArcGIS.

- :func:`export_county` (:mod:`landplan.export.county`) -- write layers in
  every format, atomically, with a manifest and Chinese field dictionaries
- :func:`read_export` (:mod:`landplan.export.readback`) -- read an exported
  layer back with landplan's names and types
- :mod:`landplan.export.fields` -- shapefile field names (<= 10 bytes),
  Chinese headings, File Geodatabase names
- :mod:`landplan.export.columns` -- what each column type becomes in each format
- :mod:`landplan.export.shapefile` -- the 2 GB limit, size estimates, ``.cpg``

Examples
--------
>>> from landplan.export import export_county, read_export, shapefile_field_names
>>> shapefile_field_names(["capacity_households"])
{'capacity_households': 'cap_hh'}
"""

from .county import FORMATS, PERSONAL_COLUMNS, export_county
from .fields import chinese_headings, shapefile_field_names
from .readback import read_export, read_field_dictionary

__all__ = [
           "FORMATS",
           "PERSONAL_COLUMNS",
           "chinese_headings",
           "export_county",
           "read_export",
           "read_field_dictionary",
           "shapefile_field_names",
]
