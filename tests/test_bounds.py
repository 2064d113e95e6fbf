"""Interval analysis: sound bounds from constants, declared ranges and op semantics; tight only when reached."""

import math

import numpy as np
import onnx
import pytest
from onnx import parser

from precision_lint.engine.bounds import Bounds, _count
from precision_lint.model.loaders import load_model


def graph_of(text, tmp_path):
    model = parser.parse_model(text)
    onnx.checker.check_model(model)
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    return load_model(path)


def bound(g, b, node):
    return b.bound(g.ops[node].outputs[0])


HEAD = '<ir_version: 8, opset_import: ["" : 17]>\n'


def test_constants_declared_ranges_and_monotone_ops_are_tight(tmp_path):
    g = graph_of(
        HEAD
        + """
    g (float[4] x) => (float[4] y, float[4] z, float[4] w) {
        c = Constant <value = float[4] {1, 2, 3, 4}> ()
        [scaled] s = Mul (x, c)
        [squashed] y = Sigmoid (s)
        twenty = Constant <value = float {20.0}> ()
        [times20] z = Mul (y, twenty)
        [exp] w = Exp (z)
    }""",
        tmp_path,
    )
    b = Bounds(g, {"x": (-1.0, 2.0)})
    assert bound(g, b, "scaled") == (-4.0, 8.0, True)
    lo, hi, tight = bound(g, b, "exp")
    assert tight and hi == pytest.approx(math.exp(20 / (1 + math.exp(-8))))
    # without a declared range: Sigmoid is still (0, 1) and reached
    b2 = Bounds(g)
    assert bound(g, b2, "squashed") == (0.0, 1.0, True)
    assert bound(g, b2, "scaled") is None


def test_range_shape_and_integer_mesh(tmp_path):
    g = graph_of(
        HEAD
        + """
    g (float[1,3,8,8] x) => (float[5] r, int64[4] s) {
        a = Constant <value = float {0.0}> ()
        l = Constant <value = float {10.0}> ()
        d = Constant <value = float {2.0}> ()
        [rng] r = Range (a, l, d)
        [shape] s = Shape (x)
    }""",
        tmp_path,
    )
    b = Bounds(g)
    assert bound(g, b, "rng") == (0.0, 8.0, True)  # 0, 2, 4, 6, 8: the limit itself is excluded
    assert bound(g, b, "shape") == (1.0, 8.0, True)


def test_layernorm_and_linear_layers_are_sound_but_not_tight(tmp_path):
    g = graph_of(
        HEAD
        + """
    g (float[1,4,16] x) => (float[1,4,3] y) {
        gamma = Constant <value = float[16] {2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2}> ()
        beta = Constant <value = float[16] {1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}> ()
        [ln] n = LayerNormalization (x, gamma, beta)
        w = Constant <value = float[16,3] {1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0,
                                         1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0, 1,0,0, -1,0,0.5}> ()
        [proj] y = MatMul (n, w)
    }""",
        tmp_path,
    )
    b = Bounds(g)
    lo, hi, tight = bound(g, b, "ln")
    assert hi == pytest.approx(math.sqrt(15) * 2 + 1) and lo == -hi and not tight
    lo, hi, tight = bound(g, b, "proj")
    assert hi == pytest.approx(16 * (math.sqrt(15) * 2 + 1)) and not tight


def test_stable_softmax_form_and_unknowns(tmp_path):
    g = graph_of(
        HEAD
        + """
    g (float[1,8] x) => (float[1,8] y) {
        m = ReduceMax <axes=[-1]> (x)
        [shift] d = Sub (x, m)
        [exp] e = Exp (d)
        [relu] y = Relu (x)
    }""",
        tmp_path,
    )
    b = Bounds(g)
    assert bound(g, b, "shift")[1] == 0.0
    assert bound(g, b, "exp")[:2] == (0.0, 1.0)
    assert bound(g, b, "relu")[:2] == (0.0, math.inf)


