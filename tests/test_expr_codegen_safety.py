"""Compiled rule expressions (engine/expr_codegen.py) against hostile rule files: rule text never becomes code, and
compiled and interpreted evaluation agree on values and errors, including after the switch on a real lint."""

import math
import re
import textwrap
import types

import pytest

from precision_lint.engine.expr import HOT_EVALUATIONS, EvalError, Expression, ExprError, Namespace
from precision_lint.engine.expr_codegen import MAX_DEPTH, generate
from precision_lint.engine.functions import FUNCTIONS
from precision_lint.engine.rules import load_rule_file
from precision_lint.errors import RuleError

HEADER = """\
id: X902
name: hostile-codegen
class: range
summary: s
description: d
fix: f
message: "m"
tests: [{model: m, expect: []}]
"""

# Text that would run if it were pasted into the generated source (string literals, comments, line breaks).
INJECTIONS = [
    '"); import os; os.system("touch {p}")#',
    "'); import os; os.system('touch {p}')#",
    '\\n    import os\\n    os.system("touch {p}")\\n',
    '""" + __import__("os").system("touch {p}") + """',
    "{{__import__('os').system('touch {p}')}}",
    # valid Python once pasted between either kind of quotes, and needing no builtins: os.system through
    # object.__subclasses__ (the generated module's restricted builtins would not stop it)
    '" if [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close"][0]'
    '.__init__.__globals__["system"]("touch {p}") else "',
    "' if [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
    ".__init__.__globals__['system']('touch {p}') else '",
]


def _relu_model(tmp_path, n=HOT_EVALUATIONS + 10):
    from onnx import TensorProto, helper

    nodes, prev = [], "x"
    for i in range(n):
        nodes.append(helper.make_node("Relu", [prev], [f"t{i}"], name=f"relu{i}"))
        prev = f"t{i}"
    g = helper.make_graph(
        nodes,
        "relus",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 8])],
    )
    path = tmp_path / "relus.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    return str(path)


def _lint(tmp_path, where: str, n=HOT_EVALUATIONS + 10):
    from precision_lint.api import Linter, Options

    rule = tmp_path / "r.yaml"
    rule.write_text(HEADER + f"match: {{op: Relu, where: {where}}}\n")
    load_rule_file(rule)  # the rule itself is valid: what follows is evaluation, not a load error
    result = Linter(Options(rule_dirs=(str(rule),), select=("X902",))).lint_file(_relu_model(tmp_path, n))
    assert result.error is None
    return result


def _yaml_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_a_string_literal_stays_a_value_after_compilation(tmp_path, payload):
    pwned = tmp_path / "pwned"
    text = payload.format(p=pwned)
    # the payload as a rule string literal, compared with every node's name: true on all 42 Relu, so the condition is
    # evaluated past HOT_EVALUATIONS and the compiled function does the last ten
    lit = repr(text)
    result = _lint(tmp_path, _yaml_str(f"node.name != {lit} and len({lit}) == {len(text)}"))
    assert len([f for f in result.findings if f.rule_id == "X902"]) == HOT_EVALUATIONS + 10
    assert not pwned.exists()
    assert not [n for n in result.notes if "X902" in n], result.notes


def test_private_and_dunder_fields_are_load_errors(tmp_path):
    for where in ("node.__class__", "node._op", "node.attr.__globals__", "node.input(0).__dict__", "node.__init__()"):
        rule = tmp_path / "r.yaml"
        rule.write_text(HEADER + f"match: {{op: Relu, where: {_yaml_str(where)}}}\n")
        with pytest.raises(RuleError, match="X902"):
            load_rule_file(rule)


def test_unicode_spellings_of_private_fields_are_refused():
    """Python folds identifiers with NFKC before the private-field check sees them: a fullwidth spelling of a dunder
    is either refused by the parser or folded to '__...' and refused as private."""
    for src in ("node.\uff3f_class__", "node._\uff3fclass__", "node.\ufe4d_class__"):
        with pytest.raises(ExprError):
            Expression(src, FUNCTIONS)
    assert Expression("\uff58 + 1", FUNCTIONS).names == {"x"}  # folded: the same name as 'x', never new text


def _compiled(src: str):
    e = Expression(src, FUNCTIONS)
    fn = generate(e, e._helpers())
    assert fn is not None, src
    return e, fn


