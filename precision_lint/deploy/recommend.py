"""The recommender: for each platform, the fastest MNN precision mode that keeps every finding below the fail level.

It judges nothing itself: it reads the verdicts decided per (platform, mode) by ``engine/decide.py`` (the rule's
estimates, the platform table's per-op facts, known kernel bugs, level overrides and, after ``verify``, measured or
emulated results for the modes that ran) and aggregates them: per mode the findings that block it (at or above the
fail level) and those that concern it, the per-op facts, CPU fallbacks and kernel bugs that applied; then the fastest
safe mode, or the least bad one.  A mode that `verify` ran is decided by that run: rejected when an output exceeded
the tolerance, safe otherwise (unless a known bug whose effect changes from run to run applies to a finding at the
fail level: a run within tolerance may have missed it); a run over tolerance also rejects the modes that did not run and are at most as exact
in every format (``at_most_as_exact``: OpenCL Low after Normal, whatever their findings say); the platform then says
which basis its choice had (``basis``: measured, emulated or estimated).

The recommendation for one file is a tree of typed, frozen records (results.py: ``Recommendation`` ->
``PlatformChoice`` -> ``ModeAssessment``, with ``Verdict``, ``CpuFallback``, ``KnownBugHit``, ``DeclaredMode``,
``PerOpFact`` and ``RunOutcome``), kept in ``LintResult.recommendation``.  ``to_dict()`` gives its JSON (sorted keys
when dumped, lists in a fixed order)::

    {
      "fail_level": "error",            # a mode is unsafe when a finding reaches this level in it
      "advisory": true,                 # true when no --target was declared (levels judged for fp16)
      "targets": ["ios-cpu:low"],       # declared targets, as given
      "platforms": [                    # in the requested order (default: table order)
        {
          "platform": "ios-cpu", "name": "iOS CPU (ARMv8.2+, A11 and later)", "os": "ios",
          "backend": "CPU", "forward_type": "MNN_FORWARD_CPU",
          "mode": "normal",             # the recommendation: one of normal, high, low, low_bf16
          "precision": "Precision_Normal", "precision_value": 0,
          "safe": true,                 # false: no mode keeps every finding below fail_level (mode = least bad)
          "formats": {"storage": "fp32", "arithmetic": "fp32", "accumulation": "fp32"},
          "equivalent": ["high", "low_bf16"],   # modes numerically identical to the chosen one on this platform
          "equivalent_groups": [["normal", "high", "low_bf16"], ["low"]],   # supported modes by identical numerics
          "modes_differ": true,         # false: every mode computes the same here (e.g. x86 CPU: fp32 throughout)
          "summary": "one line of text",
          "modes": [                    # every mode, fastest first
            {"mode": "low", "precision": "Precision_Low", "precision_value": 2, "speed": 2, "supported": true,
             "status": "rejected",      # chosen | safe | rejected | unsupported
             "formats": {...}, "same_as": null, "what": "...", "source": "ref:19 ...",
             "max_level": "error",
             "blocking": [VERDICT...],  # findings at or above fail_level in this mode (why it was rejected)
             "concerns": [VERDICT...],  # findings below fail_level but above none
             "basis": "measured", "run": {"target", "exceeded", "why"},   # only for a mode `verify` ran
             "inferred": "at most as exact as Precision_Normal, which was emulated over tolerance",
                                        # only for a mode rejected with a run of a mode at least as exact
             "per_op": [{"rule", "node", "scope", "op", "level", "facts": [...]}]}  # per-op platform facts that
                                        # changed a flagged op's formats in this mode (CPU fallbacks excluded)
          ],
          "cpu_fallbacks": [{"rule": "C001", "node": "...", "op": "GridSample", "modes": ["normal", ...],
                             "why": "..."}],
          "mode_independent": [VERDICT...],   # converter findings: the same whatever the mode
          "declared": {"mode": "low", "precision": "Precision_Low", "safe": false, "max_level": "error"},
                                        # only for a declared target (the first one given for this platform)
          "declared_all": [{...}, {...}],   # only when several are declared on this platform
                                        # (ios-cpu:low and ios-cpu:normal): each of them, in the order given
          "basis": "measured", "why": "...",   # only after `verify`: measured / emulated / estimated, and why
          "notes": ["..."]
        }
      ]
    }

    VERDICT = {"rule": "C001", "name": "gridsample-coordinates", "node": "warp_sample", "scope": "",
               "op": "GridSample", "class": "coordinate", "level": "error",
               "role": "storage/arithmetic",   # which format decided
               "format": "fp16",                # the format that role gets for this op in this mode
               "needs": "fp32 storage and arithmetic",
               "estimate": {"value": 0.375, "unit": "px"} or null,
               "per_op": ["..."],               # per-op platform facts that applied
               "per_op_sources": ["ref:23"],    # their citations
               "cpu_fallback": "..." or null, "approximations": ["exp-clamp"]}

Nothing here imports MNN.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..results import (
    LEVEL_RANK,
    CpuFallback,
    DeclaredMode,
    KnownBugHit,
    MeasuredRun,
    ModeAssessment,
    PerOpFact,
    PlatformChoice,
    Recommendation,
    RunOutcome,
    Verdict,
    at_least,
    max_level,
)
from .platforms import MODES, PRECISION_ENUM, PRECISION_VALUE, Mode, Platform

# mode -> the decided verdict of every finding of the file in that mode (engine/decide.Decider.recommend)
ModeVerdicts = Mapping[str, Sequence[Verdict]]


def _mode_sort_key(platform: Platform, name: str) -> Tuple[Any, ...]:
    """Fastest first; among equally fast modes the more exact one, then MNN's order (Normal, High, Low, BF16)."""
    m = platform.modes[name]
    return (-m.speed, m.reduced(), len(m.approximations), MODES.index(name))


