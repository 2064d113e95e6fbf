"""Write precision_lint/data/rules.json: the shipped rule files' YAML documents as JSON, keyed by each file's sha256.

Parsing the 34 rule files with PyYAML (libyaml's scanner, PyYAML's Python constructor) is about 18 ms of every
start-up; the same documents read from one JSON file take about 1 ms.  The loader uses a cached document only when the
file's text hashes to its key, so an edited rule is read from its YAML until this is run again: a stale cache costs
time, never correctness (tests/test_rules_cache.py checks the shipped cache is current).  Regenerate after editing
rules:

    PYTHONPATH=$PWD python tools/gen_rules_cache.py
"""

from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "precision_lint", "data", "rules.json")


def render() -> str:
    sys.path.insert(0, ROOT)
    from precision_lint.engine.rules import builtin_rules_dir, parse_shipped_yaml, text_key

    docs = {}
    for path in sorted(builtin_rules_dir().glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        doc = parse_shipped_yaml(text, path)
        if json.loads(json.dumps(doc)) != doc:  # only what JSON holds exactly (no dates, no non-string keys)
            raise SystemExit(f"{path}: its YAML document does not survive JSON; it cannot be cached")
        docs[text_key(text)] = json.dumps(doc, separators=(",", ":"))  # in file order: a let may read earlier lets
    return json.dumps({"format": 1, "rules": docs}, sort_keys=True, indent=0) + "\n"


def main() -> None:
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(render())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
