"""Hostile and unusual model files from issue 11: memory bombs, duplicate names, sparse and packed constants,
cycles.  Each test builds its file with onnx.helper or the FlatBuffer helpers and fails on the code before the fix."""

from __future__ import annotations

import os
import subprocess
import sys

import flatbuffers
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mnn_fb as fb
from hostile import ROOT
from precision_lint.api import Linter
from precision_lint.model.graph import ModelGraph
from precision_lint.model.loaders import load_model


def _vi(name, shape=None, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, inits=(), value_info=(), opset=13) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _save(tmp_path, model, name="m.onnx") -> str:
    p = str(tmp_path / name)
    onnx.save(model, p)
    return p


# ----- item 4: duplicate operator names are linear ------------------------------------------------------------------
class _CountingDict(dict):
    """The graph's operator table, counting membership probes: the work of making ids unique."""

    probes = 0

    def __contains__(self, key):
        type(self).probes += 1
        return dict.__contains__(self, key)


@pytest.fixture
def counted_ops(monkeypatch):
    original = ModelGraph.__init__

    def init(self, *a, **k):
        original(self, *a, **k)
        self.ops = _CountingDict()

    monkeypatch.setattr(ModelGraph, "__init__", init)
    _CountingDict.probes = 0
    return _CountingDict


N_DUP = 5000


def test_duplicate_onnx_names_take_linear_work_and_get_deterministic_ids(tmp_path, counted_ops):
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name="dup") for i in range(N_DUP)]
    nodes.insert(3, helper.make_node("Relu", ["t0"], ["lit"], name="dup#5"))  # a literal name that a suffix would take
    path = _save(tmp_path, _model(nodes, [_vi("t0", [4])], [_vi(f"t{N_DUP}", [4]), _vi("lit", [4])]))
    g = load_model(path)
    assert counted_ops.probes < 10 * N_DUP  # searching from #1 for every duplicate made N^2/2 = 12.5 million probes
    ids = [o.id for o in sorted(g.ops.values(), key=lambda o: o.index)]
    assert len(set(ids)) == N_DUP + 1
    assert ids[:6] == ["dup", "dup#1", "dup#2", "dup#5", "dup#3", "dup#4"]
    assert ids[-1] == f"dup#{N_DUP}"  # dup#5 was taken by the literal name, so the last duplicate is one further
    assert (
        load_model(path) is not g
        and [o.id for o in sorted(load_model(path).ops.values(), key=lambda o: o.index)] == ids
    )


def test_many_references_to_one_mnn_op_take_linear_work(tmp_path, counted_ops):
    b = flatbuffers.Builder(1024)
    inp = fb.op(b, fb.INPUT, "x", outputs=[0], param=(fb.P_INPUT, fb.input_param(b, [1, 8])))
    u = fb.op(b, fb.UNARY_OP, "u", inputs=[0], outputs=[1], param=(fb.P_UNARY, fb.table(b, {0: ("i32", 0)})))
    path = tmp_path / "m.mnn"
    path.write_bytes(fb.net(b, [inp] + [u] * N_DUP, ["x", "y"], outputs=["y"]))  # one op table, referenced N times
    g = load_model(str(path))
    assert counted_ops.probes < 10 * N_DUP
    assert sorted(g.ops) == sorted(["u"] + [f"u#{k}" for k in range(1, N_DUP)])


# ----- item 11: valid models that were rejected ---------------------------------------------------------------------
def _sparse_constant(values, indices, dims, name="c"):
    sp = helper.make_sparse_tensor(
        numpy_helper.from_array(np.asarray(values), "v"),
        numpy_helper.from_array(np.asarray(indices, np.int64), "i"),
        list(dims),
    )
    return helper.make_node("Constant", [], [name], name=name, sparse_value=sp)


