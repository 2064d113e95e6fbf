"""Rule files are untrusted (issue 7): YAML is loaded safely and bounded, expressions cannot call or import anything,
a rule's work on a model is bounded, and a malicious rule file is one clear line with exit 2."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from precision_lint.engine.expr import Expression, ExprError, EvalError
from precision_lint.engine.functions import FUNCTIONS
from precision_lint.engine.rules import builtin_rules_dir, load_rule_file
from precision_lint.errors import RuleError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLEAN = os.path.join(ROOT, "sample_models", "clean.onnx")

HEADER = """\
id: X901
name: hostile
class: range
summary: s
description: d
fix: f
message: "m"
tests: [{model: m, expect: []}]
"""


def _rule(tmp_path, body: str, name="r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + textwrap.dedent(body))
    return p


def test_shipped_rules_validate_against_the_schema():
    """Run time skips jsonschema for the shipped rules, so this test is what keeps them valid."""
    for f in sorted(builtin_rules_dir().glob("*.yaml")):
        load_rule_file(f, validate=True)


# ----- YAML -----------------------------------------------------------------------------------------------------
def test_billion_laughs_is_refused_before_anything_walks_it(tmp_path):
    levels = ['  - &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        levels.append(f"  - &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    p = _rule(tmp_path, "match: {op: Relu}\nreferences:\n" + "\n".join(levels) + "\n")
    assert p.stat().st_size < 2000  # a small file that would expand to 10^9 nodes
    with pytest.raises(RuleError, match="expands to more than"):
        load_rule_file(p)


def test_recursive_alias_is_refused(tmp_path):
    with pytest.raises(RuleError, match="refers to itself"):
        load_rule_file(_rule(tmp_path, "match: &m {op: Relu, not: *m}\n"))


@pytest.mark.parametrize("kind", ["flow", "block", "matcher"])
def test_deep_nesting_is_refused(tmp_path, kind):
    if kind == "flow":
        body = "match: {op: Relu}\nreferences: " + "[" * 20000 + "]" * 20000 + "\n"
    elif kind == "block":
        body = (
            "match: {op: Relu}\nextra:\n" + "".join("  " * (i + 1) + "a:\n" for i in range(200)) + "  " * 201 + "b: 1\n"
        )
    else:
        body = "match:\n" + "".join("  " * (i + 1) + "upstream:\n" for i in range(100)) + "  " * 101 + "op: Relu\n"
    with pytest.raises(RuleError, match="nests"):
        load_rule_file(_rule(tmp_path, body))


def test_python_tags_are_refused(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text('id: !!python/object/apply:os.system ["echo pwned > /tmp/pwned"]\n')
    with pytest.raises(RuleError, match="invalid YAML"):
        load_rule_file(p)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_rule_file_that_is_a_fifo_or_device_is_refused(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(str(fifo))
    with pytest.raises(RuleError, match="not a regular file"):
        load_rule_file(fifo)
    dev = tmp_path / "zero.yaml"
    os.symlink("/dev/zero", str(dev))
    with pytest.raises(RuleError, match="not a regular file"):
        load_rule_file(dev)


# ----- expressions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__[0].__subclasses__()",
        "node.__class__",
        "node._op",
        "(lambda: 1)()",
        "[x for x in (1, 2)]",
        "{x: 1 for x in (1, 2)}",
        "f'{node}'",
        "open('/etc/passwd')",
        "eval('1')",
        "getattr(node, 'op')",
        "x := 1",
        "node.attr.__globals__",
        "min(*(1, 2))",
        "print(1)",
        "-" * 1999 + "1",
        "(" * 1000 + "1" + ")" * 1000,
        "'\\x00'\x00",
    ],
)
def test_expressions_cannot_call_import_or_escape(src):
    with pytest.raises(ExprError):
        Expression(src, FUNCTIONS)


@pytest.mark.parametrize(
    "src",
    [
        "10 ** 10 ** 10",
        "2 ** 100000",
        "'x' * 1000000000",
        "(1,) * 1000000000",
        "'%s' % 'x'",
        "int('9' * 5000)",
    ],
)
def test_expressions_with_huge_results_fail_cleanly_or_saturate(src):
    e = Expression(src, FUNCTIONS)
    try:
        v = e.evaluate({})
    except EvalError:
        return
    assert v is None or isinstance(v, (int, float)) and (abs(v) < 1e309)


def test_integers_stay_small_whatever_the_expression():
    """Squaring doubles an integer's size: twelve squarings of 3 are a 6,000-digit number that cannot even be
    printed.  Integers beyond int64 continue as floats (inf past the float range)."""
    from precision_lint.engine.expr import MAX_INT_BITS

    env = {"a0": 3}
    for i in range(1, 13):
        env[f"a{i}"] = Expression(f"a{i - 1} * a{i - 1}", FUNCTIONS).evaluate(env)
    assert env["a12"] == float("inf")
    assert all(not isinstance(v, int) or v.bit_length() <= MAX_INT_BITS for v in env.values())
    assert Expression("prod((" + ", ".join(["99999999"] * 100) + "))", FUNCTIONS).evaluate({}) == float("inf")
    assert Expression("floor(1e300)", FUNCTIONS).evaluate({}) == 1e300
    assert Expression("2 * 3", FUNCTIONS).evaluate({}) == 6 and isinstance(
        Expression("2 * 3", FUNCTIONS).evaluate({}), int
    )


def test_rule_with_too_many_expression_nodes_is_refused(tmp_path):
    lets = "".join(f'  v{i}: "' + " + ".join(["1"] * 100) + '"\n' for i in range(40))
    with pytest.raises(RuleError, match="X901.*too large"):
        load_rule_file(_rule(tmp_path, "match: {op: Relu}\nlet:\n" + lets))


def _hostile_let_rule(tmp_path, lets: str, message: str = "m", evidence: str = "") -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    text = HEADER.replace('message: "m"', f'message: "{message}"') + "match: {op: '*'}\nlet:\n" + lets + evidence
    (d / "r.yaml").write_text(text)
    return d


def test_thirty_chained_squarings_finish(tmp_path):
    """740 bytes of `let` that squared an integer 30 times ran for minutes (2^30-digit numbers)."""
    lets = "  a0: '3'\n" + "".join(f"  a{i}: 'a{i - 1} * a{i - 1}'\n" for i in range(1, 31))
    rules = _hostile_let_rule(tmp_path, lets, "{a30}", "evidence: [a30]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "precision_lint",
            "--isolated",
            "--rules",
            str(rules),
            "--select",
            "X901",
            "--format",
            "json",
            CLEAN,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    import json

    doc = json.loads(proc.stdout)
    findings = doc["files"][0]["findings"]
    assert findings and findings[0]["message"] == "inf" and findings[0]["evidence"] == {"a30": "inf"}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_huge_integer_in_message_or_evidence_keeps_the_report(tmp_path, fmt):
    """A 5,400-digit let value used to be an internal error on every model (message) or no JSON at all (evidence)."""
    lets = "  a: '" + "9" * 600 + "'\n  big: 'a * a * a * a * a * a * a * a * a'\n"
    rules = _hostile_let_rule(tmp_path, lets, "value {big}", "evidence: [big]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "precision_lint",
            "--isolated",
            "--rules",
            str(rules),
            "--select",
            "X901",
            "--format",
            fmt,
            CLEAN,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "internal error" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert "value inf" in proc.stdout
    if fmt == "json":
        import json

        assert json.loads(proc.stdout)["files"][0]["findings"][0]["evidence"] == {"big": "inf"}


def test_an_integer_format_spec_on_a_float_renders_instead_of_failing(tmp_path):
    rules = _hostile_let_rule(tmp_path, "  a: '1.5'\n  b: '2 ** 64'\n", "{a:d} {b:x}")
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--isolated", "--rules", str(rules), "--select", "X901", "-q", CLEAN],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "internal error" not in proc.stderr, proc.stderr
    assert ": 1.5 1.84e+19" in proc.stdout, proc.stdout


def test_estimators_do_not_allocate_what_a_hostile_size_asks_for():
    """A Resize output of 2**40 (a hostile shape) or an encoding width of 10**12 (a hostile rule) asked numpy for
    terabytes: MemoryError, an internal error on the model.  Sizes are sampled or refused as a rule error."""
    from precision_lint import numerics

    for mode in ("half_pixel", "align_corners", "asymmetric"):
        v = numerics.resize_coordinate_error(1 << 20, 1 << 40, mode, "fp32")
        assert isinstance(v, float) and v == v
    assert numerics.resize_coordinate_error(7, 1000, "half_pixel", "fp16") == pytest.approx(0.00278125)
    with pytest.raises(EvalError):
        Expression("phase_error(100, 'fp16', 10 ** 12)", FUNCTIONS).evaluate({})
    with pytest.raises(EvalError):  # a non-tensor where a tensor is expected: a rule error, not an AttributeError
        Expression("axis_len(1, 0)", FUNCTIONS).evaluate({})


def test_view_fields_are_a_whitelist():
    from precision_lint.engine.expr import Namespace

    with pytest.raises(ExprError):
        Expression("tol._values", FUNCTIONS)
    with pytest.raises(EvalError):
        Expression("tol.get_field", FUNCTIONS).evaluate({"tol": Namespace({"a": 1}, "tolerance")})


def test_message_placeholders_cannot_reach_private_fields_or_huge_widths(tmp_path):
    p = _rule(tmp_path, "match: {op: Relu}\n").read_text().replace('message: "m"', 'message: "{node.__class__}"')
    (tmp_path / "r.yaml").write_text(p)
    with pytest.raises(RuleError, match="private field"):
        load_rule_file(tmp_path / "r.yaml")
    p = p.replace("{node.__class__}", "{node_name:>99999999}")
    (tmp_path / "r.yaml").write_text(p)
    with pytest.raises(RuleError, match="invalid format spec"):
        load_rule_file(tmp_path / "r.yaml")


# ----- bounded matching ------------------------------------------------------------------------------------------
def _chain_model(tmp_path, n=3000):
    from onnx import TensorProto, helper

    nodes, prev = [], "x"
    for i in range(n):
        op = ("Add", "Mul", "Relu")[i % 3]
        ins = [prev, "x"] if op != "Relu" else [prev]
        nodes.append(helper.make_node(op, ins, [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    g = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 8])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "chain.onnx"
    path.write_bytes(m.SerializeToString())
    return str(path)


def test_pathological_pattern_stops_with_a_note(tmp_path):
    """Nested transitive relations anchored on every op: without bounds this is cubic in the graph size."""
    from precision_lint.api import Linter, Options
    from precision_lint.engine import runner

    rule = _rule(
        tmp_path,
        """\
        match:
          op: "*"
          upstream:
            op: "*"
            depth: 64
            upstream:
              op: "*"
              depth: 64
              upstream: {op: Add, depth: 64, where: "node.name == 'never'"}
        """,
    )  # every op exists in the model (an absent one lets the runner skip the rule without matching)
    path = _chain_model(tmp_path)
    steps = []
    orig = runner.Matching.match

    def counting(self, *a):
        steps.append(1)
        return orig(self, *a)

    runner.Matching.match = counting
    try:
        result = Linter(Options(rule_dirs=(str(rule),), select=("X901",))).lint_file(path)
    finally:
        runner.Matching.match = orig
    assert result.error is None
    assert any(n.startswith("rule X901 stopped on this model") for n in result.notes), result.notes
    assert len(steps) <= runner.RULE_BUDGET_BASE + runner.RULE_BUDGET_PER_OPERATOR * 3000 + runner.MATCH_BUDGET


def test_a_failing_rule_is_reported_once_with_a_count(tmp_path):
    from precision_lint.api import Linter, Options

    rule = _rule(tmp_path, "match: {op: '*', where: \"node.input(0).shape[0] + 'x'\"}\n")
    result = Linter(Options(rule_dirs=(str(rule),), select=("X901",))).lint_file(_chain_model(tmp_path, 50))
    failing = [n for n in result.notes if n.startswith("rule X901")]
    assert len(failing) == 1 and "more node(s)" in failing[0], result.notes


# ----- the CLI: one clear line, exit 2 ---------------------------------------------------------------------------
def test_malicious_rule_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "evil.yaml").write_text(HEADER + "match: {op: Relu, where: \"__import__('os').system('touch pwned')\"}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--rules", str(bad), CLEAN],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "evil.yaml" in lines[0], proc.stderr
    assert "unknown function '__import__'" in lines[0]
    assert not (tmp_path / "pwned").exists()


# ----- configuration and platform files from a pull request are untrusted too ------------------------------------
def _bomb(key: str, indent: str = "") -> str:
    levels = [f'{indent}  - &a0 ["C","C","C","C","C","C","C","C","C","C"]']
    for i in range(1, 9):
        levels.append(f"{indent}  - &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return f"{key}:\n" + "\n".join(levels) + "\n"


@pytest.mark.parametrize(
    "name,text,problem",
    [
        (".precision-lint.yaml", _bomb("ignore"), "expands to more than"),
        (".precision-lint.yaml", "select: " + "[" * 5000 + "]" * 5000 + "\n", "nests"),
        ("pyproject.toml", "[tool.precision-lint]\nselect = " + "[" * 3000 + "]" * 3000 + "\n", "nests too deeply"),
    ],
)
def test_hostile_configuration_is_one_line_exit_2(tmp_path, name, text, problem):
    (tmp_path / name).write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", CLEAN], capture_output=True, text=True, cwd=str(tmp_path), timeout=60
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], proc.stderr


def test_deeply_nested_baseline_is_one_line_exit_2(tmp_path):
    (tmp_path / "base.json").write_text("[" * 100000 + "]" * 100000)
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--baseline", "base.json", CLEAN],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().startswith("error: base.json: ") and len(proc.stderr.strip().splitlines()) == 1


def test_hostile_platform_file_is_refused(tmp_path):
    from precision_lint.errors import ConfigError
    from precision_lint.deploy.platforms import _read_yaml

    p = tmp_path / "platforms.yaml"
    p.write_text(_bomb("x"))
    with pytest.raises(ConfigError, match="expands to more than"):
        _read_yaml(str(p))


def test_a_small_nonzero_share_does_not_render_as_zero_percent(tmp_path):
    """Two weights of 2M beyond fp16's range: R001's note and, after --fp16, M002's message said '0%' of the
    values (format(9.5e-7, '.0%')); a share that is not zero renders as '<1%'."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from mnn_models import convert
    from precision_lint.api import Linter, Options

    w = np.full((4096, 512), 0.02, np.float32)
    w[0, :2] = [70000.0, -80000.0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 4096])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 512])],
        [numpy_helper.from_array(w, "w")],
    )
    src = str(tmp_path / "mm.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    (r001,) = Linter(Options(select=("R001",))).lint_file(src).findings
    fp16 = convert(src, str(tmp_path / "mm.mnn"), ["--fp16"])
    (m002,) = Linter(Options(select=("M002",))).lint_file(fp16).findings
    texts = list(r001.notes) + [m002.message]
    assert not any("0%" in t.replace("<1%", "").replace("75%", "") for t in texts), texts
    assert any(t.startswith("<1% of this constant's values") for t in r001.notes), r001.notes
    assert "(<1% of its values)" in m002.message, m002.message
