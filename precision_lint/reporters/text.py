"""Human output: one clickable line per finding (path: CODE [level] node 'name' (Op): message), then a summary."""
from __future__ import annotations

from typing import Dict

from ..api import LintResult
from .base import Reporter, RunSummary
from .escape import terminal

_COLORS: Dict[str, str] = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "dim": "\033[2m",
                           "bold": "\033[1m"}
_RESET = "\033[0m"


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
            est = "; ".join(f"{fmt} {_fmt(e.value)}{(' ' + e.unit) if e.unit and e.value is not None else ''}"
                            for fmt, e in f.labelled_estimates() if e.value is not None)
            where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
            line = (f"{f.path}: {self._c('bold', f.rule_id)} [{self._c(f.level, f.level)}] {where} ({f.op}): "
                    f"{f.message}")
            self.write(line)
            if quiet:
                continue
            details = []
            if est:
                details.append(f"estimate: {est}")
            details += [f"assumes: {a}" for a in f.assumptions]
            details += [f"note: {n}" for n in f.notes]
            details.append(f"fix: {f.fix.splitlines()[0]}")
            for d in details:
                self.write(self._c("dim", f"    {d}"))
        if self.options.get("verbose"):
            for n in result.notes:
                self.write(self._c("dim", f"{result.path}: note: {n}"))
        for section in self.options.get("text_sections", ()):
            section(self, result)

    def stop(self, summary: RunSummary) -> None:
        if self.options.get("quiet"):
            return
        c = summary.counts
        parts = [f"{summary.files} file{'s' if summary.files != 1 else ''}"]
        if summary.unreadable:
            parts.append(f"{summary.unreadable} unreadable")
        parts += [f"{c.get('error', 0)} error{'s' if c.get('error', 0) != 1 else ''}",
                  f"{c.get('warning', 0)} warning{'s' if c.get('warning', 0) != 1 else ''}",
                  f"{c.get('info', 0)} info"]
        if summary.suppressed:
            parts.append(f"{summary.suppressed} suppressed")
        if summary.baselined:
            parts.append(f"{summary.baselined} in the baseline")
        self.write(f"{', '.join(parts)} ({summary.judged_text()})")


def _fmt(v) -> str:
    if v is None:
        return "?"
    if v == float("inf"):
        return "inf"
    return f"{v:.3g}"
