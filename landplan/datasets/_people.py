"""Households on the homesteads, and contracts and transfers on the strips.

The shares are calibrated to what surveys of Jiaxing villages around 2008
describe (assumptions, stated here so they can be changed):

- 4 % of homesteads have no registered household;
- a household holds 1 homestead (91.5 %), 2 (7.5 %) or 3 (1 %), the extra
  ones next to its first (the parents' old house beside the new one);
- 1 % of households hold none;
- residence: 80 % resident, 12 % wholly migrant, 8 % nobody there;
- a homestead's building status depends on who holds it (see ``_STATUS_P``);
- 2 % of strips are collective reserve land (no contracting household);
- 16-24 % of strips in a town are already transferred, whole blocks at a time
  to one operator, a few holdouts left in each block.
"""

from __future__ import annotations

import numpy as np

SURVEY_YEAR = 2008

#: occupied, vacant, dilapidated, collapsed
_STATUS_P = {
    "resident": [0.97, 0.01, 0.015, 0.005],
    "migrant": [0.45, 0.42, 0.10, 0.03],
    "none": [0.20, 0.45, 0.22, 0.13],
    "extra": [0.50, 0.28, 0.14, 0.08],
    "unheld": [0.05, 0.35, 0.32, 0.28],
}
STATUS = np.array(["occupied", "vacant", "dilapidated", "collapsed"])
RESIDENCE = np.array(["resident", "migrant", "none"])
_OPERATOR_KINDS = ("家庭农场", "农业专业合作社", "粮油专业合作社", "农业开发有限公司")


def _sample_rows(rng, probs: np.ndarray) -> np.ndarray:
    """One category per row of a (n, k) probability matrix."""
    c = np.cumsum(probs, axis=1)
    r = rng.random(len(probs))[:, None] * c[:, -1:]
    return (r > c).sum(axis=1)


def households_and_status(rng, hom_village: np.ndarray, n_villages: int) -> dict:
    """Assign households to homesteads (already ordered by village and hamlet).

    Returns arrays for the homesteads (``household`` index or -1, ``status``,
    ``vacant_since``, ``built_year``) and for the households (``village``,
    ``members``, ``residence``, ``willing``, ``primary`` homestead index or -1).
    """
    n = len(hom_village)
    holder = np.full(n, -1)
    rank = np.zeros(n, int)
    hh_village, hh_primary = [], []
    next_hh = 0
    for v in range(n_villages):
        idx = np.flatnonzero(hom_village == v)
        held = idx[rng.random(len(idx)) >= 0.04]
        sizes = rng.choice([1, 2, 3], size=len(held), p=[0.915, 0.075, 0.010])
        cum = np.cumsum(sizes)
        nh = int(np.searchsorted(cum, len(held)) + 1) if len(held) else 0
        sizes = sizes[:nh].copy()
        if nh:
            sizes[-1] -= int(cum[nh - 1]) - len(held)      # the last household fits
        owner = np.repeat(np.arange(nh), sizes)
        holder[held] = next_hh + owner
        starts = np.r_[0, np.cumsum(sizes)[:-1]] if nh else np.zeros(0, int)  # no plot held
        rank[held] = np.arange(len(held)) - np.repeat(starts, sizes)
        n_none = int(rng.binomial(nh, 0.01))
        hh_village.append(np.full(nh + n_none, v))
        hh_primary.append(np.r_[held[starts], np.full(n_none, -1)])
        next_hh += nh + n_none
    hh_village = np.concatenate(hh_village) if hh_village else np.zeros(0, int)
    hh_primary = np.concatenate(hh_primary) if hh_primary else np.zeros(0, int)
    nh = len(hh_village)
    residence = rng.choice(3, size=nh, p=[0.80, 0.12, 0.08])
    members = np.where(residence == 2, rng.choice([1, 2, 3, 4], size=nh, p=[0.4, 0.3, 0.2, 0.1]),
                       rng.choice([1, 2, 3, 4, 5, 6], size=nh,
                                  p=[0.06, 0.18, 0.30, 0.26, 0.14, 0.06]))
    p_willing = np.array([0.60, 0.80, 0.85])[residence]
    willing = np.where(rng.random(nh) < p_willing, 1, 0)
    willing[rng.random(nh) < 0.04] = -1                      # not asked / no answer

    # building status of each homestead, by who holds it
    table = np.array([_STATUS_P[k] for k in ("resident", "migrant", "none", "extra", "unheld")])
    group = np.where(holder < 0, 4, np.where(rank > 0, 3, residence[np.maximum(holder, 0)]))
    status = _sample_rows(rng, table[group])
    idle_years = rng.geometric(0.25, n) - 1 + np.array([0, 0, 3, 6])[status]
    vacant_since = np.where(status > 0, np.maximum(SURVEY_YEAR - idle_years, 1975), -1)
    built = np.where(status == 0,
                     np.maximum(SURVEY_YEAR - 1 - np.round(rng.gamma(2.0, 8.0, n)), 1960),
                     np.maximum(vacant_since - np.round(rng.uniform(5, 30, n)), 1950))
    built[rng.random(n) < 0.04] = -1
    return {"holder": holder, "status": status, "vacant_since": vacant_since,
            "built_year": built.astype(int), "hh_village": hh_village,
            "hh_primary": hh_primary, "members": members, "residence": residence,
            "willing": willing}


