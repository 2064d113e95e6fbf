"""The MNN loader: ops, attributes, exact constants, fp16 and external weights, subgraphs, the lint path.

Models are converted by MNN's own converter (sample_models/build.py; never MNN.tools) into temporary directories.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper, parser

import mnn_fb as fb
from mnn_models import REPO, convert
from precision_lint.api import Linter, Options, lint
from precision_lint.model.loaders import load_model
from precision_lint.model.loaders.mnn_loader import load_mnn

SAMPLES = os.path.join(REPO, "sample_models")


def _initializers(onnx_path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(onnx_path).graph.initializer}


def _build(tmp_path, text, name="m", extra=()):
    model = parser.parse_model(text)
    onnx.checker.check_model(model)
    src = str(tmp_path / f"{name}.onnx")
    onnx.save(model, src)
    return src, convert(src, str(tmp_path / f"{name}.mnn"), extra)


# ----- the committed sample .mnn files -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gridsample_large", "clean", "long_reduction"])
def test_committed_samples_read_with_metadata(name):
    g = load_mnn(os.path.join(SAMPLES, f"{name}.mnn"))
    assert g.format == "mnn" and len(g) > 0
    assert g.metadata["mnn_version"] == "3.6.1" and g.metadata["source_type"] == "ONNX"
    assert g.metadata["biz_code"] == "biz" and g.metadata["fp16_converted"] is False
    assert not any(op.source_op == "ConvertTensor" for op in g.operators())
    assert g.notes == []  # every op known, every shape propagated


def test_gridsample_rewired_through_layout_ops():
    g = load_mnn(os.path.join(SAMPLES, "gridsample_large.mnn"))
    (gs,) = g.by_op("GridSample")
    assert gs.name == "warped" and gs.inputs == ["image", "grid"] and gs.outputs == ["warped"]
    assert gs.attrs == {"mode": "bilinear", "padding_mode": "zeros", "align_corners": 0}
    assert g.tensors["image"].shape == (1, 3, 1024, 1024) and g.tensors["warped"].shape == (1, 3, 256, 256)
    assert g.inputs == ["image", "grid"] and g.outputs == ["warped"]
    assert g.metadata["convert_tensor_dropped"] == 2


def test_conv_weights_and_matmul_converted_to_conv_are_exact():
    init = _initializers(os.path.join(SAMPLES, "clean.onnx"))
    g = load_mnn(os.path.join(SAMPLES, "clean.mnn"))
    conv1 = g.ops["c1"]
    assert conv1.op == "Conv" and conv1.attrs["kernel_shape"] == [3, 3] and conv1.attrs["reduction_depth"] == 27
    assert conv1.attrs["fused_activation"] == "Relu"  # the converter fused relu1 into the conv
    w, b = (g.tensors[n] for n in conv1.inputs[1:])
    assert w.shape == (8, 3, 3, 3) and np.array_equal(w.value, init["conv1.weight"])
    assert np.array_equal(b.value, init["conv1.bias"]) and w.stored_dtype == "float32"
    fc = g.ops["logits__matmul_converted"]
    assert fc.op == "Conv" and fc.attrs["converted_from"] == "MatMul" and fc.attrs["reduction_depth"] == 16
    assert np.array_equal(g.tensors[fc.inputs[1]].value.reshape(10, 16), init["fc.weight"].T)


def test_long_reduction_axes_and_shape():
    g = load_mnn(os.path.join(SAMPLES, "long_reduction.mnn"))
    (r,) = g.by_op("ReduceMean")
    assert r.source_op == "Reduction/MEAN" and r.attrs["axes"] == [1] and r.attrs["keepdims"] == 1
    assert g.tensors[r.outputs[0]].shape == (1, 1, 16)


def test_constants_are_bit_exact(models):
    onnx_path, mnn_path = models["vit_tiny"]
    g = load_mnn(mnn_path)
    pos = g.tensors["pos_embed"]
    assert pos.is_const and pos.const_origin == "Const op pos_embed"
    assert np.array_equal(pos.value, _initializers(onnx_path)["pos_embed"])
    eps = {op.attrs["epsilon"] for op in g.by_op("LayerNormalization")}
    assert eps == {float(np.float32(1e-6))}


def test_intermediate_shapes_are_propagated(models):
    """MNN stores no intermediate shapes; the rules' inputs (softmax axes, GridSample sizes...) are recovered."""
    expect = {
        "vit_tiny": ("Softmax", (1, 4, 197, 197)),
        "bert_tiny": ("Softmax", (1, 4, 128, 128)),
        "unet_block": ("Softmax", (1, 4096, 4096)),
        "llama_block": ("Softmax", (1, 4, 2048, 2048)),
        "flow_warp": ("GridSample", (1, 3, 512, 1024)),
    }
    for name, (op_type, shape) in expect.items():
        g = load_mnn(models[name][1])
        assert g.notes == [], (name, g.notes)
        for op in g.by_op(op_type):
            assert g.tensors[op.inputs[0]].shape == shape, (name, op.name)