def test_deep_graphs_do_not_recurse(tmp_path):
    n = 3000  # deeper than Python's recursion limit
    body = "\n".join(f"        a{i + 1} = Add (a{i}, one)" for i in range(n))
    g = graph_of(
        HEAD
        + f"""
    g (float[1] a0) => (float[1] a{n}) {{
        one = Constant <value = float {{1.0}}> ()
{body}
    }}""",
        tmp_path,
    )
    b = Bounds(g, {"a0": (0.0, 1.0)})
    last = g.tensors[f"a{n}"]
    assert b.of(last.name) == (float(n), float(n + 1))


def test_architecture_bounds(tmp_path):
    flow = load_model("sample_models/architectures/flow_warp.onnx")
    b = Bounds(flow)
    # the pixel mesh: int64 Range 0..1023, cast to float, tiled: exactly known
    assert bound(flow, b, "/Tile") == (0.0, 1023.0, True)
    assert bound(flow, b, "/Add") is None  # plus the flow input: unknown
    llama = load_model("sample_models/architectures/llama_block.onnx")
    b = Bounds(llama)
    assert bound(llama, b, "/self_attn/Concat_3") == (0.0, 2047.0, True)  # RoPE phases up to 2047 rad
    vit = load_model("sample_models/architectures/vit_tiny.onnx")
    b = Bounds(vit)
    assert bound(vit, b, "/blocks.0/norm2/LayerNormalization")[1] < 10  # gamma behind Identity is found


@pytest.mark.parametrize(
    "path",
    [
        "sample_models/architectures/llama_block.onnx",
        "sample_models/architectures/vit_tiny.onnx",
        "sample_models/clean.mnn",
    ],
)
def test_ranges_are_the_same_whatever_asks_first(path):
    """A range whose inputs are unknown is reached by computing the operators before its producer in file order
    (Bounds._catch_up), or by a depth-first walk from it when the graph is not in file order: the same ranges
    asked in file order, last output first, or Exp and Softmax inputs first (what the first rules ask)."""
    g = load_model(path)
    assert g.in_file_order
    outputs = [o for op in g.operators() for o in op.outputs if o]
    asks = {
        "file order": outputs,
        "last first": outputs[::-1],
        "exp inputs first": [op.inputs[0] for op in g.operators() if op.op in ("Exp", "Softmax")] + outputs,
    }
    ranges = {}
    for how, names in asks.items():
        for catch_up in (True, False):
            b = Bounds(g)
            if not catch_up:
                b._order = None  # the depth-first walk alone
            for name in names:
                b.bound(name)
            ranges[how, catch_up] = {name: b.bound(name) for name in outputs}
    reference = ranges["file order", False]
    assert any(r is not None for r in reference.values())
    for key, r in ranges.items():
        assert r == reference, key
    b = Bounds(g)
    b.bound(outputs[-1])
    assert b._done > 0  # the last output's inputs were reached in file order


def test_a_range_that_fails_while_catching_up_fails_only_when_asked_for(tmp_path):
    """Reaching Exp's input in file order computes the ranges of operators nobody asked about (an int Gather
    here): one that raises (a string axis in a hand-made file) is left for whoever asks, as before, and the lint
    reports no rule failure that it did not report when only the Exp's ancestors were computed."""
    path = str(tmp_path / "m.onnx")
    onnx.save(  # not through onnx.checker, which refuses the string axis
        parser.parse_model(
            HEAD
            + """
    g (int64[2] idx, float[1,4] x) => (int64[2] y, float[1,4] z) {
        table = Constant <value = int64[3] {1,2,3}> ()
        [gather] y = Gather <axis = "zero"> (table, idx)
        [relu] a = Relu (x)
        [neg] b = Neg (a)
        [exp] z = Exp (b)
    }"""
        ),
        path,
    )
    g = load_model(path)
    b = Bounds(g)
    assert b.bound("b")[:2] == (-math.inf, 0.0) and b._done > 0
    with pytest.raises(ValueError):
        b.bound("idx")
    from precision_lint.api import Linter

    result = Linter().lint_file(path)
    assert result.error is None and not result.rule_failures, result.rule_failures


