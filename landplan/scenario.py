"""Scenario files: the plan's rules and targets, in TOML.

A scenario states what a plan must satisfy (the minimum households per
started site, which towns start fully and which run pilots, transfer
targets in mu) and the assumptions a planner may vary (relocation distance
limit, plot standard, costs, suitability weights). The 2008 Nanhu plan
ships as the default, with the plan's own sentence cited beside each value
(``landplan/scenarios/nanhu_2008.toml``).

Towns are named in Chinese as the plan names them; :meth:`Scenario.town_rules`
matches them to a project's ``towns`` layer and says which names match
nothing.

Examples
--------
>>> from landplan.scenario import load_scenario
>>> s = load_scenario()
>>> s.min_households
50
>>> s.towns["凤桥镇"].mode, s.towns["凤桥镇"].transfer_target_mu
('pilot', 5000.0)
>>> s2 = s.replace(**{"sites.min_households": 40})
>>> s2.min_households, s.min_households
(40, 50)
"""

from __future__ import annotations

import copy
import logging
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import Problem, ScenarioError

log = logging.getLogger(__name__)

__all__ = ["Scenario", "TownRule", "load_scenario", "DEFAULT_SCENARIO"]

DEFAULT_SCENARIO = "nanhu_2008"

_MODES = ("full", "pilot", "none")
_TARGET_RULES = ("at_least", "exceed")

#: What the 增减挂钩 ledger counts as demolished land (拆旧) of a hamlet that moves.
DEMOLISHED_BASES = ("footprint", "homesteads")

# settings a scenario may leave out, with the value it then has
_OPTIONAL = {("homestead", "demolished_basis"): "homesteads"}

# section -> key -> (type, check) for every value a scenario may hold.
_SCHEMA: dict[str, dict[str, type | tuple]] = {
    "plan": {"name": str, "district": str, "year": int, "survey_year": int},
    "sites": {"min_households": int, "road_green_share": float,
              "max_relocation_distance_m": float, "within_town": bool},
    "homestead": {"plot_standard_cultivated_m2": float, "plot_standard_other_m2": float,
                  "idle_vacant_years": int, "keep_rule": str, "demolished_basis": str},
    "costs": {"relocation_per_household": float, "construction_per_household": float,
              "apartment_per_household": float, "distance_per_household_km": float,
              "reclaimed_value_per_mu": float, "stay_penalty_per_household": float},
    "transfer": {"modes": list, "join_gap_m": float, "block_thresholds_mu": list},
    "suitability": {"cell_size_m": float, "max_flood_depth_m": float, "weights": dict,
                    "saturation_m": dict},
}
_TOWN_KEYS = {"mode": str, "pilot_villages_min": int, "pilot_villages_max": int,
              "transfer_target_mu": float, "transfer_target_rule": str}


@dataclass(frozen=True)
class TownRule:
    """The scenario's rules for one town.

    Attributes
    ----------
    name : str
        The town's name as the plan gives it (Chinese).
    mode : {"full", "pilot", "none"}
        ``"full"``: every hamlet should move (全面启动); ``"pilot"``: between
        ``pilot_villages_min`` and ``pilot_villages_max`` villages take part
        (先行试点); ``"none"``: the town does not start in this plan.
    transfer_target_mu : float or None
        The farmland transfer target in mu.
    transfer_target_rule : {"at_least", "exceed"}
        "at_least" (以上): the target is met at the figure; "exceed" (突破):
        the transferred area must be above it.
    """

    name: str
    mode: str = "none"
    pilot_villages_min: int = 1
    pilot_villages_max: int = 2
    transfer_target_mu: float | None = None
    transfer_target_rule: str = "at_least"

    def target_met(self, transferred_mu: float) -> bool:
        """Whether ``transferred_mu`` meets this town's transfer target.

        Examples
        --------
        >>> TownRule("七星镇", transfer_target_mu=5000.0, transfer_target_rule="exceed").target_met(5000)
        False
        """
        if self.transfer_target_mu is None:
            return True
        if self.transfer_target_rule == "exceed":
            return transferred_mu > self.transfer_target_mu
        return transferred_mu >= self.transfer_target_mu


