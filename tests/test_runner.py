"""The rule runner skips a rule when the model lacks an op its pattern needs, and only then."""

import textwrap

import onnx
from onnx import parser

from precision_lint.engine.rules import builtin_rules_dir, load_rule_file
from precision_lint.engine.runner import RuleRunner
from precision_lint.model.loaders import load_model


def _rule_text(rule_id: str, match: str) -> str:
    """A rule whose finding would always fire: only its ``match:`` block matters to these tests."""
    return f"""\
id: {rule_id}
name: runner-test
class: range
summary: s
description: d
fix: f
message: "m"
estimate: {{quantity: q, unit: px, value: "1.0"}}
level: {{error: "err > 0"}}
match:
{textwrap.indent(textwrap.dedent(match), "  ")}tests: [{{model: m, expect: []}}]
"""


# Fails on every anchor it reaches (dim('x') is not an integer), so a note shows whether anchors were visited.
RULE = _rule_text(
    "X950",
    """\
    op: Add
    where: "node.output(0).dim('x') == 1"
    any:
      - downstream: {op: GridSample, depth: 4}
      - consumer: {op: [Resize, RoiAlign]}
    """,
)

WITH_ADD_ONLY = """<ir_version: 8, opset_import: ["" : 16]>
g (float[1,2,4,4] x, float[1,4,4,2] grid) => (float[1,2,4,4] y) {
    [plus] y = Add (x, x)
}"""

WITH_GRIDSAMPLE = """<ir_version: 8, opset_import: ["" : 16]>
g (float[1,2,4,4] x, float[1,4,4,2] grid) => (float[1,2,4,4] y) {
    [plus] g2 = Add (grid, grid)
    [warp] y = GridSample (x, g2)
}"""


def _run(tmp_path, model_text):
    rule_file = tmp_path / "x950.yaml"
    rule_file.write_text(RULE)
    rules = load_rule_file(rule_file)
    path = str(tmp_path / "m.onnx")
    onnx.save(parser.parse_model(model_text), path)
    return RuleRunner(rules).run(load_model(path))


def test_rule_needing_an_absent_op_visits_no_anchor(tmp_path):
    findings, notes = _run(tmp_path, WITH_ADD_ONLY)
    assert findings == [] and notes == []


def test_rule_whose_needed_op_is_present_visits_its_anchors(tmp_path):
    findings, notes = _run(tmp_path, WITH_GRIDSAMPLE)
    assert findings == [] and len(notes) == 1 and "X950" in notes[0] and "'plus'" in notes[0]


def test_can_match_follows_relations_all_and_any():
    c002 = next(r for r in load_rule_file(builtin_rules_dir() / "C002-absolute-grid-coordinates.yaml"))
    assert not c002.match.can_match({"Add", "Sub", "MatMul"}.__contains__)
    assert c002.match.can_match({"Add", "GridSample"}.__contains__)
    assert not c002.match.can_match({"GridSample"}.__contains__)  # the anchor op itself is missing
    r006 = next(r for r in load_rule_file(builtin_rules_dir() / "R006-square-sum-overflow.yaml"))
    assert r006.match.can_match({"ReduceSumSquare"}.__contains__)  # the first `any` branch alone
    assert not r006.match.can_match({"Pow"}.__contains__)  # the second branch needs a ReduceMean/ReduceSum
    assert r006.match.can_match({"Pow", "ReduceMean"}.__contains__)
    r009 = next(r for r in load_rule_file(builtin_rules_dir() / "R009-activation-overflow.yaml"))
    assert r009.match.can_match({"Relu"}.__contains__)  # op: "*" needs nothing in particular


SOURCE_OP_RULE = _rule_text(
    "X951",
    """\
    source_op: Resize
    where: "node.source_op == 'Resize' or node.op + 1 > 0"
    """,
)

UPSAMPLE = """<ir_version: 4, opset_import: ["" : 9]>
g (float[1,1,2,2] x) => (float[1,1,4,4] y) {
    s = Constant <value = float[4] {1, 1, 2, 2}> ()
    [up] y = Upsample <mode = "nearest"> (x, s)
}"""


