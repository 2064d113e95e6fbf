"""Running a rule's own test cases (the sqlfluff model: cases are rule data), for `precision-lint test-rules` and
the test suite.  Each case is an ONNX model in ONNX's text syntax, optionally converted to .mnn with MNN's converter,
linted with only that rule selected; the findings must be exactly the expected ones."""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .rules import Rule, load_rules

_UNFILLED = re.compile(r"\{[^{}]*\}")  # a brace group left in a rendered message


class CaseSkipped(Exception):
    """A case that cannot run on this machine (not a failure of the rule)."""


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    index: int
    name: str
    source: str  # the rule file
    problems: Tuple[str, ...]  # empty when the case passed
    skipped: str = ""  # why the case could not run here (MNN's converter missing for a `convert:` case)

    @property
    def passed(self) -> bool:
        return not self.problems


def cases(rule_dirs: Sequence[str] = (), builtin: bool = True) -> List[Tuple[Rule, int, Dict[str, Any]]]:
    return [(rule, i, case) for rule in load_rules(rule_dirs, builtin=builtin) for i, case in enumerate(rule.tests)]


def case_id(rule: Rule, index: int, case: Dict[str, Any]) -> str:
    return f"{rule.id}-{index}-{case.get('name', 'case').replace(' ', '_')[:40]}"


def coverage_problems(rules: Sequence[Rule]) -> List[str]:
    """Each rule needs a case that must trigger it and one that must not."""
    out = []
    for rule in rules:
        kinds = [bool(c.get("expect")) for c in rule.tests]
        if not any(kinds):
            out.append(f"{rule.source}: rule {rule.id}: no test case that must trigger it")
        if all(kinds):
            out.append(f"{rule.source}: rule {rule.id}: no test case that must not trigger it")
    return out


def build_model(text: str, path: str) -> str:
    import onnx
    from onnx import parser

    model = parser.parse_model(text)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def check_case(rule: Rule, case: Dict[str, Any], tmpdir: str, rule_dirs: Sequence[str] = ()) -> List[str]:
    """What is wrong with ``rule`` on ``case`` (an empty list when it behaves as the case expects)."""
    from ..api import Linter, Options

    label = f"case {case.get('name', '?')!r}"
    try:
        path = build_model(case["model"], os.path.join(tmpdir, f"{rule.id}.onnx"))
    except Exception as exc:  # noqa: BLE001 - the case's model text is the author's: report, don't crash
        return [f"{label}: the model does not parse or check: {str(exc).splitlines()[0][:200]}"]
    if "convert" in case:  # an MNN-side rule: lint what the converter makes of the model
        from ..model.converter import convert_to_mnn

        if importlib.util.find_spec("_tools") is None:
            raise CaseSkipped("converting to .mnn needs the MNN package (pip install 'precision-lint[mnn]')")

        dst = os.path.splitext(path)[0] + ".mnn"
        convert_to_mnn(path, dst, list(case["convert"]))
        path = dst
    opts = case.get("options", {})
    options = Options(
        rule_dirs=tuple(rule_dirs),
        select=(rule.id,),
        tolerances=dict(opts.get("tolerances", {})),
        input_ranges={k: tuple(v) for k, v in opts.get("input_ranges", {}).items()},
        targets=tuple(opts.get("targets", ())),
        mnn_version=opts.get("mnn_version"),
        origins={"targets": "options.targets", "mnn_version": "options.mnn_version"},  # errors name the case's key
    )  # targets decide the judged formats, the MNN version which known kernel bugs apply (engine/decide)
    result = Linter(options).lint_file(path)
    if result.error is not None:
        return [f"{label}: {result.error}"]
    problems = [f"{label}: {n}" for n in result.notes if n.startswith(f"rule {rule.id}")]
    got = {f.node: f for f in result.reported if f.rule_id == rule.id}
    want = {e["node"]: e for e in case["expect"]}
    if set(got) != set(want):
        seen = "; ".join(f"{n}: [{f.level}] {f.message}" for n, f in sorted(got.items())) or "none"
        problems.append(f"{label}: expected findings on {sorted(want) or 'no node'}, got {seen}")
        return problems
    for f in got.values():  # what a user reads: every placeholder filled in
        for text in (f.message, *f.notes, *f.assumptions):
            if _UNFILLED.search(text):
                problems.append(f"{label}: node {f.node}: unformatted placeholder in {text!r}")
    for node, exp in want.items():
        f = got[node]
        if "level" in exp and f.level != exp["level"]:
            problems.append(f"{label}: node {node}: level {f.level}, expected {exp['level']}: {f.message}")
        if "message_contains" in exp and exp["message_contains"] not in f.message:
            problems.append(f"{label}: node {node}: message lacks {exp['message_contains']!r}: {f.message}")
        if "conditional" in exp and f.conditional != exp["conditional"]:
            problems.append(f"{label}: node {node}: conditional is {f.conditional}, expected {exp['conditional']}")
        for fmt, bounds in exp.get("estimate", {}).items():
            est = f.estimates.get(fmt)
            v = None if est is None else est.value
            if v is None:
                problems.append(f"{label}: node {node}: no {fmt} estimate")
                continue
            if "min" in bounds and v < bounds["min"]:
                problems.append(f"{label}: node {node}: {fmt} estimate {v:.4g} below the expected {bounds['min']}")
            if "max" in bounds and v > bounds["max"]:
                problems.append(f"{label}: node {node}: {fmt} estimate {v:.4g} above the expected {bounds['max']}")
    return problems


