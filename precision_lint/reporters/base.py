"""The reporter life cycle and the run summary every reporter receives."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Tuple

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

    def add(self, result: LintResult) -> None:
        self.files += 1
        if result.error is not None:
            self.unreadable += 1
        for f in result.reported:
            self.counts[f.level] = self.counts.get(f.level, 0) + 1

    def judged_text(self) -> str:
        if self.targets:
            return f"levels judged for the declared targets: {', '.join(self.targets)}"
        return ("levels judged for fp16, the reduced format most mobile targets use "
                "(declare targets with --target to judge your deployment)")


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
