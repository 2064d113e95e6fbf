"""Issue 12: typos in a rule fail loudly at load time, each rule sees only its own tolerances, and the most
specific of --select / --ignore decides."""

import os
import subprocess
import sys

import pytest

from precision_lint.api import Linter, Options
from precision_lint.engine.rule_checks import known_op_names
from precision_lint.engine.rules import load_rule_file, load_rules
from precision_lint.errors import RuleError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "sample_models", "gridsample_large.onnx")
LONG = os.path.join(ROOT, "sample_models", "long_reduction.onnx")

HEADER = """\
id: X950
name: strict-probe
class: accumulation
summary: s
description: d
fix: f
message: "m"
tests: [{model: m, expect: []}]
"""


def _rule(tmp_path, body, name="probe.yaml"):
    p = tmp_path / name
    p.write_text(HEADER + body)
    return p


@pytest.mark.parametrize(
    "body,problem",
    [
        (
            "tolerances: {sum_rel: {default: 0.1, unit: relative, description: d}}\n"
            "match: {op: ReduceSum}\nlevel: {error: 'node.n_inputs > tol.sum_rel_eror'}\n",
            "tol.sum_rel_eror",
        ),
        ("match: {op: ReduceSum, where: \"node.attrs('axes') == 1\"}\n", "'attrs'"),
        ("match: {op: Divide}\n", "'Divide'"),
        ("match: {op: ReduceSum, producer: {op: Sqaure}}\n", "'Sqaure'"),
        ("match: {op: ReduceSum}\nlet: {n: node.input(0).shpe}\n", "'shpe'"),
        ("match: {op: ReduceSum, where: 'model.fromat == 1'}\n", "'fromat'"),
        # YAML keeps the last of two equal keys: the first `level` would be dropped without a word
        ("match: {op: ReduceSum}\nlevel: {error: 'true'}\nlevel: {warning: 'true'}\n", "level: given twice (lines"),
    ],
)
def test_typos_are_load_errors_naming_the_file(tmp_path, body, problem):
    with pytest.raises(RuleError) as exc:
        load_rule_file(_rule(tmp_path, body))
    assert "probe.yaml" in str(exc.value) and problem in str(exc.value)


