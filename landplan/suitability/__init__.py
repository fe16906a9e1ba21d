"""Site suitability: raster scoring with exclusions, and candidate and planned sites.

- :mod:`landplan.suitability.raster` -- exclusion masks and the weighted score
  on the project's grid, window by window, as GeoTIFFs
- :mod:`landplan.suitability.sites` -- candidate sites (contiguous suitable
  land big enough for the scenario's minimum households) with capacity and
  land take, and the same scoring for a layout plan's (布点规划) own sites
"""

from .raster import (
                     EXCLUSION_BITS,
                     EXCLUSIONS_ZH,
                     FACTORS,
                     FACTORS_ZH,
                     SATURATION_M,
                     SuitabilityRasters,
                     check_raster,
                     project_grid,
                     suitability_raster,
)

__all__ = [
                     "EXCLUSIONS_ZH",
                     "EXCLUSION_BITS",
                     "FACTORS",
                     "FACTORS_ZH",
                     "SATURATION_M",
                     "SuitabilityRasters",
                     "check_raster",
                     "project_grid",
                     "suitability_raster",
]

from .sites import (SITE_COLUMNS_ZH, candidate_sites, protected_overlap, score_sites,
                    site_capacity)

__all__ += ["SITE_COLUMNS_ZH", "candidate_sites", "protected_overlap", "score_sites",
            "site_capacity"]