class Scenario:
    """A validated scenario.

    Use :func:`load_scenario` to read one. Values are read as attributes of
    the sections (``scenario.sites["min_households"]``) or through the
    shortcuts below; :meth:`replace` returns a changed copy for scenario
    comparison.

    Parameters
    ----------
    data : dict
        The parsed TOML.
    name : str
        A label for reports.
    """

    def __init__(self, data: dict[str, Any], name: str = "scenario"):
        problems = _check(data)
        if problems:
            raise ScenarioError(problems, header=f"scenario {name!r}: {len(problems)} problem(s):")
        self._data = copy.deepcopy(data)
        self.name = name
        self.towns: dict[str, TownRule] = {
            town: TownRule(name=town, **rule) for town, rule in data.get("towns", {}).items()
        }

    # sections -----------------------------------------------------------
    def __getattr__(self, section: str) -> dict[str, Any]:
        if section.startswith("_") or section not in _SCHEMA:
            raise AttributeError(section)
        values = {k: v for (sec, k), v in _OPTIONAL.items() if sec == section}
        values.update(self._data.get(section, {}))
        return values

    @property
    def min_households(self) -> int:
        """Minimum households gathered by every started site (50 in the 2008 plan)."""
        return int(self._data["sites"]["min_households"])

    @property
    def max_distance_m(self) -> float:
        """Longest relocation along the road network, metres."""
        return float(self._data["sites"]["max_relocation_distance_m"])

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the scenario's data."""
        return copy.deepcopy(self._data)

    def replace(self, *, name: str | None = None, **changes: Any) -> "Scenario":
        """A copy with values changed, by dotted key (``"sites.min_households"``).

        Town rules are changed with ``"towns.凤桥镇.mode"``.
        """
        data = self.to_dict()
        for dotted, value in changes.items():
            parts = dotted.split(".")
            node = data
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        return Scenario(data, name=name or f"{self.name}*")

    def town_rules(self, towns, *, strict: bool = False) -> dict[str, TownRule]:
        """Match the scenario's towns to a ``towns`` layer by name.

        A scenario may name towns a project does not cover (a one-town project
        planned with the district's scenario); they are logged. A scenario town
        whose name is close to a project town that no rule matched is taken for a
        misspelling and refused.

        Parameters
        ----------
        towns : pandas.DataFrame
            The project's towns layer (``town_id``, ``name``).
        strict : bool
            Refuse every scenario town that is not in the layer.

        Returns
        -------
        dict
            town_id -> TownRule. Towns the scenario does not name get mode "none".

        Raises
        ------
        ScenarioError
            Naming the scenario's towns that match none of the layer's, and the likely fix.

        Examples
        --------
        >>> import pandas as pd
        >>> towns = pd.DataFrame({"town_id": ["T1"], "name": ["凤桥镇"]})
        >>> load_scenario().town_rules(towns)["T1"].mode
        'pilot'
        """
        import difflib

        by_name = dict(zip(towns["name"].astype(str), towns["town_id"].astype(str)))
        unknown = [t for t in self.towns if t not in by_name]
        unmatched = [n for n in by_name if n not in self.towns]
        problems = []
        for t in unknown:
            close = difflib.get_close_matches(t, unmatched, n=1, cutoff=0.6)
            if close or strict:
                problems.append(Problem(
                    "scenario", "unknown_town", [t],
                    f"the scenario names town {t!r}, which is not in the project's towns layer"
                    + (f"; the project has {close[0]!r}" if close else
                       f"; the project has {', '.join(by_name) or 'no towns'}"),
                    f"rename [towns.{t}] to [towns.\"{close[0]}\"]" if close else
                    "correct the [towns.NAME] sections to the project's town names"))
        if problems:
            raise ScenarioError(problems)
        if unknown:
            log.info("scenario %r names towns this project does not cover: %s", self.name,
                     ", ".join(unknown))
        return {tid: self.towns.get(name, TownRule(name=name)) for name, tid in by_name.items()}

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, min_households={self.min_households}, towns={list(self.towns)})"


