"""A finding's neighbourhood (neighbourhood.py) drawn as inline SVG: boxes for operators, inputs, outputs and
constants, tensor types on the edges, the culprit in red.  Every name is escaped: model files are hostile."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from .escape import markup as escape
from .graph_layout import Layout, layout

CHAR_W, LINE_H, PAD = 6.7, 14.0, 8.0  # 11px monospace
LABEL_CHAR_W = 6.1  # edge labels: 10px monospace
MAX_CHARS = 34
_STYLE = {  # kind -> css class; colours are in the report's stylesheet
    "op": "op",
    "input": "io",
    "output": "io",
    "const": "const",
    "chain": "chain",
    "more": "more",
}


def shorten(text: str, limit: int = MAX_CHARS) -> str:
    """Long names keep their start and end (``/encoder/layer.0/…/Softmax``)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 5
    return text[:head] + "…" + text[-(limit - 1 - head) :]


def _lines(n: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """(css class, text) lines of a node's box."""
    kind = n["kind"]
    if kind == "op":
        out = [("t", n["label"])]
        if n.get("name"):
            out.append(("n", shorten(n["name"])))
        if n.get("detail"):
            out.append(("d", shorten(n["detail"])))
        return out
    if kind in ("input", "output"):
        return [("t", f"{kind} {shorten(n['label'], MAX_CHARS - 7)}"), ("d", shorten(n.get("detail", "")))]
    if kind == "const":
        return [("n", shorten(n["label"])), ("d", shorten(n.get("detail", ""), 44))]
    if kind == "chain":
        return [("t", shorten(n["label"], 48)), ("d", "collapsed (hover for the names)")]
    return [("d", n.get("detail") or "…")]


def _size(lines: Sequence[Tuple[str, str]]) -> Tuple[float, float]:
    return (max(len(t) for _, t in lines) * CHAR_W + 2 * PAD, len(lines) * LINE_H + PAD)


def draw(hood: Mapping[str, Any], uid: str, use_dot: bool = True) -> str:
    """The SVG element (a string) for one neighbourhood; ``uid`` keeps marker ids unique in the page."""
    nodes = hood["nodes"]
    lines = {n["id"]: _lines(n) for n in nodes}
    sizes = {nid: _size(ls) for nid, ls in lines.items()}
    pairs = [(e["from"], e["to"]) for e in hood["edges"]]
    lay = layout(sizes, pairs, use_dot=use_dot)
    w, h = lay.width, lay.height
    right = w
    out: List[str] = []
    labels = []
    labelled = set()  # one label per tensor type leaving a node: its edges carry the same tensor
    kinds = {n["id"]: n["kind"] for n in nodes}
    for e in hood["edges"]:
        pts = _route(lay, sizes, e["from"], e["to"])
        if not pts:
            continue
        out.append(
            f'<path class="edge" d="{_path(pts, lay.curved)}" marker-end="url(#arrow-{uid})">'
            f"<title>{escape(', '.join(e.get('tensors', [])))}</title></path>"
        )
        source_kind = kinds.get(e["from"])  # inputs and constants show their type in their box
        if e.get("label") and source_kind not in ("input", "const", "more") and (e["from"], e["label"]) not in labelled:
            labelled.add((e["from"], e["label"]))
            x, y = _near_start(pts)
            right = max(right, x + 4 + len(shorten(e["label"], 40)) * LABEL_CHAR_W + PAD)
            labels.append(f'<text class="elabel" x="{x + 4:.1f}" y="{y:.1f}">{escape(shorten(e["label"], 40))}</text>')
    out += labels
    for n in nodes:
        cx, cy = lay.centres[n["id"]]
        bw, bh = sizes[n["id"]]
        cls = "node " + _STYLE.get(n["kind"], "op") + (" culprit" if n.get("culprit") else "")
        title = " ".join(
            x for x in (n["label"], n.get("name") if n.get("name") != n["label"] else "", n.get("detail", "")) if x
        )
        out.append(
            f'<g class="{cls}" data-node="{escape(n.get("name") or n["label"])}">'
            f"<title>{escape(title)}</title>"
            f'<rect x="{cx - bw / 2:.1f}" y="{cy - bh / 2:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
            f'rx="{9 if n["kind"] in ("input", "output") else 3}"/>'
        )
        y = cy - bh / 2 + PAD / 2 + LINE_H - 3
        for css, text in lines[n["id"]]:
            out.append(f'<text class="{css}" x="{cx:.1f}" y="{y:.1f}">{escape(text)}</text>')
            y += LINE_H
        out.append("</g>")
    w = max(w, right)  # edge labels may reach past the rightmost box
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="0 0 {w:.1f} {h:.1f}" role="img" data-layout="{lay.engine}">',
        f'<defs><marker id="arrow-{uid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="arrowhead"/></marker></defs>',
    ]
    return "\n".join(head + out + ["</svg>"])


def _route(lay: Layout, sizes: Dict[str, Tuple[float, float]], a: str, b: str) -> List[Tuple[float, float]]:
    pts = list(lay.routes.get((a, b), ()))
    if not pts:
        return []
    if not lay.curved:  # centre to centre: start at the box's bottom, end at the next box's top
        pts[0] = (pts[0][0], pts[0][1] + sizes[a][1] / 2)
        pts[-1] = (pts[-1][0], pts[-1][1] - sizes[b][1] / 2 - 1)
    return pts


def _path(pts: Sequence[Tuple[float, float]], curved: bool) -> str:
    head = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
    if curved and len(pts) >= 4 and (len(pts) - 1) % 3 == 0:
        return head + "".join(
            f"C{pts[i][0]:.1f},{pts[i][1]:.1f} {pts[i + 1][0]:.1f},{pts[i + 1][1]:.1f} "
            f"{pts[i + 2][0]:.1f},{pts[i + 2][1]:.1f}"
            for i in range(1, len(pts) - 2, 3)
        )
    if len(pts) == 2:
        return head + f"L{pts[1][0]:.1f},{pts[1][1]:.1f}"
    # a polyline through dummy nodes: vertical tangents make it read as a flowing line
    d = head
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        my = (y0 + y1) / 2
        d += f"C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}"
    return d


def _near_start(pts: Sequence[Tuple[float, float]]) -> Tuple[float, float]:
    """Where a label sits: just below the source box, beside the line (labels by the target collide where edges
    converge)."""
    (x0, y0), (x1, y1) = pts[0], pts[1] if len(pts) > 1 else pts[0]
    t = min(1.0, 14.0 / max(abs(y1 - y0), 1.0))
    return (x0 + (x1 - x0) * t, y0 + 12.0)
