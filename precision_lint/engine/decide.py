"""One place decides: the level of every finding, per declared target and per platform and mode, and what the
project's policy does with it.  Every reporter, the recommendation and the exit code read what is decided here.

**Judging** (:class:`Verdicts`, :func:`judge`): a finding is judged once per (platform, mode) from

1. the rule's estimates per format (``Finding.estimates``, from the rule runner),
2. the platform table's per-op facts (``Platform.formats_for_op``: the formats the op really gets there, and which
   of them the failure class depends on, :data:`ROLES`),
3. the known kernel bugs of the deployed MNN version (``known_issues.yaml``: they can only raise a level),
4. and, after ``verify``, what a run of that target showed (the finding's ``measured`` block: confirmed or found ->
   error, refuted or inherited -> none; an emulated run counts the same way and says so).  Measured results decide
   the recommendation's verdicts for the modes that ran; a finding's reported level stays its estimate (the
   measured verdict is reported beside it).  A run never lowers a level a known bug marked ``unstable`` gave: its
   effect changes from process to process (heap layout), so a run that missed it proves nothing about the next.

Without declared targets a finding's level is the worst over ``Options.judged_formats`` (fp16 by default), at least
a warning where a known kernel bug applies in a listed platform's mode of a judged format; with
targets it is the worst over the targets' (platform, mode) verdicts.

**Policy** (:meth:`Decider.apply_policy`), in this order:

1. rule selection: ``select`` / ``ignore``, the most specific selector wins (:meth:`Decider.select`; applied
   before the rules run);
2. per-path ignores: findings of those rules on matching paths are dropped (the recommendation does not see them);
3. level overrides: the most specific id, prefix or name sets the level (never raises a finding judged ``none``);
   the recommendation's verdicts get the same overrides;
4. suppressions (config): hidden from the report, still in ``LintResult.findings`` (the model's numerics have not
   changed: the recommendation accounts for them);
5. the baseline: findings it records are hidden the same way (a suppressed finding is not counted as baselined);
6. the fail level: ``LintResult.failed`` (the exit code) is true when a reported finding reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..results import FORMATS, LEVEL_RANK, Finding, LintResult, MeasuredRun, Verdict, max_level

POLICY_ORDER = ("select", "per_path_ignores", "level_overrides", "suppressions", "baseline", "fail_level")

# failure class -> the formats (OpFormats fields) that decide it
ROLES: Dict[str, Tuple[str, ...]] = {
    "range": ("storage",),
    "type-support": ("storage",),
    "accumulation": ("accumulation",),
    "coordinate": ("storage", "arithmetic"),
    "tie-sensitivity": ("storage", "arithmetic"),
    "approximation": ("arithmetic",),
    "converter": (),
}

# a measured verdict of a finding -> the level it gives the finding in the mode that ran
MEASURED_LEVEL = {"confirmed": "error", "found": "error", "refuted": "none", "inherited": "none"}


# -- judging: one finding, one platform, one mode -------------------------------------------------------------------


def judge(
    finding: Finding, platform: Any, mode: str, formats: Any = None, bugs: Sequence[Any] = (), ref: Any = None
) -> Verdict:
    """The level ``finding`` has when the model runs on ``platform`` at precision ``mode``, from its estimates, the
    platform's per-op facts and the kernel bugs ``bugs`` of the deployed MNN version (``formats``, ``ref``: the
    operator's formats there and its description, when the caller already has them).  No policy: overrides are
    applied by :class:`Decider`."""
    if ref is None:
        ref = platform.op_ref(finding)
    if formats is None:
        formats = platform.formats_for_op(mode, ref)
    v = _judge_formats(finding, formats)
    hits = _bugs_here(finding, platform, formats, bugs, ref)
    if hits:
        v = replace(v, level=max_level(v.level, *(b.level for b in hits)), known_bugs=hits, level_before_bugs=v.level)
    return v


def _bugs_here(finding: Finding, platform: Any, formats: Any, bugs: Sequence[Any], ref: Any) -> Tuple[Any, ...]:
    if not bugs:
        return ()
    return tuple(
        b
        for b in bugs
        if b.runs_on(formats.kernels, platform.backend)
        and b.concerns(finding.rule_id, ref.names, ref.rank, finding.evidence)
    )


def _judge_formats(finding: Finding, formats: Any) -> Verdict:
    """The verdict from the rule's estimates and the op's formats alone (no bugs, no overrides)."""
    cls = finding.failure_class
    if cls == "converter":
        level = max_level(*(e.level for e in finding.estimates.values())) if finding.estimates else finding.level
        return Verdict(finding, level, "converter", None, formats)
    if cls == "approximation" and formats.approximations:
        level = max_level(*(e.level for e in finding.estimates.values())) if finding.estimates else finding.level
        return Verdict(
            finding, level, "approximation", formats.arithmetic, formats, tuple(a.id for a in formats.approximations)
        )
    variant = _storage_only(finding, formats)
    if variant is None:
        variant = _saturating(finding, formats)
    if variant is not None:
        # fp16 storage with fp32 arithmetic (GPU Normal modes, ops on an fp32 CPU backup): the rule's storage-only
        # estimate; fp32 -> fp16 saturating at +-65504 (ARMv8.2 CPU): the rule's saturating variant
        return Verdict(
            finding,
            variant.level,
            "storage",
            formats.storage,
            formats,
            tuple(a.id for a in formats.approximations),
            estimate_key=variant.fmt,
        )
    roles = ROLES.get(cls, ("storage", "arithmetic", "accumulation"))
    level, fmt = "none", formats.get(roles[0])
    for role in roles:
        f = formats.get(role)
        lvl = "none" if f == "fp32" else finding.level_for(f)
        if LEVEL_RANK[lvl] > LEVEL_RANK[level] or (f != "fp32" and fmt == "fp32"):
            fmt = f
        level = max_level(level, lvl)
    return Verdict(finding, level, "/".join(roles), fmt, formats, tuple(a.id for a in formats.approximations))


def _storage_only(finding: Finding, formats: Any):
    """The '<fmt>-storage' estimate when only storage is reduced and the rule provides one: fp32 arithmetic for
    coordinate-like classes, fp32 arithmetic and accumulation for range findings (a sum in fp32 whose result is
    stored in fp16)."""
    roles = ROLES.get(finding.failure_class, ())
    if "arithmetic" not in roles and finding.failure_class != "range":
        return None
    if formats.storage == "fp32" or formats.arithmetic != "fp32":
        return None
    if finding.failure_class == "range" and formats.accumulation != "fp32":
        return None
    return finding.estimates.get(f"{formats.storage}-storage")


def _saturating(finding: Finding, formats: Any):
    """The '<fmt>-sat' estimate of a range finding where the op's fp32 -> fp16 conversion saturates."""
    if finding.failure_class != "range" or not formats.saturates or formats.storage != "fp16":
        return None
    return finding.estimates.get("fp16-sat")


