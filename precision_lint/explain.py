"""`precision-lint rules` and `precision-lint rule ID`: the rule files are the single source of these texts."""
from __future__ import annotations

import json
import textwrap
from typing import Sequence

from .engine.rules import Rule, load_rules
from .errors import RuleError


def find_rule(rule_id: str, rule_dirs: Sequence[str] = ()) -> Rule:
    rules = load_rules(rule_dirs)
    for r in rules:
        if r.id.lower() == rule_id.lower() or r.name == rule_id:
            return r
    close = [r.id for r in rules if r.id.startswith(rule_id.upper()[:1])]
    hint = f" (rules starting with {rule_id[:1].upper()}: {', '.join(close)})" if close else ""
    raise RuleError(f"unknown rule {rule_id!r}{hint}; `precision-lint rules` lists them")


def list_rules(rule_dirs: Sequence[str] = (), fmt: str = "text") -> str:
    rules = load_rules(rule_dirs)
    if fmt == "json":
        return json.dumps([{"id": r.id, "name": r.name, "class": r.failure_class, "summary": r.summary}
                           for r in rules], indent=2) + "\n"
    if fmt == "markdown":
        from .reporters.markdown import code, md

        lines = ["| id | name | class | what it finds |", "|---|---|---|---|"]
        lines += [f"| {md(r.id)} | {code(r.name)} | {md(r.failure_class)} | {md(r.summary)} |" for r in rules]
        return "\n".join(lines) + "\n"
    width = max((len(r.name) for r in rules), default=10)
    return _terminal("".join(f"{r.id}  {r.failure_class:<15} {r.name:<{width}}  {r.summary}\n" for r in rules))


def explain_rule(rule_id: str, rule_dirs: Sequence[str] = ()) -> str:
    return _terminal(rule_help(find_rule(rule_id, rule_dirs)))


def _terminal(text: str) -> str:
    """Rule files from a repository are untrusted: every line is escaped for the terminal (no ANSI, no CI commands)."""
    from .reporters.escape import visible

    return "\n".join(visible(line) for line in text.split("\n"))


def rule_help(r: Rule, with_source: bool = True) -> str:
    """The text of `precision-lint rule ID`: also SARIF's help text and the checklist's rule notes."""
    out = [f"{r.id} {r.name} ({r.failure_class})", "", r.summary, ""]

    def section(title: str, body: str) -> None:
        if body:
            out.append(f"{title}:")
            out.extend("  " + line if line else "" for line in body.rstrip().splitlines())
            out.append("")

    section("What it finds", r.description)
    section("Why it matters", r.why)
    section("Example", r.example)
    section("Fix", r.fix)
    if r.estimate_value is not None:
        section("Estimate", f"{r.estimate_quantity or 'error'} [{r.estimate_unit}], per number format "
                            f"({', '.join(r.formats)})")
    if r.tolerances:
        section("Tolerances (override with --tolerance NAME=VALUE or in config)",
                "\n".join(f"{k} = {v['default']:g} {v.get('unit', '')}".rstrip() + "\n"
                          + textwrap.indent(textwrap.fill(v["description"], 100), "    ")
                          for k, v in sorted(r.tolerances.items())))
    section("References", "\n".join(r.references))
    if with_source:
        out.append(f"Defined in {r.source}")
    return "\n".join(out).rstrip() + "\n"
