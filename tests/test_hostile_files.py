"""A repository's own files are untrusted too (issue 11): configuration, rule files, baselines and platform tables
are read only when they are regular files of a sane size, numbers in them cannot end the run, a configuration reaches
nothing outside its project, model errors never quote another file's bytes, and reports are written only where the
user asked.  Every problem is one line naming the file, exit 2."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLEAN = ROOT / "sample_models" / "clean.onnx"
GRIDSAMPLE = ROOT / "sample_models" / "gridsample_large.onnx"

RULE = """\
id: X901
name: hostile
class: range
summary: s
description: d
fix: f
message: "m"
tests: [{model: m, expect: []}]
match: {op: Relu}
"""


def _bounded_memory():  # a regression must fail the test, not exhaust the machine
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def run(*args, cwd, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=str(cwd),
        timeout=timeout,
        env=env,
        preexec_fn=_bounded_memory if os.name == "posix" else None,
    )
    return proc.returncode, proc.stdout, proc.stderr


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "internal error" not in err and "Traceback" not in err, err
    return lines[0]


# ----- item 8: only regular files, bounded in size --------------------------------------------------------------
def _special(tmp_path: Path, kind: str, name: str) -> Path:
    p = tmp_path / name
    if kind == "fifo":
        os.mkfifo(str(p))
    else:
        os.symlink("/dev/zero", str(p))
    return p


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("flag", ["--baseline", "--platforms-file", "--config", "--rules"])
def test_special_files_are_refused_without_blocking_or_reading_forever(tmp_path, kind, flag):
    name = "r.yaml" if flag == "--rules" else "f.yaml"
    special = _special(tmp_path, kind, name)
    code, out, err = run(flag, special, CLEAN, cwd=tmp_path)
    line = one_error_line(err)
    assert code == 2 and name in line and "not a regular file" in line, err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_special_file_in_a_rule_directory_is_refused(tmp_path, kind):
    rules = tmp_path / "rules"
    rules.mkdir()
    _special(rules, kind, "r.yaml")
    code, out, err = run("--rules", rules, CLEAN, cwd=tmp_path)
    assert code == 2 and "r.yaml" in one_error_line(err) and "not a regular file" in err, err


@pytest.mark.parametrize("flag", ["--baseline", "--platforms-file", "--config"])
def test_oversized_files_are_refused_by_size(tmp_path, flag):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(200 << 20)  # sparse: 200 MiB of zeros that cost no disk
    code, out, err = run(flag, big, CLEAN, cwd=tmp_path)
    line = one_error_line(err)
    assert code == 2 and "big.yaml" in line and "larger than" in line, err


def test_user_files_are_read_by_one_helper():
    """Every reader of a user file goes through files.read_user_*: nothing else opens them."""
    from precision_lint.workflow import baseline, config
    from precision_lint.deploy import platforms
    from precision_lint.engine import rules

    for module in (baseline, config, platforms, rules):
        src = Path(module.__file__).read_text()
        assert "read_user_text" in src, module.__name__


# ----- item 12: numbers of thousands of digits ------------------------------------------------------------------
def _number_files(tmp_path: Path, digits: int):
    n = "9" * digits
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yaml").write_text(RULE + f"tolerances: {{t: {{default: {n}, unit: x, description: d}}}}\n")
    files = {
        "config-yaml": ("--config", "c.yaml", f"tolerances: {{gridsample_px: {n}}}\n"),
        "config-toml": ("--config", "c.toml", f"[tool.precision-lint]\ntolerances = {{gridsample_px = {n}}}\n"),
        "config-select": ("--config", "s.yaml", f"select: [{n}]\n"),
        "baseline": ("--baseline", "b.json", f'{{"baseline_version": {n}, "findings": []}}'),
        "baseline-entry": (
            "--baseline",
            "e.json",
            f'{{"baseline_version": 1, "findings": [{{"rule": {n}, "path": "a", "node": "b"}}]}}',
        ),
        "platforms": ("--platforms-file", "p.yaml", f"x: {n}\n"),
    }
    out = {"rules": ("--rules", "rules/r.yaml", None)}
    for key, (flag, name, text) in files.items():
        (tmp_path / name).write_text(text)
        out[key] = (flag, name, text)
    return out


@pytest.mark.parametrize("digits", [5000, 4000])
@pytest.mark.parametrize(
    "which", ["config-yaml", "config-toml", "config-select", "baseline", "baseline-entry", "platforms", "rules"]
)
def test_huge_integers_are_one_line_naming_the_file(tmp_path, digits, which):
    """5000 digits: beyond Python's int_max_str_digits (a usage error naming no file, or an internal error);
    4000 digits: parsed, then an OverflowError where it became a float."""
    flag, name, _ = _number_files(tmp_path, digits)[which]
    code, out, err = run(flag, name, CLEAN, cwd=tmp_path)
    line = one_error_line(err)
    assert code == 2 and Path(name).name in line, err


def test_hex_integer_in_toml_is_refused_without_printing_it(tmp_path):
    (tmp_path / "c.toml").write_text("[tool.precision-lint]\nfail_level = 0x" + "f" * 5000 + "\n")
    code, out, err = run("--config", "c.toml", CLEAN, cwd=tmp_path)
    assert code == 2 and "c.toml" in one_error_line(err)


# ----- item 14: where reports and baselines are written ---------------------------------------------------------
@pytest.mark.parametrize("target", ["missing/dir/report.json", "/dev/full"])
def test_unwritable_output_is_one_line_naming_it(tmp_path, target):
    if target.startswith("/dev/") and not os.path.exists(target):
        pytest.skip("no /dev/full here")
    code, out, err = run("--format", "json", "-o", target, CLEAN, cwd=tmp_path)
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: {target}: cannot write the report: "), err
    if target == "/dev/full":  # opened, then failed while written: the terminal summary of the run is not lost
        assert "1 file" in out


def test_unwritable_baseline_is_one_line_naming_it(tmp_path):
    code, out, err = run("--write-baseline", "missing/base.json", CLEAN, cwd=tmp_path)
    assert code == 2 and one_error_line(err).startswith("error: missing/base.json: cannot write baseline"), err


@pytest.mark.parametrize("flag", ["-o", "--write-baseline"])
@pytest.mark.parametrize("how", ["file", "directory"])
def test_outputs_are_not_written_through_symlinks_out_of_the_project(tmp_path, flag, how):
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (project / ".git").mkdir()  # the project root
    victim = outside / "victim.txt"
    victim.write_text("precious\n")
    if how == "file":
        (project / "out.json").symlink_to(victim)
        name = "out.json"
    else:
        (project / "out").symlink_to(outside)
        name = "out/victim.txt"
    code, out, err = run(flag, name, CLEAN, cwd=project)
    line = one_error_line(err)
    assert code == 2 and name in line and "symlink" in line, err
    assert victim.read_text() == "precious\n"


def test_outputs_inside_the_project_and_named_outside_it_are_written(tmp_path):
    project = tmp_path / "project"
    (project / "reports").mkdir(parents=True)
    (project / ".git").mkdir()
    (project / "latest.json").symlink_to(project / "reports" / "r.json")  # a symlink that stays inside
    code, out, err = run("--format", "json", "-o", "latest.json", CLEAN, cwd=project)
    assert code == 0 and json.loads((project / "reports" / "r.json").read_text())["summary"]["files"] == 1, err
    elsewhere = tmp_path / "elsewhere.json"  # named by the user: theirs to write
    code, out, err = run("--format", "json", "-o", elsewhere, CLEAN, cwd=project)
    assert code == 0 and json.loads(elsewhere.read_text())["summary"]["files"] == 1, err


# ----- item 10: nothing outside the project is read or quoted --------------------------------------------------
SECRET = "ghp_0123456789abcdefSECRET"


@pytest.mark.parametrize(
    "content",
    [
        f"https://alice:{SECRET}@github.com\n".encode(),
        b"\x08\x05" + SECRET.encode() * 3,
        b"\x10\x00\x00\x00" + SECRET.encode() * 4,
    ],
)
@pytest.mark.parametrize("ext", [".onnx", ".mnn"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_model_symlinked_to_another_file_never_quotes_it(tmp_path, content, ext, fmt):
    outside = tmp_path / "credentials"
    outside.write_bytes(content)
    project = tmp_path / "project"
    project.mkdir()
    (project / f"model{ext}").symlink_to(outside)
    code, out, err = run("--format", fmt, f"model{ext}", cwd=project)
    assert code == 2 and f"model{ext}" in one_error_line(err), err
    for part in (SECRET[:8], "alice", "github"):
        assert part not in out + err, out + err


@pytest.mark.parametrize(
    "text, what",
    [
        ("rule_dirs: [../outside]\n", "rule_dirs[0]"),
        ("rule_dirs: [rules]\n", "rule_dirs[0]"),  # a directory inside whose rule file is a symlink out
        ("rule_dirs: [../outside/creds.yaml]\n", "rule_dirs[0]"),
        ("platform_files: [../outside/creds.yaml]\n", "platform_files[0]"),
        ("baseline: ../outside/creds.yaml\n", "baseline"),
        ("rule_dirs: [linked]\n", "rule_dirs[0]"),  # a symlink inside the project to a directory outside
    ],
)
def test_a_configuration_reaches_nothing_outside_its_project(tmp_path, text, what):
    outside, project = tmp_path / "outside", tmp_path / "project"
    outside.mkdir()
    (outside / "creds.yaml").write_text("password: hunter2\n")
    (project / "rules").mkdir(parents=True)
    (project / "rules" / "x.yaml").symlink_to(outside / "creds.yaml")
    (project / "linked").symlink_to(outside)
    (project / ".precision-lint.yaml").write_text(text)
    shutil.copy(CLEAN, project / "clean.onnx")
    code, out, err = run("clean.onnx", cwd=project)
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: .precision-lint.yaml: {what}: ") and "outside the project" in line
    assert "hunter2" not in out + err and "password" not in out + err


def test_paths_given_on_the_command_line_may_be_outside(tmp_path):
    outside, project = tmp_path / "outside", tmp_path / "project"
    (outside / "rules").mkdir(parents=True)
    (outside / "rules" / "r.yaml").write_text(RULE)
    project.mkdir()
    shutil.copy(CLEAN, project / "clean.onnx")
    (project / ".precision-lint.yaml").write_text("rule_dirs: []\n")
    code, out, err = run("--rules", outside / "rules", "--select", "X901", "clean.onnx", cwd=project)
    assert code == 0, err


# ----- item 9: every format escapes what it prints -------------------------------------------------------------
HOSTILE_NAMES = {
    "breakout": "a`` <img src=x onerror=alert(1)> ``b",
    "blank-line": "x\n\n<script>alert(1)</script>\n\n",
    "command": "n\n::error file=a.onnx::pwned",
    "ansi": "\x1b]0;owned\x07\x1b[2J\x1b[31mred",
    "xml": "bad\x01\x0b\ufffe\uffff\u202e",
}


def _hostile_model(tmp_path: Path, node_name: str, file_name: str = "model.onnx") -> str:
    import onnx

    m = onnx.load(str(GRIDSAMPLE))
    m.graph.node[0].name = node_name
    path = tmp_path / file_name
    onnx.save(m, str(path))
    return file_name


def _outputs(tmp_path, name, fmt, file_name="model.onnx"):
    model = _hostile_model(tmp_path, name, file_name)
    code, out, err = run("--isolated", "--format", fmt, "--color", "always", model, cwd=tmp_path)
    assert code == 1 and "Traceback" not in err and "internal error" not in err, err
    return out, err


def _no_raw_controls(text: str) -> None:
    import re

    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", text.replace("\x1b[", "")), repr(text)


@pytest.mark.parametrize("key", sorted(HOSTILE_NAMES))
@pytest.mark.parametrize("fmt", ["text", "github"])
def test_text_and_github_print_no_control_characters_from_names(tmp_path, key, fmt):
    import re

    out, err = _outputs(tmp_path, HOSTILE_NAMES[key], fmt)
    assert not re.search(r"^::error file=a\.onnx", out, re.M), out  # no injected workflow command
    own = re.compile(r"\x1b\[(?:0|1|2|31|33|36)m")
    for stream in (out, err):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", own.sub("", stream)), repr(stream)
    if fmt == "github":
        assert all(line.startswith("::") for line in out.splitlines()), out


@pytest.mark.skipif(sys.platform == "win32", reason="file names with newlines")
@pytest.mark.parametrize("fmt", ["text", "github"])
def test_a_file_name_cannot_inject_commands_or_escape_codes(tmp_path, fmt):
    import re

    out, err = _outputs(tmp_path, "warp", fmt, file_name="m\n::error file=a.onnx::pwned\x1b[2J.onnx")
    assert not re.search(r"^::error file=a\.onnx", out + err, re.M), out
    assert "\x1b[2J" not in out + err


@pytest.mark.parametrize("key", sorted(HOSTILE_NAMES))
def test_junit_is_well_formed_xml_whatever_the_names(tmp_path, key):
    import xml.etree.ElementTree as ET

    out, err = _outputs(tmp_path, HOSTILE_NAMES[key], "junit")
    root = ET.fromstring(out.encode("utf-8"))  # raises on ill-formed XML
    names = [c.get("name") for c in root.iter("testcase")]
    assert any("C001" in n for n in names), names


@pytest.mark.parametrize("key", sorted(HOSTILE_NAMES))
def test_markdown_names_stay_inside_their_code_spans(tmp_path, key):
    from markdown_it import MarkdownIt
    from mdit_py_plugins.tasklists import tasklists_plugin

    out, err = _outputs(tmp_path, HOSTILE_NAMES[key], "markdown")
    html = MarkdownIt("commonmark").enable("table").use(tasklists_plugin).render(out)
    assert "<img" not in html and "<script" not in html, html
    _no_raw_controls(out)


@pytest.mark.parametrize("command", [["rules"], ["rule", "X901"], ["rules", "--format", "markdown"]])
def test_rule_texts_from_a_repository_are_escaped(tmp_path, command):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(
        RULE.replace("summary: s", 'summary: "s\\x1b[2Jclear\\u202e <img src=x>"').replace(
            "description: d", 'description: "d\\x07\\x1b]0;t"'
        )
    )
    code, out, err = run(*command, "--rules", rules, cwd=tmp_path)
    assert code == 0, err
    _no_raw_controls(out)
    assert "\x1b" not in out and "X901" in out
    if "markdown" in command:
        from markdown_it import MarkdownIt

        assert "<img" not in MarkdownIt("commonmark").enable("table").render(out)


def test_sarif_rule_help_markdown_from_a_repository_is_escaped(tmp_path):
    from markdown_it import MarkdownIt

    rules = tmp_path / "rules"
    rules.mkdir()
    text = (
        RULE.replace("summary: s", 'summary: "s <img src=x onerror=alert(1)> *not emphasis* `a*b`"')
        .replace(
            "description: d",
            'description: "d\\n\\n<script>alert(2)</script>\\n\\nsecond paragraph with `<b>code</b>` kept"',
        )
        .replace(
            "fix: f", 'fix: f\nexample: "ex\\n```\\n<img src=y>"\nreferences: ["<img src=z>", "https://e.org/a_b"]'
        )
    )
    (rules / "r.yaml").write_text(text)
    code, out, err = run("--isolated", "--rules", rules, "--format", "sarif", CLEAN, cwd=tmp_path)
    assert code == 0, err
    (rule,) = [r for r in json.loads(out)["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "X901"]
    html = MarkdownIt("commonmark").render(rule["help"]["markdown"])
    assert "<img" not in html and "<script" not in html and "<em>" not in html, html
    assert "<p>second paragraph with <code>&lt;b&gt;code&lt;/b&gt;</code> kept</p>" in html  # paragraphs, code spans
    assert "<code>a*b</code>" in html
    assert "<pre><code>ex\n```\n&lt;img src=y&gt;\n</code></pre>" in html  # the example stays one code block
    assert '<a href="https://e.org/a_b">https://e.org/a_b</a>' in html


def test_markdown_checklist_links_only_plain_urls_of_a_repository_rule(tmp_path):
    from markdown_it import MarkdownIt

    rules = tmp_path / "rules"
    rules.mkdir()
    refs = '["https://ok.example/a)![t](https://tracker.example/p.png", "javascript:alert(1)", "<img src=z>"]'
    (rules / "r.yaml").write_text(
        RULE.replace("match: {op: Relu}", "match: {op: GridSample}") + f"references: {refs}\n"
    )
    code, out, err = run(
        "--isolated", "--rules", rules, "--select", "X901", "--format", "markdown", GRIDSAMPLE, cwd=tmp_path
    )
    assert code == 0, err
    (line,) = [x for x in out.splitlines() if x.startswith("  - More:")]
    html = MarkdownIt("commonmark").render(line.strip()[2:])
    assert "<img" not in html, html  # the URL cannot close its link and open an image
    (href,) = re.findall(r'<a href="([^"]*)"', html)  # only the http(s) reference is a link
    assert href.startswith("https://ok.example/a)"), html


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_discovered_dotfile_that_is_not_a_regular_file_is_refused_not_skipped(tmp_path, kind):
    _special(tmp_path, kind, ".precision-lint.yaml")
    code, out, err = run(CLEAN, cwd=tmp_path)
    assert code == 2 and "not a regular file" in one_error_line(err) and ".precision-lint.yaml" in err, err
