"""The pre-commit hook, for real: pre-commit installs precision-lint from a snapshot of this checkout into its own
virtualenv (``language: python`` runs ``pip install .``, so this needs the package index) and runs it as a git
pre-commit hook.  A commit that adds the GridSample sample model is blocked; a clean model goes through.

The snapshot is a throwaway git repository with the package's files as they are in this working tree (what the
rest of the suite tests), committed, because a pre-commit ``rev`` must name a commit.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
# what `pip install .` needs from the checkout
SNAPSHOT = ["pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "precision_lint", "rules"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def _env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.pop("PRE_COMMIT", None)
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = precision-lint tests\n\temail = tests@example.invalid\n"
        "[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n"
    )
    env.update(
        {
            "GIT_CONFIG_GLOBAL": str(gitconfig),  # no hooksPath or signing from the developer's own config
            "GIT_CONFIG_NOSYSTEM": "1",
            "PRE_COMMIT_HOME": str(tmp / "pre-commit-home"),  # a fresh store: the hook is installed from scratch
            "PRE_COMMIT_COLOR": "never",
            "NO_COLOR": "1",
        }
    )
    return env


def _run(args, cwd, env, timeout=900):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _git(cwd, env, *args):
    proc = _run(["git", *args], cwd, env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def hooked_repo(tmp_path_factory):
    """A user's repository whose pre-commit config uses the precision-lint hook from a snapshot of this checkout."""
    tmp = tmp_path_factory.mktemp("precommit")
    env = _env(tmp)
    hook_repo = tmp / "precision-lint-snapshot"
    hook_repo.mkdir()
    for name in SNAPSHOT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, hook_repo / name, ignore=IGNORE)
        elif src.is_file():
            shutil.copy(src, hook_repo / name)
    if not (hook_repo / "README.md").exists():  # pyproject's readme must exist for the build
        (hook_repo / "README.md").write_text("# precision-lint\n")
    _git(hook_repo, env, "init", "-q")
    _git(hook_repo, env, "add", ".")
    _git(hook_repo, env, "commit", "-q", "-m", "snapshot")
    rev = _git(hook_repo, env, "rev-parse", "HEAD")

    project = tmp / "project"
    project.mkdir()
    _git(project, env, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo.as_posix()}\n    rev: {rev}\n    hooks:\n      - id: precision-lint\n"
    )
    (project / "README.md").write_text("models\n")
    _git(project, env, "add", ".pre-commit-config.yaml", "README.md")
    _git(project, env, "commit", "-q", "-m", "init", "--no-verify")
    proc = _run([sys.executable, "-m", "pre_commit", "install"], project, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Install the hook's environment once (pip install of the snapshot); later commits reuse it.
    proc = _run([sys.executable, "-m", "pre_commit", "install-hooks"], project, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project, env


def _commit(project: Path, env, message: str):
    proc = _run(["git", "commit", "-m", message], project, env)
    return proc.returncode, proc.stdout + proc.stderr


def test_manifest_is_valid():
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hook_selects_models_by_name_not_by_content_type():
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "precision-lint" and hook["language"] == "python" and hook["entry"] == "precision-lint"
    assert hook["files"] == r"(\.(?i:onnx|mnn)|(^|/)(\.precision-lint\.ya?ml|pyproject\.toml))$"
    assert "types" not in hook and "types_or" not in hook
    assert hook["require_serial"] is True


def test_the_hook_selects_the_models_a_directory_run_lints(tmp_path):
    """A commit of `Net.ONNX` ran no hook while `precision-lint models/` in CI linted it: the walk takes the
    extension in any case, so the hook's pattern must too (pre-commit matches it with re.search)."""
    import re

    import yaml

    from precision_lint.workflow.files import collect

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    names = ["a.onnx", "B.ONNX", "c.Mnn", "d.MNN", "e.onnx.data", "f.onnx_data", "g.txt", "onnx", "h.mnn.bak"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    walked = {os.path.basename(p) for p in collect([str(tmp_path)])}
    hooked = {n for n in names if re.search(hook["files"], f"models/{n}")}
    assert walked == hooked == {"a.onnx", "B.ONNX", "c.Mnn", "d.MNN"}
    # the configuration files it also selects keep their exact names (precision-lint recognises only those)
    configs = [".precision-lint.yaml", ".precision-lint.yml", "pyproject.toml", "sub/pyproject.toml"]
    assert all(re.search(hook["files"], c) for c in configs)
    assert not any(
        re.search(hook["files"], c) for c in ["PYPROJECT.TOML", "my-pyproject.toml", "x.precision-lint.yaml"]
    )


def test_clean_model_is_committed(hooked_repo):
    project, env = hooked_repo
    shutil.copy(SAMPLES / "clean.onnx", project / "classifier.onnx")
    _git(project, env, "add", "classifier.onnx")
    code, out = _commit(project, env, "add a clean model")
    assert code == 0, out
    assert "precision-lint" in out and "Passed" in out, out
    assert _git(project, env, "log", "-1", "--format=%s") == "add a clean model"


def test_gridsample_model_blocks_the_commit(hooked_repo):
    project, env = hooked_repo
    (project / "models").mkdir(exist_ok=True)
    shutil.copy(SAMPLES / "gridsample_large.onnx", project / "models" / "warp.onnx")
    _git(project, env, "add", "models/warp.onnx")
    code, out = _commit(project, env, "add the warp model")
    assert code != 0, out
    assert "Failed" in out and "models/warp.onnx: C001 [error] node 'warp_sample' (GridSample)" in out, out
    assert _git(project, env, "log", "-1", "--format=%s") != "add the warp model"
    # still staged: the user fixes the model or configures an accepted suppression, and commits again
    assert "models/warp.onnx" in _git(project, env, "diff", "--cached", "--name-only")
    (project / ".precision-lint.yaml").write_text(
        "suppressions:\n  - rule: C001\n    path: models/warp.onnx\n    node: warp_sample\n"
        "    reason: the app runs this model at Precision_High on every platform\n"
    )
    _git(project, env, "add", ".precision-lint.yaml")
    code, out = _commit(project, env, "add the warp model, accepted")
    assert code == 0, out  # (pre-commit shows a passing hook's output only with --verbose)
    assert "precision-lint" in out and "Passed" in out, out


def test_commit_without_models_skips_the_hook(hooked_repo):
    project, env = hooked_repo
    (project / "notes.txt").write_text("no models here\n")
    _git(project, env, "add", "notes.txt")
    code, out = _commit(project, env, "notes")
    assert code == 0, out
    assert "(no files to check)Skipped" in out, out


def test_a_configuration_change_alone_relints_the_models(hooked_repo):
    """The hook also selects .precision-lint.yaml and pyproject.toml; given as MODEL, a configuration file stands
    for the models under its directory, so dropping a suppression is checked against the committed models."""
    project, env = hooked_repo
    (project / "models").mkdir(exist_ok=True)
    shutil.copy(SAMPLES / "gridsample_large.onnx", project / "models" / "cfg.onnx")
    accept = (
        "suppressions:\n"
        "  - {rule: C001, path: models/warp.onnx, node: warp_sample, reason: runs at Precision_High}\n"
        "  - {rule: C001, path: models/cfg.onnx, node: warp_sample, reason: runs at Precision_High}\n"
    )
    (project / ".precision-lint.yaml").write_text(accept)
    _git(project, env, "add", "models/cfg.onnx", ".precision-lint.yaml")
    code, out = _commit(project, env, "add cfg, accepted")
    assert code == 0, out
    (project / ".precision-lint.yaml").write_text(accept.rsplit("  - ", 1)[0])  # drop the cfg.onnx suppression
    _git(project, env, "add", ".precision-lint.yaml")
    code, out = _commit(project, env, "configuration only")
    assert code != 0, out
    assert "Failed" in out and "models/cfg.onnx: C001 [error]" in out, out
    # a pyproject.toml without a [tool.precision-lint] table lints nothing
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _git(project, env, "reset", "-q")
    _git(project, env, "add", "pyproject.toml")
    code, out = _commit(project, env, "pyproject only")
    assert code == 0, out


def test_a_committed_file_named_like_an_option_is_linted_not_obeyed(hooked_repo):
    project, env = hooked_repo
    shutil.copy(SAMPLES / "clean.onnx", project / "victim.onnx")
    _git(project, env, "add", "victim.onnx")
    code, out = _commit(project, env, "add the victim model")
    assert code == 0, out
    before = (project / "victim.onnx").read_bytes()
    shutil.copy(SAMPLES / "gridsample_large.onnx", project / "--write-baseline=victim.onnx")
    _git(project, env, "add", "--", "--write-baseline=victim.onnx")
    code, out = _commit(project, env, "a hostile name")
    assert code != 0, out  # the file was linted (its GridSample finding blocks the commit), not taken as an option
    assert "--write-baseline=victim.onnx: C001 [error]" in out, out
    assert (project / "victim.onnx").read_bytes() == before
