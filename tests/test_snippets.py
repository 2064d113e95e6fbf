"""Deployment snippets: every Python snippet the CLI prints runs as printed with the MNN package; the C++ snippets use
only identifiers MNN 3.6.1's headers declare, compile against those headers and, where a shared libpython lets us link
the wheel's engine, run.

The MNN wheel here has only the CPU backend.  Snippets for GPU/NPU platforms are run exactly as printed too: MNN
falls back to the CPU when the requested backend is missing ("Can't Find type=3 backend, use 0 instead"), so the
configuration code, the precision value and the model loading are all exercised; only the backend differs.
MNN is imported only in subprocesses (its import prints to file descriptor 1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from precision_lint.deploy.platforms import PRECISION_ENUM, load_platforms
from precision_lint.deploy.snippets import KINDS, kinds_for, mnn_path_for, snippets_for

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
IDENTIFIERS = Path(__file__).resolve().parent / "data" / "mnn_cpp_identifiers.txt"
# MNN's headers are not part of this project (and the MNN wheel ships none): point MNN_INCLUDE_DIR at an MNN 3.6.1
# checkout's include/ directory to compile and link the C++ snippets against them.
HEADERS = Path(os.environ["MNN_INCLUDE_DIR"]) if os.environ.get("MNN_INCLUDE_DIR") else None
FENCE = re.compile(r"^```(python|cpp|sh)\n(.*?)^```$", re.S | re.M)


def _cli(args, cwd):
    return run_cli(*args, cwd=cwd)


def _printed_blocks(stdout: str):
    return [(lang, body) for lang, body in FENCE.findall(stdout)]


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "model",
    ["gridsample_large.onnx", "clean.onnx", "long_reduction.onnx", "gridsample_large.mnn", "long_reduction.mnn"],
)
def test_every_printed_python_snippet_runs_as_printed(model, tmp_path):
    shutil.copy(SAMPLES / model, tmp_path / model)
    out = _cli([model, "--snippets", "python", "--platform", ",".join(load_platforms()), "--color", "never"], tmp_path)
    assert out.returncode in (0, 1), out.stderr
    blocks = [body for lang, body in _printed_blocks(out.stdout) if lang == "python"]
    assert len(blocks) == len(load_platforms()), out.stdout[-2000:]
    seen = set()
    for code in blocks:
        assert "MNN.tools" not in code.replace("never import MNN.tools", "")
        assert re.search(r'"precision": [0-3],', code), code
        body = code.split("\n", 1)[1]  # the first line names the platform; the rest repeats across CPU platforms
        if body in seen:
            continue
        seen.add(body)
        mnn_file = tmp_path / mnn_path_for(model)
        if model.endswith(".onnx") and mnn_file.exists():
            mnn_file.unlink()  # the snippet's own conversion step must make it
        run = _run_python(code, tmp_path)
        assert run.returncode == 0, f"{code}\n--- stdout\n{run.stdout[-2000:]}\n--- stderr\n{run.stderr[-2000:]}"
        assert mnn_file.exists()
        shapes = [line for line in run.stdout.splitlines() if line.startswith("[[")]
        assert shapes, run.stdout[-2000:]
    # CPU, OPENCL, METAL, VULKAN, CUDA, TRT, NN backends and the precision values of the recommended modes
    assert len(seen) >= 5


def test_python_snippet_uses_the_precision_ints_mnn_honours():
    table = load_platforms()
    for mode, value in (("normal", 0), ("high", 1), ("low", 2), ("low_bf16", 3)):
        code = snippets_for("m.mnn", table["ios-cpu"], mode, ("python",))["python"]
        assert f'"precision": {value},  # {PRECISION_ENUM[mode]}' in code  # an int, never a string MNN ignores
    code = snippets_for("dir with space/m.onnx", table["android-opencl"], "high", ("python",))["python"]
    assert "'dir with space/m.onnx'" in code and "'dir with space/m.mnn'" in code
    assert "import _tools" in code and '"backend": "OPENCL"' in code


def test_json_carries_snippets_per_platform(tmp_path):
    shutil.copy(SAMPLES / "gridsample_large.onnx", tmp_path / "g.onnx")
    out = _cli(["g.onnx", "--format", "json", "--platform", "ios-cpu,android-opencl"], tmp_path)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    f = doc["files"][0]
    assert sorted(f["snippets"]) == ["android-opencl", "ios-cpu"]
    for pid, entry in f["snippets"].items():
        assert set(KINDS) <= set(entry), entry.keys()
        assert entry["model"] == "g.mnn"
        rec = next(p for p in f["recommendation"]["platforms"] if p["platform"] == pid)
        assert entry["mode"] == rec["mode"]
        assert f"MNN::BackendConfig::{rec['precision']}" in entry["cpp_session"]
        assert "MNNConvert -f ONNX --modelFile g.onnx --MNNModel g.mnn" in entry["cli"]


def test_snippet_kind_choices():
    assert kinds_for(["cpp"]) == ("cpp_session", "cpp_module")
    assert kinds_for(["python,cli"]) == ("python", "cli")
    assert kinds_for(["all"]) == KINDS and kinds_for(["none"]) == ()
    with pytest.raises(ValueError):
        kinds_for(["java"])


def test_cli_snippet_encodes_the_tools_arguments():
    table = load_platforms()
    cli = snippets_for("m.mnn", table["android-opencl"], "high", ("cli",))["cli"]
    # MNNV2Basic.out model runLoops runMask forwardType numberThread precision_memory (argv[6])
    assert "./MNNV2Basic.out m.mnn 10 0 3 4 1" in cli
    # ModuleBasic.out model dir runMask forwardType runLoops numberThread precision_memory_power (argv[7])
    assert "./ModuleBasic.out m.mnn INPUT_DIR 0 3 10 4 1" in cli
    assert "MNNConvert" not in cli  # an .mnn input needs no conversion


# ------------------------------------------------------------------------------------------------------------ C++


def _header_identifiers() -> set:
    """MNN identifiers known to exist: the checked-in list, or every word of the real headers when available."""
    if HEADERS is not None:
        words = set()
        for h in HEADERS.rglob("*.h*"):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", h.read_text(encoding="utf-8", errors="replace")))
        return words
    lines = IDENTIFIERS.read_text(encoding="utf-8").splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


_CPP_STD = {
    "include",
    "int",
    "main",
    "return",
    "if",
    "for",
    "const",
    "auto",
    "std",
    "shared_ptr",
    "vector",
    "string",
    "memset",
    "nullptr",
    "float",
    "void",
    "cstring",
    "memory",
    "MNN",
    "second",
    "push_back",
    "h",
    "hpp",
    "input",
    "output",
    "inputs",
    "outputs",
    "host",
    "info",
    "net",
    "session",
    "config",
    "backendConfig",
    "runtime",
    "result",
    "bytes",
}


def _all_cpp_snippets():
    table = load_platforms()
    out = []
    for model in ("model.onnx", "model.mnn"):
        for p in table.values():
            for m in p.supported_modes:
                s = snippets_for(model, p, m.name, ("cpp_session", "cpp_module"))
                out += [(f"{p.id}-{m.name}-{k}-{model}", v) for k, v in s.items()]
    return out


def test_cpp_snippets_use_only_identifiers_from_mnn_headers():
    known = _header_identifiers()
    assert {"Precision_Low_BF16", "createRuntimeManager", "backupType"} <= known
    for name, code in _all_cpp_snippets():
        text = "\n".join(line.split("//")[0] for line in code.splitlines())  # comments are prose
        text = re.sub(r'"[^"]*"', '""', text)
        unknown = sorted({w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)} - known - _CPP_STD)
        assert not unknown, f"{name}: not declared in MNN 3.6.1's headers: {unknown}"


def _compiler():
    return shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


@pytest.mark.skipif(
    _compiler() is None or HEADERS is None,
    reason="needs a C++ compiler and MNN_INCLUDE_DIR (an MNN 3.6.1 include/ directory)",
)
def test_cpp_snippets_compile_against_mnn_headers(tmp_path):
    seen = set()
    for name, code in _all_cpp_snippets():
        body = code.split("\n", 2)[2]
        if body in seen:
            continue
        seen.add(body)
        src = tmp_path / f"{len(seen)}.cpp"
        src.write_text(code, encoding="utf-8")
        r = subprocess.run(
            [_compiler(), "-std=c++11", "-fsyntax-only", f"-I{HEADERS}", str(src)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, f"{name}:\n{code}\n{r.stderr[-3000:]}"


def _engine_link_args():
    """Linker arguments for the MNN wheel's engine (it exports MNN's C++ API), or None where it cannot be linked."""
    import importlib.util

    spec = importlib.util.find_spec("_mnncengine")
    libdir, ldlib = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if (
        spec is None
        or not spec.origin
        or not sysconfig.get_config_var("Py_ENABLE_SHARED")
        or not libdir
        or not ldlib
        or not (Path(libdir) / ldlib).exists()
    ):
        return None
    pylib = re.sub(r"^lib|\.so.*$", "", ldlib)
    engine_dir = str(Path(spec.origin).parent)
    # the manylinux wheel is built with the pre-C++11 std::string ABI
    return [
        "-D_GLIBCXX_USE_CXX11_ABI=0",
        spec.origin,
        f"-L{libdir}",
        f"-l{pylib}",
        f"-Wl,-rpath,{libdir}",
        f"-Wl,-rpath,{engine_dir}",
    ]


@pytest.mark.skipif(
    _compiler() is None or HEADERS is None or _engine_link_args() is None,
    reason="needs a C++ compiler, MNN_INCLUDE_DIR and a shared libpython to link the MNN wheel's engine",
)
@pytest.mark.parametrize("model", ["gridsample_large.mnn", "clean.mnn"])
def test_cpp_snippets_link_and_run_on_the_sample_models(model, tmp_path):
    shutil.copy(SAMPLES / model, tmp_path / model)
    table = load_platforms()
    for pid in ("ios-cpu", "android-opencl"):  # CPU as printed; OpenCL falls back to the CPU in this wheel
        for kind, code in snippets_for(model, table[pid], "low", ("cpp_session", "cpp_module")).items():
            src, exe = tmp_path / f"{pid}-{kind}.cpp", tmp_path / f"{pid}-{kind}"
            src.write_text(code, encoding="utf-8")
            r = subprocess.run(
                [_compiler(), "-std=c++11", f"-I{HEADERS}", str(src), "-o", str(exe), *_engine_link_args()],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert r.returncode == 0, r.stderr[-3000:]
            run = subprocess.run([str(exe)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, f"{pid} {kind}: {run.stdout[-1000:]} {run.stderr[-1000:]}"


# A file name is attacker-controlled (a repository's, a pull request's): its newline must not end the comment the
# conversion command is quoted in, or the printed snippet runs code the name carries.
HOSTILE_PATHS = [
    'n\nimport os; os.system("id") #.onnx',
    "r\rexit(3)\n#.onnx",
    "e\x1b[2Jx.onnx",
    "q'uo\"te\\ $(id) `id`.onnx",
    'm\n#include <cstdlib>\nint x = system("id");\n.mnn',
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_a_file_name_cannot_add_lines_to_a_snippet(path):
    import ast

    platform = load_platforms()["ios-cpu"]
    plain = snippets_for("m" + os.path.splitext(path)[1], platform, "normal")
    hostile = snippets_for(path, platform, "normal")
    for kind, code in hostile.items():
        assert code.count("\n") == plain[kind].count("\n"), code  # no line added, none broken
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f]", code), repr(code)
    tree = ast.parse(hostile["python"])  # the Python snippet holds the name only as string constants
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert mnn_path_for(path) in strings
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"]
    for line in hostile["cpp_session"].splitlines()[:2] + hostile["cpp_module"].splitlines()[:2]:
        assert line.startswith("// ") and not line.endswith("\\"), line


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_the_shell_commands_pass_a_hostile_file_name_as_one_word(path):
    cli = snippets_for(path, load_platforms()["ios-cpu"], "normal", ("cli",))["cli"]
    commands = [line for line in cli.splitlines() if line.startswith(("MNNConvert ", "./MNNV2Basic.out "))]
    assert len(commands) == (2 if path.endswith(".onnx") else 1), cli
    for command in commands:
        words = command.split(" ", 1)[1]
        out = subprocess.run(["bash", "-c", f"printf '%s\\0' {words}"], capture_output=True, timeout=30)
        args = out.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
        if command.startswith("MNNConvert "):
            assert args == ["-f", "ONNX", "--modelFile", path, "--MNNModel", mnn_path_for(path), "--bizCode", "biz"]
        else:
            assert args[0] == mnn_path_for(path), (command, args)
