"""Exception types raised by landplan.

Every error a user can cause names the layer, the rows and the fix.

Examples
--------
>>> from landplan.errors import Problem, ValidationError
>>> p = Problem("households", "dangling_reference", ["H0001"],
...             "village_id points at villages that do not exist: V99",
...             "add the villages or correct village_id")
>>> print(ValidationError([p]))  # doctest: +NORMALIZE_WHITESPACE
1 problem found:
  [households] dangling_reference: village_id points at villages that do not exist: V99
      rows: H0001
      fix: add the villages or correct village_id
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LandplanError", "Problem", "ValidationError", "CRSError", "EncodingError",
           "ScenarioError", "InfeasibleError"]

#: How many row ids a message lists before it says "and N more".
MAX_IDS_SHOWN = 10


class LandplanError(Exception):
    """Base class of every landplan error."""


@dataclass
class Problem:
    """One problem found in the input.

    Parameters
    ----------
    layer : str
        The layer (or file, or scenario section) at fault.
    rule : str
        A short machine-readable name of the rule broken.
    rows : list of str
        Ids (or row numbers, when the id itself is at fault) of the rows at fault.
    message : str
        What is wrong, in a sentence.
    fix : str
        What the user can do about it.
    """

    layer: str
    rule: str
    rows: list = field(default_factory=list)
    message: str = ""
    fix: str = ""
    #: "error" stops a project from loading; "warning" is a data-quality finding
    #: that is reported (and counted by the survey) but does not stop the work.
    severity: str = "error"

    def format(self) -> str:
        """The problem as an indented text block."""
        lines = [f"  [{self.layer}] {self.rule}: {self.message}"]
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_IDS_SHOWN])
            more = len(self.rows) - MAX_IDS_SHOWN
            if more > 0:
                shown += f" ... and {more} more ({len(self.rows)} in all)"
            lines.append(f"      rows: {shown}")
        if self.fix:
            lines.append(f"      fix: {self.fix}")
        return "\n".join(lines)


class ValidationError(LandplanError, ValueError):
    """Raised once with every problem found in a project or a file.

    Attributes
    ----------
    problems : list of Problem
        Every problem found; ``str(error)`` lists them all.
    """

    def __init__(self, problems: list[Problem], header: str | None = None):
        self.problems = list(problems)
        n = len(self.problems)
        head = header or f"{n} problem{'s' if n != 1 else ''} found:"
        super().__init__("\n".join([head] + [p.format() for p in self.problems]))

    def by_layer(self) -> dict[str, list[Problem]]:
        """Problems grouped by layer."""
        out: dict[str, list[Problem]] = {}
        for p in self.problems:
            out.setdefault(p.layer, []).append(p)
        return out

    def rules(self) -> set[str]:
        """The names of the rules broken."""
        return {p.rule for p in self.problems}


class CRSError(ValidationError):
    """A layer or raster has no CRS, a legacy datum, or a CRS that does not match."""


class EncodingError(ValidationError):
    """Text in a file was decoded with the wrong encoding (likely mojibake)."""


class ScenarioError(ValidationError):
    """A scenario file is malformed or names things that do not exist."""


class InfeasibleError(LandplanError):
    """A plan cannot satisfy the scenario's rules; ``diagnosis`` says why in a planner's words."""

    def __init__(self, message: str, diagnosis=None):
        super().__init__(message)
        self.diagnosis = diagnosis
