"""Renders a verify result (verify.VerifyResult) as text or JSON.  Only renders: every number comes from verify."""

from __future__ import annotations

import json
from typing import List

from ..deploy.platforms import PRECISION_ENUM
from ..results import nonfinite_text
from ..verify.run import EMULATED, FP16_INACTIVE, MEASURED


def to_json(result, timings: bool = False) -> str:
    return json.dumps(result.to_dict(timings), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _safe(text) -> str:
    """Model-controlled names on a terminal: no control characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _metrics(e) -> str:
    parts = [f"rel-L2 {e.rel_l2:.3g}", f"max abs {e.max_abs:.3g}", f"max rel {e.max_rel:.3g}"]
    if e.nan or e.inf:
        parts.append(f"{e.nan} NaN, {e.inf} inf")
    if e.top1 is not None:
        parts.append(f"top-1 agreement {e.top1:.0%}")
    return ", ".join(parts)


def to_text(result, timings: bool = True) -> str:
    reference = "MNN Precision_High on the same build"
    if any(t.status == EMULATED for t in result.targets):
        reference += "; emulated targets against the same emulation engine in fp32"
    out: List[str] = [f"{_safe(result.path)}: verify (tolerance rel-L2 {result.tolerance:g} against {reference})"]
    out.append("  inputs:")
    for name, how in sorted(result.inputs.items()):
        out.append(f"    {_safe(name)}: {_safe(how)}")
    for t in result.targets:
        verdict = (
            {True: "OVER TOLERANCE", False: "within tolerance"}[t.exceeded]
            if t.status in (MEASURED, EMULATED)
            else ("REFUSED" if t.status == FP16_INACTIVE else "no run")
        )
        if t.status == EMULATED:
            verdict = f"emulated, {verdict}"
        out.append(f"  {t.target}: {verdict}: {_safe(t.message)}")
        if t.target in result.unsettled:
            out.append(
                f"    not cleared: known MNN bug {', '.join(result.unsettled[t.target])} changes from run to run "
                "(heap layout); this run may have missed it"
            )
        if t.status not in (MEASURED, EMULATED):
            continue
        for e in t.outputs:
            out.append(f"    output {_safe(e.name)}: {_metrics(e)}{'  <- over' if e.over else ''}")
        if t.origins:
            first = t.origins[0]
            out.append(
                f"    error starts at {_safe(first.op)} '{_safe(first.node)}' (tensor {_safe(first.name)}): "
                f"{_metrics(first)}"
            )
            for e in t.origins[1:]:
                out.append(f"    also starts at {_safe(e.op)} '{_safe(e.node)}': {_metrics(e)}")
        worst = sorted((e for e in t.nodes if e.rel_l2 == e.rel_l2), key=lambda e: -e.rel_l2)[:3]
        if worst:
            out.append(
                "    largest intermediate errors: "
                + "; ".join(f"{_safe(e.node)} ({_safe(e.op)}) {e.rel_l2:.3g}" for e in worst)
            )
    cr = result.cross_runtime
    if cr:
        out.append(f"  converter check: {_safe(cr['message'])}")
        for e in cr.get("outputs", []):
            out.append(f"    output {_safe(e['tensor'])}: rel-L2 {e['rel_l2']}, max abs {e['max_abs']}")
    if result.findings:
        out.append("  static findings:")
        for f in result.findings:
            verdicts = (
                "; ".join(
                    f"{t}: {m['verdict']}"
                    + (" (emulated)" if m.get("basis") == "emulated" else "")
                    + (f" (rel-L2 {m['rel_l2']}{nonfinite_text(m)})" if "rel_l2" in m else "")
                    for t, m in sorted(f.measured.items())
                )
                or "no measured target"
            )
            out.append(f"    {f.rule_id} {f.level} {_safe(f.node)} ({_safe(f.op)}): {verdicts}")
    lint = result.lint
    suppressed, baselined = (len(lint.suppressed), len(lint.baselined)) if lint is not None else (0, 0)
    hidden = [f"{suppressed} suppressed"] * bool(suppressed) + [f"{baselined} in the baseline"] * bool(baselined)
    if hidden:  # as check's summary counts them: not reported, but the recommendation still judges them
        out.append(f"  static findings not reported: {', '.join(hidden)} (the recommendation still judges them)")
    for f in result.new_findings:
        out.append(f"  {f.rule_id} {f.level} {_safe(f.node)} ({_safe(f.op)}): {_safe(f.message)}")
    for platform, rec in sorted(result.recommendation.items()):
        out.append(
            f"  recommendation ({rec['basis']}): {platform}: {PRECISION_ENUM.get(rec['mode'], rec['mode'])}: "
            f"{_safe(rec['why'])}"
        )
    if timings and result.timings:
        out.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    code = result.exit_code
    if code == 0 and not any(t.status == MEASURED for t in result.targets):
        why = (
            f"MNN cannot run this model: {result.mnn_failure}"
            if result.mnn_failure
            else ("no target's kernels run on this machine")
        )
        out.append(f"verdict: nothing measured here ({_safe(why)})")
        return "\n".join(out) + "\n"
    over = any(t.exceeded for t in result.targets) or (result.cross_runtime or {}).get("exceeded")
    if code == 1 and result.unsettled and not over:
        out.append(
            "verdict: within tolerance on this run, not cleared: a known MNN bug that changes from run to run applies "
            f"({', '.join(sorted(result.unsettled))})"
        )
        return "\n".join(out) + "\n"
    if (
        code == 1
        and not any(t.exceeded and t.status == MEASURED for t in result.targets)
        and not (result.cross_runtime or {}).get("exceeded")
    ):
        out.append("verdict: emulated error over tolerance (from the platform table, not measured)")
        return "\n".join(out) + "\n"
    out.append(
        {
            0: "verdict: within tolerance on every measured or emulated target",
            1: "verdict: measured error over tolerance",
            2: "verdict: fp16 not active, nothing measured",
        }[code]
    )
    return "\n".join(out) + "\n"
