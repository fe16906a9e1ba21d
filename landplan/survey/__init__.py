"""The homestead survey: idle homesteads, 一户多宅, 一宅超限, hamlets, reclaimable land.

The plan's first step towards new rural communities is to survey and clean
up idle homesteads (闲置宅基地) and households holding several (一户多宅),
freeing the villages' stock of construction land. Each step is a function
that takes the layers (GeoDataFrames) and returns frames keyed by their ids;
:func:`survey_project` runs them all on a project.

============================  =====================================================
module                        what it gives
============================  =====================================================
:mod:`.idle`                  every homestead flagged with every idle reason and one
                              survey class (:func:`survey_homesteads`,
                              :func:`idle_homesteads`)
:mod:`.multiple`              一户多宅: the plot each household keeps, the surplus;
                              一宅超限: plots over the standard
:mod:`.hamlets`               hamlets (自然村) clustered on the ground, with footprints
:mod:`.reclaim`               reclaimable area per hamlet, village, town, by reason
:mod:`.tables`                township report tables; Chinese headings for every
                              survey table (:func:`zh_headings`)
:mod:`.problems`              questionable input, by id, and how it was treated
:mod:`.pipeline`              :func:`survey_project` -> :class:`SurveyResult`
============================  =====================================================

Examples
--------
>>> from landplan import survey
>>> list(survey.CLASSES)
['idle', 'surplus', 'oversize', 'in_use']
>>> list(survey.REASONS.values())
['无登记农户', '房屋危旧或倒塌', '长期闲置', '全户外出', '一户多宅多余']
"""

from .hamlets import HAMLET_COLUMNS, hamlet_ids_from_homesteads, hamlets_from_homesteads
from .idle import CLASSES, REASONS, idle_homesteads, survey_homesteads
from .multiple import (KEEP_RULES, kept_homesteads, multiple_homesteads, oversize_homesteads,
                       plot_standard_m2)
from .pipeline import SurveyResult, survey_project
from .problems import PROBLEM_RULES, problem_list, survey_problems
from .reclaim import RECLAIM_REASONS, reclaimable_area
from .tables import SUMMARY_HEADINGS, SURVEY_HEADINGS, survey_summary, zh_headings

__all__ = [
    "survey_project", "SurveyResult",
    "survey_homesteads", "idle_homesteads", "REASONS", "CLASSES",
    "kept_homesteads", "multiple_homesteads", "oversize_homesteads", "plot_standard_m2",
    "KEEP_RULES",
    "hamlet_ids_from_homesteads", "hamlets_from_homesteads", "HAMLET_COLUMNS",
    "reclaimable_area", "RECLAIM_REASONS",
    "survey_summary", "SUMMARY_HEADINGS", "SURVEY_HEADINGS", "zh_headings",
    "survey_problems", "problem_list", "PROBLEM_RULES",
]