def with_measured(v: Verdict, target: str) -> Verdict:
    """``v`` decided by what `verify` saw of its finding on ``target`` ("ios-cpu:low"), when it saw something."""
    m = v.finding.measured.get(target)
    if not m or m.get("basis") not in ("measured", "emulated") or m.get("verdict") not in MEASURED_LEVEL:
        return v  # not run, or the finding's tensors were not observed: the estimate stands
    level = MEASURED_LEVEL[m["verdict"]]
    if v.unstable_bugs and LEVEL_RANK[level] < LEVEL_RANK[v.level]:
        return v  # a run that missed a bug whose effect changes from run to run does not clear it: the next may not
    return replace(v, level=level, basis=m["basis"])


class Verdicts:
    """Every finding of one file judged per (platform, mode), each once: the declared targets' levels and the
    recommendation read the same verdicts."""

    def __init__(self, bugs: Sequence[Any] = ()):
        self.bugs = tuple(bugs)
        self._verdicts: Dict[Tuple[str, str, str], Verdict] = {}
        self._formats: Dict[Tuple[str, str, Any], Any] = {}  # formats depend only on the op's description
        # a finding's fingerprint (a hash) and judgement signature by the finding's identity: the recommendation
        # asks for each finding once per platform and mode; the finding is kept with them, so its id is not reused
        # while the table lives
        self._identities: Dict[int, Tuple[Finding, str, Tuple[Any, ...]]] = {}
        # verdicts by (signature, platform, mode): the benchmark transformer's 123 findings have 3 signatures
        self._by_signature: Dict[Tuple[Any, ...], Verdict] = {}

    def get(self, finding: Finding, platform: Any, mode: str) -> Verdict:
        known = self._identities.get(id(finding))
        if known is None or known[0] is not finding:
            known = self._identities[id(finding)] = (finding, finding.fingerprint, _signature(finding))
        key = (known[1], platform.id, mode)
        v = self._verdicts.get(key)
        if v is None:
            shared_key = (known[2], platform.id, mode)
            v = self._by_signature.get(shared_key)
            if v is None:
                v = self._by_signature[shared_key] = self._judge(finding, platform, mode)
            self._verdicts[key] = v
        # the same verdict for another finding of that signature, or the same finding later enriched (where it is
        # in the graph, what verify measured)
        return v if v.finding is finding else v.for_finding(finding)

    def _judge(self, finding: Finding, platform: Any, mode: str) -> Verdict:
        ref = platform.op_ref(finding)
        formats = self._formats.get((platform.id, mode, ref))
        if formats is None:
            formats = self._formats[(platform.id, mode, ref)] = platform.formats_for_op(mode, ref)
        return judge(finding, platform, mode, formats, self.bugs, ref)


