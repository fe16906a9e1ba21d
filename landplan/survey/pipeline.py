"""The homestead survey end to end: :func:`survey_project` -> :class:`SurveyResult`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from ..scenario import Scenario
from ._inputs import (layers_of, lookup, prepare_homesteads, prepare_households,
                      resolve_scenario, steps_bar, village_towns)
from .hamlets import _cluster, _hamlets
from .idle import AWAY_RESIDENCE, CLASSES, _flags
from .multiple import _households_table, _kept, plot_standard_m2
from .problems import _problems
from .reclaim import reclaimable_area
from .tables import survey_summary

__all__ = ["SurveyResult", "survey_project"]

log = logging.getLogger(__name__)


@dataclass
class SurveyResult:
    """Everything the homestead survey found.

    Attributes
    ----------
    homesteads : geopandas.GeoDataFrame
        Every homestead, row-aligned to the input layer, with its flags (see
        :func:`~landplan.survey.idle.survey_homesteads`) plus hamlet_id and town_id.
    households : pandas.DataFrame
        Every household, row-aligned to the input, with its plots, the one it
        keeps and the surplus (see :func:`~landplan.survey.multiple.multiple_homesteads`)
        plus hamlet_id (the hamlet of its kept plot).
    hamlets : geopandas.GeoDataFrame
        Hamlets (自然村) with footprints; see
        :func:`~landplan.survey.hamlets.hamlets_from_homesteads`.
    reclaimable_hamlets, reclaimable_villages, reclaimable_towns : pandas.DataFrame
        Reclaimable area by reason at each level; see
        :func:`~landplan.survey.reclaim.reclaimable_area`.
    summary_towns, summary_villages : pandas.DataFrame
        Report tables (English headings; :meth:`summary` gives Chinese ones).
    problems : pandas.DataFrame
        Questionable input by id; see :func:`~landplan.survey.problems.survey_problems`.
    settings : dict
        The settings the survey ran with.
    """

    homesteads: gpd.GeoDataFrame
    households: pd.DataFrame
    hamlets: gpd.GeoDataFrame
    reclaimable_hamlets: pd.DataFrame
    reclaimable_villages: pd.DataFrame
    reclaimable_towns: pd.DataFrame
    summary_towns: pd.DataFrame
    summary_villages: pd.DataFrame
    problems: pd.DataFrame
    settings: dict = field(default_factory=dict)
    _villages: pd.DataFrame | None = field(default=None, repr=False)
    _towns: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def idle(self) -> gpd.GeoDataFrame:
        """The idle homesteads (any reason), index kept."""
        return self.homesteads[self.homesteads["idle"].to_numpy()]

    @property
    def multiple(self) -> pd.DataFrame:
        """The households holding two or more homesteads (一户多宅)."""
        return self.households[self.households["multiple"].to_numpy()]

    @property
    def oversize(self) -> gpd.GeoDataFrame:
        """The plots kept in use over the plot standard (一宅超限)."""
        return self.homesteads[(self.homesteads["survey_class"] == "oversize").to_numpy()]

    @property
    def hamlet_of(self) -> pd.Series:
        """homestead_id -> hamlet_id."""
        h = self.homesteads
        return pd.Series(h["hamlet_id"].to_numpy(), index=pd.Index(h["homestead_id"].to_numpy(),
                                                                     name="homestead_id"),
                         name="hamlet_id")

    def summary(self, by: str = "town", *, zh: bool = False) -> pd.DataFrame:
        """The report table per town or village, Chinese headings with ``zh=True``."""
        return survey_summary(self.homesteads, self.households, by=by, villages=self._villages,
                              towns=self._towns, zh=zh)

    def totals(self) -> pd.DataFrame:
        """Homesteads and area per survey class, with the total and the input's.

        The ``total`` row is the sum of the classes; ``input`` is counted
        straight from the input layer. They are equal: every plot is in
        exactly one class.
        """
        h = self.homesteads
        g = h.groupby("survey_class")["area_m2"].agg(["size", "sum"]) \
            .reindex(list(CLASSES)).fillna(0)
        g.columns = ["homesteads", "area_m2"]
        g["homesteads"] = g["homesteads"].astype("int64")
        g["reclaimable_m2"] = h.groupby("survey_class")["reclaimable_m2"].sum() \
            .reindex(list(CLASSES)).fillna(0.0)
        g.loc["total"] = g.sum()
        g.loc["input"] = [self.settings["input_homesteads"], self.settings["input_area_m2"],
                          np.nan]
        g["homesteads"] = g["homesteads"].astype("int64")
        g.index.name = "survey_class"
        return g


def survey_project(project, scenario: Scenario | str | None = None, *,
                   max_gap_m: float = 40.0, land: str = "other",
                   standard_m2: float | None = None, keep_rule: str | None = None,
                   vacant_years: int | None = None, survey_year: int | None = None,
                   barrier_kinds: tuple[str, ...] | None = ("river", "canal"),
                   bridge_reach_m: float = 15.0, away_residence=AWAY_RESIDENCE,
                   overlaps: bool = True, progress: bool = False) -> SurveyResult:
    """Survey a project's homesteads end to end.

    Flags idle homesteads with every reason, finds 一户多宅 and 一宅超限,
    derives hamlets on the ground, totals the reclaimable area per hamlet,
    village and town, builds the report tables and lists questionable input.

    Parameters
    ----------
    project : Project or dict of layers
        Needs ``homesteads`` and ``households``; uses ``villages`` and
        ``towns`` (names, towns), ``water`` and ``roads`` (hamlets) when present.
        Nothing given is modified.
    scenario : Scenario, str or None
        Default: the 2008 Nanhu plan. Supplies ``idle_vacant_years``,
        ``survey_year``, ``keep_rule`` and the plot standards.
    max_gap_m, barrier_kinds, bridge_reach_m
        Hamlet clustering; see :func:`~landplan.survey.hamlets.hamlet_ids_from_homesteads`.
    land, standard_m2
        The plot standard; see :func:`~landplan.survey.multiple.plot_standard_m2`
        (default: other land, 140 m2).
    keep_rule, vacant_years, survey_year, away_residence
        Override the scenario; see :func:`~landplan.survey.idle.survey_homesteads`.
    overlaps : bool
        Look for overlapping plots.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SurveyResult

    Examples
    --------
    >>> from landplan.datasets import sample_path
    >>> from landplan.project import Project
    >>> r = survey_project(Project.read(sample_path()))
    >>> t = r.totals()
    >>> bool(t.loc["total", "homesteads"] == t.loc["input", "homesteads"] == len(r.homesteads))
    True
    >>> bool(abs(t.loc["total", "area_m2"] - t.loc["input", "area_m2"]) < 1e-6)
    True
    >>> int(r.hamlets["households"].sum()) <= len(r.households)
    True
    """
    t0 = time.perf_counter()
    layers = layers_of(project)
    missing = [name for name in ("homesteads", "households") if name not in layers]
    if missing:
        raise ValidationError([Problem(name, "missing_layer", [],
                                       f"the survey needs the {name} layer",
                                       f"give a project with a {name} layer")
                               for name in missing])
    sc = resolve_scenario(scenario)
    settings = {
        "scenario": sc.name,
        "vacant_years": int(sc.homestead["idle_vacant_years"] if vacant_years is None
                            else vacant_years),
        "survey_year": int(sc.plan["survey_year"] if survey_year is None else survey_year),
        "keep_rule": keep_rule or sc.homestead["keep_rule"],
        "standard_m2": plot_standard_m2(sc, land=land, standard_m2=standard_m2),
        "land": land if standard_m2 is None else "given",
        "max_gap_m": float(max_gap_m),
        "barrier_kinds": barrier_kinds,
        "bridge_reach_m": float(bridge_reach_m),
        "away_residence": tuple(away_residence),
    }
    villages, towns = layers.get("villages"), layers.get("towns")
    bar = steps_bar(progress, 9, "survey")
    try:
        hs = prepare_homesteads(layers["homesteads"])
        hh = prepare_households(layers["households"])
        settings["input_homesteads"] = len(layers["homesteads"])
        settings["input_area_m2"] = float(hs["area_m2"].sum())
        bar.update()
        # the input checks run in this thread: beside the rest they gained nothing
        # measurable (2.8-3.0 s either way on the district), and pandas/geopandas calls
        # in two threads at once can race on the process-wide warning filters
        problems = _problems(hs, hh, survey_year=settings["survey_year"], villages=villages,
                             overlaps=overlaps)
        kept = _kept(hs, hh, settings["keep_rule"])
        flags = _flags(hs, hh, vacant_years=settings["vacant_years"],
                       survey_year=settings["survey_year"], keep_rule=settings["keep_rule"],
                       standard=settings["standard_m2"], away_residence=away_residence, kept=kept)
        household_table = _households_table(hs, hh, kept, settings["standard_m2"])
        bar.update()
        hamlet_id = _cluster(hs, water=layers.get("water"), roads=layers.get("roads"),
                             max_gap_m=max_gap_m, barrier_kinds=barrier_kinds,
                             bridge_reach_m=bridge_reach_m, bar=bar)
        v2t = village_towns(villages)
        hamlets = _hamlets(hs, hh, hamlet_id, kept, v2t)
        bar.update()
        flags["hamlet_id"] = hamlet_id
        flags["town_id"] = pd.array(lookup(flags["village_id"], v2t), dtype="str")
        kept_hamlet = pd.Series(hamlet_id.to_numpy(), index=hs["homestead_id"].to_numpy())
        household_table["hamlet_id"] = pd.array(
            lookup(household_table["kept_homestead_id"], kept_hamlet), dtype="str")
        reclaim = {by: reclaimable_area(flags, by=by, villages=villages)
                   for by in ("hamlet", "village", "town")}
        bar.update()
        summaries = {by: survey_summary(flags, household_table, by=by, villages=villages,
                                        towns=towns) for by in ("town", "village")}
        bar.update()
        bar.update()
    finally:
        bar.close()
    log.info("surveyed %d homesteads and %d households in %.2f s: %d idle, %d 一户多宅 "
             "households, %d hamlets, %d input problems", len(flags), len(household_table),
             time.perf_counter() - t0, int(flags["idle"].sum()),
             int(household_table["multiple"].sum()), len(hamlets), len(problems))
    return SurveyResult(
        homesteads=flags, households=household_table, hamlets=hamlets,
        reclaimable_hamlets=reclaim["hamlet"], reclaimable_villages=reclaim["village"],
        reclaimable_towns=reclaim["town"], summary_towns=summaries["town"],
        summary_villages=summaries["village"], problems=problems, settings=settings,
        _villages=villages, _towns=towns)
