"""Runs rules over a ModelGraph: anchor lookup by op, relation matching, estimates per format, findings."""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..results import LEVEL_RANK, Estimate, Finding
from ..model.graph import ModelGraph
from .views import Analysis, NodeView, TensorView
from .expr import EvalError, Expression, ExprError, Namespace, View
from .decide import level_for_formats
from .rule_checks import _TEMPLATE
from .rules import Matcher, Rule

# Matching work allowed per anchor node: a pathological pattern on a huge graph stops here instead of hanging.
MATCH_BUDGET = 20000
# A rule whose pattern runs out of MATCH_BUDGET on this many anchors is stopped for the model: one bad pattern on
# 100k anchors must not cost 100k budgets.  And a rule's total matching work on one model is bounded too.
MAX_BUDGET_OVERRUNS = 3
RULE_BUDGET_BASE = 100_000
RULE_BUDGET_PER_OPERATOR = 20  # the shipped rules take 1-2 steps per operator
# Failures of one rule on one model are reported once, with a count, not once per node.


class _Budget(Exception):
    pass


_LATE_WHERE: Dict[int, Tuple[Matcher, bool]] = {}


def _late_where(m: Matcher) -> bool:
    """Whether ``m.where`` names something bound further down the pattern (then it is checked last).  Computed
    once per matcher: walking bound_names() on every step was a large share of matching time."""
    hit = _LATE_WHERE.get(id(m))
    if hit is None or hit[0] is not m:
        late = m.where is not None and bool(m.where.names & set(n for n in m.bound_names() if n != m.bind))
        if len(_LATE_WHERE) > 10000:
            _LATE_WHERE.clear()
        hit = _LATE_WHERE[id(m)] = (m, late)
    return hit[1]


class _NoFloatConstant(View):
    """What ``node.widest_const`` and ``node.max_const_abs`` read on an operator without a float constant input."""

    FIELDS = frozenset({"widest_const", "max_const_abs"})

    def f_widest_const(self):
        return None

    def f_max_const_abs(self):
        return None


_NEEDS_FLOAT_CONSTANT: Dict[Tuple[int, Tuple[str, ...]], Tuple[Expression, bool]] = {}


def _needs_float_constant(prefilter: Expression, quick: Mapping[str, Any], node_names: Tuple[str, ...]) -> bool:
    """_find_needs_float_constant, once per condition (a rule's `quick` differs between models only in values the
    test never reads: the tolerances and the model's fields): it parses the conjunct again, about 0.15 ms."""
    key = (id(prefilter), node_names)
    hit = _NEEDS_FLOAT_CONSTANT.get(key)
    if hit is None or hit[0] is not prefilter:
        if len(_NEEDS_FLOAT_CONSTANT) > 10000:
            _NEEDS_FLOAT_CONSTANT.clear()
        hit = _NEEDS_FLOAT_CONSTANT[key] = (prefilter, _find_needs_float_constant(prefilter, quick, node_names))
    return hit[1]


def _find_needs_float_constant(prefilter: Expression, quick: Mapping[str, Any], node_names: Iterable[str]) -> bool:
    """Whether a pattern's condition is false, without reading anything else, on every operator without a float
    constant input: its first conjunct reads of the anchor only ``widest_const`` or ``max_const_abs`` (both none
    there), nothing else of any view, and is false (not unknown) then.  The three-valued ``and`` stops at a false
    conjunct, so the runner need not visit those operators: R001 and M002 anchor on every operator and 1.2k of the
    transformer's 14k have such an input.  ``quick`` is the environment the condition is evaluated in, and
    ``node_names`` the names bound to the anchor there."""
    tree = prefilter.tree
    first = tree.values[0] if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else tree
    try:
        conjunct = Expression(ast.unparse(first), prefilter.functions)
    except (ExprError, ValueError, RecursionError):
        return False
    whole, fields = conjunct.reads()
    node_names = set(node_names)
    if whole & node_names or any(base not in node_names for base, _ in conjunct.fields):
        return False  # the anchor read whole, or a field of something else: the stub below would not stand for it
    if not {attr for _, attr in fields} <= _NoFloatConstant.FIELDS:
        return False
    stub = _NoFloatConstant()
    env = dict(quick)
    env.update((n, stub) for n in node_names)
    try:
        v = conjunct.evaluate(env)
    except EvalError:
        return False
    return v is not None and not v


