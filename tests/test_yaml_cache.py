"""data/shipped_yaml.json caches the package's own YAML documents (tools/gen_yaml_cache.py): the rule files, the
platform table, the known issues, the converter notes, the snippet templates.  It must hold exactly what the YAML
says, be used only for the very text it was made from, give every load its own objects, and keep PyYAML off a
lint that reads nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from precision_lint import safe_yaml
from precision_lint.engine import rules as rules_mod
from precision_lint.engine.rules import builtin_rules_dir, load_rules
from precision_lint.resources import DATA_DIR


def test_the_shipped_cache_holds_every_shipped_yaml_file_as_its_yaml_says():
    cache = safe_yaml._shipped_documents()
    files = sorted(builtin_rules_dir().glob("*.yaml")) + sorted(DATA_DIR.glob("*.yaml"))
    assert len(files) > 34
    for path in files:
        text = path.read_text(encoding="utf-8")
        key = safe_yaml.text_key(text)
        assert key in cache, f"{path.name} changed: run `PYTHONPATH=$PWD python tools/gen_yaml_cache.py`"
        assert json.loads(cache[key]) == safe_yaml.parse_shipped(text)
    assert len(cache) == len(files)  # no entry for a file that is gone


def test_no_shipped_yaml_file_gives_a_key_twice():
    """Shipped files are read from the cache, without the checks a user's file gets: the same checks here (a key
    given twice would silently drop its first value)."""
    for path in sorted(builtin_rules_dir().glob("*.yaml")) + sorted(DATA_DIR.glob("*.yaml")):
        safe_yaml.load(path.read_text(encoding="utf-8"), path.name, ValueError, max_nodes=10**6, max_depth=64)


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
    path = DATA_DIR / "platforms.yaml"
    a = safe_yaml.load(path.read_text(encoding="utf-8"), str(path), ValueError, shipped=True)
    a["changed"] = True
    assert "changed" not in safe_yaml.load(path.read_text(encoding="utf-8"), str(path), ValueError, shipped=True)


def test_a_lint_with_the_shipped_files_only_never_imports_pyyaml(tmp_path):
    """A run that reads no configuration and no user rule file finds every YAML document in the cache."""
    import onnx
    from onnx import parser

    model = tmp_path / "m.onnx"
    onnx.save(
        parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[1,8] x) => (float[1,8] y) { y = Softmax (x) }"""),
        str(model),
    )
    code = (
        "import sys\n"
        "from precision_lint.cli.commands import main\n"
        "try:\n"
        "    main(['--format', 'json', '--snippets', 'python', '--target', 'ios-cpu:low', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('YAML IMPORTED' if 'yaml' in sys.modules else 'NO YAML')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.stderr.endswith("NO YAML"), proc.stderr[-2000:]
    assert json.loads(proc.stdout)["files"][0]["path"].endswith("m.onnx")
