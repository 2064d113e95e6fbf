"""The graph around a finding, read while the model is loaded (the Linter frees the graph right after linting).

* :func:`locate` gives every finding a searchable identity: the tensor its node writes and a short path from a graph
  input or a named ancestor (``/encoder/layer.0/attention/MatMul -> Div -> Add -> Softmax``), so a node named
  ``'6'`` can be found in Netron or in the converted model.
* :func:`neighbourhood` is the subgraph the HTML report draws: the node, its producers back to the inputs and
  constants that feed them, its consumers a few hops on, with shapes and dtypes on the edges, constant values or
  ranges, and long single-file chains collapsed into one box.  Plain JSON-ready data, bounded in size.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..results import Finding
from .graph import ModelGraph, Operator, Tensor

UP_DEPTH, UP_LIMIT = 8, 300  # producers: hops and operators
DOWN_DEPTH, DOWN_LIMIT = 3, 24  # consumers
PATH_HOPS = 8  # how far node_path looks for a named ancestor
CHAIN_MIN = 3  # runs of at least this many one-in one-out operators become one box
SMALL_CONST = 8  # constants with at most this many values show them
MAX_FINDINGS = 200  # neighbourhoods per model (a report with more is not read finding by finding)

_DTYPE = {
    "float32": "f32",
    "float16": "f16",
    "bfloat16": "bf16",
    "float64": "f64",
    "int64": "i64",
    "int32": "i32",
    "int8": "i8",
    "uint8": "u8",
    "bool": "bool",
}
_GENERATED = re.compile(r"[/_:.\-]*([A-Za-z]*?)[_:.\-]*\d*")


def find_operator(graph: ModelGraph, node: str, scope: str) -> Optional[Operator]:
    """The first operator in file order with this name in this scope (names repeat in hand-made files)."""
    hits = [op for op in graph.ops.values() if op.name == node and op.scope == scope]
    return min(hits, key=lambda op: op.index) if hits else None


def locate(graph: ModelGraph, findings: Sequence[Finding]) -> List[Finding]:
    """The findings with ``node_path`` and ``output`` filled in."""
    if not findings:
        return []
    by_name: Dict[Tuple[str, str], Operator] = {}
    wanted = {(f.scope, f.node) for f in findings}
    for op in graph.ops.values():  # one pass, no sort: the first in file order wins
        key = (op.scope, op.name)
        if key in wanted and (key not in by_name or op.index < by_name[key].index):
            by_name[key] = op
    out = []
    for f in findings:
        op = _producer(graph, f) or by_name.get((f.scope, f.node))
        if op is None:
            out.append(f)
            continue
        output = next((t for t in op.outputs if t), "")
        out.append(replace(f, node_path=node_path(graph, op), output=output))
    return out


def _producer(graph: ModelGraph, f: Finding) -> Optional[Operator]:
    """The operator that writes the finding's output tensor, when the rule runner recorded it and the name matches
    (two nodes may share a name; a tensor has one producer)."""
    t = graph.tensors.get(f.output) if f.output else None
    op = graph.ops.get(t.producer) if t is not None and t.producer is not None else None
    return op if op is not None and op.name == f.node and op.scope == f.scope else None


def is_generated(op: Operator) -> bool:
    """Whether the name says nothing a reader can search for: digits only, or the op type with a number."""
    m = _GENERATED.fullmatch(op.name or "")
    if m is None:
        return False
    word = m.group(1).lower()
    types = {op.op.lower(), *(p.lower() for p in re.split(r"[/_]", op.source_op or "") if p)}
    return word == "" or word in types


def node_path(graph: ModelGraph, op: Operator) -> str:
    """``anchor -> Op -> ... -> Op`` along the first non-constant input, from the nearest named ancestor or input."""
    chain = [op.op]
    cur, anchor = op, "…"
    for _ in range(PATH_HOPS):
        t = next((graph.tensors.get(n) for n in cur.inputs if n and not _const(graph, n)), None)
        if t is None:
            break
        producer = graph.ops.get(t.producer) if t.producer else None
        if producer is None:
            anchor = f"input {t.name}" if t.is_input else t.name
            break
        if not is_generated(producer):
            anchor = producer.name
            break
        chain.insert(0, producer.op)
        cur = producer
    if len(chain) > 5:
        chain = chain[:2] + ["…"] + chain[-2:]
    return " -> ".join([anchor] + chain)


def _const(graph: ModelGraph, name: str) -> bool:
    t = graph.tensors.get(name)
    return t is not None and t.is_const


# ----------------------------------------------------------------------------------------------- neighbourhood
def neighbourhoods(graph: ModelGraph, findings: Sequence[Finding]) -> Dict[str, Dict[str, Any]]:
    """fingerprint -> neighbourhood, for the findings with a level (the first MAX_FINDINGS)."""
    out: Dict[str, Dict[str, Any]] = {}
    for f in findings:
        if f.level == "none" or len(out) >= MAX_FINDINGS or f.fingerprint in out:
            continue
        op = find_operator(graph, f.node, f.scope)
        if op is not None:
            out[f.fingerprint] = neighbourhood(graph, op)
    return out


def neighbourhood(graph: ModelGraph, culprit: Operator) -> Dict[str, Any]:
    """``{"nodes": [...], "edges": [...], "cut": n}``.  A node: ``id``, ``kind`` (op, input, output, const, chain,
    more), ``label`` (op type or tensor name), ``name``, ``detail`` and ``culprit``; an edge: ``from``, ``to``,
    ``label`` (dtype and shape) and ``tensors``.  Ids are stable (file order), so the drawing is deterministic."""
    up = {o.id: d for o, d in graph.walk(culprit, "up", UP_DEPTH, limit=UP_LIMIT)}
    down = {o.id: d for o, d in graph.walk(culprit, "down", DOWN_DEPTH, limit=DOWN_LIMIT)}
    members = sorted({culprit.id, *up, *down}, key=lambda i: graph.ops[i].index)
    ids = {oid: f"o{k}" for k, oid in enumerate(members)}
    nodes: List[Dict[str, Any]] = []
    edges: Dict[Tuple[str, str], List[Tensor]] = {}
    extra: Dict[str, Dict[str, Any]] = {}  # inputs, constants, outputs, cut stubs by tensor name
    cut = 0
    for oid in members:
        op = graph.ops[oid]
        nodes.append(
            {
                "id": ids[oid],
                "kind": "op",
                "label": op.op,
                "name": op.name,
                "culprit": oid == culprit.id,
                "detail": op.source_op if op.source_op != op.op else "",
            }
        )
        expand = oid == culprit.id or oid in up  # inputs of consumers are not followed
        for name in op.inputs:
            t = graph.tensors.get(name) if name else None
            if t is None:
                continue
            if t.producer in ids:
                edges.setdefault((ids[t.producer], ids[oid]), []).append(t)
            elif not expand:
                continue
            elif t.is_const:
                near = oid == culprit.id or up.get(oid, 99) <= 1
                node = _const_node(t, len(extra), near)
                if node is not None:
                    extra.setdefault(t.name, node)
                    edges.setdefault((extra[t.name]["id"], ids[oid]), []).append(t)
            elif t.is_input or not t.producer:
                extra.setdefault(
                    t.name,
                    {
                        "id": f"x{len(extra)}",
                        "kind": "input",
                        "label": t.name,
                        "name": t.name,
                        "culprit": False,
                        "detail": _type(t),
                    },
                )
                edges.setdefault((extra[t.name]["id"], ids[oid]), []).append(t)
            else:  # produced outside the drawn part
                cut += 1
                key = f"\x00more:{oid}"
                extra.setdefault(
                    key,
                    {
                        "id": f"x{len(extra)}",
                        "kind": "more",
                        "label": "…",
                        "name": "",
                        "culprit": False,
                        "detail": "more producers",
                    },
                )
                edges.setdefault((extra[key]["id"], ids[oid]), []).append(t)
        for name in op.outputs:
            t = graph.tensors.get(name) if name else None
            if t is not None and t.is_output:
                key = f"\x00out:{name}"
                extra.setdefault(
                    key,
                    {
                        "id": f"x{len(extra)}",
                        "kind": "output",
                        "label": name,
                        "name": name,
                        "culprit": False,
                        "detail": _type(t),
                    },
                )
                edges.setdefault((ids[oid], extra[key]["id"]), []).append(t)
    nodes += list(extra.values())
    edge_list = [
        {"from": a, "to": b, "label": _edge_label(ts), "tensors": [t.name for t in ts]} for (a, b), ts in edges.items()
    ]
    nodes, edge_list = bundle_parallel(*collapse_chains(nodes, edge_list))
    return {"nodes": nodes, "edges": edge_list, "cut": cut, "operators": len(members)}


def collapse_chains(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]]) -> Tuple[list, list]:
    """Runs of CHAIN_MIN or more operators with one input edge and one output edge become one ``chain`` node."""
    ins: Dict[str, List[Dict[str, Any]]] = {n["id"]: [] for n in nodes}
    outs: Dict[str, List[Dict[str, Any]]] = {n["id"]: [] for n in nodes}
    for e in edges:
        outs[e["from"]].append(e)
        ins[e["to"]].append(e)
    by_id = {n["id"]: n for n in nodes}

    def linkable(nid: str) -> bool:
        n = by_id[nid]
        return n["kind"] == "op" and not n["culprit"] and len(ins[nid]) == 1 and len(outs[nid]) == 1

    gone = set()
    new_nodes: List[Dict[str, Any]] = []
    new_edges: List[Dict[str, Any]] = []
    for n in nodes:
        nid = n["id"]
        if nid in gone or not linkable(nid):
            continue
        prev = ins[nid][0]["from"]
        if linkable(prev):
            continue  # not the start of a run
        run = [nid]
        while True:
            nxt = outs[run[-1]][0]["to"]
            if not linkable(nxt) or nxt in run:
                break
            run.append(nxt)
        if len(run) < CHAIN_MIN:
            continue
        gone.update(run)
        ops = [by_id[r]["label"] for r in run]
        shown = ops if len(ops) <= 4 else ops[:2] + ["…"] + ops[-1:]
        chain = {
            "id": f"c{len(new_nodes)}",
            "kind": "chain",
            "label": f"{len(run)} ops: " + " → ".join(shown),
            "name": " → ".join(f"{by_id[r]['label']} {by_id[r]['name']}" for r in run),
            "culprit": False,
            "detail": "",
        }
        new_nodes.append(chain)
        first_in, last_out = ins[run[0]][0], outs[run[-1]][0]
        new_edges += [dict(first_in, to=chain["id"]), dict(last_out, **{"from": chain["id"]})]
    if not gone:
        return nodes, edges
    kept = [n for n in nodes if n["id"] not in gone] + new_nodes
    kept_edges = [e for e in edges if e["from"] not in gone and e["to"] not in gone] + new_edges
    return kept, kept_edges


def bundle_parallel(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]]) -> Tuple[list, list]:
    """CHAIN_MIN or more operators or chains with the same producers and the same consumers (parallel branches,
    heads) become one box: side by side they would make the drawing thousands of pixels wide."""
    preds: Dict[str, List[str]] = {n["id"]: [] for n in nodes}
    succs: Dict[str, List[str]] = {n["id"]: [] for n in nodes}
    for e in edges:
        succs[e["from"]].append(e["to"])
        preds[e["to"]].append(e["from"])
    groups: Dict[Tuple[Any, ...], List[Dict[str, Any]]] = {}
    for n in nodes:
        if n["kind"] in ("op", "chain") and not n["culprit"]:
            key = (tuple(sorted(set(preds[n["id"]]))), tuple(sorted(set(succs[n["id"]]))))
            groups.setdefault(key, []).append(n)
    merged: Dict[str, str] = {}
    bundles = []
    for members in groups.values():
        if len(members) < CHAIN_MIN:
            continue
        bid = f"b{len(bundles)}"
        ops = sum(int(m["label"].split(" ", 1)[0]) if m["kind"] == "chain" else 1 for m in members)
        kinds = list(dict.fromkeys(m["label"].split(": ", 1)[-1] for m in members))
        what = kinds[0] if len(kinds) == 1 else f"{kinds[0]}, …"
        bundles.append(
            {
                "id": bid,
                "kind": "chain",
                "label": f"{len(members)} parallel, {ops} ops: {what}",
                "name": " | ".join(m["name"] for m in members),
                "culprit": False,
                "detail": "",
            }
        )
        merged.update((m["id"], bid) for m in members)
    if not merged:
        return nodes, edges
    out_edges: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for e in edges:
        a, b = merged.get(e["from"], e["from"]), merged.get(e["to"], e["to"])
        if (a, b) in out_edges:
            known = out_edges[(a, b)]["tensors"]
            known += [t for t in e["tensors"] if t not in known]
        else:
            out_edges[(a, b)] = dict(e, **{"from": a, "to": b, "tensors": list(e["tensors"])})
    return [n for n in nodes if n["id"] not in merged] + bundles, list(out_edges.values())


def _type(t: Tensor) -> str:
    dtype = _DTYPE.get(t.dtype or "", t.dtype or "?")
    if t.shape is None:
        return dtype
    return f"{dtype}[{','.join('?' if d is None else str(d) for d in t.shape)}]"


def _edge_label(ts: Sequence[Tensor]) -> str:
    return " ".join(dict.fromkeys(_type(t) for t in ts))


def _const_node(t: Tensor, k: int, near: bool) -> Optional[Dict[str, Any]]:
    """A constant input: its values when there are few, else (next to the culprit) its range; None to leave out."""
    size = math.prod(d or 0 for d in t.shape) if t.shape is not None else None
    small = size is not None and size <= SMALL_CONST
    if not (small or near):
        return None
    detail = _type(t)
    try:
        if small and t.value is not None:
            values = [_g(float(v)) for v in t.value.ravel().tolist()]
            detail = (values[0] if len(values) == 1 else "[" + ", ".join(values) + "]") + f" {detail}"
        elif t.value is not None and t.value.dtype.kind in "iuf":
            from ..engine.constants import constant_stats

            s = constant_stats(t) or {}
            if "min" in s:
                detail = f"{detail} in [{_g(s['min'])}, {_g(s['max'])}]"
    except Exception:  # noqa: BLE001 - a constant that cannot be read is drawn without its values
        pass
    return {"id": f"x{k}", "kind": "const", "label": t.name, "name": t.name, "culprit": False, "detail": detail}


def _g(v: float) -> str:
    return f"{v:.4g}"


# ------------------------------------------------------------------------------------- MNN op <- ONNX node
def onnx_origins(results: Sequence[Any]) -> Dict[Tuple[str, str], Tuple[str, str]]:
    """(mnn path, finding fingerprint) -> (onnx path, onnx node name) for MNN findings whose node writes the same
    tensor as an ONNX finding's node in the ONNX file of the same stem linted in the same run (MNN's converter keeps
    tensor names; its op names are often numbers).  Only nodes with a finding in both files are matched."""
    import os

    onnx_by_stem: Dict[str, Any] = {}
    for r in results:
        if r.error is None and r.metadata.get("format") == "onnx":
            onnx_by_stem.setdefault(os.path.splitext(r.path)[0], r)
    out: Dict[Tuple[str, str], Tuple[str, str]] = {}
    for r in results:
        if r.error is not None or r.metadata.get("format") != "mnn":
            continue
        src = onnx_by_stem.get(os.path.splitext(r.path)[0])
        if src is None:
            continue
        by_output = {(g.scope, g.output): g.node for g in src.findings if g.output}
        for f in r.findings:
            node = by_output.get((f.scope, f.output)) if f.output else None
            if node is not None:
                out[(r.path, f.fingerprint)] = (src.path, node)
    return out
