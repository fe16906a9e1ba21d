"""``landplan demo``: the whole job on the bundled sample.

Examples
--------
>>> import tempfile, pathlib
>>> out = run_demo(pathlib.Path(tempfile.mkdtemp()) / "outputs")
>>> sorted(out)
['project summary']
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_demo(out: Path, *, progress: bool = False) -> dict[str, Path]:
    """Load, validate and summarise the bundled sample; write the results to ``out``.

    Parameters
    ----------
    out : Path
        Output folder, created if missing.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        What was written: a label -> its path.
    """
    from .datasets import sample_path
    from .project import Project

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log.info("reading the bundled sample %s", sample_path())
    project = Project.read(sample_path(), name="sample")
    summary = project.summary()
    path = out / "project_summary.csv"
    summary.to_csv(path, encoding="utf-8-sig")
    log.info("project summary:\n%s", summary.to_string())
    return {"project summary": path}
