"""Hand-built MNN files for tests: unusual or hostile FlatBuffers that MNN's converter never writes.

Written with ``flatbuffers.Builder`` from the layout facts (slot N of a table = its N-th field), a few lines per
file, so a test can say exactly which field is odd.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import flatbuffers
import numpy as np

# Op types, OpParameter members and DataType codes used below (MNN 3.6.1).
CONST, INPUT, BINARY_OP, UNARY_OP, CONVERT_TENSOR, SOFTMAX, IF = 11, 34, 7, 101, 129, 85, 601
P_AXIS, P_BINARY, P_BLOB, P_INPUT, P_CONVERT, P_UNARY, P_IF = 4, 6, 7, 21, 66, 70, 86
DT_FLOAT, DT_INT32, DT_HALF = 1, 3, 19

Field = Tuple[str, object]  # (kind, value): kind is i8, u8, i32, bool, f32 or off (an offset made earlier)


def table(b: flatbuffers.Builder, fields: Dict[int, Field]) -> int:
    """A table whose fields are {slot: (kind, value)}; offsets must already be in the buffer."""
    b.StartObject(max(fields) + 1 if fields else 0)
    for slot, (kind, value) in sorted(fields.items()):
        if kind == "off":
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "i32":
            b.PrependInt32Slot(slot, value, -(2**31))  # an impossible default: always written
        elif kind == "i8":
            b.PrependInt8Slot(slot, value, -128)
        elif kind == "u8":
            b.PrependUint8Slot(slot, value, 255)
        elif kind == "bool":
            b.PrependBoolSlot(slot, value, not value)
        elif kind == "f32":
            b.PrependFloat32Slot(slot, value, float("nan"))
    return b.EndObject()


def ints(b: flatbuffers.Builder, values: Sequence[int], dtype=np.int32) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=dtype))


def offsets(b: flatbuffers.Builder, offs: Sequence[int]) -> int:
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def strings(b: flatbuffers.Builder, items: Sequence[str]) -> int:
    return offsets(b, [b.CreateString(s) for s in items])


def op(
    b: flatbuffers.Builder,
    type_code: int,
    name: str,
    inputs: Sequence[int] = (),
    outputs: Sequence[int] = (),
    param: Optional[Tuple[int, int]] = None,
    external_path: Optional[str] = None,
) -> int:
    """An Op: slots 0 inputIndexes, 1 main_type, 2 main, 3 name, 4 outputIndexes, 5 type, 7 externalPath."""
    f: Dict[int, Field] = {
        0: ("off", ints(b, inputs)),
        3: ("off", b.CreateString(name)),
        4: ("off", ints(b, outputs)),
        5: ("i32", type_code),
    }
    if external_path is not None:
        f[7] = ("off", b.CreateString(external_path))
    if param is not None:
        f[1] = ("u8", param[0])
        f[2] = ("off", param[1])
    return table(b, f)


def const_blob(
    b: flatbuffers.Builder,
    dims: Sequence[int],
    floats: Optional[Sequence[float]] = None,
    external: Optional[Sequence[int]] = None,
    halves: Optional[Sequence[float]] = None,
) -> int:
    """A Blob: slots 0 dims, 2 dataType, 3 uint8s, 7 float32s, 9 external."""
    f: Dict[int, Field] = {0: ("off", ints(b, dims))}
    if floats is not None:
        f[7] = ("off", b.CreateNumpyVector(np.asarray(floats, np.float32)))
        f[2] = ("i32", DT_FLOAT)
    if halves is not None:
        f[3] = ("off", b.CreateNumpyVector(np.asarray(halves, np.float16).view(np.uint8)))
        f[2] = ("i32", DT_HALF)
    if external is not None:
        f[9] = ("off", ints(b, external, np.int64))
        f.setdefault(2, ("i32", DT_FLOAT))
    return table(b, f)


def input_param(b: flatbuffers.Builder, dims: Sequence[int]) -> int:
    return table(b, {0: ("off", ints(b, dims)), 1: ("i32", DT_FLOAT), 2: ("i8", 0)})


def net(
    b: flatbuffers.Builder,
    ops: List[int],
    tensor_names: Sequence[str],
    outputs: Sequence[str] = (),
    subgraphs: Sequence[int] = (),
) -> bytes:
    """A Net: slots 2 extraInfo, 3 oplists, 4 outputName, 6 sourceType, 7 tensorName, 10 subgraphs."""
    f: Dict[int, Field] = {
        3: ("off", offsets(b, ops)),
        7: ("off", strings(b, tensor_names)),
        4: ("off", strings(b, outputs)),
        6: ("i8", 3),
    }
    info = table(b, {2: ("off", b.CreateString("test"))})
    f[2] = ("off", info)
    if subgraphs:
        f[10] = ("off", offsets(b, subgraphs))
    b.Finish(table(b, f))
    return bytes(b.Output())


def subgraph(
    b: flatbuffers.Builder,
    name: str,
    tensor_names: Sequence[str],
    inputs: Sequence[int],
    outputs: Sequence[int],
    nodes: List[int],
) -> int:
    """A SubGraphProto: slots 0 name, 1 inputs, 2 outputs, 3 tensors, 4 nodes."""
    return table(
        b,
        {
            0: ("off", b.CreateString(name)),
            1: ("off", ints(b, inputs)),
            2: ("off", ints(b, outputs)),
            3: ("off", strings(b, tensor_names)),
            4: ("off", offsets(b, nodes)),
        },
    )


def simple_model(extra_op=None) -> bytes:
    """x -> Softmax -> y, optionally with one more op built by ``extra_op(b)`` appended."""
    b = flatbuffers.Builder(256)
    inp = op(b, INPUT, "x", outputs=[0], param=(P_INPUT, input_param(b, [1, 8])))
    sm = op(b, SOFTMAX, "y", inputs=[0], outputs=[1], param=(P_AXIS, table(b, {0: ("i32", -1)})))
    ops = [inp, sm]
    if extra_op is not None:
        ops.append(extra_op(b))
    return net(b, ops, ["x", "y", "z"], outputs=["y"])
