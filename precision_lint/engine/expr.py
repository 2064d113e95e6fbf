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
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

MAX_SOURCE = 2000
MAX_NODES = 400
MAX_SEQUENCE = 4096
MAX_POW_EXPONENT = 1024
# Integers stay exact up to int64 (shapes, element counts, attributes); beyond that they continue as floats (inf past
# the float range).  Squaring an integer doubles its size: 30 chained squarings in a rule's `let` were 2^30-digit
# numbers that took minutes, and a 5000-digit result could not even be printed (Python's int_max_str_digits).
MAX_INT_BITS = 64
# Evaluations of one expression by the interpreter before it is compiled to Python code (see Expression._run).
HOT_EVALUATIONS = 32


class ExprError(ValueError):
    """An expression that is not valid in the rule language (raised at load time, with the offending text)."""


class EvalError(ValueError):
    """An expression that failed while evaluated on a model (a bug in the rule, reported with its id)."""


_BINOPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Subscript,
    ast.Slice,
    ast.Attribute,
    *_BINOPS,
    *_CMPOPS,
)


_ALLOWED_TYPES = frozenset(_ALLOWED)
_CONSTANT_TYPES = frozenset({int, float, str, bool, type(None)})


class View:
    """Base for objects an expression may look into.  ``FIELDS`` lists the only attributes reachable."""

    FIELDS: frozenset = frozenset()

    def get_field(self, name: str) -> Any:
        cls = type(self)
        getters = _GETTERS.get(cls)
        if getters is None:  # the whitelist as a table of functions, built once per class
            getters = _GETTERS[cls] = {n: getattr(cls, "f_" + n) for n in cls.FIELDS}
        getter = getters.get(name)
        if getter is None:
            raise EvalError(f"{cls.__name__} has no field {name!r} (known: {', '.join(sorted(self.FIELDS))})")
        return getter(self)


_GETTERS: Dict[type, Dict[str, Callable[[Any], Any]]] = {}


def _class_getter(cls: type, name: str) -> Optional[Callable[[Any], Any]]:
    """The whitelisted getter of field ``name`` on a View class that uses View.get_field (None otherwise: the
    caller then goes through ``get_field``, which also reports unknown fields)."""
    if cls.get_field is not View.get_field:
        return None
    getters = _GETTERS.get(cls)
    if getters is None:
        getters = _GETTERS[cls] = {n: getattr(cls, "f_" + n) for n in cls.FIELDS}
    return getters.get(name)


def _first_field_read(b: Any, attr: str, cache: Dict[type, Callable[[Any], Any]], src: str) -> Any:
    """``b.attr`` the first time an expression reads it from b's class (the interpreter and the compiled code alike):
    the checked read, and the class's getter kept in ``cache`` for the reads after it."""
    if not isinstance(b, View):
        raise EvalError(f"{type(b).__name__} has no field {attr!r} in {src!r}")
    getter = _class_getter(type(b), attr)
    if getter is not None:
        cache[type(b)] = getter
    return b.get_field(attr)


def _class_method(cls: type, name: str, src: str) -> Optional[Callable[..., Any]]:
    """``name`` of a View class as one function of (view, *args): the class's ``m_NAME`` when it defines one (no
    bound function made per call), else its whitelisted getter with the interpreter's field-or-method check.
    None for classes with their own ``get_field``."""
    getter = _class_getter(cls, name)
    if getter is None:
        return None
    direct = getattr(cls, "m_" + name, None)
    if direct is not None:
        return direct

    def call(view, *args):
        m = getter(view)
        if not callable(m):
            raise EvalError(f"{name!r} is a field, not a method, in {src!r}")
        return m(*args)

    return call


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


