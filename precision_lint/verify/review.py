"""A verify run as a LintResult, so that the lint reporters (SARIF, Markdown, HTML) render it: the static findings
with their ``measured`` blocks, the V001 findings, and ``extras["verify"]``, the error per node and per output of the
first target that ran (a measured one if any; an emulated one is labelled so), for the HTML error chart."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ..api import LintResult
from ..results import Finding
from .run import EMULATED, MEASURED, VerifyResult


def as_lint_result(result: VerifyResult) -> LintResult:
    base = result.lint
    res = LintResult(path=result.path)
    if base is not None:
        res.notes = list(base.notes)
        res.metadata = dict(base.metadata)
        res.extras = dict(base.extras)
        res.recommendation, res.snippets = base.recommendation, base.snippets
        res.fail_level = base.fail_level
        res.suppressed, res.baselined = list(base.suppressed), list(base.baselined)  # counted, as `check` does
    else:  # `verify --no-lint`: the rules did not run, and the reports must not read as if they found nothing
        res.metadata = {"format": "mnn" if result.path.lower().endswith(".mnn") else "onnx", "linted": False}
        res.recommendation = result.runs_recommendation  # what the runs decide, per declared platform
    res.findings = sorted(list(result.findings) + list(result.new_findings), key=Finding.sort_key)
    chart = chart_data(result)
    if chart is not None:
        res.extras["verify"] = chart
    return res


def chart_data(result: VerifyResult) -> Optional[Dict[str, Any]]:
    """``{"target", "on", "basis", "nodes": [{node, op, depth, rel_error, tolerance}], "outputs": [...]}`` of the
    first measured target (else the first emulated one), and ``"runs"``: per declared target what ran and what it
    showed (status, over tolerance or not, the message with QEMU's version and MNN's device line, and ``unsettled``:
    the known bugs changing from run to run that a run within tolerance did not clear); ``"inputs"``: what
    each input held (from --inputs, seeded noise, or the photograph)."""
    inputs = dict(sorted(result.inputs.items()))
    runs = [
        {"target": t.target, "status": t.status, "exceeded": t.exceeded, "on": t.on, "message": t.message}
        | ({"unsettled": list(result.unsettled[t.target])} if t.target in result.unsettled else {})
        for t in result.targets
    ]
    ran = [t for t in result.targets if t.status == MEASURED] or [t for t in result.targets if t.status == EMULATED]
    if not ran:
        return {"runs": runs, "nodes": [], "outputs": [], "inputs": inputs} if runs else None
    tr = ran[0]
    nodes = [
        {
            "node": e.node or e.name,
            "op": e.op,
            "depth": result.depths[e.name],
            "rel_error": e.rel_l2,
            "tolerance": result.tolerance,
        }
        for e in tr.nodes + tr.outputs
        if e.name in result.depths
    ]  # outputs too: a one-operator model
    nodes.sort(key=lambda p: (p["depth"], p["node"]))
    outputs = [{"name": e.name, "rel_error": e.rel_l2, "tolerance": result.tolerance} for e in tr.outputs]
    return {
        "target": tr.target,
        "on": tr.on,
        "basis": tr.status,
        "nodes": nodes,
        "outputs": outputs,
        "runs": runs,
        "inputs": inputs,
    }
