"""A small, checked reader for FlatBuffer tables, on top of the ``flatbuffers`` runtime.

The generated code of a schema trusts the buffer: a bad offset reads garbage, wraps around (Python slices
accept negative positions) or raises from deep inside struct.  Model files come from users, so every position
here is checked against the buffer before the runtime reads it, and every problem becomes a FlatBufferError
whose message says which table and field was wrong.  Vector lengths are checked against the bytes that remain,
so any loop over a vector is bounded by the file size.

Fields are addressed by slot (declaration order in the schema): slot N lives at vtable offset 4 + 2*N.
"""

from __future__ import annotations

import struct
from typing import List, Optional

import numpy as np
from flatbuffers import encode
from flatbuffers import number_types as N

_UOFF = N.UOffsetTFlags.bytewidth  # 4
# The runtime's struct packers, called directly on the bytes: flatbuffers.table.Table re-validates every position
# as a Python number and wraps the buffer in a memoryview on every read, which is most of a load's time.
_SOFF = N.SOffsetTFlags.packer_type.unpack_from
_VOFF = N.VOffsetTFlags.packer_type.unpack_from
_UOFF_AT = N.UOffsetTFlags.packer_type.unpack_from

# Scalar kinds by short name: (flags, bytewidth).
SCALARS = {
    "bool": N.BoolFlags,
    "u8": N.Uint8Flags,
    "i8": N.Int8Flags,
    "u16": N.Uint16Flags,
    "i16": N.Int16Flags,
    "u32": N.Uint32Flags,
    "i32": N.Int32Flags,
    "i64": N.Int64Flags,
    "u64": N.Uint64Flags,
    "f32": N.Float32Flags,
    "f64": N.Float64Flags,
}
NUMPY = {k: N.to_numpy_type(v) if k != "bool" else np.dtype(np.bool_) for k, v in SCALARS.items()}
_STRUCT = {
    "bool": "?",
    "u8": "B",
    "i8": "b",
    "u16": "H",
    "i16": "h",
    "u32": "I",
    "i32": "i",
    "i64": "q",
    "u64": "Q",
    "f32": "f",
    "f64": "d",
}  # little-endian, as FlatBuffers store them


class FlatBufferError(Exception):
    """The buffer is not a well-formed FlatBuffer at the place named in the message."""


class Buffer:
    """The whole file.  ``data`` is kept as bytes: numpy vectors are zero-copy views into it."""

    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def root(self, what: str) -> "Tab":
        if self.size < 8:
            raise FlatBufferError(f"{self.size} bytes is too short for a FlatBuffer")
        pos = encode.Get(N.UOffsetTFlags.packer_type, self.data, 0)
        return Tab(self, pos, what)


