"""New-community planning: which sites start, which hamlets move, and the 增减挂钩 ledger.

The 2008 Nanhu plan asks every started new-community site to gather at least 50
households. Location-allocation tools know capacities only as upper bounds; this
package solves the capacitated model with a minimum per opened site as a MILP with
HiGHS, proves how good the plan is, and explains in a planner's words when no plan
can meet the rules.

- :class:`ConsolidationModel` -- the model (``from_cost_matrix``, ``from_project``,
  ``solve``, ``diagnose``); its docstring writes out the formulation.
- :mod:`.from_project` -- hamlets (:mod:`landplan.survey`) and road distances
  (:mod:`landplan.network`) from a project, costs from the scenario.
- :mod:`.lns` -- large-neighbourhood search (re-solving a few sites at a time with HiGHS).
- ``_pipeline`` / ``_schedule`` -- how a component is solved (starts, HiGHS, search) and
  how the time and the cores are shared among components (worker processes).
- :class:`ConsolidationPlan`, :class:`Proof` -- the plan as DataFrames and the proof.
- :class:`GroupRule` -- count rules over groups of hamlets (pilot villages).
- :func:`heuristic_plan` -- greedy plus local search (also the MILP's warm start).
- :func:`diagnose` -- rules no plan can meet, and what to change.
- :func:`ledger` -- the 增减挂钩 ledger per town.
- :func:`compare_scenarios` -- several scenarios side by side.

Examples
--------
>>> import numpy as np
>>> from landplan.consolidate import ConsolidationModel
>>> plan = ConsolidationModel.from_cost_matrix(
...     np.array([[1.0, 3.0], [2.0, 1.0]]), demand=[30, 25], capacity=[80, 80],
...     fixed_cost=[10, 10], minimum=50).solve(time_limit=5)
>>> plan.proof.status, plan.sites["opened"].tolist()
('optimal', [True, False])
"""

from ._inputs import GroupRule
from .compare import compare_scenarios
from .diagnose import diagnose
from .heuristic import heuristic_plan
from .ledger import LEDGER_HEADINGS_ZH, ledger
from .model import ConsolidationModel
from .plan import TOTAL, ConsolidationPlan, Proof

__all__ = ["ConsolidationModel", "ConsolidationPlan", "Proof", "GroupRule", "heuristic_plan",
           "diagnose", "ledger", "LEDGER_HEADINGS_ZH", "compare_scenarios", "TOTAL"]