def _op_matches(m: Matcher, op) -> bool:
    """The matcher's ``op`` / ``source_op`` test, checked before anything is evaluated on the operator."""
    if m.ops is not None and "*" not in m.ops and op.op not in m.ops and op.source_op not in m.ops:
        return False
    return m.source_ops is None or op.source_op in m.source_ops


class Matching:
    def __init__(self, analysis: Analysis, base_env: Mapping[str, Any]):
        self.a = analysis
        self.g = analysis.graph
        self.base = base_env
        self.steps = 0

    def match(self, m: Matcher, node: NodeView, bindings: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        self.steps += 1
        if self.steps > MATCH_BUDGET:
            raise _Budget()
        if not _op_matches(m, node.operator):
            return None
        b = dict(bindings)
        if m.bind:
            b[m.bind] = node
        late_where = _late_where(m)
        if m.where is not None and not late_where and not self._holds(m.where, node, b):
            return None
        for rel, sub in m.relations:
            found = None
            for cand in self._candidates(rel, sub, node):
                found = self.match(sub, cand, b)
                if found is not None:
                    break
            if found is None:
                return None
            b = found
        for sub in m.all:
            found = self.match(sub, node, b)
            if found is None:
                return None
            b = found
        if m.any:
            for sub in m.any:
                found = self.match(sub, node, b)
                if found is not None:
                    b = found
                    break
            else:
                return None
        if m.not_ is not None and self.match(m.not_, node, b) is not None:
            return None
        if late_where and not self._holds(m.where, node, b):
            return None
        return b

    def _holds(self, expr, node: NodeView, bindings: Dict[str, Any]) -> bool:
        if bindings:
            env = dict(self.base)
            env.update(bindings)
        else:  # the common case: this anchor's own environment, reused (expressions never write to it)
            env = self.base
        env["node"] = node
        return bool(expr.evaluate(env))

    def _candidates(self, rel: str, sub: Matcher, node: NodeView) -> Iterable[NodeView]:
        g, op = self.g, node.operator
        if rel == "producer":
            if sub.input is not None:
                p = g.producer(op, sub.input)
                return [self.a.node(p)] if p is not None else []
            seen, out = set(), []
            for i in range(len(op.inputs)):
                p = g.producer(op, i)
                if p is not None and p.id not in seen:
                    seen.add(p.id)
                    out.append(self.a.node(p))
            return out
        if rel == "consumer":
            cons = sorted(g.consumers(op), key=lambda o: o.index)
            if sub.input is not None:
                outs = set(op.outputs)
                cons = [c for c in cons if -len(c.inputs) <= sub.input < len(c.inputs) and c.inputs[sub.input] in outs]
            return [self.a.node(c) for c in cons]
        direction = "up" if rel == "upstream" else "down"
        return (self.a.node(o) for o, _ in g.walk(op, direction, sub.depth, sub.through, limit=MATCH_BUDGET))


def _render_value(v: Any, spec: Optional[str]) -> str:
    if v is None:
        return "?"
    if isinstance(v, NodeView):
        return v.operator.name
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, tuple):
        return (
            "x".join(_render_value(x, None) for x in v)
            if all(isinstance(x, int) or x is None for x in v)
            else "[" + ", ".join(_render_value(x, spec) for x in v) + "]"
        )
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        try:
            text = format(v, spec or ".3g")
        except ValueError:  # an integer spec ({n:d}) on a value that turned out a float: render it, don't fail
            return format(v, ".3g")
        return _not_zero(v, spec, text) if spec and spec[-1:] in ("%", "f", "F") else text
    if spec:
        try:
            return format(v, spec)
        except (ValueError, TypeError):
            return str(v)
    return str(v)


def _not_zero(v: float, spec: str, text: str) -> str:
    """A fixed-point rendering of a value that is not zero but rounds to it ('0%' for 2 values of 2 million) as
    '<' and the last digit's unit ('<1%', '<0.01')."""
    if v == 0 or v != v or any(c in "123456789" for c in text):
        return text
    digits = re.search(r"\.(\d+)", spec)
    places = int(digits.group(1)) if digits else 6
    unit = 10.0 ** -(places + (2 if spec.endswith("%") else 0))
    return ("<" if v > 0 else ">-") + format(unit, f".{places}{spec[-1]}")


def _lookup(path: str, env: Mapping[str, Any]) -> Any:
    """``name`` or ``name.field.field``: fields go through the views' whitelists like expressions do."""
    head, *rest = path.split(".")
    value = env.get(head)
    for part in rest:
        if value is None:
            return None
        if not isinstance(value, View):
            return None
        value = value.get_field(part)
        if callable(value):
            return None
    return value