def recommend_platform(
    by_mode: ModeVerdicts,
    platform: Platform,
    fail_level: str = "error",
    declared: Sequence[str] = (),
    runs: Optional[Mapping[str, MeasuredRun]] = None,
) -> PlatformChoice:
    """The recommendation for one platform from its decided verdicts (its JSON layout is in the module docstring);
    ``declared``: the modes declared as targets on this platform, in the order given; ``runs``: `verify` runs by
    target ("ios-cpu:low"), which decide their mode (None: a plain lint, no basis)."""
    if isinstance(declared, str):
        declared = (declared,)
    after_verify = runs is not None
    runs = runs or {}
    order = sorted((m for m in MODES if m in platform.modes), key=lambda n: _mode_sort_key(platform, n))
    groups = platform.equivalent_groups()
    group_of = {name: g for g in groups for name in g}
    per_mode: Dict[str, Dict[str, Any]] = {}  # ModeAssessment fields, status settled once the choice is made
    evaluated: Dict[str, Tuple[str, int, List[Verdict]]] = {}
    mode_independent: List[Verdict] = []
    fallbacks: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
    known: Dict[str, Dict[str, Any]] = {}  # kernel bugs that apply to this model's ops here, by id
    for name in order:
        m = platform.modes[name]
        entry: Dict[str, Any] = {
            "mode": name,
            "precision": PRECISION_ENUM[name],
            "precision_value": PRECISION_VALUE[name],
            "speed": m.speed,
            "supported": m.supported,
            "formats": m.formats_dict(),
            "same_as": m.same_as,
            "what": m.what,
            "source": m.source,
        }
        per_mode[name] = entry
        if not m.supported:
            entry.update(status="unsupported", max_level="none")
            continue
        verdicts = list(by_mode.get(name, ()))
        run = runs.get(f"{platform.id}:{name}")
        dependent = [v for v in verdicts if not v.mode_independent]
        if not evaluated:  # converter findings are the same in every mode: keep them once
            mode_independent = [v for v in verdicts if v.mode_independent and v.level != "none"]
        # One pass, not `v not in blocking`: that compared dataclasses field by field, quadratic in findings
        # (seconds for hundreds of findings on a dozen platforms).
        blocking, concerns = [], []
        for v in dependent:
            if v.level != "none":
                # a run within tolerance: what its verdicts still flag concerns the mode, it does not block it,
                # except a known bug whose effect changes from run to run (that run may just have missed it)
                blocks = at_least(v.level, fail_level) and (run is None or run.exceeded or bool(v.unstable_bugs))
                (blocking if blocks else concerns).append(v)
        worst = max_level(*(v.level for v in dependent)) if dependent else "none"
        rejected = bool(blocking) or (run is not None and run.exceeded)
        if run is not None:
            entry["basis"] = run.basis
            entry["run"] = RunOutcome(run.target, run.exceeded, run.why)
        entry.update(
            status="rejected" if rejected else "safe",
            max_level=worst,
            blocking=tuple(_sorted(blocking)),
            concerns=tuple(_sorted(concerns)),
        )
        entry["per_op"] = tuple(
            PerOpFact(
                v.finding.rule_id, v.finding.node, v.finding.scope, v.finding.op, v.level, tuple(v.formats.applied)
            )
            for v in _sorted(dependent)
            if v.formats.applied and not v.formats.cpu_fallback
        )
        evaluated[name] = (worst, len(blocking) + (run is not None and run.exceeded), dependent)
        for v in dependent:
            for b in v.known_bugs:
                kb = known.setdefault(
                    b.id,
                    {
                        "id": b.id,
                        "title": b.title,
                        "level": b.level,
                        "versions": b.versions(),
                        "symptom": b.symptom,
                        "workaround": b.workaround,
                        "unstable": b.unstable,
                        "modes": [],
                        "nodes": [],
                    },
                )
                if name not in kb["modes"]:
                    kb["modes"].append(name)
                if v.finding.node not in kb["nodes"]:
                    kb["nodes"].append(v.finding.node)
        for v in verdicts:
            if v.formats.cpu_fallback:
                f = v.finding
                key = (f.rule_id, f.scope, f.node)
                fb = fallbacks.setdefault(
                    key,
                    {
                        "rule": f.rule_id,
                        "node": f.node,
                        "scope": f.scope,
                        "op": f.op,
                        "modes": [],
                        "why": v.formats.cpu_fallback,
                    },
                )
                fb["modes"].append(name)
    for name, r in _rejected_with_a_run(platform, order, per_mode, runs):
        # a run over tolerance rejects every mode that is at most as exact, whatever their findings say
        ran_mode = r.target.rsplit(":", 1)[1]
        per_mode[name].update(
            status="rejected",
            inferred=f"at most as exact as {PRECISION_ENUM[ran_mode]}, which was {r.basis} over tolerance",
        )
        # never a better "least bad" choice than the mode whose run rejected it
        worst, count, dependent = evaluated[name]
        ran_worst, ran_count, _ = evaluated[ran_mode]
        evaluated[name] = (max_level(worst, ran_worst), max(count, ran_count) + 1, dependent)
    safe = [n for n in order if per_mode[n]["status"] == "safe"]
    if safe:
        chosen, is_safe = safe[0], True
    else:
        candidates = [n for n in order if n in evaluated]
        chosen = min(candidates, key=lambda n: (LEVEL_RANK[evaluated[n][0]], evaluated[n][1], order.index(n)))
        is_safe = False
    per_mode[chosen]["status"] = "chosen"
    modes = {n: ModeAssessment(**per_mode[n]) for n in order}
    cm = platform.modes[chosen]
    equivalent = tuple(n for n in group_of.get(chosen, [chosen]) if n != chosen)
    known_bugs = tuple(
        KnownBugHit(**dict(known[k], modes=tuple(known[k]["modes"]), nodes=tuple(sorted(known[k]["nodes"]))))
        for k in sorted(known)
    )
    declared_modes = []
    for name in dict.fromkeys(declared):  # every declared mode of the platform, once each, in the order given
        d = modes[name]
        declared_modes.append(
            DeclaredMode(
                name, PRECISION_ENUM[name], d.status == "safe" or (d.status == "chosen" and is_safe), d.max_level
            )
        )
    ran = [modes[n] for n in order if modes[n].basis]
    basis = why = None
    if after_verify:  # which basis the choice had (measured, emulated or estimated), and why
        basis = _basis(modes[chosen], ran)
        why = _why(modes, chosen, ran)
    formats = cm.formats_dict()
    return PlatformChoice(
        platform=platform.id,
        name=platform.name,
        os=platform.os,
        backend=platform.backend,
        forward_type=platform.forward_type,
        mode=chosen,
        precision=PRECISION_ENUM[chosen],
        precision_value=PRECISION_VALUE[chosen],
        safe=is_safe,
        formats=formats,
        equivalent=equivalent,
        equivalent_groups=tuple(tuple(g) for g in groups),
        modes_differ=len(groups) > 1,
        summary=_summary(chosen, formats, equivalent, len(groups) > 1, is_safe, known_bugs, platform, fail_level),
        modes=tuple(modes[n] for n in order),
        cpu_fallbacks=tuple(
            CpuFallback(**dict(fallbacks[k], modes=tuple(fallbacks[k]["modes"]))) for k in sorted(fallbacks)
        ),
        mode_independent=tuple(_sorted(mode_independent)),
        known_bugs=known_bugs,
        notes=tuple(platform.notes),
        declared=tuple(declared_modes),
        basis=basis,
        why=why,
    )


