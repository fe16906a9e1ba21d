"""landplan: rural land-consolidation planning for township and district planners.

The steps of a plan, each usable alone in a notebook:

- :mod:`landplan.project` -- read, validate and store a project's layers
- :mod:`landplan.scenario` -- the plan's rules and targets (TOML)
- :mod:`landplan.datasets` -- the bundled sample and the district generator
- :mod:`landplan.survey` -- idle homesteads, 一户多宅, 一宅超限, hamlets
- :mod:`landplan.suitability`, :mod:`landplan.network` -- candidate sites, road distances
- :mod:`landplan.consolidate` -- the new-community plan and the 增减挂钩 ledger
- :mod:`landplan.transfer` -- farmland transfer progress, blocks, land shares
- :mod:`landplan.maps`, :mod:`landplan.export`, :mod:`landplan.report` -- outputs
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from .errors import LandplanError, ValidationError  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402

__all__ = ["__version__", "LandplanError", "ValidationError", "Scenario", "load_scenario"]