def render(template: str, env: Mapping[str, Any]) -> str:
    return _TEMPLATE.sub(lambda m: _render_value(_lookup(m.group(1), env), m.group(2)), template)


def _plain(v: Any) -> Any:
    if isinstance(v, NodeView):
        return v.operator.name
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


# Distinct estimate inputs remembered per run (a few hundred in a 14k-operator transformer): bounded for hostile graphs.
MEMO_LIMIT = 1 << 16
# Names the estimate loop sets itself (or that are fixed for the whole run): never part of the memo key.
_SET_BY_ESTIMATE = frozenset({"fmt", "err", "saturating", "tol", "unit"})
_PLAIN_SCALARS = (type(None), bool, int, str)


def _estimate_inputs(rule: Rule) -> Tuple[Tuple[str, str], ...]:
    """What a rule's estimates and levels read besides what the estimate loop sets (unless the rule defines that
    name itself): ``(name, "")`` for a name read whole, ``(name, field)`` for one read only as ``name.field``
    (``node.op``: the key holds the op, so candidates on different nodes can share an evaluation)."""
    whole, fields = set(), set()
    for e in (rule.estimate_value, rule.estimate_storage, *(e for _, e in rule.levels)):
        if e is not None:
            w, f = e.reads()
            whole |= w
            fields |= f
    fields = {f for f in fields if f[0] not in whole}
    inputs = {(n, "") for n in whole} | fields
    # a let (or a bound name) may take one of those names (`unit` is a valid let name): then it is an input
    defined = {name for name, _ in rule.let} | set(rule.match.bound_names())
    return tuple(sorted(i for i in inputs if i[0] not in _SET_BY_ESTIMATE or i[0] in defined))


def _reads_value_ranges(rule: Rule) -> bool:
    """Whether any expression of the rule reads a value range.  Such rules run first: the analysis computes a
    weight's own range and, right after, the norm of the linear layer it feeds, while the weight is the one value
    the graph keeps at hand (Tensor._recent); after rules that only read weights' statistics it read every
    weight of an external-data model from its file again (79 MB of the 95 MB transformer)."""
    exprs = [e for _, e in rule.let] + [e for _, e in rule.levels]
    exprs += [e for e in (rule.estimate_value, rule.estimate_storage) if e is not None]
    exprs += [c.when for c in rule.assumptions + rule.notes if c.when is not None]
    stack = [rule.match]
    while stack:
        m = stack.pop()
        if m.where is not None:
            exprs.append(m.where)
        stack += [sub for _, sub in m.relations] + m.all + m.any + ([m.not_] if m.not_ is not None else [])
    return any(field in TensorView.RANGE_FIELDS for e in exprs for _, field in e.fields)


def _split_lets(
    rule: Rule, inputs: Tuple[Tuple[str, str], ...]
) -> Tuple[Tuple[Tuple[str, Any], ...], Tuple[Tuple[str, Any], ...]]:
    """The rule's lets in two groups, each in declaration order: those its assumptions, estimates and levels read
    (directly or through other lets), evaluated for every candidate; and the rest (read by the message, the
    evidence and the notes), evaluated only for candidates that become findings.  Lets read only earlier lets and
    bound names, never what the estimate loop sets, so the second group sees what it always saw."""
    needed = {name for name, _ in inputs}  # what _estimate_inputs found
    for a in rule.assumptions:
        if a.when is not None:
            needed |= a.when.names
        needed |= {m.group(1).split(".")[0] for m in _TEMPLATE.finditer(a.text)}
    for name, e in reversed(rule.let):
        if name in needed:
            needed |= e.names
    early = tuple((n, e) for n, e in rule.let if n in needed)
    late = tuple((n, e) for n, e in rule.let if n not in needed)
    return early, late


def _memo_key(
    rule_id: str, conditional: bool, inputs: Tuple[Tuple[str, str], ...], env: Mapping[str, Any]
) -> Optional[tuple]:
    """The values ``inputs`` (see _estimate_inputs) have in ``env``, exactly (type and bits), when all are plain
    data; else None."""
    key: List[Any] = [rule_id, conditional]
    for name, field in inputs:
        v = env.get(name)
        if field and v is not None:
            if not isinstance(v, View):
                return None  # reading a field of it fails: the evaluation says so
            try:
                v = v.get_field(field)
            except EvalError:
                return None  # a field of another kind of view, on a branch the expression may never take
            if callable(v):
                return None
        k = _value_key(v)
        if k is None:
            return None
        key.append(k)
    return tuple(key)


