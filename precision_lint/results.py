"""The typed results of a lint: findings (what a rule saw, with the error estimate per number format), unreadable
files, and the LintResult of one file that every reporter renders and the exit code reads.

Reporters only render these records; levels are decided in :mod:`precision_lint.engine.decide`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

LEVELS = ("none", "info", "warning", "error")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
# Formats a rule is judged for.  fp32 is the reference: a rule never fires for it unless it says so.
FORMATS = ("fp16", "bf16")


def max_level(*levels: str) -> str:
    return max(levels, key=LEVEL_RANK.__getitem__) if levels else "none"


def at_least(level: str, threshold: str) -> bool:
    return LEVEL_RANK[level] >= LEVEL_RANK[threshold]


@dataclass(frozen=True)
class Estimate:
    """How large the error gets in one number format, and what that means for this rule."""

    fmt: str
    value: Optional[float]  # None when the rule cannot quantify it (e.g. unknown shape)
    unit: str
    level: str

    def to_dict(self) -> Dict[str, Any]:
        v = self.value
        if v is not None and (v != v or v in (float("inf"), float("-inf"))):
            v = str(v)  # JSON has no inf/nan: "inf" says it overflows
        elif v is not None:
            v = float(f"{v:.6g}")  # stable text across platforms and numpy versions
        return {"value": v, "unit": self.unit, "level": self.level}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule_name: str
    level: str  # the level judged for the formats in force (fp16 unless targets are declared)
    path: str
    node: str  # operator name as in the model file
    op: str
    source_op: str
    failure_class: str
    message: str
    fix: str
    scope: str = ""  # subgraph path, "" for the main graph
    estimates: Mapping[str, Estimate] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    assumptions: Tuple[str, ...] = ()  # what the rule assumed rather than proved (conditional findings)
    notes: Tuple[str, ...] = ()  # e.g. what MNN's converter does to this pattern
    judged_for: Tuple[str, ...] = ("fp16",)
    # Where to find the node when its name says nothing (MNN's '6', 'LayerNorm44'), filled by neighbourhood.locate:
    # a short path from a graph input or a named ancestor, and the tensor it writes (the name a converted model keeps)
    node_path: str = ""
    output: str = ""
    # What `verify` measured for this node, per target ("ios-cpu:low"): {"verdict": confirmed / inherited / refuted /
    # not observed, "basis": measured / emulated, "on": what ran, "rel_l2", "max_abs", ...}.  Empty for a plain lint.
    measured: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Set only when another operator of the same scope has the same name (hand-made files: ONNX does not forbid it):
    # its output tensor, which no other operator writes, so that each keeps its own fingerprint
    twin_of_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimates", MappingProxyType(dict(self.estimates)))
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))
        object.__setattr__(
            self, "measured", MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.measured.items()})
        )

    # Pickling (parallel runs send findings between processes): a mappingproxy cannot be pickled, its dict can.
    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["estimates"], state["evidence"] = dict(self.estimates), dict(self.evidence)
        state["measured"] = {k: dict(v) for k, v in self.measured.items()}
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        self.__post_init__()

    @property
    def conditional(self) -> bool:
        return bool(self.assumptions)

    def level_for(self, fmt: str) -> str:
        """The level this finding has when values are held in ``fmt`` (fp32 never fails)."""
        est = self.estimates.get(fmt)
        return est.level if est is not None else "none"

    def labelled_estimates(self) -> Tuple[Tuple[str, Estimate], ...]:
        """Estimates in reading order with human labels: the judged formats, the others, then the storage-only
        variants ('fp16-storage' reads 'fp16 storage only', i.e. fp32 arithmetic)."""

        def key(item):
            name = item[0]
            base = name.split("-")[0]
            return ("-" in name, base not in self.judged_for, base)

        return tuple(
            (k.replace("-storage", " storage only").replace("-sat", " saturating"), e)
            for k, e in sorted(self.estimates.items(), key=key)
        )

    def with_level(self, level: str, judged_for: Tuple[str, ...]) -> "Finding":
        return replace(self, level=level, judged_for=judged_for)

    @property
    def fingerprint(self) -> str:
        """Stable identity across re-exports: rule, path, graph scope and node name, never an index.  The path as
        normalised: ``./m.onnx`` and ``m.onnx`` are one model."""
        path = os.path.normpath(self.path).replace("\\", "/") if self.path else ""
        parts = (self.rule_id, path, self.scope, self.node) + ((self.twin_of_name,) if self.twin_of_name else ())
        key = "\x1f".join(parts)
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]  # file names need not be UTF-8

    def sort_key(self) -> Tuple[Any, ...]:
        return (self.path, -LEVEL_RANK[self.level], self.rule_id, self.scope, self.node, self.twin_of_name)

    def to_dict(self) -> Dict[str, Any]:
        d = {
            "rule": self.rule_id,
            "name": self.rule_name,
            "level": self.level,
            "judged_for": list(self.judged_for),
            "path": self.path,
            "node": self.node,
            "scope": self.scope,
            "op": self.op,
            "source_op": self.source_op,
            "class": self.failure_class,
            "message": self.message,
            "estimates": {k: v.to_dict() for k, v in sorted(self.estimates.items())},
            "evidence": _plain(self.evidence),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "fix": self.fix,
            "fingerprint": self.fingerprint,
            "node_path": self.node_path,
            "output": self.output,
        }
        if self.measured:  # only after a verify run: a plain lint's JSON is unchanged
            d["measured"] = _plain(self.measured)
        return d

    def measured_lines(self) -> Tuple[str, ...]:
        """One plain-text line per target: 'measured on ios-cpu:low (MNN 3.6.1 Arm82 kernels under QEMU, fp16:1):
        confirmed, rel-L2 0.06'; an emulated result says 'emulated', never 'measured'."""
        return tuple(measured_line(target, m) for target, m in sorted(self.measured.items()))


