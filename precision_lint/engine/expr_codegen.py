"""Rule expressions compiled to one Python function each, generated from the validated syntax tree.

The interpreter in expr.py turned each expression into a tree of closures: one Python call per syntax node, tens of
thousands of evaluations per large model.  Here the same semantics are written out as straight-line code, so an
evaluation is one call and the nodes are plain statements.

Why this is safe for rule files that come from pull requests: the generated source is made only of this module's
fixed templates, numbered temporaries (``t0``, ``t1``...) and numbered slots (``k0``, ``k1``...).  Every name, field,
string and number that comes from the rule is a *value* in a slot (a default argument of the generated function),
never text in the source; the syntax tree was validated by expr.Expression first (the same whitelist of node types,
registered functions only, view fields only).  Field and method access goes through the same whitelisted getters as
the interpreter, with the same error messages.

An expression whose generated code Python cannot compile (nesting beyond the compiler's limits) keeps the closure
interpreter: ``generate`` returns None.
"""

from __future__ import annotations

import ast
import itertools
from typing import Any, Callable, Dict, List, Mapping, Optional

# How deeply generated blocks may nest (Python's tokenizer allows 100 indentation levels); deeper expressions keep
# the interpreter.
MAX_DEPTH = 40

_SPECIAL = {"true": True, "false": False, "none": None, "null": None}
_BINOP_NAMES = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_CMP_SOURCE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


_NUMBERS = itertools.count(1)


class _TooDeep(Exception):
    pass


