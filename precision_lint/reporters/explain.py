"""`precision-lint rules` and `precision-lint rule ID`: the rule files are the single source of these texts."""

from __future__ import annotations

import json
import textwrap
from typing import Sequence

from ..engine.rules import Rule, builtin_rules_dir, load_rules
from ..errors import RuleError

# The rule catalogue (docs/rules.md, generated from the rule files) as published: what SARIF's helpUri links to.
# Empty until the project has a public home: SARIF then carries the full help text and no link (a made-up address
# would be worse than none).  Set it when the repository is published.
RULE_DOCS_URL = ""


def rule_doc_uri(r: Rule) -> str:
    """The catalogue entry of a built-in rule (its heading's anchor); "" for rules from --rules or rule_dirs,
    which this project does not document."""
    from pathlib import Path

    try:
        builtin = Path(r.source).resolve().parent == builtin_rules_dir().resolve()
    except (OSError, ValueError):
        builtin = False
    return f"{RULE_DOCS_URL}#{r.id.lower()}-{r.name}" if builtin and RULE_DOCS_URL else ""


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
        return (
            json.dumps(
                [{"id": r.id, "name": r.name, "class": r.failure_class, "summary": r.summary} for r in rules], indent=2
            )
            + "\n"
        )
    if fmt == "markdown":
        from .markdown import code, md

        lines = ["| id | name | class | what it finds |", "|---|---|---|---|"]
        lines += [f"| {md(r.id)} | {code(r.name)} | {md(r.failure_class)} | {md(r.summary)} |" for r in rules]
        return "\n".join(lines) + "\n"
    width = max((len(r.name) for r in rules), default=10)
    return _terminal("".join(f"{r.id}  {r.failure_class:<15} {r.name:<{width}}  {r.summary}\n" for r in rules))


def explain_rule(rule_id: str, rule_dirs: Sequence[str] = ()) -> str:
    if rule_id.upper() == "V001" or rule_id == "measured-precision-error":
        return V001_HELP  # made by `verify` from a measurement, not by a rule file
    return _terminal(rule_help(find_rule(rule_id, rule_dirs)))


def _terminal(text: str) -> str:
    """Rule files from a repository are untrusted: every line is escaped for the terminal (no ANSI, no CI commands)."""
    from .escape import visible

    return "\n".join(visible(line) for line in text.split("\n"))


V001_HELP = """V001 measured-precision-error (measured)

A tensor measured over tolerance on a target's real kernels where no static rule had a finding.

What it finds:
  `precision-lint verify` runs the model on MNN at the target's precision and at Precision_High on the same build
  (ARMv8.2 fp16 under QEMU for ios-cpu / android-cpu-armv82), and compares every operator's output tensor.  The
  first tensors whose rel-L2 error crosses the tolerance (or that turn non-finite) while all their inputs are within
  it are where the error starts; those that no static finding covers become V001 findings, with the numbers.

Why it matters:
  Static rules estimate from shapes and constants; kernels have their own behaviour (fp16 accumulation, fused
  paths, kernel bugs such as Arm82 GridSample ignoring align_corners).  A V001 is an error the rules cannot see.

Fix:
  Run the model at Precision_High (or Normal on CPUs) on that target, or keep the op in fp32; then report the case
  so that a rule or a platform fact can cover it.

Tolerances:
  verify --tolerance REL_L2 (default 0.01)

Defined in precision_lint/verify/run.py (see docs/verify.md)
"""


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
        section(
            "Estimate",
            f"{r.estimate_quantity or 'error'} [{r.estimate_unit}], per number format ({', '.join(r.formats)})",
        )
    if r.tolerances:
        section(
            "Tolerances (override with --tolerance NAME=VALUE or in config)",
            "\n".join(
                f"{k} = {v['default']:g} {v.get('unit', '')}".rstrip()
                + "\n"
                + textwrap.indent(textwrap.fill(v["description"], 100), "    ")
                for k, v in sorted(r.tolerances.items())
            ),
        )
    section("References", "\n".join(r.references))
    if with_source:
        out.append(f"Defined in {r.source}")
    return "\n".join(out).rstrip() + "\n"
