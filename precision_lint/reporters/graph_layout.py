"""Layered (top-to-bottom) layout of a small directed graph, for drawing a finding's neighbourhood.

Graphviz ``dot`` lays it out when it is installed (a subprocess with a time bound); otherwise, or when dot fails,
a compact Sugiyama-style layout in pure Python: longest-path layers (sources moved down next to their first
consumer), dummy nodes on long edges, barycentre ordering sweeps, then x positions pulled towards the neighbours'
mean without overlaps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

Point = Tuple[float, float]
DOT_TIMEOUT = 5.0  # seconds
RANK_GAP, NODE_GAP, MARGIN = 46.0, 22.0, 12.0


@dataclass
class Layout:
    """Node centres and edge routes (polyline or cubic Bézier points) in pixels, y growing downwards."""

    width: float
    height: float
    centres: Dict[str, Point]
    routes: Dict[Tuple[str, str], List[Point]] = field(default_factory=dict)
    curved: bool = False  # routes are Bézier control points (dot) rather than a polyline
    engine: str = "python"


def layout(sizes: Dict[str, Tuple[float, float]], edges: Sequence[Tuple[str, str]], use_dot: bool = True) -> Layout:
    """``sizes``: node id -> (width, height); ``edges``: (from, to) pairs between those ids."""
    if use_dot and shutil.which("dot"):
        result = _dot_layout(sizes, edges)
        if result is not None:
            return result
    return layered_layout(sizes, edges)


# ------------------------------------------------------------------------------------------------ Graphviz dot
def _dot_layout(sizes: Dict[str, Tuple[float, float]], edges: Sequence[Tuple[str, str]]) -> Optional[Layout]:
    names = {nid: f"n{k}" for k, nid in enumerate(sizes)}  # dot sees no user text at all
    lines = [
        "digraph G {",
        f"graph [rankdir=TB, nodesep={NODE_GAP / 72:.3f}, ranksep={RANK_GAP / 72:.3f}];",
        'node [shape=box, fixedsize=true, label=""];',
    ]
    lines += [f"{names[n]} [width={w / 72:.3f}, height={h / 72:.3f}];" for n, (w, h) in sizes.items()]
    lines += [f"{names[a]} -> {names[b]};" for a, b in edges]
    lines.append("}")
    try:
        proc = subprocess.run(
            ["dot", "-Tjson0"], input="\n".join(lines), capture_output=True, text=True, timeout=DOT_TIMEOUT, check=False
        )
        if proc.returncode != 0:
            return None
        doc = json.loads(proc.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    try:
        _, _, bw, bh = (float(v) for v in doc["bb"].split(","))
        back = {v: k for k, v in names.items()}
        by_gvid: Dict[int, str] = {}
        centres: Dict[str, Point] = {}
        for obj in doc.get("objects", []):
            x, y = (float(v) for v in obj["pos"].split(","))
            centres[back[obj["name"]]] = (x + MARGIN, bh - y + MARGIN)
            by_gvid[obj["_gvid"]] = back[obj["name"]]
        routes: Dict[Tuple[str, str], List[Point]] = {}
        for e in doc.get("edges", []):
            a, b = by_gvid[e["tail"]], by_gvid[e["head"]]
            routes[(a, b)] = _dot_points(e["pos"], bh)
    except (KeyError, ValueError, TypeError):
        return None
    return Layout(bw + 2 * MARGIN, bh + 2 * MARGIN, centres, routes, curved=True, engine="dot")


def _dot_points(pos: str, bh: float) -> List[Point]:
    """dot's ``pos`` of an edge: optional ``e,x,y`` / ``s,x,y`` end points, then 3n+1 Bézier points."""
    end = None
    pts: List[Point] = []
    for part in pos.split():
        bits = part.split(",")
        if bits[0] == "e":
            end = (float(bits[1]) + MARGIN, bh - float(bits[2]) + MARGIN)
        elif bits[0] != "s":
            pts.append((float(bits[0]) + MARGIN, bh - float(bits[1]) + MARGIN))
    if end is not None:  # the spline stops where the arrowhead starts: end the line at the node
        pts += [pts[-1], end, end]
    return pts


