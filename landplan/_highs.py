"""A quiet HiGHS solver: no banner on the process's standard output.

highspy prints "Running HiGHS ..." to the C-level standard output when a solver
is created, whatever its options; library code must not print, so the banner
is sent to /dev/null while the solver is created, and logging is switched off.

Examples
--------
>>> h = new_highs()
>>> h.getOptions().output_flag
False
"""

from __future__ import annotations

import os
import sys
import threading

import highspy

__all__ = ["new_highs"]

_lock = threading.Lock()


def new_highs() -> "highspy.Highs":
    """A ``highspy.Highs`` created without its banner, with console output off."""
    with _lock:
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError):  # no file descriptor 1 (embedded interpreters)
            h = highspy.Highs()
        else:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
    h.setOptionValue("output_flag", False)
    return h