def _rejected_with_a_run(
    platform: Platform, order: Sequence[str], per_mode: Mapping[str, Mapping[str, Any]], runs: Mapping[str, MeasuredRun]
) -> List[Tuple[str, MeasuredRun]]:
    """(mode, run) for each safe-looking mode that did not run while a mode at least as exact ran over tolerance."""
    over = [
        (n, runs[f"{platform.id}:{n}"])
        for n in order
        if runs.get(f"{platform.id}:{n}") and runs[f"{platform.id}:{n}"].exceeded
    ]
    out = []
    for name in order:
        if per_mode[name].get("status") != "safe" or f"{platform.id}:{name}" in runs:
            continue
        hit = next((run for n, run in over if at_most_as_exact(platform.modes[name], platform.modes[n])), None)
        if hit is not None:
            out.append((name, hit))
    return out


# mantissa bits 8, 11 and 24: the rounding error a format adds, which is what a run over tolerance measured
_EXACTNESS = {"bf16": 0, "fp16": 1, "fp32": 2}
_ROLES = ("storage", "arithmetic", "accumulation")


def at_most_as_exact(mode: Mode, than: Mode) -> bool:
    """Whether every operator runs in ``mode`` with formats no more exact than in ``than``, whatever per-op facts
    apply to it: for each of storage, arithmetic and accumulation, every format an op can get in ``mode`` (the
    mode's own, its per-op exceptions', fp32 for ops off its low-precision list) has at most as many mantissa bits
    as every format an op can get in ``than``; and ``than`` has no approximation ``mode`` lacks.  bf16 counts as
    less exact than fp16 (8 mantissa bits against 11): a run over tolerance in fp16 rejects bf16 too, although bf16's
    wider range could pass where fp16 overflowed (running that mode tells).  The CPU fallbacks of the platform are
    the same in every mode and change nothing here."""
    if mode.signature() == than.signature():
        return True  # the same numerics (Metal's Normal and Low)
    for role in _ROLES:
        ours, theirs = _possible(mode, role), _possible(than, role)
        if any(a not in _EXACTNESS for a in ours | theirs):
            return False  # a format this comparison does not know
        if max(_EXACTNESS[a] for a in ours) > min(_EXACTNESS[b] for b in theirs):
            return False
    return set(than.approximations) <= set(mode.approximations)


