"""The library API: everything the CLI does, callable from Python.

>>> import precision_lint
>>> result = precision_lint.lint("model.onnx")
>>> for f in result.findings: print(f.rule_id, f.node, f.level, f.estimates["fp16"].value)
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .errors import ConfigError, PrecisionLintError, RuleError
from .results import FileError, Finding, LintResult
from .deploy import mnn_conversion


@dataclass(frozen=True)
class Options:
    """What to lint for.  Built from defaults, config files and command-line flags (in that order), each step a new
    Options (``dataclasses.replace``): an Options never changes once built, so one can serve any number of Linters.

    Every field is defined here once: the API's keyword arguments, the config keys (workflow/config.py) and the CLI
    flags map onto these names.  Sequences are stored as tuples (a string becomes a one-element tuple) and mappings
    as read-only views."""

    rule_dirs: Tuple[str, ...] = ()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    tolerances: Mapping[str, float] = field(default_factory=dict)
    input_ranges: Mapping[str, Tuple[float, float]] = field(default_factory=dict)
    judged_formats: Tuple[str, ...] = ("fp16",)  # without targets; declared targets decide their own (engine/decide)
    fail_level: str = "error"
    level_overrides: Mapping[str, str] = field(default_factory=dict)  # rule id, prefix or name -> level
    # Deployment (read by engine/decide.py): platform names, "platform:precision" targets, and extra or overridden
    # platform definitions (name -> table), as given in config or on the command line.
    platforms: Tuple[str, ...] = ()
    targets: Tuple[str, ...] = ()
    platform_overrides: Mapping[str, Any] = field(default_factory=dict)
    platform_files: Tuple[str, ...] = ()  # extra platform tables (same layout as data/platforms.yaml)
    recommend: bool = True  # fill LintResult.recommendation (results.Recommendation, see deploy/recommend.py)
    mnn_version: Optional[str] = None  # MNN version deployed (known kernel bugs); None: the platform table's version
    snippets: Tuple[
        str, ...
    ] = ()  # snippet kinds for LintResult.snippets: python, cpp, cpp_session, cpp_module, cli, all
    # Review reports (markdown, html): extras["identity"] (identity.py: sha256, size, inputs, outputs) and
    # extras["neighbourhoods"] (neighbourhood.py: the subgraph drawn per finding, by fingerprint)
    identity: bool = False
    neighbourhoods: bool = False
    # Workflow (config.py, suppress.py, baseline.py)
    per_path_ignores: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)  # path glob -> rule ids/prefixes
    suppressions: Tuple[Any, ...] = ()  # suppress.Suppression records
    baseline: Optional[str] = None  # baseline file: findings recorded there are not reported
    root: Optional[str] = None  # directory path globs are relative to: the config file's, else the working dir
    config_file: Optional[str] = None
    # option name (or "tolerances.NAME", "level_overrides.ID") -> where it was set, for error messages;
    # options missing here came from the command line or the Python caller
    origins: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SEQUENCES and value is not None:
                object.__setattr__(self, f.name, (value,) if isinstance(value, str) else tuple(value))
            elif f.name in _MAPPINGS:
                object.__setattr__(self, f.name, MappingProxyType(dict(value or {})))

    def plain(self) -> Dict[str, Any]:
        """The fields as keyword arguments, mappings as plain dicts (what ``Options(**plain)`` rebuilds)."""
        return {
            f.name: dict(getattr(self, f.name)) if f.name in _MAPPINGS else getattr(self, f.name) for f in fields(self)
        }

    def __reduce__(self):  # parallel runs send Options to worker processes; a read-only view cannot be pickled
        return (_options_from, (self.plain(),))


# Which fields are sequences and which mappings, read from the annotations above (the one list of option names).
_SEQUENCES = frozenset(f.name for f in fields(Options) if str(f.type).startswith("Tuple"))
_MAPPINGS = frozenset(f.name for f in fields(Options) if str(f.type).startswith("Mapping"))


def _options_from(plain: Dict[str, Any]) -> Options:
    return Options(**plain)


class Linter:
    """Loads rules once and lints any number of files with them."""

    def __init__(self, options: Optional[Options] = None):
        from .engine.decide import Decider
        from .engine.rules import load_rules
        from .workflow.selectors import check_rule_ids
        from .engine.runner import RuleRunner

        self.options = options or Options()
        origins = self.options.origins
        all_rules = load_rules(self.options.rule_dirs)

        def check_ids(patterns, key: str, default_where: str) -> None:
            # unknown ids are errors; from a config file they name the file and key (ConfigError)
            try:
                check_rule_ids(all_rules, patterns, origins.get(key, default_where))
            except RuleError as exc:
                raise (ConfigError(str(exc)) if key in origins else exc) from None

        check_ids(self.options.select, "select", "--select")
        check_ids(self.options.ignore, "ignore", "--ignore")
        for rid in self.options.level_overrides:
            check_ids((rid,), f"level_overrides.{rid}", "level override")
        for pattern, ids in self.options.per_path_ignores.items():
            check_ids(ids, f"per_path_ignores.{pattern}", f"per-path ignore {pattern!r}")
        for s in self.options.suppressions:
            try:
                check_rule_ids(all_rules, (s.rule,), f"{s.origin}.rule" if s.origin else "suppression")
            except RuleError as exc:
                raise ConfigError(str(exc)) from None
        self.all_rules = all_rules
        self.rules = Decider.select_from(all_rules, self.options)
        known_tol = {k for r in all_rules for k in r.tolerances} | {
            f"{r.id}.{k}" for r in all_rules for k in r.tolerances
        }
        for k in self.options.tolerances:
            if k not in known_tol:
                where = origins.get(f"tolerances.{k}", f"--tolerance {k}")
                raise ConfigError(
                    f"{where}: unknown tolerance {k!r} (known: "
                    f"{', '.join(sorted(n for n in known_tol if '.' not in n))}, or RULE.NAME)"
                )
        # platforms, targets, the deployed MNN version; every level and the policy (engine/decide.py)
        self.decider = Decider(self.options)
        self.deployment = self.decider.deployment
        self.runner = RuleRunner(
            self.rules,
            self.options.tolerances,
            self.deployment.judged_formats,
            keep=self.decider.bug_may_concern,
            keep_rules=self.decider.bug_rules,
        )

    def lint_file(self, path: str, name: Optional[str] = None) -> LintResult:
        """Lint the model at ``path``; ``name`` is the path to report instead (a model read from stdin is linted
        from a temporary file and reported as ``-`` or its --stdin-filename, which per-path settings match)."""
        with _gc_paused():  # until the graph is freed: a collection in between walks its objects for nothing
            result = self._lint_file(path, name)
        if name is not None and result.error is not None:
            result.path = name
            result.error = FileError(name, result.error.message.replace(path, name))
        return result

    def _lint_file(self, path: str, name: Optional[str]) -> LintResult:
        from .model.loaders import load_model

        result = LintResult(path=path, fail_level=self.options.fail_level)
        try:
            with _guarded():
                graph = load_model(path)
                findings, notes = self.runner.run(graph, self.options.input_ranges, result.rule_failures)
                findings = mnn_conversion.add_notes(graph, findings)  # what MNN's converter does to each finding
        except PrecisionLintError as exc:
            result.error = FileError(path, str(exc))
            return result
        except RecursionError:
            result.error = FileError(path, f"{path}: model nests too deeply to read")
            return result
        except MemoryError:
            result.error = FileError(path, f"{path}: model too large to read in memory")
            return result
        except Exception as exc:  # noqa: BLE001 - a bug on one hostile file must not end the run with a traceback
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            result.error = FileError(
                path,
                f"{path}: internal error while linting ({type(exc).__name__}: {detail}); "
                f"please report this with the file",
            )
            return result
        if name is not None:
            result.path = name
            findings = [replace(f, path=name) for f in findings]
        self._check_input_ranges(graph, result)
        findings = _twins_told_apart(findings)
        verdicts = self.decider.verdicts()  # this file's findings judged per (platform, mode), each once
        result.findings = self.decider.judge_findings(findings, verdicts)
        result.notes = list(graph.notes) + notes
        result.metadata = dict(graph.metadata, format=graph.format, operators=len(graph))
        result.metadata["deployed_mnn_version"] = self.deployment.mnn_version  # beside the file's converter version
        try:
            self._context(result, graph)
        except OSError as exc:  # the file went away between loading and hashing
            result.error = FileError(path, f"{path}: {exc.strerror or exc}")
            return result
        except Exception as exc:  # noqa: BLE001 - a bug here costs the report its drawings, never the findings
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            result.notes.append(
                f"internal error while reading the graph around the findings ({type(exc).__name__}: "
                f"{detail}); please report this with the file"
            )
        del graph  # freed here, before the recommendation (nothing below reads it)
        self.decider.apply_policy(result)
        if self.options.recommend and result.error is None:
            self.decider.recommend(result, verdicts)
        if result.error is None:  # what the converter does and the MNN issue reports that concern it: every format
            from .deploy.mnn_notes import mnn_notes

            result.extras["mnn_notes"] = mnn_notes(result, result.recommendation)
        return result

    def _context(self, result: LintResult, graph: Any) -> None:
        """What the graph alone can tell about each finding, read before the graph is freed: where the node is
        (always), and for review reports the model's identity and the subgraph around each finding."""
        from .model.neighbourhood import locate, neighbourhoods

        result.findings = locate(graph, result.findings)
        if self.options.identity:
            from .model.identity import model_identity

            result.extras["identity"] = model_identity(graph.path, graph)  # the bytes read (stdin: its temp file)
        if self.options.neighbourhoods:
            result.extras["neighbourhoods"] = neighbourhoods(graph, result.findings)

    def _check_input_ranges(self, graph, result: LintResult) -> None:
        """A declared range whose name is no tensor of the model (a typo, another model's input) silences nothing:
        say so, naming the model's inputs."""
        for name in self.options.input_ranges:
            if name in graph.tensors:
                continue
            result.unknown_input_ranges.append(name)
            where = self.options.origins.get(f"input_ranges.{name}", f"--input-range {name}")
            inputs = ", ".join(repr(i) for i in graph.inputs[:8]) + (", ..." if len(graph.inputs) > 8 else "")
            result.warnings.append(
                f"{result.path}: {where}: the model has no input or tensor named {name!r} "
                f"(its inputs: {inputs or 'none'})"
            )


