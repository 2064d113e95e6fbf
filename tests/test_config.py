"""Configuration: discovery, validation (one line naming the file and key, exit 2), mapping onto Options."""

import os
import shutil

import pytest

from precision_lint.api import Linter, Options
from precision_lint.workflow.config import apply_config, find_config, load_config, load_options
from precision_lint.errors import ConfigError, PrecisionLintError

from cli_runner import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRIDSAMPLE = os.path.join(ROOT, "sample_models", "gridsample_large.onnx")
CLEAN = os.path.join(ROOT, "sample_models", "clean.onnx")


def run(*args, cwd):
    proc = run_cli(*args, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def test_pyproject_table_is_found_upward_from_the_working_directory(project):
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.precision-lint]\nfail_level = "warning"\ntolerances = {gridsample_px = 4.0}\n'
        'mnn_version = "3.0.0"\n'  # before the Arm82 GridSample bug, which a tolerance does not silence
    )
    sub = project / "models"
    assert find_config(str(sub)) == str(project / "pyproject.toml")
    o = load_options(start=str(sub))
    assert o.fail_level == "warning" and o.tolerances == {"gridsample_px": 4.0}
    assert o.root == str(project)
    # the tolerance from the config silences the finding (MNN 3.0.0: no known bug): exit 0 from the subdirectory
    code, out, err = run("warp.onnx", cwd=sub)
    assert code == 0, out + err


