"""What a rule may name, checked when it loads: operator names some loader produces, the fields of views, the model
namespace and the tolerances the rule declares, message placeholders.  A typo is a load error naming the field,
never a rule that silently never fires."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional

from ..resources import data_path
from .expr import ExprError, Expression

if TYPE_CHECKING:  # rules.py imports this module
    from .rules import Matcher

_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,3})(?::([^{}]{0,16}))?\}")
_SPEC = re.compile(r"^[<>^=]?[+\- ]?#?0?\d{0,3}[,_]?(\.\d{1,2})?[eEfFgGdxXs%]?$")
# Names every expression may use without declaring them.
# `saturating`: true while the runner evaluates a rule's saturating variant (fp32 -> fp16 clamps at +-65504, as on
# ARMv8.2 CPUs); rules that read it get an extra estimate 'fp16-sat', used on platforms whose conversion saturates.
BUILTIN_NAMES = frozenset(
    {"node", "anchor", "tol", "fmt", "err", "model", "true", "false", "none", "null", "saturating"}
)
MODEL_FIELDS = frozenset({"format", "fp16_converted"})  # what the runner's `model` namespace holds
# What the runner sets only while it estimates per format (`fmt`, `saturating`) and judges a level (`err`): a
# `where`, `let`, `when` or message that reads one would read None, so they are known only in estimate and level.
FORMAT_NAMES = frozenset({"fmt", "saturating"})
LEVEL_NAMES = frozenset({"err"})
MATCH_NAMES = BUILTIN_NAMES - FORMAT_NAMES - LEVEL_NAMES  # in match, let, assumptions and notes
# What the runner sets for messages and notes.  A let may take `node_name`, `op` or `unit` (set before the lets, so the
# let wins everywhere), not the estimates (set after the lets), nor may a bound name take any of them.
ESTIMATE_NAMES = frozenset({"err_fp16", "err_bf16"})
RENDER_NAMES = frozenset({"node_name", "op", "unit"}) | ESTIMATE_NAMES


@lru_cache(maxsize=1)
def known_op_names() -> frozenset:
    """Every canonical op a loader can produce: ONNX's operator names (data/onnx_ops.txt), ONNX Runtime's contrib
    operators (data/ort_contrib_ops.txt) and the MNN loader's names (MNN op types kept as they are, BinaryOp/UnaryOp
    subtypes in TensorFlow spelling)."""
    from ..model.loaders import mnn_ops, mnn_schema
    from ..model.loaders.onnx_proto import listed_ops

    names = {op for _, op in listed_ops()}  # data/onnx_ops.txt, as the ONNX loader reads it
    contrib = data_path("ort_contrib_ops.txt")
    names |= {
        line.strip()
        for line in contrib.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    names |= set(mnn_schema.OP_TYPES.values())
    names |= {v[0] for v in mnn_ops.BINARY.values()} | {v[0] for v in mnn_ops.UNARY.values()}
    names |= set(mnn_ops.REDUCE.values()) | set(mnn_ops.ELTWISE.values()) | set(mnn_ops.RENAMED.values())
    names |= {f"BinaryOp/{n}" for n in mnn_schema.BINARY_OPS.values()}  # subtypes without a canonical name
    names |= {f"UnaryOp/{n}" for n in mnn_schema.UNARY_OPS.values()}
    return frozenset(names)


def check_ops(ops: Optional[frozenset], field_path: str) -> None:
    if not ops:
        return
    known = known_op_names()
    for name in sorted(ops):
        if name != "*" and name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ExprError(
                f"field {field_path}: no loader produces an operator named {name!r}{hint}; "
                f"match a custom or unmapped operator with source_op"
            )


def check_template(text: str, known: Iterable[str], field_path: str) -> None:
    known = set(known)
    # A brace group that is not a placeholder would be printed as it stands ({-x:.3g}): compute it in `let`.
    for group in re.findall(r"\{[^{}]*\}", text):
        if not _TEMPLATE.fullmatch(group):
            raise ExprError(
                f"field {field_path}: {group} is not a placeholder ({{NAME}}, {{NAME.field}} or "
                f"{{NAME:spec}}); compute expressions in `let`"
            )
    for m in _TEMPLATE.finditer(text):
        name, spec = m.group(1).split(".")[0], m.group(2)
        if any(part.startswith("_") for part in m.group(1).split(".")):
            raise ExprError(f"field {field_path}: private field in placeholder {{{m.group(1)}}}")
        if name not in known:
            raise ExprError(f"field {field_path}: unknown placeholder {{{name}}} (known: {', '.join(sorted(known))})")
        if spec is not None and not _SPEC.match(spec):
            raise ExprError(f"field {field_path}: invalid format spec {spec!r} in {{{m.group(0)}}}")


def check_expression(
    e: Expression,
    known: Iterable[str],
    field_path: str,
    tolerances: Iterable[str] = None,
    node_names: Iterable[str] = (),
) -> None:
    unknown = sorted(set(e.names) - set(known))
    if unknown:
        raise ExprError(f"field {field_path}: unknown name {unknown[0]!r} in {e.source!r}")
    _check_fields(e, field_path, tolerances, node_names)


def _check_fields(e: Expression, field_path: str, tolerances: Optional[Iterable[str]], node_names: Iterable[str]):
    """Field typos (``node.attrs``, ``tol.sum_rel_eror``) are load errors, not findings that silently never fire."""
    from .views import NodeView, TensorView

    nodes = {"node", "anchor"} | set(node_names)
    any_view = NodeView.FIELDS | TensorView.FIELDS
    for base, name in sorted(e.fields, key=lambda f: (f[0] or "", f[1])):
        if base == "tol":
            if tolerances is not None and name not in tolerances:
                raise ExprError(
                    f"field {field_path}: tol.{name} is not a tolerance this rule declares "
                    f"(declared: {', '.join(sorted(tolerances)) or 'none'}) in {e.source!r}"
                )
        elif base == "model":
            if name not in MODEL_FIELDS:
                raise ExprError(
                    f"field {field_path}: model has no field {name!r} (known: "
                    f"{', '.join(sorted(MODEL_FIELDS))}) in {e.source!r}"
                )
        elif base in nodes:
            if name not in NodeView.FIELDS:
                raise ExprError(
                    f"field {field_path}: an operator has no field {name!r} (known: "
                    f"{', '.join(sorted(NodeView.FIELDS))}) in {e.source!r}"
                )
        elif name not in any_view:
            raise ExprError(f"field {field_path}: no operator or tensor has a field {name!r} in {e.source!r}")


def check_names_in_matcher(
    m: Matcher, known: Iterable[str], path: str, tolerances: Iterable[str] = None, root: Optional[Matcher] = None
) -> None:
    # Inside a match, let names are not yet computed: only node/anchor/tol and bound names are visible.
    root = root or m
    visible = set(MATCH_NAMES) | set(m.bound_names())
    if m.where is not None:
        check_expression(m.where, visible | set(_all_bound(m)), f"{path}.where", tolerances, root.bound_names())
    for rel, sub in m.relations:
        check_names_in_matcher(sub, visible, f"{path}.{rel}", tolerances, root)
    for i, sub in enumerate(m.all):
        check_names_in_matcher(sub, visible, f"{path}.all.{i}", tolerances, root)
    for i, sub in enumerate(m.any):
        check_names_in_matcher(sub, visible, f"{path}.any.{i}", tolerances, root)
    if m.not_ is not None:
        check_names_in_matcher(m.not_, visible, f"{path}.not", tolerances, root)


def _all_bound(m: Matcher) -> List[str]:
    return m.bound_names()


def check_bound_names(m: Matcher, path: str = "match") -> Dict[str, str]:
    """The names a pattern binds, each with the field that binds it.  A name bound twice would make the second
    binding overwrite the first (or never be seen); only alternatives of one `any` may bind the same name (the
    first that matches binds it).  Built-in names cannot be bound: the pattern's value would hide them."""
    bound: Dict[str, str] = {}

    def add(names: Mapping[str, str]) -> None:
        for name, where in names.items():
            if name in bound:
                raise ExprError(f"field {where}: {name!r} is bound twice (also by {bound[name]})")
            bound[name] = where

    if m.bind:
        if m.bind in BUILTIN_NAMES | RENDER_NAMES:
            raise ExprError(f"field {path}.as: {m.bind!r} is a built-in name; choose another")
        add({m.bind: f"{path}.as"})
    for rel, sub in m.relations:
        add(check_bound_names(sub, f"{path}.{rel}"))
    for i, sub in enumerate(m.all):
        add(check_bound_names(sub, f"{path}.all.{i}"))
    alternatives: Dict[str, str] = {}
    for i, sub in enumerate(m.any):
        for name, where in check_bound_names(sub, f"{path}.any.{i}").items():
            alternatives.setdefault(name, where)
    add(alternatives)
    return bound  # a `not` binds nothing (it holds when its pattern does not match)
