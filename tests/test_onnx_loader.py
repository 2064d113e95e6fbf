"""ONNX -> ModelGraph: constants, shapes, subgraphs, lazy external data, opset differences."""

import os
import pathlib

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper, parser, TensorProto

from precision_lint.errors import ModelLoadError
from precision_lint.model.loaders import detect_format, load_model


def save(model, path):
    onnx.save(model, str(path))
    return str(path)


def test_constants_become_tensor_values_not_operators(tmp_path):
    p = save(
        parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[2,4] x) => (float[2,4] y) {
          c = Constant <value = float {1e-12}> ()
          [add] y = Add (x, c)
        }"""),
        tmp_path / "m.onnx",
    )
    g = load_model(p)
    assert [o.op for o in g.operators()] == ["Add"]
    add = g.by_op("Add")[0]
    assert float(g.const_value(add, 1)) == pytest.approx(1e-12)
    assert g.tensors["c"].const_origin.startswith("Constant node")
    assert g.shape(add, 0) == (2, 4) and g.shape(add, 0, output=True) == (2, 4)


def test_shape_inference_fills_intermediate_shapes(tmp_path):
    p = save(
        parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1,3,64,64] x) => (float[1,3,64,64] y) {
          a = Relu (x)
          [sm] y = Softmax <axis=1> (a)
        }"""),
        tmp_path / "m.onnx",
    )
    g = load_model(p)
    assert g.metadata["shape_inference"] == "ok"
    assert g.shape(g.by_op("Softmax")[0], 0) == (1, 3, 64, 64)


def test_softmax_axis_default_depends_on_opset(tmp_path):
    for opset, axis in ((11, 1), (13, -1)):
        p = save(
            parser.parse_model(f"""
            <ir_version: 7, opset_import: ["" : {opset}]>
            g (float[1,3,8] x) => (float[1,3,8] y) {{ y = Softmax (x) }}"""),
            tmp_path / f"s{opset}.onnx",
        )
        assert load_model(p).by_op("Softmax")[0].attrs["axis"] == axis


def test_upsample_is_canonical_resize_and_opset7_loads(tmp_path):
    node = helper.make_node("Upsample", ["x"], ["y"], name="up", scales=[1.0, 1.0, 2.0, 2.0], mode="nearest")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    m.ir_version = 3
    g = load_model(save(m, tmp_path / "up.onnx"))
    op = g.by_op("Resize")[0]
    assert op.source_op == "Upsample" and op.attrs["coordinate_transformation_mode"] == "asymmetric"


def test_subgraph_nodes_are_included_with_scoped_names(tmp_path):
    then_g = helper.make_graph(
        [helper.make_node("Exp", ["x"], ["t"], name="inner_exp")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"], name="inner_neg")],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4])],
    )
    node = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    g = load_model(save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "if.onnx"))
    exp = g.by_op("Exp")[0]
    assert exp.scope == "branch/then_branch" and exp.name == "inner_exp"
    assert exp.inputs == ["x"]  # outer-scope name resolved to the main graph's tensor
    import precision_lint

    (f,) = precision_lint.lint(g.path, select=["R004"]).findings
    assert f.node == "inner_exp" and f.scope == "branch/then_branch"


def _external_model(tmp_path, location="weights.bin", write=True):
    w = numpy_helper.from_array(np.full((4,), -1e9, np.float32), "mask")
    node = helper.make_node("Add", ["x", "mask"], ["y"], name="add_mask")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [w],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "ext.onnx"
    onnx.save(
        m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0
    )
    if location != "weights.bin":
        m2 = onnx.load(str(path), load_external_data=False)
        for e in m2.graph.initializer[0].external_data:
            if e.key == "location":
                e.value = location
        onnx.save(m2, str(path))
    if not write:
        os.remove(tmp_path / "weights.bin")
    return str(path)


def test_external_data_is_read_lazily_and_used_by_rules(tmp_path):
    path = _external_model(tmp_path)
    g = load_model(path)
    t = g.tensors["mask"]
    assert t.is_const and t._value is None  # not read at load time
    import precision_lint

    (f,) = precision_lint.lint(path, select=["R001"]).findings
    assert f.node == "add_mask" and f.evidence["value"] == -1e9


def test_external_data_outside_the_model_directory_is_refused(tmp_path):
    path = _external_model(tmp_path, location="../../etc/passwd")
    with pytest.raises(ModelLoadError, match="outside the model's directory"):
        load_model(path)


def test_missing_external_data_is_one_clear_error(tmp_path):
    path = _external_model(tmp_path, write=False)
    with pytest.raises(ModelLoadError, match="weights.bin' not found"):
        load_model(path)


def test_format_is_detected_from_content_not_extension(tmp_path):
    src = os.path.join(os.path.dirname(__file__), "..", "sample_models", "gridsample_large")
    onnx_as_mnn = tmp_path / "model.mnn"
    onnx_as_mnn.write_bytes(pathlib.Path(src + ".onnx").read_bytes())
    mnn_as_onnx = tmp_path / "model.onnx"
    mnn_as_onnx.write_bytes(pathlib.Path(src + ".mnn").read_bytes())
    assert detect_format(str(onnx_as_mnn)) == "onnx"
    assert detect_format(str(mnn_as_onnx)) == "mnn"


def test_lfs_pointer_is_named_as_such(tmp_path):
    p = tmp_path / "model.onnx"
    p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")
    with pytest.raises(ModelLoadError, match="Git LFS pointer"):
        load_model(str(p))


ARCHITECTURES = pathlib.Path(__file__).resolve().parent.parent / "sample_models" / "architectures"


@pytest.mark.parametrize("name", sorted(p.name for p in ARCHITECTURES.glob("*.onnx")))
def test_shapes_without_data_propagation_are_those_data_propagation_gives(tmp_path, name):
    """When plain inference already gives every operator output a shape of numbers, the loader skips the second
    inference with data propagation: the shapes must be the ones that inference gives."""
    model = onnx.load(str(ARCHITECTURES / name))
    del model.graph.value_info[:]  # as a file without stored shapes, so the loader runs inference
    p = save(model, tmp_path / name)
    g = load_model(p)
    assert g.metadata["shape_inference"] == "ok"
    full = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    expected = {
        vi.name: tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        for vi in (*full.graph.value_info, *full.graph.output)
    }
    outputs = [o for op in g.operators() for o in op.outputs if o]
    assert outputs and all(g.tensors[o].shape == expected[o] for o in outputs)