def measured_line(target: str, m: Mapping[str, Any]) -> str:
    how = "emulated" if m.get("basis") == "emulated" else "measured"
    on = f" ({m['on']})" if m.get("on") else ""
    line = f"{how} on {target}{on}: {m.get('verdict', '?')}"
    rel = m.get("rel_l2")
    if rel is not None:
        line += f", rel-L2 {_g(rel)}"
        if m.get("max_abs") is not None:
            line += f", max abs {_g(m['max_abs'])}"
        line += nonfinite_text(m)
    if m.get("why"):
        line += f" ({m['why']})"
    return line


def nonfinite_text(counts: Mapping[str, Any]) -> str:
    """The non-finite counts of a measured block (``nan``, ``inf``) as ', 1 NaN, 2 inf' ('' when both are 0): rel-L2
    and max abs cover the finite values only, so an overflow to inf is said apart."""
    return "".join(f", {counts[k]} {what}" for k, what in (("nan", "NaN"), ("inf", "inf")) if counts.get(k))


def _g(v: Any) -> str:
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return str(v)


def _plain(value: Any) -> Any:
    """Evidence as JSON-ready values with sorted keys (deterministic output)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _plain(value.item())
    if isinstance(value, float):
        return float(f"{value:.6g}") if value == value and abs(value) != float("inf") else str(value)
    return value


@dataclass(frozen=True)
class FileError:
    """A model that could not be read: one line, and the run goes on."""

    path: str
    message: str

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "error": self.message}


@dataclass
class LintResult:
    path: str
    findings: List[Finding] = field(default_factory=list)  # every finding with a level for some format
    notes: List[str] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)
    error: Optional[FileError] = None
    extras: Dict[str, Any] = field(default_factory=dict)  # identity, mnn_notes, verify... filled by later stages
    recommendation: Optional["Recommendation"] = None  # the MNN precision per platform (engine/decide.py)
    snippets: Optional[Dict[str, "PlatformSnippets"]] = None  # platform id -> deployment code, when asked for
    # Findings hidden from the report (they stay in ``findings``: the model's numerics have not changed, so the
    # recommendation still accounts for them): by a config suppression, or because the baseline knows them.
    suppressed: List[Tuple[Finding, Any]] = field(default_factory=list)  # (finding, suppress.Suppression)
    baselined: List[Finding] = field(default_factory=list)
    fail_level: str = "error"  # the level the run fails at (Options.fail_level of the Linter that made this)
    # declared input ranges (Options.input_ranges) that name no tensor of this model, and one warning line for each
    unknown_input_ranges: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    # rules that failed to evaluate on this model (also in ``notes``): a rule's bug, so the run did not succeed
    rule_failures: List[str] = field(default_factory=list)

    @property
    def reported(self) -> List[Finding]:
        """Findings at info level or above for the formats in force, not suppressed or baselined, in output order."""
        hidden = {f.fingerprint for f, _ in self.suppressed} | {f.fingerprint for f in self.baselined}
        return sorted(
            (f for f in self.findings if f.level != "none" and f.fingerprint not in hidden), key=Finding.sort_key
        )

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


# What a failure class needs to be safe (the recommendation's verdicts say it)
NEEDS: Dict[str, str] = {
    "range": "fp32 storage",
    "type-support": "fp32 storage",
    "accumulation": "fp32 accumulation",
    "coordinate": "fp32 storage and arithmetic",
    "tie-sensitivity": "fp32 storage and arithmetic",
    "approximation": "a mode without the approximation",
    "converter": "a different conversion (no runtime mode changes it)",
}


@dataclass(frozen=True)
class Verdict:
    """One finding judged under one platform and mode."""

    finding: Finding
    level: str
    role: str  # "storage", "accumulation", "storage/arithmetic", "approximation", "converter"
    fmt: Optional[str]  # the deciding format (None for converter findings)
    formats: Any  # deploy.platform_model.OpFormats: the op's formats in this mode, and the per-op facts that applied
    approximations: Tuple[str, ...] = ()
    estimate_key: Optional[str] = None  # which entry of finding.estimates decided (default: ``fmt``)
    known_bugs: Tuple[Any, ...] = ()  # known_issues.KernelBug that apply to this op here (they may raise the level)
    # "estimated" (the rule's estimate with the platform's facts), "measured" or "emulated" (a `verify` run of this
    # platform and mode decided the level: the finding's ``measured`` block for the target)
    basis: str = "estimated"
    level_before_bugs: Optional[str] = None  # the level from the estimates and formats alone, when known_bugs apply

    @property
    def unstable_bugs(self) -> Tuple[Any, ...]:
        """The known bugs here whose effect changes from run to run: a run within tolerance does not clear them."""
        return tuple(b for b in self.known_bugs if b.unstable)

    @property
    def raised_by_bugs(self) -> bool:
        """Whether a known kernel bug, not the formats, gave this (estimated) level."""
        before = self.level_before_bugs
        return self.basis == "estimated" and before is not None and LEVEL_RANK[before] < LEVEL_RANK[self.level]

    def for_finding(self, finding: Finding) -> "Verdict":
        """This verdict, of ``finding``: the same finding later enriched, or another judged the same (a copy of the
        fields; ``dataclasses.replace`` runs ``__init__`` again, 6,273 times in a transformer's recommendation)."""
        v = object.__new__(Verdict)
        v.__dict__.update(self.__dict__)
        object.__setattr__(v, "finding", finding)
        return v

    @property
    def mode_independent(self) -> bool:
        return self.finding.failure_class == "converter"

    @property
    def needs(self) -> str:
        """What the finding's failure class needs to be safe ("fp32 storage and arithmetic")."""
        return NEEDS.get(self.finding.failure_class, "")

    def estimate_view(self) -> Optional[Dict[str, Any]]:
        """The estimate that decided, as JSON: ``{"value", "unit", "format"}`` (and ``with_known_bugs``), or None."""
        f = self.finding
        est = f.estimates.get(self.estimate_key or self.fmt) if self.fmt else None
        if est is None and self.fmt is None:
            # converter findings: the estimate the level came from
            est = max(f.estimates.values(), key=lambda e: LEVEL_RANK[e.level], default=None)
        estimate = None
        if est is not None and est.value is not None:
            d = est.to_dict()
            estimate = {"value": d["value"], "unit": d["unit"], "format": est.fmt}
            extra = [b.adds[0] for b in self.known_bugs if b.adds and b.adds[1] == d["unit"]]
            if extra and isinstance(d["value"], (int, float)):
                # the kernel's real error: the rule's estimate plus what the known bug adds at most
                estimate["with_known_bugs"] = round(d["value"] + sum(extra), 6)
        return estimate

    def to_dict(self) -> Dict[str, Any]:
        f = self.finding
        estimate = self.estimate_view()
        return {
            "rule": f.rule_id,
            "name": f.rule_name,
            "node": f.node,
            "scope": f.scope,
            "op": f.op,
            "class": f.failure_class,
            "level": self.level,
            "role": self.role,
            "format": self.fmt,
            "needs": self.needs,
            "estimate": estimate,
            "per_op": list(self.formats.applied),
            "per_op_sources": list(self.formats.sources),
            "cpu_fallback": self.formats.cpu_fallback,
            "approximations": list(self.approximations),
            "conversion": self.formats.conversion if self.fmt == "fp16" else None,
            "known_bugs": [b.to_dict() for b in self.known_bugs],
            **({"basis": self.basis} if self.basis != "estimated" else {}),  # plain lint output unchanged
        }


@dataclass(frozen=True)
class MeasuredRun:
    """What one `verify` run of a target showed, as the decision reads it: the mode's verdict on these inputs."""

    target: str  # "ios-cpu:low"
    basis: str  # "measured" (MNN's kernels ran) or "emulated" (ONNX Runtime with the table's storage formats)
    exceeded: bool  # an output over tolerance against Precision_High
    why: str  # one line: where the error starts, or that it stayed within tolerance


@dataclass(frozen=True)
class ConverterNote:
    """What MNN's converter does to these ops of the model (data/known_issues.yaml ``converter``)."""

    ops: Tuple[str, ...]
    note: str


@dataclass(frozen=True)
class IssueReport:
    id: str  # "alibaba/MNN#3253"
    url: str
    fixed_after: Optional[str] = None  # the last MNN version with the problem, when it was fixed


@dataclass(frozen=True)
class IssueGroup:
    """MNN issue reports with one summary, about one topic of this model (its ops, a failure class, a backend)."""

    summary: str
    topic: str
    reports: Tuple[IssueReport, ...]


@dataclass(frozen=True)
class MnnNotes:
    """What the converter does to a model and the MNN issue reports that concern it, matched once per model
    (deploy/mnn_notes.py); ``LintResult.extras["mnn_notes"]``, rendered by JSON, SARIF and Markdown."""

    converter: Tuple[ConverterNote, ...] = ()
    converter_always: Tuple[str, ...] = ()  # notes for any model not converted yet
    issue_reports: Tuple[IssueGroup, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.converter or self.converter_always or self.issue_reports)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "converter": [{"ops": list(c.ops), "note": c.note} for c in self.converter],
            "converter_always": list(self.converter_always),
            "issue_reports": [
                {
                    "summary": g.summary,
                    "topic": g.topic,
                    "reports": [{"id": r.id, "url": r.url, "fixed_after": r.fixed_after} for r in g.reports],
                }
                for g in self.issue_reports
            ],
        }