def run(
    rule_dirs: Sequence[str] = (), builtin: bool = True, select: Optional[Sequence[str]] = None
) -> Iterator[CaseResult]:
    """Every case of the selected rules, in rule order."""
    from ..workflow.selectors import check_rule_ids, select_rules

    if not builtin:
        load_rules(rule_dirs, builtin=True)  # a lint loads them beside the built-in ones: clashes are load errors
    rules = load_rules(rule_dirs, builtin=builtin)
    if select:
        check_rule_ids(rules, select, "--select")
        rules = select_rules(rules, select)
    for rule in rules:
        for i, case in enumerate(rule.tests):
            skipped = ""
            with tempfile.TemporaryDirectory(prefix="precision-lint-case-") as tmp:
                try:
                    problems = check_case(rule, case, tmp, rule_dirs)
                except CaseSkipped as exc:
                    problems, skipped = [], str(exc)
                except Exception as exc:  # noqa: BLE001 - one broken case must not hide the others' results
                    problems = [f"case {case.get('name', '?')!r}: {type(exc).__name__}: {exc}"]
            yield CaseResult(rule.id, i, str(case.get("name", f"case {i}")), rule.source, tuple(problems), skipped)


TEMPLATE = """\
id: {rule_id}
name: {name}
class: range            # range | accumulation | coordinate | approximation | tie-sensitivity | converter | type-support
summary: One line that says what goes wrong, and when.
description: |
  What the operator does in fp16/bf16 that it does not do in fp32, and how large the error gets.
fix: |
  What to change in the model or the deployment (which precision mode, which op to keep in fp32).
references:
  - https://onnx.ai/onnx/operators/
match:
  op: Exp               # canonical (ONNX-spelled) operator; `precision-lint test-rules` checks the names
  where: node.input(0).hi_abs > 11
tolerances: {{}}
level:
  error: true
message: "{{op}} '{{node_name}}' can overflow in fp16"
tests:
  - name: a large input triggers it
    model: |
      <ir_version: 8, opset_import: ["" : 17]>
      g (float[4] x) => (float[4] y) {{
        big = Constant <value = float[4] {{20.0, 20.0, 20.0, 20.0}}> ()
        s = Add (x, big)
        [e] y = Exp (s)
      }}
    options:
      input_ranges: {{x: [0.0, 1.0]}}
    expect:
      - node: e
        level: error
  - name: a small input does not
    model: |
      <ir_version: 8, opset_import: ["" : 17]>
      g (float[4] x) => (float[4] y) {{
        [e] y = Exp (x)
      }}
    options:
      input_ranges: {{x: [0.0, 1.0]}}
    expect: []
"""


def new_rule_text(rule_id: str, name: str) -> str:
    return TEMPLATE.format(rule_id=rule_id, name=name)
