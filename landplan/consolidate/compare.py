"""Solve several scenarios and tabulate what each plan does."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import InfeasibleError
from .plan import TOTAL

__all__ = ["compare_scenarios", "COMPARISON_COLUMNS"]

logger = logging.getLogger(__name__)

COMPARISON_COLUMNS = [
    "status", "households_moved", "hamlets_moved", "households_stayed", "sites_opened",
    "saving_quota_mu", "net_new_farmland_mu", "cost", "bound", "gap", "time_s", "note",
]


def compare_scenarios(build_model: Callable, scenarios, *, time_limit: float = 60.0,
                      gap: float = 1e-3, **solve_kwargs) -> pd.DataFrame:
    """Solve one model per scenario and tabulate the plans side by side.

    Parameters
    ----------
    build_model : callable
        ``build_model(scenario) -> ConsolidationModel``, e.g.
        ``lambda s: ConsolidationModel.from_project(project, s, hamlets=h, distances=d)``.
    scenarios : iterable or mapping
        Scenarios (anything ``build_model`` accepts); a mapping gives the row labels,
        otherwise ``scenario.name`` (or the position) does.
    time_limit, gap : float
        Passed to :meth:`ConsolidationModel.solve`, per scenario.
    **solve_kwargs
        Further arguments of ``solve``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: status, households moved and stayed, hamlets moved, sites
        opened, land saved (节余指标) and net new farmland in mu (when the model carries
        the ledger's areas; else NaN), cost, bound, gap, seconds, and a note (the first
        finding of an infeasible scenario: it gets a row, not an exception).

    Examples
    --------
    >>> import numpy as np
    >>> from landplan.consolidate import ConsolidationModel, compare_scenarios
    >>> def build(minimum):
    ...     return ConsolidationModel.from_cost_matrix(
    ...         np.array([[1.0], [2.0]]), demand=[30, 30], capacity=[100], fixed_cost=[0],
    ...         minimum=minimum)
    >>> t = compare_scenarios(build, {"min 50": 50, "min 70": 70}, time_limit=5)
    >>> t[["status", "households_moved", "sites_opened"]]
               status  households_moved  sites_opened
    min 50    optimal                60             1
    min 70  infeasible                 0             0
    """
    if isinstance(scenarios, Mapping):
        items = list(scenarios.items())
    else:
        items = [(getattr(s, "name", k), s) for k, s in enumerate(_as_list(scenarios))]
    rows = {}
    for label, scenario in items:
        row = dict.fromkeys(COMPARISON_COLUMNS, np.nan)
        row["note"] = ""
        try:
            model = build_model(scenario)
            plan = model.solve(time_limit=time_limit, gap=gap, **solve_kwargs)
        except InfeasibleError as exc:
            row.update(status="infeasible", households_moved=0, hamlets_moved=0, sites_opened=0)
            diag = exc.diagnosis
            row["note"] = (diag.iloc[0]["message"] if diag is not None and len(diag)
                           else str(exc).splitlines()[0])
            rows[label] = row
            continue
        s = plan.summary.loc[TOTAL]
        row.update(status=plan.proof.status, households_moved=s["households_moved"],
                   hamlets_moved=s["hamlets_moved"], households_stayed=s["households_stayed"],
                   sites_opened=s["sites_opened"], cost=plan.proof.objective,
                   bound=plan.proof.bound, gap=plan.proof.gap, time_s=plan.proof.time_s)
        try:
            led = plan.ledger().loc[TOTAL]
            row.update(saving_quota_mu=led["saving_quota_mu"],
                       net_new_farmland_mu=led["net_new_farmland_mu"])
        except ValueError:
            pass
        if len(plan.diagnosis):
            row["note"] = plan.diagnosis.iloc[0]["message"]
        rows[label] = row
    out = pd.DataFrame.from_dict(rows, orient="index")[COMPARISON_COLUMNS]
    for c in ("households_moved", "hamlets_moved", "sites_opened"):
        out[c] = pd.to_numeric(out[c]).fillna(0).astype(np.int64)
    return out


def _as_list(x: Iterable) -> list:
    return list(x)