# ------------------------------------------------------------------ the recommendation (deploy/recommend.py builds it)


class _FlatRecord:
    """A record of plain values whose JSON is its fields in order, tuples as lists."""

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class RunOutcome(_FlatRecord):
    """What a `verify` run of one mode showed (the mode's ``run``)."""

    target: str
    exceeded: bool
    why: str


@dataclass(frozen=True)
class PerOpFact(_FlatRecord):
    """Per-op platform facts that changed a flagged op's formats in one mode (CPU fallbacks excluded)."""

    rule: str
    node: str
    scope: str
    op: str
    level: str
    facts: Tuple[str, ...]


@dataclass(frozen=True)
class ModeAssessment:
    """One precision mode on one platform: its formats, its status and the verdicts behind it."""

    mode: str  # normal, high, low, low_bf16
    precision: str  # "Precision_Normal"
    precision_value: int
    speed: int
    supported: bool
    formats: Mapping[str, str]  # storage, arithmetic, accumulation
    same_as: Optional[str]
    what: str
    source: str
    status: str  # chosen | safe | rejected | unsupported
    max_level: str
    blocking: Tuple[Verdict, ...] = ()  # findings at or above the fail level in this mode (why it was rejected)
    concerns: Tuple[Verdict, ...] = ()  # findings below the fail level but above none
    per_op: Tuple[PerOpFact, ...] = ()
    basis: Optional[str] = None  # measured / emulated: only for a mode `verify` ran
    run: Optional[RunOutcome] = None
    # rejected with a mode `verify` ran over tolerance, whose every format is at least as exact as this one's
    inferred: Optional[str] = None

    @property
    def rejected_by_run(self) -> str:
        """Why a run rejected this mode, in a few words ("" when no run did): its own run over tolerance, or one of
        a mode at least as exact."""
        if self.inferred:
            return self.inferred
        if self.run is not None and self.run.exceeded:
            return f"{self.precision} {self.basis} over tolerance"
        return ""

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {
            "mode": self.mode,
            "precision": self.precision,
            "precision_value": self.precision_value,
            "speed": self.speed,
            "supported": self.supported,
            "formats": dict(self.formats),
            "same_as": self.same_as,
            "what": self.what,
            "source": self.source,
            "status": self.status,
            "max_level": self.max_level,
            "blocking": [v.to_dict() for v in self.blocking],
            "concerns": [v.to_dict() for v in self.concerns],
            "per_op": [p.to_dict() for p in self.per_op],
        }
        if self.basis is not None:
            d["basis"] = self.basis
        if self.run is not None:
            d["run"] = self.run.to_dict()
        if self.inferred is not None:
            d["inferred"] = self.inferred
        return d


