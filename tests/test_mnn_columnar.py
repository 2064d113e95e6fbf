"""The columnar reader of op headers and parameter tables (flatbuf.TableColumns) reads what the table-by-table
reader reads: the same graph from real converted models, and the same outcome (graph or error message) from
corrupted ones, where any check it refuses sends the file back to the table-by-table reader.

The reference is the same loader with the columnar pass switched off (``_columnar_records`` returning None is
the loader's own fallback), so both sides read real MNN files with the real FlatBuffer checks.
"""

from __future__ import annotations

import os
import pathlib
import random
import struct

import pytest

from mnn_models import NAMES, REPO
from precision_lint.errors import ModelLoadError
from precision_lint.model.loaders import flatbuf, mnn_loader
from precision_lint.model.loaders.flatbuf import Buffer, FlatBufferError, Irregular, Tab, TableColumns, offset_array
from precision_lint.model.loaders.mnn_loader import load_mnn


@pytest.fixture(autouse=True)
def columns_for_every_graph(monkeypatch):
    """The samples are small graphs, which the loader reads op by op (mnn_loader.COLUMNAR_MIN_OPS): here every op
    list goes through the columnar reader, unless a test switches it off."""
    monkeypatch.setattr(mnn_loader, "COLUMNAR_MIN_OPS", 0)


def snapshot(path: str):
    """Everything the reader produces that rules and reports read, or the error message."""
    try:
        g = load_mnn(path)
    except ModelLoadError as exc:
        return ("error", str(exc))
    ops = [
        (o.id, o.op, o.name, o.source_op, o.inputs, o.outputs, repr(sorted(o.attrs.items())), o.scope, o.index)
        for o in g.operators()
    ]
    tensors = [
        (t.name, t.shape, t.dtype, t.producer, t.consumers, t.is_const, t.const_origin, t.stored_dtype)
        for t in g.tensors.values()
    ]
    return ("graph", ops, tensors, g.inputs, g.outputs, g.notes, repr(sorted(g.metadata.items())))


def op_by_op(monkeypatch, path: str):
    def refuse(*args):
        raise Irregular("switched off")

    with monkeypatch.context() as m:
        m.setattr(mnn_loader._Reader, "_columnar_records", lambda self, *args: None)
        m.setattr(flatbuf, "_string_list", refuse)
        return snapshot(path)


@pytest.mark.parametrize("name", NAMES)
def test_converted_models_read_the_same_both_ways(models, name, monkeypatch):
    path = models[name][1]
    columnar = snapshot(path)
    assert columnar[0] == "graph" and columnar[1], columnar[:2]
    assert columnar == op_by_op(monkeypatch, path)


def corruptions(data: bytes, rng: random.Random):
    """(position, struct format, value) edits aimed at what the columnar pass reads: an op table's vtable
    pointer, its vtable's lengths and field offsets, the fields themselves and the vectors and strings they point
    to, in ops and in their parameter tables; the tensor names."""
    buf = Buffer(data)
    net = buf.root("Net")
    ops = offset_array(net, mnn_loader.S.NET["oplists"], "oplists").tolist()
    start, n = net._vector(mnn_loader.S.NET["tensorName"], 4, "tensorName")
    while True:
        if rng.random() < 0.1:  # a tensor name's offset, or its length
            entry = start + 4 * rng.randrange(n)
            pos = rng.choice([entry, entry + struct.unpack_from("<I", data, entry)[0]])
            yield pos, "<I", rng.choice([0xFFFFFFFF, len(data), rng.getrandbits(16)])
            continue
        tab = Tab(buf, rng.choice(ops), "op")
        if rng.random() < 0.4 and tab.has(mnn_loader.S.OP["main"]):
            tab = tab.table(mnn_loader.S.OP["main"], "main")  # its parameter table
        slot = rng.randrange(8)
        field = tab._field(slot, 1) if 4 + 2 * slot < tab._vtlen else 0
        big = rng.choice([0, 1, 3, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32), rng.getrandbits(12)])
        places = [
            (tab.pos, "<i", big - (1 << 32) if big >= 1 << 31 else big),  # the vtable pointer
            (tab._vt + rng.choice([0, 2]), "<H", big & 0xFFFF),  # vtable or table length
            (tab._vt + 4 + 2 * slot, "<H", big & 0xFFFF),  # where the field is
        ]
        if field:
            places.append((field, "<I", big))  # the field: a scalar, or an offset to a vector or string
            target = field + struct.unpack_from("<I", data, field)[0]
            if target + 4 <= len(data):
                places.append((target, "<I", big))  # a vector's or string's length
        pos, fmt, value = rng.choice(places)
        if pos + struct.calcsize(fmt) <= len(data):
            yield pos, fmt, value


@pytest.mark.parametrize("name", ["bert_tiny", "mobilenet_tiny"])
def test_corrupted_models_end_the_same_both_ways(models, name, tmp_path, monkeypatch):
    """Both readers accept the same corrupted files, read them the same and name the same problem in the rest."""
    data = pathlib.Path(models[name][1]).read_bytes()
    rng = random.Random(17)
    edits = corruptions(data, rng)
    outcomes = set()
    for k in range(150):
        corrupt = bytearray(data)
        for _ in range(rng.choice([1, 1, 2])):
            pos, fmt, value = next(edits)
            struct.pack_into(fmt, corrupt, pos, value)
        path = tmp_path / f"c{k}.mnn"
        path.write_bytes(bytes(corrupt))
        columnar = snapshot(str(path))
        assert columnar == op_by_op(monkeypatch, str(path)), k
        outcomes.add(columnar[0])
    assert outcomes == {"graph", "error"}  # the corruptions reached both ends


def test_columns_refuse_what_tab_refuses():
    """A table past the end of the file, or whose vtable is: Tab raises, the columns refuse (Irregular)."""
    data = pathlib.Path(os.path.join(REPO, "sample_models", "clean.mnn")).read_bytes()
    buf = Buffer(data)
    ops = offset_array(buf.root("Net"), mnn_loader.S.NET["oplists"], "oplists")
    assert len(TableColumns(buf, ops).scalars(mnn_loader.S.OP["type"], "i32", 0)) == len(ops)
    for bad in (ops[:1] + len(data), ops[:1] - ops[:1] - 1):
        with pytest.raises(FlatBufferError):
            Tab(buf, int(bad[0]), "op")
        with pytest.raises(Irregular):
            TableColumns(buf, bad)


def test_a_parameter_type_without_its_table_reads_as_no_parameters(tmp_path, monkeypatch):
    """An op whose main_type names a parameter table that the op does not store: both readers see no table (the
    op's attributes are its defaults), never a table at byte 0."""
    import mnn_fb as F

    def binary_without_main(b):
        fields = {
            0: ("off", F.ints(b, [1, 1])),
            1: ("u8", F.P_BINARY),
            3: ("off", b.CreateString("bin")),
            4: ("off", F.ints(b, [2])),
            5: ("i32", F.BINARY_OP),
        }
        return F.table(b, fields)

    path = tmp_path / "no_main.mnn"
    path.write_bytes(F.simple_model(binary_without_main))
    columnar = snapshot(str(path))
    assert columnar[0] == "graph"
    assert [(op[2], op[6]) for op in columnar[1]] == [("y", "[('axis', -1)]"), ("bin", "[]")]
    assert columnar == op_by_op(monkeypatch, str(path))
