"""What a review signs off on: the exact file (sha256, size) and its interface (inputs and outputs with shapes)."""

from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, List

from .graph import ModelGraph

CHUNK = 1 << 20


def model_identity(path: str, graph: ModelGraph) -> Dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return {
        "sha256": digest.hexdigest(),
        "size": os.path.getsize(path),
        "inputs": _tensors(graph, graph.inputs),
        "outputs": _tensors(graph, graph.outputs),
    }


def _tensors(graph: ModelGraph, names: List[str]) -> List[Dict[str, Any]]:
    out = []
    for name in names:
        t = graph.tensors.get(name)
        shape = None if t is None or t.shape is None else [d if d is None else int(d) for d in t.shape]
        out.append({"name": name, "shape": shape, "dtype": t.dtype if t is not None else None})
    return out
