"""A small, safe expression language for rule conditions, estimates and levels.

Expressions use Python's syntax but are never handed to ``eval``: the text is parsed with ``ast`` and a whitelist of
node types is interpreted here.  Names resolve only to values the engine provides; calls reach only registered
functions; attribute access reaches only the fields a view object declares.  Sizes are bounded so that a rule file
from a pull request cannot run code, read files, or spin the linter.

Unknown values are ``None`` and propagate: ``None + 1`` is None, ``None > 3`` is None, and a condition that is None
does not match (rules that want otherwise say ``default(x, ...)`` or ``known(x)``).
"""
from __future__ import annotations

import ast
import re
import math
import operator
from typing import Any, Callable, Dict, Mapping, Optional

MAX_SOURCE = 2000
MAX_NODES = 400
MAX_SEQUENCE = 4096
MAX_POW_EXPONENT = 1024


class ExprError(ValueError):
    """An expression that is not valid in the rule language (raised at load time, with the offending text)."""


class EvalError(ValueError):
    """An expression that failed while evaluated on a model (a bug in the rule, reported with its id)."""


_BINOPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Compare,
    ast.IfExp, ast.Call, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Subscript, ast.Slice,
    ast.Attribute, *_BINOPS, *_CMPOPS,
)


class View:
    """Base for objects an expression may look into.  ``FIELDS`` lists the only attributes reachable."""

    FIELDS: frozenset = frozenset()

    def get_field(self, name: str) -> Any:
        if name not in self.FIELDS:
            raise EvalError(f"{type(self).__name__} has no field {name!r} (known: {', '.join(sorted(self.FIELDS))})")
        return getattr(self, "f_" + name)()


