"""ModelGraph: the one graph vocabulary every loader produces and every rule reads.

Operators are nodes keyed by a unique operator id; tensors live in a side table.  Edges run from the producer of a
tensor to each consumer and carry the tensor names.  The adjacency is kept in plain dicts (the queries rules need are
neighbour lookups); ``ModelGraph.to_networkx()`` gives the same graph as a networkx DiGraph, built on first use, so the
lint path never imports networkx (a quarter of a second of start-up).  Constant-producing operators (ONNX initializers
and ``Constant`` nodes, MNN ``Const`` ops) are not operators here: their values sit on the tensor, so the same
model reads the same way whichever format it came in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

if TYPE_CHECKING:  # numpy is only named in annotations here
    import networkx as nx
    import numpy as np


# A constant larger than this whose loader can read it again (``reload=True``: external data, protobuf payloads) is
# not kept after use: otherwise every weight a rule looked at stays in memory beside the file's own copy.
KEEP_VALUE_BYTES = 1 << 16


@dataclass(slots=True)  # tens of thousands per model: no per-instance dict
class Tensor:
    """A value flowing between operators.  ``shape`` is None when unknown; a dim is None when symbolic."""

    name: str
    shape: Optional[Tuple[Optional[int], ...]] = None
    dtype: Optional[str] = None  # numpy-style name: float32, float16, bfloat16, int64, bool ...
    producer: Optional[str] = None  # operator id, None for graph inputs and constants
    consumers: List[str] = field(default_factory=list)
    is_input: bool = False
    is_output: bool = False
    # Constant data: either an array or a zero-argument loader called on first use (external data stays on disk
    # until a rule needs it).  ``const_origin`` names where it came from (initializer, Constant node, Const op).
    _value: Optional[np.ndarray] = None
    _loader: Optional[Callable[[], np.ndarray]] = None
    is_const: bool = False
    const_origin: Optional[str] = None
    stored_dtype: Optional[str] = None  # dtype as stored in the file, e.g. float16 for MNN --fp16 blobs
    _reload: bool = False
    # The graph's one-slot cache [tensor name, value] of the last large value read again from its file: rules ask for
    # several statistics of one weight in a row (range, rms, subnormal share), and each re-read cost as much as
    # the statistic.  Shared by the graph's tensors, so at most one extra weight stays in memory.
    _recent: Optional[List[Any]] = field(default=None, repr=False, compare=False)
    _pl_stats: Optional[Dict[str, Any]] = field(default=None, repr=False, compare=False)  # engine/constants.py

    @property
    def value(self) -> Optional[np.ndarray]:
        if not self.is_const:
            return None
        if self._value is None and self._loader is not None:
            recent = self._recent
            if recent is not None and recent[0] == self.name:
                return recent[1]
            v = self._loader()
            if self._reload and v is not None and getattr(v, "nbytes", 0) > KEEP_VALUE_BYTES:
                if recent is not None:
                    recent[0], recent[1] = self.name, v  # the name, not the tensor: no reference cycle
                return v  # read again on a later use (rules cache what they compute from it)
            self._loader = None
            self._value = v
        return self._value

    def set_value(
        self,
        value: Optional[np.ndarray] = None,
        loader: Optional[Callable[[], np.ndarray]] = None,
        origin: Optional[str] = None,
        reload: bool = False,
    ) -> None:
        self.is_const = True
        if self._recent is not None and self._recent[0] == self.name:
            self._recent[0] = self._recent[1] = None  # the cached read is of the old value
        self._value = value
        self._loader = loader
        self._reload = reload
        self.const_origin = origin
        if value is not None:
            if self.shape is None:
                self.shape = tuple(int(d) for d in value.shape)
            if self.dtype is None:
                self.dtype = str(value.dtype)

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)


@dataclass(slots=True)
class Operator:
    """One operator: canonical ``op`` in ONNX spelling, the format's own ``source_op``, canonical ``attrs``."""

    id: str
    op: str
    name: str
    source_op: str
    inputs: List[str]
    outputs: List[str]
    attrs: Dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    scope: str = ""  # "" for the main graph, "loop_body/then_branch" style path for subgraphs
    index: int = 0  # position in file order, for stable output only (never used as an identity)