def test_pyproject_without_our_table_is_skipped_and_the_dotfile_wins(project):
    (project / "models" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (project / ".precision-lint.yaml").write_text("fail_level: info\n")
    (project / "pyproject.toml").write_text('[tool.precision-lint]\nfail_level = "warning"\n')
    assert find_config(str(project / "models")) == str(project / ".precision-lint.yaml")


def test_kebab_case_keys_are_accepted_and_mapped(project):
    cfg = project / ".precision-lint.yaml"
    cfg.write_text(
        "fail-level: warning\nselect: [C]\nlevel-overrides: {C001: warning}\n"
        "input-ranges: {image: [0, 1], flow: '-4:4'}\nplatforms: [ios-cpu]\n"
        "targets: ['ios-cpu:low']\nplatform-overrides: {ios-cpu: {note: custom}}\n"
        "per-path-ignores: {'legacy/**': [C001]}\nrule-dirs: [rules]\nbaseline: base.json\n"
    )
    (project / "rules").mkdir()
    o = apply_config(Options(), load_config(str(cfg)))
    assert o.fail_level == "warning" and o.select == ("C",) and o.level_overrides == {"C001": "warning"}
    assert o.input_ranges == {"image": (0.0, 1.0), "flow": (-4.0, 4.0)}
    assert o.platforms == ("ios-cpu",) and o.targets == ("ios-cpu:low",)
    assert o.platform_overrides == {"ios-cpu": {"note": "custom"}}
    assert o.per_path_ignores == {"legacy/**": ("C001",)}
    assert o.rule_dirs == (str(project / "rules"),) and o.baseline == str(project / "base.json")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("selct: [C]\n", ".precision-lint.yaml: selct: unknown key (did you mean 'select'?)"),
        ("select: C001\n", ".precision-lint.yaml: select: expected a list, got a string 'C001'"),
        ("select:\n", ".precision-lint.yaml: select: expected a list, got no value (null)"),  # was "NoneType None"
        ("fail_level: fatal\n", ".precision-lint.yaml: fail_level: 'fatal' is not one of error, warning, info"),
        ("tolerances: {gridsample_px: big}\n", ".precision-lint.yaml: tolerances.gridsample_px: expected a number"),
        ("input_ranges: {image: [1]}\n", '.precision-lint.yaml: input_ranges.image: expected [LO, HI] or "LO:HI"'),
        ("input_ranges: {image: [2, 1]}\n", ".precision-lint.yaml: input_ranges.image: LO must not exceed HI"),
        ("input_ranges: {image: [.nan, 1]}\n", ".precision-lint.yaml: input_ranges.image: LO and HI must be numbers"),
        ("input_ranges: {image: '0:nan'}\n", ".precision-lint.yaml: input_ranges.image: LO and HI must be numbers"),
        (
            "suppressions: [{rule: C001, path: '*.onnx'}]\n",
            ".precision-lint.yaml: suppressions[0]: missing required key 'reason'",
        ),
        (
            "suppressions: [{rule: C001, path: '*.onnx', reason: '  '}]\n",
            ".precision-lint.yaml: suppressions[0].reason: a suppression needs a reason",
        ),
        (
            "suppressions: [{rule: C001, path: '*.onnx', reason: ok, nodes: x}]\n",
            ".precision-lint.yaml: suppressions[0].nodes: unknown key (did you mean 'node'?)",
        ),
        ("fail-level: info\nfail_level: info\n", ".precision-lint.yaml: fail_level: given twice"),
        ("rule_dirs: [missing]\n", ".precision-lint.yaml: rule_dirs[0]: rule directory 'missing' not found"),
        ("select: [\n", ".precision-lint.yaml: invalid YAML (line 2"),
        ("- a list\n", ".precision-lint.yaml: the file must be a mapping"),
        (
            "per_path_ignores: {'m[z-a].onnx': [C001]}\n",
            '.precision-lint.yaml: per_path_ignores."m[z-a].onnx": invalid glob',
        ),
        (
            "suppressions: [{rule: C001, path: '*.onnx', node: '[9-0]', reason: ok}]\n",
            ".precision-lint.yaml: suppressions[0].node: invalid glob",
        ),
    ],
)
def test_invalid_config_is_one_line_naming_file_and_key(project, text, expected, monkeypatch):
    monkeypatch.chdir(project)  # messages show the config path relative to the working directory
    (project / ".precision-lint.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_options(start=str(project))
    assert str(exc.value).startswith(expected), str(exc.value)
    code, out, err = run("models", cwd=project)
    assert code == 2 and out == ""
    assert err.startswith("error: " + expected) and err.count("\n") == 1, err


def test_pyproject_errors_name_the_tool_table_key(project):
    (project / "pyproject.toml").write_text('[tool.precision-lint]\nfail-level = "warnin"\n')
    code, out, err = run("models", cwd=project)
    assert code == 2
    assert err == (
        "error: pyproject.toml: tool.precision-lint.fail-level: 'warnin' is not one of error, warning, info\n"
    )


def test_invalid_toml_is_reported_with_the_file(project):
    (project / "pyproject.toml").write_text('[tool.precision-lint]\nselect = ["C"\n')
    code, _, err = run("models", cwd=project)
    assert code == 2 and err.startswith("error: pyproject.toml: invalid TOML")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("select: [Z9]\n", ".precision-lint.yaml: select: unknown rule id or prefix 'Z9'"),
        ("ignore: [C001, Q]\n", ".precision-lint.yaml: ignore: unknown rule id or prefix 'Q'"),
        ("level_overrides: {X999: info}\n", ".precision-lint.yaml: level_overrides.X999: unknown rule id or prefix"),
        (
            "per_path_ignores: {'legacy/*.onnx': [C001, K7]}\n",
            ".precision-lint.yaml: per_path_ignores.\"legacy/*.onnx\": unknown rule id or prefix 'K7'",
        ),
        (
            "suppressions: [{rule: C999, path: '*.onnx', reason: accepted}]\n",
            ".precision-lint.yaml: suppressions[0].rule: unknown rule id or prefix 'C999'",
        ),
        (
            "tolerances: {gridsample_pixels: 1}\n",
            ".precision-lint.yaml: tolerances.gridsample_pixels: unknown tolerance 'gridsample_pixels'",
        ),
    ],
)
def test_unknown_rule_ids_and_tolerances_in_config_name_file_and_key(project, text, expected, monkeypatch):
    monkeypatch.chdir(project)
    (project / ".precision-lint.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        Linter(load_options(start=str(project)))
    assert str(exc.value).startswith(expected), str(exc.value)
    code, out, err = run("models", cwd=project)
    assert code == 2 and err.startswith("error: " + expected) and err.count("\n") == 1, err


def test_command_line_overrides_config_and_isolated_ignores_it(project):
    (project / ".precision-lint.yaml").write_text("select: [Z9]\n")  # would be an error
    code, out, err = run("--select", "C", "models", cwd=project)
    assert code == 1 and "C001" in out, err  # --select replaced the config's select
    code, out, err = run("--isolated", "models", cwd=project)
    assert code == 1 and "C001" in out, err
    code, out, err = run("--isolated", "--config", ".precision-lint.yaml", "models", cwd=project)
    assert code == 2 and "exclude each other" in err


def test_explicit_config_file(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "lint.yaml"
    other.write_text("tolerances: {gridsample_px: 4.0}\n")
    code, out, err = run("--config", str(other), "models", cwd=project)
    assert code == 0, out + err
    code, _, err = run("--config", "nope.yaml", "models", cwd=project)
    assert code == 2 and err == "error: nope.yaml: configuration file not found\n"
    (project / "setup.toml").write_text("[tool.other]\nx = 1\n")
    code, _, err = run("--config", "setup.toml", "models", cwd=project)
    assert code == 2 and "no [tool.precision-lint] table" in err


def test_level_overrides_by_id_and_prefix_most_specific_wins(project):
    (project / ".precision-lint.yaml").write_text("level_overrides: {C: info, C001: warning}\n")
    code, out, err = run("models", cwd=project)
    assert code == 0 and "C001 [warning]" in out, out + err
    (project / ".precision-lint.yaml").write_text("level_overrides: {C: info}\nfail_level: info\n")
    code, out, _ = run("models", cwd=project)
    assert code == 1 and "C001 [info]" in out


def test_per_path_ignores_switch_rules_off_for_matching_paths(project):
    (project / "models" / "legacy").mkdir()
    shutil.copy(GRIDSAMPLE, project / "models" / "legacy" / "old.onnx")
    (project / ".precision-lint.yaml").write_text("per_path_ignores: {'models/legacy/**': [C]}\n")
    code, out, _ = run("models", cwd=project)
    assert "models/warp.onnx: C001" in out and "old.onnx: C001" not in out


def test_options_from_config_drive_the_library(project):
    (project / ".precision-lint.yaml").write_text("tolerances: {gridsample_px: 10.0}\nmnn_version: '3.0.0'\n")
    linter = Linter(load_options(start=str(project)))
    assert linter.lint_file(str(project / "models" / "warp.onnx")).reported == []


def test_config_error_is_a_precision_lint_error():
    assert issubclass(ConfigError, PrecisionLintError)


def test_platform_files_are_relative_to_the_config_file(project, monkeypatch):
    monkeypatch.chdir(project)
    (project / "lint").mkdir()
    (project / "lint" / "platforms.yaml").write_text("platforms: {}\n")
    (project / ".precision-lint.yaml").write_text("platform_files: [lint/platforms.yaml]\n")
    o = load_options(start=str(project / "models"))
    assert o.platform_files == (str(project / "lint" / "platforms.yaml"),)
    (project / ".precision-lint.yaml").write_text("platform_files: [missing.yaml]\n")
    with pytest.raises(
        ConfigError,
        match=r"^\.precision-lint\.yaml: platform_files\[0\]: platform file 'missing.yaml' "
        r"not found",
    ):
        load_options()


def test_rules_and_rule_commands_read_rule_dirs_from_config(tmp_path):
    """`precision-lint rules` / `rule ID` see the same rules as `check` (config rule_dirs included)."""
    (tmp_path / "my_rules").mkdir()
    (tmp_path / "my_rules" / "u.yaml").write_text(
        "id: U901\nname: every-gridsample\nclass: coordinate\nsummary: every GridSample, for the team\n"
        "description: d\nfix: f\nmatch: {op: GridSample}\nmessage: m\ntests: [{model: x, expect: []}]\n"
    )
    (tmp_path / ".precision-lint.yaml").write_text("rule_dirs: [my_rules]\n")

    def run(*args):
        return run_cli(*args, cwd=tmp_path)

    assert "U901" in run("rules").stdout
    assert "every GridSample, for the team" in run("rule", "U901").stdout
    assert "U901" not in run("rules", "--isolated").stdout
    r = run("rule", "U901", "--isolated")
    assert r.returncode == 2 and "unknown rule" in r.stderr


@pytest.mark.parametrize(
    "text, expected",
    [
        # YAML keeps the last of two equal keys; the first select would vanish without a word (TOML refuses them)
        ("select: [C]\nselect: [R]\n", ".precision-lint.yaml: select: given twice (lines 1 and 2)"),
        (
            "tolerances:\n  gridsample_px: 4\n  gridsample_px: 0.1\n",
            ".precision-lint.yaml: tolerances.gridsample_px: given twice (lines 2 and 3)",
        ),
        (
            "suppressions:\n  - {rule: C001, path: '*.onnx', reason: ok, reason: ''}\n",
            ".precision-lint.yaml: suppressions[0].reason: given twice (lines 2 and 2)",
        ),
    ],
)
def test_a_key_given_twice_in_yaml_is_an_error(project, text, expected, monkeypatch):
    monkeypatch.chdir(project)
    (project / ".precision-lint.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_options(start=str(project))
    assert str(exc.value).startswith(expected), str(exc.value)
    code, out, err = run("models", cwd=project)
    assert code == 2 and out == "" and err.startswith("error: " + expected) and err.count("\n") == 1, err


@pytest.mark.parametrize("select", ["", "select: [R]\n"])
def test_unknown_extend_select_in_config_names_file_and_key(project, select):
    # without a select, the key used to be dropped unchecked; with one, the error blamed `select`
    (project / ".precision-lint.yaml").write_text(select + "extend_select: [C999]\n")
    code, out, err = run("models", cwd=project)
    assert code == 2 and out == ""
    assert err == "error: .precision-lint.yaml: extend_select: unknown rule id or prefix 'C999'\n", err


def test_extend_select_names_a_rule_from_rules_dir(project, tmp_path_factory):
    rules = tmp_path_factory.mktemp("own_rules")
    code, _, err = run("new-rule", "Z001", "my-check", "-d", str(rules), cwd=project)
    assert code == 0, err
    code, out, err = run("--rules", str(rules), "--select", "C", "--extend-select", "Z001", "models", cwd=project)
    assert code == 1 and "C001" in out, err  # Z001 exists: it comes from --rules
    code, _, err = run("--rules", str(rules), "--extend-select", "Z002", "models", cwd=project)
    assert code == 2 and err == "error: --extend-select: unknown rule id or prefix 'Z002'\n", err


def test_a_command_line_tolerance_overrides_the_files_per_rule_one(project):
    # "Command-line flags override the file": --tolerance gridsample_px=10 used to lose to the file's
    # C001.gridsample_px (the more specific name), so the flag changed nothing and said nothing
    # MNN 3.0.0: before the Arm82 GridSample bug, which no tolerance silences
    (project / ".precision-lint.yaml").write_text("tolerances: {C001.gridsample_px: 0.01}\nmnn_version: '3.0.0'\n")
    code, out, err = run("-q", "models", cwd=project)
    assert code == 1 and "C001 [error]" in out, err
    code, out, err = run("--tolerance", "gridsample_px=10", "-q", "models", cwd=project)
    assert code == 0 and out == "", out + err
    # on the command line itself the per-rule setting stays the more specific one
    code, out, err = run(
        "--tolerance", "gridsample_px=10", "--tolerance", "C001.gridsample_px=0.01", "-q", "models", cwd=project
    )
    assert code == 1 and "C001 [error]" in out, err
    code, out, err = run(
        "--tolerance", "C001.gridsample_px=0.01", "--tolerance", "gridsample_px=10", "-q", "models", cwd=project
    )
    assert code == 1 and "C001 [error]" in out, err


@pytest.mark.parametrize(
    "text",
    [
        "[tool.precision-lint.tolerances]\nC001.gridsample_px = 10\n",  # a TOML dotted key: a table C001
        '[tool.precision-lint.tolerances]\n"C001.gridsample_px" = 10\n',
        "[tool.precision-lint.tolerances.C001]\ngridsample_px = 10\n",
    ],
)
def test_a_per_rule_tolerance_in_toml(project, text):
    # --tolerance C001.gridsample_px=10 written as TOML is a dotted key, which TOML reads as a table: it was
    # refused as "tolerances.C001: expected a number, got a mapping"
    # MNN 3.0.0: before the Arm82 GridSample bug, which no tolerance silences
    (project / "pyproject.toml").write_text('[tool.precision-lint]\nmnn_version = "3.0.0"\n\n' + text)
    assert load_options(start=str(project)).tolerances == {"C001.gridsample_px": 10.0}
    code, out, err = run("-q", "models", cwd=project)
    assert code == 0 and out == "", out + err


def test_a_per_rule_tolerance_table_keeps_its_errors(project):
    (project / "pyproject.toml").write_text('[tool.precision-lint.tolerances.C001]\ngridsample_px = "big"\n')
    code, _, err = run("models", cwd=project)
    assert code == 2 and err.startswith(
        'error: pyproject.toml: tool.precision-lint.tolerances."C001.gridsample_px": expected a number'
    ), err
    (project / "pyproject.toml").write_text("[tool.precision-lint.tolerances.C999]\ngridsample_px = 1\n")
    code, _, err = run("models", cwd=project)
    assert code == 2 and "unknown tolerance 'C999.gridsample_px'" in err, err
