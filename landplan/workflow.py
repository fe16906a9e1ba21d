"""The whole plan, from a project's layers to the meeting's outputs.

:func:`plan_project` runs every step of the data flow on one project and
scenario and writes what a township meeting and the county GIS need:

======================  =========================================================
output                  file
======================  =========================================================
meeting map             ``规划图.html`` -- offline interactive map, one file
Excel summary           ``规划汇总.xlsx`` -- survey, plan, ledger, transfer sheets
static maps             ``规划图.png`` and ``规划图.pdf`` for printed reports
county GIS export       ``county/`` -- Shapefile, GeoPackage, File Geodatabase
======================  =========================================================

It is what ``landplan demo`` (on the bundled sample) and ``landplan plan``
(on a user's project) run. Each step is also a function of its own module, for
use in a notebook.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .scenario import Scenario, load_scenario

log = logging.getLogger(__name__)

__all__ = ["PlanResults", "plan_project", "write_outputs"]


@dataclass
class PlanResults:
    """Everything :func:`plan_project` computed, for a notebook to look into.

    Attributes
    ----------
    survey : landplan.survey.SurveyResult
    distances : landplan.network.DistanceMatrix
        Road distances from hamlets to sites, to twice the scenario's limit (the plan
        uses those within it; the diagnosis looks further).
    plan : landplan.consolidate.ConsolidationPlan
    ledger : pandas.DataFrame
        The 增减挂钩 ledger per town.
    transfer_progress : pandas.DataFrame
        Transfer progress per town against the scenario's targets.
    blocks : geopandas.GeoDataFrame
        Contiguous blocks of transferred farmland.
    outputs : dict
        Label -> path of every file written.
    timings : dict
        Step -> seconds.
    """

    survey: object
    distances: object
    plan: object
    ledger: pd.DataFrame
    transfer_progress: pd.DataFrame | None
    blocks: gpd.GeoDataFrame | None
    outputs: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


class _Steps:
    """Times and logs each step; drives the progress bar."""

    def __init__(self, names, progress):
        from tqdm.auto import tqdm
        self.bar = tqdm(total=len(names), desc="plan", unit="step", disable=not progress)
        self.timings: dict[str, float] = {}

    def __call__(self, name, fn, *args, **kwargs):
        self.bar.set_postfix_str(name)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[name] = time.perf_counter() - t0
        log.info("%s: %.1f s", name, self.timings[name])
        self.bar.update(1)
        return out

    def close(self):
        self.bar.close()


_STEPS = ("survey", "road network", "distances", "consolidation plan", "ledger",
          "transfer progress", "transfer blocks", "meeting map", "Excel summary", "static maps",
          "county export")


def plan_project(project, scenario: Scenario | str | None = None, *, out: str | Path | None = None,
                 time_limit: float = 60.0, gap: float = 1e-3, include_personal: bool = False,
                 export_formats=("shp", "gpkg", "gdb"), progress: bool = False) -> PlanResults:
    """Plan one project end to end and, with ``out``, write the meeting's outputs.

    Steps: the homestead survey (hamlets, idle homesteads), the road network and
    hamlet-to-site distances, the consolidation plan (every started site gathers
    at least the scenario's minimum), the 增减挂钩 ledger, farmland transfer
    progress and blocks; then the offline map, the Excel summary, the static maps
    and the county GIS export.

    Parameters
    ----------
    project : landplan.project.Project
    scenario : Scenario, str or None
        Default: the 2008 Nanhu plan.
    out : str or Path, optional
        Folder for the outputs; nothing is written without it.
    time_limit, gap : float
        For the optimiser (seconds; relative gap).
    include_personal : bool
        Let household names and ID numbers into the outputs (default: never).
    export_formats : tuple of str
        County export formats.
    progress : bool
        Show a progress bar.

    Returns
    -------
    PlanResults
    """
    from .consolidate import ConsolidationModel
    from .consolidate.from_project import DIAGNOSIS_REACH
    from .network import destinations_from_project, distance_matrix, graph_from_roads
    from .survey import survey_project
    from .transfer import operation_blocks, transfer_progress

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    steps = _Steps(_STEPS if out else _STEPS[:7], progress)
    try:
        survey = steps("survey", survey_project, project, scenario)
        graph = steps("road network", graph_from_roads, project["roads"])
        destinations = destinations_from_project(project, seats=False, facility_kinds=None)
        distances = steps("distances", distance_matrix, graph, survey.hamlets, destinations,
                          origin_id="hamlet_id", destination_id="destination_id",
                          # beyond the limit too, so a diagnosis can say what a longer
                          # limit would make feasible (the model keeps pairs within it)
                          max_distance_m=DIAGNOSIS_REACH * scenario.max_distance_m,
                          same="town_id" if scenario.sites.get("within_town", True) else None,
                          water=project.get("water"))
        model = ConsolidationModel.from_project(project, scenario, hamlets=survey.hamlets,
                                                distances=distances)
        plan = steps("consolidation plan", model.solve, time_limit=time_limit, gap=gap)
        ledger = steps("ledger", plan.ledger)
        progress_table = blocks = None
        if project.get("farmland") is not None:
            progress_table = steps("transfer progress", transfer_progress, project,
                                   scenario=scenario)
            blocks = steps("transfer blocks", operation_blocks, project["farmland"],
                           water=project.get("water"), roads=project.get("roads"),
                           scenario=scenario).blocks
        results = PlanResults(survey=survey, distances=distances, plan=plan, ledger=ledger,
                              transfer_progress=progress_table, blocks=blocks)
        if out is not None:
            results.outputs = write_outputs(project, results, scenario, Path(out), steps=steps,
                                            include_personal=include_personal,
                                            export_formats=export_formats)
    finally:
        steps.close()
    results.timings = steps.timings
    return results


def _plan_layers(project, results: PlanResults) -> dict[str, gpd.GeoDataFrame]:
    """The map layers of a plan: the project's, the survey's and the plan's."""
    from .maps import move_lines

    cols = ["destination", "opened", "households", "fill_rate"]
    if "excluded" in results.plan.sites.columns:       # why a site may not be started
        cols.append("excluded")
    sites = project["sites"].merge(results.plan.sites[cols], left_on="site_id",
                                   right_on="destination", how="left").drop(columns="destination")
    sites["opened"] = sites["opened"].fillna(False).astype(bool)
    if "excluded" in sites.columns:
        sites["excluded"] = sites["excluded"].where(sites["excluded"].fillna("") != "", None)
    flags = results.survey.homesteads
    flags = flags[flags["survey_class"] != "in_use"] if "survey_class" in flags.columns else flags
    layers = {
        "towns": project["towns"],
        "villages": project["villages"],
        "hamlets": results.survey.hamlets,
        "homestead_flags": flags,
        "sites": sites,
        "moves": move_lines(results.plan.moves, results.survey.hamlets, project["sites"]),
    }
    if results.blocks is not None:
        layers["blocks"] = results.blocks
    if results.transfer_progress is not None and "village_id" in results.transfer_progress.columns:
        layers["transfer"] = results.transfer_progress
    return layers


def _plan_sheets(plan) -> dict:
    """The plan's sheets of the Excel summary: per town, started sites, moves, and the
    sites that may not be started (on protected land) with the reason, when there are any."""
    sheets = {"按镇": plan.summary, "按安置点": plan.sites[plan.sites["opened"]],
              "搬迁": plan.moves}
    if "excluded" in plan.sites.columns:
        excluded = plan.sites[plan.sites["excluded"].fillna("") != ""]
        if len(excluded):
            sheets["不予启动"] = excluded
    return sheets


def write_outputs(project, results: PlanResults, scenario: Scenario, out: Path, *, steps=None,
                  include_personal: bool = False, export_formats=("shp", "gpkg", "gdb")
                  ) -> dict[str, Path]:
    """Write the meeting map, the Excel summary, the static maps and the county export.

    Parameters
    ----------
    project : Project
    results : PlanResults
    scenario : Scenario
    out : Path
        Output folder (created).

    Returns
    -------
    dict
        Label -> path.
    """
    from .export import export_county
    from .maps import plan_map, save_offline
    from .maps.static import static_map
    from .report import write_summary

    steps = steps or _Steps(_STEPS[7:], False)
    out.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {}
    layers = _plan_layers(project, results)
    title = f"{scenario.plan.get('district', '')} 农村新社区与土地整治规划".strip()

    background = project.rasters.get("elevation")
    m = steps("meeting map", plan_map, layers, title=title, background=background,
              include_personal=include_personal)
    outputs["meeting map"] = save_offline(m, out / "规划图.html")

    survey = results.survey
    overview = {
        "宅基地(宗)": len(survey.homesteads),
        "闲置宅基地(宗)": int((survey.homesteads["survey_class"] == "idle").sum())
        if "survey_class" in survey.homesteads.columns else None,
        "自然村(个)": len(survey.hamlets),
        "启动安置点(个)": int(results.plan.sites["opened"].sum()),
        "搬迁农户(户)": int(results.plan.moves["households"].sum()) if len(results.plan.moves) else 0,
        "规划求解状态": results.plan.proof.status,
        "最优性差距": f"{results.plan.proof.gap:.3%}",
    }
    overview = {k: v for k, v in overview.items() if v is not None}
    transfer = {"town": results.transfer_progress} if results.transfer_progress is not None else None
    outputs["Excel summary"] = steps(
        "Excel summary", write_summary, out / "规划汇总.xlsx",
        survey={"town": survey.summary("town", zh=True), "village": survey.summary("village", zh=True)},
        plan=_plan_sheets(results.plan),
        ledger=results.ledger, transfer=transfer, overview=overview, overwrite=True,
        include_personal=include_personal)

    static_layers = {k: layers[k] for k in ("villages", "hamlets", "moves") if k in layers}
    static_layers["sites"] = layers["sites"][~layers["sites"]["opened"]]
    static_layers["opened_sites"] = layers["sites"][layers["sites"]["opened"]]
    paths = steps("static maps", static_map, static_layers, out / "规划图", title=title)
    for p in paths:
        outputs[f"static map ({p.suffix[1:]})"] = p

    export_layers = dict(project.layers)
    export_layers["hamlets"] = survey.hamlets
    export_layers["homestead_survey"] = survey.homesteads
    export_layers["plan_sites"] = layers["sites"]
    export_layers["plan_moves"] = layers["moves"]
    manifest = steps("county export", export_county, export_layers, out / "county",
                     formats=export_formats, include_personal=include_personal, overwrite=True)
    outputs["county export"] = out / "county"
    log.info("county export: %d files", len(manifest))
    return outputs
