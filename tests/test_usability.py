"""What a new user trips on (issue 11, items 16-21): the fix text, compact output, silent no-ops, messages,
conventions (statistics, GitLab Code Quality, stdin, --extend-select)."""
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from precision_lint.engine.rules import load_rules, parse_rule
from precision_lint.errors import PrecisionLintError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
GRIDSAMPLE = os.path.join(SAMPLES, "gridsample_large.onnx")
CLEAN = os.path.join(SAMPLES, "clean.onnx")
UNFILLED = re.compile(r"\{[^{}]*\}")


def run(*args, cwd=None, stdin=None):
    proc = subprocess.run([sys.executable, "-m", "precision_lint", *args], capture_output=True, cwd=cwd or ROOT,
                          timeout=120, input=stdin, env=dict(os.environ, PYTHONPATH=ROOT))
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


# ------------------------------------------------------------------------------------------------ 19: messages

@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.id)
def test_no_rule_template_leaves_a_placeholder_unformatted(rule):
    """Every brace group in a message, note or assumption is a placeholder the renderer fills ({-x:.3g} was printed
    as it stands); the rendered messages of every rule case are checked too (tests/rule_cases.py)."""
    from precision_lint.engine.rules import _TEMPLATE

    texts = [rule.message] + [t.text for t in rule.notes] + [t.text for t in rule.assumptions]
    for text in texts:
        for group in UNFILLED.findall(text):
            assert _TEMPLATE.fullmatch(group), f"{rule.id}: {group} would be printed unformatted"


def test_a_rule_with_an_expression_in_a_placeholder_is_refused():
    doc = next(r for r in load_rules() if r.id == "R008").raw
    bad = dict(doc, message="a logit gap of {-floor_fp16:.3g}")
    with pytest.raises(PrecisionLintError, match=r"\{-floor_fp16:\.3g\} is not a placeholder"):
        parse_rule(bad, "bad.yaml")


def test_r008_message_states_the_logit_gap(tmp_path):
    import onnx
    from onnx import parser

    import precision_lint

    model = parser.parse_model('''<ir_version: 8, opset_import: ["" : 13]>
      g (float[1,1000] logits) => (float[1,1000] logp) {
        p = Softmax <axis=-1> (logits)
        [log_probs] logp = Log (p)
      }''')
    path = str(tmp_path / "logsm.onnx")
    onnx.save(model, path)
    (f,) = [f for f in precision_lint.lint(path).findings if f.rule_id == "R008"]
    assert "a logit gap of 16.6)" in f.message and "{" not in f.message


def test_sarif_help_uri_points_at_this_projects_rule_catalogue():
    code, out, err = run("--format", "sarif", GRIDSAMPLE)
    doc = json.loads(out)
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    for rid, r in rules.items():
        assert r["helpUri"].endswith(f"docs/rules.md#{rid.lower()}-{r['name']}"), r["helpUri"]
    # the references of A001 (another engine's pull request) stay in the help text
    assert "https://github.com/" in rules["A001"]["help"]["text"]
    anchors = pathlib.Path(ROOT, "docs", "rules.md").read_text(encoding="utf-8")
    assert f"### A001 {rules['A001']['name']}\n" in anchors
