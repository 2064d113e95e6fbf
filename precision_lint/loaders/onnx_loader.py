"""ONNX -> ModelGraph.

The model is parsed without external data; external tensors are read lazily (and only from inside the model's
directory) when a rule asks for a value.  Shape inference runs where it succeeds, and the graph says so where it
does not.  If/Loop/Scan bodies are walked with scoped names.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import ModelLoadError
from ..graph import ModelGraph, Operator
from .canonical import GRIDSAMPLE_MODES, opset_defaults

_DOMAINS_ONNX = ("", "ai.onnx")


def load_onnx(path: str) -> ModelGraph:
    import onnx  # lazy: a .mnn run never pays for it
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(path, load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ModelLoadError(f"{path}: not a readable ONNX model (protobuf parse failed: {_one_line(exc)})") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.input):
        raise ModelLoadError(f"{path}: not an ONNX model (no graph found; the file may be truncated or another "
                             f"format)")
    return _Builder(path, model).build()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _np_dtype(elem_type: int) -> Optional[str]:
    from onnx import TensorProto

    if elem_type == TensorProto.BFLOAT16:
        return "bfloat16"
    try:
        from onnx.helper import tensor_dtype_to_np_dtype

        return str(np.dtype(tensor_dtype_to_np_dtype(elem_type)))
    except (KeyError, TypeError, ValueError):
        return None


def _shape_of(type_proto) -> Tuple[Optional[Tuple[Optional[int], ...]], Optional[str]]:
    if not type_proto.HasField("tensor_type"):
        return None, None
    tt = type_proto.tensor_type
    dtype = _np_dtype(tt.elem_type) if tt.elem_type else None
    if not tt.HasField("shape"):
        return None, dtype
    dims = []
    for d in tt.shape.dim:
        dims.append(int(d.dim_value) if d.HasField("dim_value") and d.dim_value >= 0 else None)
    return tuple(dims), dtype


class _Builder:
    def __init__(self, path: str, model):
        self.path = path
        self.model = model
        self.base_dir = os.path.dirname(os.path.abspath(path))
        self.graph = ModelGraph(path, "onnx")
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in _DOMAINS_ONNX:
                self.opset = int(imp.version)
        self.counter = 0
        self.external_files: Dict[str, str] = {}

    def build(self) -> ModelGraph:
        g = self.graph
        m = self.model
        g.metadata.update({
            "ir_version": int(m.ir_version), "opset": self.opset, "producer": m.producer_name,
            "producer_version": m.producer_version,
            "domains": sorted({imp.domain or "ai.onnx" for imp in m.opset_import}),
        })
        graph_proto = self._inferred_graph()
        self._walk(graph_proto, scope="", outer={})
        g.inputs = [i.name for i in graph_proto.input if not g.tensor(i.name).is_const]
        g.outputs = [o.name for o in graph_proto.output]
        return g.finish()

    def _inferred_graph(self):
        import onnx

        try:
            inferred = onnx.shape_inference.infer_shapes(self.model, check_type=False, strict_mode=False,
                                                         data_prop=True)
            self.graph.metadata["shape_inference"] = "ok"
            return inferred.graph
        except Exception as exc:  # noqa: BLE001 - onnx raises many types; any failure just means fewer shapes
            self.graph.metadata["shape_inference"] = "failed"
            self.graph.notes.append(f"ONNX shape inference failed ({_one_line(exc)}); shape-dependent rules use "
                                    f"only the shapes stored in the file")
            return self.model.graph

    # ----- one graph or subgraph ------------------------------------------------------------------------------
    def _walk(self, gp, scope: str, outer: Dict[str, str]) -> None:
        """Add a (sub)graph.  ``outer`` maps names visible from enclosing scopes to their scoped tensor names."""
        names = dict(outer)

        def local(name: str) -> str:
            scoped = f"{scope}/{name}" if scope else name
            names[name] = scoped
            return scoped

        g = self.graph
        for vi in gp.input:
            self._describe(g.tensor(local(vi.name)), vi)
        for init in gp.initializer:
            t = g.tensor(local(init.name))
            t.shape = tuple(int(d) for d in init.dims)
            t.dtype = _np_dtype(init.data_type)
            t.set_value(loader=self._tensor_loader(init), origin=f"initializer {init.name}")
        for node in gp.node:
            self.counter += 1
            op_type = node.op_type
            name = node.name or f"{op_type}_{self.counter}"
            if op_type == "Constant" and node.domain in _DOMAINS_ONNX and len(node.output) == 1:
                self._constant(node, local(node.output[0]), name)
                continue
            attrs, subgraphs = self._attributes(node)
            inputs = [names.get(i, i) if i else "" for i in node.input]
            outputs = [local(o) if o else "" for o in node.output]
            canonical = op_type
            if node.domain in _DOMAINS_ONNX:
                canonical, attrs = self._canonical(op_type, attrs, inputs)
            op = Operator(id=f"{scope}/{name}" if scope else name, op=canonical, name=name,
                          source_op=op_type if node.domain in _DOMAINS_ONNX else f"{node.domain}:{op_type}",
                          inputs=inputs, outputs=outputs, attrs=attrs, domain=node.domain, scope=scope,
                          index=self.counter)
            g.add_operator(op)
            for attr_name, sub in subgraphs:
                self._walk(sub, f"{op.id}/{attr_name}", names)
        for vi in list(gp.value_info) + list(gp.output):
            self._describe(g.tensor(names.get(vi.name) or local(vi.name)), vi)

    @staticmethod
    def _describe(t, vi) -> None:
        shape, dtype = _shape_of(vi.type)
        if shape is not None and not t.is_const:
            t.shape = shape
        if dtype is not None and t.dtype is None:
            t.dtype = dtype

    def _constant(self, node, tensor_name: str, node_name: str) -> None:
        from onnx import helper, numpy_helper

        t = self.graph.tensor(tensor_name)
        for a in node.attribute:
            if a.name == "value":
                t.shape = tuple(int(d) for d in a.t.dims)
                t.dtype = _np_dtype(a.t.data_type)
                t.set_value(loader=self._tensor_loader(a.t), origin=f"Constant node {node_name}")
                return
            if a.name in ("value_float", "value_floats", "value_int", "value_ints"):
                v = np.asarray(helper.get_attribute_value(a),
                               dtype=np.float32 if "float" in a.name else np.int64)
                t.set_value(value=v, origin=f"Constant node {node_name}")
                return
            if a.name == "sparse_value":
                t.set_value(loader=lambda a=a: numpy_helper.to_array(a.sparse_value.values),
                            origin=f"Constant node {node_name}")
                return
        t.set_value(value=None, origin=f"Constant node {node_name}")

    def _attributes(self, node) -> Tuple[Dict[str, Any], List[Tuple[str, Any]]]:
        from onnx import AttributeProto, helper

        attrs: Dict[str, Any] = {}
        subgraphs = []
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                subgraphs.append((a.name, a.g))
                continue
            if a.type == AttributeProto.GRAPHS:
                for i, sg in enumerate(a.graphs):
                    subgraphs.append((f"{a.name}[{i}]", sg))
                continue
            if a.type in (AttributeProto.TENSOR, AttributeProto.SPARSE_TENSOR, AttributeProto.TENSORS,
                          AttributeProto.TYPE_PROTO, AttributeProto.TYPE_PROTOS, AttributeProto.SPARSE_TENSORS):
                attrs[a.name] = f"<{AttributeProto.AttributeType.Name(a.type).lower()}>"
                continue
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list):
                v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
            attrs[a.name] = v
        return attrs, subgraphs

    def _canonical(self, op_type: str, attrs: Dict[str, Any], inputs: List[str]) -> Tuple[str, Dict[str, Any]]:
        op = op_type
        if op_type == "Upsample":
            op = "Resize"
            attrs = dict(attrs)
            attrs.setdefault("coordinate_transformation_mode", "asymmetric")
        merged = opset_defaults(op, self.opset)
        merged.update(attrs)
        if op == "GridSample":
            merged["mode"] = GRIDSAMPLE_MODES.get(merged.get("mode"), merged.get("mode"))
        if op.startswith("Reduce") and "axes" not in merged and len(inputs) > 1 and inputs[1]:
            axes = self._const_ints(inputs[1])  # opset 13 (ReduceSum) / 18 (others) moved axes to an input
            if axes is not None:
                merged["axes"] = axes
        return op, merged

    def _const_ints(self, tensor_name: str) -> Optional[List[int]]:
        t = self.graph.tensors.get(tensor_name)
        if t is None or not t.is_const:
            return None
        try:
            v = t.value
        except ModelLoadError:
            return None
        return None if v is None else [int(x) for x in np.asarray(v).ravel()]

    # ----- constant data --------------------------------------------------------------------------------------
    def _tensor_loader(self, tp) -> Callable[[], np.ndarray]:
        from onnx import TensorProto, numpy_helper

        if tp.data_location == TensorProto.EXTERNAL:
            return self._external_loader(tp)

        def load() -> np.ndarray:
            if tp.data_type == TensorProto.BFLOAT16:
                raw = np.frombuffer(tp.raw_data, dtype=np.uint16) if tp.raw_data else \
                    np.asarray(tp.int32_data, dtype=np.uint32).astype(np.uint16)
                return (raw.astype(np.uint32) << 16).view(np.float32).reshape(tuple(tp.dims))
            try:
                return numpy_helper.to_array(tp)
            except Exception as exc:  # noqa: BLE001 - malformed tensor payloads raise assorted errors
                raise ModelLoadError(f"{self.path}: tensor {tp.name!r} has malformed data ({_one_line(exc)})") \
                    from None
        return load

    def _external_loader(self, tp) -> Callable[[], np.ndarray]:
        info = {e.key: e.value for e in tp.external_data}
        location = info.get("location", "")
        where = f"{self.path}: initializer {tp.name!r}"
        full = os.path.realpath(os.path.join(self.base_dir, location))
        base = os.path.realpath(self.base_dir)
        if not location or os.path.isabs(location) or not full.startswith(base + os.sep):
            raise ModelLoadError(f"{where}: external data location {location!r} is outside the model's directory; "
                                 f"refusing to read it")
        if not os.path.isfile(full):
            raise ModelLoadError(f"{where}: external data file {location!r} not found next to the model")
        dtype = _np_dtype(tp.data_type)
        if dtype is None:
            return lambda: None  # an element type numpy cannot hold (float8...): value unknown
        offset = int(info.get("offset", 0) or 0)
        count = int(np.prod(tp.dims, dtype=np.int64)) if len(tp.dims) else 1
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        length = int(info.get("length", count * itemsize) or count * itemsize)
        size = os.path.getsize(full)
        if offset < 0 or length < 0 or offset + length > size or length != count * itemsize:
            raise ModelLoadError(f"{where}: external data range offset={offset} length={length} does not fit "
                                 f"{location!r} ({size} bytes) or the tensor's shape")

        def load() -> np.ndarray:
            with open(full, "rb") as fh:
                fh.seek(offset)
                raw = fh.read(length)
            if dtype == "bfloat16":
                return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32) \
                    .reshape(tuple(tp.dims))
            return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(tuple(tp.dims))
        return load