def test_unbounded_ends_stay_infinite_through_monotone_ops(tmp_path):
    g = graph_of(
        HEAD
        + """
    g (float[1,8] x) => (float[1,1] y) {
        two = Constant <value = float {2.0}> ()
        sq = Pow (x, two)
        m = ReduceMean <axes=[-1]> (sq)
        eps = Constant <value = float {1e-6}> ()
        a = Add (m, eps)
        [root] y = Sqrt (a)
    }""",
        tmp_path,
    )
    b = Bounds(g)
    lo, hi, _ = bound(g, b, "root")
    assert lo == pytest.approx(1e-3) and math.isinf(hi)  # not 1e150: an unbounded input stays unbounded


def test_integer_inputs_that_index_a_gather_table_are_bounded_by_its_rows(tmp_path):
    g = graph_of(
        HEAD
        + """
    g (int64[1,16] position_ids, int64[1,16] free) => (float[1,16,8] pe, float[1,16] p, float[1,16] q) {
        table = Constant <value = float[64,8] {%s}> ()
        pe = Gather <axis = 0> (table, position_ids)
        [as_float] p = Cast <to = 1> (position_ids)
        [free_float] q = Cast <to = 1> (free)
    }"""
        % ", ".join(["0.5"] * 512),
        tmp_path,
    )
    b = Bounds(g)
    assert bound(g, b, "as_float") == (-64.0, 63.0, False)  # ONNX allows negative indices; not proven reached
    assert bound(g, b, "free_float") is None
    assert Bounds(g, {"position_ids": (0, 15)}).bound("p") == (0.0, 15.0, True)  # a declaration wins


def _cyclic_mnn(x_inputs, x_first: bool) -> bytes:
    """P = Sigmoid(Q), Q = P * 1e6 (a cycle: only a malformed file has one), and X = Add of P and Q in the order
    given, written before or after the cycle."""
    import flatbuffers

    import mnn_fb as F

    sigmoid = 81
    b = flatbuffers.Builder(1024)
    inp = F.op(b, F.INPUT, "x", outputs=[0], param=(F.P_INPUT, F.input_param(b, [1, 8])))
    k = F.op(b, F.CONST, "k", outputs=[1], param=(F.P_BLOB, F.const_blob(b, [1], floats=[1e6])))
    p = F.op(b, sigmoid, "P", inputs=[3], outputs=[2])
    mul = F.table(b, {0: ("i32", 2), 1: ("i32", 1)})
    q = F.op(b, F.BINARY_OP, "Q", inputs=[2, 1], outputs=[3], param=(F.P_BINARY, mul))
    add = F.table(b, {0: ("i32", 0), 1: ("i32", 1)})
    x = F.op(b, F.BINARY_OP, "X", inputs=x_inputs, outputs=[4], param=(F.P_BINARY, add))
    ops = [inp, k, x, p, q] if x_first else [inp, k, p, q, x]
    return F.net(b, ops, ["x", "k", "P", "Q", "Y"], outputs=["Y"])


def test_ranges_on_a_cycle_are_unknown_whatever_asks_first(tmp_path):
    """A range computed around a cycle depended on which member was asked first: the file order, the order of the
    Add's inputs, the rules selected.  Tensors on a cycle are unknown now; the rest of the graph is unaffected."""
    seen = set()
    for x_inputs in ([2, 3], [3, 2]):
        for x_first in (True, False):
            path = tmp_path / f"cyc_{x_inputs[0]}_{int(x_first)}.mnn"
            path.write_bytes(_cyclic_mnn(x_inputs, x_first))
            graph = load_model(str(path))
            assert any("cycle" in n and "unknown" in n for n in graph.notes)
            b = Bounds(graph)
            for name in ("Y", "Q", "P"):  # asked in two orders: the answers do not change
                seen.add((name, b.of(name)))
            b = Bounds(graph)
            for name in ("P", "Q", "Y"):
                seen.add((name, b.of(name)))
            assert b.of("k") == (1e6, 1e6)
    assert seen == {("P", None), ("Q", None), ("Y", None)}