def _possible(mode: Mode, role: str) -> set:
    """Every format an operator can get for ``role`` in ``mode``."""
    out = {getattr(mode, role)}
    out.update(getattr(ex, role) for ex in mode.op_exceptions if getattr(ex, role))
    if mode.lowp_types is not None and role != "storage":
        out.add("fp32")  # ops off the low-precision list run on the fp32 CPU backup
    return out


def _basis(chosen: ModeAssessment, ran: Sequence[ModeAssessment]) -> str:
    """measured or emulated when a run decided the chosen mode or rejected a faster one, else estimated."""
    if chosen.basis:
        return chosen.basis
    faster = [m for m in ran if m.speed > chosen.speed and m.status == "rejected" and m.run.exceeded]
    return faster[0].basis if faster else "estimated"


def _why(modes: Mapping[str, ModeAssessment], chosen: str, ran: Sequence[ModeAssessment]) -> str:
    parts = []
    for m in ran:
        state = "over tolerance" if m.run.exceeded else "within tolerance"
        parts.append(f"{m.precision} {m.basis} {state} on these inputs" + (f": {m.run.why}" if m.run.why else ""))
        unstable = sorted({b.id for v in m.blocking for b in v.unstable_bugs})
        if unstable and not m.run.exceeded:
            parts.append(
                f"{m.precision} rejected all the same: known MNN bug {', '.join(unstable)} changes from run to run, "
                "so a run within tolerance does not clear it"
            )
    for m in modes.values():
        if m.inferred:
            parts.append(f"{m.precision} rejected: {m.inferred}")
    if not modes[chosen].basis:
        parts.append(
            f"{PRECISION_ENUM[chosen]} estimated from the rules and the platform table (nothing ran "
            f"{'at this mode' if ran else 'on this platform'})"
        )
    return "; ".join(parts)