# ----- op mapping ----------------------------------------------------------------------------------------------------
ONES = ", ".join(["1"] * 32)
ZEROS = ", ".join(["0"] * 32)
ZOO = f"""
<ir_version: 8, opset_import: ["" : 18]>
zoo (float[1,8,16,16] x, float[1,8,8,2] grid, float[1,4,32] t, int64[1,4] ids)
  => (float[1,8,8,8] gs, float[1,8,32,32] rz, float[1,8,32,32] rz2, float[1,8,32,32] rz3, float[1,1,32] rs,
      float[1,4,1] rm, float[1,4,1] rp, float[1,4,32] sm, float[1,4,32] ln, int64[1,32] am, float[1,4,2] tk,
      int64[1,4,2] tki, float[1,4,32] cs, float[1,8,8,8] mp, float[1,8,8,8] ap, float[1,8,1,1] gap,
      float[1,8,1,1] gmp, float[1,4,16,16] ct, float[1,8,16,16] dw, float[1,4,32] ex, float[1,4,32] lg,
      float[1,4,32] rsq, float[1,4,32] sg, float[1,4,32] th, float[1,4,32] pw, float[1,4,32] mx, float[1,4,32] mn,
      float[1,4,32] ab, float[1,4,4] mm, float[1,4,32] el, float[1,4,32] cl, float[1,4,32] lr, float[1,4,32] er,
      float[1,4] cst, float[1,4,32] rl, float[1,4,32] sub, float[1,4,32] dv, float[1,4,32] rss) {{
  [gs_node] gs = GridSample <align_corners=1, mode="nearest", padding_mode="border"> (x, grid)
  roi = Constant <value = float[0] {{}}> ()
  sc = Constant <value = float[4] {{1.0, 1.0, 2.0, 2.0}}> ()
  rz = Resize <mode="linear", coordinate_transformation_mode="align_corners"> (x, roi, sc)
  rz2 = Resize <mode="cubic", coordinate_transformation_mode="half_pixel"> (x, roi, sc)
  rz3 = Resize <mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"> (x, roi, sc)
  ax1 = Constant <value = int64[1] {{1}}> ()
  ax2 = Constant <value = int64[1] {{2}}> ()
  rs = ReduceSum <keepdims=1> (t, ax1)
  rm = ReduceMean <keepdims=1> (t, ax2)
  rp = ReduceProd <keepdims=1> (t, ax2)
  sm = Softmax <axis=1> (t)
  lns = Constant <value = float[32] {{{ONES}}}> ()
  lnb = Constant <value = float[32] {{{ZEROS}}}> ()
  ln = LayerNormalization <axis=-1, epsilon=1e-12> (t, lns, lnb)
  am = ArgMax <axis=1, keepdims=0> (t)
  k2 = Constant <value = int64[1] {{2}}> ()
  s0 = Constant <value = int64[1] {{0}}> ()
  t3 = Slice (t, s0, k2, k2)
  tk, tki = TopK <axis=-1> (t3, k2)
  cax = Constant <value = int64 {{2}}> ()
  cs = CumSum (t, cax)
  mp = MaxPool <kernel_shape=[2,2], strides=[2,2]> (x)
  ap = AveragePool <kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1]> (x)
  gap = GlobalAveragePool (x)
  gmp = GlobalMaxPool (x)
  ctw = Constant <value = float[8,4,2,2] {{{", ".join(["0.25"] * 128)}}}> ()
  ct = ConvTranspose <strides=[2,2], kernel_shape=[2,2]> (mp, ctw)
  dww = Constant <value = float[8,1,3,3] {{{", ".join(["1"] * 72)}}}> ()
  dw = Conv <group=8, pads=[1,1,1,1], kernel_shape=[3,3]> (x, dww)
  ex = Exp (t)
  lg = Log (t)
  sqt = Sqrt (t)
  rsq = Reciprocal (sqt)
  sg = Sigmoid (t)
  th = Tanh (t)
  two = Constant <value = float {{2.0}}> ()
  pw = Pow (t, two)
  mx = Max (t, ex)
  mn = Min (t, ex)
  ab = Abs (t)
  tr = Transpose <perm=[0,2,1]> (t)
  mm = MatMul (t, tr)
  el = Elu <alpha=0.5> (t)
  cmin = Constant <value = float {{0.0}}> ()
  cmax = Constant <value = float {{6.0}}> ()
  cl = Clip (t, cmin, cmax)
  lr = LeakyRelu <alpha=0.125> (t)
  er = Erf (t)
  cst = Cast <to=1> (ids)
  rl = Relu (t)
  sub = Sub (t, ex)
  dv = Div (t, ex)
  rss = ReduceSumSquare <keepdims=1> (t, ax2)
}}
"""

