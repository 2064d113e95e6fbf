"""MNN -> ModelGraph, read straight from the FlatBuffer.

MNN's Python runtime exposes op types and constants but no attributes, and its JSON dump rounds floats to six
decimals (an epsilon of 1e-12 prints as 0.0), so the file is decoded here with the ``flatbuffers`` runtime through
the checked table reader in ``flatbuf``.  The lint path never imports MNN: importing it prints to stdout and is slow.

What the reader does to make an MNN graph read like its ONNX source (docs/mnn.md has the details):
* ``Const`` ops become constant tensors, as ONNX initializers do; convolution weights and norm gamma/beta, which
  MNN keeps inside the op, become constant inputs (weight at input 1, bias at input 2, like ONNX Conv).
* ``ConvertTensor`` ops only change the memory layout (NCHW <-> NC4HW4); they are dropped and their producer and
  consumers rewired, so the patterns rules match are the same as in ONNX.  A conversion to or from NHWC changes
  the logical axis order and becomes a Transpose instead.
* Shapes: the file stores only input dims and constant dims; ``mnn_shapes`` propagates the rest where it can and
  the graph notes say how far it got.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ...errors import ModelLoadError
from ..graph import ModelGraph, Operator
from . import mnn_schema as S
from .flatbuf import Buffer, FlatBufferError, Irregular, Tab, TableColumns, offset_array
from .mnn_data import Payload, PayloadReader, conv_weight
from .mnn_ops import canonical

_CONV_TYPES = {
    "Convolution": "Conv",
    "ConvolutionDepthwise": "Conv",
    "Deconvolution": "ConvTranspose",
    "DeconvolutionDepthwise": "ConvTranspose",
}
_CHANNELS_FIRST = {0, 2}  # NCHW, NC4HW4: the same logical axis order
_CHANNELS_LAST = {1, 3}  # NHWC, NHWC4
_SUBGRAPH_ROLES = (
    ("then_graph", "then_branch"),
    ("else_graph", "else_branch"),
    ("cond_graph", "cond"),
    ("body_graph", "body"),
)


def load_mnn(path: str) -> ModelGraph:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return _Reader(path, data).build()
    except FlatBufferError as exc:
        hint = " (is the file truncated?)" if "past the end" in str(exc) else ""
        raise ModelLoadError(f"{path}: not a valid MNN model: {exc}{hint}") from None
    except RecursionError:
        raise ModelLoadError(f"{path}: not a valid MNN model: subgraphs nest too deeply to read") from None
    except (struct.error, ValueError, IndexError, OverflowError, TypeError) as exc:
        # Defence in depth: the table reader checks every offset, but a file must never end in a traceback.
        raise ModelLoadError(
            f"{path}: not a valid MNN model: malformed FlatBuffer ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


_UNREAD = object()
# Op lists shorter than this are read op by op: the columnar read has a fixed cost of about 0.6 ms (a 7-op model
# loads in 0.6 ms op by op, 1.2 ms by columns) and saves about 8 us per op (the 1k-op transformer: 25 -> 17 ms).
COLUMNAR_MIN_OPS = 100
# Parameter tables _decode_params reads through a nested table: decoded op by op.
_NESTED_PARAMS = {"Convolution2D", "Convolution3D"}


@dataclass(slots=True)  # one per op
class _Rec:
    """One op as stored, before rewiring."""

    tab: Optional[Tab]  # None when the header was read by _columnar_records (which reads externalPath too)
    type_name: str
    name: str
    inputs: List[str]
    outputs: List[str]
    param_name: Optional[str]
    param: Optional[Tab]
    perm: Optional[Dict[str, Any]] = None  # a ConvertTensor that permutes axes: the Transpose's attributes
    dropped: bool = False  # a layout-only ConvertTensor, rewired around
    params: Optional[Dict[str, Any]] = None  # the parameter table, when decoded with the others of its kind
    external_path: Any = _UNREAD  # the op's externalPath, when read with the others'


def _external_path(r: _Rec) -> Optional[str]:
    if r.external_path is _UNREAD:
        r.external_path = r.tab.string(S.OP["externalPath"], "externalPath")
    return r.external_path


class _Reader:
    def __init__(self, path: str, data: bytes):
        self.path = path
        self.buf = Buffer(data)
        self.graph = ModelGraph(path, "mnn")
        self.payloads = PayloadReader(path)
        self.counter = 0
        self.unknown_types: Counter = Counter()
        self.unknown_params: Counter = Counter()
        self.value_problems: Dict[str, List[str]] = {}
        self.fp16 = False
        self.dropped = 0
        self.subgraphs: Dict[str, Tab] = {}
        self.walked: Set[str] = set()

    # ----- the whole file -------------------------------------------------------------------------------------
    def build(self) -> ModelGraph:
        if self.buf.data[4:8] == b"TFL3":
            raise ModelLoadError(f"{self.path}: this is a TensorFlow Lite model, not an MNN model")
        net = self.buf.root("Net")
        if not net.has(S.NET["oplists"]):
            raise FlatBufferError("the root table has no operator list (not an MNN Net, or an empty model)")
        g = self.graph
        self._metadata(net)
        for sg in net.tables(S.NET["subgraphs"], "subgraphs"):
            self.subgraphs.setdefault(sg.string(S.SUBGRAPH["name"], "name") or "", sg)
        names = net.strings(S.NET["tensorName"], "tensorName")
        outputs = net.strings(S.NET["outputName"], "outputName")
        ins, outs = self._graph(net, S.NET["oplists"], "oplists", names, "", {}, outputs)
        g.inputs = ins
        g.outputs = outs or self._dangling()
        for name in self.subgraphs:  # subgraphs no op refers to: still walked, scoped by their name
            if name not in self.walked:
                self._subgraph(name or "subgraph", name, {})
        g.metadata["fp16_converted"] = self.fp16
        g.metadata["convert_tensor_dropped"] = self.dropped
        self._attrs_from_constants()
        self._summarise()
        g.finish()
        cycle = g.find_cycle()
        if cycle:  # MNN executes ops in file order: a cycle means a malformed file
            names = " -> ".join(g.ops[i].name for i in cycle + cycle[:1])
            g.notes.append(
                f"the graph has a cycle ({names}); MNN graphs are acyclic, so the file is malformed: "
                f"the value ranges of tensors on a cycle are unknown, and relations were followed only until "
                f"they repeat"
            )
        from .mnn_shapes import propagate

        propagate(g)
        return g

    def _metadata(self, net: Tab) -> None:
        info = net.table(S.NET["extraInfo"], "extraInfo")
        version = info.string(S.EXTRA_INFO["version"], "version") if info is not None else None
        src = net.scalar(S.NET["sourceType"], "i8", 0)
        self.graph.metadata.update(
            {
                "producer": "MNN converter",
                "producer_version": version or "",
                "mnn_version": version,
                "source_type": S.NET_SOURCES.get(src, f"NetSource{src}"),
                "biz_code": net.string(S.NET["bizCode"], "bizCode") or "",
                "mnn_uuid": net.string(S.NET["mnn_uuid"], "mnn_uuid"),
                "usage": {0: "INFERENCE", 1: "TRAIN", 2: "INFERENCE_STATIC"}.get(net.scalar(S.NET["usage"], "i8", 0)),
            }
        )

    def _dangling(self) -> List[str]:
        """Outputs when the file lists none: tensors some op produces and no op reads."""
        g = self.graph
        return [t.name for t in g.tensors.values() if t.producer and not t.consumers and not t.is_const]

    # ----- one graph ------------------------------------------------------------------------------------------
    def _graph(
        self,
        owner: Tab,
        slot: int,
        what: str,
        names: List[str],
        scope: str,
        bind: Dict[str, str],
        outputs: Sequence[str],
    ) -> Tuple[List[str], List[str]]:
        """Add one (sub)graph, whose ops are the tables of ``owner``'s vector field ``slot``.  ``bind`` maps names of
        this graph to tensors of the enclosing one.  Returns the graph's input and output tensor names after
        rewiring."""

        def local(n: str) -> str:
            if n in bind:
                return bind[n]
            return f"{scope}/{n}" if scope else n

        def index(i: int, what: str) -> str:
            if i < 0:
                return ""
            if i >= len(names):
                raise FlatBufferError(f"{what} refers to tensor {i}, but the graph has {len(names)} tensor names")
            return local(names[i])

        recs = self._columnar_records(owner, slot, what, names, local)
        if recs is None:  # something the columnar checks refuse: read op by op, whose errors name the op and field
            recs = self._records(owner.tables(slot, what), index)

        resolve, alias = self._rewire(recs, {local(o) for o in outputs})
        inputs: List[str] = []
        for r in recs:
            if alias:  # resolve(n) is n where n is not aliased: most names
                r.inputs = [resolve(n) if n in alias else n for n in r.inputs]
                r.outputs = [resolve(n) if n in alias else n for n in r.outputs]
            if r.dropped:
                continue
            if r.type_name in ("Const", "TrainableParam") and r.outputs:
                self._const(r)
            elif r.type_name == "Input" and r.outputs:
                if r.outputs[0] not in bind.values():
                    self._input(r)
                    inputs.append(r.outputs[0])
            else:
                self._operator(r, scope)
        return inputs, [resolve(local(o)) for o in outputs]

    def _records(self, ops: List[Tab], index) -> List[_Rec]:
        """The ops as stored, read table by table."""
        recs: List[_Rec] = []
        for k, tab in enumerate(ops):
            type_name = self._op_type(tab.scalar(S.OP["type"], "i32", 0))
            name = tab.string(S.OP["name"], "name") or f"{type_name}_{k}"
            what = f"op {name!r}"
            ins = [index(i, what) for i in tab.numbers(S.OP["inputIndexes"], "i32", "inputIndexes")]
            outs = [index(i, what) for i in tab.numbers(S.OP["outputIndexes"], "i32", "outputIndexes")]
            pname = self._param_kind(type_name, tab.scalar(S.OP["main_type"], "u8", 0))
            ptab = tab.table(S.OP["main"], f"main<{pname}>") if pname else None
            recs.append(_Rec(tab, type_name, name, ins, outs, pname, ptab))
        return recs

    def _op_type(self, code: int) -> str:
        """The name of an op type code; an unknown one is counted for the graph's notes."""
        type_name = S.OP_TYPES.get(code)
        if type_name is None:
            type_name = f"OpType{code}"
            self.unknown_types[type_name] += 1
        return type_name

    def _param_kind(self, type_name: str, ptype: int) -> Optional[str]:
        """The name of an op's parameter table type (None for none); an unknown one is counted for the notes."""
        pname = S.PARAMS.get(ptype) if ptype else None
        if ptype and pname is None:
            self.unknown_params[f"{type_name} (parameter type {ptype})"] += 1
        return pname

    def _columnar_records(self, owner: Tab, slot: int, what: str, names: List[str], local) -> Optional[List[_Rec]]:
        """The ops as stored, their headers read for all ops at once (flatbuf.TableColumns); None when a check
        fails or an op names a tensor the graph does not have, and the caller reads op by op instead."""
        try:
            positions = offset_array(owner, slot, what)
            if len(positions) < COLUMNAR_MIN_OPS:
                return None  # numpy's fixed costs: a small graph reads faster op by op
            ops = TableColumns(self.buf, positions)
            codes = ops.scalars(S.OP["type"], "i32", 0)
            op_names = ops.strings(S.OP["name"])
            ins, in_ends = ops.number_lists(S.OP["inputIndexes"], "i32")
            outs, out_ends = ops.number_lists(S.OP["outputIndexes"], "i32")
            ptypes = ops.scalars(S.OP["main_type"], "u8", 0)
            known = np.array([bool(t) and t in S.PARAMS for t in ptypes], dtype=bool)  # main is read for these
            mains = ops.rows(known).targets(S.OP["main"])
            if not mains.all():  # a parameter type without its table: Tab reads None there, not byte 0
                raise Irregular("parameter table absent")
            params = TableColumns(self.buf, mains)
            ext_paths = ops.strings(S.OP["externalPath"])
        except Irregular:
            return None
        if max(ins.max(initial=-1), outs.max(initial=-1)) >= len(names):
            return None
        tensor = [local(n) for n in names] + [""]  # [-1]: no tensor (every negative index)
        ins = [tensor[i] for i in np.maximum(ins, -1).tolist()]
        outs = [tensor[i] for i in np.maximum(outs, -1).tolist()]
        with_param = np.flatnonzero(known).tolist()
        prefix = f"{owner.what}.{what}"
        param_tabs = iter(params.tabs([f"{prefix}[{k}].main<{S.PARAMS[ptypes[k]]}>" for k in with_param]))
        recs: List[_Rec] = []
        in_start = out_start = 0
        for k, (code, ptype, in_end, out_end) in enumerate(zip(codes, ptypes, in_ends, out_ends)):
            type_name = self._op_type(code)
            pname = self._param_kind(type_name, ptype)
            recs.append(
                _Rec(
                    None,
                    type_name,
                    op_names[k] or f"{type_name}_{k}",
                    ins[in_start:in_end],
                    outs[out_start:out_end],
                    pname,
                    next(param_tabs) if pname else None,
                    external_path=ext_paths[k],
                )
            )
            in_start, out_start = in_end, out_end
        _decode_by_kind(params, [S.PARAMS[ptypes[k]] for k in with_param], [recs[k] for k in with_param])
        return recs

    def _rewire(self, recs: List[_Rec], outputs: Set[str]):
        """Drop layout-only ConvertTensor ops; return the name resolver that rewires around them, and the names it
        changes (none when no op was dropped)."""
        alias: Dict[str, str] = {}
        produced_by_op: Optional[Set[str]] = None  # built at the first dropped op: most graphs have none
        for r in recs:
            if r.type_name != "ConvertTensor" or len(r.inputs) != 1 or len(r.outputs) != 1:
                continue
            info = r.param if r.param_name == "TensorConvertInfo" else None
            src = info.scalar(0, "i8", 0) if info is not None else 0  # TensorConvertInfo: 0 source, 1 dest
            dst = info.scalar(1, "i8", 0) if info is not None else 0
            if (src in _CHANNELS_LAST) != (dst in _CHANNELS_LAST) and {src, dst} <= _CHANNELS_FIRST | _CHANNELS_LAST:
                r.perm = {
                    "perm": [0, 3, 1, 2] if src in _CHANNELS_LAST else [0, 2, 3, 1],
                    "from_format": S.DATA_FORMATS.get(src),
                    "to_format": S.DATA_FORMATS.get(dst),
                }
                continue  # a real axis permutation: kept as a Transpose
            x, y = r.inputs[0], r.outputs[0]
            if not x or not y or x == y:
                continue
            r.dropped = True
            self.dropped += 1
            if produced_by_op is None:
                produced_by_op = {o for r in recs if r.type_name not in ("Input", "Const") for o in r.outputs}
            if y in outputs and x in produced_by_op:
                alias[x] = y  # the producer writes the graph output's name directly
            else:
                alias[y] = x
        limit = len(alias) + 1

        def resolve(n: str) -> str:
            for _ in range(limit):  # bounded: a cyclic alias chain in a hostile file ends here
                nxt = alias.get(n)
                if nxt is None or nxt == n:
                    break
                n = nxt
            return n

        return resolve, alias

    # ----- constants and inputs -------------------------------------------------------------------------------
    def _const(self, r: _Rec) -> None:
        t = self.graph.tensor(r.outputs[0])
        if r.param_name != "Blob" or r.param is None:
            t.set_value(value=None, origin=f"Const op {r.name}")
            self._problem("Const op without a Blob parameter", t.name)
            return
        p = self.payloads.blob(r.param, _external_path(r))
        self._set_payload(t, p, f"Const op {r.name}")

    def _set_payload(self, t, p: Payload, origin: str) -> None:
        t.shape = p.shape
        t.dtype = p.dtype
        t.stored_dtype = p.stored_dtype
        if p.stored_dtype == "float16":
            self.fp16 = True
        t.set_value(loader=p.loader, origin=origin)
        if p.problem:
            self._problem(p.problem, t.name)

    def _input(self, r: _Rec) -> None:
        t = self.graph.tensor(r.outputs[0])
        if r.param_name == "Input" and r.param is not None:
            p = _read_table(r.param, "Input")
            dims = p.get("dims") or []
            t.shape = tuple(int(d) if d > 0 else None for d in dims)
            t.dtype = S.DATA_TYPES.get(p.get("dtype", 1), ("", None))[1]
            if t.dtype in ("int64",):
                t.dtype = "int32"

    # ----- operators ------------------------------------------------------------------------------------------
    def _operator(self, r: _Rec, scope: str) -> None:
        params = r.params if r.params is not None else _decode_params(r)
        op_name, source_op, attrs = canonical(r.type_name, params)
        if r.perm is not None:  # a ConvertTensor kept: it permutes axes (NHWC <-> NCHW)
            op_name, attrs = "Transpose", dict(r.perm)
        if r.name.endswith("__matmul_converted"):
            attrs["converted_from"] = "MatMul"  # the converter's convertMatmulToConv
        self.counter += 1
        # unique before the weight tensors are named after it
        op_id = self.graph.unique_id(f"{scope}/{r.name}" if scope else r.name)
        op = Operator(
            id=op_id,
            op=op_name,
            name=r.name,
            source_op=source_op,
            inputs=r.inputs,  # the record's own lists: it is not read again
            outputs=r.outputs,
            attrs=attrs,
            scope=scope,
            index=self.counter,
        )
        if r.param is not None:
            self._weights(r, op)
        self.graph.add_operator(op)
        if r.param_name not in ("IfParam", "WhileParam"):
            return  # the only parameter tables that name subgraphs
        for key, role in _SUBGRAPH_ROLES:
            sub = params.get(key)
            if sub:
                self._subgraph(f"{op.id}/{role}", sub, self._aliases(r, op.inputs))

    def _weights(self, r: _Rec, op: Operator) -> None:
        """Parameters MNN stores inside the op become constant inputs, where ONNX has them."""
        ext_path = _external_path(r)
        if r.type_name in _CONV_TYPES and r.param_name == "Convolution2D" and len(op.inputs) == 1:
            a = op.attrs
            cin, cout, grp = a.get("in_channels", 0), a.get("out_channels", 0), a.get("group", 1)
            kh, kw = a["kernel_shape"]
            shape = None
            if cin and cout and grp:
                shape = (cout, cin // grp, kh, kw) if op.op == "Conv" else (cin, cout // grp, kh, kw)
            w, b = conv_weight(self.payloads, r.param, ext_path, shape, cout)
            self._param_input(op, "weight", w)
            if b is not None:
                self._param_input(op, "bias", b)
        elif r.type_name in ("LayerNorm", "GroupNorm"):
            slots = {"LayerNorm": (2, 3, 5), "GroupNorm": (2, 3, 6)}[r.type_name]
            gamma_n = r.param.vector_len(slots[0], "f32")
            ext = [int(x) for x in r.param.vector(slots[2], "i64", "external")]
            if gamma_n:
                for name, slot in (("gamma", slots[0]), ("beta", slots[1])):
                    loader = self.payloads.floats(r.param, slot, None)
                    if loader is not None:
                        n = r.param.vector_len(slot, "f32")
                        self._param_input(op, name, Payload((n,), "float32", "float32", loader))
            elif len(ext) >= 3:  # [offset, gamma bytes, beta bytes]
                ef = self.payloads.external(ext_path)
                self._param_input(op, "gamma", self.payloads.external_floats(ef, ext[0], ext[1], "float32", None))
                self._param_input(
                    op, "beta", self.payloads.external_floats(ef, ext[0] + ext[1], ext[2], "float32", None)
                )

    def _param_input(self, op: Operator, role: str, p: Payload) -> None:
        name = f"{op.id}/{role}"
        self._set_payload(self.graph.tensor(name), p, f"{op.source_op} op {op.name} ({role})")
        op.inputs.append(name)

    # ----- subgraphs ------------------------------------------------------------------------------------------
    def _aliases(self, r: _Rec, outer_inputs: List[str]) -> Dict[str, str]:
        """If/While: ``aliases_inputs[i]`` lists the subgraph names bound to the op's input i."""
        out: Dict[str, str] = {}
        if r.param is None or r.param_name not in ("IfParam", "WhileParam"):
            return out
        for i, sv in enumerate(r.param.tables(2, "aliases_inputs")):
            if i < len(outer_inputs) and outer_inputs[i]:
                for inner in sv.strings(0, "data"):
                    out[inner] = outer_inputs[i]
        return out

    def _subgraph(self, scope: str, name: str, bind: Dict[str, str]) -> None:
        sg = self.subgraphs.get(name)
        if sg is None:
            self._problem_note(f"subgraph {name!r} is referenced but not stored in the file")
            return
        if name in self.walked:
            return  # walked once: also ends a subgraph that refers to itself
        self.walked.add(name)
        names = sg.strings(S.SUBGRAPH["tensors"], "tensors")
        outs = []
        for i in sg.vector(S.SUBGRAPH["outputs"], "i32", "outputs"):
            if 0 <= i < len(names):
                outs.append(names[int(i)])
        self._graph(sg, S.SUBGRAPH["nodes"], "nodes", names, scope, bind, outs)

    # ----- after the walk -------------------------------------------------------------------------------------
    def _attrs_from_constants(self) -> None:
        """Attributes MNN passes as constant inputs where ONNX has attributes (Gather axis, squeeze axes...)."""
        g = self.graph
        for op in g.ops.values():
            if op.source_op == "GatherV2":  # axis input: a constant here, or computed (mnn_shapes fills it in)
                v = _const_ints(g, op.inputs[2]) if len(op.inputs) > 2 else [0]
                if v:
                    op.attrs["axis"] = v[0]
            elif (
                op.op
                in (
                    "Unsqueeze",
                    "Squeeze",
                    "ReduceSum",
                    "ReduceMean",
                    "ReduceMax",
                    "ReduceMin",
                    "ReduceProd",
                    "ReduceL1",
                    "ReduceSumSquare",
                )
                and not op.attrs.get("axes")
                and len(op.inputs) > 1
            ):
                v = _const_ints(g, op.inputs[1])
                if v is not None:
                    op.attrs["axes"] = v

    def _problem(self, problem: str, tensor: str) -> None:
        self.value_problems.setdefault(problem, []).append(tensor)

    def _problem_note(self, text: str) -> None:
        self.graph.notes.append(text)

    def _summarise(self) -> None:
        notes = self.graph.notes
        if self.unknown_types:
            kinds = ", ".join(f"{k} x{n}" for k, n in sorted(self.unknown_types.items()))
            notes.append(
                f"op types unknown to this reader (written by a newer MNN?): {kinds}; they are kept under "
                f"their numeric type and rules cannot interpret them"
            )
        if self.unknown_params:
            kinds = ", ".join(f"{k} x{n}" for k, n in sorted(self.unknown_params.items()))
            notes.append(
                f"op parameter tables unknown to this reader (newer MNN?): {kinds}; their attributes were not read"
            )
        for problem, tensors in sorted(self.value_problems.items()):
            first = ", ".join(repr(t) for t in tensors[:3]) + (" ..." if len(tensors) > 3 else "")
            notes.append(f"constant values unknown for {len(tensors)} tensor(s): {problem} ({first})")


def _read_table(tab: Tab, name: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for fname, slot, kind, default in S.TABLES.get(name, ()):
        if kind == "str":
            out[fname] = tab.string(slot, fname)
        elif kind.startswith("["):
            out[fname] = tab.numbers(slot, kind[1:-1], fname)  # Python scalars, as .item() gives
        else:
            out[fname] = tab.scalar(slot, kind, default)
    return out


def _decode_by_kind(params: TableColumns, kinds: List[str], recs: List[_Rec]) -> None:
    """Decode the parameter tables (row i is recs[i]'s, of kind kinds[i]) kind by kind, every table of a kind at
    once.  A kind whose checks fail is left to _decode_params, op by op, which raises its errors where it did."""
    kind_of = np.array(kinds, dtype=object)
    for kind in sorted(set(kinds)):
        if kind not in S.TABLES or kind in _NESTED_PARAMS:
            continue
        rows = kind_of == kind
        try:
            decoded = _read_tables(params.rows(rows), kind)
        except Irregular:
            continue
        for i, d in zip(np.flatnonzero(rows).tolist(), decoded):
            recs[i].params = d


def _read_tables(cols: TableColumns, name: str) -> List[Dict[str, Any]]:
    """_read_table for many tables of one kind: the same dicts, the same Python values."""
    keys, columns = [], []
    for fname, slot, kind, default in S.TABLES[name]:
        keys.append(fname)
        if kind == "str":
            columns.append(cols.strings(slot))
        elif kind.startswith("["):
            values, ends = cols.number_lists(slot, kind[1:-1])
            values = values.tolist()
            columns.append([values[a:b] for a, b in zip([0] + ends[:-1], ends)])
        else:
            columns.append(cols.scalars(slot, kind, default))
    return [dict(zip(keys, row)) for row in zip(*columns)]


def _decode_params(r: _Rec) -> Dict[str, Any]:
    if r.param is None or r.param_name is None:
        return {}
    if r.param_name == "Convolution2D":
        common = r.param.table(S.CONV2D["common"], "common")
        return {"common": _read_table(common, "Convolution2DCommon") if common is not None else {}}
    if r.param_name == "Convolution3D":
        common = r.param.table(0, "common")
        return {"common": _read_table(common, "Convolution3DCommon") if common is not None else {}}
    return _read_table(r.param, r.param_name)


def _const_ints(g: ModelGraph, name: str) -> Optional[List[int]]:
    t = g.tensors.get(name) if name else None
    if t is None or not t.is_const:
        return None
    v = t.value
    if v is None or v.size > 64:
        return None
    return [int(x) for x in v.ravel()]
