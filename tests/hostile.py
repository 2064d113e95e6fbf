"""A corpus of broken and hostile model files, generated into a directory (nothing binary is committed).

``build_corpus(dir)`` writes the files and returns {file name: expectation}; an expectation is
``("error", text)`` (the file is unreadable: one ``error: <path>: ...`` line naming the problem, exit 2),
``("note", text)`` (linted, with a loader note containing text) or ``("ok", None)`` (linted; truncations that end on
a message boundary are still valid protobuf); "error-or-ok" and "error-or-note" allow either, and ``text`` may list
alternatives separated by "|".
"""

from __future__ import annotations

import os
import pathlib
import random
import struct
from typing import Dict, Optional, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
Expect = Tuple[str, Optional[str]]


def _model(nodes, inputs, outputs, inits=(), opsets=(("", 13),)) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 8
    return m


def _vi(name, shape=None, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def external_model(location: str) -> onnx.ModelProto:
    """Add(x, mask) whose mask initializer lives in external data at ``location``."""
    w = numpy_helper.from_array(np.full((4,), -1e9, np.float32), "mask")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = k, v
    return _model(
        [helper.make_node("Add", ["x", "mask"], ["y"], name="add_mask")], [_vi("x", [4])], [_vi("y", [4])], [w]
    )


# ----- raw protobuf, for structures the Python protobuf runtime refuses to build (nesting deeper than 100) -------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode()
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _int_field(num: int, v: int) -> bytes:
    return _varint(num << 3) + _varint(v)


def nested_if(depth: int) -> bytes:
    """A ModelProto whose main graph is If(then: If(then: ...)) ``depth`` levels deep."""
    leaf = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["o"], name="leaf")], "leaf", [], [_vi("o")]
    ).SerializeToString()
    out = _vi("o").SerializeToString()
    g = leaf
    for n in range(depth):
        then_attr = _field(1, "then_branch") + _int_field(20, 5) + _field(6, g)
        else_attr = _field(1, "else_branch") + _int_field(20, 5) + _field(6, leaf)
        node = (
            _field(1, "c")
            + _field(2, "o")
            + _field(3, f"if{n}")
            + _field(4, "If")
            + _field(5, then_attr)
            + _field(5, else_attr)
        )
        g = _field(1, node) + _field(2, f"g{n}") + _field(12, out)
        if n == depth - 1:  # the outermost graph declares the inputs
            g += _field(11, _vi("c", [], TensorProto.BOOL).SerializeToString()) + _field(
                11, _vi("x", [1]).SerializeToString()
            )
    return _int_field(1, 8) + _field(7, g) + _field(8, _field(1, "") + _int_field(2, 13))


