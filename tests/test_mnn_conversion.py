"""MNN conversion notes on ONNX findings (precision_lint/data/mnn_conversion.yaml).

A catch-all test rule puts a finding on every operator; the notes must land exactly on the patterns MNN's
converter rewrites, never on .mnn findings, and never on findings of converter rules.
"""

from __future__ import annotations

import onnx
import pytest
from onnx import parser

from mnn_models import convert
from precision_lint.api import Linter, Options
from precision_lint.deploy.mnn_conversion import NOTE_PREFIX, conversions, rewrites_in

EVERY_OP_RULE = """
id: X999
name: every-op
class: range
summary: Test rule with a finding on every operator.
description: test
fix: none
match:
  op: "*"
level:
  info: "true"
message: "{op}"
tests:
  - model: "unused"
    expect: []
"""

MODEL = """
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,16,64] x, float[1,1,8,8] img) => (float[1,16,64] y, float[1,16,64] ln, float[1,16,32] mm,
                                              float[1,1,16,16] up, float[16] table, float[1,16,64] masked,
                                              float[1,16,64] tiny, float[1,16,64] plain, float[1,16,64] silu,
                                              float[1,1,8,8] bnout) {
  s2 = Constant <value = float {1.4142135}> ()
  one = Constant <value = float {1.0}> ()
  half = Constant <value = float {0.5}> ()
  [gelu_div] xd = Div (x, s2)
  [gelu_erf] e = Erf (xd)
  [gelu_add] e1 = Add (e, one)
  [gelu_mul] xm = Mul (x, e1)
  [gelu_half] y = Mul (xm, half)
  [ln_mean] mean = ReduceMean <axes=[-1]> (x)
  [ln_sub] xc = Sub (x, mean)
  [ln_sq] sq = Mul (xc, xc)
  [ln_var] var = ReduceMean <axes=[-1]> (sq)
  eps = Constant <value = float {1e-5}> ()
  [ln_eps] ve = Add (var, eps)
  [ln_sqrt] std = Sqrt (ve)
  [ln_div] ln = Div (xc, std)
  w = Constant <value = float[64,32] {%s}> ()
  [proj] mm = MatMul (x, w)
  roi = Constant <value = float[0] {}> ()
  scales = Constant <value = float[4] {1.0, 1.0, 2.0, 2.0}> ()
  [up_ceil] up = Resize <mode="nearest", nearest_mode="ceil"> (img, roi, scales)
  start = Constant <value = float {0.0}> ()
  limit = Constant <value = float {16.0}> ()
  delta = Constant <value = float {1.0}> ()
  [positions] pos = Range (start, limit, delta)
  freq = Constant <value = float {0.01}> ()
  [phase] ph = Mul (pos, freq)
  [table_sin] table = Sin (ph)
  big = Constant <value = float {-1e9}> ()
  [mask_add] masked = Add (x, big)
  small = Constant <value = float {1e-12}> ()
  [tiny_add] tiny = Add (x, small)
  [plain_relu] plain = Relu (x)
  [silu_sigmoid] sg = Sigmoid (x)
  [silu_mul] silu = Mul (x, sg)
  bn_p = Constant <value = float[1] {1.0}> ()
  bn_m = Constant <value = float[1] {0.0}> ()
  [bn] bnout = BatchNormalization (img, bn_p, bn_m, bn_m, bn_p)
}
""" % ", ".join(["0.01"] * 2048)

