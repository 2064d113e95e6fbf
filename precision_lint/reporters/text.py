"""Human output: one clickable line per finding (path: CODE [level] node 'name' (Op): message), a short precision
table per model, then a summary.  ``explain`` (--explain, -v) adds each finding's estimate, assumptions, notes and whole
fix, and the full recommendation with its reasons."""

from __future__ import annotations

import textwrap
from typing import Dict, List

from ..api import LintResult
from .base import Reporter, RunSummary
from .escape import terminal

_COLORS: Dict[str, str] = {
    "error": "\033[31m",
    "warning": "\033[33m",
    "info": "\033[36m",
    "dim": "\033[2m",
    "bold": "\033[1m",
}
_RESET = "\033[0m"
FIX_WIDTH = 110  # columns a wrapped fix may use (the finding lines themselves are never wrapped: they stay clickable)


class TextReporter(Reporter):
    def write(self, text: str = "") -> None:
        """Every line is escaped: names and paths cannot start a CI command or move the cursor."""
        self.stream.write(terminal(text, own_colours=bool(self.options.get("color"))) + "\n")

    def _c(self, key: str, text: str) -> str:
        if not self.options.get("color"):
            return text
        return f"{_COLORS[key]}{text}{_RESET}"

    def file(self, result: LintResult) -> None:
        super().file(result)
        quiet = self.options.get("quiet", False)
        if result.error is not None:
            return  # errors go to stderr from the CLI, one line each
        for f in result.reported:
            est = "; ".join(
                f"{fmt} {_fmt(e.value)}{(' ' + e.unit) if e.unit and e.value is not None else ''}"
                for fmt, e in f.labelled_estimates()
                if e.value is not None
            )
            where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
            line = f"{f.path}: {self._c('bold', f.rule_id)} [{self._c(f.level, f.level)}] {where} ({f.op}): {f.message}"
            self.write(line)
            if quiet or not self.options.get("explain"):
                continue
            details = []
            if est:
                details.append(f"estimate: {est}")
            details += [f"assumes: {a}" for a in f.assumptions]
            details += [f"note: {n}" for n in f.notes]
            details += list(f.measured_lines())
            if self.options.get("verbose") and (f.node_path or f.output):  # searchable identity (MNN names nodes "6")
                details.append(
                    "at: "
                    + " · ".join(
                        ([f.node_path] if f.node_path else []) + ([f"writes tensor '{f.output}'"] if f.output else [])
                    )
                )
            for d in details:
                self.write(self._c("dim", f"    {d}"))
            for line in wrap_fix(f.fix):
                self.write(self._c("dim", line))
        if self.options.get("verbose"):
            for n in result.notes:
                self.write(self._c("dim", f"{result.path}: note: {n}"))
        for section in self.options.get("text_sections", ()):
            section(self, result)

    def stop(self, summary: RunSummary) -> None:
        if self.options.get("quiet"):
            return
        c = summary.counts
        clean = not summary.unreadable and not summary.input_problems and not any(c.values())
        parts = [f"{'All checks passed: ' if clean else ''}{summary.files} file{'s' if summary.files != 1 else ''}"]
        if summary.unreadable:
            parts.append(f"{summary.unreadable} unreadable")
        parts += [
            f"{c.get('error', 0)} error{'s' if c.get('error', 0) != 1 else ''}",
            f"{c.get('warning', 0)} warning{'s' if c.get('warning', 0) != 1 else ''}",
            f"{c.get('info', 0)} info",
        ]
        if summary.suppressed:
            parts.append(f"{summary.suppressed} suppressed")
        if summary.baselined:
            parts.append(f"{summary.baselined} in the baseline")
        self.write(f"{', '.join(parts)} ({summary.judged_text()})")


def wrap_fix(fix: str, width: int = FIX_WIDTH) -> List[str]:
    """The whole fix, one paragraph per blank-line-separated block, wrapped under a `fix:` label."""
    lines: List[str] = []
    for block in (b for b in fix.strip().split("\n\n") if b.strip()):
        first = "    fix: " if not lines else "         "
        lines += textwrap.wrap(
            " ".join(block.split()), width, initial_indent=first, subsequent_indent=" " * 9, break_on_hyphens=False
        )
    return lines


def _fmt(v) -> str:
    if v is None:
        return "?"
    if isinstance(v, (int, float)):
        return f"{v:.3g}"  # inf and nan too
    return str(v)