@pytest.mark.parametrize("indices", [[1, 5], [[0, 1], [1, 2]]], ids=["linear", "coordinates"])
def test_sparse_constant_is_read_as_its_dense_value(tmp_path, indices):
    nodes = [
        _sparse_constant(np.array([2.0, -3.0], np.float32), indices, [2, 3]),
        helper.make_node("Add", ["x", "c"], ["y"], name="add"),
    ]
    model = _model(nodes, [_vi("x", [2, 3])], [_vi("y", [2, 3])])
    onnx.checker.check_model(model, full_check=True)  # a valid model
    path = _save(tmp_path, model)
    g = load_model(path)
    expected = np.array([[0, 2, 0], [0, 0, -3]], np.float32)
    np.testing.assert_array_equal(g.tensors["c"].value, expected)
    assert g.tensors["c"].shape == (2, 3)
    r = Linter().lint_file(path)
    assert r.error is None, r.error


def test_sparse_constant_with_indices_outside_its_shape_is_one_error(tmp_path):
    nodes = [
        _sparse_constant(np.array([2.0], np.float32), [7], [2, 3]),
        helper.make_node("Add", ["x", "c"], ["y"], name="add"),
    ]
    path = _save(tmp_path, _model(nodes, [_vi("x", [2, 3])], [_vi("y", [2, 3])]))
    with pytest.raises(Exception) as info:
        _ = load_model(path).tensors["c"].value
    assert str(info.value).startswith(f"{path}: Constant 'c' has malformed sparse data")


def test_int4_initializer_in_external_data_is_read_packed(tmp_path):
    w = np.array([1, -2, 3, -4, 5, 6, 7, -8], np.int8)
    packed = bytes(((int(lo) & 0xF) | (int(hi) & 0xF) << 4) for lo, hi in zip(w[0::2], w[1::2]))
    (tmp_path / "w.bin").write_bytes(packed)  # 4 bytes for 8 values
    init = helper.make_tensor("w", TensorProto.INT4, [8], w.tolist())
    init.ClearField("int32_data")
    init.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "w.bin"), ("offset", "0"), ("length", "4")):
        e = init.external_data.add()
        e.key, e.value = k, v
    scale = numpy_helper.from_array(np.array(0.5, np.float32), "s")
    nodes = [helper.make_node("DequantizeLinear", ["w", "s"], ["y"], name="dq")]
    model = _model(nodes, [], [_vi("y", [8])], [init, scale], opset=21)
    model.ir_version = 10
    path = _save(tmp_path, model)
    onnx.checker.check_model(path, full_check=True)
    g = load_model(path)
    np.testing.assert_array_equal(g.tensors["w"].value.astype(np.int8), w)
    r = Linter().lint_file(path)
    assert r.error is None, r.error


# ----- item 1: memory bombs -----------------------------------------------------------------------------------------
MEMORY_LIMIT = 1536 << 20  # address space of the linting process: what the run must stay under


