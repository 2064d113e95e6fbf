"""The recommender: for each platform, the fastest MNN precision mode that keeps every finding below the fail level.

How a finding is judged under one platform and mode (:func:`judge`):

* the platform table gives the formats the finding's operator really gets (``Platform.formats_for``: the mode's
  storage / arithmetic / accumulation formats, then the per-op facts: ops outside the ARMv8.2 low-precision list run
  on an fp32 CPU backup, Softmax/LayerNorm rows in fp32, OpenCL reductions accumulating in fp16, CPU fallbacks...);
* the failure class says which of those formats matters (:data:`ROLES`): **range** -> storage (only fp32 storage
  fixes it), **accumulation** -> accumulation (fp32 accumulation fixes it), **coordinate** and **tie-sensitivity**
  -> storage and arithmetic, **type-support** -> storage, **approximation** -> the mode's approximations for that
  op (else arithmetic), **converter** -> none (the converter changed the numbers before any runtime: no mode helps);
* the level is the rule's own level for that format (``finding.estimates[fmt].level``); fp32 never fails;
* the platform's conversion semantics pick the rule's variant where it has one: ``<fmt>-sat`` for range findings where
  fp32 -> fp16 saturates (ARMv8.2 CPU at Low: a -1e9 mask becomes -65504, not -inf), ``<fmt>-storage`` where only
  storage is reduced (an op on an fp32 CPU backup whose result is stored in fp16, e.g. a Reduction at ARMv8.2 Low);
* known kernel bugs (``known_issues.yaml`` ``kernel_bugs``) of the declared MNN version raise the level of the
  findings they concern on the kernels they affect (ARMv8.2 GridSample with align_corners=0: error at any size).

The recommendation for one file is a plain JSON-ready dict (sorted keys when dumped, lists in a fixed order), kept in
``LintResult.extras["recommendation"]``::

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
             "formats": {...}, "same_as": null, "what": "...", "source": "ref:16 ...",
             "max_level": "error",
             "blocking": [VERDICT...],  # findings at or above fail_level in this mode (why it was rejected)
             "concerns": [VERDICT...],  # findings below fail_level but above none
             "per_op": [{"rule", "node", "scope", "op", "level", "facts": [...]}]}  # per-op platform facts that
                                        # changed a flagged op's formats in this mode (CPU fallbacks excluded)
          ],
          "cpu_fallbacks": [{"rule": "C001", "node": "...", "op": "GridSample", "modes": ["normal", ...],
                             "why": "..."}],
          "mode_independent": [VERDICT...],   # converter findings: the same whatever the mode
          "declared": {"mode": "low", "safe": false, "max_level": "error"},   # only for a declared target
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
               "per_op_sources": ["ref:20"],    # their citations
               "cpu_fallback": "..." or null, "approximations": ["exp-clamp"]}

Nothing here imports MNN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..findings import LEVEL_RANK, Finding, at_least, max_level
from .known_issues import KernelBug
from .platforms import MODES, PRECISION_ENUM, PRECISION_VALUE, OpFormats, Platform

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
NEEDS: Dict[str, str] = {
    "range": "fp32 storage",
    "type-support": "fp32 storage",
    "accumulation": "fp32 accumulation",
    "coordinate": "fp32 storage and arithmetic",
    "tie-sensitivity": "fp32 storage and arithmetic",
    "approximation": "a mode without the approximation",
    "converter": "a different conversion (no runtime mode changes it)",
}

LevelOverride = Callable[[Finding, str], str]


@dataclass(frozen=True)
class Verdict:
    """One finding judged under one platform and mode."""

    finding: Finding
    level: str
    role: str  # "storage", "accumulation", "storage/arithmetic", "approximation", "converter"
    fmt: Optional[str]  # the deciding format (None for converter findings)
    formats: OpFormats
    approximations: Tuple[str, ...] = ()
    estimate_key: Optional[str] = None  # which entry of finding.estimates decided (default: ``fmt``)
    known_bugs: Tuple[KernelBug, ...] = ()  # kernel bugs that apply to this op here (they may have raised the level)

    @property
    def mode_independent(self) -> bool:
        return self.finding.failure_class == "converter"

    def to_dict(self) -> Dict[str, Any]:
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
        return {
            "rule": f.rule_id, "name": f.rule_name, "node": f.node, "scope": f.scope, "op": f.op,
            "class": f.failure_class, "level": self.level, "role": self.role, "format": self.fmt,
            "needs": NEEDS.get(f.failure_class, ""), "estimate": estimate, "per_op": list(self.formats.applied),
            "per_op_sources": list(self.formats.sources),
            "cpu_fallback": self.formats.cpu_fallback, "approximations": list(self.approximations),
            "conversion": self.formats.conversion if self.fmt == "fp16" else None,
            "known_bugs": [b.to_dict() for b in self.known_bugs],
        }

    def text(self) -> str:
        """``C001 node 'warp_sample' (GridSample, coordinate): storage/arithmetic fp16 -> error, 0.375 px``"""
        d = self.to_dict()
        where = f"node '{d['node']}'" + (f" in {d['scope']}" if d["scope"] else "")
        if self.fmt is not None:
            how = f"{self.role} {self.fmt}"
        else:
            how = self.role
        est = d["estimate"]
        est_text = f", estimate {_num(est['value'])}{(' ' + est['unit']) if est['unit'] else ''}" if est else ""
        if est and est.get("with_known_bugs") is not None:
            unit = f" {est['unit']}" if est.get("unit") else ""
            est_text += f" (up to {_num(est['with_known_bugs'])}{unit} with the known bug)"
        bugs = "".join(f"; known MNN bug {b.id}" for b in self.known_bugs)
        return f"{d['rule']} {where} ({d['op']}, {d['class']}): {how} -> {self.level}{est_text}{bugs}"


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _rank_of(level: str) -> int:
    return LEVEL_RANK[level]


def judge(finding: Finding, platform: Platform, mode: str, override: Optional[LevelOverride] = None,
          formats: Optional[OpFormats] = None, bugs: Sequence[KernelBug] = ()) -> Verdict:
    """The level ``finding`` has when the model runs on ``platform`` at precision ``mode`` (``formats``: the
    operator's formats there, when the caller already has them; ``bugs``: the kernel bugs of the deployed MNN
    version)."""
    if formats is None:
        formats = platform.formats_for(mode, finding)
    v = _judge_formats(finding, formats)
    hits = _bugs_here(finding, platform, formats, bugs)
    if hits:
        level = max_level(v.level, *(b.level for b in hits))
        v = Verdict(v.finding, level, v.role, v.fmt, v.formats, v.approximations, v.estimate_key, hits)
    if override is not None and v.level != "none":
        v = Verdict(v.finding, override(finding, v.level), v.role, v.fmt, v.formats, v.approximations,
                    v.estimate_key, v.known_bugs)
    return v


def _bugs_here(finding: Finding, platform: Platform, formats: OpFormats,
               bugs: Sequence[KernelBug]) -> Tuple[KernelBug, ...]:
    if not bugs:
        return ()
    ref = platform.op_ref(finding)
    return tuple(b for b in bugs if b.runs_on(formats.kernels, platform.backend)
                 and b.concerns(finding.rule_id, ref.names, ref.rank, finding.evidence))


def _judge_formats(finding: Finding, formats: OpFormats) -> Verdict:
    """The verdict from the rule's estimates and the op's formats alone (no bugs, no overrides)."""
    cls = finding.failure_class
    if cls == "converter":
        level = max_level(*(e.level for e in finding.estimates.values())) if finding.estimates else finding.level
        v = Verdict(finding, level, "converter", None, formats)
    elif cls == "approximation" and formats.approximations:
        level = max_level(*(e.level for e in finding.estimates.values())) if finding.estimates else finding.level
        v = Verdict(finding, level, "approximation", formats.arithmetic, formats,
                    tuple(a.id for a in formats.approximations))
    elif _storage_only(finding, formats) is not None:
        # fp16 storage with fp32 arithmetic (GPU Normal modes, ops on an fp32 CPU backup): the rule's storage-only
        # estimate applies.
        est = _storage_only(finding, formats)
        v = Verdict(finding, est.level, "storage", formats.storage, formats,
                    tuple(a.id for a in formats.approximations), estimate_key=est.fmt)
    elif _saturating(finding, formats) is not None:
        # fp32 -> fp16 saturates at +-65504 here (ARMv8.2 CPU): the rule's saturating variant applies.
        est = _saturating(finding, formats)
        v = Verdict(finding, est.level, "storage", formats.storage, formats,
                    tuple(a.id for a in formats.approximations), estimate_key=est.fmt)
    else:
        roles = ROLES.get(cls, ("storage", "arithmetic", "accumulation"))
        level, fmt = "none", formats.get(roles[0])
        for role in roles:
            f = formats.get(role)
            lvl = "none" if f == "fp32" else finding.level_for(f)
            if _rank_of(lvl) > _rank_of(level) or (f != "fp32" and fmt == "fp32"):
                fmt = f
            level = max_level(level, lvl)
        v = Verdict(finding, level, "/".join(roles), fmt, formats, tuple(a.id for a in formats.approximations))
    return v


def _storage_only(finding: Finding, formats: OpFormats):
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


def _saturating(finding: Finding, formats: OpFormats):
    """The '<fmt>-sat' estimate of a range finding where the op's fp32 -> fp16 conversion saturates."""
    if finding.failure_class != "range" or not formats.saturates or formats.storage != "fp16":
        return None
    return finding.estimates.get("fp16-sat")


