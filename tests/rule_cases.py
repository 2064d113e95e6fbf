"""The shared helper that runs every rule's own test cases (the sqlfluff model: test cases are rule data)."""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List

import onnx
from onnx import parser

from precision_lint.api import Linter, Options
from precision_lint.engine.rules import Rule, load_rules

UNFILLED = re.compile(r"\{[^{}]*\}")  # a brace group left in a rendered message


def all_cases(extra_dirs=()) -> List[Any]:
    out = []
    for rule in load_rules(extra_dirs):
        for i, case in enumerate(rule.tests):
            out.append((rule, i, case))
    return out


def case_id(item) -> str:
    rule, i, case = item
    return f"{rule.id}-{i}-{case.get('name', 'case').replace(' ', '_')[:40]}"


def build_model(text: str, path: str) -> str:
    model = parser.parse_model(text)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def convert_to_mnn(src: str, extra=()) -> str:
    """The .mnn MNN's own converter makes of ``src`` (sample_models/build.py; MNN.tools is never imported)."""
    import importlib.util

    build_py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_models", "build.py")
    spec = importlib.util.spec_from_file_location("sample_models_build", build_py)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    dst = os.path.splitext(src)[0] + ".mnn"
    build.convert_to_mnn(src, dst, list(extra))
    return dst


def run_case(rule: Rule, case: Dict[str, Any], tmpdir: str, extra_dirs=()) -> None:
    path = build_model(case["model"], os.path.join(tmpdir, f"{rule.id}.onnx"))
    if "convert" in case:  # an MNN-side rule: lint what the converter makes of the model
        path = convert_to_mnn(path, case["convert"])
    opts = case.get("options", {})
    options = Options(rule_dirs=tuple(extra_dirs), select=(rule.id,),
                      tolerances=dict(opts.get("tolerances", {})),
                      input_ranges={k: tuple(v) for k, v in opts.get("input_ranges", {}).items()})
    if opts.get("targets"):
        from precision_lint.targets import judged_formats_for

        options.judged_formats = judged_formats_for(opts["targets"])
        options.targets = tuple(opts["targets"])  # per-op platform facts too (targets.rejudge in the Linter)
    result = Linter(options).lint_file(path)
    assert result.error is None, result.error
    rule_notes = [n for n in result.notes if n.startswith(f"rule {rule.id}")]
    assert not rule_notes, rule_notes
    got = {f.node: f for f in result.reported if f.rule_id == rule.id}
    want = {e["node"]: e for e in case["expect"]}
    assert set(got) == set(want), (
        f"{rule.id} case {case.get('name')!r}: expected findings on {sorted(want)}, got "
        + "; ".join(f"{n}: [{f.level}] {f.message}" for n, f in sorted(got.items())) or "none")
    for f in got.values():  # what a user reads: every placeholder filled in
        for text in (f.message, *f.notes, *f.assumptions):
            assert not UNFILLED.search(text), f"{rule.id}: unformatted placeholder in {text!r}"
    for node, exp in want.items():
        f = got[node]
        if "level" in exp:
            assert f.level == exp["level"], f"{node}: level {f.level} != {exp['level']}: {f.message}"
        if "message_contains" in exp:
            assert exp["message_contains"] in f.message, f.message
        if "conditional" in exp:
            assert f.conditional == exp["conditional"], (f.assumptions, f.message)
        for fmt, bounds in exp.get("estimate", {}).items():
            v = f.estimates[fmt].value
            assert v is not None, f"{node}: no {fmt} estimate"
            if "min" in bounds:
                assert v >= bounds["min"], f"{node}: {fmt} estimate {v} < {bounds['min']}"
            if "max" in bounds:
                assert v <= bounds["max"], f"{node}: {fmt} estimate {v} > {bounds['max']}"