def _code_objects(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _code_objects(c)


HOSTILE_SOURCES = [
    'x == \'"); import os; os.system("touch /tmp/pwned")#\'',
    "x.get_field('__class__') if x else 'k0'",
    "tol.system + node.input(0).shape[0] + node.attr('os').exec",
    "ｘｙ + 1 > 1e308 * 10",  # unicode identifiers (NFKC-folded)
    "[1, 'a', 1e999, -1e999, 123456789012345678901234567890][x]",
    "s[1:'t0':None] + 'env' if s else none",
    "min(x, 3) < max(x, 2) <= 9 != 'import os'",
    "floor(x / 0) if x not in ('__import__', 'exec') else x ** 1024",
]


@pytest.mark.parametrize("src", HOSTILE_SOURCES)
def test_generated_code_holds_no_rule_text(src):
    """Structural form of the module's claim: the compiled function's names are the numbered temporaries and slots,
    its constants are None/True/False and small template integers, and it looks up no global but the builtins the
    templates use.  A rule's string, number or name written into the source would appear here."""
    _, fn = _compiled(src)
    for code in _code_objects(fn.__code__):
        for var in code.co_varnames + code.co_freevars + code.co_cellvars:
            assert re.fullmatch(r"env|[kt]\d+", var), (src, var)
        assert set(code.co_names) <= {"type", "float", "int", "TypeError", "get"}, (src, code.co_names)
        for c in code.co_consts:
            assert c is None or isinstance(c, (bool, types.CodeType)), (src, c)


def _outcome(e: Expression, env):
    try:
        v = e.evaluate(env)
    except EvalError as exc:
        return ("error", str(exc))
    if isinstance(v, float) and math.isnan(v):
        return ("nan",)
    return ("value", type(v).__name__, v)


DIFFERENTIAL = [
    "a and b",
    "a or b",
    "a and b or not c",
    "not a and (b or c)",
    "a < b < c",
    "a == b < c",
    "a != b != c",
    "a < b == c > a",
    "a in (1, 2, none) or b not in (a, c)",
    "a / b",
    "a // b",
    "a % b",
    "a ** b",
    "a * b * 99999999999 * 99999999999",
    "-a + +b - c",
    "a + b + c",
    "a if b else c",
    "(a, b, c)[a]",
    "(a, b, c)[a:b:c]",
    "'abc'[a]",
    "s + s",
    "s * a",
    "s[a:b]",
    "s < a",
    "min(a, b) + max(b, c)",
    "abs(a - b) <= 1e-3 * max(abs(a), abs(b))",
    "tol.x + a",
    "tol.nope",
    "tol.x(a)",
    "a.x",
    "a.f()",
    "unknown_name_here + 1",
    "true and (null == none)",
    "(a, b)[True]",
    "m[s]",
    "m['k'] + a",
]
VALUES = [None, 0, 1, -1, 2, 0.5, -0.0, 1e308, math.inf, -math.inf, math.nan, 2**63, True, False, "ab", (1, 2)]


@pytest.mark.parametrize("src", DIFFERENTIAL)
def test_compiled_and_interpreted_agree(src):
    interpreted = Expression(src, FUNCTIONS)
    interpreted._run = interpreted._compile(interpreted._tree)  # the closure interpreter, for ever
    compiled, fn = _compiled(src)
    compiled._run = fn
    tol = Namespace({"x": 7}, "tolerance")
    envs = []
    for i, a in enumerate(VALUES):
        for j, b in enumerate(VALUES):
            c = VALUES[(i * 7 + j * 3) % len(VALUES)]
            envs.append({"a": a, "b": b, "c": c, "s": ("xyz", None, "")[j % 3], "tol": tol, "m": {"k": 3, "xyz": a}})
    for env in envs:
        assert _outcome(compiled, env) == _outcome(interpreted, env), (src, env)


def test_the_switch_after_hot_evaluations_keeps_results(tmp_path):
    """The same condition on a lint of 42 operators: the first 32 interpreted, the rest compiled, every one the same
    answer (the node index decides, so a wrong compiled branch changes the count)."""
    where = _yaml_str("int(node.name[4:]) % 3 == 0 or (node.name[4:] == '41' and none)")
    result = _lint(tmp_path, where)
    names = sorted(f.node for f in result.findings if f.rule_id == "X902")
    assert names == sorted(f"relu{i}" for i in range(42) if i % 3 == 0)


def test_view_methods_after_the_switch_keep_results(tmp_path):
    """Compiled method calls take the views' m_NAME shortcut; the interpreter calls the f_NAME getter's result."""
    where = _yaml_str(
        "node.input(0).shape[1] == 8 and node.attr('alpha', 3) == 3 and not node.has_attr('alpha')"
        " and (len(node.consumers()) == 1 or node.output(0).name == 't41') and node.producer(5) == none"
    )
    result = _lint(tmp_path, where)
    assert len([f for f in result.findings if f.rule_id == "X902"]) == HOT_EVALUATIONS + 10
    assert not [n for n in result.notes if "X902" in n], result.notes


def test_too_deep_for_the_compiler_keeps_the_interpreter():
    depth = MAX_DEPTH + 5
    src = "".join(f"a{i} and (" for i in range(depth)) + "b" + ")" * depth
    e = Expression(src, FUNCTIONS)
    assert generate(e, e._helpers()) is None
    env = {f"a{i}": True for i in range(depth)}
    for b in [True, False, None] * HOT_EVALUATIONS:
        assert e.evaluate({**env, "b": b}) is b


def test_a_compiled_expression_cannot_reach_builtins():
    """The generated module's builtins are four names; a rule's name that spells a builtin is still a rule name."""
    e, fn = _compiled("open + len")
    e._run = fn
    with pytest.raises(EvalError, match="unknown name 'open'"):
        e.evaluate({})
    assert e.evaluate({"open": 1, "len": 2}) == 3


def test_rule_text_in_a_multiline_yaml_block_stays_a_value(tmp_path):
    pwned = tmp_path / "pwned2"
    where = textwrap.indent(f"node.name !=\n  '\\n\\nimport os; os.system(\"touch {pwned}\")'", "    ")
    rule = tmp_path / "r.yaml"
    rule.write_text(HEADER + "match:\n  op: Relu\n  where: |\n" + where + "\n")
    from precision_lint.api import Linter, Options

    result = Linter(Options(rule_dirs=(str(rule),), select=("X902",))).lint_file(_relu_model(tmp_path))
    assert len([f for f in result.findings if f.rule_id == "X902"]) == HOT_EVALUATIONS + 10
    assert not pwned.exists()
