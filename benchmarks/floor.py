"""The floor of a lint in Python: the steps no Python linter of a model can skip, timed on their own.

The issue's large-graph targets compare a lint with the reference loaders (``onnx.load``, MNN's
``load_as_dict``), which are C++.  These functions do only what any linter of the file must do before its first
rule, with nothing else: no graph objects, no value ranges, no rules, no findings.  ``benchmarks/run.py`` times
them beside the baselines, in the same rounds, so the ratio of the floor to the baseline says how much of a 2x
budget is left for the analysis itself.  They reuse the loaders' own reading steps (the same parse and the same
weight-free skeleton for ONNX shape inference), so the floor is what precision-lint's loaders cannot go below.
"""

from __future__ import annotations

import os

import numpy as np

from precision_lint.model.loaders import onnx_loader as O
from precision_lint.model.loaders import flatbuf as FB
from precision_lint.model.loaders import mnn_schema as S

_FLOAT32 = 1  # TensorProto.FLOAT


def onnx_floor(path: str) -> int:
    """Read and parse the file (what onnx.load does); read each node's type, domain, name, inputs and outputs
    once; min and max of every float32 weight (inline or external: a linter must look at each weight once to
    find values fp16 cannot hold); ONNX's C++ shape inference on the weight-free skeleton when the file does
    not store every shape (the loaders' own decision), and one read of each resulting value_info's name, type
    and dims.  Returns the node count."""
    model = O._parse(path)
    gp = model.graph
    nodes = [(n.op_type, n.domain, n.name, tuple(n.input), tuple(n.output)) for n in gp.node]
    base = os.path.dirname(os.path.abspath(path))
    files = {}
    for init in gp.initializer:
        if init.data_type != _FLOAT32:
            continue
        if init.data_location == 1:  # EXTERNAL: location, offset, length
            kv = {e.key: e.value for e in init.external_data}
            count = int(np.prod([int(d) for d in init.dims])) if init.dims else 1
            fh = files.get(kv["location"])
            if fh is None:
                fh = files[kv["location"]] = open(os.path.join(base, kv["location"]), "rb")
            fh.seek(int(kv.get("offset", 0) or 0))
            values = np.fromfile(fh, np.float32, count)
        elif init.raw_data:
            values = np.frombuffer(init.raw_data, np.float32)
        else:
            values = np.asarray(init.float_data, np.float32)
        if values.size:
            values.min(), values.max()
    for fh in files.values():
        fh.close()
    if not O._stores_every_shape(gp):
        skeleton = O._Builder(path, model)._skeleton().SerializeToString()
        inferred = O.pb().ModelProto()
        inferred.ParseFromString(O.cpp().shape_inference.infer_shapes(skeleton, False, False, False))
        gp = inferred.graph
    for vi in (*gp.input, *gp.value_info, *gp.output):
        tt = vi.type.tensor_type
        vi.name, tt.elem_type, tuple(d.dim_value or d.dim_param for d in tt.shape.dim)
    return len(nodes)


def mnn_floor(path: str) -> int:
    """Read the file and, for all operators at once (the columnar reader's way), their type, name, input and
    output indexes and parameter type.  Weights and shapes are left out, so this is a lower bound of the floor.
    Returns the operator count."""
    with open(path, "rb") as fh:
        buf = FB.Buffer(fh.read())
    net = buf.root("Net")
    ops = FB.TableColumns(buf, FB.offset_array(net, S.NET["oplists"], "oplists"))
    ops.scalars(S.OP["type"], "i32", 0)
    ops.strings(S.OP["name"])
    ops.number_lists(S.OP["inputIndexes"], "i32")
    ops.number_lists(S.OP["outputIndexes"], "i32")
    ops.scalars(S.OP["main_type"], "u8", 0)
    net.strings(S.NET["tensorName"], "tensorName")
    return len(ops.pos)


# benchmarks/run.py's child processes look the floors up by measurement kind
FLOORS = {"onnx.floor": onnx_floor, "mnn.floor": mnn_floor}