# ----------------------------------------------------------------------------------------------- pure Python
def layered_layout(sizes: Dict[str, Tuple[float, float]], edges: Sequence[Tuple[str, str]], sweeps: int = 8) -> Layout:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(sizes)
    g.add_edges_from((a, b) for a, b in edges if a != b)
    for _ in range(len(g)):  # a malformed model's cycle: drop one edge of it at a time
        try:
            a, b = nx.find_cycle(g)[0][:2]
        except nx.NetworkXNoCycle:
            break
        g.remove_edge(a, b)
    order = list(nx.lexicographical_topological_sort(g, key=list(sizes).index))
    layer: Dict[str, int] = {}
    for n in order:  # longest path from the sources
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    for n in order:  # sources (inputs, constants) sit just above their first consumer, not all on top
        if g.in_degree(n) == 0 and g.out_degree(n):
            layer[n] = min(layer[s] for s in g.successors(n)) - 1
    # dummy nodes where an edge skips layers, so that it bends around the boxes in between
    chains: Dict[Tuple[str, str], List[str]] = {}
    width = dict((n, w) for n, (w, _) in sizes.items())
    for a, b in sorted(g.edges(), key=lambda e: (order.index(e[0]), order.index(e[1]))):
        path = [a]
        for k in range(layer[a] + 1, layer[b]):
            d = f"\x00{a}\x00{b}\x00{k}"
            layer[d], width[d] = k, 4.0
            path.append(d)
        chains[(a, b)] = path + [b]
    ranks: List[List[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]  # layers start at 0
    for n in order:
        ranks[layer[n]].append(n)
    for path in chains.values():
        for d in path[1:-1]:
            ranks[layer[d]].append(d)
    up: Dict[str, List[str]] = {n: [] for n in layer}
    down: Dict[str, List[str]] = {n: [] for n in layer}
    for path in chains.values():
        for x, y in zip(path, path[1:]):
            down[x].append(y)
            up[y].append(x)
    _order_by_barycentre(ranks, up, down, sweeps)
    xs = _x_positions(ranks, up, down, width)
    # y: each rank as tall as its tallest box
    heights = [max((sizes[n][1] for n in r if n in sizes), default=0.0) for r in ranks]
    ys, y = [], MARGIN
    for h in heights:
        ys.append(y + h / 2)
        y += h + RANK_GAP
    centres = {n: (xs[n], ys[layer[n]]) for n in layer}
    routes = {}
    for (a, b), path in chains.items():
        routes[(a, b)] = [centres[n] for n in path]
    total_w = max((xs[n] + width[n] / 2 for n in layer), default=0.0) + MARGIN
    return Layout(
        total_w,
        y - RANK_GAP + MARGIN if ranks else 2 * MARGIN,
        {n: c for n, c in centres.items() if n in sizes},
        routes,
    )


def _order_by_barycentre(
    ranks: List[List[str]], up: Dict[str, List[str]], down: Dict[str, List[str]], sweeps: int
) -> None:
    """Reorder each rank by the mean position of its neighbours in the rank above (then below), keeping the
    order that crossed least."""

    def crossings() -> int:
        total = 0
        for r in range(len(ranks) - 1):
            pos = {n: i for i, n in enumerate(ranks[r + 1])}
            lines = [(i, pos[m]) for i, n in enumerate(ranks[r]) for m in down[n]]
            total += sum(1 for k, (a, b) in enumerate(lines) for c, d in lines[k + 1 :] if (a - c) * (b - d) < 0)
        return total

    best, best_cross = [list(r) for r in ranks], crossings()
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        seq = range(1, len(ranks)) if downward else range(len(ranks) - 2, -1, -1)
        for r in seq:
            ref = ranks[r - 1] if downward else ranks[r + 1]
            pos = {n: i for i, n in enumerate(ref)}
            nbrs = up if downward else down
            cur = {n: i for i, n in enumerate(ranks[r])}

            def key(n: str, pos=pos, nbrs=nbrs, cur=cur) -> Tuple[float, int]:
                ps = [pos[m] for m in nbrs[n] if m in pos]
                return (sum(ps) / len(ps) if ps else float(cur[n]), cur[n])

            ranks[r].sort(key=key)
        c = crossings()
        if c < best_cross:
            best, best_cross = [list(r) for r in ranks], c
    ranks[:] = best


def _x_positions(
    ranks: List[List[str]],
    up: Dict[str, List[str]],
    down: Dict[str, List[str]],
    width: Dict[str, float],
    rounds: int = 6,
) -> Dict[str, float]:
    """Pack each rank left to right, then pull nodes towards their neighbours' mean x, keeping order and gaps."""
    xs: Dict[str, float] = {}
    for r in ranks:
        x = MARGIN
        for n in r:
            xs[n] = x + width[n] / 2
            x += width[n] + NODE_GAP
    for k in range(rounds):
        seq = ranks if k % 2 == 0 else ranks[::-1]
        for r in seq:
            want = []
            for n in r:
                nb = up[n] + down[n]
                want.append(sum(xs[m] for m in nb) / len(nb) if nb else xs[n])
            # one pass pushing right on overlap, one pushing left; their mean keeps the order and the gaps
            right: List[float] = []
            for i, n in enumerate(r):
                right.append(max(want[i], right[-1] + (width[r[i - 1]] + width[n]) / 2 + NODE_GAP) if i else want[i])
            left: List[float] = [0.0] * len(r)
            for i in range(len(r) - 1, -1, -1):
                gap = (width[r[i]] + width[r[i + 1]]) / 2 + NODE_GAP if i < len(r) - 1 else 0.0
                left[i] = min(want[i], left[i + 1] - gap) if i < len(r) - 1 else want[i]
            for n, a, b in zip(r, right, left):
                xs[n] = (a + b) / 2
    shift = min((xs[n] - width[n] / 2 for n in xs), default=MARGIN) - MARGIN
    return {n: x - shift for n, x in xs.items()}