class ModelGraph:
    """Operators, tensors and model metadata, with the queries rules need."""

    def __init__(self, path: str, fmt: str):
        self.path = path
        self.format = fmt  # "onnx" or "mnn"
        self._succ: Dict[str, Dict[str, List[str]]] = {}  # producer -> {consumer: tensor names}, in file order
        self._pred: Dict[str, Dict[str, List[str]]] = {}
        self._nx: Optional["nx.DiGraph"] = None
        self.ops: Dict[str, Operator] = {}
        self.tensors: Dict[str, Tensor] = {}
        self.metadata: Dict[str, Any] = {}
        self.notes: List[str] = []  # things the loader could not do (shape inference failed, unknown ops...)
        self.inputs: List[str] = []
        self.outputs: List[str] = []
        self._by_op: Optional[Dict[str, List[str]]] = None
        self._ordered: Optional[List[Operator]] = None  # operators in file order, sorted once
        self._in_file_order = False  # set by finish(): every edge runs forward in file order
        self._recent_value: List[Any] = [None, None]  # see Tensor._recent
        self._next_suffix: Dict[str, int] = {}  # base id -> first "#k" suffix not yet tried (see unique_id)

    # ----- building -------------------------------------------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        t = self.tensors.get(name)
        if t is None:
            t = self.tensors[name] = Tensor(name, _recent=self._recent_value)
        return t

    def unique_id(self, base: str) -> str:
        """``base``, or ``base#k`` with the smallest k not taken yet.  Duplicate names happen in hand-made and
        hostile files (20,000 operators all named ``dup``); remembering the last suffix per base keeps that
        linear: every ``base#k`` is tried at most once per base, and since operators are never removed the
        answer is the same as searching from k = 1 each time."""
        ops = self.ops
        if base not in ops:
            return base
        k = self._next_suffix.get(base, 1)
        while f"{base}#{k}" in ops:
            k += 1
        self._next_suffix[base] = k + 1
        return f"{base}#{k}"

    def add_operator(self, op: Operator) -> Operator:
        if op.id in self.ops:  # duplicate names happen in hand-made files; keep every operator
            op.id = self.unique_id(op.id)
        self.ops[op.id] = op  # edges are added in finish(), once every producer is known
        tensors, tensor = self.tensors, self.tensor
        for name in op.outputs:
            if name:
                (tensors.get(name) or tensor(name)).producer = op.id
        for name in op.inputs:
            if name:
                (tensors.get(name) or tensor(name)).consumers.append(op.id)
        self._by_op = self._ordered = None
        return op

    def finish(self) -> "ModelGraph":
        """Add the operators and producer->consumer edges once every operator is known."""
        succ: Dict[str, Dict[str, List[str]]] = {i: {} for i in self.ops}
        pred: Dict[str, Dict[str, List[str]]] = {i: {} for i in self.ops}
        ops = self.ops
        backward = False  # an edge to an operator earlier in file order (there can be a cycle only then)
        for t in self.tensors.values():
            p = t.producer
            if p is None or p not in succ:
                continue
            out = succ[p]
            p_index = ops[p].index
            for c in t.consumers:
                names = out.get(c)
                if names is None:
                    out[c] = names = [t.name]
                    pred.setdefault(c, {})[p] = names
                    if c in ops and ops[c].index <= p_index:
                        backward = True
                elif t.name not in names:
                    names.append(t.name)
        self._succ, self._pred, self._nx = succ, pred, None
        self._in_file_order = not backward
        for name in self.inputs:
            self.tensor(name).is_input = True
        for name in self.outputs:
            self.tensor(name).is_output = True
        return self

    # ----- queries --------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ops)

    def operators(self) -> Iterator[Operator]:
        return iter(self._in_order())

    @property
    def in_file_order(self) -> bool:
        """Whether every edge runs forward in file order (set by finish()): file order is then a topological
        order."""
        return self._in_file_order

    def _in_order(self) -> List[Operator]:
        """Every operator in file order (the rules, the notes and the shape propagation each walk them)."""
        ordered = self._ordered
        if ordered is None or len(ordered) != len(self.ops):  # len: operators a caller put in .ops directly
            ordered = self._ordered = sorted(self.ops.values(), key=lambda o: o.index)
        return ordered

    def _op_index(self) -> Dict[str, List[str]]:
        """op name (canonical and source spelling) -> operator ids in file order, built once."""
        if self._by_op is None:
            index: Dict[str, List[str]] = {}
            for o in self._in_order():
                index.setdefault(o.op, []).append(o.id)
                if o.source_op != o.op:
                    index.setdefault(o.source_op, []).append(o.id)
            self._by_op = index
        return self._by_op

    def has_op(self, op_type: str) -> bool:
        """Whether any operator has canonical ``op`` or ``source_op`` equal to op_type."""
        return op_type in self._op_index()

    def by_op(self, op_type: str) -> List[Operator]:
        """Operators with canonical ``op`` or ``source_op`` equal to op_type (indexed once: anchors are cheap).
        ``"*"`` means every operator."""
        if op_type == "*":
            return list(self._in_order())
        return [self.ops[i] for i in self._op_index().get(op_type, ())]

    def input_tensor(self, op: Operator, i: int) -> Optional[Tensor]:
        if i < 0:
            i += len(op.inputs)
        if 0 <= i < len(op.inputs) and op.inputs[i]:
            return self.tensors.get(op.inputs[i])
        return None

    def output_tensor(self, op: Operator, i: int = 0) -> Optional[Tensor]:
        if i < 0:
            i += len(op.outputs)
        if 0 <= i < len(op.outputs) and op.outputs[i]:
            return self.tensors.get(op.outputs[i])
        return None

    def producer(self, op: Operator, i: int) -> Optional[Operator]:
        t = self.input_tensor(op, i)
        return self.ops.get(t.producer) if t is not None and t.producer else None

    def to_networkx(self) -> "nx.DiGraph":
        """The operator graph as a networkx DiGraph, for users and for graph algorithms (ancestors, dominators,
        subgraph extraction).  Nodes are operator ids with attributes ``op``, ``source_op``, ``name``, ``scope``,
        ``index`` (file order), ``inputs`` and ``outputs`` (tensor names); edges carry ``tensors``, the names of the
        tensors that flow along them.  Built on first use (networkx stays off the lint path) and cached: treat it as
        read-only, or copy it."""
        if self._nx is None:
            import networkx as nx

            g = nx.DiGraph(path=self.path, format=self.format)
            g.add_nodes_from(
                (
                    o.id,
                    {
                        "op": o.op,
                        "source_op": o.source_op,
                        "name": o.name,
                        "scope": o.scope,
                        "index": o.index,
                        "inputs": tuple(o.inputs),
                        "outputs": tuple(o.outputs),
                    },
                )
                for o in self.ops.values()
            )
            g.add_edges_from(
                (p, c, {"tensors": tuple(names)}) for p, out in self._succ.items() for c, names in out.items()
            )
            self._nx = g
        return self._nx

    def producers(self, op: Operator) -> List[Operator]:
        return [self.ops[p] for p in self._pred.get(op.id, ())]

    def consumers(self, op: Operator) -> List[Operator]:
        return [self.ops[c] for c in self._succ.get(op.id, ())]

    def const_value(self, op: Operator, i: int) -> Optional[np.ndarray]:
        t = self.input_tensor(op, i)
        return t.value if t is not None else None

    def shape(self, op: Operator, i: int = 0, output: bool = False) -> Optional[Tuple[Optional[int], ...]]:
        t = self.output_tensor(op, i) if output else self.input_tensor(op, i)
        return None if t is None else t.shape

    def walk(
        self, op: Operator, direction: str, depth: int, through: Optional[Iterable[str]] = None, limit: int = 10000
    ) -> Iterator[Tuple[Operator, int]]:
        """Breadth-first operators upstream or downstream of ``op`` (not including it), with their distance.

        ``through``: when given, the walk continues only past operators of these types (others are yielded but
        not expanded).  ``limit`` bounds the work on huge graphs.
        """
        adj = self._pred if direction == "up" else self._succ
        empty: Dict[str, List[str]] = {}
        allowed = None if through is None else frozenset(through)
        seen = {op.id}
        frontier = [op.id]
        dist = 0
        visited = 0
        while frontier and dist < depth:
            dist += 1
            nxt = []
            for nid in frontier:
                for m in adj.get(nid, empty):
                    if m in seen:
                        continue
                    seen.add(m)
                    visited += 1
                    if visited > limit:
                        return
                    other = self.ops[m]
                    yield other, dist
                    if allowed is None or other.op in allowed:
                        nxt.append(m)
            frontier = nxt

    def source_of(self, tensor_name: str, through: Sequence[str] = ("Cast", "Identity", "ConvertTensor")) -> Tensor:
        """The tensor a value really comes from, looking through pure relabelling ops."""
        t = self.tensors[tensor_name]
        for _ in range(64):
            p = self.ops.get(t.producer) if t.producer else None
            if p is None or p.op not in through or not p.inputs or not p.inputs[0]:
                return t
            t = self.tensors[p.inputs[0]]
        return t

    def ops_on_cycles(self) -> Set[str]:
        """Ids of the operators that lie on a cycle (strongly connected components of more than one operator, or
        one that reads its own output), empty for an acyclic graph.  Only a malformed file has a cycle, so networkx
        (a quarter of a second to import) is imported only once find_cycle has found one."""
        if not self.find_cycle(1):
            return set()
        import networkx as nx

        g = self.to_networkx()
        return {v for c in nx.strongly_connected_components(g) for v in c if len(c) > 1 or g.has_edge(v, v)}

    def find_cycle(self, limit: int = 8) -> List[str]:
        """Operator ids along one cycle (at most ``limit`` of them), [] when the graph is acyclic.  Iterative:
        hostile files can hold cycles thousands of operators long."""
        if self._in_file_order:
            return []  # every edge runs forward in file order (ONNX requires it; MNN writes it): no cycle
        indeg = {n: len(p) for n, p in self._pred.items()}
        ready = [n for n, d in indeg.items() if d == 0]
        while ready:
            n = ready.pop()
            for m in self._succ.get(n, ()):
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        left = {n for n, d in indeg.items() if d > 0}
        if not left:
            return []
        # Every remaining node has a predecessor that also remains: walk predecessors until one repeats.
        n = min(left, key=lambda i: self.ops[i].index)
        seen: Dict[str, int] = {}
        path: List[str] = []
        while n not in seen:
            seen[n] = len(path)
            path.append(n)
            n = next(p for p in self._pred[n] if p in left)
        cycle = path[seen[n] :][::-1]
        return cycle[:limit]
