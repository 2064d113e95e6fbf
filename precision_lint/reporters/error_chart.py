"""Measured error along the graph as an inline SVG chart: relative error per node against its depth (log scale),
the tolerance drawn as a line, the first node over its tolerance marked.

Input: a list of ``{"node": str, "depth": int, "rel_error": float, "tolerance": float}`` (what a ``verify`` run
measures per node; ``op`` is optional).  Pure rendering: nothing is computed here but the axes.
"""

from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional, Sequence

from .escape import markup as escape

W, H = 720.0, 260.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 16.0, 40.0, 40.0
FLOOR = 1e-12  # exact matches (0 error) are drawn on the floor of the log axis


def first_over(points: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The shallowest node whose error exceeds its tolerance (ties: the order given)."""
    over = [p for p in points if _num(p.get("rel_error")) > _num(p.get("tolerance"), math.inf)]
    return min(over, key=lambda p: _num(p.get("depth"))) if over else None


def error_chart(points: Sequence[Mapping[str, Any]], title: str = "Measured relative error per node") -> str:
    pts = [p for p in points if p.get("rel_error") is not None and p.get("depth") is not None]
    if not pts:
        return ""
    errs = [max(_num(p["rel_error"]), FLOOR) for p in pts]
    tols = [_num(p.get("tolerance"), 0.0) for p in pts if _num(p.get("tolerance"), 0.0) > 0]
    finite = [e for e in errs + tols if math.isfinite(e)] or [1.0]
    lo = math.floor(math.log10(min(finite)))
    hi = math.ceil(math.log10(max(finite)))
    if hi <= lo:
        hi = lo + 1
    depths = [_num(p["depth"]) for p in pts]
    d0, d1 = min(depths), max(depths)
    if d1 <= d0:
        d1 = d0 + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(d: float) -> float:
        return LEFT + (d - d0) / (d1 - d0) * pw

    def y(e: float) -> float:
        e = min(max(e, 10.0**lo), 10.0**hi)  # inf is drawn at the top
        return TOP + (hi - math.log10(e)) / (hi - lo) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{W:.0f}" height="{H:.0f}" '
        f'viewBox="0 0 {W:.0f} {H:.0f}" role="img"><title>{escape(title)}</title>',
        f'<text class="ctitle" x="{LEFT:.0f}" y="15">{escape(title)}</text>',
    ]
    for k in range(lo, hi + 1):  # decades
        yy = y(10.0**k)
        out.append(
            f'<line class="grid" x1="{LEFT:.0f}" x2="{W - RIGHT:.0f}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6:.0f}" y="{yy + 4:.1f}" text-anchor="end">1e{k}</text>'
        )
    for d in sorted(set(_ticks(d0, d1))):
        out.append(f'<text class="tick" x="{x(d):.1f}" y="{H - BOTTOM + 16:.0f}" text-anchor="middle">{d:g}</text>')
    out.append(
        f'<text class="axis" x="{LEFT + pw / 2:.0f}" y="{H - 6:.0f}" text-anchor="middle">depth '
        f"(operators from the inputs)</text>"
    )
    out.append(
        f'<text class="axis" transform="translate(14 {TOP + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">relative error</text>'
    )
    # tolerance: a step line through the points' own tolerances, in depth order
    order = sorted(range(len(pts)), key=lambda i: (depths[i], i))
    tol_pts = [
        (x(depths[i]), y(_num(pts[i].get("tolerance"), 0.0))) for i in order if _num(pts[i].get("tolerance"), 0.0) > 0
    ]
    if tol_pts:
        out.append('<polyline class="tolerance" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in tol_pts) + '"/>')
        out.append(f'<text class="tick tol" x="{LEFT + 4:.0f}" y="{tol_pts[0][1] - 4:.1f}">tolerance</text>')
    out.append(
        '<polyline class="series" points="' + " ".join(f"{x(depths[i]):.1f},{y(errs[i]):.1f}" for i in order) + '"/>'
    )
    first = first_over(pts)
    for i in order:
        p = pts[i]
        over = _num(p["rel_error"]) > _num(p.get("tolerance"), math.inf)
        label = f"{p.get('node', '')} ({p.get('op', '')})" if p.get("op") else str(p.get("node", ""))
        out.append(
            f'<circle class="{"over" if over else "ok"}" cx="{x(depths[i]):.1f}" cy="{y(errs[i]):.1f}" '
            f'r="3"><title>{escape(label)}: {_fmt(p["rel_error"])} (tolerance '
            f"{_fmt(p.get('tolerance'))})</title></circle>"
        )
    if first is not None:
        fx, fy = x(_num(first["depth"])), y(max(_num(first["rel_error"]), FLOOR))
        # the label sits in the top margin, a dashed line down to the point: it never covers the series
        anchor = "end" if fx > LEFT + pw * 0.6 else "start"
        ly = TOP - 2
        out.append(
            f'<line class="leader" x1="{fx:.1f}" x2="{fx:.1f}" y1="{ly + 3:.1f}" y2="{fy - 7:.1f}"/>'
            f'<circle class="first" cx="{fx:.1f}" cy="{fy:.1f}" r="7"/>'
            f'<text class="first" x="{fx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">first over '
            f"tolerance: {escape(str(first.get('node', '')))}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _ticks(d0: float, d1: float) -> List[float]:
    step = max(1, math.ceil((d1 - d0) / 10))
    return [d0 + k * step for k in range(int((d1 - d0) // step) + 1)] + [d1]


def _num(v: Any, default: float = 0.0) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return default if f != f else f


def _fmt(v: Any) -> str:
    f = _num(v, math.nan)
    return "?" if f != f else f"{f:.3g}"