# ----- the corpus ---------------------------------------------------------------------------------------------
def build_corpus(d: str) -> Dict[str, Expect]:
    os.makedirs(d, exist_ok=True)
    exp: Dict[str, Expect] = {}

    def write(name: str, data: bytes, expect: Expect) -> None:
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
        exp[name] = expect

    onnx_bytes = pathlib.Path(os.path.join(SAMPLES, "gridsample_large.onnx")).read_bytes()
    clean_onnx = pathlib.Path(os.path.join(SAMPLES, "clean.onnx")).read_bytes()
    mnn_bytes = pathlib.Path(os.path.join(SAMPLES, "clean.mnn")).read_bytes()

    write("empty.onnx", b"", ("error", "empty file"))
    write("empty.mnn", b"", ("error", "empty file"))
    write(
        "model.onnx",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 123\n",
        ("error", "Git LFS pointer"),
    )
    write("random.onnx", bytes(random.Random(7).randrange(256) for _ in range(4096)), ("error", None))
    write("random.mnn", bytes(random.Random(8).randrange(256) for _ in range(4096)), ("error", None))
    write("text.onnx", b"this is not a model\n" * 20, ("error", "not an ONNX or MNN model"))
    # the format comes from the content, not the extension
    write("onnx_named.mnn", onnx_bytes, ("ok", None))
    write("mnn_named.onnx", mnn_bytes, ("ok", None))
    # truncations at many offsets (a cut on a message boundary can still be valid protobuf: "ok" is allowed)
    for k in (1, 2, 3, 8, 16, 33, 64, 100, len(clean_onnx) // 3, len(clean_onnx) // 2, len(clean_onnx) - 1):
        write(f"trunc_{k}.onnx", clean_onnx[:k], ("error-or-ok", None))
    for k in (1, 4, 8, 12, 16, 32, 64, 128, len(mnn_bytes) // 3, len(mnn_bytes) // 2, len(mnn_bytes) - 1):
        write(f"trunc_{k}.mnn", mnn_bytes[:k], ("error-or-ok", None))
    # FlatBuffers with out-of-range offsets and vtables
    bad_root = bytearray(mnn_bytes)
    struct.pack_into("<I", bad_root, 0, len(mnn_bytes) + 4096)
    write("root_outside.mnn", bytes(bad_root), ("error", None))
    (root,) = struct.unpack_from("<I", mnn_bytes, 0)
    bad_vt = bytearray(mnn_bytes)
    struct.pack_into("<i", bad_vt, root, -(len(mnn_bytes) * 4))  # vtable far past the end
    write("vtable_outside.mnn", bytes(bad_vt), ("error", None))
    bad_vt2 = bytearray(mnn_bytes)
    struct.pack_into("<i", bad_vt2, root, root + 1000)  # vtable before the start of the file
    write("vtable_negative.mnn", bytes(bad_vt2), ("error", None))
    # external data: outside the model's directory, missing
    write(
        "ext_outside.onnx",
        external_model("../../etc/passwd").SerializeToString(),
        ("error", "outside the model's directory"),
    )
    write(
        "ext_absolute.onnx",
        external_model("/etc/passwd").SerializeToString(),
        ("error", "outside the model's directory"),
    )
    write("ext_missing.onnx", external_model("missing.bin").SerializeToString(), ("error", "not found"))
    # a cycle
    cyc = _model(
        [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2")],
        [_vi("x", [4])],
        [_vi("a", [4])],
    )
    write("cycle.onnx", cyc.SerializeToString(), ("error", "has a cycle"))
    # absurd shapes
    big = [2**40] * 4
    absurd = _model(
        [
            helper.make_node("Softmax", ["x"], ["y"], name="s"),
            helper.make_node("ReduceMean", ["y"], ["z"], name="r", axes=[0, 1]),
        ],
        [_vi("x", big)],
        [_vi("z")],
    )
    write("absurd_shape.onnx", absurd.SerializeToString(), ("note", "implausible shapes"))
    huge_init = onnx.TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[2**40, 2**40])
    write(
        "absurd_initializer.onnx",
        _model(
            [helper.make_node("Add", ["x", "c"], ["y"], name="a")], [_vi("x", [1])], [_vi("y")], [huge_init]
        ).SerializeToString(),
        ("error-or-note", "implausible shapes|malformed data"),
    )
    # nesting: 500 deep cannot be read (protobuf's limit is 100 messages, 3 per If level), 30 deep is read
    write("if_500_deep.onnx", nested_if(500), ("error", "nests too deeply"))
    write("if_30_deep.onnx", nested_if(30), ("ok", None))
    # unknown ops and domains
    unknown = _model(
        [
            helper.make_node("FooBar", ["x"], ["y"], name="f", domain="com.evil"),
            helper.make_node("NoSuchOp", ["y"], ["z"], name="z"),
        ],
        [_vi("x", [1])],
        [_vi("z")],
        opsets=(("", 13), ("com.evil", 1)),
    )
    write("unknown_ops.onnx", unknown.SerializeToString(), ("note", "ONNX does not define"))
    # names that are not UTF-8 (proto2 hands them back as bytes)
    weird = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [1])], [_vi("y", [1])])
    data = weird.SerializeToString().replace(b"Relu", b"\xff\xfe\xfd\xfc")
    write("bad_utf8.onnx", data, ("note", "ONNX does not define"))
    return exp
