"""The library API: everything the CLI does, callable from Python.

    >>> import precision_lint
    >>> result = precision_lint.lint("model.onnx")
    >>> for f in result.findings: print(f.rule_id, f.node, f.level, f.estimates["fp16"].value)
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .errors import ConfigError, PrecisionLintError, RuleError
from .findings import FileError, Finding, at_least
from .deploy import mnn_conversion


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
    level_overrides: Dict[str, str] = field(default_factory=dict)  # rule id or prefix -> level
    # Deployment (read by platforms.py / targets.py / recommend.py): platform names, "platform:precision" targets,
    # and extra or overridden platform definitions (name -> table), as given in config or on the command line.
    platforms: Tuple[str, ...] = ()
    targets: Tuple[str, ...] = ()
    platform_overrides: Dict[str, Any] = field(default_factory=dict)
    platform_files: Tuple[str, ...] = ()  # extra platform tables (same layout as data/platforms.yaml)
    recommend: bool = True  # fill LintResult.extras["recommendation"] (see recommend.py)
    mnn_version: Optional[str] = None  # MNN version deployed (known kernel bugs); None: the platform table's version
    snippets: Tuple[str, ...] = ()  # snippet kinds for extras["snippets"]: python, cpp, cpp_session, cpp_module, cli, all
    # Review reports (markdown, html): extras["identity"] (identity.py: sha256, size, inputs, outputs) and
    # extras["neighbourhoods"] (neighbourhood.py: the subgraph drawn per finding, by fingerprint)
    identity: bool = False
    neighbourhoods: bool = False
    # Workflow (config.py, suppress.py, baseline.py)
    per_path_ignores: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # path glob -> rule ids/prefixes
    suppressions: Tuple[Any, ...] = ()  # suppress.Suppression records
    baseline: Optional[str] = None  # baseline file: findings recorded there are not reported
    root: Optional[str] = None  # directory path globs are relative to: the config file's, else the working dir
    config_file: Optional[str] = None
    # option name (or "tolerances.NAME", "level_overrides.ID") -> where it was set, for error messages;
    # options missing here came from the command line or the Python caller
    origins: Dict[str, str] = field(default_factory=dict)


@dataclass
class LintResult:
    path: str
    findings: List[Finding] = field(default_factory=list)  # every finding with a level for some format
    notes: List[str] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)
    error: Optional[FileError] = None
    extras: Dict[str, Any] = field(default_factory=dict)  # recommendation, snippets... filled by later stages
    # Findings hidden from the report (they stay in ``findings``: the model's numerics have not changed, so the
    # recommendation still accounts for them): by a config suppression, or because the baseline knows them.
    suppressed: List[Tuple[Finding, Any]] = field(default_factory=list)  # (finding, suppress.Suppression)
    baselined: List[Finding] = field(default_factory=list)
    fail_level: str = "error"  # the level the run fails at (Options.fail_level of the Linter that made this)
    # declared input ranges (Options.input_ranges) that name no tensor of this model, and one warning line for each
    unknown_input_ranges: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def reported(self) -> List[Finding]:
        """Findings at info level or above for the formats in force, not suppressed or baselined, in output order."""
        hidden = {f.fingerprint for f, _ in self.suppressed} | {f.fingerprint for f in self.baselined}
        return sorted((f for f in self.findings if f.level != "none" and f.fingerprint not in hidden),
                      key=Finding.sort_key)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.reported)

    def __len__(self) -> int:
        return len(self.reported)

    def fails_at(self, fail_level: str) -> bool:
        """True when a reported finding is at or above ``fail_level`` ("error", "warning" or "info")."""
        return any(at_least(f.level, fail_level) for f in self.reported)

    @property
    def failed(self) -> bool:
        """True when a reported finding is at or above the run's fail level: what makes the CLI exit 1."""
        return self.fails_at(self.fail_level)

    @property
    def fails(self) -> "_FailVerdict":
        """``if result.fails:`` reads like :attr:`failed`; ``result.fails("warning")`` still works as it did
        (it was a method, so ``if result.fails:`` used to be always true)."""
        return _FailVerdict(self)


class _FailVerdict:
    """Truthy like ``result.failed``, callable like the old ``result.fails(level)`` method."""

    __slots__ = ("_result",)

    def __init__(self, result: LintResult):
        self._result = result

    def __bool__(self) -> bool:
        return self._result.failed

    def __call__(self, fail_level: str) -> bool:
        return self._result.fails_at(fail_level)

    def __eq__(self, other: object) -> bool:
        return bool(self) == other if isinstance(other, bool) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(bool(self))


