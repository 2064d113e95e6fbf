"""data/rules.json caches the shipped rule files' YAML documents (tools/gen_rules_cache.py): it must hold exactly what
the YAML says, be used only for the very text it was made from, and give every load its own objects."""

from __future__ import annotations

import json
import shutil

from precision_lint.engine import rules as rules_mod
from precision_lint.engine.rules import builtin_rules_dir, load_rules, parse_shipped_yaml, text_key


def test_the_shipped_cache_holds_every_rule_file_as_its_yaml_says():
    cache = rules_mod._shipped_docs()
    for path in sorted(builtin_rules_dir().glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        key = text_key(text)
        assert key in cache, f"{path.name} changed: run `PYTHONPATH=$PWD python tools/gen_rules_cache.py`"
        assert json.loads(cache[key]) == parse_shipped_yaml(text, path)
    assert len(cache) == len(list(builtin_rules_dir().glob("*.yaml")))  # no entry for a file that is gone


def test_an_edited_rule_file_is_read_from_its_yaml(tmp_path, monkeypatch):
    copy = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), copy)
    target = next(copy.glob("C001*.yaml"))
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("\nsummary: ", "\nsummary: EDITED ", 1), encoding="utf-8")
    monkeypatch.setattr(rules_mod, "builtin_rules_dir", lambda: copy)
    c001 = next(r for r in load_rules() if r.id == "C001")
    assert c001.summary.startswith("EDITED ")


def test_every_load_gets_its_own_documents():
    def a003(rules):
        return next(r for r in rules if r.id == "A003")

    first = a003(load_rules())
    first.tests[0]["name"] = "changed by a caller"
    first.tolerances["dot_rel"]["default"] = 123.0
    second = a003(load_rules())
    assert second.tests[0]["name"] != "changed by a caller" and second.tolerances["dot_rel"]["default"] != 123.0