@dataclass(frozen=True)
class CpuFallback(_FlatRecord):
    """A flagged op that runs on the CPU backup in some modes of a platform, and why."""

    rule: str
    node: str
    scope: str
    op: str
    modes: Tuple[str, ...]
    why: str


@dataclass(frozen=True)
class KnownBugHit(_FlatRecord):
    """A known MNN kernel bug (data/known_issues.yaml) that applies to this model's ops on a platform."""

    id: str
    title: str
    level: str
    versions: str
    symptom: str
    workaround: str
    unstable: bool
    modes: Tuple[str, ...]  # the modes it applies in, fastest first
    nodes: Tuple[str, ...]  # sorted


@dataclass(frozen=True)
class DeclaredMode(_FlatRecord):
    """The verdict on a declared target (``--target platform:mode``)."""

    mode: str
    precision: str
    safe: bool
    max_level: str


@dataclass(frozen=True)
class PlatformChoice:
    """The recommendation for one platform: the fastest safe precision mode (or the least bad) and why."""

    platform: str
    name: str
    os: str
    backend: str
    forward_type: str
    mode: str
    precision: str
    precision_value: int
    safe: bool  # False: no mode keeps every finding below the fail level (``mode`` is the least bad)
    formats: Mapping[str, str]
    equivalent: Tuple[str, ...]  # modes numerically identical to the chosen one here
    equivalent_groups: Tuple[Tuple[str, ...], ...]
    modes_differ: bool
    summary: str
    modes: Tuple[ModeAssessment, ...]  # every mode, fastest first
    cpu_fallbacks: Tuple[CpuFallback, ...] = ()
    mode_independent: Tuple[Verdict, ...] = ()  # converter findings: the same whatever the mode
    known_bugs: Tuple[KnownBugHit, ...] = ()
    notes: Tuple[str, ...] = ()
    # every declared target on this platform, in the order given (``--target ios-cpu:low --target ios-cpu:normal``)
    declared: Tuple[DeclaredMode, ...] = ()
    basis: Optional[str] = None  # only after `verify`: measured / emulated / estimated
    why: Optional[str] = None

    def mode_named(self, mode: str) -> ModeAssessment:
        return next(m for m in self.modes if m.mode == mode)

    def rejected_by_run(self, mode: str) -> str:
        """Why a `verify` run rejected ``mode`` ("" when none did): what the reports say of a declared target that
        no finding makes unsafe."""
        return self.mode_named(mode).rejected_by_run

    @property
    def chosen(self) -> ModeAssessment:
        return self.mode_named(self.mode)

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {
            "platform": self.platform,
            "name": self.name,
            "os": self.os,
            "backend": self.backend,
            "forward_type": self.forward_type,
            "mode": self.mode,
            "precision": self.precision,
            "precision_value": self.precision_value,
            "safe": self.safe,
            "formats": dict(self.formats),
            "equivalent": list(self.equivalent),
            "modes_differ": self.modes_differ,
            "equivalent_groups": [list(g) for g in self.equivalent_groups],
            "modes": [m.to_dict() for m in self.modes],
            "cpu_fallbacks": [c.to_dict() for c in self.cpu_fallbacks],
            "mode_independent": [v.to_dict() for v in self.mode_independent],
            "known_bugs": [b.to_dict() for b in self.known_bugs],
            "notes": list(self.notes),
            "summary": self.summary,
        }
        if self.declared:
            # one shape for every consumer: `declared` is the first declared target of this platform (an object);
            # several on this platform add `declared_all`, every one in the order given
            d["declared"] = self.declared[0].to_dict()
            if len(self.declared) > 1:
                d["declared_all"] = [x.to_dict() for x in self.declared]
        if self.basis is not None:
            d["basis"] = self.basis
            d["why"] = self.why
        return d


