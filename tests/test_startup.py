"""The lint path imports only what it uses (issue 17).

``import onnx`` pulls ml_dtypes (1.6 s of start-up with ml_dtypes 0.7): an ONNX file that stores its shapes is
parsed with onnx's generated protobuf classes and decoded with numpy, and onnx is imported only for what needs it
(shape inference, float8/int4 values, unknown operator names).  Each check runs in a fresh interpreter, since the
process boundary (what a fresh ``precision-lint`` run imports) is what is tested.
"""

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
HEAVY = ("onnx", "ml_dtypes", "MNN", "_tools", "networkx", "onnxruntime", "jsonschema")


def run_fresh(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


# The CLI's own entry point in a fresh interpreter; afterwards, which heavy modules the run imported.
LINT = r"""
import json, sys
from precision_lint.cli.commands import main
try:
    main(["--format", "json", "--exit-zero", "-j", "1", *sys.argv[1:]])
except SystemExit as e:
    assert not e.code, e.code
sys.stderr.write("@@HEAVY@@" + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
""" % (HEAVY,)


def lint_fresh(path: str, script: str = LINT):
    """(JSON report, heavy modules imported) of a fresh ``precision-lint --format json PATH``."""
    proc = run_fresh(script, path)
    return json.loads(proc.stdout), json.loads(proc.stderr.rpartition("@@HEAVY@@")[2])


def shaped(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every intermediate shape stored, as exporters write it."""
    return onnx.shape_inference.infer_shapes(model, data_prop=True)


# both store every shape, as exporters write them; the ViT has Constant nodes, weights and 100+ operators
@pytest.mark.parametrize("name", ["gridsample_large.onnx", "architectures/vit_tiny.onnx"])
def test_linting_an_onnx_file_with_stored_shapes_imports_neither_onnx_nor_ml_dtypes(name):
    from precision_lint.api import Linter

    path = os.path.join(SAMPLES, name)
    report, heavy = lint_fresh(path)
    assert heavy == []
    # the guard is only worth something if that run really linted: the same findings as a lint in this process
    fresh = sorted((f["rule"], f["node"], f["level"]) for f in report["files"][0]["findings"])
    result = Linter().lint_file(path)
    assert fresh == sorted((f.rule_id, f.node, f.level) for f in result.findings) and fresh
    assert report["files"][0]["metadata"]["operators"] == result.metadata["operators"]


def test_linting_an_mnn_file_imports_no_onnx_mnn_or_networkx():
    report, heavy = lint_fresh(os.path.join(SAMPLES, "clean.mnn"))
    assert heavy == []
    assert report["files"][0]["format"] == "mnn" and report["files"][0]["metadata"]["operators"] > 5


LIGHT = ("importlib.resources", "importlib.abc", "tempfile", "shutil", "multiprocessing", "concurrent")
LINT_LIGHT = LINT.replace("@@HEAVY@@", "@@IGNORED@@") + (
    "\nsys.stderr.write('@@HEAVY@@' + json.dumps(sorted(m for m in sys.modules if m in %r)))\n" % (LIGHT,)
)


@pytest.mark.parametrize("name", ["clean.mnn", "clean.onnx"])
def test_a_lint_imports_none_of_the_standard_modules_it_does_not_need(name):
    """Modules a lint never uses but once paid for at every start-up: importlib.resources (with tempfile, shutil,
    bz2, lzma and random: about 12 ms), tempfile for stdin models only, multiprocessing until workers start."""
    _, light = lint_fresh(os.path.join(SAMPLES, name), LINT_LIGHT)
    assert light == []


def test_shape_inference_runs_only_when_the_file_lacks_shapes(tmp_path):
    from precision_lint.model.loaders import load_model

    bare = parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1,3,16,16] x) => (float[1,3,16,16] y) {
          a = Relu (x)
          y = Softmax <axis=1> (a)
        }""")
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    onnx.save(shaped(bare), str(tmp_path / "shaped.onnx"))
    g_bare, g_shaped = load_model(str(tmp_path / "bare.onnx")), load_model(str(tmp_path / "shaped.onnx"))
    assert g_bare.metadata["shape_inference"] == "ok"
    assert g_shaped.metadata["shape_inference"] == "not needed"
    for g in (g_bare, g_shaped):
        assert g.tensors["a"].shape == (1, 3, 16, 16) and g.tensors["a"].dtype == "float32"

    # a stored shape with an unknown dimension (neither a value nor a symbol) is not enough
    partial = shaped(bare)
    partial.graph.value_info[0].type.tensor_type.shape.dim[1].Clear()
    onnx.save(partial, str(tmp_path / "partial.onnx"))
    g = load_model(str(tmp_path / "partial.onnx"))
    assert g.metadata["shape_inference"] == "ok" and g.tensors["a"].shape == (1, 3, 16, 16)


# A lint of a file without stored shapes, then ``import onnx`` in the same process: the extension that inferred the
# shapes is the package's own, and the package works (shape inference, checker, schemas, reference evaluator).
UNSHAPED_THEN_ONNX = r"""
import json, sys
from precision_lint.api import Linter
result = Linter().lint_file(sys.argv[1])
out = {"imported": sorted(m for m in sys.modules if m.split(".")[0] in ("onnx", "ml_dtypes")),
       "shape_inference": result.metadata["shape_inference"],
       "findings": sorted([f.rule_id, f.node, f.level] for f in result.findings)}
import onnx, onnx.checker, onnx.defs, onnx.shape_inference
from onnx.reference import ReferenceEvaluator
model = onnx.load(sys.argv[1])
onnx.checker.check_model(model)
out["same_extension"] = onnx.onnx_cpp2py_export is sys.modules["onnx.onnx_cpp2py_export"]
out["value_info"] = len(onnx.shape_inference.infer_shapes(model).graph.value_info)
out["relu_known"] = onnx.defs.has("Relu")
ReferenceEvaluator(model)
print(json.dumps(out))
"""


def test_a_file_without_shapes_is_inferred_by_onnx_s_extension_without_importing_onnx():
    """The C++ shape inference loads in milliseconds; ``import onnx`` (ml_dtypes) cost most of such a lint."""
    from precision_lint.api import Linter

    path = os.path.join(SAMPLES, "clean.onnx")  # written without intermediate shapes
    assert not onnx.load(path).graph.value_info
    out = json.loads(run_fresh(UNSHAPED_THEN_ONNX, path).stdout)
    assert [m for m in out["imported"] if not m.startswith("onnx.onnx_cpp2py_export")] == []
    assert out["shape_inference"] == "ok"
    assert out["findings"] == sorted([f.rule_id, f.node, f.level] for f in Linter().lint_file(path).findings)
    assert out["same_extension"] and out["value_info"] > 0 and out["relu_known"]


def test_shapes_inferred_through_the_extension_equal_onnx_s_inference(tmp_path):
    from precision_lint.model.loaders import load_model

    for name in ("architectures/bert_tiny.onnx", "architectures/unet_block.onnx", "architectures/vit_tiny.onnx"):
        stored = onnx.load(os.path.join(SAMPLES, name))
        bare = onnx.ModelProto()
        bare.CopyFrom(stored)
        del bare.graph.value_info[:]  # as a file without stored shapes: the loader infers them
        onnx.save(bare, str(tmp_path / "bare.onnx"))
        expected = load_model(os.path.join(SAMPLES, name))  # the shapes onnx inferred when the sample was written
        got = load_model(str(tmp_path / "bare.onnx"))
        assert got.metadata["shape_inference"] == "ok" and expected.metadata["shape_inference"] == "not needed"
        assert {n: (t.shape, t.dtype) for n, t in got.tensors.items()} == {
            n: (t.shape, t.dtype) for n, t in expected.tensors.items()
        }, name


THREADS = r"""
import json, sys, threading
from precision_lint.api import Linter
linter = Linter()
paths = sys.argv[1:]
barrier = threading.Barrier(len(paths))
out = [None] * len(paths)
def lint(i):
    barrier.wait()  # every thread asks for the extension at once
    r = linter.lint_file(paths[i])
    out[i] = [r.metadata.get("shape_inference"), sorted([f.rule_id, f.node, f.level] for f in r.findings)]
threads = [threading.Thread(target=lint, args=(i,)) for i in range(len(paths))]
[t.start() for t in threads]
[t.join() for t in threads]
import onnx
print(json.dumps({"runs": out, "attached": onnx.onnx_cpp2py_export is sys.modules["onnx.onnx_cpp2py_export"]}))
"""


def test_threads_that_lint_files_without_shapes_at_once_load_the_extension_once():
    """The first call of onnx_proto.cpp() from several threads: one load (a second one aborts or fails), and no
    thread reads a half-initialised module (that lint would silently go without shapes)."""
    from precision_lint.api import Linter

    path = os.path.join(SAMPLES, "clean.onnx")
    out = json.loads(run_fresh(THREADS, *[path] * 6).stdout)
    expected = ["ok", sorted([f.rule_id, f.node, f.level] for f in Linter().lint_file(path).findings)]
    assert out["runs"] == [expected] * 6 and out["attached"]


def test_operator_names_missing_from_the_list_are_asked_of_onnx_s_registry(monkeypatch):
    from precision_lint.model.loaders import onnx_proto

    monkeypatch.setattr(onnx_proto, "listed_ops", lambda: frozenset())  # as with an onnx newer than the list
    monkeypatch.setattr(onnx_proto, "_ASKED", {})
    assert onnx_proto.is_known_op("Relu", "") and onnx_proto.is_known_op("GridSample", "ai.onnx")
    assert not onnx_proto.is_known_op("NoSuchOperator", "") and not onnx_proto.is_known_op("Relu", "custom.domain")


DECODE = r"""
import json, sys
import numpy as np
from precision_lint.model.loaders import load_model
def heavy():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("onnx", "ml_dtypes"))
out = {}
for path in sys.argv[1:]:
    g = load_model(path)
    values = {}
    for name in sorted(g.tensors):
        t = g.tensors[name]
        if t.is_const:
            values[name] = {"dtype": t.dtype, "value": np.asarray(t.value, dtype=np.float64).ravel().tolist()}
    out[path] = {"values": values, "imported": heavy()}
import onnx
from precision_lint.model.loaders.onnx_proto import pb
out["same_classes"] = pb().ModelProto is onnx.ModelProto
print(json.dumps(out))
"""


def _identity_model(inits, path):
    nodes = [helper.make_node("Identity", [i.name], [i.name + "_out"]) for i in inits]
    outputs = [helper.make_tensor_value_info(i.name + "_out", i.data_type, list(i.dims)) for i in inits]
    m = helper.make_model(
        helper.make_graph(nodes, "g", [], outputs, initializer=inits), opset_imports=[helper.make_opsetid("", 21)]
    )
    onnx.save(m, str(path))
    return str(path)


def test_initializers_decode_with_numpy_and_ml_dtypes_only_for_the_types_that_need_it(tmp_path):
    bf16 = [1.0, -2.5, 3.140625, 65280.0]
    f8 = [0.5, -1.75, 448.0, 0.0]
    i4 = [-8, -1, 0, 7, 3]
    raw_bf16 = (np.array(bf16, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()  # top halves
    plain = _identity_model(
        [
            helper.make_tensor("bf16_fields", TensorProto.BFLOAT16, [4], bf16),
            helper.make_tensor("bf16_raw", TensorProto.BFLOAT16, [4], raw_bf16, raw=True),
            helper.make_tensor("f16_fields", TensorProto.FLOAT16, [2], [0.5, -65504.0]),
            helper.make_tensor("u8_fields", TensorProto.UINT8, [3], [0, 7, 255]),
            helper.make_tensor("bool_fields", TensorProto.BOOL, [2], [True, False]),
            helper.make_tensor("i64_fields", TensorProto.INT64, [2], [-(2**40), 3]),
            helper.make_tensor("f64_fields", TensorProto.DOUBLE, [1], [1e-300]),
            helper.make_tensor("f32_raw", TensorProto.FLOAT, [2], np.array([0.25, -4.0], "<f4").tobytes(), raw=True),
        ],
        tmp_path / "plain.onnx",
    )
    exotic = _identity_model(
        [
            helper.make_tensor("f8", TensorProto.FLOAT8E4M3FN, [4], f8),
            helper.make_tensor("i4", TensorProto.INT4, [5], i4),
        ],
        tmp_path / "exotic.onnx",
    )

    out = json.loads(run_fresh(DECODE, plain, exotic).stdout.strip().splitlines()[-1])
    assert out[plain]["imported"] == []  # numpy types and bfloat16: neither onnx nor ml_dtypes
    vals = out[plain]["values"]
    assert vals["bf16_fields"] == vals["bf16_raw"] == {"dtype": "bfloat16", "value": bf16}
    assert vals["f16_fields"] == {"dtype": "float16", "value": [0.5, -65504.0]}
    assert vals["u8_fields"] == {"dtype": "uint8", "value": [0.0, 7.0, 255.0]}
    assert vals["bool_fields"] == {"dtype": "bool", "value": [1.0, 0.0]}
    assert vals["i64_fields"] == {"dtype": "int64", "value": [float(-(2**40)), 3.0]}
    assert vals["f64_fields"] == {"dtype": "float64", "value": [1e-300]}
    assert vals["f32_raw"] == {"dtype": "float32", "value": [0.25, -4.0]}

    assert "ml_dtypes" in out[exotic]["imported"]  # imported for the model that needs it
    vals = out[exotic]["values"]
    assert vals["f8"] == {"dtype": "float8_e4m3fn", "value": f8}
    assert vals["i4"] == {"dtype": "int4", "value": [float(x) for x in i4]}
    assert out["same_classes"]  # messages of the private load and of onnx are one class


@pytest.mark.parametrize("domain", ["", "ai.onnx", "ai.onnx.ml", "com.microsoft", "custom"])
def test_known_operator_names_agree_with_onnx_defs(domain):
    from onnx import defs

    from precision_lint.model.loaders.onnx_proto import is_known_op, listed_ops

    names = {n for _, n in listed_ops()} | {"NotAnOp", "GridSample", "Attention", "FusedMatMul"}
    onnx_domain = "" if domain == "ai.onnx" else domain
    for n in sorted(names):
        assert is_known_op(n, domain) == defs.has(n, onnx_domain), (n, domain)


def test_the_operator_list_names_only_operators_onnx_defines():
    from onnx import defs

    from precision_lint.model.loaders.onnx_proto import listed_ops

    assert len(listed_ops()) > 150
    missing = sorted(f"{d}:{n}" for d, n in listed_ops() if not defs.has(n, d))
    assert missing == []


@pytest.mark.parametrize("name", ["mnn_conversion.yaml", "snippets.yaml", "platforms.yaml"])
def test_shipped_data_read_with_libyaml_is_what_the_bounded_loader_reads(name):
    # the lint path reads the package's own YAML with libyaml directly; the bounds are checked here instead
    from precision_lint import safe_yaml

    path = os.path.join(ROOT, "precision_lint", "data", name)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    bounded = safe_yaml.load(text, path, ValueError)
    assert bounded and safe_yaml.load(text, path, ValueError, shipped=True) == bounded
