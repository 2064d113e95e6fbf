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
    assert small.keys() == big.keys()
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
