"""Write precision_lint/data/shipped_yaml.json: the package's own YAML documents as JSON, keyed by each file's sha256.

Every lint reads the shipped rule files, the platform table, the known kernel issues, the converter notes and the
snippet templates.  Parsed from YAML that is PyYAML's import (about 15 ms) and libyaml plus PyYAML's Python
constructor (about 25 ms for the 34 rules, 8 ms for the rest); the same documents read from one JSON file take
about 1 ms.  ``safe_yaml.load(..., shipped=True)`` uses a cached document only when the file's text hashes to its
key, so an edited file is read from its YAML until this is run again: a stale cache costs time, never
correctness (tests/test_yaml_cache.py checks the shipped cache is current).  Regenerate after editing any of them:

    PYTHONPATH=$PWD python tools/gen_yaml_cache.py
"""

from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shipped_files():
    """The YAML files safe_yaml.load reads with ``shipped=True``: the rules and the package's data files."""
    sys.path.insert(0, ROOT)
    from precision_lint.engine.rules import builtin_rules_dir
    from precision_lint.resources import DATA_DIR

    return sorted(builtin_rules_dir().glob("*.yaml")) + sorted(DATA_DIR.glob("*.yaml"))


def render() -> str:
    from precision_lint.safe_yaml import parse_shipped, text_key

    docs = {}
    for path in shipped_files():
        text = path.read_text(encoding="utf-8")
        doc = parse_shipped(text)
        if json.loads(json.dumps(doc)) != doc:  # only what JSON holds exactly (no dates, no non-string keys)
            raise SystemExit(f"{path}: its YAML document does not survive JSON; it cannot be cached")
        docs[text_key(text)] = json.dumps(doc, separators=(",", ":"))  # key order kept: a let may read earlier lets
    return json.dumps({"format": 1, "documents": docs}, sort_keys=True, indent=0) + "\n"


def main() -> None:
    from precision_lint.safe_yaml import SHIPPED_CACHE

    out = os.path.join(ROOT, "precision_lint", "data", SHIPPED_CACHE)
    text = render()
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