EXPECTED = {
    "gelu-erf-rewritten": {"gelu_div", "gelu_erf", "gelu_add", "gelu_mul", "gelu_half"},
    "layernorm-fused": {"ln_mean", "ln_sub", "ln_sq", "ln_var", "ln_eps", "ln_sqrt", "ln_div"},
    "matmul-to-conv": {"proj"},
    "resize-nearest-mode": {"up_ceil"},
    "constant-subgraph-folded": {"positions", "phase", "table_sin"},
    "fp16-clamps-large-constants": {"mask_add"},
    "fp16-flushes-tiny-constants": {"tiny_add"},
    "silu-fused": {"silu_sigmoid", "silu_mul"},
    "batchnorm-folded": {"bn"},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("conversion")
    rules = d / "rules"
    rules.mkdir()
    (rules / "X999-every-op.yaml").write_text(EVERY_OP_RULE)
    model = parser.parse_model(MODEL)
    onnx.checker.check_model(model)
    onnx_path = str(d / "m.onnx")
    onnx.save(model, onnx_path)
    mnn_path = convert(onnx_path, str(d / "m.mnn"))
    linter = Linter(Options(rule_dirs=(str(rules),)))
    return linter.lint_file(onnx_path), linter.lint_file(mnn_path)


def _notes_by_node(result):
    out = {}
    for f in result.findings:
        if f.rule_id == "X999":
            out[f.node] = [n for n in f.notes if n.startswith(NOTE_PREFIX)]
    return out


def test_notes_land_on_the_patterns_the_converter_rewrites(results):
    on_onnx, _ = results
    notes = _notes_by_node(on_onnx)
    by_id = {c.id: c for c in conversions()}
    assert set(EXPECTED) <= set(by_id)
    for cid, nodes in EXPECTED.items():
        marker = by_id[cid].note.split("{")[0]
        tagged = {node for node, ns in notes.items() if any(n.startswith(marker) for n in ns)}
        assert tagged == nodes, (cid, sorted(tagged ^ nodes))
    assert notes["plain_relu"] == []


def test_note_placeholders_are_filled(results):
    on_onnx, _ = results
    (note,) = _notes_by_node(on_onnx)["up_ceil"]
    assert "'ceil' nearest mode" in note


def test_mnn_findings_and_converter_rules_get_no_conversion_notes(results):
    on_onnx, on_mnn = results
    assert on_mnn.findings and not any(n.startswith(NOTE_PREFIX) for f in on_mnn.findings for n in f.notes)
    m004 = [f for f in on_onnx.findings if f.rule_id == "M004"]
    assert m004 and not any(n.startswith(NOTE_PREFIX) for f in m004 for n in f.notes)


def test_every_conversion_entry_is_exercised():
    assert {c.id for c in conversions()} - set(EXPECTED) == {"instancenorm-to-layernorm"}  # unet_block covers it


def test_rewrites_in_lists_the_rewritten_nodes(results, tmp_path):
    model = parser.parse_model(MODEL)
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    from precision_lint.model.loaders import load_model

    found = rewrites_in(load_model(path))
    assert set(found["silu-fused"]) == {"silu_sigmoid", "silu_mul"} and found["matmul-to-conv"] == ["proj"]
    assert {c.id: c.produces for c in conversions()}["layernorm-fused"] == ("LayerNormalization",)


# --- M006: what the rule claims about MNN's converter, checked against the converter and MNN itself --------------

LEGACY_SOFTMAX = {
    # name: (opset, op, axis attribute or None, shape, flagged by M006)
    "softmax_no_axis_rank3": (11, "Softmax", None, "1,16,64", True),
    "logsoftmax_inner_axis": (11, "LogSoftmax", 1, "1,16,64", True),
    "logsoftmax_no_axis_rank2": (11, "LogSoftmax", None, "4,16", True),
    "softmax_explicit_axis": (11, "Softmax", 1, "1,16,64", False),
    "softmax_no_axis_rank2": (11, "Softmax", None, "4,16", False),
    "logsoftmax_last_axis": (11, "LogSoftmax", 2, "1,16,64", False),
    "softmax_opset13_no_axis": (13, "Softmax", None, "1,16,64", False),
}


@pytest.mark.parametrize("name", sorted(LEGACY_SOFTMAX))
def test_m006_flags_exactly_the_softmaxes_mnns_converter_computes_differently(name, tmp_path):
    """Each case converted by MNN's converter and run by MNN on the host (Precision_High) against ONNX Runtime
    (verify's converter check): M006 fires where they disagree (or the converter fails), and only there."""
    pytest.importorskip("onnxruntime")
    from onnx import parser

    import precision_lint
    from precision_lint.verify.run import verify

    opset, op, axis, shape, flagged = LEGACY_SOFTMAX[name]
    attr = "" if axis is None else f" <axis={axis}>"
    path = str(tmp_path / f"{name}.onnx")
    onnx.save(
        parser.parse_model(
            f'<ir_version: 7, opset_import: ["" : {opset}]>\n'
            f"g (float[{shape}] x) => (float[{shape}] y) {{\n  [n] y = {op}{attr} (x)\n}}"
        ),
        path,
    )
    m006 = [f for f in precision_lint.lint(path).reported if f.rule_id == "M006"]
    check = verify(path, ["x86-cpu:low"], lint=False).cross_runtime
    differs = check["status"] == "failed" or bool(check.get("exceeded"))
    assert bool(m006) == flagged == differs, (check["message"], [f.message for f in m006])
