"""Number formats and estimators against the facts in the reference (re-derived independently here)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from precision_lint import numerics as n


def test_format_constants():
    assert n.FP16.max == 65504.0 and n.FP16.min_normal == 2**-14 and n.FP16.min_subnormal == 2**-24
    assert n.FP16.eps == 2**-10 and n.BF16.eps == 2**-7
    assert n.FP16.int_exact_limit == 2048 and n.BF16.int_exact_limit == 256
    assert n.FP16.exp_overflow == pytest.approx(11.09, abs=0.01)
    assert n.BF16.max == pytest.approx(3.39e38, rel=1e-2)


@pytest.mark.parametrize("x,ulp", [(512, 0.5), (1024, 1), (2048, 2), (4096, 4), (1.0, 2**-10)])
def test_fp16_ulp(x, ulp):
    assert n.FP16.ulp(x) == ulp


def test_rounding_matches_numpy_fp16_and_bf16_bit_rounding():
    xs = np.array([1.0, 2049.0, 1e-12, -1e9, 3.14159, 65519.0, 65520.0])
    with np.errstate(over="ignore"):
        assert list(n.FP16.round(xs)) == [float(np.float16(x)) for x in xs]
    assert n.stored(2049.0, "fp16") == 2048.0
    assert n.stored(257.0, "bf16") == 256.0
    assert math.isinf(n.stored(-1e9, "fp16")) and n.stored(-1e9, "bf16") < -9.9e8
    assert math.isinf(n.stored(-3.4028235e38, "bf16"))  # float32 lowest rounds past bf16's max
    assert n.stored_saturating(-1e9, "fp16") == -65504.0


def test_eps_fate():
    assert n.eps_fate(1e-12, "fp16") == "zero"
    assert n.eps_fate(1e-6, "fp16") == "subnormal"
    assert n.eps_fate(1e-3, "fp16") == "rounded"
    assert n.eps_fate(1e-12, "bf16") == "rounded"


def test_gridsample_grid_error_matches_the_reference_scaling():
    # An fp16 grid alone: about W * 2^-13 px (0.125 px at 1024, 0.5 at 4096); bf16: W * 2^-10.
    assert n.gridsample_pixel_error(1024, False, "fp16", "grid") == pytest.approx(0.125, rel=0.02)
    assert n.gridsample_pixel_error(4096, False, "fp16", "grid") == pytest.approx(0.5, rel=0.02)
    assert n.gridsample_pixel_error(1024, False, "bf16", "grid") == pytest.approx(1.0, rel=0.02)
    # fp16 arithmetic adds error, and the total grows with size
    sizes = [32, 256, 1024, 4096]
    totals = [n.gridsample_pixel_error(s, False, "fp16") for s in sizes]
    assert totals == sorted(totals) and totals[2] > n.gridsample_pixel_error(1024, False, "fp16", "grid")


def test_gridsample_positions_past_fp16s_range_are_inf():
    # a 65536-wide input: positions up to 65535 (align_corners=1) or 65535.5 become inf in fp16 arithmetic (65535
    # itself rounds to inf); the estimate was NaN (inf * 0 at g = -1) and C001's message said 'off by up to nan px'
    with np.errstate(over="ignore"):
        assert np.isinf(np.float64(65535).astype(np.float16))
    for align in (False, True):
        assert math.isinf(n.gridsample_pixel_error(65536, align, "fp16", "total"))
        assert n.gridsample_pixel_error(65536, align, "fp16", "grid") == pytest.approx(8.0, rel=0.01)
    assert n.gridsample_pixel_error(65536, True, "bf16", "total") < 1000


def test_resize_coordinate_error_matches_reference():
    # half_pixel source coordinate in fp16: 0.25 px at output width 2048, 0.75 at 4096 (2x upsample)
    assert n.resize_coordinate_error(1024, 2048, "half_pixel", "fp16") == pytest.approx(0.25, abs=0.01)
    assert n.resize_coordinate_error(2048, 4096, "half_pixel", "fp16") == pytest.approx(0.75, abs=0.01)


def test_sum_stagnation():
    # a running fp16 sum of ones sticks at 2048 per lane: 8 lanes x 2048 of 65536 -> 75% lost
    assert n.sum_relative_error(65536, "fp16", kind="ones") == pytest.approx(0.75, abs=1e-6)
    assert n.sum_relative_error(1000, "fp16", kind="ones") == 0.0
    assert n.sum_relative_error(65536, "fp16") > 0.1
    assert n.sum_relative_error(256, "fp16") < 1e-2


def test_integer_error():
    assert n.integer_error(2048, "fp16") == 0.0
    assert n.integer_error(4000, "fp16") == 1.0
    assert n.integer_error(300, "bf16") == 1.0


def test_coordinate_error_past_the_range_is_inf():
    # RoiAlign box coordinates up to 70,000 image px (spatial_scale 1/64 on 1100-wide features) become inf in fp16;
    # C006 said they were off by 32 px
    assert n.coordinate_error(4800, "fp16") == 2.0
    assert math.isinf(n.coordinate_error(70_000, "fp16"))
    assert n.coordinate_error(70_000, "bf16") == 256.0


def test_integer_error_past_the_range_is_inf():
    # 65519 still rounds to 65504 (off by 15, and 65504 itself is the largest fp16); integers from 65520 become inf
    # in fp16: C004 and T003 said 'off by 32' for values up to 100,000
    ints = np.arange(32768, 65520, dtype=np.float64)
    assert n.integer_error(65519, "fp16") == np.max(np.abs(ints.astype(np.float16).astype(np.float64) - ints)) == 16
    with np.errstate(over="ignore"):
        assert np.isinf(np.float64(65520).astype(np.float16))
    assert math.isinf(n.integer_error(65520, "fp16"))
    assert math.isinf(n.integer_error(100_000, "fp16"))
    assert n.integer_error(100_000, "bf16") == 256.0


def test_storage_errors_shared_pass_equals_separate_calls():
    from precision_lint.numerics import constant_storage_error, constant_storage_errors

    rng = np.random.default_rng(3)
    for v in (
        rng.normal(0, 1e-4, 1000).astype(np.float32),
        np.array([1e-7, 70000.0, 0.0], np.float32),
        rng.normal(0, 1, 50).astype(np.float16),
        np.zeros(4, np.float32),
        np.array([np.inf, 1e-6], np.float32),
    ):
        for fmt in ("fp16", "bf16"):
            assert constant_storage_errors(v, fmt, (False, True)) == [
                constant_storage_error(v, fmt, False),
                constant_storage_error(v, fmt, True),
            ]


def test_storage_error_of_a_constant_of_fp32_subnormals():
    # a constant whose largest value is an fp32 subnormal: its sums were scaled by 1/max, which overflows float32,
    # and the error came out NaN (R005 then judged nothing); fp16 loses every value, bf16 rounds them on its
    # subnormal grid (2^-133 apart), compared with ml_dtypes' rounding
    import ml_dtypes

    from precision_lint.numerics import constant_storage_error, constant_storage_errors

    v = (np.random.default_rng(5).standard_normal(1000) * 1e-40).astype(np.float32)
    with np.errstate(under="ignore"):
        bf = v.astype(ml_dtypes.bfloat16).astype(np.float64)
    truth = np.linalg.norm(bf - v.astype(np.float64)) / np.linalg.norm(v.astype(np.float64))
    assert constant_storage_error(v, "fp16") == (1.0, 1.0)
    assert constant_storage_errors(v, "bf16", (False,))[0][0] == pytest.approx(truth, rel=1e-6)
    assert constant_storage_error(v, "bf16")[0] == pytest.approx(truth, rel=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    scale_exp=st.integers(-30, 4),
    tiny_share=st.floats(0.0, 1.0),
    size=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_subnormal_share_bounds_the_storage_error(scale_exp, tiny_share, size, seed):
    """R005 skips the rounding simulation when subnormal_share is small: the bound it relies on must hold for
    weights of any scale, with any mix of normal and subnormal values."""
    rng = np.random.default_rng(seed)
    v = (rng.standard_normal(size) * 10.0**scale_exp).astype(np.float32)
    tiny = rng.random(size) < tiny_share
    v[tiny] = (rng.standard_normal(int(tiny.sum())) * 1e-6).astype(np.float32)
    for fmt in ("fp16", "bf16"):
        share = n.subnormal_share(v, fmt)
        if share is None:  # all zero
            assert not np.any(v)
            continue
        u = n.get_format(fmt).eps / 2
        for ftz in (False, True):
            err = n.constant_storage_error(v, fmt, ftz)[0]
            assert err <= math.sqrt(share * share + u * u) * (1 + 1e-5) + 1e-12, (fmt, ftz, share, err)


def test_subnormal_share_of_layer_scale_and_of_ordinary_weights():
    assert n.subnormal_share(np.full(8, 1e-6, np.float32), "fp16") == pytest.approx(1.0)
    w = (np.random.default_rng(0).standard_normal(4096) * 0.02).astype(np.float32)
    assert 0 < n.subnormal_share(w, "fp16") < 1e-3  # a few values below 6.1e-5 hold almost none of the norm
    assert n.subnormal_share(w, "bf16") == 0.0


def test_subnormal_share_ignores_nan():
    assert n.subnormal_share(np.array([1e-6, np.nan, np.nan, np.nan], np.float32), "fp16") == pytest.approx(1.0)