def _signature(f: Finding) -> Tuple[Any, ...]:
    """Everything a verdict reads of its finding (judge: the estimates and level; op_ref and the known bugs: the
    rule, the op and the evidence), so findings with equal signatures get equal verdicts."""
    return (
        f.rule_id,
        f.failure_class,
        f.level,
        f.op,
        f.source_op,
        tuple(sorted(f.estimates.items())),
        repr(sorted(f.evidence.items())),
    )


def level_on_targets(finding: Finding, targets: Sequence[Any], table: Any, verdicts: Verdicts) -> Finding:
    """``finding`` with the level it has on the declared targets (the worst of them).

    ``judged_for`` becomes the reduced formats that decided the finding on those targets (empty when the op runs in
    fp32 everywhere declared).  A known kernel bug that applies on a target adds a note saying so."""
    if not targets:
        return finding
    level = "none"
    formats: List[str] = []
    applies: Dict[str, Tuple[Any, List[str]]] = {}  # bug id -> (bug, the targets it applies on): one note each
    raised: Dict[str, Tuple[Any, List[str]]] = {}
    for t in targets:
        v = verdicts.get(finding, table[t.platform], t.mode)
        for b in v.known_bugs:
            where = applies.setdefault(b.id, (b, []))[1]
            if str(t) not in where:
                where.append(str(t))
        if v.raised_by_bugs:
            for b in v.known_bugs:
                raised.setdefault(b.id, (b, []))[1].append(str(t))
        level = max_level(level, v.level)
        if v.fmt in FORMATS and v.fmt not in formats:
            formats.append(v.fmt)
        if v.fmt is None:  # converter findings: the formats they were judged for stay
            formats.extend(f for f in finding.judged_for if f not in formats)
    judged_for = tuple(f for f in FORMATS if f in formats)
    finding = _with_bug_notes(finding, _bug_notes(applies), raised)
    if level == finding.level and judged_for == finding.judged_for:
        return finding
    return finding.with_level(level, judged_for)


def level_with_known_bugs(
    finding: Finding, platforms: Sequence[Any], judged: Sequence[str], verdicts: Verdicts
) -> Finding:
    """Without declared targets: a known kernel bug of the deployed version that applies to ``finding`` on one of
    ``platforms`` at a mode whose deciding format is judged (fp16 by default) makes the finding at least a warning
    and says where.  The judgement "for fp16" is fp16 as MNN computes it: the seed's GridSample passes fp16's
    rounding at 32x32 and still samples half a pixel off on iOS CPUs at Precision_Low.  A warning, not the bug's
    level: the deployment is not declared (on a declared target the bug gives its own level), and a kernel bug is
    not rounding, so a rule's tolerance does not silence it (--target, --mnn-version or a suppression do)."""
    raised: Dict[str, Tuple[Any, List[str]]] = {}
    for p in platforms:
        for mode, m in p.modes.items():
            if not m.supported:
                continue
            v = verdicts.get(finding, p, mode)
            if not v.known_bugs or v.fmt not in judged:
                continue
            for b in v.known_bugs:
                raised.setdefault(b.id, (b, []))[1].append(f"{p.id}:{mode}")
    if not raised:
        return finding
    notes = _bug_notes(raised)
    level = max_level(finding.level, "warning")
    if level == finding.level:  # the formats alone flag it: the notes say the bug is there too
        return _with_bug_notes(finding, notes, {})
    return _with_bug_notes(finding, notes, raised).with_level(level, finding.judged_for)


def _bug_notes(applies: Mapping[str, Tuple[Any, Sequence[str]]]) -> List[str]:
    """One note per known bug (``applies``: bug id -> (bug, where it applies)), naming every place it applies."""
    return [
        f"known MNN bug {b.id} on {', '.join(where)} (MNN {b.versions()}): {b.symptom}; workaround: {b.workaround}"
        for b, where in applies.values()
    ]