# output tensor -> (canonical op, source_op, attributes that must be present with these values)
ZOO_EXPECT = {
    "gs": ("GridSample", "GridSample", {"mode": "nearest", "padding_mode": "border", "align_corners": 1}),
    "rz": ("Resize", "Interp", {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
    "rz2": (
        "Resize",
        "Interp",
        {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75},
    ),
    "rz3": (
        "Resize",
        "Interp",
        {"mode": "nearest", "nearest_mode": "floor", "coordinate_transformation_mode": "asymmetric"},
    ),
    "rs": ("ReduceSum", "Reduction/SUM", {"axes": [1], "keepdims": 1}),
    "rm": ("ReduceMean", "Reduction/MEAN", {"axes": [2]}),
    "rp": ("ReduceProd", "Reduction/PROD", {"axes": [2]}),
    "sm": ("Softmax", "Softmax", {"axis": 1}),
    "ln": ("LayerNormalization", "LayerNorm", {"axis": -1, "epsilon": float(np.float32(1e-12)), "rms_norm": 0}),
    "am": ("ArgMax", "ArgMax", {"axis": 1, "keepdims": 0}),
    "tk": ("TopK", "TopKV2", {"axis": 2, "largest": 1}),
    "cs": ("CumSum", "CumSum", {"exclusive": 0, "reverse": 0}),
    "mp": ("MaxPool", "Pooling", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "ap": ("AveragePool", "Pooling", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 0}),
    "gap": ("GlobalAveragePool", "Pooling3D", {}),
    "gmp": ("GlobalMaxPool", "Pooling3D", {}),
    "ct": ("ConvTranspose", "Deconvolution", {"in_channels": 8, "out_channels": 4, "kernel_shape": [2, 2]}),
    "dw": ("Conv", "ConvolutionDepthwise", {"group": 8, "reduction_depth": 9}),
    "ex": ("Exp", "UnaryOp/EXP", {}),
    "lg": ("Log", "UnaryOp/LOG", {}),
    "rsq": ("Rsqrt", "UnaryOp/RSQRT", {}),  # the converter fuses Reciprocal(Sqrt(x))
    "sg": ("Sigmoid", "UnaryOp/SIGMOID", {}),
    "th": ("Tanh", "UnaryOp/TANH", {}),
    "pw": ("Square", "UnaryOp/SQUARE", {}),  # Pow(x, 2) becomes SQUARE
    "mx": ("Max", "BinaryOp/MAXIMUM", {}),
    "mn": ("Min", "BinaryOp/MINIMUM", {}),
    "ab": ("Abs", "UnaryOp/ABS", {}),
    "mm": ("MatMul", "MatMul", {"transA": 0, "transB": 0}),
    "el": ("Elu", "ELU", {"alpha": 0.5}),
    "cl": ("Clip", "ReLU6", {"min": 0.0, "max": 6.0}),
    "lr": ("LeakyRelu", "ReLU", {"alpha": 0.125}),
    "er": ("Erf", "UnaryOp/ERF", {}),
    "cst": ("Cast", "Cast", {"to": "float32"}),
    "rl": ("Relu", "ReLU", {}),
    "sub": ("Sub", "BinaryOp/SUB", {}),
    "dv": ("Div", "BinaryOp/REALDIV", {}),
}


def test_op_mapping_to_canonical_ops(tmp_path):
    _, mnn_path = _build(tmp_path, ZOO, "zoo")
    g = load_mnn(mnn_path)
    producers = {o: op for op in g.operators() for o in op.outputs}
    for out, (op_type, source_op, attrs) in ZOO_EXPECT.items():
        op = producers[out]
        assert (op.op, op.source_op) == (op_type, source_op), out
        for key, value in attrs.items():
            assert op.attrs.get(key) == value, (out, key, op.attrs)
    assert g.tensors["gs"].shape == (1, 8, 8, 8) and g.tensors["tk"].shape == (1, 4, 2)
    assert g.tensors["ct"].shape == (1, 4, 16, 16) and g.tensors["ap"].shape == (1, 8, 8, 8)
    assert g.tensors["ln"].shape == (1, 4, 32) and g.tensors["mm"].shape == (1, 4, 4)


def test_reduce_sum_square_opset18_loses_its_axes_in_mnn(tmp_path):
    """Found by the cross-check: MNN 3.6.1 converts ReduceSumSquare with an axes *input* (opset 18) to Square +
    Reduction without axes, which sums over every axis; the loader reports the shape MNN computes."""
    _, mnn_path = _build(tmp_path, ZOO, "zoo")
    g = load_mnn(mnn_path)
    rss = next(op for op in g.operators() if "rss" in op.outputs)
    assert rss.op == "ReduceSum" and "axes" not in rss.attrs and g.tensors["rss"].shape == (1, 1, 1)


# ----- --fp16, epsilons, external weights ----------------------------------------------------------------------------
EPS_DIV = """
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8] x, float[1,8] a) => (float[1,8] y) {
  eps = Constant <value = float {1e-12}> ()
  d = Add (a, eps)
  y = Div (x, d)
}
"""


def test_fp16_flushed_epsilon_is_reported(tmp_path):
    _, mnn_path = _build(tmp_path, EPS_DIV, "eps", ["--fp16"])
    g = load_mnn(mnn_path)
    eps = g.tensors["eps"]
    assert g.metadata["fp16_converted"] is True
    assert eps.stored_dtype == "float16" and eps.dtype == "float32" and eps.value == 0.0
    result = lint(mnn_path)
    (f,) = [f for f in result.findings if f.rule_id == "M001"]
    assert f.node == "d" and f.level == "error" and "stored as fp16 0" in f.message


def _fp16_toward_zero(x):
    """fp16 rounding toward zero: what MNN's converter does with --fp16 (half_float's default rounding)."""
    h = x.astype(np.float16)
    up = np.abs(h.astype(np.float32)) > np.abs(x)
    return np.where(up, np.nextafter(h, np.float16(0)), h).astype(np.float32)


def test_fp16_model_keeps_layernorm_epsilon_in_fp32(models, models_fp16):
    g = load_mnn(models_fp16["bert_tiny"][1])
    assert g.metadata["fp16_converted"] is True
    assert {op.attrs["epsilon"] for op in g.by_op("LayerNormalization")} == {float(np.float32(1e-12))}
    # Const blobs are rounded (toward zero, not to nearest); op parameters (LayerNorm gamma/beta) stay fp32
    words = g.tensors["embeddings.word_embeddings.weight"]
    ref = _initializers(models["bert_tiny"][0])["embeddings.word_embeddings.weight"]
    assert words.stored_dtype == "float16" and np.array_equal(words.value, _fp16_toward_zero(ref))
    assert not np.array_equal(words.value, ref.astype(np.float16).astype(np.float32))
    gamma = g.tensors[g.by_op("LayerNormalization")[0].inputs[1]]
    assert gamma.stored_dtype == "float32"


def test_fp16_conv_weights(models, models_fp16):
    g = load_mnn(models_fp16["clean"][1])
    w, b = (g.tensors[n] for n in g.ops["c1"].inputs[1:])
    ref = _initializers(models["clean"][0])
    assert w.stored_dtype == "float16" and w.shape == ref["conv1.weight"].shape
    assert np.array_equal(w.value, _fp16_toward_zero(ref["conv1.weight"]))
    assert b.stored_dtype == "float32" and np.array_equal(b.value, ref["conv1.bias"])  # biases stay fp32


def test_external_weights_read_lazily_and_exactly(tmp_path, models):
    onnx_path, inline_path = models["vit_tiny"]
    ext_path = convert(onnx_path, str(tmp_path / "vit_ext.mnn"), ["--saveExternalData"])
    assert os.path.exists(ext_path + ".weight")
    inline, ext = load_mnn(inline_path), load_mnn(ext_path)
    pos = ext.tensors["pos_embed"]
    assert pos._value is None and pos._loader is not None  # nothing read until a rule asks
    assert np.array_equal(pos.value, inline.tensors["pos_embed"].value)
    conv = "/patch_embed/Conv_output_0"
    for role in ("weight", "bias"):
        assert np.array_equal(ext.tensors[f"{conv}/{role}"].value, inline.tensors[f"{conv}/{role}"].value)
    ln = ext.by_op("LayerNormalization")[0]
    assert np.array_equal(ext.tensors[ln.inputs[1]].value, inline.tensors[ln.inputs[1]].value)
    os.remove(ext_path + ".weight")
    missing = load_mnn(ext_path)
    assert missing.tensors["pos_embed"].value is None
    assert any("not found next to the model" in n for n in missing.notes)


def test_external_path_outside_the_model_directory_is_refused(tmp_path):
    (tmp_path / "secret.weight").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    inner = tmp_path / "models"
    inner.mkdir()

    def const(b):
        return fb.op(
            b,
            fb.CONST,
            "z",
            outputs=[2],
            param=(fb.P_BLOB, fb.const_blob(b, [2000], external=[0, 8000])),
            external_path="../secret.weight",
        )

    path = inner / "m.mnn"
    path.write_bytes(fb.simple_model(const))
    g = load_mnn(str(path))
    assert g.tensors["z"].is_const and g.tensors["z"].value is None
    assert any("outside the model's directory" in n for n in g.notes)


# ----- subgraphs, unknown ops, metadata -----------------------------------------------------------------------------
IF_MODEL = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,4] x, bool c) => (float[1,4] y) {
  y = If (c) <
    then_branch = t () => (float[1,4] a) {
      k = Constant <value = float[1] {2.5}> ()
      a = Mul (x, k)
    },
    else_branch = e () => (float[1,4] b) { b = Exp (x) }
  >
}
"""


def test_if_subgraphs_are_walked_with_scoped_names(tmp_path):
    _, mnn_path = _build(tmp_path, IF_MODEL, "if")
    g = load_mnn(mnn_path)
    (if_op,) = g.by_op("If")
    then_ops = [op for op in g.operators() if op.scope == "y/then_branch"]
    else_ops = [op for op in g.operators() if op.scope == "y/else_branch"]
    assert [o.op for o in then_ops] == ["Mul"] and [o.op for o in else_ops] == ["Exp"]
    assert then_ops[0].inputs[0] == "x"  # the outer tensor, as in ONNX
    assert g.tensors[then_ops[0].inputs[1]].value.tolist() == [2.5]
    assert then_ops[0].id == "y/then_branch/a"


LOOP_MODEL = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,4] x, int64 n) => (float[1,4] y) {
  cond = Constant <value = bool {1}> ()
  y = Loop (n, cond, x) <
    body = b (int64 i, bool ci, float[1,4] xi) => (bool co, float[1,4] xo) {
      co = Identity (ci)
      s = Constant <value = float[1] {0.5}> ()
      xo = Mul (xi, s)
    }
  >
}
"""


