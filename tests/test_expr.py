"""The rule expression language: Python-like syntax, compiled from a validated tree (no eval of rule text),
unknowns propagate."""

import pytest
from hypothesis import given, settings, strategies as st

from precision_lint.engine.functions import FUNCTIONS
from precision_lint.engine.expr import HOT_EVALUATIONS, EvalError, Expression, ExprError, View
from precision_lint.engine.expr_codegen import generate


def ev(src, **env):
    return Expression(src, FUNCTIONS).evaluate(env)


def test_arithmetic_comparisons_and_functions():
    assert ev("1 + 2 * 3") == 7
    assert ev("max(a, 3) > 2 and not b", a=1, b=False) is True
    assert ev("x if x > 0 else -x", x=-4) == 4
    assert ev("(1, 2, 3)[-1]") == 3
    assert ev("'fp16' in ('fp16', 'bf16')") is True
    assert ev("stored(2049, 'fp16')") == 2048.0


def test_unknown_propagates():
    assert ev("x + 1", x=None) is None
    assert ev("x > 3", x=None) is None
    assert ev("x > 3 and false", x=None) is False
    assert ev("x > 3 or true", x=None) is True
    assert ev("known(x)", x=None) is False
    assert ev("default(x, 7)", x=None) == 7
    assert ev("(1, 2)[5]") is None  # out of range reads as unknown


@pytest.mark.parametrize(
    "src",
    [
        "__import__('os')",
        "().__class__",
        "(lambda: 1)()",
        "[x for x in (1, 2)]",
        "open('/etc/passwd')",
        "a.__dict__",
        "x := 1",
        "f'{x}'",
        "{1: 2}",
        "eval('1')",
    ],
)
def test_rejected_at_parse_time(src):
    with pytest.raises(ExprError):
        Expression(src, FUNCTIONS)


def test_bounded_at_evaluation_time():
    with pytest.raises(EvalError):
        ev("10 ** 10 ** 10")
    with pytest.raises(EvalError):
        ev("'a' * 1000")
    with pytest.raises(ExprError):
        Expression("1" + " + 1" * 1000, FUNCTIONS)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(EvalError, match="unknown name 'nope'"):
        ev("nope + 1")


# ----- the compiled form against the interpreter ---------------------------------------------------------------


class _Box(View):
    FIELDS = frozenset({"size", "half", "scale", "items"})

    def __init__(self, size):
        self._size = size

    def f_size(self):
        return self._size

    def f_half(self):
        return None if self._size is None else self._size / 2

    def f_items(self):
        return (1, 2, 3)

    def m_scale(self, k):
        return None if self._size is None or k is None else self._size * k

    def f_scale(self):
        return self.m_scale


_ATOMS = [
    "a",
    "b",
    "c",
    "s",
    "t",
    "box",
    "nobox",
    "true",
    "none",
    "0",
    "1",
    "2.5",
    "-3",
    "1e308",
    "'x'",
    "(1, 2)",
    "missing",
]
_UNARY = [
    "-{}",
    "not {}",
    "+{}",
    "{}.size",
    "{}.half",
    "{}.scale(2)",
    "{}.items",
    "{}.nofield",
    "{}[1]",
    "{}[0:2]",
    "known({})",
    "default({}, 7)",
    "abs({})",
    "max({}, 1)",
    "({},)",
]
_BINARY = [
    "{} + {}",
    "{} - {}",
    "{} * {}",
    "{} / {}",
    "{} // {}",
    "{} % {}",
    "{} ** {}",
    "{} and {}",
    "{} or {}",
    "{} < {}",
    "{} == {}",
    "{} != {}",
    "{} >= {}",
    "{} in {}",
    "{} not in {}",
    "{} < {} <= 3",
    "{} if a else {}",
    "{} if {} else none",
    "{} and {} or c",
]


def _expressions():
    return st.recursive(
        st.sampled_from(_ATOMS),
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda x: x[0].format(x[1])),
            st.tuples(st.sampled_from(_BINARY), inner, inner, inner).map(lambda x: x[0].format(*x[1:])),
        ),
        max_leaves=8,
    )


def _outcome(expr, run, env):
    expr._run = run
    try:
        v = expr.evaluate(env)
    except EvalError as exc:
        return ("error", str(exc))
    return ("value", repr(v))


_ENV_VALUES = st.fixed_dictionaries(
    {
        "a": st.sampled_from([None, 0, 1, -2, 3.5, float("inf"), float("nan"), True, "x", (1, 2)]),
        "b": st.sampled_from([None, 0, 2, 1e308, -0.5, False, "xy", ()]),
        "c": st.sampled_from([None, 1, 2**62, 0.25]),
        "s": st.sampled_from(["ab", "", None]),
        "t": st.sampled_from([(1, None, 3), (), None]),
    }
)


@settings(max_examples=400, deadline=None)
@given(_expressions(), _ENV_VALUES)
def test_compiled_expressions_behave_as_the_interpreter(src, env):
    """Generated code must give the interpreter's value, or its error message, for any expression and values."""
    env = dict(env, box=_Box(4), nobox=_Box(None))
    try:
        expr = Expression(src, FUNCTIONS)
    except ExprError:
        return
    compiled = generate(expr, expr._helpers())
    assert compiled is not None
    assert _outcome(expr, compiled, env) == _outcome(expr, expr._compile(expr._tree), env)


def test_code_too_deep_to_compile_keeps_the_interpreter():
    src = "(" * 60 + "a if b else c" + " if b else c)" * 60
    expr = Expression(src, FUNCTIONS)
    assert generate(expr, expr._helpers()) is None
    assert expr.evaluate({"a": 1, "b": True, "c": 2}) == 1


def test_rule_text_never_reaches_the_generated_source(monkeypatch):
    """Names, fields and strings from a rule are values passed to the generated function, never source text."""
    seen = []
    real_compile = compile

    def spy(source, *args, **kwargs):
        seen.append(source)
        return real_compile(source, *args, **kwargs)

    import builtins

    monkeypatch.setattr(builtins, "compile", spy)
    src = "weird_name_xyz + 'payload__import__' if box.size > 3 else 0"
    expr = Expression(src, FUNCTIONS)
    for _ in range(HOT_EVALUATIONS + 1):  # interpreted first, compiled once hot
        assert expr.evaluate({"weird_name_xyz": "a", "box": _Box(4)}) == "apayload__import__"
    generated = [s for s in seen if isinstance(s, str) and "def evaluate" in s]
    assert generated and not any(w in generated[0] for w in ("weird_name_xyz", "payload", "size", "box"))


def test_reads_tells_names_read_whole_from_names_read_through_a_field():
    """What remembered estimates are keyed on: ``node`` read only as ``node.op`` keys on the op; a name also read
    whole, or through a method, keys on itself; function names are not inputs."""
    e = Expression("node.op == 'Sum' and axis_len(x, n) > 2 and y.dim(0) > y.rank and z.hi > z", FUNCTIONS)
    whole, fields = e.reads()
    assert whole == {"x", "n", "y", "z"}
    assert fields == {("node", "op")}