def _mode_sort_key(platform: Platform, name: str) -> Tuple[Any, ...]:
    """Fastest first; among equally fast modes the more exact one, then MNN's order (Normal, High, Low, BF16)."""
    m = platform.modes[name]
    return (-m.speed, m.reduced(), len(m.approximations), MODES.index(name))


def recommend_platform(findings: Sequence[Finding], platform: Platform, fail_level: str = "error",
                       override: Optional[LevelOverride] = None, declared: Optional[str] = None,
                       bugs: Sequence[KernelBug] = ()) -> Dict[str, Any]:
    """The recommendation for one platform (the dict layout is in the module docstring)."""
    order = sorted((m for m in MODES if m in platform.modes), key=lambda n: _mode_sort_key(platform, n))
    groups = platform.equivalent_groups()
    group_of = {name: g for g in groups for name in g}
    per_mode: Dict[str, Dict[str, Any]] = {}
    evaluated: Dict[str, Tuple[str, int, List[Verdict]]] = {}
    mode_independent: List[Verdict] = []
    fallbacks: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
    known: Dict[str, Dict[str, Any]] = {}  # kernel bugs that apply to this model's ops here, by id
    refs = [platform.op_ref(f) for f in findings]
    for name in order:
        m = platform.modes[name]
        entry: Dict[str, Any] = {
            "mode": name, "precision": PRECISION_ENUM[name], "precision_value": PRECISION_VALUE[name],
            "speed": m.speed, "supported": m.supported, "formats": m.formats_dict(), "same_as": m.same_as,
            "what": m.what, "source": m.source,
        }
        per_mode[name] = entry
        if not m.supported:
            entry.update(status="unsupported", max_level="none", blocking=[], concerns=[], per_op=[])
            continue
        # formats depend only on the operator's description: computed once per distinct operator and mode
        cache: Dict[Any, OpFormats] = {}
        verdicts = []
        for f, ref in zip(findings, refs):
            formats = cache.get(ref)
            if formats is None:
                formats = cache[ref] = platform.formats_for_op(name, ref)
            verdicts.append(judge(f, platform, name, override, formats, bugs))
        dependent = [v for v in verdicts if not v.mode_independent]
        if not evaluated:  # converter findings are the same in every mode: keep them once
            mode_independent = [v for v in verdicts if v.mode_independent and v.level != "none"]
        # One pass, not `v not in blocking`: that compared dataclasses field by field, quadratic in findings
        # (seconds for hundreds of findings on a dozen platforms).
        blocking, concerns = [], []
        for v in dependent:
            if v.level != "none":
                (blocking if at_least(v.level, fail_level) else concerns).append(v)
        worst = max_level(*(v.level for v in dependent)) if dependent else "none"
        entry.update(status="safe" if not blocking else "rejected", max_level=worst,
                     blocking=[v.to_dict() for v in _sorted(blocking)],
                     concerns=[v.to_dict() for v in _sorted(concerns)])
        entry["per_op"] = [{"rule": v.finding.rule_id, "node": v.finding.node, "scope": v.finding.scope,
                            "op": v.finding.op, "level": v.level, "facts": list(v.formats.applied)}
                           for v in _sorted(dependent) if v.formats.applied and not v.formats.cpu_fallback]
        evaluated[name] = (worst, len(blocking), dependent)
        for v in dependent:
            for b in v.known_bugs:
                kb = known.setdefault(b.id, {"id": b.id, "title": b.title, "level": b.level, "versions": b.versions(),
                                             "symptom": b.symptom, "workaround": b.workaround,
                                             "unstable": b.unstable, "modes": [], "nodes": []})
                if name not in kb["modes"]:
                    kb["modes"].append(name)
                if v.finding.node not in kb["nodes"]:
                    kb["nodes"].append(v.finding.node)
        for v in verdicts:
            if v.formats.cpu_fallback:
                f = v.finding
                key = (f.rule_id, f.scope, f.node)
                fb = fallbacks.setdefault(key, {"rule": f.rule_id, "node": f.node, "scope": f.scope, "op": f.op,
                                                "modes": [], "why": v.formats.cpu_fallback})
                fb["modes"].append(name)
    safe = [n for n in order if per_mode[n]["status"] == "safe"]
    if safe:
        chosen, is_safe = safe[0], True
    else:
        candidates = [n for n in order if n in evaluated]
        chosen = min(candidates, key=lambda n: (_rank_of(evaluated[n][0]), evaluated[n][1], order.index(n)))
        is_safe = False
    per_mode[chosen]["status"] = "chosen"
    cm = platform.modes[chosen]
    equivalent = [n for n in group_of.get(chosen, [chosen]) if n != chosen]
    modes_differ = len(groups) > 1
    rec: Dict[str, Any] = {
        "platform": platform.id, "name": platform.name, "os": platform.os, "backend": platform.backend,
        "forward_type": platform.forward_type, "mode": chosen, "precision": PRECISION_ENUM[chosen],
        "precision_value": PRECISION_VALUE[chosen], "safe": is_safe, "formats": cm.formats_dict(),
        "equivalent": equivalent, "modes_differ": modes_differ, "equivalent_groups": groups,
        "modes": [per_mode[n] for n in order],
        "cpu_fallbacks": [fallbacks[k] for k in sorted(fallbacks)],
        "mode_independent": [v.to_dict() for v in _sorted(mode_independent)],
        "known_bugs": [dict(known[k], nodes=sorted(known[k]["nodes"])) for k in sorted(known)],
        "notes": list(platform.notes),
    }
    if declared is not None:
        d = per_mode[declared]
        rec["declared"] = {"mode": declared, "precision": PRECISION_ENUM[declared],
                           "safe": d["status"] == "safe" or (d["status"] == "chosen" and is_safe),
                           "max_level": d.get("max_level", "none")}
    rec["summary"] = _summary(rec, platform, groups, fail_level)
    return rec