def _bounded(v: Any) -> Any:
    """``v`` with an integer beyond MAX_INT_BITS turned into a float: every value an expression makes is small."""
    if type(v) is int and v.bit_length() > MAX_INT_BITS:
        try:
            return float(v)
        except OverflowError:
            return math.inf if v > 0 else -math.inf
    return v


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
            raise ExprError(
                f"expression cannot be parsed (nests too deeply or holds NUL bytes): {self.source[:80]!r}"
            ) from None
        nodes = list(ast.walk(tree))
        self.size = len(nodes)  # an upper bound on the work of one evaluation (the language has no loops)
        if len(nodes) > MAX_NODES:
            raise ExprError(f"expression too large ({len(nodes)} syntax nodes, at most {MAX_NODES})")
        self.names = set()
        # (base, field) for every `name.field` and `anything.field`: base is the name, or None when the field is read
        # from a computed value.  The rule loader checks fields against the views, so typos fail at load time.
        self.fields = set()
        called = set()
        # One pass, by exact node type (the parser makes no subclasses; an unlisted type, subclass or not, is refused).
        for n in nodes:
            t = type(n)
            if t not in _ALLOWED_TYPES:
                raise ExprError(f"{t.__name__} is not allowed in rule expressions: {self.source!r}")
            if t is ast.Name:
                self.names.add(n.id)
            elif t is ast.Attribute:
                self.fields.add((n.value.id if type(n.value) is ast.Name else None, n.attr))
                if n.attr.startswith("_"):
                    raise ExprError(f"private attribute {n.attr!r} in {self.source!r}")
            elif t is ast.Call:
                if n.keywords:
                    raise ExprError(f"keyword arguments are not supported: {self.source!r}")
                if type(n.func) is ast.Name:
                    if n.func.id not in functions:
                        raise ExprError(f"unknown function {n.func.id!r} in {self.source!r}")
                    called.add(n.func.id)
                elif type(n.func) is not ast.Attribute:
                    raise ExprError(f"only named functions and view methods can be called: {self.source!r}")
            elif t is ast.Constant and type(n.value) not in _CONSTANT_TYPES:
                raise ExprError(f"constant of type {type(n.value).__name__} not allowed: {self.source!r}")
        self.names -= called  # function names are not free variables
        self._tree = tree.body
        self._functions = functions
        self._reads: Optional[Tuple[frozenset, frozenset]] = None  # see reads()

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    @property
    def tree(self) -> ast.AST:
        """The validated syntax tree (the body of the parsed expression)."""
        return self._tree

    @property
    def functions(self) -> Mapping[str, Callable[..., Any]]:
        """The functions the expression may call."""
        return self._functions

    def reads(self) -> Tuple[frozenset, frozenset]:
        """What the value depends on: (free names read whole, ``(name, field)`` pairs of names read only as
        ``name.field``, never whole nor through a method).  The rule runner keys remembered estimates on it."""
        if self._reads is None:
            self._reads = self._find_reads()
        return self._reads

    def _find_reads(self) -> Tuple[frozenset, frozenset]:
        calls = {id(n.func) for n in ast.walk(self._tree) if type(n) is ast.Call}
        as_field: Dict[int, Tuple[str, str]] = {}  # id of a Name node -> (name, field) it is read through
        for n in ast.walk(self._tree):
            if type(n) is ast.Attribute and type(n.value) is ast.Name and id(n) not in calls:
                as_field[id(n.value)] = (n.value.id, n.attr)
        whole, fields = set(), set()
        for n in ast.walk(self._tree):
            if type(n) is ast.Name and id(n) not in calls:
                if id(n) in as_field:
                    fields.add(as_field[id(n)])
                else:
                    whole.add(n.id)
        return frozenset(whole), frozenset(f for f in fields if f[0] not in whole)

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        try:
            v = self._run(env)
        except EvalError:
            raise
        except RecursionError:
            raise EvalError(f"expression nests too deeply: {self.source!r}") from None
        except (TypeError, ValueError, ArithmeticError, IndexError, KeyError, AttributeError) as exc:
            raise EvalError(f"{type(exc).__name__} in {self.source!r}: {exc}") from None
        return _bounded(v) if type(v) is int else v

    def _run(self, env: Mapping[str, Any]) -> Any:
        """Two tiers: the closure interpreter for the first HOT_EVALUATIONS evaluations (building it is cheap, and a
        small model evaluates most expressions a few times), then the expression compiled to one Python function
        (engine/expr_codegen.py: compiling costs ~0.2 ms, which pays only on large models).  Both give the same
        values and errors (tests/test_expr.py)."""
        interpret = self._compile(self._tree)
        calls = 0

        def warm(env: Mapping[str, Any]) -> Any:
            nonlocal calls
            calls += 1
            if calls >= HOT_EVALUATIONS:
                from .expr_codegen import generate

                self._run = generate(self, self._helpers()) or interpret  # type: ignore[method-assign]
            return interpret(env)

        self._run = warm  # type: ignore[method-assign]
        return warm(env)

    # ----- what the generated code calls: the interpreter's checks and messages, bound to this expression -----
    def _helpers(self) -> Dict[str, Any]:
        src = self.source

        def unknown_name(name):
            raise EvalError(f"unknown name {name!r} in {src!r}")

        def negate(v):
            if not _is_num(v):
                raise EvalError(f"unary minus on {type(v).__name__} in {src!r}")
            return -v

        def plus(v):
            if not _is_num(v):
                raise EvalError(f"unary minus on {type(v).__name__} in {src!r}")
            return +v

        def compare_error(left, right):
            raise EvalError(f"cannot compare {type(left).__name__} with {type(right).__name__} in {src!r}")

        def too_long():
            raise EvalError("sequence literal too long")

        def slice_(b, lower, upper, step):
            if not isinstance(b, (tuple, str)):
                raise EvalError(f"cannot slice {type(b).__name__}")
            return b[slice(lower, upper, step)]

        def field(b, attr, cache):
            return _first_field_read(b, attr, cache, src)

        def method(b, attr, cache):
            if not isinstance(b, View):
                raise EvalError(f"{type(b).__name__} has no method {attr!r} in {src!r}")
            direct = _class_method(type(b), attr, src)
            if direct is not None:
                cache[type(b)] = direct
            m = b.get_field(attr)
            if not callable(m):
                raise EvalError(f"{attr!r} is a field, not a method, in {src!r}")
            return m

        return {
            "bounded": _bounded,
            "unknown_name": unknown_name,
            "negate": negate,
            "plus": plus,
            "binop": self._binop,
            "compare_error": compare_error,
            "too_long": too_long,
            "max_sequence": MAX_SEQUENCE,
            "slice": slice_,
            "index": self._index_value,
            "field": field,
            "method": method,
        }

    # ----- interpreter ----------------------------------------------------------------------------------------
    # The validated tree is turned once into a tree of Python closures, one per syntax node (no eval, no code
    # objects: each closure is one of the fixed functions below).  This is the same interpreter as a recursive walk
    # over the AST, without the per-node type dispatch on every evaluation: rules anchored on every operator
    # evaluate their conditions tens of thousands of times per model.
    def _compile(self, n: ast.AST) -> Callable[[Mapping[str, Any]], Any]:  # noqa: C901 - one case per node type
        src = self.source
        if isinstance(n, ast.Constant):
            value = _bounded(n.value)
            return lambda env: value
        if isinstance(n, ast.Name):
            name = n.id
            special = {"true": True, "false": False, "none": None, "null": None}

            def name_(env):
                if name in env:
                    return env[name]
                if name in special:
                    return special[name]
                raise EvalError(f"unknown name {name!r} in {src!r}")

            return name_
        if isinstance(n, ast.BoolOp):
            values = [self._compile(v) for v in n.values]
            is_and = isinstance(n.op, ast.And)

            def boolop(env):
                unknown = False
                for f in values:
                    v = f(env)
                    if v is None:
                        unknown = True
                        continue
                    if is_and and not v:
                        return False
                    if not is_and and v:
                        return True
                if unknown:
                    return None
                return is_and

            return boolop
        if isinstance(n, ast.UnaryOp):
            operand = self._compile(n.operand)
            op = type(n.op)

            def unary(env):
                v = operand(env)
                if v is None:
                    return None
                if op is ast.Not:
                    return not v
                if not _is_num(v):
                    raise EvalError(f"unary minus on {type(v).__name__} in {src!r}")
                return -v if op is ast.USub else +v

            return unary
        if isinstance(n, ast.BinOp):
            left, right, op = self._compile(n.left), self._compile(n.right), type(n.op)
            return lambda env: self._binop(op, left(env), right(env))
        if isinstance(n, ast.Compare):
            first = self._compile(n.left)
            rest = [(type(o), self._compile(c)) for o, c in zip(n.ops, n.comparators)]
            return lambda env: self._compare(first(env), rest, env)
        if isinstance(n, ast.IfExp):
            test, body, orelse = self._compile(n.test), self._compile(n.body), self._compile(n.orelse)

            def ifexp(env):
                t = test(env)
                if t is None:
                    return None
                return body(env) if t else orelse(env)

            return ifexp
        if isinstance(n, (ast.List, ast.Tuple)):
            elts = [self._compile(e) for e in n.elts]
            too_long = len(elts) > MAX_SEQUENCE

            def seq(env):
                if too_long:
                    raise EvalError("sequence literal too long")
                return tuple(f(env) for f in elts)

            return seq
        if isinstance(n, ast.Subscript):
            base = self._compile(n.value)
            if isinstance(n.slice, ast.Slice):
                parts = [None if p is None else self._compile(p) for p in (n.slice.lower, n.slice.upper, n.slice.step)]

                def slice_(env):
                    b = base(env)
                    if b is None:
                        return None
                    bounds = [None if p is None else p(env) for p in parts]
                    if not isinstance(b, (tuple, str)):
                        raise EvalError(f"cannot slice {type(b).__name__}")
                    return b[slice(*bounds)]

                return slice_
            key = self._compile(n.slice)
            return lambda env: self._index(base(env), key, env)
        if isinstance(n, ast.Attribute):
            base, attr = self._compile(n.value), n.attr

            fast: Dict[type, Callable[[Any], Any]] = {}  # view class -> this field's getter, found once

            def attribute(env):
                b = base(env)
                if b is None:
                    return None
                getter = fast.get(type(b))
                if getter is not None:
                    return getter(b)
                return _first_field_read(b, attr, fast, src)

            return attribute
        if isinstance(n, ast.Call):
            args = [self._compile(a) for a in n.args]
            if isinstance(n.func, ast.Name):
                fn = self._functions[n.func.id]
                return lambda env: _bounded(fn(*[a(env) for a in args]))
            base, attr = self._compile(n.func.value), n.func.attr
            mfast: Dict[type, Callable[[Any], Any]] = {}

            def method(env):
                values = [a(env) for a in args]
                b = base(env)
                if b is None:
                    return None
                getter = mfast.get(type(b))
                if getter is not None:
                    m = getter(b)
                else:
                    if not isinstance(b, View):
                        raise EvalError(f"{type(b).__name__} has no method {attr!r} in {src!r}")
                    getter = _class_getter(type(b), attr)
                    if getter is not None:
                        mfast[type(b)] = getter
                    m = b.get_field(attr)
                if not callable(m):
                    raise EvalError(f"{attr!r} is a field, not a method, in {src!r}")
                return _bounded(m(*values))

            return method
        raise EvalError(f"cannot evaluate {type(n).__name__}")  # unreachable: validated at parse time

    def _binop(self, op: type, a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
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
            return _bounded(_BINOPS[op](a, b))
        except OverflowError:
            return math.inf

    def _compare(self, left: Any, rest, env: Mapping[str, Any]) -> Optional[bool]:
        for op, right_fn in rest:
            right = right_fn(env)
            if left is None or right is None:
                if op in (ast.Eq, ast.NotEq):
                    ok = _CMPOPS[op](left, right)
                else:
                    return None
            else:
                try:
                    ok = _CMPOPS[op](left, right)
                except TypeError:
                    raise EvalError(
                        f"cannot compare {type(left).__name__} with {type(right).__name__} in {self.source!r}"
                    ) from None
            if not ok:
                return False
            left = right
        return True

    def _index(self, base: Any, key_fn, env: Mapping[str, Any]) -> Any:
        if base is None:
            return None
        key = key_fn(env)
        if key is None:
            return None
        return self._index_value(base, key)

    def _index_value(self, base: Any, key: Any) -> Any:
        if isinstance(base, (tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise EvalError(f"index must be an integer in {self.source!r}")
            if -len(base) <= key < len(base):
                return base[key]
            return None  # out of range reads as unknown: ranks vary between models
        if isinstance(base, Mapping):
            return base.get(key)
        raise EvalError(f"cannot index {type(base).__name__} in {self.source!r}")
