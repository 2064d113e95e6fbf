"""Every rule's own test cases (models that must and must not trigger it), from the rule files, run by the same
code as `precision-lint test-rules`."""

import subprocess
import sys

import pytest

from precision_lint.engine import rule_tests
from precision_lint.engine.rules import load_rules

CASES = rule_tests.cases()


@pytest.mark.parametrize("item", CASES, ids=[rule_tests.case_id(*c) for c in CASES])
def test_rule_case(item, tmp_path):
    rule, _, case = item
    problems = rule_tests.check_case(rule, case, str(tmp_path))
    assert not problems, "\n".join(problems)


def test_every_rule_has_a_triggering_and_a_clean_case():
    assert rule_tests.coverage_problems(load_rules()) == []


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "precision_lint", *args], capture_output=True, text=True, cwd=str(cwd), timeout=300
    )


def test_new_rule_template_passes_its_own_cases(tmp_path):
    made = _cli("new-rule", "Z001", "exp-probe", "-d", "mine", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    ran = _cli("test-rules", "mine", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 case(s): 0 failing" in ran.stdout
    again = _cli("new-rule", "Z001", "exp-probe", "-d", "mine", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_failing_case_names_the_rule_the_case_and_what_differs(tmp_path):
    _cli("new-rule", "Z002", "exp-wrong", "-d", "mine", cwd=tmp_path)
    path = tmp_path / "mine" / "Z002-exp-wrong.yaml"
    path.write_text(
        path.read_text().replace("      - node: e\n        level: error", "      - node: s\n        level: error")
    )
    ran = _cli("test-rules", "mine", cwd=tmp_path)
    assert ran.returncode == 1
    assert "FAIL Z002 #0 a large input triggers it" in ran.stdout
    assert "expected findings on ['s'], got e: [error]" in ran.stdout
    assert "1 failing" in ran.stdout


def test_a_rule_without_a_clean_case_fails(tmp_path):
    _cli("new-rule", "Z003", "exp-one-case", "-d", "mine", cwd=tmp_path)
    path = tmp_path / "mine" / "Z003-exp-one-case.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  - name: a small input does not")])
    ran = _cli("test-rules", "mine", cwd=tmp_path)
    assert ran.returncode == 1 and "no test case that must not trigger it" in ran.stdout