class Tab:
    """One table.  Construction validates the table header and its vtable; accessors validate each field."""

    __slots__ = ("buf", "pos", "what", "_d", "_vt", "_vtlen", "_objlen")

    def __init__(self, buf: Buffer, pos: int, what: str):
        self.buf, self.pos, self.what = buf, pos, what
        size = buf.size
        if pos < 0 or pos + 4 > size:
            raise FlatBufferError(f"{what}: table offset {pos} is outside the file ({size} bytes)")
        d = self._d = buf.data
        vt = pos - _SOFF(d, pos)[0]
        if vt < 0 or vt + 4 > size:
            raise FlatBufferError(f"{what}: vtable of the table at byte {pos} is outside the file")
        vtlen = _VOFF(d, vt)[0]
        objlen = _VOFF(d, vt + 2)[0]
        if vtlen < 4 or vtlen % 2 or vt + vtlen > size:
            raise FlatBufferError(f"{what}: malformed vtable at byte {vt} (length {vtlen})")
        if objlen < 4 or pos + objlen > size:
            raise FlatBufferError(f"{what}: table at byte {pos} claims {objlen} bytes, past the end of the file")
        self._vt, self._vtlen, self._objlen = vt, vtlen, objlen

    # ----- fields ---------------------------------------------------------------------------------------------
    def has(self, slot: int) -> bool:
        vo = 4 + 2 * slot
        return vo < self._vtlen and _VOFF(self._d, self._vt + vo)[0] != 0

    def _field(self, slot: int, width: int, what: str = "") -> int:
        """Absolute position of the field, 0 when absent."""
        vo = 4 + 2 * slot
        if vo >= self._vtlen:
            return 0
        off = _VOFF(self._d, self._vt + vo)[0]
        if off == 0:
            return 0
        if off < 4 or off + width > self._objlen:
            raise FlatBufferError(f"{self.what}: field {what or slot} at offset {off} lies outside its table")
        return self.pos + off

    def scalar(self, slot: int, kind: str, default=0):
        flags = SCALARS[kind]
        vo = 4 + 2 * slot  # _field inlined: the most frequent read of the op tables
        if vo >= self._vtlen:
            return default
        off = _VOFF(self._d, self._vt + vo)[0]
        if off == 0:
            return default
        if off < 4 or off + flags.bytewidth > self._objlen:
            raise FlatBufferError(f"{self.what}: field {slot} at offset {off} lies outside its table")
        v = flags.packer_type.unpack_from(self._d, self.pos + off)[0]
        return bool(v) if kind == "bool" else v

    def _target(self, slot: int, what: str = "") -> int:
        """Follow the uoffset stored in the field; 0 when absent."""
        p = self._field(slot, _UOFF, what)
        if not p:
            return 0
        target = p + _UOFF_AT(self._d, p)[0]
        if target + 4 > self.buf.size:
            raise FlatBufferError(
                f"{self.what}.{what or f'field{slot}'} points to byte {target}, past the end of the file"
            )
        return target

    def table(self, slot: int, what: str) -> Optional["Tab"]:
        t = self._target(slot, what)
        return Tab(self.buf, t, f"{self.what}.{what}") if t else None

    def _vector(self, slot: int, width: int, what: str):
        """(start, count) of a vector field, (0, 0) when absent."""
        t = self._target(slot, what)
        if not t:
            return 0, 0
        n = _UOFF_AT(self._d, t)[0]
        start = t + _UOFF
        if n * width > self.buf.size - start:
            raise FlatBufferError(f"{self.what}.{what}: vector of {n} items at byte {t} runs past the end of the file")
        return start, n

    def vector(self, slot: int, kind: str, what: str = "vector") -> np.ndarray:
        """A numeric vector as a read-only numpy view into the file (empty when absent)."""
        dtype = NUMPY[kind]
        start, n = self._vector(slot, dtype.itemsize, what)
        if not n:
            return np.zeros(0, dtype)
        return encode.GetVectorAsNumpy(dtype, self.buf.data, n, start)

    def numbers(self, slot: int, kind: str, what: str = "vector") -> list:
        """A numeric vector as a list of Python numbers, what ``vector(...).tolist()`` gives without a numpy view
        per vector: an op's tensor indexes and parameters are a handful of values each."""
        start, n = self._vector(slot, NUMPY[kind].itemsize, what)
        if not n:
            return []
        return list(struct.unpack_from(f"<{n}{_STRUCT[kind]}", self.buf.data, start))

    def vector_len(self, slot: int, kind: str, what: str = "vector") -> int:
        return self._vector(slot, NUMPY[kind].itemsize, what)[1]

    def string(self, slot: int, what: str = "string") -> Optional[str]:
        t = self._target(slot, what)
        return self._string_at(t, what) if t else None

    def _string_at(self, t: int, what: str) -> str:
        n = _UOFF_AT(self._d, t)[0]
        if n > self.buf.size - t - _UOFF:
            raise FlatBufferError(f"{self.what}.{what}: string of {n} bytes at byte {t} runs past the end of the file")
        return bytes(self.buf.data[t + _UOFF : t + _UOFF + n]).decode("utf-8", "replace")

    def _offsets(self, slot: int, what: str) -> List[int]:
        start, n = self._vector(slot, _UOFF, what)
        out = []
        size = self.buf.size
        for i in range(n):
            p = start + i * _UOFF
            target = p + _UOFF_AT(self._d, p)[0]
            if target + 4 > size:
                raise FlatBufferError(f"{self.what}.{what}[{i}] points to byte {target}, past the end of the file")
            out.append(target)
        return out

    def tables(self, slot: int, what: str) -> List["Tab"]:
        return [Tab(self.buf, t, f"{self.what}.{what}[{i}]") for i, t in enumerate(self._offsets(slot, what))]

    def strings(self, slot: int, what: str = "strings") -> List[str]:
        return [self._string_at(t, f"{what}[{i}]") for i, t in enumerate(self._offsets(slot, what))]
