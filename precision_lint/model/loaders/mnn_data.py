"""Constant payloads of an MNN file: Const blobs, convolution weights, norm gamma/beta, external weight files.

Values are decoded lazily (a zero-argument loader per tensor) so that a 50 MB model loads in the time it takes to
walk its tables.  Inline payloads are numpy views into the file's bytes; ``--fp16`` payloads are expanded to
float32 on first use, the way MNN expands them at load time, and the tensor records ``stored_dtype = float16``.

External weights (``--saveExternalData``) live in ``<model>.weight`` or in the file an op's ``externalPath`` names;
they are read only from inside the model's directory, and only when a rule asks for the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from . import mnn_schema as S
from .flatbuf import Tab

Loader = Callable[[], Optional[np.ndarray]]


@dataclass
class Payload:
    """What the file says about one constant tensor."""

    shape: Optional[Tuple[int, ...]]
    dtype: Optional[str]  # dtype the runtime computes with
    stored_dtype: Optional[str]  # dtype in the file
    loader: Optional[Loader]
    problem: str = ""  # why the value is unknown, for graph.notes


def _prod(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


class ExternalFile:
    """One external weight file, opened lazily; ranges are checked against its size at load time."""

    def __init__(self, model_path: str, external_path: Optional[str]):
        base = os.path.realpath(os.path.dirname(os.path.abspath(model_path)))
        if external_path:
            cand = external_path if os.path.isabs(external_path) else os.path.join(base, external_path)
        else:
            cand = os.path.abspath(model_path) + ".weight"
        full = os.path.realpath(cand)
        self.name = external_path or os.path.basename(model_path) + ".weight"
        self.path: Optional[str] = None
        self.size = 0
        self.problem = ""
        if not (full == base or full.startswith(base + os.sep)):
            self.problem = f"external weight file {self.name!r} is outside the model's directory; refusing to read it"
        elif not os.path.isfile(full):
            self.problem = f"external weight file {self.name!r} not found next to the model"
        else:
            self.path, self.size = full, os.path.getsize(full)

    def span_problem(self, offset: int, length: int) -> str:
        if self.problem:
            return self.problem
        if offset < 0 or length < 0 or offset + length > self.size:
            return f"range offset={offset} length={length} does not fit {self.name!r} ({self.size} bytes)"
        return ""

    def reader(self, offset: int, length: int) -> Callable[[], bytes]:
        path = self.path

        def read() -> bytes:
            with open(path, "rb") as fh:  # type: ignore[arg-type]
                fh.seek(offset)
                return fh.read(length)

        return read


class PayloadReader:
    """Decodes payloads for one model file; ``external(op)`` is cached per externalPath."""

    def __init__(self, model_path: str):
        self.model_path = model_path
        self._externals = {}

    def external(self, external_path: Optional[str]) -> ExternalFile:
        key = external_path or ""
        f = self._externals.get(key)
        if f is None:
            f = self._externals[key] = ExternalFile(self.model_path, external_path)
        return f

    # ----- Const blobs ----------------------------------------------------------------------------------------
    def blob(self, blob: Tab, external_path: Optional[str]) -> Payload:
        dims = tuple(int(d) for d in blob.vector(S.BLOB["dims"], "i32", "dims"))
        code = blob.scalar(S.BLOB["dataType"], "i32", 1)
        dt_name, np_name = S.DATA_TYPES.get(code, (f"DataType{code}", None))
        shape: Optional[Tuple[int, ...]] = dims if all(d >= 0 for d in dims) else None
        count = _prod(dims) if shape is not None else -1
        fmt = blob.scalar(S.BLOB["dataFormat"], "i8", 0)
        if np_name is None:
            return Payload(shape, None, None, None, f"data type {dt_name} is not decoded")
        if fmt == 2 and len(dims) == 4:  # NC4HW4: channels padded to 4 in the file; not a plain array
            return Payload(shape, _runtime(np_name), np_name, None, "stored in MNN's packed NC4HW4 layout")
        ext = blob.vector(S.BLOB["external"], "i64", "external")
        if len(ext) >= 2 and not self._inline_count(blob, np_name):
            ef = self.external(external_path)
            offset, length = int(ext[0]), int(ext[1])
            problem = ef.span_problem(offset, length)
            if problem:
                return Payload(shape, _runtime(np_name), np_name, None, problem)
            read = ef.reader(offset, length)
            return Payload(shape, _runtime(np_name), np_name, _decode_later(read, np_name, shape, count), "")
        raw, n = self._inline(blob, np_name)
        if raw is None:
            return Payload(shape, _runtime(np_name), np_name, None, "has no payload")
        if shape is None or n != count:
            if not dims and n == 1:
                shape = ()
            else:
                return Payload(
                    shape, _runtime(np_name), np_name, None, f"holds {n} values but its dims {list(dims)} need {count}"
                )
        return Payload(shape, _runtime(np_name), np_name, _from_array(raw, np_name, shape), "")

    @staticmethod
    def _inline_count(blob: Tab, np_name: str) -> int:
        slot, kind = _PAYLOAD_SLOT[np_name]
        return blob.vector_len(slot, kind)

    @staticmethod
    def _inline(blob: Tab, np_name: str):
        """(numpy view, element count) of an inline payload."""
        slot, kind = _PAYLOAD_SLOT[np_name]
        v = blob.vector(slot, kind, "payload")
        if np_name in ("float16", "bfloat16"):
            if len(v) % 2:
                return None, 0
            v = v.view("<u2")
        if np_name == "bool" and not len(v):
            v = blob.vector(S.BLOB["uint8s"], "u8", "payload")
        return (v, len(v)) if len(v) else (None, 0)

    # ----- convolution weights and norm parameters ------------------------------------------------------------
    def floats(self, table: Tab, slot: int, shape: Optional[Tuple[int, ...]]) -> Optional[Loader]:
        """An inline float vector as a lazily reshaped float32 array (None when absent)."""
        v = table.vector(slot, "f32", "floats")
        if not len(v):
            return None
        return _from_array(v, "float32", shape if shape is not None and _prod(shape) == len(v) else (len(v),))

    def external_floats(
        self, ef: ExternalFile, offset: int, length: int, np_name: str, shape: Optional[Tuple[int, ...]]
    ) -> Payload:
        problem = ef.span_problem(offset, length)
        if problem:
            return Payload(shape, "float32", np_name, None, problem)
        item = 2 if np_name in ("float16", "bfloat16") else np.dtype(np_name).itemsize
        count = length // item
        if shape is None or _prod(shape) != count:
            shape = (count,)
        return Payload(shape, "float32", np_name, _decode_later(ef.reader(offset, length), np_name, shape, count), "")


def conv_weight(
    reader: PayloadReader, conv: Tab, external_path: Optional[str], shape: Optional[Tuple[int, ...]], n_bias: int
) -> Tuple[Payload, Optional[Payload]]:
    """Weight and bias of a Convolution2D table: inline fp32, fp16 (``--fp16``: IDSTQuan type 3), quantised or
    external.  ``shape`` is the ONNX-style weight shape when the channel counts are known."""
    quan = conv.table(S.CONV2D["quanParameter"], "quanParameter")
    ext = [int(x) for x in conv.vector(S.CONV2D["external"], "i64", "external")]
    bias_len = conv.vector_len(S.CONV2D["bias"], "f32")
    bias: Optional[Payload] = None
    if bias_len:
        bias = Payload((bias_len,), "float32", "float32", reader.floats(conv, S.CONV2D["bias"], (bias_len,)))
    if quan is not None:
        qtype = quan.scalar(S.IDSTQUAN["type"], "i32", 0)
        if qtype != 3:
            bits = quan.scalar(S.IDSTQUAN["aMaxOrBits"], "i32", 0)
            stored = f"int{bits}" if 0 < bits <= 8 else "int8"
            if bias is None and len(ext) >= 4 and ext[3] > 0:  # fp32 bias after the quantised weights and scales
                ef = reader.external(external_path)
                bias = reader.external_floats(ef, ext[0] + ext[1] + ext[2], ext[3], "float32", (n_bias,))
            return Payload(shape, "float32", stored, None, f"weights are quantised (IDSTQuan type {qtype})"), bias
        n = quan.vector_len(S.IDSTQUAN["buffer"], "i8")
        if n:
            raw = quan.vector(S.IDSTQUAN["buffer"], "u8", "buffer")
            if n % 2:
                return Payload(shape, "float32", "float16", None, "fp16 weight buffer has an odd length"), bias
            count = n // 2
            return Payload(
                _fit(shape, count), "float32", "float16", _from_array(raw.view("<u2"), "float16", _fit(shape, count))
            ), bias
        if len(ext) >= 4:  # [offset, weight bytes, alpha bytes, bias bytes, index bytes]
            ef = reader.external(external_path)
            w = reader.external_floats(ef, ext[0], ext[1], "float16", shape)
            if bias is None and ext[3] > 0:
                bias = reader.external_floats(ef, ext[0] + ext[1] + ext[2], ext[3], "float32", (n_bias,))
            return w, bias
        return Payload(shape, "float32", "float16", None, "fp16 weights have no payload"), bias
    n = conv.vector_len(S.CONV2D["weight"], "f32")
    if n:
        return Payload(
            _fit(shape, n), "float32", "float32", reader.floats(conv, S.CONV2D["weight"], _fit(shape, n))
        ), bias
    if len(ext) >= 3:  # [offset, weight bytes, bias bytes]
        ef = reader.external(external_path)
        w = reader.external_floats(ef, ext[0], ext[1], "float32", shape)
        if bias is None and ext[2] > 0:
            bias = reader.external_floats(ef, ext[0] + ext[1], ext[2], "float32", (n_bias,))
        return w, bias
    return Payload(shape, "float32", "float32", None, ""), bias


def _fit(shape: Optional[Tuple[int, ...]], count: int) -> Tuple[int, ...]:
    return shape if shape is not None and _prod(shape) == count else (count,)


def _runtime(np_name: str) -> str:
    """MNN computes fp16/bf16 constants in float32 and int64 constants in int32."""
    return {"float16": "float32", "bfloat16": "float32", "int64": "int32"}.get(np_name, np_name)


_PAYLOAD_SLOT = {
    "float32": (S.BLOB["float32s"], "f32"),
    "float16": (S.BLOB["uint8s"], "u8"),
    "bfloat16": (S.BLOB["uint8s"], "u8"),
    "int32": (S.BLOB["int32s"], "i32"),
    "int64": (S.BLOB["int64s"], "i64"),
    "uint8": (S.BLOB["uint8s"], "u8"),
    "int8": (S.BLOB["int8s"], "i8"),
    "bool": (S.BLOB["int32s"], "i32"),
    "int16": (S.BLOB["int32s"], "i32"),
    "uint16": (S.BLOB["int32s"], "i32"),
    "float64": (S.BLOB["float32s"], "f32"),
}


def _widen(v: np.ndarray, np_name: str) -> np.ndarray:
    if np_name == "float16":
        return v.view("<f2").astype(np.float32)
    if np_name == "bfloat16":
        return (v.astype(np.uint32) << 16).view(np.float32)
    return v


def _from_array(v: np.ndarray, np_name: str, shape: Optional[Tuple[int, ...]]) -> Loader:
    def load() -> np.ndarray:
        out = _widen(v, np_name)
        return out.reshape(shape) if shape is not None else out

    return load


def _decode_later(read: Callable[[], bytes], np_name: str, shape: Optional[Tuple[int, ...]], count: int) -> Loader:
    def load() -> Optional[np.ndarray]:
        raw = read()
        base = "<u2" if np_name in ("float16", "bfloat16") else np.dtype(np_name).newbyteorder("<")
        v = np.frombuffer(raw, dtype=base)
        if count >= 0 and len(v) != count:
            return None  # the file changed since it was checked: value unknown rather than wrong
        out = _widen(v, np_name)
        return out.reshape(shape) if shape is not None else out

    return load
