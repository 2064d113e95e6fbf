"""The reporter life cycle and the run summary every reporter receives."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Optional, Tuple

from ..api import LintResult


@dataclass
class RunSummary:
    files: int = 0
    unreadable: int = 0
    counts: Dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    judged_for: Tuple[str, ...] = ("fp16",)
    targets: Tuple[str, ...] = ()  # declared deployment targets, e.g. ("ios-cpu:low",)
    fail_level: str = "error"
    failed: bool = False
    suppressed: int = 0  # findings hidden by config suppressions
    baselined: int = 0  # findings hidden because the baseline records them
    unused_suppressions: List[Any] = field(default_factory=list)  # suppress.Suppression records that hid nothing

    def add(self, result: LintResult) -> None:
        self.files += 1
        if result.error is not None:
            self.unreadable += 1
        for f in result.reported:
            self.counts[f.level] = self.counts.get(f.level, 0) + 1
        self.suppressed += len(result.suppressed)
        self.baselined += len(result.baselined)

    def judged_text(self) -> str:
        if self.targets:
            return f"levels judged for the declared targets: {', '.join(self.targets)}"
        return ("levels judged for fp16, the reduced format most mobile targets use; "
                "--target PLATFORM:MODE judges your deployment")


class Reporter:
    """Base class.  ``options`` carries reporter-relevant CLI choices (colour, snippets, quiet...)."""

    def __init__(self, stream: IO[str], options: Dict[str, Any]):
        self.stream = stream
        self.options = options
        self.results: List[LintResult] = []

    def start(self) -> None:
        pass

    def file(self, result: LintResult) -> None:
        self.results.append(result)

    def stop(self, summary: RunSummary) -> None:
        pass

    def write(self, text: str = "") -> None:
        self.stream.write(text + "\n")


def repository_root(start: Optional[str] = None) -> str:
    """The directory report paths are made relative to: the enclosing git work tree (what GitHub code scanning
    and annotations resolve against), else the working directory."""
    here = os.path.abspath(start or os.getcwd())
    d = here
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return here
        d = parent


def report_path(path: str, root: Optional[str]) -> str:
    """``path`` relative to ``root`` with forward slashes (absolute when outside it)."""
    from ..suppress import relative_path

    return relative_path(path, root)