def test_a_typo_is_exit_2_on_the_command_line(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    _rule(rules, "match: {op: Divide}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--rules", str(rules), SEED],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Div" in proc.stderr  # names the close match


def test_op_suggestion_names_the_operator_a_loader_produces(tmp_path):
    with pytest.raises(RuleError, match="did you mean 'Div'"):
        load_rule_file(_rule(tmp_path, "match: {op: Divide}\n"))


def test_known_ops_cover_both_loaders_vocabularies():
    import onnx.defs

    known = known_op_names()
    assert {s.name for s in onnx.defs.get_all_schemas_with_history()} <= known, "run tools/gen_onnx_ops.py"
    from onnxruntime.capi import onnxruntime_pybind11_state as ort

    assert {s.name for s in ort.get_all_operator_schema()} <= known, "run tools/gen_contrib_ops.py"
    assert {"Square", "Rsqrt", "Interp", "BinaryOp/ATAN2", "SimplifiedLayerNormalization"} <= known


def test_rule_names_are_unique(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "dup.yaml").write_text(
        HEADER.replace("X950", "X951").replace("strict-probe", "long-reduction") + "match: {op: ReduceSum}\n"
    )
    with pytest.raises(RuleError, match="already rule A002"):
        load_rules([str(rules)])
    names = [r.name for r in load_rules()]
    assert len(names) == len(set(names))


def _a002_levels(**options):
    result = Linter(Options(**options)).lint_file(LONG)
    return [f.level for f in result.findings if f.rule_id == "A002"]


def test_a_user_rule_cannot_move_a_builtin_threshold(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yaml").write_text(
        HEADER + "tolerances: {reduction_rel: {default: 10, unit: relative, description: d}}\n"
        "match: {op: Softmax}\nlevel: {error: 'tol.reduction_rel > 100'}\n"
    )
    assert _a002_levels() == ["error"]
    assert _a002_levels(rule_dirs=(str(rules),)) == ["error"]


def test_a_tolerance_can_be_set_for_one_rule():
    assert _a002_levels(tolerances={"A002.reduction_rel": 100.0}) == []  # 0.5 is now far below the error level
    assert _a002_levels(tolerances={"A005.reduction_rel": 100.0}) == ["error"]  # another rule's: A002 unchanged
    assert _a002_levels(tolerances={"reduction_rel": 100.0}) == []  # unqualified: every rule that declares it


@pytest.mark.parametrize(
    "select,ignore,expected",
    [
        (("C001",), ("C",), True),  # the more specific selector wins (ruff)
        (("C",), ("C001",), False),
        (("C0",), ("C",), True),
        (("C",), ("C",), False),  # a tie: ignore wins
        ((), ("C001",), False),
        (("gridsample-coordinates",), ("C",), True),  # a rule's name is as specific as its id
    ],
)
def test_most_specific_selector_wins(select, ignore, expected):
    result = Linter(Options(select=select, ignore=ignore)).lint_file(SEED)
    assert any(f.rule_id == "C001" for f in result.findings) is expected


# Adversarial pass 6: names an expression reads where the runner never sets them, lets that hide a built-in name, a
# name bound twice, placeholders an assumption's text cannot know.  Each read None (a finding that never fires, or a
# '?' in the text); each is a load error naming the file and the field.
@pytest.mark.parametrize(
    "body,problem",
    [
        ("match: {op: Exp, where: 'node.input(0).hi_abs > fmt_max(fmt)'}\n", "field match.where: unknown name 'fmt'"),
        ("match: {op: Exp}\nlet: {twice: err * 2}\n", "field let.twice: unknown name 'err'"),
        ("match: {op: Exp}\nlet: {sat: saturating}\n", "field let.sat: unknown name 'saturating'"),
        (
            "match: {op: Exp}\nestimate: {unit: x, value: 'err + 1'}\nlevel: {error: 'err > 1'}\n",
            "field estimate.value: unknown name 'err'",
        ),
        (
            "match: {op: Exp}\nassumptions: [{when: \"fmt == 'fp16'\", text: t}]\n",
            "field assumptions.0.when: unknown name 'fmt'",
        ),
        ("match: {op: Exp}\nnotes: [{when: 'err > 1', text: t}]\n", "field notes.0.when: unknown name 'err'"),
        (
            "match: {op: Exp}\nestimate: {unit: x, value: '1.0'}\nassumptions: [{text: 'off by {err_fp16}'}]\n",
            "field assumptions.0.text: unknown placeholder {err_fp16}",
        ),
        ("match: {op: Exp}\nlet: {node: 3}\n", "field let.node: 'node' is a built-in name"),
        ("match: {op: Exp}\nlet: {fmt: \"'fp16'\"}\n", "field let.fmt: 'fmt' is a built-in name"),
        ("match: {op: Exp}\nlet: {err_fp16: 3}\n", "field let.err_fp16: 'err_fp16' is a built-in name"),
        ("match: {op: Exp, producer: {op: Add, as: op}}\n", "field match.producer.as: 'op' is a built-in name"),
        ("match: {op: Exp, as: tol}\n", "field match.as: 'tol' is a built-in name"),
        ("match: {op: Exp, as: x, producer: {op: Add, as: x}}\n", "field match.producer.as: 'x' is bound twice"),
        ("match: {op: Exp, as: x}\nlet: {x: 3}\n", "field let.x: 'x' is bound by the match"),
    ],
)
def test_names_out_of_scope_are_load_errors(tmp_path, body, problem):
    with pytest.raises(RuleError) as exc:
        load_rule_file(_rule(tmp_path, body))
    assert "probe.yaml" in str(exc.value) and "X950" in str(exc.value) and problem in str(exc.value)


def test_assumption_texts_render_the_operator_and_unit(tmp_path):
    """An assumption's text is rendered before the estimates; {op}, {node_name} and {unit} are known by then."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "probe.yaml").write_text(
        HEADER.replace("class: accumulation", "class: range")
        + "match: {op: GridSample}\nestimate: {unit: px, value: '1.0'}\nlevel: {error: 'err > 0.5'}\n"
        "assumptions: [{text: \"{op} '{node_name}' in {unit}\"}]\n"
    )
    findings = Linter(Options(rule_dirs=(str(rules),), select=("X950",))).lint_file(SEED).findings
    assert findings and findings[0].assumptions == (f"GridSample '{findings[0].node}' in px",)


@pytest.mark.parametrize("fmt", ["text", "sarif"])
def test_a_rule_that_fails_while_linting_is_an_error_not_a_clean_run(tmp_path, fmt):
    """A comparison of a number with a string cannot be told from the rule alone: it fails on the first node.  The
    run said 'All checks passed' with exit 0 (the failure was a note shown only with -v); it is an error naming
    the model, the rule, the node and the problem, exit 2, and the report does not call the run clean."""
    rules = tmp_path / "rules"
    rules.mkdir()
    _rule(rules, "match: {op: GridSample, where: \"node.input(0).rank > 'four'\"}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--rules", str(rules), "--select", "X950", "--format", fmt, SEED],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert SEED in line and "rule X950" in line and "probe.yaml" in line and "'four'" in line
    if fmt == "text":
        assert "All checks passed" not in proc.stdout
    else:
        assert '"executionSuccessful": false' in proc.stdout


def test_one_rule_file_named_twice_is_loaded_once(tmp_path):
    """The same directory from the config's rule_dirs and --rules (or a directory and one of its files) is one
    set of rules: it was 'id already defined in' the very same file, exit 2."""
    rules = tmp_path / "rules"
    rules.mkdir()
    _rule(rules, "match: {op: GridSample}\n")
    same = [str(rules), str(tmp_path / "." / "rules"), str(rules / "probe.yaml")]
    assert [r.id for r in load_rules(same) if r.id == "X950"] == ["X950"]
    assert len(load_rules([str(ROOT + "/rules")])) == len(load_rules())  # the shipped directory itself
    other = tmp_path / "other"
    other.mkdir()
    _rule(other, "match: {op: GridSample}\n", name="copy.yaml")  # a real duplicate still fails
    with pytest.raises(RuleError, match="id already defined"):
        load_rules([str(rules), str(other)])