def test_the_op_test_comes_before_the_condition(tmp_path):
    """opset-9 Upsample reads as canonical Resize: a rule asking for the source spelling Resize must not evaluate
    its condition on it (the condition would fail there)."""
    rule_file = tmp_path / "x951.yaml"
    rule_file.write_text(SOURCE_OP_RULE)
    path = str(tmp_path / "up.onnx")
    onnx.save(parser.parse_model(UPSAMPLE), path)
    graph = load_model(path)
    assert graph.ops["up"].op == "Resize" and graph.ops["up"].source_op == "Upsample"
    assert RuleRunner(load_rule_file(rule_file)).run(graph) == ([], [])


def _findings_without_memo(monkeypatch, path):
    from precision_lint.api import Linter
    from precision_lint.engine import runner

    with monkeypatch.context() as m:
        m.setattr(runner, "MEMO_LIMIT", 0)  # nothing remembered: every candidate evaluated
        return Linter().lint_file(path).findings


def test_remembered_estimates_are_the_estimates(monkeypatch, tmp_path):
    """Candidates that read the same values share one evaluation of their estimates: the findings are those of
    evaluating every candidate, on models whose candidates repeat (architectures) and where they differ only in
    a value the estimate reads (K of MatMuls)."""
    import os

    from precision_lint.api import Linter

    two_k = tmp_path / "two_k.onnx"
    onnx.save(
        parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[8,16384] a, float[16384,8] b, float[8,64] c, float[64,8] d) => (float[8,8] y, float[8,8] z) {
            [long] y = MatMul (a, b)
            [short] z = MatMul (c, d)
            [long2] w = MatMul (a, b)
        }"""),
        str(two_k),
    )
    samples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_models")
    for path in [str(two_k)] + [
        os.path.join(samples, "architectures", n) for n in ("bert_tiny.onnx", "llama_block.onnx", "vit_tiny.onnx")
    ]:
        remembered = Linter().lint_file(path).findings
        assert [f.to_dict() for f in remembered] == [f.to_dict() for f in _findings_without_memo(monkeypatch, path)]
    by_node = {f.node: f for f in Linter().lint_file(str(two_k)).findings if f.rule_id == "A003"}
    assert set(by_node) == {"long", "long2"}  # K=64 stays below every level; K=16384 is info in fp16
    assert by_node["long"].estimates == by_node["long2"].estimates and by_node["long"].level == "info"


LAZY_LETS_RULE = """\
id: X952
name: runner-lets
class: range
summary: s
description: d
fix: f
message: "scale {doubled}, {broken}"
let:
  scale: "2.0"
  doubled: "scale * 2"
  broken: "node.output(0).dim('x')"
estimate: {quantity: q, unit: px, value: "scale"}
level: {error: "err > LIMIT"}
evidence: [doubled]
match:
  op: Add
