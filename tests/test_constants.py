"""Constant statistics: the plain-Python path for small constants agrees with the numpy path for large ones."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from precision_lint.engine.constants import _array_stats, _small_stats

special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 65504.0, -65504.0, 1e-8, -3.0e38, math.inf, -math.inf, math.nan])
values = st.lists(
    st.one_of(special, st.floats(-1e6, 1e6, width=32), st.integers(-10, 10).map(float)), min_size=1, max_size=16
)


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from([np.float32, np.float64, np.int64]))
def test_small_and_array_statistics_agree(xs, dtype):
    if dtype is np.int64:
        xs = [x for x in xs if math.isfinite(x) and abs(x) < 2.0**62] or [0.0]
    arr = np.asarray(xs, dtype=dtype)
    flat = arr.ravel() if arr.dtype.kind == "f" else arr.astype(np.float64).ravel()
    small = _small_stats([float(x) for x in arr.tolist()])
    big = _array_stats(flat)
    eager = {"_rms", "_subnormal_fp16"}  # taken while an array is at hand (see the next test); asked lazily else
    assert small.keys() == big.keys() - eager
    for k in small:
        assert _same(small[k], big[k]), (k, small[k], big[k], xs)


def test_complex_and_all_zero_constants():
    from precision_lint.engine.constants import constant_stats
    from precision_lint.model.graph import Tensor

    t = Tensor("c")
    t.set_value(value=np.array([1e-6 + 2j], dtype=np.complex64))
    assert constant_stats(t)["max_abs"] == pytest.approx(1e-6)  # the real part, as numpy's cast
    z = Tensor("z")
    z.set_value(value=np.zeros(64, np.float32))
    assert math.copysign(1.0, constant_stats(z)["max_abs"]) == 1.0  # 0.0, not -0.0


def test_what_r005_asks_of_a_weight_is_taken_with_its_statistics():
    """A weight with values below fp16's normal range gets its RMS and fp16 subnormal share in the same pass as
    its range (R005 asks both of nearly every trained weight, and a second read of a large weight from its file
    cost as much as the statistics): the same numbers the lazy path computes."""
    from precision_lint import numerics
    from precision_lint.engine.constants import finite_rms

    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float16):
        w = (rng.standard_normal(4096) * 0.02).astype(dtype)
        w[:7] = np.array([3e-5, -1e-6, 5e-8, 0, 2e-5, -4e-7, 6e-5], dtype)
        s = _array_stats(w)
        assert s["_rms"] == finite_rms(w, s["max_abs"])
        assert s["_subnormal_fp16"] == numerics.subnormal_share(w, "fp16", s["_rms"]) > 0
    ordinary = np.linspace(0.5, 2.0, 100, dtype=np.float32)  # nothing below fp16's normal range: nothing taken
    assert "_rms" not in _array_stats(ordinary) and "_subnormal_fp16" not in _array_stats(ordinary)


def test_the_statistics_of_a_float16_weight_hold_no_more_than_its_squares():
    """The RMS taken with the statistics squares a float16 weight in float64 (8 bytes per value, twice): the
    |v| array and the non-zero copy of the statistics (2 bytes per value each) are let go first, so the peak stays
    what the RMS alone took (the 64 MB float16 weight of a lint peaked 130 MB higher while both were held)."""
    import tracemalloc

    n = 1 << 20
    f = (np.random.default_rng(0).standard_normal(n) * 0.01).astype(np.float16)
    f[0] = 0.0  # a zero: the smallest non-zero magnitude is taken from a filtered copy
    tracemalloc.start()
    try:
        stats = _array_stats(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stats["_rms"] is not None and stats["_subnormal_fp16"] > 0
    assert peak < 17 * n, peak / n  # two float64 arrays, 16 bytes per value; 20 with |v| and its copy held
