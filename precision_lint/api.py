"""The library API: everything the CLI does, callable from Python.

    >>> import precision_lint
    >>> result = precision_lint.lint("model.onnx")
    >>> for f in result.findings: print(f.rule_id, f.node, f.level, f.estimates["fp16"].value)
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from .errors import PrecisionLintError
from .findings import LEVEL_RANK, FileError, Finding, at_least


@dataclass
class Options:
    """What to lint for.  Built from defaults, config files and command-line flags (in that order)."""

    rule_dirs: Tuple[str, ...] = ()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    tolerances: Dict[str, float] = field(default_factory=dict)
    input_ranges: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    judged_formats: Tuple[str, ...] = ("fp16",)  # replaced by the formats of declared targets
    fail_level: str = "error"
    level_overrides: Dict[str, str] = field(default_factory=dict)  # rule id -> level


@dataclass
class LintResult:
    path: str
    findings: List[Finding] = field(default_factory=list)  # every finding with a level for some format
    notes: List[str] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)
    error: Optional[FileError] = None
    extras: Dict[str, Any] = field(default_factory=dict)  # recommendation, snippets... filled by later stages

    @property
    def reported(self) -> List[Finding]:
        """Findings at info level or above for the formats in force, in output order."""
        return sorted((f for f in self.findings if f.level != "none"), key=Finding.sort_key)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.reported)

    def __len__(self) -> int:
        return len(self.reported)

    def fails(self, fail_level: str) -> bool:
        return any(at_least(f.level, fail_level) for f in self.reported)


class Linter:
    """Loads rules once and lints any number of files with them."""

    def __init__(self, options: Optional[Options] = None):
        from .engine.rules import check_rule_ids, load_rules, select_rules
        from .engine.runner import RuleRunner

        self.options = options or Options()
        all_rules = load_rules(self.options.rule_dirs)
        check_rule_ids(all_rules, self.options.select, "--select")
        check_rule_ids(all_rules, self.options.ignore, "--ignore")
        check_rule_ids(all_rules, tuple(self.options.level_overrides), "level override")
        self.all_rules = all_rules
        self.rules = select_rules(all_rules, self.options.select, self.options.ignore)
        known_tol = {k for r in all_rules for k in r.tolerances}
        for k in self.options.tolerances:
            if k not in known_tol:
                from .errors import ConfigError

                raise ConfigError(f"unknown tolerance {k!r} (known: {', '.join(sorted(known_tol))})")
        self.runner = RuleRunner(self.rules, self.options.tolerances, self.options.judged_formats)

    def lint_file(self, path: str) -> LintResult:
        from .loaders import load_model

        result = LintResult(path=path)
        try:
            graph = load_model(path)
            findings, notes = self.runner.run(graph, self.options.input_ranges)
        except PrecisionLintError as exc:
            result.error = FileError(path, str(exc))
            return result
        except RecursionError:
            result.error = FileError(path, f"{path}: model nests too deeply to read")
            return result
        except MemoryError:
            result.error = FileError(path, f"{path}: model too large to read in memory")
            return result
        result.findings = [self._override(f) for f in findings]
        result.notes = list(graph.notes) + notes
        result.metadata = dict(graph.metadata, format=graph.format, operators=len(graph))
        return result

    def _override(self, f: Finding) -> Finding:
        lvl = self.options.level_overrides.get(f.rule_id)
        if lvl is None or f.level == "none":
            return f
        return replace(f, level=lvl)


def lint(path: str, **options: Any) -> LintResult:
    """Lint one model file.  Keyword arguments are :class:`Options` fields.  Raises on unreadable input."""
    linter = Linter(Options(**_coerce(options)))
    result = linter.lint_file(path)
    if result.error is not None:
        from .errors import ModelLoadError

        raise ModelLoadError(result.error.message)
    return result


def _coerce(options: Mapping[str, Any]) -> Dict[str, Any]:
    out = dict(options)
    for key in ("rule_dirs", "select", "ignore", "judged_formats"):
        if key in out and isinstance(out[key], str):
            out[key] = (out[key],)
        if key in out:
            out[key] = tuple(out[key])
    return out


def level_rank(level: str) -> int:
    return LEVEL_RANK[level]
