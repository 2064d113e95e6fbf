"""Malformed .mnn files end in a clear ModelLoadError naming the file and the problem, or in a graph whose notes
say what could not be read: never a hang, a crash or a traceback.

Truncations of real converted files at many offsets, random bytes and random overwrites (hypothesis, bounded
example counts), and hand-built hostile FlatBuffers (bad offsets, huge vectors, cycles, unknown members).
"""

from __future__ import annotations

import os
import pathlib
import random
import struct

import flatbuffers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mnn_fb as fb
from mnn_models import REPO, converted
from precision_lint.api import Linter, Options
from precision_lint.errors import ModelLoadError
from precision_lint.model.loaders.mnn_loader import load_mnn

CLEAN = os.path.join(REPO, "sample_models", "clean.mnn")
LINTER = Linter(Options())


def outcome(path: str) -> str:
    """'error' for a clean ModelLoadError, 'graph' for a graph the rules also ran on; anything else fails."""
    try:
        load_mnn(path)
    except ModelLoadError as exc:
        msg = str(exc)
        assert msg.startswith(f"{path}: ") and "\n" not in msg and len(msg) < 600, msg
        return "error"
    result = LINTER.lint_file(path)  # the rules must cope with whatever the reader accepted
    assert result.error is None or result.error.message.startswith(f"{path}: "), result.error
    return "graph"


def write(tmp_path, data: bytes, name: str = "m.mnn") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


