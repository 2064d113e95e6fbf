"""Every rule's own test cases (models that must and must not trigger it), from the rule files."""
import pytest

from rule_cases import all_cases, case_id, run_case

CASES = all_cases()


@pytest.mark.parametrize("item", CASES, ids=[case_id(c) for c in CASES])
def test_rule_case(item, tmp_path):
    rule, _, case = item
    run_case(rule, case, str(tmp_path))


def test_every_rule_has_a_triggering_and_a_clean_case():
    by_rule = {}
    for rule, _, case in CASES:
        by_rule.setdefault(rule.id, []).append(bool(case["expect"]))
    for rid, kinds in by_rule.items():
        assert any(kinds), f"{rid} has no case that must trigger it"
        assert not all(kinds), f"{rid} has no case that must not trigger it"
