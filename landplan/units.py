"""Units and coordinate reference systems used throughout landplan.

Areas are stored in square metres; mu (亩) is derived wherever a person
reads a figure. The working CRS is EPSG:4549, CGCS2000 / 3-degree
Gauss-Kruger CM 120E (metres, x east), which covers Jiaxing.

Examples
--------
>>> from landplan.units import m2_to_mu, mu_to_m2
>>> round(m2_to_mu(6666.67), 2)
10.0
>>> mu_to_m2(15)
10000.0
"""

from __future__ import annotations

import numpy as np

#: Square metres in one mu (亩): 10000 / 15.
M2_PER_MU: float = 10000.0 / 15.0

#: The working CRS: CGCS2000 / 3-degree Gauss-Kruger CM 120E.
WORKING_CRS: str = "EPSG:4549"

#: Geographic CGCS2000.
CGCS2000_GEOGRAPHIC: str = "EPSG:4490"

#: Input CRSs that are known to reproject exactly onto the working CRS.
ACCEPTED_INPUT_CRS: tuple[str, ...] = ("EPSG:4549", "EPSG:4490", "EPSG:4326", "EPSG:4528")

#: Datums for which PROJ has no real transformation to CGCS2000 (only a
#: no-op "ballpark"): data on them must be converted with local parameters.
LEGACY_DATUMS: tuple[str, ...] = ("Xian 1980", "Beijing 1954", "New Beijing")


def m2_to_mu(area_m2):
    """Convert square metres to mu (亩).

    Parameters
    ----------
    area_m2 : float or array-like
        Area in square metres.

    Returns
    -------
    float or numpy.ndarray
        Area in mu.

    Examples
    --------
    >>> m2_to_mu(10000 / 15)
    1.0
    """
    if np.isscalar(area_m2):
        return float(area_m2) / M2_PER_MU
    return np.asarray(area_m2, dtype=float) / M2_PER_MU


def mu_to_m2(area_mu):
    """Convert mu (亩) to square metres.

    Parameters
    ----------
    area_mu : float or array-like
        Area in mu.

    Returns
    -------
    float or numpy.ndarray
        Area in square metres.

    Examples
    --------
    >>> mu_to_m2(3000)
    2000000.0
    """
    if np.isscalar(area_mu):
        return float(area_mu) * M2_PER_MU
    return np.asarray(area_mu, dtype=float) * M2_PER_MU