@dataclass(frozen=True)
class Recommendation:
    """The recommendation for one file on each platform (deploy/recommend.py); ``LintResult.recommendation``."""

    fail_level: str  # a mode is unsafe when a finding reaches this level in it
    advisory: bool  # True when no --target was declared (levels judged for fp16)
    targets: Tuple[str, ...]  # declared targets, as given
    platforms: Tuple[PlatformChoice, ...]  # in the requested order (default: table order)
    mnn_version: Optional[str] = None

    def platform(self, platform_id: str) -> Optional[PlatformChoice]:
        return next((p for p in self.platforms if p.platform == platform_id), None)

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {
            "fail_level": self.fail_level,
            "advisory": self.advisory,
            "targets": list(self.targets),
            "platforms": [p.to_dict() for p in self.platforms],
        }
        if self.mnn_version is not None:
            d["mnn_version"] = self.mnn_version
        return d


@dataclass(frozen=True)
class PlatformSnippets:
    """The deployment code for one platform's recommended mode (deploy/snippets.py), per kind asked for."""

    mode: str
    precision: str
    model: str  # the .mnn the snippets load
    code: Mapping[str, str]  # kind (python, cpp_session, cpp_module, cli) -> text

    def to_dict(self) -> Dict[str, Any]:
        return {"mode": self.mode, "precision": self.precision, "model": self.model, **self.code}
