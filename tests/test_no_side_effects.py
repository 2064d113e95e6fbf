"""No network, no telemetry, no side effects (issue 7).

The CLI runs in a subprocess under an audit hook (``sys.addaudithook``) that refuses every socket connection and
records what the run opens for writing, what it imports and whether it starts processes.  Linting must connect to
nothing, write nothing, start nothing, never import ``MNN.tools`` (its import pip-installs a package and sends
telemetry) and, on the lint path, not even ``MNN``; a .mnn-only run does not import onnx, and ``--version`` and
``rule C001`` import neither onnx nor MNN.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")

HARNESS = r"""
import json, os, sys
rec = {"net": [], "writes": [], "spawn": [], "imports": []}
active = [True]
NET = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg",
       "socket.bind", "urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect")
SPAWN = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
         "pty.spawn")
W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def hook(event, args):
    if not active[0]:
        return
    if event in NET:
        rec["net"].append([event, repr(args)[:200]])
        raise PermissionError("network access is disabled in this test")
    if event in SPAWN:
        rec["spawn"].append([event, repr(args)[:200]])
    elif event == "import":
        rec["imports"].append(args[0])
    elif event == "open":
        path, mode, flags = (list(args) + [None, None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & W)
        if writing and path is not None:
            rec["writes"].append(os.fsdecode(path) if not isinstance(path, int) else f"fd {path}")
sys.addaudithook(hook)
from precision_lint.cli.commands import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
finally:
    active[0] = False
sys.stdout.flush()
sys.stderr.write("\n@@AUDIT@@" + json.dumps(dict(rec, code=code)) + "\n")
"""


def run_audited(args, cwd):
    env = dict(os.environ)
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(k, None)
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS, *args], capture_output=True, text=True, cwd=str(cwd), timeout=300, env=env
    )
    err, _, audit = proc.stderr.rpartition("@@AUDIT@@")
    assert audit, proc.stderr[-3000:]
    rec = json.loads(audit)
    rec["stdout"], rec["stderr"] = proc.stdout, err
    rec["imports"] = set(rec["imports"])
    return rec


def _snapshot(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            out[os.path.relpath(p, d)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    for name in ("gridsample_large.onnx", "gridsample_large.mnn", "clean.onnx", "clean.mnn", "long_reduction.mnn"):
        shutil.copy(os.path.join(SAMPLES, name), str(d / name))
    return d


def _assert_quiet(rec, model_dir, cwd):
    assert rec["net"] == [], rec["net"]
    assert rec["spawn"] == [], rec["spawn"]
    bad = [w for w in rec["writes"] if not (w.endswith(".pyc") or ".pyc." in w) or str(model_dir) in w or str(cwd) in w]
    assert bad == [], bad
    assert "MNN.tools" not in rec["imports"] and "_tools" not in rec["imports"]
    assert "Traceback" not in rec["stderr"]


def test_lint_run_connects_to_nothing_writes_nothing_and_imports_no_mnn(model_dir, tmp_path):
    before = _snapshot(str(model_dir))
    cwd_before = _snapshot(str(tmp_path))
    rec = run_audited(["-j", "1", "--format", "json", str(model_dir)], tmp_path)
    assert rec["code"] == 1, rec["stderr"]  # gridsample_large has an error-level finding
    assert json.loads(rec["stdout"])
    _assert_quiet(rec, model_dir, tmp_path)
    assert not any(m == "MNN" or m.startswith("MNN.") for m in rec["imports"]), sorted(
        m for m in rec["imports"] if "MNN" in m
    )
    assert _snapshot(str(model_dir)) == before  # nothing created or touched, no __pycache__ next to the models
    assert _snapshot(str(tmp_path)) == cwd_before


def test_mnn_only_run_does_not_import_onnx(model_dir, tmp_path):
    rec = run_audited(["-j", "1", str(model_dir / "clean.mnn"), str(model_dir / "long_reduction.mnn")], tmp_path)
    assert rec["code"] in (0, 1), rec["stderr"]
    _assert_quiet(rec, model_dir, tmp_path)
    heavy = {m for m in rec["imports"] if m.split(".")[0] in ("onnx", "MNN", "networkx")}
    assert heavy == set(), sorted(heavy)


@pytest.mark.parametrize("args", [["--version"], ["rule", "C001"], ["rules"]])
def test_version_and_rule_help_import_neither_onnx_nor_mnn(args, tmp_path):
    rec = run_audited(args, tmp_path)
    assert rec["code"] == 0, rec["stderr"]
    heavy = {m for m in rec["imports"] if m.split(".")[0] in ("onnx", "MNN", "networkx")}
    assert heavy == set(), sorted(heavy)
    if args == ["--version"]:
        assert not {m for m in rec["imports"] if m.split(".")[0] in ("numpy", "yaml", "jsonschema")}
    assert rec["net"] == [] and rec["spawn"] == []
