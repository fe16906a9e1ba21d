"""``landplan demo``: the whole job on the bundled sample town.

Reads the bundled sample (one generated town at full detail), plans it with
the 2008 Nanhu scenario and writes the meeting map, the Excel summary, the
static maps and the county GIS export to ``outputs/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_demo(out: str | Path = "outputs", *, time_limit: float = 30.0,
             progress: bool = False) -> dict[str, Path]:
    """Plan the bundled sample and write its outputs.

    Parameters
    ----------
    out : str or Path
        Output folder, created if missing.
    time_limit : float
        Seconds for the optimiser.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        Label -> path of every output.

    Examples
    --------
    >>> import tempfile
    >>> outputs = run_demo(tempfile.mkdtemp(), time_limit=5)
    >>> sorted(outputs)
    ['Excel summary', 'county export', 'meeting map', 'project summary', 'static map (pdf)', 'static map (png)']
    """
    from .datasets import sample_path
    from .project import Project
    from .scenario import load_scenario
    from .workflow import plan_project

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log.info("reading the bundled sample %s", sample_path())
    project = Project.read(sample_path(), name="sample")
    summary_path = out / "project_summary.csv"
    project.summary().to_csv(summary_path, encoding="utf-8-sig")
    results = plan_project(project, load_scenario(), out=out, time_limit=time_limit,
                           progress=progress)
    outputs = {"project summary": summary_path, **results.outputs}
    log.info("plan: %r", results.plan)
    return outputs
