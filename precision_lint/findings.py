"""Kept for code that imports the records from here: they live in :mod:`precision_lint.results`."""
from .results import FORMATS, LEVEL_RANK, LEVELS, Estimate, FileError, Finding, at_least, max_level  # noqa: F401
