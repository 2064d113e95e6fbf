"""Cross-checks for every sample model converted by MNN's converter.

1. The FlatBuffer reader against MNN's own runtime view (``MNN.expr.load_as_dict``): same op types, same
   producer/consumer structure, same constant values (bit for bit, fp16 blobs expanded the way MNN expands them).
2. The findings on the .onnx against the findings on the .mnn, for whatever rules exist: a finding present on
   one side only, or with another level, must be explained by an "MNN conversion:" note on the ONNX finding
   (data/mnn_conversion.yaml) or listed under "Known differences" in docs/mnn.md.  A finding that moves to the
   op the converter fused a pattern into (InstanceNormalization -> LayerNorm) pairs with the noted ONNX finding
   of the same rule and levels; a finding on an op the converter creates from a pattern of the ONNX model
   (``produces`` in data/mnn_conversion.yaml: a fused LayerNorm, Gelu, Swish) needs no ONNX counterpart.
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import List, Set, Tuple

import numpy as np
import pytest

from mnn_models import NAMES, REPO, converted, load_mnn_runtime
from precision_lint.api import Linter, Options
from precision_lint.engine.rules import load_rules
from precision_lint.model.loaders import load_model
from precision_lint.deploy.mnn_conversion import NOTE_PREFIX, conversions, rewrites_in


# ----- 1. the reader against MNN's runtime --------------------------------------------------------------------------
def _runtime_type(source_op: str) -> str:
    """MNN's runtime names BinaryOp and UnaryOp vars by subtype (ADD, GELU), every other op by its type."""
    kind, _, sub = source_op.partition("/")
    return sub if kind in ("BinaryOp", "UnaryOp") else kind


def _through_layout(d, name: str):
    v = d[name]
    for _ in range(16):
        if v.op_type != "ConvertTensor" or not v.inputs:
            break
        v = v.inputs[0]
    return v


def _check_against_runtime(mnn_path: str) -> None:
    g = load_model(mnn_path)
    d = load_mnn_runtime(mnn_path)
    assert d, "MNN loaded nothing"
    # structure: every operator of the main graph is the var MNN builds for its outputs, with the same inputs
    for op in g.operators():
        if op.scope:
            continue
        for out in op.outputs:
            v = _through_layout(d, out)
            assert v.op_type == _runtime_type(op.source_op), (op.name, v.op_type, op.source_op)
            ours = [_through_layout(d, i).name for i in op.inputs if i in d]
            theirs = [_through_layout(d, i.name).name for i in v.inputs]
            assert ours == theirs, (op.name, ours, theirs)
    # inputs
    assert sorted(g.inputs) == sorted(n for n, v in d.items() if v.op_type == "Input")
    # constants, bit for bit
    n_const = 0
    for name, v in d.items():
        if v.op_type != "Const":
            continue
        t = g.tensors[_through_layout(d, name).name]
        assert t.is_const, name
        theirs = np.asarray(v.read())
        assert t.value is not None, name
        assert t.value.shape == theirs.shape, (name, t.value.shape, theirs.shape)
        assert np.array_equal(t.value.astype(theirs.dtype), theirs, equal_nan=True), name
        n_const += 1
    assert n_const == sum(1 for t in g.tensors.values() if t.const_origin and t.const_origin.startswith("Const op"))


@pytest.mark.parametrize("name", NAMES)
def test_reader_matches_mnn_runtime(models, name):
    _check_against_runtime(models[name][1])


@pytest.mark.parametrize("name", ["bert_tiny", "llama_block", "clean"])
def test_reader_matches_mnn_runtime_fp16(models_fp16, name):
    _check_against_runtime(models_fp16[name][1])


