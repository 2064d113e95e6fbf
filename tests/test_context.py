"""Fields and functions the rule language gained for the catalogue (engine/views.py, engine/functions.py), evaluated on small graphs."""

import onnx
import pytest
from onnx import parser

from precision_lint.engine.functions import FUNCTIONS
from precision_lint.engine.views import Analysis
from precision_lint.engine.expr import EvalError, Expression
from precision_lint.model.loaders import load_model


@pytest.fixture()
def analysis(tmp_path):
    model = parser.parse_model("""<ir_version: 8, opset_import: ["" : 13]>
    g (float[1,8] x, int64[4] idx) => (float[1,8] y, float[4] f, float[1,8] z) {
        w = Constant <value = float[8] {1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6}> ()
        wi = Identity (w)
        [scale] s = Mul (x, wi)
        [squash] t = Sigmoid (s)
        [first_add] y = Add (t, x)
        [as_float] f = Cast <to = 1> (idx)
        [second_add] z = Add (y, x)
    }""")
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    g = load_model(path)
    return Analysis(g, {}, {"x": (-2.0, 3.0)})


def ev(analysis, text, node):
    return Expression(text, FUNCTIONS).evaluate(
        {"node": analysis.node(analysis.graph.ops[node]), "anchor": analysis.node(analysis.graph.ops[node])}
    )


def test_source_looks_through_identity(analysis):
    assert ev(analysis, "node.input(1).is_const", "scale") is False
    assert ev(analysis, "node.input(1).source.is_const", "scale") is True
    err = ev(analysis, "node.input(1).source.storage_error('fp16')", "scale")
    assert 0.005 < err < 0.05  # 1e-6 is subnormal in fp16: about 1.3% off
    assert ev(analysis, "node.input(1).source.lost_fraction('fp16', true)", "scale") == 1.0  # flush-to-zero


def test_bounds_fields(analysis):
    assert ev(analysis, "node.output(0).hi_abs", "scale") == pytest.approx(3e-6)
    assert ev(analysis, "node.output(0).tight", "scale") is True
    assert ev(analysis, "node.output(0).hi_abs", "first_add") == pytest.approx(3.5)  # sigmoid(~0) + (-2, 3)
    assert ev(analysis, "node.output(0).tight", "first_add") is False  # two activations: not both ends reached


def test_dtype_fields(analysis):
    assert ev(analysis, "node.input(0).is_int and node.output(0).is_float", "as_float") is True


def test_op_index_count_and_feeds(analysis):
    assert ev(analysis, "node.op_index", "first_add") == 0
    assert ev(analysis, "node.op_index", "second_add") == 1
    assert ev(analysis, "node.op_count", "second_add") == 2
    g = analysis.graph
    second = analysis.node(g.ops["second_add"])
    feeds = Expression("node.feeds(target, 0)", FUNCTIONS)
    env = {"node": analysis.node(g.ops["scale"]), "target": second}
    assert feeds.evaluate(env) is True  # scale -> squash -> first_add -> second_add input 0
    env["node"] = analysis.node(g.ops["as_float"])
    assert feeds.evaluate(env) is False
    with pytest.raises(EvalError):
        Expression("node.feeds(1, 0)", FUNCTIONS).evaluate({"node": second})


def test_estimator_functions_tolerate_unknowns():
    for name, args in [
        ("dot_error", (None, "fp16")),
        ("sum_error", (None, "fp16")),
        ("pow_limit", (None, "fp16")),
        ("absolute_grid_error", (None, 1024, 1, "fp16")),
        ("phase_error_table", (None, None, "fp16")),
    ]:
        assert FUNCTIONS[name](*args) is None
    assert FUNCTIONS["acc_format"]("bf16") == "fp32"
    assert FUNCTIONS["log_floor"]("fp16") == pytest.approx(-16.64, abs=0.01)


def test_rms_of_constants_whose_squares_overflow_their_own_type(tmp_path):
    """fp16 constants (MNN --fp16 files) square to inf from 256 on; float32 ones from 1.8e19."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "h"], ["a"], name="half"),
            helper.make_node("Mul", ["y", "f"], ["b"], name="single"),
        ],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT16, [3]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [2]),
        ],
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT16, [3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [2]),
        ],
        [
            numpy_helper.from_array(np.array([300, -300, 1], np.float16), "h"),
            numpy_helper.from_array(np.array([3e19, 0], np.float32), "f"),
        ],
    )
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    a = Analysis(load_model(path), {})
    assert ev(a, "node.input(1).rms", "half") == pytest.approx(((300**2 * 2 + 1) / 3) ** 0.5)
    assert ev(a, "node.input(1).rms", "single") == pytest.approx(3e19 / 2**0.5, rel=1e-6)
