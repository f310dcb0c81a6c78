"""The analyses' one error of their own. Pure.

`InsufficientData` (a ValueError) means the phase's numbers cannot carry an analysis (too few
entries, no task with a spread): the caller reports it and goes on with the other analysis.
Bad arguments raise a plain ValueError.
"""

from __future__ import annotations


class InsufficientData(ValueError):
    """Too few entries or usable tasks for an analysis."""