def _limit_memory():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _memory_bombs(d) -> dict:
    """Small files that claim or compute gigabytes; {file name: what its lint must say in a note}."""
    bombs = {}
    # a sparse Constant of 2^40 elements
    nodes = [
        _sparse_constant(np.array([1.0], np.float32), [0], [1 << 20, 1 << 20]),
        helper.make_node("Softmax", ["c"], ["y"], name="s"),
    ]
    bombs["sparse_2e40.onnx"] = (_model(nodes, [], [_vi("y")]), "not expanded")
    # a 1-D int64 sparse Constant of 2^40 elements used as a shape
    nodes = [
        _sparse_constant(np.array([1], np.int64), [0], [1 << 40]),
        helper.make_node("Reshape", ["x", "c"], ["y"], name="r"),
    ]
    bombs["sparse_shape_2e40.onnx"] = (_model(nodes, [_vi("x", [4])], [_vi("y")]), "data propagation skipped")
    # a value_info that declares a shape tensor of 2^40 elements
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="sh"),
        helper.make_node("Concat", ["s", "s"], ["y"], name="cat", axis=0),
    ]
    bombs["value_info_2e40.onnx"] = (
        _model(
            nodes,
            [_vi("x", [1 << 20, 1 << 20])],
            [_vi("y", None, TensorProto.INT64)],
            value_info=[_vi("s", [1 << 40], TensorProto.INT64)],
        ),
        "data propagation skipped",
    )
    # 23 chained Concat(c, c) after a Shape: data propagation doubles the value each time (2^24 values)
    nodes = [helper.make_node("Shape", ["x"], ["c0"], name="sh")]
    nodes += [helper.make_node("Concat", [f"c{k}", f"c{k}"], [f"c{k + 1}"], name=f"cat{k}", axis=0) for k in range(23)]
    nodes.append(helper.make_node("Cast", ["c23"], ["y"], name="cast", to=TensorProto.FLOAT))
    bombs["concat_chain.onnx"] = (_model(nodes, [_vi("x", [2, 3])], [_vi("y")]), "data propagation skipped")
    # the same chain inside a local function, whose intermediate tensors no value_info describes
    body = [helper.make_node("Shape", ["x"], ["c0"])]
    body += [helper.make_node("Concat", [f"c{k}", f"c{k}"], [f"c{k + 1}"], axis=0) for k in range(23)]
    body.append(helper.make_node("Size", ["c23"], ["n"]))
    fn = helper.make_function("local", "grow", ["x"], ["n"], body, [helper.make_opsetid("", 13)])
    m = _model(
        [helper.make_node("grow", ["x"], ["y"], name="call", domain="local")],
        [_vi("x", [2, 3])],
        [_vi("y", None, TensorProto.INT64)],
    )
    m.opset_import.append(helper.make_opsetid("local", 1))
    m.functions.append(fn)
    bombs["function_concat_chain.onnx"] = (m, "data propagation skipped")
    # a Resize whose output width is 2^28: the coordinate error was computed at every output position
    scales = numpy_helper.from_array(np.array([1, 1, 1, 1 << 26], np.float32), "scales")
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], name="rs", mode="linear")]
    bombs["resize_2e28.onnx"] = (_model(nodes, [_vi("x", [1, 1, 4, 4])], [_vi("y")], [scales]), None)
    out = {}
    for name, (model, note) in bombs.items():
        onnx.save(model, os.path.join(d, name))
        assert os.path.getsize(os.path.join(d, name)) < 2048
        out[name] = note
    return out


def test_memory_bombs_lint_normally_within_a_memory_limit(tmp_path):
    import json

    bombs = _memory_bombs(str(tmp_path))
    good = os.path.join(ROOT, "sample_models", "gridsample_large.onnx")
    files = [os.path.join(str(tmp_path), n) for n in sorted(bombs)] + [good]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--format", "json", "--exit-zero", *files],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_memory,
        env=env,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]  # no file is unreadable, none ran out of memory
    assert proc.stderr == ""
    report = {os.path.basename(f["path"]): f for f in json.loads(proc.stdout)["files"]}
    assert sorted(report) == sorted(list(bombs) + ["gridsample_large.onnx"])
    for name, note in bombs.items():
        notes = report[name]["notes"]
        assert not any("shape inference failed" in n or "propagation failed" in n for n in notes), (name, notes)
        if note:
            assert any(note in n for n in notes), (name, notes)
    assert report["gridsample_large.onnx"]["findings"]
    assert report["resize_2e28.onnx"]["metadata"]["shape_inference"] == "ok"


def test_data_propagation_still_runs_on_ordinary_models(tmp_path):
    # Reshape(x, Concat(Shape(x)[0:1], [-1])): the output shape is known only through data propagation
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([1], np.int64), "ends")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="sh"),
        helper.make_node("Slice", ["s", "starts", "ends"], ["b"], name="sl"),
        helper.make_node("Concat", ["b", "minus1"], ["shape"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs"),
    ]
    path = _save(tmp_path, _model(nodes, [_vi("x", [3, 4, 5])], [_vi("y")], [starts, ends, minus1], opset=17))
    g = load_model(path)
    assert g.metadata["shape_inference"] == "ok" and not g.notes
    assert g.tensors["y"].shape == (3, 20)
