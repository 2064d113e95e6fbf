"""The rule catalogue: docs/rules.md is generated from the rule files and must be up to date; every rule carries
the fields a catalogue entry needs."""

import importlib.util
import os

import pytest

from precision_lint.engine.rules import load_rules

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def _generator():
    spec = importlib.util.spec_from_file_location("gen_catalogue", os.path.join(ROOT, "tools", "gen_catalogue.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_docs_rules_md_is_up_to_date():
    gen = _generator()
    with open(os.path.join(ROOT, "docs", "rules.md"), encoding="utf-8") as fh:
        current = fh.read()
    assert current == gen.build(), "docs/rules.md is out of date: run `python tools/gen_catalogue.py`"


def test_catalogue_lists_every_rule_once_with_an_anchor():
    text = _generator().build()
    for r in load_rules():
        assert text.count(f"### {r.id} {r.name}\n") == 1
        assert f"(#{r.id.lower()}-{r.name})" in text


@pytest.mark.parametrize("rule", [r for r in load_rules() if not r.id.startswith("M")], ids=lambda r: r.id)
def test_every_catalogue_rule_is_complete(rule):
    for field in ("summary", "description", "why", "example", "fix"):
        assert getattr(rule, field).strip(), f"{rule.id}: no {field}"
    assert rule.references, f"{rule.id}: no references"
    assert len(rule.summary) <= 200
    assert any(t["expect"] for t in rule.tests) and any(not t["expect"] for t in rule.tests)


def test_check_mode_reports_a_stale_file(tmp_path):
    gen = _generator()
    out = tmp_path / "rules.md"
    out.write_text("stale\n", encoding="utf-8")
    assert gen.main(["--check", "--output", str(out)]) == 1
    assert gen.main(["--output", str(out)]) == 0
    assert gen.main(["--check", "--output", str(out)]) == 0


def test_shipped_rule_files_validate_against_the_schema():
    # the loader skips jsonschema for shipped rules at run time; this is where they are validated
    from precision_lint.engine.rules import builtin_rules_dir, load_rule_file

    for path in sorted(builtin_rules_dir().glob("*.yaml")):
        load_rule_file(path, validate=True)
