"""The consolidation model: which new-community sites start, and which hamlets move there.

See :class:`ConsolidationModel` for the formulation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import InfeasibleError
from . import heuristic as _heur
from ._core import STAY, Instance, gap_of
from ._formulation import FORMULATIONS, ComponentResult, build, solve_highs, to_highs
from ._inputs import GroupRule, as_labels, parse
from ._schedule import solve_parts
from .diagnose import _no_room, elastic_findings, plan_findings, presolve_findings, summarise
from .plan import TOTAL, ConsolidationPlan, Proof

__all__ = ["ConsolidationModel", "GroupRule"]

logger = logging.getLogger(__name__)

#: The town label of origins and destinations when the model is given no towns.
ALL = "(all)"


class ConsolidationModel:
    r"""Choose the sites to start and move each hamlet whole to one of them, or leave it.

    Build it with :meth:`from_cost_matrix` (no GIS: a cost matrix and a few vectors) or
    :meth:`from_project` (a project's hamlets and sites, road distances and a scenario),
    then call :meth:`solve`.

    **Formulation.** Origins :math:`i \in I` (hamlets) hold :math:`d_i` households that move
    together. Destinations :math:`j \in J` (new-community sites, town-apartment blocks) take
    at most :math:`C_j` households and, once started, at least :math:`L_j` (the scenario's
    50 for a new community), at a fixed cost :math:`f_j`. :math:`A \subseteq I \times J` are
    the allowed pairs (within the distance limit, within the town unless allowed otherwise),
    each moving its origin whole at cost :math:`c_{ij}` (relocation, construction and
    distance costs minus the value of the reclaimed homestead land). Origins in
    :math:`S \subseteq I` may stay, at cost :math:`s_i` (the penalty in a full-start town,
    0 in a pilot town); the others must move. Count rules :math:`r` over groups of origins
    (a pilot town's villages) let between :math:`a_r` and :math:`b_r` groups take part; a
    group takes part when any of its origins moves.

    Variables: :math:`x_{ij} \in \{0,1\}` for :math:`(i,j) \in A` (origin :math:`i` moves to
    :math:`j`), :math:`y_j \in \{0,1\}` (site :math:`j` starts), :math:`z_g \in \{0,1\}`
    (group :math:`g` takes part). Staying is :math:`1 - \sum_j x_{ij}`.

    .. math::

        \min \; & \sum_j f_j y_j + \sum_{(i,j) \in A} c_{ij} x_{ij}
                  + \sum_{i \in S} s_i \Big(1 - \sum_j x_{ij}\Big) \\
        \text{s.t.} \; & \sum_j x_{ij} = 1 \quad (i \notin S), \qquad
                         \sum_j x_{ij} \le 1 \quad (i \in S) \\
        & \sum_i d_i x_{ij} \le C'_j y_j, \qquad
          C'_j = \min\Big(C_j, \sum_{i: (i,j) \in A,\, d_i \le C_j} d_i\Big) \\
        & \sum_i \min(d_i, L_j)\, x_{ij} \ge L_j y_j \\
        & x_{ij} \le y_j \\
        & \sum_{j \in J_k} C'_j y_j \ge D_k, \qquad
          \sum_{j \in J_k} y_j \ge \lceil D_k / \max_{j \in J_k} C'_j \rceil
          \quad \text{per component } k \\
        & \sum_j x_{ij} \le z_g \;\; (i \in g), \qquad
          z_g \le \sum_{i \in g} \sum_j x_{ij}, \qquad
          a_r \le \sum_{g \in r} z_g \le b_r \\
        & \sum_{j \in N(g)} y_j \ge z_g, \qquad
          \sum_{j \in N(r)} y_j \ge 1 \;\; \text{if } a_r \ge 1

    where :math:`D_k` is the demand that must move in component :math:`k`, and
    :math:`N(g)`, :math:`N(r)` the sites the origins of a group, of a rule, may move to.
    The rows that are not in the textbook model tighten its relaxation:
    :math:`x_{ij} \le y_j` (the disaggregated links), the reduced capacities
    :math:`C'_j`, the minimum with coefficients :math:`\min(d_i, L_j)` (valid, since a
    single origin with :math:`d_i \ge L_j` meets the minimum alone, and tighter than
    :math:`d_i`), the aggregated capacity and site-count rows, and the last two rows: a
    group takes part only through a site that starts, and a rule that needs a group needs
    a started site. Without them the relaxation of a pilot town spreads a fraction of a
    site over many villages and pays a fraction of its fixed cost and minimum; with them
    the 2008 district's pilot towns are proven in seconds instead of keeping a 70 % gap. Pairs an origin cannot use (:math:`d_i > C_j`)
    and sites that can never gather :math:`L_j` are removed before the solve. The
    components of the allowed-pairs graph (towns, when relocation stays in the town) are
    independent and solved separately; their objectives and HiGHS dual bounds add up.

    **Infeasible models.** :meth:`solve` raises :class:`landplan.errors.InfeasibleError`
    whose ``diagnosis`` DataFrame says, per town, which rule fails, for which hamlets or
    sites, and which change of which setting would make it feasible
    (:mod:`landplan.consolidate.diagnose`). :meth:`diagnose` runs the same checks without
    solving. Bad input is refused by the constructors with a
    :class:`landplan.errors.ValidationError`.

    Examples
    --------
    Three hamlets, two candidate sites, at least 50 households per started site:

    >>> import numpy as np
    >>> from landplan.consolidate import ConsolidationModel
    >>> cost = np.array([[10.0, 40.0],
    ...                  [12.0, np.nan],      # o1 may not go to d1
    ...                  [50.0, 11.0]])
    >>> model = ConsolidationModel.from_cost_matrix(
    ...     cost, demand=[30, 30, 60], capacity=[100, 100], fixed_cost=[5, 5], minimum=50)
    >>> plan = model.solve(time_limit=10)
    >>> plan.proof.status, plan.proven, plan.proof.objective
    ('optimal', True, 43.0)
    >>> plan.moves[["origin", "destination", "households"]]
      origin destination  households
    0     o0          d0          30
    1     o1          d0          30
    2     o2          d1          60
    >>> plan.sites[["destination", "opened", "households", "fill_rate"]]
      destination  opened  households  fill_rate
    0          d0    True          60        0.6
    1          d1    True          60        0.6
    """

    def __init__(self, instance: Instance, *, origin_town=None, destination_town=None,
                 town_names: Mapping | None = None, households=None, origin_attrs=None,
                 destination_attrs=None, homestead_area_m2=None,
                 site_land_m2_per_household=None, stay_reason=None,
                 group_word: str = "groups", name: str = "model"):
        self._inst = instance
        n, m = instance.n, instance.m
        self.name = name
        self.origin_town = as_labels(origin_town, instance.origin_ids, ALL)
        self.destination_town = as_labels(destination_town, instance.dest_ids, ALL)
        self.town_names = dict(town_names or {})
        self.households = (instance.demand.copy() if households is None
                           else np.asarray(households, dtype=float))
        self.origin_attrs = origin_attrs
        self.destination_attrs = destination_attrs
        self.homestead_area_m2 = (None if homestead_area_m2 is None
                                  else np.asarray(homestead_area_m2, dtype=float))
        self.site_land_m2_per_household = (None if site_land_m2_per_household is None
                                           else np.broadcast_to(np.asarray(
                                               site_land_m2_per_household, dtype=float), (m,)))
        self.stay_reason = (np.full(n, None, dtype=object) if stay_reason is None
                            else np.asarray(stay_reason, dtype=object))
        self.group_word = group_word

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_cost_matrix(cls, cost, demand, capacity, fixed_cost, minimum, *, stay_cost=None,
                         allowed=None, distance=None, max_distance=None, group_rules=None,
                         origin_ids=None, destination_ids=None, origin_town=None,
                         destination_town=None, town_names=None, households=None,
                         homestead_area_m2=None, site_land_m2_per_household=None,
                         name: str = "model") -> "ConsolidationModel":
        """A model from an origins x destinations cost matrix; no GIS needed.

        Parameters
        ----------
        cost : array-like, DataFrame or scipy.sparse matrix
            The cost (yuan) of moving each origin whole to each destination, in one of
            three forms:

            * dense, ``n x m`` (numpy array, or a DataFrame indexed by origin id with a
              column per destination id): a pair not allowed is NaN, or False in
              ``allowed``;
            * sparse (scipy.sparse, ``n x m``): the stored entries are the allowed pairs;
            * long: a DataFrame with columns ``origin, destination, cost`` (and optionally
              ``distance``), one row per allowed pair.

            An infinite cost is refused: mark pairs not allowed as such.
        demand : array-like or Series
            Households of each origin that move if it moves (a Series is aligned by id).
        capacity, fixed_cost : array-like or Series
            Per destination: the most households it takes; the cost of starting it.
        minimum : float or array-like
            The fewest households a started destination gathers (one figure for all, or
            one per destination; 0 for none).
        stay_cost : array-like, optional
            Per origin: the cost of leaving it in place; NaN where it must move. Without
            it every origin must move.
        allowed : bool array, optional
            Dense forms only: True where a pair is allowed (then NaN costs there are an
            error).
        distance : array-like, optional
            Road distance (m) per pair, same form as ``cost`` (long form: a ``distance``
            column). With ``max_distance``, pairs farther are not allowed, and the
            diagnosis uses them to say which longer limit would help.
        max_distance : float, optional
            The longest relocation, metres.
        group_rules : list of GroupRule, optional
            Count rules (pilot towns' villages).
        origin_ids, destination_ids : sequence of str, optional
            Default: from the DataFrame/Series indexes, else ``o0, o1, ...``/``d0, ...``.
        origin_town, destination_town : sequence or mapping, optional
            Town of each origin and destination, for the per-town summary and the
            diagnosis.
        town_names : mapping, optional
            Town id -> name used in messages.
        households : array-like, optional
            Total households per origin when ``demand`` counts only those willing to
            move; the others are reported as staying.
        homestead_area_m2 : array-like, optional
            Per origin, the construction land freed (拆旧) when its demand moves (for the
            ledger): its house plots, or with ``from_project`` and the scenario's
            ``homestead.demolished_basis = "footprint"`` its whole footprint.
        site_land_m2_per_household : float or array-like, optional
            Per destination, the land a started site takes per household (for the ledger).
        name : str
            A label for reports.

        Returns
        -------
        ConsolidationModel

        Raises
        ------
        landplan.errors.ValidationError
            Listing every bad input: missing capacities, infinite or missing costs or
            distances, negative demand, shapes that do not match, unknown ids.

        Examples
        --------
        Long form, with one hamlet allowed to stay:

        >>> import pandas as pd
        >>> pairs = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["S1", "S2", "S1"],
        ...                       "cost": [1.0, 2.0, 1.5]})
        >>> m = ConsolidationModel.from_cost_matrix(
        ...     pairs, demand=pd.Series({"a": 40, "b": 20}),
        ...     capacity=pd.Series({"S1": 100, "S2": 100}), fixed_cost=[10, 10], minimum=50,
        ...     stay_cost=[100.0, 0.0])
        >>> m.n_origins, m.n_destinations, m.n_pairs
        (2, 2, 3)
        >>> m.solve().moves[["origin", "destination"]].values.tolist()
        [['a', 'S1'], ['b', 'S1']]
        """
        inst = parse(cost, demand, capacity, fixed_cost, minimum, stay_cost=stay_cost,
                     allowed=allowed, distance=distance, max_distance=max_distance,
                     group_rules=group_rules, origin_ids=origin_ids,
                     destination_ids=destination_ids)
        return cls(inst, origin_town=origin_town, destination_town=destination_town,
                   town_names=town_names, households=households,
                   homestead_area_m2=_align(homestead_area_m2, inst.origin_ids),
                   site_land_m2_per_household=_align(site_land_m2_per_household, inst.dest_ids),
                   name=name)

    @classmethod
    def from_project(cls, project, scenario, *, hamlets=None, distances=None,
                     willing_only: bool = False, diagnosis_reach: float = 2.0,
                     protected_sites: str = "exclude",
                     progress: bool = False) -> "ConsolidationModel":
        """A model from a project's hamlets and sites, road distances and a scenario.

        With no ``hamlets`` and ``distances`` given, they are derived from the project:
        hamlets from the homesteads (:mod:`landplan.survey`), road distances along the
        roads (:mod:`landplan.network`) up to ``diagnosis_reach`` times the scenario's
        limit; only pairs within the limit enter the model, the longer ones tell the
        diagnosis which longer limit would help. Sites on permanent basic farmland, the
        ecological red line or a flood zone are not started (``protected_sites="allow"``
        keeps them in the model); ``plan.sites`` says why. See
        :func:`landplan.consolidate.from_project.model_from_project` for the inputs and
        the costs.

        Examples
        --------
        >>> from landplan.consolidate.from_project import example_inputs
        >>> from landplan.scenario import load_scenario
        >>> project, hamlets, distances = example_inputs()
        >>> model = ConsolidationModel.from_project(project, load_scenario(),
        ...                                         hamlets=hamlets, distances=distances)
        >>> plan = model.solve(time_limit=10)
        >>> int(plan.summary.loc["(total)", "households"]) == int(hamlets["households"].sum())
        True

        From the bundled one-town sample alone (hamlets and distances derived):

        >>> from landplan.datasets import sample_path
        >>> from landplan.project import Project
        >>> sample = Project.read(sample_path())
        >>> model = ConsolidationModel.from_project(sample, load_scenario())
        >>> model.n_origins > 200, model.n_destinations == len(sample["sites"])
        (True, True)
        """
        from .from_project import model_from_project

        return model_from_project(cls, project, scenario, hamlets=hamlets, distances=distances,
                                  willing_only=willing_only, diagnosis_reach=diagnosis_reach,
                                  protected_sites=protected_sites, progress=progress)

    # ------------------------------------------------------------------ sizes
    @property
    def n_origins(self) -> int:
        return self._inst.n

    @property
    def n_destinations(self) -> int:
        return self._inst.m

    @property
    def n_pairs(self) -> int:
        return self._inst.npairs

    @property
    def origin_ids(self) -> np.ndarray:
        return self._inst.origin_ids

    @property
    def destination_ids(self) -> np.ndarray:
        return self._inst.dest_ids

    def __repr__(self) -> str:
        return (f"<ConsolidationModel {self.name!r}: {self.n_origins} origins, "
                f"{self.n_destinations} destinations, {self.n_pairs} allowed pairs>")

    # ------------------------------------------------------------------ diagnosis
    def diagnose(self) -> pd.DataFrame:
        """Rules no plan can meet, found without solving (see :mod:`.diagnose`).

        Examples
        --------
        >>> import numpy as np
        >>> m = ConsolidationModel.from_cost_matrix(np.ones((1, 1)), demand=[60],
        ...                                         capacity=[40], fixed_cost=[0], minimum=50)
        >>> m.diagnose()[["severity", "rule"]].values.tolist()
        [['infeasible', 'minimum_above_every_capacity']]
        """
        return presolve_findings(self._inst, self.origin_town, self.town_names,
                                       self.group_word)

    # ------------------------------------------------------------------ solving
    def solve(self, time_limit: float = 60.0, gap: float = 1e-3, *, warm_start: bool = True,
              decompose: bool = True, formulation: str = "strong", workers: int | None = None,
              seed: int = 0, progress: bool = False) -> ConsolidationPlan:
        """Solve the MILP: HiGHS for the bound, HiGHS and neighbourhood search for the plan.

        Each independent component (a town, usually) is solved by
        :func:`landplan.consolidate._pipeline.solve_component`: heuristic starts (greedy,
        and for towns of 100 hamlets or more relax-and-pack,
        :mod:`landplan.consolidate.packing`: the relaxation with whole sites, whose bound
        counts too, and its sites packed with whole hamlets), HiGHS on
        the strong formulation, then, while the gap is open, large-neighbourhood search
        (:mod:`landplan.consolidate.lns`) and HiGHS again from the improved plan. The time
        is shared by difficulty and the components run in parallel worker processes
        (:mod:`landplan.consolidate._schedule`).

        Parameters
        ----------
        time_limit : float, default 60
            Seconds for the whole solve, shared across components (heuristic included).
        gap : float, default 1e-3
            Relative gap at which a component counts as solved.
        warm_start : bool, default True
            Start HiGHS from the heuristic's plan (``setSolution``).
        decompose : bool, default True
            Solve the independent components separately (and in parallel).
        formulation : {"strong", "textbook"}
            "textbook" is the weak model solved by HiGHS alone, for benchmarks only.
        workers : int, optional
            Worker processes; default: the number of CPUs. Small models (under about
            1,000 allowed pairs or 4 seconds) are solved in this process. Workers start
            with the ``forkserver`` method (``spawn`` where there is none, e.g. Windows:
            there a script that calls ``solve`` at module level needs the usual
            ``if __name__ == "__main__":`` guard).
        seed : int
            HiGHS's and the search's random seed.
        progress : bool, default False
            Show a progress bar over the components.

        Returns
        -------
        ConsolidationPlan
            ``plan.proof.status`` is "optimal" only when proven within ``gap`` (the plan's
            cost against the best HiGHS dual bound: of the model, or of its relaxation
            with whole sites and divisible hamlets, both valid); when the time limit
            ends first it is "time_limit" (the best plan found, with the bound proven so far) or
            "heuristic" (a component has no bound: the heuristic's plan, unproven).

        Raises
        ------
        landplan.errors.InfeasibleError
            When no plan meets the rules; ``error.diagnosis`` is a DataFrame of findings.
        RuntimeError
            When the time ran out with no plan from either the solver or the heuristic
            (nothing proven either way).

        Examples
        --------
        >>> import numpy as np
        >>> m = ConsolidationModel.from_cost_matrix(np.array([[1.0], [2.0]]), demand=[30, 30],
        ...                                         capacity=[100], fixed_cost=[0], minimum=50)
        >>> m.solve(time_limit=5).sites["households"].tolist()
        [60]
        """
        if formulation not in FORMULATIONS:
            raise ValueError(f"formulation must be one of {FORMULATIONS}, not {formulation!r}")
        t0 = time.perf_counter()
        deadline = t0 + float(time_limit)
        inst = self._inst
        findings = self.diagnose()
        self._raise_if_infeasible(findings)
        for _, f in findings.iterrows():
            logger.warning("%s", f["message"])

        comps = (inst.components() if decompose else
                 [(np.arange(inst.n), np.arange(inst.m), list(range(len(inst.rules))))])
        results: list[ComponentResult | None] = [None] * len(comps)
        subs = [inst.subset(o, d, r) for o, d, r in comps]
        work = []
        for k, sub in enumerate(subs):
            if sub.npairs == 0:
                results[k] = _no_choice(sub)
            else:
                work.append(k)
        bar = tqdm(total=len(work), disable=not progress, desc="consolidation parts",
                   unit="part")
        try:
            solved = solve_parts({k: subs[k] for k in work},
                                 time_limit=max(deadline - time.perf_counter(), 0.05), gap=gap,
                                 formulation=formulation, warm_start=warm_start, seed=seed,
                                 workers=workers, progress=lambda k: bar.update())
        finally:
            bar.close()
        for k, res in solved.items():
            results[k] = res
        for k in work:
            if results[k] is None:       # never started: the time ran out first
                results[k] = ComponentResult(assign=None, objective=np.inf, bound=-np.inf,
                                             status="Time limit reached", source="highs",
                                             time_s=0.0)

        bad = [k for k in work if results[k].infeasible]
        if bad:
            frames = [elastic_findings(subs[k], self._relaxed_solver(time_limit),
                                             self.origin_town[comps[k][0]], self.town_names)
                      for k in bad]
            f = pd.concat(frames, ignore_index=True)
            raise InfeasibleError(summarise(f), diagnosis=f)
        missing = [k for k in work if results[k].assign is None]
        for k in missing:  # the solver found nothing in time and no warm start was made
            start = _heur.solve_instance(subs[k], time_limit=max(1.0, deadline - time.perf_counter()))
            if start is not None:
                results[k].assign = start
                results[k].objective = subs[k].objective(start)
                results[k].source = "heuristic"
        missing = [k for k in work if results[k].assign is None]
        if missing:
            raise RuntimeError(
                f"time limit of {time_limit:g} s ended before any plan was found for "
                f"{len(missing)} part(s) of the model (e.g. origins "
                f"{', '.join(subs[missing[0]].origin_ids[:5])}); nothing is proven either way: "
                "give more time")

        assign = _combine(inst.n, comps, results)
        elapsed = time.perf_counter() - t0
        solver = f"highs {formulation}" + (" decomposed" if decompose else "")
        return self._plan(assign, comps, results, elapsed, solver, gap, time_limit, findings)

    def solve_heuristic(self, time_limit: float = 10.0) -> ConsolidationPlan | None:
        """The heuristic's plan alone, unproven (``proof.bound`` is NaN); None if none found.

        Examples
        --------
        >>> import numpy as np
        >>> m = ConsolidationModel.from_cost_matrix(np.array([[1.0], [2.0]]), demand=[30, 30],
        ...                                         capacity=[100], fixed_cost=[0], minimum=50)
        >>> m.solve_heuristic().proof.status
        'heuristic'
        """
        t0 = time.perf_counter()
        inst = self._inst
        findings = self.diagnose()
        if (findings["severity"] == "infeasible").any():
            return None
        comps = inst.components()
        results = []
        total_size = max(sum(1 + len(o) + len(d) for o, d, _ in comps), 1)
        for o, d, r in comps:
            sub = inst.subset(o, d, r)
            budget = max(0.05, time_limit * (1 + len(o) + len(d)) / total_size)
            if sub.npairs == 0:
                res = _no_choice(sub)
            else:
                a = _heur.solve_instance(sub, time_limit=budget)
                if a is None:
                    return None
                res = ComponentResult(assign=a, objective=sub.objective(a), bound=np.nan,
                                      status="Not solved", source="heuristic", time_s=0.0)
            results.append(res)
        assign = _combine(inst.n, comps, results)
        return self._plan(assign, comps, results, time.perf_counter() - t0, "heuristic",
                          np.nan, time_limit, findings, heuristic_only=True)

    def to_highs(self, formulation: str = "strong"):
        """The whole model (not decomposed) as a ``highspy.Highs``, for inspection.

        Examples
        --------
        >>> import numpy as np
        >>> m = ConsolidationModel.from_cost_matrix(np.ones((2, 2)), demand=[30, 30],
        ...                                         capacity=[100, 100], fixed_cost=[0, 0],
        ...                                         minimum=50)
        >>> h = m.to_highs()
        >>> h.getNumCol()  # 4 pairs + 2 sites
        6
        """
        return to_highs(build(self._inst, formulation))

    def to_matrix(self, formulation: str = "strong"):
        """The whole model as a solver-neutral sparse matrix (``MatrixModel``).

        Used to build the same model in other solvers (e.g. PuLP/CBC in the benchmark).
        """
        return build(self._inst, formulation)

    # ------------------------------------------------------------------ internals
    def _raise_if_infeasible(self, findings: pd.DataFrame) -> None:
        bad = findings[findings["severity"] == "infeasible"]
        if len(bad):
            raise InfeasibleError(summarise(findings), diagnosis=findings.reset_index(drop=True))

    def _relaxed_solver(self, time_limit):
        def solve_relaxed(inst: Instance):
            res = solve_highs(inst, formulation="strong", time_limit=min(30.0, time_limit),
                              gap=1e-2)
            return res.assign
        return solve_relaxed

    def _plan(self, assign, comps, results, elapsed, solver, gap, time_limit, findings,
              heuristic_only=False) -> ConsolidationPlan:
        inst = self._inst
        objective = float(sum(r.objective for r in results))
        if heuristic_only:
            bound, g, status, proven = np.nan, np.nan, "heuristic", False
        else:
            bound = float(sum(r.bound for r in results))
            g = gap_of(objective, bound)
            statuses = {r.status for r in results}
            within = bool(np.isfinite(bound)) and g <= gap * (1 + 1e-6) + 1e-12
            if statuses <= {"Optimal"} or within:
                # the bound is the sum of valid bounds of the parts, so the whole plan is
                # proven within the gap even when one part alone is not
                status, proven = ("optimal" if within else "gap_not_met"), within
            elif any(not np.isfinite(r.bound) and r.source != "highs" for r in results):
                status, proven = "heuristic", False
            elif "Time limit reached" in statuses:
                status, proven = "time_limit", False
            else:
                status, proven = ", ".join(sorted(statuses - {"Optimal"})), False
        proof = Proof(objective=objective, bound=bound, gap=g, time_s=elapsed, status=status,
                      proven=proven, solver=solver, requested_gap=gap, time_limit=time_limit)
        comp_rows = []
        for k, ((o, d, _), r) in enumerate(zip(comps, results)):
            comp_rows.append(dict(
                component=k, origins=len(o), destinations=len(d),
                towns=", ".join(str(self.town_names.get(t, t))
                                for t in pd.unique(self.origin_town[o]) if t is not None),
                status=r.status, source=r.source, objective=r.objective, bound=r.bound,
                gap=gap_of(r.objective, r.bound), time_s=r.time_s, nodes=r.nodes,
                cols=r.n_cols, rows=r.n_rows))
        components = pd.DataFrame(comp_rows)
        sites, moves, stays, summary = self._tables(assign)
        warnings = findings[findings["severity"] != "infeasible"]
        after = plan_findings(inst, assign, self.origin_town, self.town_names, earlier=warnings)
        if len(after):
            for _, f in after.iterrows():
                logger.warning("%s", f["message"])
            warnings = pd.concat([warnings, after], ignore_index=True)
        warnings = warnings.reset_index(drop=True)
        return ConsolidationPlan(sites=sites, moves=moves, stays=stays, summary=summary,
                                 proof=proof, components=components, diagnosis=warnings,
                                 model=self, assignment=assign)

    def _tables(self, assign):
        inst = self._inst
        lookup = inst.pair_lookup()
        d = inst.demand
        moved = np.flatnonzero(assign != STAY)
        pidx = np.array([lookup[(int(i), int(assign[i]))] for i in moved], dtype=np.int64)
        dest = assign[moved]
        as_int = _intlike(d) and _intlike(self.households)
        hh = (lambda v: np.asarray(np.round(v), dtype=np.int64)) if as_int else (lambda v: v)

        gathered = np.bincount(dest, weights=d[moved], minlength=inst.m)
        count = np.bincount(dest, minlength=inst.m)
        move_cost = np.bincount(dest, weights=inst.pc[pidx], minlength=inst.m)
        opened = count > 0
        sites = pd.DataFrame({
            "destination": inst.dest_ids, "town": self.destination_town,
            "capacity": hh(inst.capacity), "minimum": hh(inst.minimum),
            "fixed_cost": inst.fixed, "opened": opened, "households": hh(gathered),
            "fill_rate": np.where(inst.capacity > 0, gathered / np.where(
                inst.capacity > 0, inst.capacity, 1), np.nan),
            "origins": count, "cost": np.where(opened, inst.fixed, 0.0) + move_cost,
        })
        moves = pd.DataFrame({
            "origin": inst.origin_ids[moved], "destination": inst.dest_ids[dest],
            "households": hh(d[moved]), "cost": inst.pc[pidx],
        })
        if inst.pdist is not None:
            moves["distance"] = inst.pdist[pidx]
        moves["origin_town"] = self.origin_town[moved]
        moves["destination_town"] = self.destination_town[dest]

        has_pair = np.zeros(inst.n, dtype=bool)
        has_pair[inst.po] = True
        full = _no_room(inst, assign)
        staying = np.flatnonzero(assign == STAY)
        reasons = []
        for i in staying:
            if self.stay_reason[i] is not None:
                reasons.append(self.stay_reason[i])
            elif d[i] <= 0:
                reasons.append("no households willing to move")
            elif not has_pair[i]:
                reasons.append("no allowed destination")
            elif full[i]:
                reasons.append("the sites within reach are full")
            else:
                reasons.append("stays in the plan")
        rest = moved[self.households[moved] > d[moved] + 1e-9]
        stays = pd.DataFrame({
            "origin": np.concatenate([inst.origin_ids[staying], inst.origin_ids[rest]]),
            "town": np.concatenate([self.origin_town[staying], self.origin_town[rest]]),
            "households": hh(np.concatenate([self.households[staying],
                                             self.households[rest] - d[rest]])),
            "cost": np.concatenate([np.nan_to_num(inst.stay[staying]), np.zeros(len(rest))]),
            "reason": reasons + ["not willing to move"] * len(rest),
        })
        if self.origin_attrs is not None:
            extra = self.origin_attrs.drop(columns=[c for c in self.origin_attrs.columns
                                                    if c in moves.columns], errors="ignore")
            moves = moves.join(extra, on="origin")
            stays = stays.join(extra.drop(columns=[c for c in extra.columns if c in stays.columns],
                                          errors="ignore"), on="origin")
        if self.destination_attrs is not None:
            extra = self.destination_attrs.drop(columns=[c for c in self.destination_attrs.columns
                                                         if c in sites.columns], errors="ignore")
            sites = sites.join(extra, on="destination")
            if "geometry" in extra.columns:
                import geopandas as gpd

                sites = gpd.GeoDataFrame(sites, geometry="geometry",
                                         crs=getattr(self.destination_attrs, "crs", None))
        stays = stays.sort_values(["origin", "reason"], kind="stable").reset_index(drop=True)

        # per town
        towns_o = pd.Series(self.origin_town, dtype=object)
        total_hh = pd.Series(self.households).groupby(towns_o, dropna=False).sum()
        summary = pd.DataFrame({"hamlets": towns_o.groupby(towns_o, dropna=False).size(),
                                "households": total_hh})
        mv = pd.DataFrame({"town": self.origin_town[moved], "households": d[moved],
                           "cost": inst.pc[pidx]})
        summary["households_moved"] = mv.groupby("town", dropna=False)["households"].sum()
        summary["hamlets_moved"] = mv.groupby("town", dropna=False).size()
        summary["households_stayed"] = stays.groupby("town", dropna=False)["households"].sum()
        st = sites[sites["opened"]]
        summary["sites_opened"] = st.groupby("town", dropna=False).size()
        summary["households_gathered"] = st.groupby("town", dropna=False)["households"].sum()
        summary["cost_moves"] = mv.groupby("town", dropna=False)["cost"].sum()
        summary["cost_stays"] = stays.groupby("town", dropna=False)["cost"].sum()
        summary["cost_sites"] = st.groupby("town", dropna=False)["fixed_cost"].sum()
        summary = summary.fillna(0)
        summary["cost"] = summary[["cost_moves", "cost_stays", "cost_sites"]].sum(axis=1)
        if self.town_names:
            summary.insert(0, "name", [self.town_names.get(t, t) for t in summary.index])
        for c in ("hamlets", "hamlets_moved", "sites_opened"):
            summary[c] = summary[c].astype(np.int64)
        if as_int:
            for c in ("households", "households_moved", "households_stayed",
                      "households_gathered"):
                summary[c] = np.round(summary[c]).astype(np.int64)
        total = summary.drop(columns=[c for c in ("name",) if c in summary.columns]).sum()
        summary.index = summary.index.astype(object)
        summary.loc[TOTAL] = total
        if "name" in summary.columns:
            summary.loc[TOTAL, "name"] = TOTAL
        summary.index.name = "town"
        for c in summary.columns:
            if c != "name" and summary[c].dtype == object:
                summary[c] = pd.to_numeric(summary[c])
        return sites, moves, stays, summary

    def _ledger(self, plan: ConsolidationPlan, **kwargs) -> pd.DataFrame:
        from .ledger import ledger

        if self.homestead_area_m2 is None or self.site_land_m2_per_household is None:
            raise ValueError("the ledger needs homestead areas per origin and land per household "
                             "per site: give homestead_area_m2 and site_land_m2_per_household "
                             "to from_cost_matrix (from_project sets them)")
        inst = self._inst
        area = pd.Series(self.homestead_area_m2, index=inst.origin_ids)
        land = pd.Series(self.site_land_m2_per_household, index=inst.dest_ids) * \
            pd.Series(np.asarray(plan.sites["households"], dtype=float), index=inst.dest_ids)
        return ledger(plan.moves, area, land,
                      origin_town=pd.Series(self.origin_town, index=inst.origin_ids),
                      site_town=pd.Series(self.destination_town, index=inst.dest_ids),
                      town_names=self.town_names or None, **kwargs)


def _combine(n, comps, results) -> np.ndarray:
    """The whole model's assignment from the components' (local positions -> global)."""
    assign = np.full(n, STAY)
    for (o, d, _), res in zip(comps, results):
        a = np.asarray(res.assign)
        mv = a != STAY
        glob = np.full(len(a), STAY)
        glob[mv] = d[a[mv]]
        assign[o] = glob
    return assign


def _no_choice(sub: Instance) -> ComponentResult:
    """A part with no allowed pair: every origin stays."""
    assign = np.full(sub.n, STAY)
    obj = float(np.nansum(sub.stay))
    return ComponentResult(assign=assign, objective=obj, bound=obj, status="Optimal",
                           source="no choice", time_s=0.0)


def _intlike(v) -> bool:
    v = np.asarray(v, dtype=float)
    return bool(np.all(np.isfinite(v)) and np.all(np.abs(v - np.round(v)) < 1e-9))


def _align(value, ids):
    if value is None:
        return None
    if isinstance(value, pd.Series) and not isinstance(value.index, pd.RangeIndex):
        s = value.copy()
        s.index = [str(x) for x in s.index]
        return s.reindex(ids).to_numpy(dtype=float)
    if np.isscalar(value):
        return np.full(len(ids), float(value))
    return np.asarray(value, dtype=float)
