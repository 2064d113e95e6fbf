"""ONNX's protobuf classes and operator names without importing the ``onnx`` package.

``import onnx`` imports ``onnx.helper``, which imports ml_dtypes: 1.6 s of start-up with ml_dtypes 0.7 on a 2-core
machine, for a lint that only parses the file and reads raw tensor bytes with numpy.  The generated module
``onnx/onnx_ml_pb2.py`` needs nothing but google.protobuf, so it is executed from onnx's own installation under a
private module name.  protobuf keeps one message class per descriptor in its default pool, so these classes are the
very ones ``onnx.ModelProto`` etc. name when ``onnx`` is imported later (for shape inference, exotic element types):
messages pass between the two freely.

Which operators ONNX defines comes from onnx's C++ schema registry (``onnx.defs``).  ``data/onnx_ops.txt`` holds
the names it defined when the file was generated (``tools/gen_onnx_ops.py``); a name found there is known without
the import, any other name is asked of ``onnx.defs`` (a newer onnx may define it).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from typing import Dict, FrozenSet, Tuple
from ...resources import data_path

_PRIVATE_NAME = "precision_lint.model.loaders._onnx_ml_pb2"
DEFAULT_DOMAINS = ("", "ai.onnx")


@lru_cache(maxsize=None)
def pb():
    """The module of ONNX's generated protobuf classes (ModelProto, TensorProto, AttributeProto...)."""
    loaded = sys.modules.get("onnx.onnx_ml_pb2")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("onnx")  # finds the package without importing it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for where in locations:
        path = os.path.join(where, "onnx_ml_pb2.py")
        if os.path.isfile(path):
            mod_spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, path)
            if mod_spec is None or mod_spec.loader is None:
                break
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
            sys.modules[_PRIVATE_NAME] = module
            return module
    import onnx.onnx_ml_pb2  # an unusual installation (zipped, renamed): pay for the package import

    return onnx.onnx_ml_pb2


def _data_path() -> str:
    return str(data_path("onnx_ops.txt"))


@lru_cache(maxsize=None)
def listed_ops() -> FrozenSet[Tuple[str, str]]:
    """(domain, op_type) pairs of data/onnx_ops.txt; the default domain is ''."""
    out = set()
    with open(_data_path(), encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            domain, _, op = line.rpartition(":")
            out.add((domain, op))
    return frozenset(out)


_ASKED: Dict[Tuple[str, str], bool] = {}


def is_known_op(op_type: str, domain: str) -> bool:
    """Whether ONNX defines ``op_type`` in ``domain`` (any opset version)."""
    domain = "" if domain in DEFAULT_DOMAINS else domain
    if (domain, op_type) in listed_ops():
        return True
    hit = _ASKED.get((domain, op_type))
    if hit is None:
        from onnx import defs  # names not in the list: a custom op, or one newer than the list

        try:
            hit = bool(defs.has(op_type, domain))
        except Exception:  # noqa: BLE001 - a name onnx cannot even look up is unknown
            hit = False
        if len(_ASKED) < 4096:  # names come from files: keep the cache bounded
            _ASKED[(domain, op_type)] = hit
    return hit