# ----- real files, cut and corrupted -------------------------------------------------------------------------------
def test_truncated_clean_model_at_every_offset(tmp_path):
    data = pathlib.Path(CLEAN).read_bytes()
    step = max(1, len(data) // 600)
    seen = {outcome(write(tmp_path, data[:cut])) for cut in range(0, len(data), step)}
    assert "error" in seen


def test_truncated_transformer_at_many_offsets(tmp_path_factory, tmp_path):
    data = pathlib.Path(converted(tmp_path_factory)["vit_tiny"][1]).read_bytes()
    rng = random.Random(7)
    cuts = sorted({rng.randrange(len(data)) for _ in range(60)} | {8, 64, 1000, len(data) - 1})
    results = [outcome(write(tmp_path, data[:cut])) for cut in cuts]
    assert results.count("error") >= len(cuts) // 2


def test_truncation_message_names_the_problem(tmp_path):
    data = pathlib.Path(CLEAN).read_bytes()
    path = write(tmp_path, data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as info:
        load_mnn(path)
    assert "not a valid MNN model" in str(info.value) and "truncated" in str(info.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096))
def test_random_bytes(tmp_path, data):
    outcome(write(tmp_path, data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1, max_size=12
    )
)
def test_random_overwrites_of_a_real_model(tmp_path, edits):
    data = bytearray(pathlib.Path(CLEAN).read_bytes())
    for pos, value in edits:
        data[pos % len(data)] = value
    outcome(write(tmp_path, bytes(data)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0), word=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_32bit_offsets_in_a_real_model(tmp_path, pos, word):
    data = bytearray(pathlib.Path(CLEAN).read_bytes())
    pos = (pos % (len(data) // 4)) * 4  # aligned: where offsets and lengths live
    struct.pack_into("<I", data, pos, word)
    outcome(write(tmp_path, bytes(data)))


# ----- hand-built hostile files ------------------------------------------------------------------------------------
def test_root_offset_outside_the_file(tmp_path):
    path = write(tmp_path, struct.pack("<I", 1 << 30) + bytes(60))
    with pytest.raises(ModelLoadError, match="outside the file"):
        load_mnn(path)


def test_vtable_outside_the_file(tmp_path):
    data = bytearray(fb.simple_model())
    (root,) = struct.unpack_from("<I", data, 0)
    struct.pack_into("<i", data, root, -(1 << 30))  # soffset to the vtable
    with pytest.raises(ModelLoadError, match="vtable"):
        load_mnn(write(tmp_path, bytes(data)))


def test_huge_vector_length(tmp_path):
    data = bytearray(fb.simple_model())
    idx = data.find(b"x\x00")  # the first tensor name string; its length word precedes it
    struct.pack_into("<I", data, idx - 4, 0x7FFFFFFF)
    with pytest.raises(ModelLoadError, match="past the end"):
        load_mnn(write(tmp_path, bytes(data)))


def test_tensor_index_out_of_range(tmp_path):
    def bad(b):
        return fb.op(b, fb.UNARY_OP, "z", inputs=[42], outputs=[2], param=(fb.P_UNARY, fb.table(b, {0: ("i32", 7)})))

    with pytest.raises(ModelLoadError, match="refers to tensor 42"):
        load_mnn(write(tmp_path, fb.simple_model(bad)))


def test_wrong_root_table(tmp_path):
    b = flatbuffers.Builder(64)
    b.Finish(fb.table(b, {0: ("i32", 5), 1: ("i32", 6)}))  # a table, but not a Net: no operator list
    with pytest.raises(ModelLoadError, match="no operator list"):
        load_mnn(write(tmp_path, bytes(b.Output())))


def test_tflite_file(tmp_path):
    with pytest.raises(ModelLoadError, match="TensorFlow Lite"):
        load_mnn(write(tmp_path, struct.pack("<I", 16) + b"TFL3" + bytes(56)))


def test_convert_tensor_cycle_is_bounded(tmp_path):
    b = flatbuffers.Builder(256)
    conv = fb.table(b, {0: ("i8", 0), 1: ("i8", 2)})
    ops = [
        fb.op(b, fb.CONVERT_TENSOR, "a", inputs=[0], outputs=[1], param=(fb.P_CONVERT, conv)),
        fb.op(b, fb.CONVERT_TENSOR, "b", inputs=[1], outputs=[0], param=(fb.P_CONVERT, conv)),
    ]
    assert outcome(write(tmp_path, fb.net(b, ops, ["p", "q"], outputs=["q"]))) in ("error", "graph")


def test_subgraph_that_contains_itself(tmp_path):
    b = flatbuffers.Builder(512)

    def if_param(name):
        return fb.table(b, {0: ("off", b.CreateString(name)), 1: ("off", b.CreateString(name))})

    inner = fb.op(b, fb.IF, "inner", inputs=[0], outputs=[1], param=(fb.P_IF, if_param("loop")))
    sg = fb.subgraph(b, "loop", ["c", "y"], [0], [1], [inner])
    outer = fb.op(b, fb.IF, "outer", inputs=[0], outputs=[1], param=(fb.P_IF, if_param("loop")))
    g = load_mnn(write(tmp_path, fb.net(b, [outer], ["c", "y"], outputs=["y"], subgraphs=[sg])))
    assert [op.id for op in g.operators()] == ["outer", "outer/then_branch/inner"]


def test_missing_subgraph_is_a_note(tmp_path):
    b = flatbuffers.Builder(256)
    p = fb.table(b, {0: ("off", b.CreateString("nowhere"))})
    g = load_mnn(
        write(
            tmp_path,
            fb.net(b, [fb.op(b, fb.IF, "if", inputs=[0], outputs=[1], param=(fb.P_IF, p))], ["c", "y"], outputs=["y"]),
        )
    )
    assert any("'nowhere' is referenced but not stored" in n for n in g.notes)


def test_const_whose_dims_do_not_match_its_data(tmp_path):
    def const(b):
        return fb.op(b, fb.CONST, "z", outputs=[2], param=(fb.P_BLOB, fb.const_blob(b, [1 << 30], floats=[1, 2])))

    g = load_mnn(write(tmp_path, fb.simple_model(const)))
    assert g.tensors["z"].value is None
    assert any("holds 2 values but its dims" in n for n in g.notes)


def test_empty_and_tiny_files(tmp_path):
    for data in (b"", b"\x00", bytes(7), bytes(16)):
        with pytest.raises(ModelLoadError):
            load_mnn(write(tmp_path, data))


def test_duplicate_op_names_get_unique_ids(tmp_path):
    def second_softmax(b):
        return fb.op(b, fb.SOFTMAX, "y", inputs=[1], outputs=[2], param=(fb.P_AXIS, fb.table(b, {0: ("i32", -1)})))

    g = load_mnn(write(tmp_path, fb.simple_model(second_softmax)))
    assert sorted(g.ops) == ["y", "y#1"] and g.ops["y#1"].inputs == ["y"]


def test_cycle_is_a_note(tmp_path):
    b = flatbuffers.Builder(256)
    ops = [
        fb.op(b, fb.UNARY_OP, "a", inputs=[1], outputs=[0], param=(fb.P_UNARY, fb.table(b, {0: ("i32", 7)}))),
        fb.op(b, fb.UNARY_OP, "b", inputs=[0], outputs=[1], param=(fb.P_UNARY, fb.table(b, {0: ("i32", 7)}))),
    ]
    path = write(tmp_path, fb.net(b, ops, ["p", "q"], outputs=["q"]))
    g = load_mnn(path)
    assert any("the graph has a cycle" in n for n in g.notes)
    assert outcome(path) == "graph"
