"""ONNX -> ModelGraph.

The model is parsed without external data; external tensors are read lazily (and only from inside the model's
directory) when a rule asks for a value.  Shape inference runs where it succeeds, and the graph says so where it
does not.  If/Loop/Scan bodies are walked with scoped names.

Model files are untrusted input: every string read from the protobuf may be bytes (proto2 hands back invalid
UTF-8 as ``bytes``), dims may be absurd, the graph may have cycles or unknown ops.  None of that may raise
anything but a ModelLoadError with one clear line; the rest becomes notes on the graph.

Shape inference runs on a *skeleton* of the model: large initializers are replaced by typed graph inputs, so the
weights are neither serialised for the C++ inference nor copied into the inferred model.  The skeleton keeps small
initializers (shape constants, axes...) so that data propagation still works.  It runs only when the file does not
already store a shape for every operator output (exporters usually do).

The lint path never imports the ``onnx`` package itself (its import pulls ml_dtypes, most of a lint's start-up):
the file is parsed with onnx's generated protobuf classes (``onnx_proto.pb``), tensors are decoded with numpy, and
shape inference and operator names newer than ``data/onnx_ops.txt`` go to onnx's C++ extension (``onnx_proto.cpp``).
``onnx`` is imported only for element types numpy lacks (float8, int4...) and sparse constants.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ...errors import ModelLoadError
from ..graph import ModelGraph, Operator
from .canonical import GRIDSAMPLE_MODES, opset_defaults
from .onnx_proto import DEFAULT_DOMAINS as _DOMAINS_ONNX, cpp, is_known_op, pb

# Initializers larger than this (bytes of payload) are left out of the shape-inference skeleton.
SKELETON_MAX_INIT_BYTES = 4096
# A dimension this large is implausible in a real model (a corrupt or hostile file): say so in a note.
IMPLAUSIBLE_DIM = 1 << 32
_MAX_NOTE_ITEMS = 5
# Attribute lists longer than this (axes, pads, perm... have a handful of items) are not expanded into Python lists:
# a few MB of packed ints in a hostile file would become hundreds of MB of Python objects.
MAX_ATTR_ITEMS = 1 << 16
# ONNX data propagation runs only when the shape tensors it computes hold at most this many values together (each
# value costs it about 200 bytes: at most about 200 MB).
MAX_PROPAGATED_VALUES = 1 << 20
# A sparse Constant is expanded to its dense value only up to this many elements (64 MB of float32 at most).
MAX_DENSE_ELEMENTS = 1 << 24


def _s(x: Any) -> str:
    """A protobuf string field as text, whatever bytes the file holds."""
    return x if type(x) is str else bytes(x).decode("utf-8", "replace")


def load_onnx(path: str) -> ModelGraph:
    from google.protobuf.message import DecodeError

    try:
        model = _parse(path)
    except (DecodeError, RuntimeError, ValueError, TypeError, IndexError) as exc:
        if "MaxDepth" in str(exc) or "recursion" in str(exc).lower():
            raise ModelLoadError(
                f"{path}: ONNX model nests too deeply (subgraphs or messages more than 100 levels "
                f"deep, protobuf's limit); not read"
            ) from None
        raise ModelLoadError(
            f"{path}: not a readable ONNX model (protobuf parse failed: {_one_line(exc)}; is the file truncated?)"
        ) from None
    except RecursionError:
        raise ModelLoadError(f"{path}: ONNX model nests too deeply to read") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.input):
        raise ModelLoadError(f"{path}: not an ONNX model (no graph found; the file may be truncated or another format)")
    return _Builder(path, model).build()


def _parse(path: str):
    """The ModelProto of the file, external data left on disk (what ``onnx.load(path, load_external_data=False)``
    does for a binary file, without importing onnx)."""
    from google.protobuf.message import DecodeError

    with open(path, "rb") as fh:
        data = fh.read()
    model = pb().ModelProto()
    used = model.ParseFromString(data)
    if used is not None and used != len(data):
        raise DecodeError(f"protobuf decoding consumed {used} of {len(data)} bytes")
    return model


_INTEGER_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})  # TensorProto UINT8, INT8, UINT16, INT16, INT32, INT64...


def _after_plain_inference(gp) -> Tuple[int, str, bool]:
    """What plain shape inference left in ``gp``, read in one pass (each distinct type decoded once):

    * (elements, "name [n]" of the largest) of the rank-0/1 integer tensors that ONNX data propagation could
      compute, as declared or inferred (the larger of the two per tensor), over the graph and its subgraphs;
    * whether every operator output of ``gp`` itself has a shape of numbers (no named
      symbols), in which case data propagation has nothing left to fix."""
    facts: Dict[bytes, Tuple[bool, int]] = {}  # serialized TypeProto -> (every dim a number, integer elements)
    sizes: Dict[Tuple[int, str], int] = {}
    numeric = set()
    every = True
    graph_attr = pb().AttributeProto.GRAPH, pb().AttributeProto.GRAPHS
    stack = [gp]
    while stack:
        g = stack.pop()
        top = g is gp
        for vi in (*g.input, *g.value_info, *g.output):
            key = vi.type.SerializeToString()
            fact = facts.get(key)
            if fact is None:
                fact = facts[key] = _type_facts(vi.type)
            full, n = fact
            if top and full:
                numeric.add(vi.name)
            if n > 0:
                skey = (id(g), vi.name)
                if n > sizes.get(skey, 0):
                    sizes[skey] = n
        for init in g.initializer:
            if init.data_type in _INTEGER_TYPES and len(init.dims) <= 1:
                skey = (id(g), init.name)
                sizes[skey] = max(sizes.get(skey, 0), int(init.dims[0]) if init.dims else 1)
        for node in g.node:
            has_graph = False
            for a in node.attribute:
                if a.HasField("g"):
                    stack.append(a.g)
                stack.extend(a.graphs)
                has_graph = has_graph or a.type in graph_attr
            if top and every and not _declares_outputs(node, numeric, has_graph):
                every = False
    if not sizes:
        return 0, "", every
    (_, name), n = max(sizes.items(), key=lambda kv: kv[1])
    return sum(sizes.values()), f"{_s(name)!r} with {n:,}", every


def _type_facts(tp) -> Tuple[bool, int]:
    """(every dimension a number, elements of a rank-0/1 integer tensor, else -1) of a TypeProto."""
    tt = tp.tensor_type
    n = -1
    if tt.elem_type in _INTEGER_TYPES:
        dims = tt.shape.dim
        if len(dims) <= 1:
            n = dims[0].dim_value if dims else 1
    return _full_shape(tp, values_only=True), n


_RANK_BOUND = 64  # what a Shape output is taken to hold when its input's rank is not known


def _function_bound(functions, main_graph) -> int:
    """An upper bound on the values data propagation computes inside local functions, from their structure:
    Shape gives up to _RANK_BOUND values, Concat the sum of its inputs, a call the callee's largest output, any
    other op the largest of its inputs; each body counts once per call site."""
    out_bound: Dict[Tuple[str, str], int] = {}
    body_total: Dict[Tuple[str, str], int] = {}
    for _ in range(2):  # a second pass sees callees defined after their callers (recursion stays bounded)
        for f in functions:
            lengths: Dict[str, int] = {}
            for node in f.node:
                ins = [lengths.get(i, 1) for i in node.input if i]
                if node.op_type == "Shape":
                    n = _RANK_BOUND
                elif node.op_type == "Concat":
                    n = sum(ins) or 1
                else:
                    n = out_bound.get((_s(node.domain), _s(node.op_type)), max(ins, default=1))
                for o in node.output:
                    lengths[o] = n
            key = (_s(f.domain), _s(f.name))
            out_bound[key] = max((lengths.get(o, 1) for o in f.output), default=1)
            body_total[key] = sum(lengths.values())
    calls: Dict[Tuple[str, str], int] = {}
    for node in (*main_graph.node, *(n for f in functions for n in f.node)):
        key = (_s(node.domain), _s(node.op_type))
        if key in body_total:
            calls[key] = calls.get(key, 0) + 1
    return sum(body_total[k] * n for k, n in calls.items())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


# TensorProto element types numpy holds natively (onnx.TensorProto enum values -> numpy names, as onnx.helper's
# tensor_dtype_to_np_dtype gives them); bfloat16 values are widened to float32 by the loader.
_DTYPES: Dict[int, Optional[str]] = {
    0: None,
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "object",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
}


def _np_dtype(elem_type: int) -> Optional[str]:
    try:
        return _DTYPES[elem_type]
    except KeyError:
        pass
    try:  # float8, int4, float4...: onnx names them with ml_dtypes, imported only for a file that uses them
        from onnx.helper import tensor_dtype_to_np_dtype

        name: Optional[str] = str(np.dtype(tensor_dtype_to_np_dtype(elem_type)))
    except (KeyError, TypeError, ValueError):
        name = None
    if len(_DTYPES) < 256:  # elem_type comes from the file: keep the cache bounded
        _DTYPES[elem_type] = name
    return name


def _shape_of(type_proto) -> Tuple[Optional[Tuple[Optional[int], ...]], Optional[str]]:
    if type_proto.WhichOneof("value") != "tensor_type":
        return None, None
    tt = type_proto.tensor_type
    dtype = _np_dtype(tt.elem_type) if tt.elem_type else None
    if not tt.HasField("shape"):
        return None, dtype
    return tuple(
        [
            d.dim_value if d.dim_value > 0 or d.WhichOneof("value") == "dim_value" and d.dim_value == 0 else None
            for d in tt.shape.dim
        ]
    ), dtype


# TensorProto element types whose raw_data is a plain little-endian array (onnx.TensorProto enum values).
_RAW_DTYPES = {
    1: np.dtype("<f4"),
    2: np.dtype("u1"),
    3: np.dtype("i1"),
    4: np.dtype("<u2"),
    5: np.dtype("<i2"),
    6: np.dtype("<i4"),
    7: np.dtype("<i8"),
    9: np.dtype("?"),
    10: np.dtype("<f2"),
    11: np.dtype("<f8"),
    12: np.dtype("<u4"),
    13: np.dtype("<u8"),
}
# The typed field that holds those types' values when raw_data is empty (onnx.proto's TensorProto comments), with
# the field's own item type; float16 items are the bit patterns.
_FIELDS = {
    1: ("float_data", np.float32),
    2: ("int32_data", np.int32),
    3: ("int32_data", np.int32),
    4: ("int32_data", np.int32),
    5: ("int32_data", np.int32),
    6: ("int32_data", np.int32),
    7: ("int64_data", np.int64),
    9: ("int32_data", np.int32),
    10: ("int32_data", np.uint16),
    11: ("double_data", np.float64),
    12: ("uint64_data", np.uint64),
    13: ("uint64_data", np.uint64),
}


def _from_field(tp, data_type: int, dims: Tuple[int, ...]) -> Optional[np.ndarray]:
    """A tensor's values from its typed field, or None when the field does not hold exactly the shape's count."""
    field, item = _FIELDS[data_type]
    values = getattr(tp, field)
    if len(values) != math.prod(dims):
        return None
    arr = np.asarray(values, dtype=item)
    arr = arr.view(np.float16) if data_type == 10 else arr.astype(_RAW_DTYPES[data_type].newbyteorder("="), copy=False)
    return arr.reshape(dims)


# Sub-byte element types (TensorProto UINT4, INT4, FLOAT4E2M1, UINT2, INT2, FLOAT6E2M3, FLOAT6E3M2) -> bits per
# element: they are stored packed (two INT4 to a byte), so their data is shorter than one byte per element.
_PACKED_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2, 27: 6, 28: 6}


class _Builder:
    def __init__(self, path: str, model):
        self.path = path
        self.model = model
        self.base_dir = os.path.dirname(os.path.abspath(path))
        self.graph = ModelGraph(path, "onnx")
        self.opset = 1
        for imp in model.opset_import:
            if _s(imp.domain) in _DOMAINS_ONNX:
                self.opset = int(imp.version)
        self.counter = 0
        self.unknown_ops: Dict[str, int] = {}
        self.absurd: List[str] = []
        self._known_ops: Dict[Tuple[str, str], bool] = {}
        self._external_files: Dict[str, Tuple[Optional[str], Optional[int]]] = {}
        # serialized TypeProto -> (shape, dtype, whether a dimension is implausible)
        self._types: Dict[bytes, Tuple[Optional[Tuple[Optional[int], ...]], Optional[str], bool]] = {}

    def build(self) -> ModelGraph:
        g = self.graph
        m = self.model
        g.metadata.update(
            {
                "ir_version": int(m.ir_version),
                "opset": self.opset,
                "producer": _s(m.producer_name),
                "producer_version": _s(m.producer_version),
                "domains": sorted({_s(imp.domain) or "ai.onnx" for imp in m.opset_import}),
            }
        )
        graph_proto = self._inferred_graph()
        self._walk(graph_proto, scope="", outer={}, initializers=m.graph.initializer)
        g.inputs = [n for n in (_s(i.name) for i in graph_proto.input) if n in g.tensors and not g.tensors[n].is_const]
        g.outputs = [_s(o.name) for o in graph_proto.output]
        self._add_notes()
        g.finish()
        cycle = g.find_cycle()
        if cycle:  # onnx.checker rejects it too: a malformed model, not one to lint with a note
            names = " -> ".join(repr(g.ops[i].name)[:80] for i in cycle + cycle[:1])
            more = ", ..." if len(cycle) >= 8 else ""
            raise ModelLoadError(
                f"{self.path}: the graph has a cycle ({names}{more}); ONNX graphs must be acyclic, "
                f"so the file is malformed"
            )
        return g

    def _add_notes(self) -> None:
        g = self.graph
        if self.unknown_ops:
            items = sorted(self.unknown_ops.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{k} (x{n})" if n > 1 else k for k, n in items[:_MAX_NOTE_ITEMS])
            more = f" and {len(items) - _MAX_NOTE_ITEMS} more" if len(items) > _MAX_NOTE_ITEMS else ""
            g.notes.append(
                f"{sum(self.unknown_ops.values())} operator(s) of a type ONNX does not define: "
                f"{shown}{more}; rules match them only by name and nothing is inferred through them"
            )
        if self.absurd:
            shown = ", ".join(self.absurd[:_MAX_NOTE_ITEMS])
            more = f" and {len(self.absurd) - _MAX_NOTE_ITEMS} more" if len(self.absurd) > _MAX_NOTE_ITEMS else ""
            g.notes.append(
                f"implausible shapes (a dimension of 2^32 or more): {shown}{more}; the file may be corrupt, "
                f"and size-based estimates for these tensors are not meaningful"
            )

    # ----- shape inference on a weight-free skeleton ----------------------------------------------------------
    def _skeleton(self):
        m = self.model
        sk = pb().ModelProto()
        sk.ir_version = m.ir_version
        sk.opset_import.extend(m.opset_import)
        for f in ("functions",):
            if len(getattr(m, f)):
                getattr(sk, f).extend(getattr(m, f))
        src, dst = m.graph, sk.graph
        dst.node.extend(src.node)
        dst.input.extend(src.input)
        dst.output.extend(src.output)
        dst.value_info.extend(src.value_info)
        have = {_s(i.name) for i in src.input}
        for init in src.initializer:
            if init.data_location != 1 and init.ByteSize() <= SKELETON_MAX_INIT_BYTES:
                dst.initializer.append(init)
            else:
                name = _s(init.name)
                if name not in have:  # a typed graph input of the initializer's shape (onnx.helper's layout)
                    vi = dst.input.add()
                    vi.name = init.name
                    tt = vi.type.tensor_type
                    tt.elem_type = init.data_type
                    tt.shape.SetInParent()
                    for d in init.dims:
                        tt.shape.dim.add().dim_value = d
                    have.add(name)
        return sk

    def _inferred_graph(self):
        """Shape inference in two steps.  Plain inference only passes dims around (bounded by the file's size);
        data propagation then computes the *values* of shape tensors, one protobuf message per element, so a
        1 KB file (22 chained ``Concat(c, c)`` after a ``Shape``, or a value_info that declares a shape tensor of
        2^40 elements) grows it to gigabytes.  It runs only when plain inference shows that the 1-D integer
        tensors it would compute hold at most MAX_PROPAGATED_VALUES elements together."""
        if _stores_every_shape(self.model.graph):
            self.graph.metadata["shape_inference"] = "not needed"
            return self.model.graph
        skeleton = self._skeleton()
        skeleton_bytes = skeleton.SerializeToString()

        def infer(data_prop: bool):  # onnx.shape_inference.infer_shapes, through the C++ extension alone
            inferred = pb().ModelProto()
            inferred.ParseFromString(cpp().shape_inference.infer_shapes(skeleton_bytes, False, False, data_prop))
            return inferred

        try:
            plain = infer(data_prop=False)
        except Exception as exc:  # noqa: BLE001 - onnx raises many types; any failure just means fewer shapes
            self.graph.metadata["shape_inference"] = "failed"
            self.graph.notes.append(
                f"ONNX shape inference failed ({_one_line(exc)}); shape-dependent rules use "
                f"only the shapes stored in the file"
            )
            return self.model.graph
        self.graph.metadata["shape_inference"] = "ok"
        total, largest, every_shape_numeric = _after_plain_inference(plain.graph)  # declared types included
        if skeleton.functions:  # their bodies get no value_info: bound them from their structure
            in_functions = _function_bound(skeleton.functions, plain.graph)
            if in_functions > MAX_PROPAGATED_VALUES:
                total, largest = total + in_functions, "inside the model's local functions"
        if total > MAX_PROPAGATED_VALUES:
            self.graph.metadata["shape_inference"] = "ok, without data propagation"
            self.graph.notes.append(
                f"ONNX data propagation skipped: the model's 1-D integer (shape) tensors would "
                f"hold {total:,} values (largest: {largest}), more than "
                f"{MAX_PROPAGATED_VALUES:,}; shapes that depend on computed shape values stay "
                f"unknown"
            )
            return plain.graph
        if not skeleton.functions and every_shape_numeric:
            # Data propagation computes the values of shape tensors only to fix dimensions that depend on them;
            # when plain inference already gives every operator output a shape of numbers, it has nothing left
            # to fix (the same value_info, checked in tests/test_onnx_loader.py), and it cost as much again.
            return plain.graph
        try:
            return infer(data_prop=True).graph
        except Exception as exc:  # noqa: BLE001 - as above
            self.graph.notes.append(
                f"ONNX data propagation failed ({_one_line(exc)}); shapes that depend on "
                f"computed shape values stay unknown"
            )
            return plain.graph

    # ----- one graph or subgraph ------------------------------------------------------------------------------
    def _walk(self, gp, scope: str, outer: Dict[str, str], initializers=None) -> None:
        """Add a (sub)graph.  ``outer`` maps names visible from enclosing scopes to their scoped tensor names."""
        names = dict(outer)
        prefix = f"{scope}/" if scope else ""

        def local(name: str) -> str:
            scoped = prefix + name
            names[name] = scoped
            return scoped

        g = self.graph
        tensor = g.tensor
        for vi in gp.input:
            self._describe(tensor(local(_s(vi.name))), vi)
        for init in gp.initializer if initializers is None else initializers:
            t = tensor(local(_s(init.name)))
            t.shape = tuple(int(d) for d in init.dims)
            t.dtype = _np_dtype(init.data_type)
            if t.shape and max(t.shape) >= IMPLAUSIBLE_DIM:
                self.absurd.append(f"{t.name} {t.shape}")
            t.set_value(loader=self._tensor_loader(init), origin=f"initializer {t.name}", reload=True)
        get = names.get
        known_ops = self._known_ops
        canonical_of = self._canonical
        add = g.add_operator
        counter = self.counter
        for node in gp.node:
            counter += 1
            op_type = node.op_type
            if type(op_type) is not str:
                op_type = _s(op_type)
            domain = node.domain
            if type(domain) is not str:
                domain = _s(domain)
            name = node.name
            if type(name) is not str:
                name = _s(name)
            name = name or f"{op_type}_{counter}"
            is_onnx = domain in _DOMAINS_ONNX
            if op_type == "Constant" and is_onnx and len(node.output) == 1:
                self.counter = counter
                self._constant(node, local(_s(node.output[0])), name)
                continue
            if node.attribute:
                attrs, subgraphs = self._attributes(node)
            else:
                attrs, subgraphs = {}, ()
            inputs = [get(i, i) if type(i) is str else get(_s(i), _s(i)) for i in node.input]
            outputs = []
            for o in node.output:
                if o:
                    o = _s(o)
                    scoped = prefix + o
                    names[o] = scoped
                    outputs.append(scoped)
                else:
                    outputs.append("")
            if is_onnx:
                canonical, attrs = canonical_of(op_type, attrs, inputs)
                source_op = op_type
            else:
                canonical, source_op = op_type, f"{domain}:{op_type}"
            if (op_type, domain) not in known_ops:
                self._check_known(op_type, domain)
            if not known_ops.get((op_type, domain), True):
                self._count_unknown(op_type, domain)
            op = Operator(prefix + name, canonical, name, source_op, inputs, outputs, attrs, domain, scope, counter)
            add(op)
            if subgraphs:
                self.counter = counter
                for attr_name, sub in subgraphs:
                    self._walk(sub, f"{op.id}/{attr_name}", names)
                counter = self.counter
        self.counter = counter
        describe = self._describe
        for vi in gp.value_info:
            n = _s(vi.name)
            describe(tensor(get(n) or local(n)), vi)
        for vi in gp.output:
            n = _s(vi.name)
            describe(tensor(get(n) or local(n)), vi)

    def _check_known(self, op_type: str, domain: str) -> None:
        known = is_known_op(op_type, domain)
        if len(self._known_ops) < 4096:
            self._known_ops[(op_type, domain)] = known
        elif not known:
            self._count_unknown(op_type, domain)

    def _count_unknown(self, op_type: str, domain: str) -> None:
        label = f"{domain}:{op_type}" if domain not in _DOMAINS_ONNX else op_type
        if label in self.unknown_ops or len(self.unknown_ops) < 1000:
            self.unknown_ops[label] = self.unknown_ops.get(label, 0) + 1

    def _describe(self, t, vi) -> None:
        # value_infos repeat a handful of types (float[1,128,256]...): decode each distinct one once
        key = vi.type.SerializeToString()
        hit = self._types.get(key)
        if hit is None:
            shape, dtype = _shape_of(vi.type)
            absurd = bool(shape) and max((d or 0) for d in shape) >= IMPLAUSIBLE_DIM
            hit = (shape, dtype, absurd)
            if len(self._types) < 4096:
                self._types[key] = hit
        shape, dtype, absurd = hit
        if shape is not None and not t.is_const:
            t.shape = shape
            if absurd and len(self.absurd) < 1000:
                self.absurd.append(f"{t.name} {shape}")
        if dtype is not None and t.dtype is None:
            t.dtype = dtype

    def _constant(self, node, tensor_name: str, node_name: str) -> None:
        t = self.graph.tensor(tensor_name)
        for a in node.attribute:
            a_name = _s(a.name)
            if a_name == "value":
                t.shape = tuple(int(d) for d in a.t.dims)
                t.dtype = _np_dtype(a.t.data_type)
                t.set_value(loader=self._tensor_loader(a.t), origin=f"Constant node {node_name}", reload=True)
                return
            if a_name in ("value_float", "value_floats", "value_int", "value_ints"):
                A = pb().AttributeProto  # the value as its declared type holds it (as onnx.helper reads it)
                raw = {A.FLOAT: a.f, A.INT: a.i, A.FLOATS: a.floats, A.INTS: a.ints}.get(a.type)
                try:
                    v = (
                        None
                        if raw is None
                        else np.asarray(
                            raw if a.type in (A.FLOAT, A.INT) else list(raw),
                            dtype=np.float32 if "float" in a_name else np.int64,
                        )
                    )
                except (TypeError, ValueError, OverflowError):
                    v = None
                t.set_value(value=v, origin=f"Constant node {node_name}")
                return
            if a_name == "sparse_value":  # a SPARSE_TENSOR attribute: the payload is in ``sparse_tensor``
                self._sparse_constant(t, a.sparse_tensor, node_name)
                return
        t.set_value(value=None, origin=f"Constant node {node_name}")

    def _sparse_constant(self, t, sp, node_name: str) -> None:
        """A Constant given as a SparseTensorProto: shape from ``dims``; its dense value is built on first use, and
        only when it holds at most MAX_DENSE_ELEMENTS (a 126-byte file can declare 2^40 elements)."""
        origin = f"Constant node {node_name}"
        dims = tuple(int(d) for d in sp.dims)
        t.shape = dims
        t.dtype = _np_dtype(sp.values.data_type)
        count = math.prod(dims) if all(d >= 0 for d in dims) else -1
        if count < 0 or count > MAX_DENSE_ELEMENTS:
            declared = f"{count:,}" if count >= 0 else "a negative number of"
            self.graph.notes.append(
                f"sparse Constant {node_name!r} declares {declared} elements; its "
                f"value is not expanded (more than {MAX_DENSE_ELEMENTS:,}), so rules treat it "
                f"as unknown"
            )
            t.set_value(value=None, origin=origin)
            return
        path = self.path

        def dense() -> np.ndarray:
            from onnx import numpy_helper

            try:
                values = numpy_helper.to_array(sp.values).reshape(-1)
                indices = numpy_helper.to_array(sp.indices).astype(np.int64, copy=False)
                if indices.ndim == 2 and len(dims) > 0:  # [NNZ, rank] coordinates -> linear positions
                    if indices.shape[1] != len(dims) or (indices < 0).any() or (indices >= np.array(dims)).any():
                        raise ValueError("indices outside the dense shape")
                    indices = np.ravel_multi_index(tuple(indices.T), dims) if indices.size else indices[:, 0]
                indices = indices.reshape(-1)
                if indices.size != values.size or (indices < 0).any() or (indices >= count).any():
                    raise ValueError(f"{indices.size} indices for {values.size} values in {count} elements")
                out = np.zeros(count, dtype=values.dtype)
                out[indices] = values
                return out.reshape(dims)
            except Exception as exc:  # noqa: BLE001 - malformed payloads raise assorted errors
                raise ModelLoadError(
                    f"{path}: Constant {node_name!r} has malformed sparse data ({_one_line(exc)})"
                ) from None

        t.set_value(loader=dense, origin=origin)

    def _attributes(self, node) -> Tuple[Dict[str, Any], List[Tuple[str, Any]]]:
        A = pb().AttributeProto

        attrs: Dict[str, Any] = {}
        subgraphs = []
        for a in node.attribute:
            name = _s(a.name)
            t = a.type
            if t == A.FLOAT:
                attrs[name] = a.f
            elif t == A.INT:
                attrs[name] = a.i
            elif t == A.STRING:
                attrs[name] = bytes(a.s).decode("utf-8", "replace")
            elif t == A.INTS:
                attrs[name] = list(a.ints) if len(a.ints) <= MAX_ATTR_ITEMS else f"<{len(a.ints)} ints>"
            elif t == A.FLOATS:
                attrs[name] = list(a.floats) if len(a.floats) <= MAX_ATTR_ITEMS else f"<{len(a.floats)} floats>"
            elif t == A.STRINGS:
                attrs[name] = (
                    [bytes(x).decode("utf-8", "replace") for x in a.strings]
                    if len(a.strings) <= MAX_ATTR_ITEMS
                    else f"<{len(a.strings)} strings>"
                )
            elif t == A.GRAPH:
                subgraphs.append((name, a.g))
            elif t == A.GRAPHS:
                for i, sg in enumerate(a.graphs):
                    subgraphs.append((f"{name}[{i}]", sg))
            elif t == A.UNDEFINED:
                attrs[name] = _legacy_attribute(a)
            else:  # tensors, sparse tensors, type protos: not read by rules
                try:
                    label = A.AttributeType.Name(t).lower()
                except ValueError:
                    label = f"attribute type {t}"
                attrs[name] = f"<{label}>"
        return attrs, subgraphs

    def _canonical(self, op_type: str, attrs: Dict[str, Any], inputs: List[str]) -> Tuple[str, Dict[str, Any]]:
        op = op_type
        if op_type == "Upsample":
            op = "Resize"
            attrs = dict(attrs)
            attrs.setdefault("coordinate_transformation_mode", "asymmetric")
        merged = opset_defaults(op, self.opset)
        if not merged:
            return op, attrs
        if op in ("Softmax", "LogSoftmax"):
            merged["axis_given"] = int("axis" in attrs)  # MNN's converter reads an absent axis its own way (M006)
        merged.update(attrs)
        if op == "GridSample":
            mode = merged.get("mode")
            merged["mode"] = GRIDSAMPLE_MODES.get(mode, mode) if isinstance(mode, str) else mode
        if op.startswith("Reduce") and "axes" not in merged and len(inputs) > 1 and inputs[1]:
            axes = self._const_ints(inputs[1])  # opset 13 (ReduceSum) / 18 (others) moved axes to an input
            if axes is not None:
                merged["axes"] = axes
        return op, merged

    def _const_ints(self, tensor_name: str) -> Optional[List[int]]:
        t = self.graph.tensors.get(tensor_name)
        if t is None or not t.is_const:
            return None
        if t.shape is not None and len(t.shape) > 1 or (t.shape and t.shape[0] > 64):
            return None  # axes are a short 1-D list; anything else is not worth reading
        try:
            v = t.value
        except ModelLoadError:
            return None
        if v is None or v.size > 64 or not np.issubdtype(v.dtype, np.integer):
            return None
        return [int(x) for x in v.ravel().tolist()]

    # ----- constant data --------------------------------------------------------------------------------------
    def _tensor_loader(self, tp) -> Callable[[], np.ndarray]:
        TensorProto = pb().TensorProto
        if tp.data_location == TensorProto.EXTERNAL:
            return self._external_loader(tp)
        path = self.path

        def load() -> np.ndarray:
            try:
                raw_dtype = _RAW_DTYPES.get(tp.data_type)
                if raw_dtype is not None:
                    # the common case, read in place (read-only, as the MNN reader's constants): onnx's to_array
                    # cost 16 us per tensor, and exports hold thousands of one-element Slice bounds
                    raw = tp.raw_data
                    dims = tuple(int(d) for d in tp.dims)
                    if raw and len(raw) == math.prod(dims) * raw_dtype.itemsize:
                        return np.frombuffer(raw, dtype=raw_dtype).reshape(dims)
                    if not raw:
                        values = _from_field(tp, tp.data_type, dims)
                        if values is not None:
                            return values
                if tp.data_type == TensorProto.BFLOAT16:
                    raw = (
                        np.frombuffer(tp.raw_data, dtype=np.uint16)
                        if tp.raw_data
                        else np.asarray(tp.int32_data, dtype=np.uint32).astype(np.uint16)
                    )
                    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(tuple(tp.dims))
                from onnx import numpy_helper  # float8, int4, typed fields...: onnx decodes them (with ml_dtypes)

                return numpy_helper.to_array(tp)
            except Exception as exc:  # noqa: BLE001 - malformed tensor payloads raise assorted errors
                raise ModelLoadError(f"{path}: tensor {_s(tp.name)!r} has malformed data ({_one_line(exc)})") from None

        return load

    def _external_file(self, location: str) -> Tuple[Optional[str], Optional[int]]:
        """(resolved path, size) of an external data file; path None when it resolves outside the model's
        directory, size None when it is not a regular file.  Resolved once per location: a model's hundreds of
        initializers usually share one file, and resolving symlinks costs tens of microseconds each time."""
        hit = self._external_files.get(location)
        if hit is None:
            base = os.path.realpath(self.base_dir)
            full = os.path.realpath(os.path.join(self.base_dir, location))
            if not full.startswith(base + os.sep):
                hit = (None, None)
            else:
                hit = (full, os.path.getsize(full) if os.path.isfile(full) else None)
            self._external_files[location] = hit
        return hit

    def _external_loader(self, tp) -> Callable[[], np.ndarray]:
        info = {_s(e.key): _s(e.value) for e in tp.external_data}
        location = info.get("location", "")
        where = f"{self.path}: initializer {_s(tp.name)!r}"
        if not location or "\x00" in location or os.path.isabs(location):
            raise ModelLoadError(
                f"{where}: external data location {location!r} is outside the model's directory; refusing to read it"
            )
        full, size = self._external_file(location)
        if full is None:
            raise ModelLoadError(
                f"{where}: external data location {location!r} is outside the model's directory; refusing to read it"
            )
        if size is None:
            raise ModelLoadError(f"{where}: external data file {location!r} not found next to the model")
        dtype = _np_dtype(tp.data_type)
        if dtype is None or dtype == "object":
            return lambda: None  # an element type numpy cannot hold (float8, strings...): value unknown
        try:
            offset = int(info.get("offset", 0) or 0)
            count = 1
            for d in tp.dims:
                count *= int(d)
            packed = _PACKED_BITS.get(tp.data_type)
            bits = packed or 8 * (2 if dtype == "bfloat16" else np.dtype(dtype).itemsize)
            nbytes = (count * bits + 7) // 8  # sub-byte types (INT4, FLOAT4E2M1, INT2...) are packed
            length = int(info.get("length", nbytes) or nbytes)
        except (ValueError, TypeError, OverflowError):
            raise ModelLoadError(f"{where}: external data offset/length are not numbers") from None
        if count < 0 or offset < 0 or length < 0 or offset + length > size or length != nbytes:
            raise ModelLoadError(
                f"{where}: external data range offset={offset} length={length} does not fit "
                f"{location!r} ({size} bytes) or the tensor's shape"
            )
        dims = tuple(int(d) for d in tp.dims)

        def load() -> np.ndarray:
            with open(full, "rb") as fh:
                fh.seek(offset)
                raw = fh.read(length)
            if len(raw) != length:
                raise ModelLoadError(f"{where}: external data file {location!r} changed while it was read")
            if dtype == "bfloat16":
                return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(dims)
            if packed:  # unpacked by onnx itself, as the same tensor stored inline would be
                from onnx import numpy_helper

                inline = pb().TensorProto(data_type=tp.data_type, dims=dims, raw_data=raw)
                return numpy_helper.to_array(inline)
            return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(dims)

        return load


def _full_shape(tp, values_only: bool) -> bool:
    tt = tp.tensor_type if tp.WhichOneof("value") == "tensor_type" else None
    if tt is None or not tt.elem_type or not tt.HasField("shape"):
        return False
    if values_only:
        return all(d.HasField("dim_value") for d in tt.shape.dim)
    return all(d.WhichOneof("value") is not None for d in tt.shape.dim)  # a value or a named symbol


def _stores_every_shape(gp) -> bool:
    """Whether the file declares a full shape for every operator output (exporters write value_info), so that
    ONNX shape inference could add nothing the rules read.  Subgraphs are left to shape inference."""
    declared = set()
    full: Dict[bytes, bool] = {}  # value_infos repeat a handful of types: judge each distinct one once
    for vi in (*gp.value_info, *gp.output, *gp.input):
        key = vi.type.SerializeToString()
        ok = full.get(key)
        if ok is None:
            ok = full[key] = _full_shape(vi.type, values_only=False)
        if ok:
            declared.add(vi.name)
    graph_attr = pb().AttributeProto.GRAPH, pb().AttributeProto.GRAPHS
    for node in gp.node:
        if not _declares_outputs(node, declared, any(a.type in graph_attr for a in node.attribute)):
            return False
    return True


def _declares_outputs(node, declared, has_graph: bool) -> bool:
    """Whether the names in ``declared`` cover what shape inference would tell of ``node``'s outputs: a Constant's
    shape is its value's; a node with subgraphs is left to shape inference."""
    if node.op_type == "Constant" and node.domain in _DOMAINS_ONNX:
        return True
    if has_graph:
        return False
    for o in node.output:
        if o and o not in declared:
            return False
    return True


def _legacy_attribute(a) -> Any:
    """Files written before attribute types existed: the first field that is set."""
    if a.ints:
        return list(a.ints)
    if a.floats:
        return list(a.floats)
    if a.strings:
        return [bytes(x).decode("utf-8", "replace") for x in a.strings]
    if a.s:
        return bytes(a.s).decode("utf-8", "replace")
    if a.HasField("f"):
        return a.f
    return a.i