def _sorted(verdicts: Sequence[Verdict]) -> List[Verdict]:
    return sorted(verdicts, key=lambda v: (-_rank_of(v.level), v.finding.rule_id, v.finding.scope, v.finding.node))


def _fmt_formats(formats: Mapping[str, str]) -> str:
    s, a, c = formats["storage"], formats["arithmetic"], formats["accumulation"]
    if s == a == c:
        return f"{s} throughout"
    return f"{s} storage, {a} arithmetic, {c} accumulation"


def _summary(rec: Mapping[str, Any], platform: Platform, groups: List[List[str]], fail_level: str) -> str:
    chosen = rec["mode"]
    parts = [f"{rec['precision']} ({_fmt_formats(rec['formats'])})"]
    if not rec["modes_differ"]:
        parts.append(f"every precision mode computes the same on {platform.name} ({_fmt_formats(rec['formats'])}): "
                     "the setting makes no difference")
    elif rec["equivalent"]:
        names = [PRECISION_ENUM[n] for n in [chosen] + rec["equivalent"]]
        parts.append(f"{' and '.join(names)} are the same here")
    if not rec["safe"]:
        parts.append("no mode keeps every finding below the fail level: this is the least bad")
    for b in rec.get("known_bugs", ()):
        rejected = [PRECISION_ENUM[m] for m in b["modes"] if m != chosen]
        if rejected and at_least(b["level"], fail_level):
            parts.append(f"not {' or '.join(rejected)}: known MNN bug {b['id']} ({b['title']}; MNN {b['versions']})")
    return "; ".join(parts)


def recommend(findings: Sequence[Finding], platforms: Sequence[Platform], fail_level: str = "error",
              targets: Sequence[Any] = (), override: Optional[LevelOverride] = None,
              bugs: Sequence[KernelBug] = (), mnn_version: Optional[str] = None) -> Dict[str, Any]:
    """The recommendation for one file's findings on each platform (layout in the module docstring).

    ``findings`` should be every finding of the file, suppressed ones included: suppressing a report line does not
    change the model's numerics.  ``targets`` are ``targets.Target`` values (or "platform:mode" strings already
    validated); a platform that is a declared target also gets a ``declared`` verdict.
    """
    declared: Dict[str, str] = {}
    for t in targets:
        pid, mode = (t.platform, t.mode) if hasattr(t, "platform") else str(t).split(":", 1)
        declared.setdefault(pid, mode)
    out = {
        "fail_level": fail_level,
        "advisory": not targets,
        "targets": [str(t) for t in targets],
        "platforms": [recommend_platform(findings, p, fail_level, override, declared.get(p.id), bugs)
                      for p in platforms],
    }
    if mnn_version is not None:
        out["mnn_version"] = mnn_version
    return out