class Namespace(View):
    """A read-only mapping reachable with dots, e.g. ``tol.gridsample_px``."""

    def __init__(self, values: Mapping[str, Any], what: str):
        self._values = dict(values)
        self._what = what
        self.FIELDS = frozenset(self._values)

    def get_field(self, name: str) -> Any:
        if name not in self._values:
            raise EvalError(f"unknown {self._what} {name!r} (known: {', '.join(sorted(self._values)) or 'none'})")
        return self._values[name]


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Expression:
    """A parsed, validated expression.  ``names`` are the free names it uses, checked by the rule loader."""

    def __init__(self, source: Any, functions: Mapping[str, Callable[..., Any]]):
        if isinstance(source, bool) or _is_num(source):
            source = repr(source)
        if not isinstance(source, str):
            raise ExprError(f"an expression must be a string, not {type(source).__name__}")
        if len(source) > MAX_SOURCE:
            raise ExprError(f"expression longer than {MAX_SOURCE} characters")
        self.source = re.sub(r"\s*\n\s*", " ", source.strip())  # YAML folded/literal blocks span lines
        try:
            tree = ast.parse(self.source, mode="eval")
        except SyntaxError as exc:
            raise ExprError(f"syntax error in {self.source!r}: {exc.msg}") from None
        except (ValueError, RecursionError, MemoryError):  # NUL bytes; nesting the parser itself refuses
            raise ExprError(f"expression cannot be parsed (nests too deeply or holds NUL bytes): "
                            f"{self.source[:80]!r}") from None
        nodes = list(ast.walk(tree))
        if len(nodes) > MAX_NODES:
            raise ExprError(f"expression too large ({len(nodes)} syntax nodes, at most {MAX_NODES})")
        self.names = set()
        for n in nodes:
            if not isinstance(n, _ALLOWED):
                raise ExprError(f"{type(n).__name__} is not allowed in rule expressions: {self.source!r}")
            if isinstance(n, ast.Attribute) and n.attr.startswith("_"):
                raise ExprError(f"private attribute {n.attr!r} in {self.source!r}")
            if isinstance(n, ast.Call):
                if n.keywords:
                    raise ExprError(f"keyword arguments are not supported: {self.source!r}")
                if isinstance(n.func, ast.Name):
                    if n.func.id not in functions:
                        raise ExprError(f"unknown function {n.func.id!r} in {self.source!r}")
                elif not isinstance(n.func, ast.Attribute):
                    raise ExprError(f"only named functions and view methods can be called: {self.source!r}")
            if isinstance(n, ast.Constant) and not isinstance(n.value, (int, float, str, bool, type(None))):
                raise ExprError(f"constant of type {type(n.value).__name__} not allowed: {self.source!r}")
            if isinstance(n, ast.Name):
                self.names.add(n.id)
        # Function names are not free variables.
        for n in nodes:
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
                self.names.discard(n.func.id)
        self._tree = tree.body
        self._functions = functions

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        try:
            return self._eval(self._tree, env)
        except EvalError:
            raise
        except RecursionError:
            raise EvalError(f"expression nests too deeply: {self.source!r}") from None
        except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, OverflowError) as exc:
            raise EvalError(f"{type(exc).__name__} in {self.source!r}: {exc}") from None

    # ----- interpreter ----------------------------------------------------------------------------------------
    def _eval(self, n: ast.AST, env: Mapping[str, Any]) -> Any:  # noqa: C901 - one dispatch on node type
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            if n.id in env:
                return env[n.id]
            if n.id in ("true", "false", "none", "null"):
                return {"true": True, "false": False}.get(n.id)
            raise EvalError(f"unknown name {n.id!r} in {self.source!r}")
        if isinstance(n, ast.BoolOp):
            return self._boolop(n, env)
        if isinstance(n, ast.UnaryOp):
            v = self._eval(n.operand, env)
            if v is None:
                return None
            if isinstance(n.op, ast.Not):
                return not v
            if not _is_num(v):
                raise EvalError(f"unary minus on {type(v).__name__} in {self.source!r}")
            return -v if isinstance(n.op, ast.USub) else +v
        if isinstance(n, ast.BinOp):
            return self._binop(n, env)
        if isinstance(n, ast.Compare):
            return self._compare(n, env)
        if isinstance(n, ast.IfExp):
            test = self._eval(n.test, env)
            if test is None:
                return None
            return self._eval(n.body if test else n.orelse, env)
        if isinstance(n, (ast.List, ast.Tuple)):
            if len(n.elts) > MAX_SEQUENCE:
                raise EvalError("sequence literal too long")
            return tuple(self._eval(e, env) for e in n.elts)
        if isinstance(n, ast.Subscript):
            return self._subscript(n, env)
        if isinstance(n, ast.Attribute):
            base = self._eval(n.value, env)
            if base is None:
                return None
            if not isinstance(base, View):
                raise EvalError(f"{type(base).__name__} has no field {n.attr!r} in {self.source!r}")
            return base.get_field(n.attr)
        if isinstance(n, ast.Call):
            return self._call(n, env)
        raise EvalError(f"cannot evaluate {type(n).__name__}")  # unreachable: validated at parse time

    def _boolop(self, n: ast.BoolOp, env: Mapping[str, Any]) -> Optional[bool]:
        unknown = False
        for value_node in n.values:
            v = self._eval(value_node, env)
            if v is None:
                unknown = True
                continue
            if isinstance(n.op, ast.And) and not v:
                return False
            if isinstance(n.op, ast.Or) and v:
                return True
        if unknown:
            return None
        return isinstance(n.op, ast.And)

    def _binop(self, n: ast.BinOp, env: Mapping[str, Any]) -> Any:
        a = self._eval(n.left, env)
        b = self._eval(n.right, env)
        if a is None or b is None:
            return None
        op = type(n.op)
        if isinstance(a, str) and isinstance(b, str) and op is ast.Add:
            if len(a) + len(b) > MAX_SOURCE * 4:
                raise EvalError("string too long")
            return a + b
        if isinstance(a, tuple) and isinstance(b, tuple) and op is ast.Add:
            if len(a) + len(b) > MAX_SEQUENCE:
                raise EvalError("sequence too long")
            return a + b
        if not (_is_num(a) or isinstance(a, bool)) or not (_is_num(b) or isinstance(b, bool)):
            raise EvalError(f"arithmetic on {type(a).__name__} and {type(b).__name__} in {self.source!r}")
        if op is ast.Pow:
            if abs(b) > MAX_POW_EXPONENT:
                raise EvalError(f"exponent {b} too large in {self.source!r}")
            a = float(a)
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and b == 0:
            return math.inf if op is ast.Div and a else None
        try:
            return _BINOPS[op](a, b)
        except OverflowError:
            return math.inf

    def _compare(self, n: ast.Compare, env: Mapping[str, Any]) -> Optional[bool]:
        left = self._eval(n.left, env)
        for op, right_node in zip(n.ops, n.comparators):
            right = self._eval(right_node, env)
            if left is None or right is None:
                if type(op) in (ast.Eq, ast.NotEq):
                    ok = _CMPOPS[type(op)](left, right)
                else:
                    return None
            else:
                try:
                    ok = _CMPOPS[type(op)](left, right)
                except TypeError:
                    raise EvalError(f"cannot compare {type(left).__name__} with {type(right).__name__} "
                                    f"in {self.source!r}") from None
            if not ok:
                return False
            left = right
        return True

    def _subscript(self, n: ast.Subscript, env: Mapping[str, Any]) -> Any:
        base = self._eval(n.value, env)
        if base is None:
            return None
        if isinstance(n.slice, ast.Slice):
            parts = [None if p is None else self._eval(p, env) for p in (n.slice.lower, n.slice.upper, n.slice.step)]
            if not isinstance(base, (tuple, str)):
                raise EvalError(f"cannot slice {type(base).__name__}")
            return base[slice(*parts)]
        key = self._eval(n.slice, env)
        if key is None:
            return None
        if isinstance(base, (tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise EvalError(f"index must be an integer in {self.source!r}")
            if -len(base) <= key < len(base):
                return base[key]
            return None  # out of range reads as unknown: ranks vary between models
        if isinstance(base, Mapping):
            return base.get(key)
        raise EvalError(f"cannot index {type(base).__name__} in {self.source!r}")

    def _call(self, n: ast.Call, env: Mapping[str, Any]) -> Any:
        args = [self._eval(a, env) for a in n.args]
        if isinstance(n.func, ast.Name):
            return self._functions[n.func.id](*args)
        base = self._eval(n.func.value, env)
        if base is None:
            return None
        if not isinstance(base, View):
            raise EvalError(f"{type(base).__name__} has no method {n.func.attr!r} in {self.source!r}")
        method = base.get_field(n.func.attr)
        if not callable(method):
            raise EvalError(f"{n.func.attr!r} is a field, not a method, in {self.source!r}")
        return method(*args)