class _Generator:
    def __init__(self, expr: Any, helpers: Mapping[str, Any]):
        self.expr = expr
        self.helpers = helpers
        self.lines: List[str] = []
        self.depth = 1
        self.n_temps = 0
        self.slots: List[Any] = []

    # ----- output ---------------------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def temp(self) -> str:
        self.n_temps += 1
        return f"t{self.n_temps}"

    def slot(self, value: Any) -> str:
        self.slots.append(value)
        return f"k{len(self.slots) - 1}"

    def indent(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep()

    def dedent(self) -> None:
        self.depth -= 1

    # ----- nodes: each writes statements and returns the temporary (or slot) holding the value ---------------
    def emit(self, n: ast.AST) -> str:  # noqa: C901 - one case per node type, as the interpreter
        h = self.helpers
        if isinstance(n, ast.Constant):
            return self.slot(h["bounded"](n.value))
        r = self.temp()
        if isinstance(n, ast.Name):
            k = self.slot(n.id)
            if n.id in _SPECIAL:
                self.line(f"{r} = env[{k}] if {k} in env else {self.slot(_SPECIAL[n.id])}")
            else:
                self.line(f"{r} = env[{k}] if {k} in env else {self.slot(h['unknown_name'])}({k})")
            return r
        if isinstance(n, ast.BoolOp):
            is_and = isinstance(n.op, ast.And)
            decided = "False" if is_and else "True"
            self.line(f"{r} = {is_and}")
            opened = 0
            for i, value in enumerate(n.values):
                if i:
                    self.line(f"if {r} is not {decided}:")
                    self.indent()
                    opened += 1
                v = self.emit(value)
                self.line(f"if {v} is None:")
                self.line(f"    {r} = None")
                self.line(f"elif {'not ' if is_and else ''}{v}:")
                self.line(f"    {r} = {decided}")
            for _ in range(opened):
                self.dedent()
            return r
        if isinstance(n, ast.UnaryOp):
            v = self.emit(n.operand)
            if isinstance(n.op, ast.Not):
                self.line(f"{r} = None if {v} is None else not {v}")
            else:
                sign = self.slot(h["negate"] if isinstance(n.op, ast.USub) else h["plus"])
                self.line(f"{r} = None if {v} is None else {sign}({v})")
            return r
        if isinstance(n, ast.BinOp):
            a, b = self.emit(n.left), self.emit(n.right)
            general = f"{self.slot(h['binop'])}({self.slot(type(n.op))}, {a}, {b})"
            op = _BINOP_NAMES.get(type(n.op))
            if op is not None:  # float with float cannot fail or grow: the common case without the checks
                self.line(f"{r} = {a} {op} {b} if type({a}) is float and type({b}) is float else {general}")
            else:
                self.line(f"{r} = {general}")
            return r
        if isinstance(n, ast.Compare):
            self.line(f"{r} = True")
            left = self.emit(n.left)
            opened = 0
            for i, (op, comparator) in enumerate(zip(n.ops, n.comparators)):
                if i:
                    self.line(f"if {r} is True:")
                    self.indent()
                    opened += 1
                right = self.emit(comparator)
                test = f"{left} {_CMP_SOURCE[type(op)]} {right}"
                if isinstance(op, (ast.Eq, ast.NotEq)):
                    self.line(f"if {left} is None or {right} is None:")
                    self.line(f"    if not ({test}):")
                    self.line(f"        {r} = False")
                else:
                    self.line(f"if {left} is None or {right} is None:")
                    self.line(f"    {r} = None")
                self.line("else:")
                self.line("    try:")
                self.line(f"        if not ({test}):")
                self.line(f"            {r} = False")
                self.line("    except TypeError:")
                self.line(f"        {self.slot(h['compare_error'])}({left}, {right})")
                left = right
            for _ in range(opened):
                self.dedent()
            return r
        if isinstance(n, ast.IfExp):
            t = self.emit(n.test)
            self.line(f"if {t} is None:")
            self.line(f"    {r} = None")
            self.line(f"elif {t}:")
            self.indent()
            self.line(f"{r} = {self.emit(n.body)}")
            self.dedent()
            self.line("else:")
            self.indent()
            self.line(f"{r} = {self.emit(n.orelse)}")
            self.dedent()
            return r
        if isinstance(n, (ast.List, ast.Tuple)):
            if len(n.elts) > h["max_sequence"]:
                self.line(f"{self.slot(h['too_long'])}()")
            parts = [self.emit(e) for e in n.elts]
            self.line(f"{r} = ({''.join(p + ', ' for p in parts)})")
            return r
        if isinstance(n, ast.Subscript):
            base = self.emit(n.value)
            self.line(f"if {base} is None:")
            self.line(f"    {r} = None")
            self.line("else:")
            self.indent()
            if isinstance(n.slice, ast.Slice):
                bounds = [
                    self.slot(None) if p is None else self.emit(p) for p in (n.slice.lower, n.slice.upper, n.slice.step)
                ]
                self.line(f"{r} = {self.slot(h['slice'])}({base}, {', '.join(bounds)})")
            else:
                key = self.emit(n.slice)
                self.line(f"{r} = None if {key} is None else {self.slot(h['index'])}({base}, {key})")
            self.dedent()
            return r
        if isinstance(n, ast.Attribute):
            base = self.emit(n.value)
            cache = self.slot({})  # this site's view class -> getter, found once
            slow = self.slot(h["field"])
            attr = self.slot(n.attr)
            g = self.temp()
            self.line(f"if {base} is None:")
            self.line(f"    {r} = None")
            self.line("else:")
            self.line(f"    {g} = {cache}.get(type({base}))")
            self.line(f"    {r} = {g}({base}) if {g} is not None else {slow}({base}, {attr}, {cache})")
            return r
        if isinstance(n, ast.Call):
            args = [self.emit(a) for a in n.args]  # arguments first, then the callee: the interpreter's order
            bounded = self.slot(h["bounded"])
            if isinstance(n.func, ast.Name):
                fn = self.slot(self.expr._functions[n.func.id])
                self.line(f"{r} = {fn}({', '.join(args)})")
            else:
                base = self.emit(n.func.value)
                cache = self.slot({})  # view class -> the method's function, taking the view first
                slow = self.slot(h["method"])
                attr = self.slot(n.func.attr)
                m = self.temp()
                self.line(f"if {base} is None:")
                self.line(f"    {r} = None")
                self.line("else:")
                self.line(f"    {m} = {cache}.get(type({base}))")
                self.line(
                    f"    {r} = {m}({''.join(a + ', ' for a in [base, *args])}) if {m} is not None "
                    f"else {slow}({base}, {attr}, {cache})({', '.join(args)})"
                )
            self.line(f"if type({r}) is int:")
            self.line(f"    {r} = {bounded}({r})")
            return r
        raise ValueError(f"cannot compile {type(n).__name__}")  # unreachable: validated at parse time


def generate(expr: Any, helpers: Mapping[str, Any]) -> Optional[Callable[[Mapping[str, Any]], Any]]:
    """The expression as one function of ``env``, or None when its code would nest too deeply to compile."""
    gen = _Generator(expr, helpers)
    try:
        result = gen.emit(expr._tree)
    except (_TooDeep, RecursionError):
        return None
    params = "".join(f", k{i}=k{i}" for i in range(len(gen.slots)))
    source = "\n".join(
        [
            f"def make({', '.join(f'k{i}' for i in range(len(gen.slots)))}):",
            f"  def evaluate(env{params}):",
            *["  " + ln for ln in gen.lines],
            f"      return {result}",
            "  return evaluate",
        ]
    )
    try:
        # a name per function: profilers key functions by (file, line, name), and would merge every expression
        code = compile(source, f"<rule expression {next(_NUMBERS)}>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    # The builtins the templates use.  Not a sandbox (code pasted here could reach os.system through
    # object.__subclasses__ without any builtin): the safety is that rule text never becomes source.
    namespace: Dict[str, Any] = {"__builtins__": {"type": type, "float": float, "int": int, "TypeError": TypeError}}
    exec(code, namespace)  # noqa: S102 - our own templates; the rule's values are arguments (module docstring)
    return namespace["make"](*gen.slots)