tests: [{model: m, expect: []}]
"""


def test_lets_only_messages_read_wait_for_a_finding(tmp_path):
    """A candidate evaluates the lets its estimate and levels read; the message's lets (here one that fails on
    every node) run only when it becomes a finding, whose message and evidence then read them as before."""
    path = str(tmp_path / "m.onnx")
    onnx.save(parser.parse_model(WITH_ADD_ONLY), path)

    def run(limit: str):
        rule_file = tmp_path / f"x952_{limit}.yaml"
        rule_file.write_text(LAZY_LETS_RULE.replace("LIMIT", limit))
        (rule,) = load_rule_file(rule_file)
        runner = RuleRunner([rule])
        early, late = runner.lets["X952"]
        assert [n for n, _ in early] == ["scale"] and [n for n, _ in late] == ["doubled", "broken"]
        return runner.run(load_model(path))

    assert run("5") == ([], [])  # no level: the failing let never ran
    findings, notes = run("0")  # a finding: every let runs, and the failing one says so
    assert findings == [] and len(notes) == 1 and "X952" in notes[0] and "plus" in notes[0]


def test_shipped_rules_split_their_lets_by_what_reads_them():
    """R004 (Exp overflow): its levels read the input's bound and tightness, an assumption the fp16 limit; the
    bf16 limit and the text only the message and the evidence."""
    (rule,) = load_rule_file(builtin_rules_dir() / "R004-exp-overflow.yaml")
    early, late = RuleRunner([rule]).lets["R004"]
    assert {n for n, _ in early} == {"hi", "tight", "limit_fp16"}
    assert {n for n, _ in late} == {"limit_bf16", "bound_text"}


def test_rules_reading_value_ranges_run_first_and_results_keep_the_rules_order():
    """The runner schedules rules that read value ranges first (tests/test_weight_reads.py says why); findings and
    notes still come out in the catalogue's order, as every report and baseline expects."""
    import os

    from precision_lint.api import Linter

    linter = Linter()
    runner = linter.runner
    first = [runner.rules[i].id for i in runner.schedule]
    assert first.index("R009") < first.index("R001") and first.index("R004") < first.index("R005")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    graph = load_model(os.path.join(root, "sample_models", "architectures", "llama_block.onnx"))
    findings, _ = runner.run(graph)
    order = {r.id: i for i, r in enumerate(runner.rules)}
    positions = [order[f.rule_id] for f in findings]
    assert len(set(positions)) > 2 and positions == sorted(positions)


UNIT_LET_RULE = """\
id: X953
name: let-named-unit
class: range
summary: s
description: d
fix: f
message: "{node_name}"
let:
  unit: "3 if node.op == 'Add' else 0"
estimate: {quantity: q, unit: px, value: "unit * 2"}
level: {warning: "err > 1"}
match:
  op: "*"
tests: [{model: m, expect: []}]
"""


def test_a_let_named_like_a_name_the_estimate_loop_sets_is_an_estimate_input(tmp_path):
    """`unit` is a valid let name: the estimate reads the let (computed before it, per candidate), so the Add is
    flagged and the Mul, whose let differs, is not (the let once waited for a finding, or keyed no estimate)."""
    path = str(tmp_path / "m.onnx")
    onnx.save(
        parser.parse_model(
            """<ir_version: 8, opset_import: ["" : 13]>
            g (float[4] x) => (float[4] y) { [plus] t = Add (x, x)  [times] y = Mul (t, x) }"""
        ),
        path,
    )
    rule_file = tmp_path / "x953.yaml"
    rule_file.write_text(UNIT_LET_RULE)
    (rule,) = load_rule_file(rule_file)
    findings, notes = RuleRunner([rule]).run(load_model(path))
    assert notes == []
    assert [(f.node, f.estimates["fp16"].value) for f in findings] == [("plus", 6.0)]


BRANCH_FIELD_RULE = """\
id: X954
name: field-on-a-branch
class: range
summary: s
description: d
fix: f
message: "{node_name}"
let:
  is_node: "false"
  x: node.output(0)
estimate: {quantity: q, unit: u, value: "(x.op == 'Add') if is_node else 1"}
level: {warning: "err > 0"}
match:
  op: Add
tests: [{model: m, expect: []}]
"""


def test_a_field_the_estimate_reads_only_on_a_branch_not_taken_is_not_read(tmp_path):
    """The memo key reads the fields an estimate reads of a view; `x.op` (a tensor has no `op`) is read only on a
    branch the estimate never takes, so it must not fail the candidate: both Adds are findings, without notes."""
    path = str(tmp_path / "m.onnx")
    onnx.save(parser.parse_model(WITH_ADD_ONLY), path)
    rule_file = tmp_path / "x954.yaml"
    rule_file.write_text(BRANCH_FIELD_RULE)
    (rule,) = load_rule_file(rule_file)
    findings, notes = RuleRunner([rule]).run(load_model(path))
    assert notes == [] and findings and all(f.estimates["fp16"].value == 1.0 for f in findings)