def test_operators_on_cycles_are_the_strongly_connected_ones():
    """ModelGraph.ops_on_cycles on random graphs whose edges run backwards too (self-loops, cycles joined by
    operators that are on none, long chains): the components of more than one operator and the self-loops, and
    nothing on a graph find_cycle (the cheap test it starts with) calls acyclic."""
    import random

    import networkx as nx

    from precision_lint.model.graph import ModelGraph, Operator

    rng = random.Random(11)
    for trial in range(60):
        g = ModelGraph(f"random{trial}", "mnn")
        n = rng.randint(2, 40)
        for i in range(n):
            inputs = [f"t{rng.randrange(n)}" for _ in range(rng.randint(0, 3))]
            g.add_operator(Operator(f"op{i}", "Add", f"op{i}", "Add", inputs, [f"t{i}"], index=i))
        g.finish()
        nxg = g.to_networkx()
        expected = {v for c in nx.strongly_connected_components(nxg) for v in c if len(c) > 1 or nxg.has_edge(v, v)}
        assert g.ops_on_cycles() == expected, trial


def test_split_outputs_and_weights_on_either_side_of_a_matmul(tmp_path):
    """Data movement, arithmetic and linear ops are dispatched before the table's special cases: every output of
    a Split keeps its input's range, a constant A bounds A @ B from B's range (B's weights are not read when A is
    unknown, and nothing bounds A @ W then), and a Conv of an unknown input is unknown."""
    g = graph_of(
        HEAD
        + """
    g (float[2,4] x, float[4,3] u, float[1,2,4,4] img) => (float[1,4] p, float[1,4] q, float[2,3] y, float[2,3] z,
                                                        float[1,1,3,3] c) {
        [split] p, q = Split <axis = 0> (x)
        a = Constant <value = float[2,4] {1, -2, 0, 1, 0.5, 0.5, 0.5, 0.5}> ()
        [const_a] y = MatMul (a, u)
        w = Constant <value = float[4,3] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}> ()
        [unknown_a] z = MatMul (x, w)
        k = Constant <value = float[1,2,2,2] {1, 1, 1, 1, 1, 1, 1, 1}> ()
        [conv] c = Conv (img, k)
    }""",
        tmp_path,
    )
    b = Bounds(g, {"x": (-3.0, 2.0), "u": (-1.0, 5.0)})
    split = g.ops["split"]
    assert [b.bound(o) for o in split.outputs] == [(-3.0, 2.0, True), (-3.0, 2.0, True)]
    assert bound(g, b, "const_a") == (-20.0, 20.0, False)  # row L1 norms 4 and 2, times max |u| = 5
    b = Bounds(g, {"u": (-1.0, 5.0)})
    assert bound(g, b, "unknown_a") is None
    assert bound(g, b, "conv") is None
    b = Bounds(g, {"x": (-3.0, 2.0), "img": (0.0, 1.0)})
    assert bound(g, b, "unknown_a") == (-12.0, 12.0, False)  # column L1 norm 4, times max |x| = 3
    assert bound(g, b, "conv") == (-8.0, 8.0, False)


@pytest.mark.parametrize(
    "dims",
    [(), (7,), (1, 1, 16), (2, 0, 5), (3, 1 << 20, 1 << 20), (1 << 27, 1 << 27, 3), (np.int64(4), 5), (-1, 4)],
)
def test_element_counts_are_what_numpy_counts(dims):
    """Shapes are multiplied in Python when every partial product is exact in float64, as numpy's float64
    product (which the ranges used before) would be; other shapes still go to numpy."""
    assert _count(dims) == int(np.prod(dims, dtype=np.float64))