class Linter:
    """Loads rules once and lints any number of files with them."""

    def __init__(self, options: Optional[Options] = None):
        from .engine.rules import check_rule_ids, load_rules, select_rules
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
        self.rules = select_rules(all_rules, self.options.select, self.options.ignore)
        known_tol = {k for r in all_rules for k in r.tolerances} | {f"{r.id}.{k}" for r in all_rules for k in r.tolerances}
        for k in self.options.tolerances:
            if k not in known_tol:
                where = origins.get(f"tolerances.{k}", f"--tolerance {k}")
                raise ConfigError(f"{where}: unknown tolerance {k!r} (known: "
                                  f"{', '.join(sorted(n for n in known_tol if '.' not in n))}, or RULE.NAME)")
        from .deploy.stage import DeploymentStage  # platforms and targets; sets judged_formats for declared targets

        self.deployment = DeploymentStage(self.options)
        self.runner = RuleRunner(self.rules, self.options.tolerances, self.options.judged_formats,
                                 keep=self.deployment.bug_may_concern)
        self.baseline = None
        if self.options.baseline:
            from .workflow.baseline import load_baseline

            self.baseline = load_baseline(self.options.baseline)

    def lint_file(self, path: str, name: Optional[str] = None) -> LintResult:
        """Lint the model at ``path``; ``name`` is the path to report instead (a model read from stdin is linted
        from a temporary file and reported as ``-`` or its --stdin-filename, which per-path settings match)."""
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
                findings, notes = self.runner.run(graph, self.options.input_ranges)
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
            result.error = FileError(path, f"{path}: internal error while linting ({type(exc).__name__}: {detail}); "
                                           f"please report this with the file")
            return result
        if name is not None:
            result.path = name
            findings = [replace(f, path=name) for f in findings]
        self._check_input_ranges(graph, result)
        result.findings = [self._override(f) for f in self.deployment.judge(findings)]
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
            result.notes.append(f"internal error while reading the graph around the findings ({type(exc).__name__}: "
                                f"{detail}); please report this with the file")
        del graph  # freed here, before the recommendation (nothing below reads it)
        self._hide(result)
        self.deployment.annotate(result, self._override)
        if result.error is None:  # what the converter does and the MNN issue reports that concern it: every format
            from .deploy.mnn_notes import mnn_notes

            result.extras["mnn_notes"] = mnn_notes(result, result.extras.get("recommendation"))
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
            result.warnings.append(f"{result.path}: {where}: the model has no input or tensor named {name!r} "
                                   f"(its inputs: {inputs or 'none'})")

    def _override(self, f: Finding) -> Finding:
        overrides = self.options.level_overrides
        if not overrides or f.level == "none":
            return f
        # the most specific id or prefix wins: {"R": "warning", "R002": "error"}
        from .workflow.selectors import most_specific

        hit = most_specific(f.rule_id, f.rule_name, overrides)
        return f if hit is None else replace(f, level=overrides[hit])

    def _hide(self, result: LintResult) -> None:
        """Per-path ignores drop findings; suppressions and the baseline hide them from the report."""
        o = self.options
        if not (o.per_path_ignores or o.suppressions or self.baseline is not None):
            return
        from .workflow.suppress import ignored_rules, relative_path

        rel = relative_path(result.path, o.root)
        off = ignored_rules(o.per_path_ignores, rel)
        if off:
            from .workflow.selectors import matches

            result.findings = [f for f in result.findings if not matches(f.rule_id, f.rule_name, off)]
        for f in result.findings:
            if f.level == "none":
                continue
            s = next((s for s in o.suppressions if s.matches(f.rule_id, rel, f.node, f.rule_name)), None)
            if s is not None:
                result.suppressed.append((f, s))
            elif self.baseline is not None and f in self.baseline:
                result.baselined.append(f)


@contextmanager
def _guarded() -> Iterator[None]:
    """Around one file: numeric warnings (overflow to inf is an expected answer here) stay off stderr, and the
    cyclic garbage collector pauses while the graph's many small objects are built (about 20% of a big lint)."""
    import gc
    import warnings

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        if was_enabled:
            gc.enable()


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
    for key in ("rule_dirs", "select", "ignore", "judged_formats", "platforms", "targets", "platform_files",
                "snippets"):
        if key in out and isinstance(out[key], str):
            out[key] = (out[key],)
        if key in out:
            out[key] = tuple(out[key])
    return out
