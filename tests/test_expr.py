"""The rule expression language: Python-like syntax, interpreted, no eval, unknowns propagate."""
import pytest

from precision_lint.engine.context import FUNCTIONS
from precision_lint.engine.expr import EvalError, Expression, ExprError


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


@pytest.mark.parametrize("src", [
    "__import__('os')", "().__class__", "(lambda: 1)()", "[x for x in (1, 2)]", "open('/etc/passwd')",
    "a.__dict__", "x := 1", "f'{x}'", "{1: 2}", "eval('1')",
])
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