def test_r009_takes_no_value_range_of_an_integer_output(tmp_path):
    """R009 is about float outputs: it tests the output's type before its range, so an integer Add never reads
    its constant's statistics (an 80 MB int32 weight took a lint from 52 MB to 772 MB when the range came
    first)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    n = 4096
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "W"], ["y"], name="add_ints")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.INT32, [n])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [n])],
        [numpy_helper.from_array(np.arange(n, dtype=np.int32) * 1000, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = str(tmp_path / "ints.onnx")
    onnx.save(model, path)
    (rule,) = load_rule_file(builtin_rules_dir() / "R009-activation-overflow.yaml")
    graph = load_model(path)
    assert RuleRunner([rule]).run(graph) == ([], [])
    assert graph.tensors["W"]._pl_stats is None


# A model where one operator of three has a float constant input ('scale').
WITH_ONE_CONSTANT = """<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) {
    big = Constant <value = float[1] {40000}> ()
    [first] a = Relu (x)
    [scale] b = Mul (a, big)
    [last] y = Sigmoid (b)
}"""


def _asked(monkeypatch, tmp_path, rule_id: str, where: str):
    """The findings and notes of a rule on ``op: "*"`` with condition ``where``, and the operators whose float
    constant inputs were looked at (``node.widest_const`` and ``node.max_const_abs`` look once per operator)."""
    from precision_lint.engine.views import NodeView

    asked = []
    find = NodeView._find_widest_const

    def spy(view):
        asked.append(view.operator.name)
        return find(view)

    monkeypatch.setattr(NodeView, "_find_widest_const", spy)
    rule_file = tmp_path / f"{rule_id}.yaml"
    rule_file.write_text(_rule_text(rule_id, f'op: "*"\nwhere: "{where}"\n'))
    path = str(tmp_path / "one_constant.onnx")
    onnx.save(parser.parse_model(WITH_ONE_CONSTANT), path)
    findings, notes = RuleRunner(load_rule_file(rule_file)).run(load_model(path))
    return [f.node for f in findings], notes, asked


def test_conditions_that_need_a_float_constant_visit_only_operators_that_have_one(monkeypatch, tmp_path):
    """R001 and M002 anchor on every operator, and their condition starts with a test that is false wherever there
    is no float constant input: the runner skips those operators (the first conjunct alone decides there)."""
    for rule_id, where in (
        ("X960", "default(node.max_const_abs, 0) >= 1 and node.op != ''"),
        ("X961", "node.widest_const != none and node.op != ''"),
        ("X962", "default(node.max_const_abs, 0) >= 1"),
    ):
        findings, notes, asked = _asked(monkeypatch, tmp_path, rule_id, where)
        assert (findings, notes, asked) == (["scale"], [], ["scale"]), rule_id


def test_conditions_true_or_unknown_without_a_constant_visit_every_operator(monkeypatch, tmp_path):
    """Where the first conjunct is not false on an operator without float constants (true, unknown, or reading
    something else of the node), every operator is evaluated as before, with the findings and failures that
    gives."""
    every = ["first", "scale", "last"]
    for rule_id, where, expected in (
        ("X963", "default(node.max_const_abs, 1) >= 1 and node.op != ''", every),  # true without a constant
        ("X964", "node.max_const_abs >= 1 and node.op != 'Relu'", ["scale"]),  # unknown there: `and` goes on
        ("X965", "(default(node.max_const_abs, 0) >= 1 or node.op == 'Relu') and true", ["first", "scale"]),
        ("X966", "node.op != 'Relu' and default(node.max_const_abs, 0) >= 1", ["scale"]),  # not the first
    ):
        findings, notes, asked = _asked(monkeypatch, tmp_path, rule_id, where)
        assert (findings, notes) == (expected, []), rule_id
        assert asked == (every if rule_id != "X966" else ["scale", "last"]), rule_id
    # a conjunct after the first that fails is still reported on every operator the first lets through
    _, notes, asked = _asked(
        monkeypatch, tmp_path, "X967", "default(node.max_const_abs, 0) >= 1 and node.input(0).dim('x') > 1"
    )
    assert asked == ["scale"] and len(notes) == 1 and "at node 'scale'" in notes[0] and "more node" not in notes[0]
