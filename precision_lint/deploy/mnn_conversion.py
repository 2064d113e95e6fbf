"""Notes on ONNX findings about what MNN's converter does to the pattern (data: data/mnn_conversion.yaml).

A model linted as .onnx is often deployed as .mnn.  The converter fuses, folds and rewrites some patterns, so a
finding on the ONNX graph may not exist, or may look different, in the converted model; the note says which.
The patterns use the rule matcher, so they read like rules and are matched by the same engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Dict, List, Sequence, Set, Tuple

from ..results import Finding
from ..model.graph import ModelGraph, Operator
from ..resources import data_path

DATA = data_path("mnn_conversion.yaml")
NOTE_PREFIX = "MNN conversion:"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Conversion:
    id: str
    summary: str
    note: str
    matcher: object
    constant_subgraph: bool = False
    produces: Tuple[str, ...] = ()  # canonical ops the rewrite creates in the .mnn


@lru_cache(maxsize=1)
def conversions() -> Tuple[Conversion, ...]:
    from .. import safe_yaml
    from ..engine.rules import _matcher

    # shipped data: libyaml (the pure-Python parser took a tenth of a small model's lint)
    docs = safe_yaml.load(DATA.read_text(encoding="utf-8"), str(DATA), ValueError, shipped=True) or []
    out = []
    for i, d in enumerate(docs):
        where = f"{DATA.name}[{i}]"
        missing = {"id", "summary", "note", "match"} - set(d)
        if missing:
            raise ValueError(f"{where}: missing {sorted(missing)}")
        out.append(
            Conversion(
                d["id"],
                d["summary"],
                " ".join(d["note"].split()),
                _matcher(d["match"], where),
                bool(d.get("constant_subgraph")),
                tuple(d.get("produces", ())),
            )
        )
    return tuple(out)


class _Matcher:
    """Evaluates the conversion patterns on the operators of one ONNX graph."""

    def __init__(self, graph: ModelGraph):
        from ..engine.views import Analysis
        from ..engine.expr import Namespace

        self.graph = graph
        self.analysis = Analysis(graph, {})
        self.base = {
            "tol": Namespace({}, "tolerance"),
            "model": Namespace({"format": "onnx", "fp16_converted": False}, "model field"),
        }
        self.folded = _constant_ops(graph)

    def hits(self, op: Operator) -> List[Conversion]:
        from ..engine.expr import EvalError
        from ..engine.runner import Matching, _Budget

        node = self.analysis.node(op)
        out = []
        for c in conversions():
            if c.constant_subgraph and op.id not in self.folded:
                continue
            try:
                if Matching(self.analysis, dict(self.base, anchor=node)).match(c.matcher, node, {}) is not None:
                    out.append(c)
            except (EvalError, _Budget):
                continue
        return out


def add_notes(graph: ModelGraph, findings: Sequence[Finding]) -> List[Finding]:
    """``findings`` with MNN conversion notes added where the converter changes the finding's pattern."""
    if graph.format != "onnx" or not findings:
        return list(findings)
    matcher = _Matcher(graph)
    ops: Dict[Tuple[str, str], Operator] = {}
    for op in graph.operators():
        ops.setdefault((op.scope, op.name), op)
    out = []
    for f in findings:
        op = ops.get((f.scope, f.node))
        notes: List[str] = []
        if op is not None and f.failure_class != "converter":  # converter rules already say it
            for c in matcher.hits(op):
                notes.append(_PLACEHOLDER.sub(lambda m, attrs=op.attrs: str(attrs.get(m.group(1), "?")), c.note))
        new = [n for n in notes if n not in f.notes]
        out.append(replace(f, notes=tuple(f.notes) + tuple(new)) if new else f)
    matcher.analysis.release()
    return out


def rewrites_in(graph: ModelGraph) -> Dict[str, List[str]]:
    """{conversion id: names of the ONNX operators it rewrites} for a whole graph (tests and tooling)."""
    matcher = _Matcher(graph)
    out: Dict[str, List[str]] = {}
    for op in graph.operators():
        for c in matcher.hits(op):
            out.setdefault(c.id, []).append(op.name)
    matcher.analysis.release()
    return out


def _constant_ops(graph: ModelGraph) -> Set[str]:
    """Operators whose every input is a constant or computed only from constants (none reads a graph input)."""
    done: Set[str] = set()
    for op in graph.operators():  # file order is topological for ONNX and MNN
        ok = bool(op.inputs) and not op.scope
        for name in op.inputs:
            if not name:
                continue
            t = graph.tensors.get(name)
            if t is None or t.is_input or not (t.is_const or (t.producer in done)):
                ok = False
                break
        if ok and op.op not in (
            "If",
            "Loop",
            "Scan",
            "RandomUniform",
            "RandomNormal",
            "RandomUniformLike",
            "RandomNormalLike",
            "Multinomial",
        ):
            done.add(op.id)
    return done
