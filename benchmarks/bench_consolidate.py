"""Benchmark of the consolidation MILP (landplan.consolidate).

Two synthetic instances with geography (``landplan.consolidate._instances``):

* town: one full-start town, 300 hamlets x 40 destinations (38 candidate sites, 2
  town-apartment blocks), 30 s;
* district: five towns (3 full start, 2 pilot with 1-2 villages), 1,500 hamlets x 200
  destinations, 60 s.

Hamlets of 5-60 households around village centres, capacities 60-400, road distance =
1.3 x straight line, 3 km limit, relocation within the town; costs from the 2008
scenario's weights except the stay penalty, raised from 60,000 to 200,000 yuan per household
(with the scenario's own value staying costs less than any move and the plan is empty).

Methods, on the same instance in the same run:

* ``landplan``: ``ConsolidationModel.solve`` (strong formulation, decomposition per
  component, heuristic + LP-rounding warm start, HiGHS);
* ``highs-textbook``: HiGHS on the textbook formulation (``sum_i d_i x_ij >= L y_j``, no
  links, no aggregated rows, no presolve of ours), the whole instance, no warm start;
* ``pulp-cbc``: the same strong model built with PuLP and solved by CBC; status, objective
  and bound read from CBC's own log (PuLP calls a time-limited run "Optimal");
* ``heuristic``: greedy + local search alone (no bound).

Run: ``python benchmarks/bench_consolidate.py [--quick]``. The headline is printed last.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from landplan.consolidate._core import gap_of
from landplan.consolidate._formulation import solve_highs
from landplan.consolidate._instances import synthetic_district


def run_landplan(model, time_limit, gap):
    plan = model.solve(time_limit=time_limit, gap=gap)
    p = plan.proof
    return dict(objective=p.objective, bound=p.bound, gap=p.gap, time_s=p.time_s,
                status=p.status, note=f"{len(plan.components)} components")


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
    if cbc_status.startswith("Optimal") and np.isfinite(objective):
        bound = max(bound, objective * (1 - gap)) if not lower else bound
    return dict(objective=objective, bound=bound, gap=gap_of(objective, bound),
                time_s=solve_s, status=f"CBC: {cbc_status}",
                note=f"PuLP says {pulp.LpStatus[prob.status]!r}; build {build_s:.1f} s")


def bench(name, model, time_limit, gap, heuristic_time, skip_cbc=False):
    print(f"\n== {name}: {model} -- {time_limit:g} s, requested gap {gap:.1%}", flush=True)
    rows = {}
    for method, fn in [
        ("landplan", lambda: run_landplan(model, time_limit, gap)),
        ("highs-textbook", lambda: run_textbook(model, time_limit, gap)),
        ("pulp-cbc", None if skip_cbc else (lambda: run_pulp_cbc(model, time_limit, gap))),
        ("heuristic", lambda: run_heuristic(model, heuristic_time)),
    ]:
        if fn is None:
            continue
        rows[method] = fn()
        r = rows[method]
        print(f"   {method:15s} obj {r['objective']:>16,.0f}  bound {r['bound']:>16,.0f}  "
              f"gap {r['gap']:8.3%}  {r['time_s']:6.1f} s  {r['status']}  {r['note']}",
              flush=True)
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short limits, small instances")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        cases = [("town", synthetic_district(1, 80, 12, modes=["full"], seed=args.seed), 5, 1e-3),
                 ("district", synthetic_district(5, 80, 12, seed=args.seed + 1), 10, 5e-3)]
    else:
        cases = [("town", synthetic_district(1, 300, 40, modes=["full"], seed=args.seed),
                  30, 1e-3),
                 ("district", synthetic_district(5, 300, 40, seed=args.seed + 1), 60, 5e-3)]
    t0 = time.perf_counter()
    tables = {}
    for name, model, limit, gap in cases:
        tables[name] = (bench(name, model, limit, gap, heuristic_time=limit / 3), limit, gap)
    pd.set_option("display.width", 200)
    print(f"\nall methods ({time.perf_counter() - t0:.0f} s in all):")
    for name, (t, limit, gap) in tables.items():
        print(f"\n{name}:")
        print(t[["objective", "bound", "gap", "time_s", "status"]].to_string(
            float_format=lambda v: f"{v:,.4f}" if abs(v) < 10 else f"{v:,.0f}"))
    parts = []
    for name, (t, limit, gap) in tables.items():
        r = t.loc["landplan"]
        met = r["gap"] <= gap and r["time_s"] <= limit * 1.05
        parts.append(f"{name}: proven gap {r['gap']:.3%} in {r['time_s']:.1f} s "
                     f"(target <= {gap:.1%} in {limit:g} s: {'MET' if met else 'NOT MET'})")
    print("\nHEADLINE landplan.consolidate -- " + "; ".join(parts))


if __name__ == "__main__":
    main()