def _value_key(v: Any) -> Optional[tuple]:
    t = type(v)
    if t in _PLAIN_SCALARS:
        return (t, v)
    if t is float:
        return (t, v.hex())  # exact: -0.0 and 0.0 apart (the expressions may tell them apart)
    if t is tuple or t is list:
        items = tuple(_value_key(x) for x in v)
        return None if None in items else (t, items)
    return None  # a view of the graph, a namespace, a numpy value: evaluated for each candidate


def rule_tolerances(rule: Rule, overrides: Mapping[str, float]) -> Dict[str, float]:
    """The tolerances one rule sees: its declared defaults, then a user's ``NAME=value`` (every rule that declares
    NAME), then ``RULE.NAME=value`` (that rule only; the more specific setting wins)."""
    values = rule.default_tolerances()
    for name in values:
        if name in overrides:
            values[name] = float(overrides[name])
    for name in values:
        qualified = f"{rule.id}.{name}"
        if qualified in overrides:
            values[name] = float(overrides[qualified])
    return values


class RuleRunner:
    def __init__(
        self,
        rules: Sequence[Rule],
        tolerances: Optional[Mapping[str, float]] = None,
        judged_formats: Sequence[str] = ("fp16",),
        keep: Optional[Callable[[str, str, str, Optional[int], Mapping[str, Any]], bool]] = None,
        keep_rules: Optional[frozenset] = None,
    ):
        self.rules = list(rules)
        # Each rule sees only its own tolerances: a user rule that declares `reduction_rel` cannot move A002's.
        self.rule_tolerances = {r.id: rule_tolerances(r, tolerances or {}) for r in self.rules}
        self.tolerances: Dict[str, float] = {}
        for values in self.rule_tolerances.values():
            self.tolerances.update(values)
        self.judged = tuple(judged_formats)
        # keep(rule_id, op, source_op, rank, evidence): candidates no format flags are kept when it says so (known kernel
        # bugs decide their level per target); keep_rules: the only rules it can say so of (None: any)
        self.keep = keep
        self.keep_rules = keep_rules
        # what each rule's estimates and levels read besides the format, the estimate and the tolerances: the values
        # that key the estimates' memo (see _estimates)
        self.estimate_inputs = {r.id: _estimate_inputs(r) for r in self.rules}
        self.lets = {r.id: _split_lets(r, self.estimate_inputs[r.id]) for r in self.rules}
        reads_ranges = [_reads_value_ranges(r) for r in self.rules]
        self.schedule = sorted(range(len(self.rules)), key=lambda i: not reads_ranges[i])  # stable otherwise

    def run(
        self, graph: ModelGraph, input_ranges=None, failed: Optional[List[str]] = None
    ) -> Tuple[List[Finding], List[str]]:
        """Every rule on ``graph``: the findings and notes, in the order of ``self.rules``.  Rules that read value
        ranges run first (see _reads_value_ranges); each rule's results are kept apart and put back in order.
        ``failed``, when given, also receives the notes of rules that failed to evaluate (a rule's bug, not the
        model's: the caller reports them as errors)."""
        analysis = Analysis(graph, self.tolerances, input_ranges)
        results: Dict[int, Tuple[List[Finding], List[str]]] = {}
        base = {
            "tol": Namespace(self.tolerances, "tolerance"),
            "model": Namespace(
                {"format": graph.format, "fp16_converted": bool(graph.metadata.get("fp16_converted"))}, "model field"
            ),
        }
        model_view = base["model"]
        memo: Dict[Any, Dict[str, Estimate]] = {}  # a rule's estimates by the values they read (see _estimates)
        for position in self.schedule:
            rule = self.rules[position]
            findings: List[Finding] = []
            notes: List[str] = []
            results[position] = findings, notes
            if graph.format not in rule.applies_to or not rule.match.can_match(graph.has_op):
                continue
            base = {"tol": Namespace(self.rule_tolerances[rule.id], "tolerance"), "model": model_view}
            if len(rule.anchor_ops) == 1:
                ordered = graph.by_op(rule.anchor_ops[0])  # in file order, each operator once
            else:
                anchors: Dict[str, Any] = {}
                for op_name in rule.anchor_ops:
                    for op in graph.by_op(op_name):
                        anchors.setdefault(op.id, op)
                ordered = sorted(anchors.values(), key=lambda o: o.index)
            # Names a pattern may bind are None until bound, so optional relations (`any`) read as unknown.
            unbound = {name: None for name in rule.match.bound_names()}
            rule_budget = RULE_BUDGET_BASE + RULE_BUDGET_PER_OPERATOR * len(graph)
            steps = overruns = 0
            failures: List[str] = []
            stopped = ""
            # The pattern's own condition, tried first in one reused environment: on rules anchored on every
            # operator it rejects almost every anchor, and the full match (which checks it again) is skipped.
            top = rule.match
            prefilter = top.where if top.where is not None and not _late_where(top) else None
            quick = dict(base, **unbound)
            node_names = ("anchor", "node", top.bind) if top.bind else ("anchor", "node")
            needed = (
                analysis.ops_with_float_constants()
                if prefilter is not None and _needs_float_constant(prefilter, quick, node_names)
                else None
            )
            for op in ordered:
                if stopped:
                    break
                if needed is not None and op.id not in needed and _op_matches(top, op):
                    steps += 1  # the condition is false here (see _needs_float_constant): counted as evaluated
                    if steps > rule_budget:
                        stopped = (
                            f"rule {rule.id} stopped on this model after {steps} matching steps (budget "
                            f"{rule_budget} for {len(graph)} operators); findings of this rule may be "
                            f"incomplete"
                        )
                    continue
                node = analysis.node(op)
                matching = None
                try:
                    if prefilter is not None and _op_matches(top, op):
                        quick["anchor"] = quick["node"] = node
                        if top.bind:
                            quick[top.bind] = node
                        if not prefilter.evaluate(quick):
                            steps += 1  # what the full match would have counted (it counts its own otherwise)
                            continue
                    matching = Matching(analysis, dict(base, anchor=node, **unbound))  # its own: _holds reuses it
                    bindings = matching.match(rule.match, node, {})
                    if bindings is None:
                        continue
                    env = dict(base, anchor=node, node=node, **unbound)
                    env.update(bindings)
                    f = self._finding(rule, graph, node, env, memo)
                except _Budget:
                    overruns += 1
                    if overruns >= MAX_BUDGET_OVERRUNS:
                        stopped = (
                            f"rule {rule.id} stopped on this model: its pattern exceeded the budget of "
                            f"{MATCH_BUDGET} matching steps per node on {overruns} nodes (last '{op.name}'); "
                            f"findings of this rule may be incomplete"
                        )
                        break
                    continue
                except EvalError as exc:
                    failures.append(f"node '{op.name}': {exc}")
                    continue
                finally:
                    steps += matching.steps if matching is not None else 0
                    if steps > rule_budget and not stopped:
                        stopped = (
                            f"rule {rule.id} stopped on this model after {steps} matching steps (budget "
                            f"{rule_budget} for {len(graph)} operators); findings of this rule may be "
                            f"incomplete"
                        )
                if f is not None:
                    findings.append(f)
            if overruns and not stopped:
                notes.append(
                    f"rule {rule.id} skipped {overruns} node(s): its pattern exceeded the budget of "
                    f"{MATCH_BUDGET} matching steps per node"
                )
            if stopped:
                notes.append(stopped)
            if failures:
                more = f" (and {len(failures) - 1} more node(s))" if len(failures) > 1 else ""
                notes.append(f"rule {rule.id} ({rule.source}) failed at {failures[0]}{more}")
                if failed is not None:
                    failed.append(notes[-1])
        analysis.release()
        return (
            [f for i in range(len(self.rules)) for f in results[i][0]],
            [n for i in range(len(self.rules)) for n in results[i][1]],
        )

    @staticmethod
    def _estimate(rule: Rule, expr, env: Dict[str, Any], fmt: str, conditional: bool, key: str) -> Estimate:
        fenv = dict(env, fmt=fmt)
        fenv.setdefault("saturating", False)  # true only for the 'fp16-sat' variant
        err = expr.evaluate(fenv) if expr is not None else None
        if isinstance(err, bool):
            err = float(err)
        fenv["err"] = err
        level = "none"
        if expr is not None and err is None:
            level = rule.unknown_level
        else:
            for lvl, e in rule.levels:
                if e.evaluate(fenv):
                    level = lvl
                    break
        if conditional and LEVEL_RANK[level] > LEVEL_RANK["warning"]:
            level = "warning"  # what the graph does not prove stays below error
        return Estimate(key, None if err is None else float(err), rule.estimate_unit, level)

    def _kept(self, rule: Rule, node: NodeView, env: Dict[str, Any]) -> bool:
        """Whether ``keep`` wants this candidate kept although no format flags it."""
        evidence = {k: _plain(env.get(k)) for k in rule.evidence}
        rank = len(evidence["input_shape"]) if isinstance(evidence.get("input_shape"), (list, tuple)) else None
        return self.keep(rule.id, node.operator.op, node.operator.source_op, rank, evidence)

    def _finding(
        self, rule: Rule, graph: ModelGraph, node: NodeView, env: Dict[str, Any], memo: Dict[Any, Any]
    ) -> Optional[Finding]:
        early, late = self.lets[rule.id]
        op = node.operator
        env["node_name"], env["op"], env["unit"] = op.name, op.op, rule.estimate_unit  # assumptions' texts read them
        for name, e in early:
            env[name] = e.evaluate(env)
        assumptions = tuple(render(a.text, env) for a in rule.assumptions if a.when is None or a.when.evaluate(env))
        # The estimates are a function of the values their expressions read: candidates that read the same values
        # (2,100 MatMuls with one K in a transformer) share one evaluation.  Values that are not plain data (views of
        # the graph) are never keys: those candidates are evaluated each.
        key = _memo_key(rule.id, bool(assumptions), self.estimate_inputs[rule.id], env)
        known = memo.get(key) if key is not None else None
        if known is not None:
            estimates = dict(known)
            for fmt in rule.formats:
                env[f"err_{fmt}"] = estimates[fmt].value
        else:
            estimates = self._estimates(rule, env, assumptions)
            if key is not None and len(memo) < MEMO_LIMIT:
                memo[key] = dict(estimates)
        if all(e.level == "none" for e in estimates.values()):
            if self.keep is None or (self.keep_rules is not None and rule.id not in self.keep_rules):
                return None  # most candidates end here, before the lets only messages and evidence read
            for name, e in late:
                env[name] = e.evaluate(env)
            if not self._kept(rule, node, env):
                return None
        else:
            for name, e in late:
                env[name] = e.evaluate(env)
        env.setdefault("err_fp16", None)
        env.setdefault("err_bf16", None)
        notes = tuple(render(n.text, env) for n in rule.notes if n.when is None or n.when.evaluate(env))
        finding = Finding(
            rule_id=rule.id,
            rule_name=rule.name,
            level="none",
            path=graph.path,
            node=op.name,
            op=op.op,
            source_op=op.source_op,
            failure_class=rule.failure_class,
            message=render(rule.message, env),
            fix=rule.fix,
            scope=op.scope,
            estimates=estimates,
            evidence={k: _plain(env.get(k)) for k in rule.evidence},
            assumptions=assumptions,
            notes=notes,
            judged_for=(),
            output=next((t for t in op.outputs if t), ""),  # the node's own tensor: names can repeat, tensors not
        )
        # The rule gives a level per format (its estimates); the finding's level is decided in engine/decide.py.
        return level_for_formats(finding, self.judged)

    def _estimates(self, rule: Rule, env: Dict[str, Any], assumptions: Tuple[str, ...]) -> Dict[str, Estimate]:
        """The rule's estimate and level per format (and its storage-only and saturating variants)."""
        estimates: Dict[str, Estimate] = {}
        for fmt in rule.formats:
            estimates[fmt] = self._estimate(rule, rule.estimate_value, env, fmt, bool(assumptions), fmt)
            env[f"err_{fmt}"] = estimates[fmt].value
            if rule.estimate_storage is not None:
                # Storage-only variant (fp16 storage, fp32 arithmetic: GPU Normal modes).  Kept out of the
                # judged level, which is about the format throughout; the recommender reads it.
                key = f"{fmt}-storage"
                estimates[key] = self._estimate(rule, rule.estimate_storage, env, fmt, bool(assumptions), key)
        if rule.saturation_sensitive and "fp16" in rule.formats:
            # fp32 -> fp16 saturating at +-65504 (ARMv8.2 CPU): the recommender uses it where the platform says so
            estimates["fp16-sat"] = self._estimate(
                rule, rule.estimate_value, dict(env, saturating=True), "fp16", bool(assumptions), "fp16-sat"
            )
        return estimates