def _check(data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for section, value in data.items():
        if section == "towns":
            continue
        if section not in _SCHEMA:
            problems.append(Problem("scenario", "unknown_section", [section],
                                    f"unknown section [{section}]",
                                    f"use one of: {', '.join(list(_SCHEMA) + ['towns'])}"))
            continue
        for key, v in value.items():
            want = _SCHEMA[section].get(key)
            if want is None:
                problems.append(Problem("scenario", "unknown_key", [f"{section}.{key}"],
                                        f"unknown setting {section}.{key}",
                                        f"settings of [{section}] are: {', '.join(_SCHEMA[section])}"))
            elif not _is(v, want):
                problems.append(Problem("scenario", "wrong_type", [f"{section}.{key}"],
                                        f"{section}.{key} = {v!r} is not a {want.__name__}",
                                        f"write a {want.__name__}"))
    for section in ("sites", "homestead", "costs"):
        for key in _SCHEMA[section]:
            if key not in data.get(section, {}) and (section, key) not in _OPTIONAL:
                problems.append(Problem("scenario", "missing_key", [f"{section}.{key}"],
                                        f"{section}.{key} is missing",
                                        "add it (see landplan/scenarios/nanhu_2008.toml)"))
    sites = data.get("sites", {})
    if _is(sites.get("min_households"), int) and sites["min_households"] < 1:
        problems.append(Problem("scenario", "out_of_range", ["sites.min_households"],
                                "sites.min_households must be at least 1", "write a positive number"))
    keep = data.get("homestead", {}).get("keep_rule")
    if keep is not None and keep not in ("occupied", "largest", "registered"):
        problems.append(Problem("scenario", "bad_choice", ["homestead.keep_rule"],
                                f"homestead.keep_rule = {keep!r}",
                                "use 'occupied', 'largest' or 'registered'"))
    basis = data.get("homestead", {}).get("demolished_basis")
    if basis is not None and basis not in DEMOLISHED_BASES:
        problems.append(Problem("scenario", "bad_choice", ["homestead.demolished_basis"],
                                f"homestead.demolished_basis = {basis!r}",
                                f"use one of {', '.join(map(repr, DEMOLISHED_BASES))}"))
    for costkey, v in data.get("costs", {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            problems.append(Problem("scenario", "out_of_range", [f"costs.{costkey}"],
                                    f"costs.{costkey} = {v} is negative", "costs are yuan >= 0"))
    for town, rule in data.get("towns", {}).items():
        for key, v in rule.items():
            want = _TOWN_KEYS.get(key)
            if want is None:
                problems.append(Problem("scenario", "unknown_key", [f"towns.{town}.{key}"],
                                        f"unknown town setting {key!r}",
                                        f"town settings are: {', '.join(_TOWN_KEYS)}"))
            elif not _is(v, want):
                problems.append(Problem("scenario", "wrong_type", [f"towns.{town}.{key}"],
                                        f"towns.{town}.{key} = {v!r} is not a {want.__name__}",
                                        f"write a {want.__name__}"))
        if rule.get("mode", "none") not in _MODES:
            problems.append(Problem("scenario", "bad_choice", [f"towns.{town}.mode"],
                                    f"mode {rule.get('mode')!r}", f"use one of {_MODES}"))
        if rule.get("transfer_target_rule", "at_least") not in _TARGET_RULES:
            problems.append(Problem("scenario", "bad_choice", [f"towns.{town}.transfer_target_rule"],
                                    f"transfer_target_rule {rule.get('transfer_target_rule')!r}",
                                    f"use one of {_TARGET_RULES}"))
        lo, hi = rule.get("pilot_villages_min", 1), rule.get("pilot_villages_max", 2)
        if _is(lo, int) and _is(hi, int) and not (0 <= lo <= hi):
            problems.append(Problem("scenario", "out_of_range", [f"towns.{town}"],
                                    f"pilot villages {lo} to {hi} is not a range",
                                    "make pilot_villages_min <= pilot_villages_max"))
    return problems


def _is(value: Any, want: type) -> bool:
    if want is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, want)


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario file; with no path, the 2008 Nanhu plan.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file, or the name of a bundled scenario (``"nanhu_2008"``).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Listing every unknown, missing or mistyped setting.

    Examples
    --------
    >>> load_scenario().towns["新丰镇"].mode
    'full'
    """
    if path is None or (isinstance(path, str) and not path.endswith(".toml")
                        and not Path(path).exists()):
        name = path or DEFAULT_SCENARIO
        ref = resources.files("landplan") / "scenarios" / f"{name}.toml"
        if not ref.is_file():
            raise FileNotFoundError(f"no bundled scenario {name!r}; give the path of a .toml file")
        text = ref.read_text(encoding="utf-8")
    else:
        path = Path(path)
        name = path.stem
        text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem("scenario", "toml_syntax", [str(name)], str(exc),
                                     "fix the TOML syntax at the line named")]) from None
    return Scenario(data, name=str(name))
