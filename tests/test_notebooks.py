"""The planner's notebooks: numbered, stored without outputs, bilingual, parameterised.

They are executed top to bottom by nbmake in the README's test command
(``--nbmake notebooks``); here their form is checked and one is run with
papermill for one town, as a planner runs it once per town.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_load_and_validate", "02_homestead_survey", "03_site_suitability",
            "04_consolidation_plan", "05_farmland_transfer", "06_maps_excel_export"]


def test_the_numbered_series_is_complete():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_form(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
        "stored with outputs: strip them"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "town = None" in params[0].source
    heading = nb.cells[0].source
    assert re.search(r"[\u4e00-\u9fff]", heading) and re.search(r"[A-Za-z]{4,}", heading)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_papermill_runs_a_notebook_for_one_town(tmp_path):
    import papermill

    out = tmp_path / "01_新丰镇.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS[0]), str(out), parameters={"town": "新丰镇"},
                               kernel_name="python3", progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))
                   for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "homesteads" in text and "problem" in text