def _with_bug_notes(finding: Finding, notes: Sequence[str], raised: Mapping[str, Tuple[Any, Sequence[str]]]) -> Finding:
    """``finding`` with the known-bug notes, and its one-line message naming the bugs that gave it its level
    (``raised``: the estimate in the message alone would not explain it)."""
    if not notes:
        return finding
    message = finding.message
    for b, where in raised.values():
        message += f"; known MNN bug {b.id} on {', '.join(where)}: {b.title}"
    return replace(finding, notes=finding.notes + tuple(n for n in notes if n not in finding.notes), message=message)


def level_for_formats(finding: Finding, judged: Sequence[str]) -> Finding:
    """Without declared targets: the worst level over the judged formats (fp16 by default)."""
    level = max_level(*(finding.estimates[f].level for f in judged if f in finding.estimates)) if judged else "none"
    judged = tuple(judged)
    if level == finding.level and judged == finding.judged_for:
        return finding
    return finding.with_level(level, judged)


# -- the deployment, resolved once from Options -----------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """What the Options say about the deployment, resolved once (Options themselves never change)."""

    table: Any  # platforms.PlatformTable
    targets: Tuple[Any, ...]  # targets.Target, validated
    platforms: Tuple[Any, ...]  # the platforms to recommend for: the targets' first, then --platform's (or all)
    mnn_version: str  # the MNN version deployed (which known kernel bugs apply)
    bugs: Tuple[Any, ...]  # known_issues.KernelBug of that version
    judged_formats: Tuple[str, ...]  # the formats the rule runner judges: the targets', else Options.judged_formats
    snippet_kinds: Tuple[str, ...]


def resolve_deployment(options: Any) -> Deployment:
    """Platforms, targets, the deployed MNN version and its bugs from ``options``; errors name where a bad value came
    from (``Options.origins``)."""
    from ..deploy.known_issues import bugs_for_version, parse_version, version_text
    from ..deploy.platforms import options_table
    from ..deploy.snippets import kinds_for
    from ..deploy.targets import judged_formats_for, parse_targets

    origins = options.origins
    table = options_table(options)
    targets = parse_targets(options.targets, table, origins.get("targets", "--target"))
    declared = options.mnn_version
    mnn_version = version_text(
        parse_version(
            declared if declared is not None else str(table.mnn_version or ""),
            origins.get("mnn_version", "--mnn-version"),
        )
    )
    # the declared targets' platforms are always listed (their verdict decides the exit code), then --platform's
    names = tuple(dict.fromkeys(tuple(options.platforms) + tuple(t.platform for t in targets)))
    platforms = tuple(table.select(names, origins.get("platforms", "--platform")))
    judged = judged_formats_for(targets, table) if targets else tuple(options.judged_formats)
    try:
        kinds = tuple(kinds_for(options.snippets or ()))
    except ValueError as exc:
        raise ConfigError(f"{origins.get('snippets', '--snippets')}: {exc}") from None
    return Deployment(
        table,
        tuple(targets),
        platforms,
        mnn_version,
        tuple(bugs_for_version(parse_version(mnn_version))),
        judged,
        kinds,
    )


# -- the decider: judging and policy for one Linter --------------------------------------------------------------------


