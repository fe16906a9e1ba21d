"""Benchmark of the consolidation optimiser (landplan.consolidate).

The issue's targets: a town-sized instance (~300 hamlets x 40 destinations) proven within
0.1 % in 30 s; the full generated district (~1,500 hamlets x 200 destinations) proven
within 0.5 % in 60 s on 2 cores.

Instances
---------
* ``town-synthetic``: one full-start town from ``landplan.consolidate._instances``: 300
  hamlets of 5-60 households around 15 village centres in an 8 km square, 38 candidate
  sites and 2 town-apartment blocks, road distance = 1.3 x straight line, 3 km limit.
  **Site capacities are scaled to 1.3 x the town's households**: planners offer more room
  than the hamlets need (1.2-1.5 x is realistic), so the plan chooses which sites to
  start. 30 s, gap 0.1 %.
* ``town-tight`` (extra row): the same town with capacities as drawn (60-400 per site):
  together 0.95 x the households, every site fills -- a tight packing problem. 30 s, 0.1 %.
* ``town-generated``: 大桥镇 (T03), the largest full-start town of the generated district
  (``landplan.datasets.district_path()``), built with ``ConsolidationModel.from_project``
  from the town's layers alone: hamlets from the homestead survey, road distances along
  the generated roads (bridges, canals). 30 s, 0.1 %.
* ``district-generated``: the whole generated district (5 towns: 3 full start, 2 pilot with
  1-2 villages; ~1,500 hamlets, ~200 sites of which the town apartments have no minimum),
  ``from_project`` on the whole project. 60 s, 0.5 %. The time to derive hamlets and
  distances is reported apart (it is not part of the solve).

Costs come from the 2008 scenario (stay penalty 200,000 yuan per household in full-start
towns, above a move's net cost).

Methods, on the same model in the same run, one after the other:

* ``landplan``: ``ConsolidationModel.solve`` (strong formulation, one part per town,
  relax-and-pack start and bound, HiGHS plus large-neighbourhood search, 2 worker
  processes);
* ``highs-textbook``: HiGHS alone on the textbook formulation, whole model, no start;
* ``pulp-cbc``: the same strong model built with PuLP and solved by CBC (2 threads);
  status, objective and bound read from CBC's own log (PuLP calls a time-limited run
  "Optimal");
* ``heuristic``: greedy + local search alone (no bound), a third of the time.

Run: ``python benchmarks/bench_consolidate.py [--quick] [--only NAME ...] [--methods M ...]
[--limit SECONDS] [--repeat N]``. ``--repeat N`` solves each case N times with other seeds
(landplan only) and prints every gap: one run's figure is one draw (the search is
randomised, and two worker processes share the machine). The headline
is printed last, on one line. Timings depend on the machine's load (2 shared cores).

``--reference SECONDS`` runs, instead, HiGHS alone on the strong model of each case for that
long (e.g. 300) and prints what decides whether the 30 s target can be met: the LP
relaxation, each better plan as HiGHS finds it, the final plan and bound, and the plan's
shape (sites started and their fill, households left in place although a site is in reach).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from landplan.consolidate import ConsolidationModel
from landplan.consolidate._core import gap_of
from landplan.consolidate._formulation import build, solve_highs, to_highs
from landplan.consolidate._instances import synthetic_district


def run_landplan(model, time_limit, gap):
    plan = model.solve(time_limit=time_limit, gap=gap)
    p = plan.proof
    open_ = plan.components[plan.components["status"] != "Optimal"]
    return dict(objective=p.objective, bound=p.bound, gap=p.gap, time_s=p.time_s,
                status=p.status, note=f"{len(plan.components)} parts, {len(open_)} open")


def run_textbook(model, time_limit, gap):
    t0 = time.perf_counter()
    res = solve_highs(model._inst, formulation="textbook", time_limit=time_limit, gap=gap)
    return dict(objective=res.objective, bound=res.bound, gap=gap_of(res.objective, res.bound),
                time_s=time.perf_counter() - t0, status=res.status,
                note=f"{res.n_cols} cols, {res.n_rows} rows")


def run_heuristic(model, time_limit):
    plan = model.solve_heuristic(time_limit=time_limit)
    if plan is None:
        return dict(objective=np.inf, bound=np.nan, gap=np.nan, time_s=time_limit,
                    status="no plan", note="")
    return dict(objective=plan.proof.objective, bound=np.nan, gap=np.nan,
                time_s=plan.proof.time_s, status="heuristic (no bound)", note="")


def run_pulp_cbc(model, time_limit, gap):
    import pulp

    t0 = time.perf_counter()
    mm = model.to_matrix("strong")
    prob = pulp.LpProblem("consolidation", pulp.LpMinimize)
    x = [pulp.LpVariable(f"v{k}", lowBound=float(mm.col_lo[k]), upBound=float(mm.col_hi[k]),
                         cat=pulp.LpInteger)
         for k in range(mm.n_cols)]
    prob += pulp.LpAffineExpression([(x[k], float(c)) for k, c in enumerate(mm.c) if c != 0])
    A = mm.A.tocsr()
    for r in range(A.shape[0]):
        lo, hi = mm.row_lo[r], mm.row_hi[r]
        s, e = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression([(x[k], float(v)) for k, v in
                                        zip(A.indices[s:e], A.data[s:e])])
        if np.isfinite(lo) and np.isfinite(hi) and lo == hi:
            prob += expr == float(lo)
        else:
            if np.isfinite(lo):
                prob += expr >= float(lo)
            if np.isfinite(hi):
                prob += expr <= float(hi)
    build_s = time.perf_counter() - t0
    log = Path(tempfile.mkdtemp()) / "cbc.log"
    solver = pulp.PULP_CBC_CMD(timeLimit=time_limit, gapRel=gap, threads=2, msg=False,
                               logPath=str(log))
    t1 = time.perf_counter()
    prob.solve(solver)
    solve_s = time.perf_counter() - t1
    text = log.read_text(errors="replace") if log.exists() else ""
    result = re.search(r"Result - (.*)", text)
    cbc_status = result.group(1).strip() if result else "unknown"
    lower = re.search(r"Lower bound:\s*([-\d.eE+]+)", text)
    bound = float(lower.group(1)) + mm.offset if lower else -np.inf
    values = np.array([v.varValue if v.varValue is not None else 0.0 for v in x])
    has_plan = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    objective = float(mm.c @ values + mm.offset) if has_plan else np.inf
    if has_plan:
        assign = mm.assignment(model._inst, values)
        bad = model._inst.violations(assign)
        if bad:
            objective, cbc_status = np.inf, cbc_status + f" (plan breaks {len(bad)} rules)"
    if cbc_status.startswith("Optimal") and np.isfinite(objective) and not lower:
        bound = objective * (1 - gap)      # CBC proved its gap but printed no bound
    return dict(objective=objective, bound=bound, gap=gap_of(objective, bound),
                time_s=solve_s, status=f"CBC: {cbc_status}",
                note=f"PuLP says {pulp.LpStatus[prob.status]!r}; build {build_s:.1f} s")


def reference(name, model, seconds):
    """HiGHS alone on the strong model for ``seconds``: how far the bound and plans get."""
    inst = model._inst
    mm = build(inst, "strong")
    h = to_highs(mm)
    h.setOptionValue("solve_relaxation", True)
    h.run()
    lp = h.getInfo().objective_function_value
    print(f"\n== {name} reference: {model} -- HiGHS alone, {seconds:g} s", flush=True)
    print(f"   LP relaxation {lp:,.0f}", flush=True)
    t0 = time.perf_counter()

    def found(assign, cost):
        print(f"   {time.perf_counter() - t0:6.1f} s  plan {cost:,.0f}", flush=True)

    r = solve_highs(inst, formulation="strong", time_limit=seconds, gap=1e-4, on_solution=found)
    a = r.assign
    reach = np.zeros(inst.n, dtype=bool)
    reach[inst.po] = True
    started = np.unique(a[a >= 0])
    load = np.bincount(a[a >= 0], weights=inst.demand[a >= 0], minlength=inst.m)[started]
    fill = load / inst.capacity[started]
    g = gap_of(r.objective, r.bound)
    print(f"   end: plan {r.objective:,.0f}, bound {r.bound:,.0f}, gap {g:.3%} ({r.status}, "
          f"{r.nodes} nodes); LP to plan {(r.objective - lp) / abs(r.objective):.3%}", flush=True)
    print(f"   plan: {len(started)} sites started, fill {fill.min():.0%}-{fill.max():.0%}; "
          f"{int(inst.demand[(a < 0) & reach].sum())} households stay although a site is in reach",
          flush=True)
    return r


METHODS = ("landplan", "highs-textbook", "pulp-cbc", "heuristic")


def bench(name, model, time_limit, gap, methods=METHODS):
    print(f"\n== {name}: {model} -- {time_limit:g} s, requested gap {gap:.1%}", flush=True)
    rows = {}
    for method, fn in [
        ("landplan", lambda: run_landplan(model, time_limit, gap)),
        ("highs-textbook", lambda: run_textbook(model, time_limit, gap)),
        ("pulp-cbc", lambda: run_pulp_cbc(model, time_limit, gap)),
        ("heuristic", lambda: run_heuristic(model, time_limit / 3)),
    ]:
        if method not in methods:
            continue
        rows[method] = r = fn()
        print(f"   {method:15s} obj {r['objective']:>16,.0f}  bound {r['bound']:>16,.0f}  "
              f"gap {r['gap']:8.3%}  {r['time_s']:6.1f} s  {r['status']}  {r['note']}",
              flush=True)
    return pd.DataFrame.from_dict(rows, orient="index")


def generated(town: str | None):
    """The generated district (or one of its towns) as a model built by from_project."""
    from landplan.datasets import district_path
    from landplan.project import Project
    from landplan.scenario import load_scenario

    t0 = time.perf_counter()
    project = Project.read(district_path())
    read_s = time.perf_counter() - t0
    if town is not None:
        project = project.select_towns([town])
    t1 = time.perf_counter()
    model = ConsolidationModel.from_project(project, load_scenario())
    print(f"   generated district{'' if town is None else ' town ' + town}: read "
          f"{read_s:.1f} s, hamlets + road distances + model {time.perf_counter() - t1:.1f} s",
          flush=True)
    return model


CASES = {
    # name: (model factory, seconds, gap, quick factory, quick seconds)
    "town-synthetic": (lambda: synthetic_district(1, 300, 40, modes=["full"], seed=1,
                                                  capacity_ratio=1.3), 30, 1e-3,
                       lambda: synthetic_district(1, 80, 12, modes=["full"], seed=1,
                                                  capacity_ratio=1.3), 5),
    "town-tight": (lambda: synthetic_district(1, 300, 40, modes=["full"], seed=1), 30, 1e-3,
                   lambda: synthetic_district(1, 80, 12, modes=["full"], seed=1), 5),
    "town-generated": (lambda: generated("T03"), 30, 1e-3, lambda: generated("T03"), 5),
    "district-generated": (lambda: generated(None), 60, 5e-3, lambda: generated(None), 10),
}
TARGETS = ("town-synthetic", "town-generated", "district-generated")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short limits (smoke test)")
    ap.add_argument("--only", nargs="+", choices=list(CASES), help="run only these cases")
    ap.add_argument("--reference", type=float, metavar="SECONDS",
                    help="run HiGHS alone this long on each case instead (see the notes)")
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                    help="run only these methods (default all)")
    ap.add_argument("--limit", type=float, metavar="SECONDS",
                    help="time limit for every case instead of the issue's (e.g. to see how "
                         "long a case takes to reach its gap); the headline judges that limit")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="solve each case N times with seeds 0..N-1 (landplan only) and print "
                         "each gap: the spread from run to run")
    args = ap.parse_args()
    names = args.only or list(CASES)
    if args.reference:
        for name in names:
            reference(name, CASES[name][0](), args.reference)
        return
    t0 = time.perf_counter()
    if args.repeat > 1:
        for name in names:
            make, limit, gap, quick, quick_limit = CASES[name]
            model = (quick if args.quick else make)()
            limit = args.limit or (quick_limit if args.quick else limit)
            gaps = [model.solve(time_limit=limit, gap=gap, seed=k).proof.gap
                    for k in range(args.repeat)]
            met = sum(g <= gap * (1 + 1e-9) for g in gaps)
            print(f"{name}: {limit:g} s, seeds 0-{args.repeat - 1}: gaps "
                  + " ".join(f"{g:.3%}" for g in gaps)
                  + f"; median {np.median(gaps):.3%}; within {gap:.1%} in {met} of "
                  f"{args.repeat}", flush=True)
        return
    tables = {}
    for name in names:
        make, limit, gap, quick, quick_limit = CASES[name]
        model = (quick if args.quick else make)()
        limit = args.limit or (quick_limit if args.quick else limit)
        tables[name] = (bench(name, model, limit, gap, args.methods), limit, gap)
    pd.set_option("display.width", 200)
    print(f"\nall methods ({time.perf_counter() - t0:.0f} s in all):")
    for name, (t, limit, gap) in tables.items():
        print(f"\n{name} ({limit:g} s, gap {gap:.1%}):")
        print(t[["objective", "bound", "gap", "time_s", "status"]].to_string(formatters={
            "objective": "{:,.0f}".format, "bound": "{:,.0f}".format,
            "gap": "{:.3%}".format, "time_s": "{:.1f}".format}))
    parts = []
    for name, (t, limit, gap) in tables.items():
        if "landplan" not in t.index:
            continue
        r = t.loc["landplan"]
        met = r["gap"] <= gap * (1 + 1e-9) and r["time_s"] <= limit * 1.05
        target = "" if name in TARGETS else " extra"
        parts.append(f"{name}{target}: proven gap {r['gap']:.3%} in {r['time_s']:.1f} s "
                     f"(target <= {gap:.1%} in {limit:g} s: {'MET' if met else 'NOT MET'})")
    print("\nHEADLINE landplan.consolidate -- " + "; ".join(parts))


if __name__ == "__main__":
    main()