def _twins_told_apart(findings: List[Finding]) -> List[Finding]:
    """Findings of one rule on operators that share a name and scope (hand-made files; ONNX does not forbid it) would
    share a fingerprint: one finding to a baseline, to GitHub code scanning and to the verdict table, which judged the
    second as the first.  Each gets its output tensor (one producer per tensor) into its fingerprint."""
    seen: Dict[Tuple[str, str, str], int] = {}
    for f in findings:
        key = (f.rule_id, f.scope, f.node)
        seen[key] = seen.get(key, 0) + 1
    if len(seen) == len(findings):
        return findings
    return [
        replace(f, twin_of_name=f.output or str(i)) if seen[(f.rule_id, f.scope, f.node)] > 1 else f
        for i, f in enumerate(findings)
    ]


@contextmanager
def _guarded() -> Iterator[None]:
    """Around one file's load and rules: numeric warnings (overflow to inf is an expected answer here) stay off
    stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector pauses while one file's graph lives: it is many small objects without cycles,
    freed by reference counting, which collections would only walk again and again (about 20% of a big lint)."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lint(path: str, **options: Any) -> LintResult:
    """Lint one model file.  Keyword arguments are :class:`Options` fields.  Raises on unreadable input."""
    linter = Linter(Options(**options))
    result = linter.lint_file(path)
    if result.error is not None:
        from .errors import ModelLoadError

        raise ModelLoadError(result.error.message)
    return result
