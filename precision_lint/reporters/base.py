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
    # arguments that named no model, unlisted directories, --input-range names no model has: one message each
    input_problems: List[str] = field(default_factory=list)

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
        return (
            "levels judged for fp16, the reduced format most mobile targets use; "
            "--target PLATFORM:MODE judges your deployment"
        )


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
    from ..workflow.suppress import relative_path

    return relative_path(path, root)


def render_failure(reporter: Reporter, result: LintResult, exc: BaseException) -> str:
    """The one line the CLI prints when a reporter cannot render one model (a bug: the model was linted)."""
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    name = type(reporter).__name__.replace("Reporter", "").lower() or "report"
    return (
        f"{result.path}: internal error while writing the {name} report ({type(exc).__name__}: {detail}); "
        f"the report leaves this model out; please report it"
    )


def file_isolated(reporter: Reporter, result: LintResult) -> List[str]:
    """``reporter.file(result)``; a failure is returned as one line, never raised (other models still report)."""
    try:
        reporter.file(result)
    except Exception as exc:  # noqa: BLE001 - one model's rendering bug must not lose the others' report
        if os.environ.get("PRECISION_LINT_DEBUG"):
            raise
        if reporter.results and reporter.results[-1] is result:
            reporter.results.pop()  # left out of the document written at stop(), as it is from this stream
        return [render_failure(reporter, result, exc)]
    return []


def stop_isolated(reporter: Reporter, summary: RunSummary) -> List[str]:
    """``reporter.stop(summary)``, written to the stream only once it succeeded.  When it fails, each model is
    rendered alone to find the ones that cannot be, and the report is written without them: a rendering bug on one
    model never loses the others' report, nor leaves an ``-o`` file empty.  Returns one line per model left out."""
    import io

    stream = reporter.stream
    failures: List[str] = []
    try:
        for attempt in range(2):
            buffer = reporter.stream = io.StringIO()
            try:
                reporter.stop(summary)
                break
            except Exception as exc:  # noqa: BLE001 - see above
                if os.environ.get("PRECISION_LINT_DEBUG") or attempt:
                    raise
                bad = []
                for res in reporter.results:
                    alone = type(reporter)(io.StringIO(), reporter.options)
                    alone.results = [res]
                    try:
                        alone.stop(summary)
                    except Exception as one:  # noqa: BLE001
                        bad.append(res)
                        failures.append(render_failure(reporter, res, one))
                if not bad:
                    raise exc  # not one model's fault: the run's own error handling reports it
                reporter.results = [r for r in reporter.results if all(r is not b for b in bad)]
    finally:
        reporter.stream = stream
    stream.write(buffer.getvalue())
    return failures