def test_loop_body_is_walked_with_scoped_names(tmp_path):
    _, mnn_path = _build(tmp_path, LOOP_MODEL, "loop")
    g = load_mnn(mnn_path)
    (loop,) = g.by_op("Loop")
    assert loop.source_op == "While" and loop.inputs == ["n", "cond", "x"]
    body = {op.op: op for op in g.operators() if op.scope == f"{loop.id}/body"}
    assert set(body) == {"Mul", "Identity"}
    assert body["Mul"].inputs == [f"{loop.id}/body/xi", f"{loop.id}/body/s"]  # the body's own formal inputs
    assert any("Loop x1" in n for n in g.notes)  # the loop's output shape is not propagated, and it says so


def test_unknown_op_type_and_parameter_become_notes(tmp_path):
    def future_op(b):
        return fb.op(b, 777, "z", inputs=[1], outputs=[2], param=(200, fb.table(b, {0: ("i32", 1)})))

    path = tmp_path / "future.mnn"
    path.write_bytes(fb.simple_model(future_op))
    g = load_mnn(str(path))
    z = g.ops["z"]
    assert z.op == "OpType777" and z.attrs == {}
    assert any("unknown to this reader" in n and "OpType777" in n for n in g.notes)
    assert any("parameter type 200" in n for n in g.notes)
    assert g.metadata["mnn_version"] == "test" and g.metadata["source_type"] == "ONNX"


