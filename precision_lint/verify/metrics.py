"""Error metrics of a target run against its reference, per tensor, and where in the graph the error starts.

- ``max_abs``: max |t - r| over elements finite in both.
- ``max_rel``: max_abs / max |r| (relative to the reference's largest magnitude: stable near zeros).
- ``rel_l2``: ||t - r|| / ||r|| over elements finite in both (the tolerance applies to this).
- ``nan`` / ``inf``: non-finite counts in the target; ``ref_nonfinite`` in the reference.
- ``top1``: for classifier-like outputs ([N, C] with C >= 2 from a MatMul/Gemm/Softmax-like head), the share of rows
  whose argmax agrees.
A tensor is *over* when rel_l2 exceeds the tolerance or the target has non-finite values the reference has not.
The origin of an error is a tensor that is over while every measured ancestor is within tolerance (networkx).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from ..results import nonfinite_text

DEFAULT_TOLERANCE = 1e-2  # rel-L2; fp16 storage alone gives about 3e-4


@dataclass(frozen=True)
class TensorError:
    name: str
    op: str  # canonical op of the producer ("" for a model input)
    node: str  # producer's name in the model file
    max_abs: float
    max_rel: float
    rel_l2: float
    nan: int
    inf: int
    ref_nonfinite: int
    top1: Optional[float]
    over: bool

    def summary(self) -> str:
        """A few words for a reason line: the rel-L2 of the finite values, and the non-finite ones (an output over
        tolerance only because fp16 overflowed to inf has a rel-L2 of 0 over what stayed finite)."""
        return f"rel-L2 {self.rel_l2:.3g}{nonfinite_text({'nan': self.nan, 'inf': self.inf})}"

    def to_dict(self) -> Dict:
        d = {
            "tensor": self.name,
            "node": self.node,
            "op": self.op,
            "max_abs": _num(self.max_abs),
            "max_rel": _num(self.max_rel),
            "rel_l2": _num(self.rel_l2),
            "nan": self.nan,
            "inf": self.inf,
            "ref_nonfinite": self.ref_nonfinite,
            "over_tolerance": self.over,
        }
        if self.top1 is not None:
            d["top1_agreement"] = _num(self.top1)
        return d


def _num(v: float):
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    return float(f"{v:.6g}")


def compare(
    name: str, target, reference, tolerance: float, op: str = "", node: str = "", classifier: bool = False
) -> TensorError:
    import numpy as np

    t = np.asarray(target, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if t.shape != r.shape:
        if t.size == r.size:
            t = t.reshape(r.shape)
        else:
            return TensorError(name, op, node, float("inf"), float("inf"), float("inf"), 0, 0, 0, None, True)
    fin_t, fin_r = np.isfinite(t), np.isfinite(r)
    both = fin_t & fin_r
    diff = np.abs(t[both] - r[both])
    ref = r[both]
    max_abs = float(diff.max()) if diff.size else 0.0
    peak = float(np.abs(ref).max()) if ref.size else 0.0
    max_rel = max_abs / peak if peak > 0 else (0.0 if max_abs == 0 else float("inf"))
    norm = float(np.linalg.norm(ref))
    rel_l2 = float(np.linalg.norm(diff)) / norm if norm > 0 else (0.0 if max_abs == 0 else float("inf"))
    nan, inf = int(np.isnan(t).sum()), int(np.isinf(t).sum())
    ref_bad = int((~fin_r).sum())
    top1 = None
    if classifier and r.ndim == 2 and r.shape[1] >= 2:
        top1 = float((t.argmax(axis=1) == r.argmax(axis=1)).mean())
    new_nonfinite = int((~fin_t & fin_r).sum())
    over = rel_l2 > tolerance or new_nonfinite > 0
    return TensorError(name, op, node, max_abs, max_rel, rel_l2, nan, inf, ref_bad, top1, over)


def origins(graph, errors: Dict[str, TensorError]) -> List[TensorError]:
    """Tensors over tolerance whose measured ancestors are all within it, in topological order.

    ``graph`` is the ModelGraph of the model that ran (its tensor names are the names measured)."""
    import networkx as nx

    g = _tensor_graph(graph)
    found = []
    for name in nx.lexicographical_topological_sort(g, key=lambda n: _order(graph, n)):
        e = errors.get(name)
        if e is None or not e.over:
            continue
        if not any(errors[a].over for a in nx.ancestors(g, name) if a in errors):
            found.append(e)
    return found


def tensor_depths(graph) -> Dict[str, int]:
    """Per tensor written by an operator: its depth, the longest chain of operators from the graph's inputs
    (1 for an operator that reads only inputs and constants), in topological order (networkx)."""
    import networkx as nx

    g = _tensor_graph(graph)
    written = {o for op in graph.operators() for o in op.outputs}
    depth: Dict[str, int] = {}
    for name in nx.topological_sort(g):
        before = [depth.get(p, 0) for p in g.predecessors(name)]
        depth[name] = (max(before, default=0) + 1) if name in written else 0
    return {k: v for k, v in depth.items() if k in written}


def _tensor_graph(graph):
    """Tensors as nodes, an edge from each non-constant input of an operator to each of its outputs."""
    import networkx as nx

    g = nx.DiGraph()
    for op in graph.operators():
        for out in op.outputs:
            g.add_node(out)
            for inp in op.inputs:
                t = graph.tensors.get(inp)
                if inp and t is not None and not t.is_const:
                    g.add_edge(inp, out)
    return g


def _order(graph, tensor: str):
    t = graph.tensors.get(tensor)
    op = graph.ops.get(t.producer) if t is not None and t.producer else None
    return (op.index if op is not None else -1, tensor)


# Producers of logits or class probabilities (ONNX spelling; MNN's fused forms read the same in the loaders).
CLASSIFIER_HEADS = frozenset({"MatMul", "Gemm", "Softmax", "LogSoftmax", "Flatten", "Reshape", "Squeeze", "Add"})


def classifier_like(shape: Sequence[int], producer: str = "MatMul", floating: bool = True) -> bool:
    """[N, C] float scores from a head-like op: top-1 agreement is meaningful (not for, say, a Sigmoid's
    [1, 4096], nor for integers: an int64 Add's argmax is no class)."""
    return floating and len(shape) == 2 and shape[1] >= 2 and producer in CLASSIFIER_HEADS