def _sorted(verdicts: Sequence[Verdict]) -> List[Verdict]:
    return sorted(verdicts, key=lambda v: (-LEVEL_RANK[v.level], v.finding.rule_id, v.finding.scope, v.finding.node))


def _fmt_formats(formats: Mapping[str, str]) -> str:
    s, a, c = formats["storage"], formats["arithmetic"], formats["accumulation"]
    if s == a == c:
        return f"{s} throughout"
    return f"{s} storage, {a} arithmetic, {c} accumulation"


def _summary(
    chosen: str,
    formats: Mapping[str, str],
    equivalent: Sequence[str],
    modes_differ: bool,
    safe: bool,
    known_bugs: Sequence[KnownBugHit],
    platform: Platform,
    fail_level: str,
) -> str:
    parts = [f"{PRECISION_ENUM[chosen]} ({_fmt_formats(formats)})"]
    if not modes_differ:
        parts.append(
            f"every precision mode computes the same on {platform.name} ({_fmt_formats(formats)}): "
            "the setting makes no difference"
        )
    elif equivalent:
        names = [PRECISION_ENUM[n] for n in [chosen, *equivalent]]
        parts.append(f"{' and '.join(names)} are the same here")
    if not safe:
        parts.append("no mode keeps every finding below the fail level: this is the least bad")
    for b in known_bugs:
        rejected = [PRECISION_ENUM[m] for m in b.modes if m != chosen]
        if rejected and at_least(b.level, fail_level):
            parts.append(f"not {' or '.join(rejected)}: known MNN bug {b.id} ({b.title}; MNN {b.versions})")
    return "; ".join(parts)


def recommend(
    verdicts: Mapping[str, ModeVerdicts],
    platforms: Sequence[Platform],
    fail_level: str = "error",
    targets: Sequence[Any] = (),
    mnn_version: Optional[str] = None,
    runs: Optional[Mapping[str, MeasuredRun]] = None,
) -> Recommendation:
    """The recommendation for one file on each platform (its JSON layout, ``to_dict()``, in the module docstring).

    ``verdicts``: platform id -> mode -> the decided verdicts of every finding of the file, suppressed ones included
    (suppressing a report line does not change the model's numerics); a platform missing there has no findings.
    ``targets`` are ``targets.Target`` values (or "platform:mode" strings already validated); a platform that is a
    declared target also gets a ``declared`` verdict per declared mode.  ``runs``: what `verify` ran, by target.
    """
    declared: Dict[str, List[str]] = {}
    for t in targets:
        pid, mode = (t.platform, t.mode) if hasattr(t, "platform") else str(t).split(":", 1)
        declared.setdefault(pid, []).append(mode)
    return Recommendation(
        fail_level=fail_level,
        advisory=not targets,
        targets=tuple(str(t) for t in targets),
        platforms=tuple(
            recommend_platform(verdicts.get(p.id, {}), p, fail_level, declared.get(p.id, ()), runs) for p in platforms
        ),
        mnn_version=mnn_version,
    )