# ----- 2. findings on .onnx and .mnn --------------------------------------------------------------------------------
def _known_differences() -> Set[Tuple[str, str]]:
    """(model, rule id) pairs from the "Known differences" table of docs/mnn.md."""
    text = pathlib.Path(os.path.join(REPO, "docs", "mnn.md")).read_text(encoding="utf-8")
    section = text.split("## Known differences", 1)[1].split("\n## ", 1)[0]
    pairs = set()
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[A-Z]{1,3}[0-9]{3}", cells[1]):
            pairs.add((cells[0], cells[1]))
    return pairs


def _outputs(graph, finding) -> Set[str]:
    for op in graph.operators():
        if op.name == finding.node and op.scope == finding.scope:
            return set(op.outputs) | {op.name}
    return {finding.node}


def _levels(f) -> Tuple[str, ...]:
    return tuple(sorted((fmt, e.level) for fmt, e in f.estimates.items()))


@pytest.mark.parametrize("variant", ["default", "fp16"])
@pytest.mark.parametrize("name", NAMES)
def test_onnx_and_mnn_findings_are_equivalent(tmp_path_factory, name, variant):
    onnx_path, mnn_path = converted(tmp_path_factory, variant)[name]
    linter = Linter(Options())
    rules = {r.id: r for r in load_rules()}
    on_onnx, on_mnn = linter.lint_file(onnx_path), linter.lint_file(mnn_path)
    assert on_onnx.error is None and on_mnn.error is None
    g_onnx, g_mnn = load_model(onnx_path), load_model(mnn_path)
    known = _known_differences()
    problems: List[str] = []
    unmatched_mnn = list(on_mnn.findings)
    moved_from: List = []  # ONNX findings on patterns the converter rewrites (they carry an MNN conversion note)
    by_id = {c.id: c for c in conversions()}
    created = {op for cid in rewrites_in(g_onnx) for op in by_id[cid].produces}
    for f in on_onnx.findings:
        if "mnn" not in rules[f.rule_id].applies_to:
            continue
        outs = _outputs(g_onnx, f)
        match = next((m for m in unmatched_mnn if m.rule_id == f.rule_id and (_outputs(g_mnn, m) & outs)), None)
        explained = any(n.startswith(NOTE_PREFIX) for n in f.notes) or (name, f.rule_id) in known
        if match is None:
            if not explained:
                problems.append(f"{f.rule_id} on {f.node!r} only in the .onnx: {f.message}")
            elif any(n.startswith(NOTE_PREFIX) for n in f.notes):
                moved_from.append(f)
            continue
        unmatched_mnn.remove(match)
        if _levels(match) != _levels(f) and not explained:
            problems.append(f"{f.rule_id} on {f.node!r}: levels {_levels(f)} in .onnx, {_levels(match)} in .mnn")
        for fmt, est in f.estimates.items():
            if variant == "fp16":
                break  # --fp16 rounds the constants estimates are computed from: compare levels only
            other = match.estimates.get(fmt)
            if est.value is not None and other is not None and other.value is not None and not explained:
                if not np.isclose(est.value, other.value, rtol=1e-6, equal_nan=True):
                    problems.append(f"{f.rule_id} on {f.node!r}: {fmt} estimate {est.value} vs {other.value}")
    for m in unmatched_mnn:
        if "onnx" not in rules[m.rule_id].applies_to or (name, m.rule_id) in known:
            continue
        # A finding that moved to the op the converter fused the pattern into: the ONNX side carries the note.
        moved = next((f for f in moved_from if f.rule_id == m.rule_id and _levels(f) == _levels(m)), None)
        if moved is not None:
            moved_from.remove(moved)
            continue
        if m.op in created:  # an op the converter made from a pattern of this ONNX model (fused LayerNorm...)
            continue
        problems.append(f"{m.rule_id} on {m.node!r} only in the .mnn: {m.message}")
    assert not problems, (
        f"{name}: findings differ between .onnx and .mnn; explain each in "
        f"precision_lint/data/mnn_conversion.yaml or docs/mnn.md 'Known differences':\n  " + "\n  ".join(problems)
    )


def test_known_differences_table_is_read():
    assert ("llama_block", "R001") in _known_differences()