class Decider:
    """Built once per Linter from its Options; decides every file's levels, recommendation and report set."""

    def __init__(self, options: Any):
        self.options = options
        self.deployment = resolve_deployment(options)
        self.baseline = None
        if options.baseline:
            from ..workflow.baseline import load_baseline

            self.baseline = load_baseline(options.baseline)

    @staticmethod
    def select_from(all_rules: Sequence[Any], options: Any) -> List[Any]:
        """Policy 1: the rules that run (select / ignore, the most specific selector wins)."""
        from ..workflow.selectors import select_rules

        return select_rules(all_rules, options.select, options.ignore)

    @property
    def bug_rules(self) -> frozenset:
        """The rules whose candidates a known kernel bug of the deployed version may decide (see bug_may_concern)."""
        return frozenset(r for b in self.deployment.bugs for r in b.rules)

    def bug_may_concern(self, rule_id: str, op: str, source_op: str, rank: Any, evidence: Any) -> bool:
        """Whether a known kernel bug of the deployed version concerns this rule candidate on some platform: the
        rule runner keeps such candidates even when no format flags them (the bug decides per target)."""
        from ..deploy.known_issues import may_concern

        bugs = self.deployment.bugs
        return bool(bugs) and may_concern(rule_id, op, source_op, rank, evidence, bugs)

    def verdicts(self) -> Verdicts:
        """A fresh verdict table for one file."""
        return Verdicts(self.deployment.bugs)

    def judge_findings(self, findings: Sequence[Finding], verdicts: Verdicts) -> List[Finding]:
        """Each finding's level: on the declared targets, else for the judged formats (no policy yet)."""
        d = self.deployment
        if d.targets:
            return [level_on_targets(f, d.targets, d.table, verdicts) for f in findings]
        judged = [level_for_formats(f, d.judged_formats) for f in findings]
        bug_rules = self.bug_rules
        if not bug_rules:
            return judged
        return [
            level_with_known_bugs(f, d.platforms, d.judged_formats, verdicts) if f.rule_id in bug_rules else f
            for f in judged
        ]

    def override_level(self, finding: Finding, level: str) -> str:
        """Policy 3: the level after the config's level overrides (the most specific selector wins)."""
        overrides = self.options.level_overrides
        if not overrides or level == "none":
            return level
        from ..workflow.selectors import most_specific

        hit = most_specific(finding.rule_id, finding.rule_name, overrides)
        return level if hit is None else overrides[hit]

    def apply_policy(self, result: LintResult) -> None:
        """Policies 2-5 on one file's judged findings (module docstring); the fail level is read by
        ``LintResult.failed``."""
        o = self.options
        findings = result.findings
        rel = None
        if o.per_path_ignores or o.suppressions or self.baseline is not None:
            from ..workflow.suppress import relative_path

            rel = relative_path(result.path, o.root)
        if o.per_path_ignores:
            from ..workflow.selectors import matches
            from ..workflow.suppress import ignored_rules

            off = ignored_rules(o.per_path_ignores, rel)
            if off:
                findings = [f for f in findings if not matches(f.rule_id, f.rule_name, off)]
        if o.level_overrides:
            findings = [_at(f, self.override_level(f, f.level)) for f in findings]
        result.findings = findings
        result.fail_level = o.fail_level
        if rel is None:
            return
        for f in findings:
            if f.level == "none":
                continue
            s = next((s for s in o.suppressions if s.matches(f.rule_id, rel, f.node, f.rule_name)), None)
            if s is not None:
                result.suppressed.append((f, s))
            elif self.baseline is not None and f in self.baseline:
                result.baselined.append(f)

    def verdict(self, verdicts: Verdicts, finding: Finding, platform: Any, mode: str) -> Verdict:
        """The decided verdict of ``finding`` on ``platform`` at ``mode``: judged, measured where `verify` ran that
        target, then the level overrides."""
        v = with_measured(verdicts.get(finding, platform, mode), f"{platform.id}:{mode}")
        level = self.override_level(finding, v.level)
        return v if level == v.level else replace(v, level=level)

    def recommend(self, result: LintResult, verdicts: Verdicts, runs: Optional[Sequence[MeasuredRun]] = None) -> None:
        """``result.recommendation`` (results.Recommendation, built by deploy/recommend.py) from the decided verdicts of every
        finding (suppressed ones included), and the snippets when kinds were asked for.  ``runs``: what `verify`
        measured or emulated per target (those modes are decided by the run, and every platform says the basis of
        its choice); None for a plain lint."""
        from ..deploy.recommend import MODES, recommend

        d = self.deployment
        by_target = None if runs is None else {r.target: r for r in runs}
        table: Dict[str, Dict[str, List[Verdict]]] = {}
        for p in d.platforms:
            table[p.id] = {
                m: [self.verdict(verdicts, f, p, m) for f in result.findings]
                for m in MODES
                if m in p.modes and p.modes[m].supported
            }
        rec = recommend(table, d.platforms, self.options.fail_level, d.targets, d.mnn_version, by_target)
        result.recommendation = rec
        if d.snippet_kinds:
            from ..deploy.snippets import snippets_for_recommendation

            result.snippets = snippets_for_recommendation(
                result.path, result.metadata.get("format", ""), rec, d.table, d.snippet_kinds
            )


def rule_level(rule: Any, overrides: Mapping[str, str]) -> str:
    """The level a rule's findings are reported at by default (SARIF's ``defaultConfiguration``): its override
    (policy 3, the same selector precedence as the findings'), else its highest level."""
    from ..workflow.selectors import most_specific

    hit = most_specific(rule.id, rule.name, overrides)
    return overrides[hit] if hit else (rule.levels[0][0] if rule.levels else "warning")


def _at(f: Finding, level: str) -> Finding:
    return f if level == f.level else replace(f, level=level)


__all__ = ["POLICY_ORDER", "Decider", "Deployment", "Verdicts", "judge", "level_on_targets", "resolve_deployment"]
