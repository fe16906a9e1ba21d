"""The result of a solve: the plan as DataFrames, and the solver's proof."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ConsolidationPlan", "Proof", "TOTAL"]

#: Label of the total row in per-town tables.
TOTAL = "(total)"


@dataclass(frozen=True)
class Proof:
    """What the solver proved about a plan.

    Attributes
    ----------
    objective : float
        Cost of the plan returned, yuan (recomputed from the plan itself).
    bound : float
        Best proven lower bound on any plan's cost (sum of the components' HiGHS dual
        bounds, each the best of the whole model's and of its relaxation with whole
        sites); ``-inf`` when a component has none, NaN for the heuristic alone.
    gap : float
        ``(objective - bound) / max(|objective|, 1)``; inf without a bound.
    time_s : float
        Wall-clock seconds of the whole solve.
    status : str
        ``"optimal"`` only when every component was proven within the requested gap;
        ``"time_limit"`` when the limit ended a search that had found a plan;
        ``"heuristic"`` when a component's plan comes from the heuristic alone (the
        solver found none in time), which proves nothing; ``"gap_not_met"`` when every
        component was proven but their sum misses the gap (costs of mixed sign).
        Per component, the status is in ``ConsolidationPlan.components``.
    proven : bool
        True only for status "optimal".
    solver : str
        E.g. ``"highs strong decomposed"``.
    requested_gap, time_limit : float
        What was asked.
    """

    objective: float
    bound: float
    gap: float
    time_s: float
    status: str
    proven: bool
    solver: str
    requested_gap: float = float("nan")
    time_limit: float = float("nan")

    def to_series(self) -> pd.Series:
        """The proof as a Series (one row of a comparison table)."""
        return pd.Series(self.__dict__)


@dataclass
class ConsolidationPlan:
    """A consolidation plan: which sites start and which hamlets move where.

    Attributes
    ----------
    sites : pandas.DataFrame
        One row per destination: ``destination``, ``town``, ``capacity``, ``minimum``,
        ``fixed_cost``, ``opened``, ``households`` gathered, ``fill_rate``
        (households / capacity), ``origins`` (hamlets moving there), ``cost`` (fixed
        cost plus the moves there), and the model's destination attributes.
    moves : pandas.DataFrame
        One row per origin that moves: ``origin``, ``destination``, ``households``,
        ``cost``, ``distance`` (when known), ``origin_town``, ``destination_town``.
    stays : pandas.DataFrame
        One row per origin (part) left in place: ``origin``, ``town``, ``households``,
        ``cost``, ``reason``. An origin whose willing households move and whose others
        stay appears in both tables, so that every household is counted exactly once.
    summary : pandas.DataFrame
        Per town (index) and a total row: households, moved, stayed, sites opened,
        costs of moves, stays and sites.
    proof : Proof
    components : pandas.DataFrame
        Per independent component: origins, destinations, status (``"Optimal"`` when
        its plan is proven within the requested gap, else HiGHS's last status), where
        the plan came from (``highs``, ``lns`` -- the neighbourhood search,
        ``relax-and-pack`` -- :mod:`landplan.consolidate.packing`, ``heuristic``,
        ``shared`` -- another worker on the same component, ``earlier pass``, ``no
        choice``), objective, bound, gap, seconds of solver work (summed over the
        worker processes that took part), branch-and-bound nodes, model size.
    diagnosis : pandas.DataFrame
        Warnings found before the solve (see :mod:`landplan.consolidate.diagnose`).
    """

    sites: pd.DataFrame
    moves: pd.DataFrame
    stays: pd.DataFrame
    summary: pd.DataFrame
    proof: Proof
    components: pd.DataFrame
    diagnosis: pd.DataFrame
    model: object = field(default=None, repr=False)
    assignment: np.ndarray | None = field(default=None, repr=False)

    @property
    def proven(self) -> bool:
        """Whether the plan is proven optimal within the requested gap."""
        return self.proof.proven

    @property
    def objective(self) -> float:
        return self.proof.objective

    def ledger(self, **kwargs) -> pd.DataFrame:
        """The 增减挂钩 ledger of this plan (see :func:`landplan.consolidate.ledger`).

        Needs the model's homestead areas and land per household (``from_project``
        sets both; ``from_cost_matrix`` takes ``homestead_area_m2`` and
        ``site_land_m2_per_household``).
        """
        return self.model._ledger(self, **kwargs)

    def __repr__(self) -> str:
        p = self.proof
        moved = int(self.moves["households"].sum()) if len(self.moves) else 0
        return (f"<ConsolidationPlan {p.status}: {int(self.sites['opened'].sum())} sites opened, "
                f"{moved} households move, cost {p.objective:,.0f}, bound {p.bound:,.0f}, "
                f"gap {p.gap:.3%}, {p.time_s:.1f} s>")
