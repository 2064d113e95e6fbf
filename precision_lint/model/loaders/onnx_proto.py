"""ONNX's protobuf classes and operator names without importing the ``onnx`` package.

``import onnx`` imports ``onnx.helper``, which imports ml_dtypes: 1.6 s of start-up with ml_dtypes 0.7 on a 2-core
machine, for a lint that only parses the file and reads raw tensor bytes with numpy.  The generated module
``onnx/onnx_ml_pb2.py`` needs nothing but google.protobuf, so it is executed from onnx's own installation under a
private module name.  protobuf keeps one message class per descriptor in its default pool, so these classes are the
very ones ``onnx.ModelProto`` etc. name when ``onnx`` is imported later (for shape inference, exotic element types):
messages pass between the two freely.

Shape inference and the operator schemas are onnx's C++ extension (``onnx/onnx_cpp2py_export*.so``, loaded in a few
milliseconds), which needs nothing of the Python package either: ``cpp()`` loads it under its own name, so that a
later ``import onnx`` finds it already loaded (loading it twice aborts the process: its types register once) and
gets it as the package's attribute, as an ordinary import would have set it.

Which operators ONNX defines comes from onnx's C++ schema registry (``defs``).  ``data/onnx_ops.txt`` holds the
names it defined when the file was generated (``tools/gen_onnx_ops.py``); a name found there is known without
asking, any other name is asked of the registry (a newer onnx may define it).
"""

from __future__ import annotations

import importlib._bootstrap
import importlib.machinery
import importlib.util
import os
import sys
import threading
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


_CPP_NAME = "onnx.onnx_cpp2py_export"
_CPP_LOCK = threading.Lock()


def cpp():
    """onnx's C++ extension module: ``cpp().shape_inference.infer_shapes(model_bytes, check_type, strict_mode,
    data_prop)`` gives the inferred model's bytes; ``cpp().defs.has_schema(op_type, domain)``.

    Loaded once per process, whichever thread asks first (a second load aborts: its types register once), through
    the import system's own loader, which holds the module's import lock and marks the module as initialising: an
    ``import onnx`` in another thread meanwhile waits for it instead of loading it again."""
    with _CPP_LOCK:
        loaded = sys.modules.get(_CPP_NAME)
        if loaded is not None and not getattr(getattr(loaded, "__spec__", None), "_initializing", False):
            return loaded
        load = getattr(importlib._bootstrap, "_load", None)  # what `import` runs for a spec, module lock included
        spec = _extension_spec() if loaded is None and "onnx" not in sys.modules and load is not None else None
        if spec is not None:
            finder = _AttachToPackage()
            sys.meta_path.insert(0, finder)
            try:
                return load(spec)
            except BaseException:
                sys.meta_path.remove(finder)
                raise
    import onnx.onnx_cpp2py_export  # noqa: F401 - the package imports (or imported) it, or an odd installation

    return sys.modules[_CPP_NAME]


def _extension_spec():
    """The spec of onnx's extension module file, found without importing the package (None: not found)."""
    spec = importlib.util.find_spec("onnx")
    for where in list(spec.submodule_search_locations or []) if spec is not None else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(where, "onnx_cpp2py_export" + suffix)
            if os.path.isfile(path):
                loader = importlib.machinery.ExtensionFileLoader(_CPP_NAME, path)
                return importlib.util.spec_from_file_location(_CPP_NAME, path, loader=loader)
    return None


class _AttachToPackage:
    """When ``onnx`` is imported after ``cpp()`` loaded its extension, the package gets the extension as its
    ``onnx_cpp2py_export`` attribute (the import system sets that only for submodules it loads itself).  Only the
    path finder's spec is wrapped; anything else about the import is left to the usual finders.  A meta path finder
    needs nothing but ``find_spec`` (importlib.abc would import importlib.resources: 8 ms of every start-up)."""

    def find_spec(self, name, path=None, target=None):
        if name != "onnx":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_attach(module):
            exec_module(module)
            module.onnx_cpp2py_export = sys.modules[_CPP_NAME]
            if self in sys.meta_path:
                sys.meta_path.remove(self)

        spec.loader.exec_module = exec_and_attach  # type: ignore[method-assign]
        return spec


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
        schemas = cpp().defs  # names not in the list: a custom op, or one newer than the list
        try:
            hit = bool(schemas.has_schema(op_type, domain))
        except (TypeError, ValueError, RuntimeError):  # a name the registry cannot even look up is unknown
            hit = False
        if len(_ASKED) < 4096:  # names come from files: keep the cache bounded
            _ASKED[(domain, op_type)] = hit
    return hit