def contracts(rng, strip_village: np.ndarray, hh_village: np.ndarray,
              hh_members: np.ndarray) -> np.ndarray:
    """Contracting household index of each strip (-1: collective reserve)."""
    out = np.full(len(strip_village), -1)
    for v in np.unique(strip_village):
        s = np.flatnonzero(strip_village == v)
        h = np.flatnonzero(hh_village == v)
        if not len(h):
            continue
        w = hh_members[h].astype(float)
        out[s] = h[rng.choice(len(h), size=len(s), p=w / w.sum())]
    out[rng.random(len(out)) < 0.02] = -1
    return out


def transfers(rng, strip_block: np.ndarray, block_k: np.ndarray, block_j: np.ndarray,
              eligible: np.ndarray, town_short: str) -> dict:
    """Transfer whole blocks (and a neighbour or two) to operators.

    Returns per-strip arrays: ``operator`` index (-1 untransferred) and per
    operator ``name``, ``mode``, ``start_year``, ``term``, ``rent``.
    """
    n = len(strip_block)
    target = rng.uniform(0.16, 0.24) * n
    per_block = np.bincount(strip_block, minlength=len(block_k))
    cand = np.flatnonzero(eligible & (per_block > 0))
    order = rng.permutation(cand)
    pos = {(int(block_k[b]), int(block_j[b])): int(b) for b in cand}
    block_op = np.full(len(block_k), -1)
    done, n_ops = 0, 0
    for b in order:
        if done >= target:
            break
        if block_op[b] >= 0:
            continue
        cluster = [b]
        for dk, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nb = pos.get((int(block_k[b]) + dk, int(block_j[b]) + dj))
            if nb is not None and block_op[nb] < 0 and rng.random() < 0.3:
                cluster.append(nb)
        for c in cluster:
            block_op[c] = n_ops
            done += per_block[c]
        n_ops += 1
    operator = block_op[strip_block]
    operator[rng.random(n) < 0.08] = -1                       # holdouts
    mode = rng.choice(3, size=n_ops, p=[0.7, 0.2, 0.1])
    start = SURVEY_YEAR - np.minimum(rng.geometric(0.3, n_ops) - 1, 9)
    term = np.where(mode == 0, rng.choice([3, 5, 10], n_ops),
                    np.where(mode == 1, rng.choice([10, 15, 20], n_ops), 30))
    rent = np.where(mode == 2, np.nan, np.round(rng.uniform(450, 800, n_ops), -1))
    kinds = rng.choice(len(_OPERATOR_KINDS), n_ops, p=[0.45, 0.3, 0.15, 0.1])
    names = np.array([f"{town_short}{i + 1:02d}号{_OPERATOR_KINDS[k]}" for i, k in enumerate(kinds)],
                     dtype=object)
    return {"operator": operator, "name": names, "mode": mode, "start": start, "term": term,
            "rent": rent}