def test_unknown_binary_subtype_keeps_its_mnn_name(tmp_path):
    def binary(b):
        return fb.op(
            b, fb.BINARY_OP, "z", inputs=[1, 1], outputs=[2], param=(fb.P_BINARY, fb.table(b, {0: ("i32", 99)}))
        )

    path = tmp_path / "b.mnn"
    path.write_bytes(fb.simple_model(binary))
    z = load_mnn(str(path)).ops["z"]
    assert z.op == z.source_op == "BinaryOp/OP99"


def test_format_is_sniffed_from_content(tmp_path):
    p = tmp_path / "renamed.bin"
    shutil.copy(os.path.join(SAMPLES, "gridsample_large.mnn"), p)
    assert load_model(str(p)).format == "mnn"


# ----- the lint path -------------------------------------------------------------------------------------------------
def test_lint_path_imports_neither_mnn_nor_onnx():
    code = (
        "import sys; from precision_lint.api import lint; "
        "r = lint(sys.argv[1]); assert r.findings; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('MNN', '_tools', '_mnncengine', 'onnx')); "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, os.path.join(SAMPLES, "gridsample_large.mnn")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_cli_reports_the_same_gridsample_finding_for_mnn_and_onnx():
    exe = os.path.join(os.path.dirname(sys.executable), "precision-lint")
    if not os.path.exists(exe):
        pytest.skip("console script not installed")
    out = subprocess.run([exe, os.path.join(SAMPLES, "gridsample_large.mnn")], capture_output=True, text=True, cwd=REPO)
    assert "C001" in out.stdout and "warped" in out.stdout and out.returncode != 0, out.stdout + out.stderr
    linter = Linter(Options())
    on_onnx = linter.lint_file(os.path.join(SAMPLES, "gridsample_large.onnx")).reported
    on_mnn = linter.lint_file(os.path.join(SAMPLES, "gridsample_large.mnn")).reported
    assert [(f.rule_id, f.level, f.message) for f in on_onnx] == [(f.rule_id, f.level, f.message) for f in on_mnn]
    assert on_onnx[0].node == "warp_sample" and on_mnn[0].node == "warped"  # MNN names ops after their output
    assert on_onnx[0].estimates["fp16"] == on_mnn[0].estimates["fp16"]


@pytest.mark.parametrize("name", ["clean.mnn", "gridsample_large.mnn", "long_reduction.mnn"])
def test_numbers_read_without_numpy_are_the_vectors_values(name):
    """Tab.numbers (struct, for the handful of values of an op's indexes and parameters) reads what the numpy
    view reads, for every op of a converted file."""
    from precision_lint.model.loaders import mnn_schema as S
    from precision_lint.model.loaders.flatbuf import Buffer

    with open(os.path.join(SAMPLES, name), "rb") as fh:
        net = Buffer(fh.read()).root("Net")
    ops = net.tables(S.NET["oplists"], "oplists")
    assert ops
    for tab in ops:
        for field in ("inputIndexes", "outputIndexes"):
            values = tab.numbers(S.OP[field], "i32", field)
            assert values == tab.vector(S.OP[field], "i32", field).tolist()
            assert all(type(v) is int for v in values)


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external"])
def test_weight_quantised_conv_keeps_its_bias(tmp_path, models, external):
    """--weightQuantBits 8 stores a conv's weights as MNN's quantised blob (values not read, said in a note) and its
    bias as fp32.  With --saveExternalData the bias sits in the .weight file after the quantised weights and their
    scales: it was dropped without a note."""
    onnx_path = models["clean"][0]
    flags = ["--weightQuantBits", "8", "--weightQuantAsymmetric"] + (["--saveExternalData"] if external else [])
    g = load_mnn(convert(onnx_path, str(tmp_path / "q8.mnn"), flags))
    ref = _initializers(onnx_path)
    w_name, b_name = g.ops["c1"].inputs[1:3]
    w, b = g.tensors[w_name], g.tensors[b_name]
    assert w.stored_dtype == "int8" and w.shape == ref["conv1.weight"].shape and w.value is None
    assert any("quantised" in n and w_name in n for n in g.notes)
    assert b.stored_dtype == "float32" and np.array_equal(b.value, ref["conv1.bias"])
