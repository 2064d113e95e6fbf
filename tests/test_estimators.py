"""The simulated estimators: stable, monotone in the length, consistent with the reference facts, and cheap."""

import math

import numpy as np
import pytest

from precision_lint import numerics as n
from precision_lint.numerics import accumulation as accumulation_tables


def test_sums_are_monotone_in_length_and_stagnate_in_fp16():
    lengths = [2, 16, 100, 197, 256, 1000, 2048, 3136, 4096, 5000, 8192, 16384, 20000, 32768, 65536, 1 << 20]
    for kind in ("positive", "squares", "ones"):
        errs = [n.sum_relative_error(k, "fp16", kind=kind) for k in lengths]
        assert errs == sorted(errs), (kind, errs)
    # 8 lanes of positive terms in (0, 1]: each lane stagnates at 2048 once it holds about 4096 terms
    assert n.sum_relative_error(4096, "fp16") < 2e-3
    assert n.sum_relative_error(65536, "fp16") > 0.3


def test_bf16_kernels_accumulate_in_fp32():
    assert n.accumulator_for("bf16") == "fp32" and n.accumulator_for("fp16") == "fp16"
    assert n.sum_relative_error(65536, "bf16") < 1e-4
    # forcing a bf16 accumulator shows why nobody does it: a sum of ones sticks at 256 per lane
    assert n.sum_relative_error(4096, "bf16", kind="ones", acc="bf16") == pytest.approx(0.5)


def test_dot_error_grows_like_sqrt_k_and_is_monotone():
    ks = [2, 16, 27, 64, 96, 256, 768, 1024, 2048, 4096, 4608, 16384, 65536, 1 << 18]
    errs = [n.dot_relative_error(k, "fp16") for k in ks]
    assert errs == sorted(errs)
    # a random walk of roundings: relative error about u * sqrt(k / 6) (u = 2^-11) within a factor of 2
    for k in (256, 4096, 65536):
        model = 2**-11 * math.sqrt(k / 6)
        assert model / 2 < n.dot_relative_error(k, "fp16") < model * 2
    # ... and stable: the value does not depend on which random rows were drawn (a second draw agrees)
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((64, 4096)), rng.standard_normal((64, 4096))
    p = n.FP16.round(n.FP16.round(x) * n.FP16.round(y))
    acc = np.add.accumulate(p.astype(np.float16), axis=1, dtype=np.float16)[:, -1].astype(float)
    again = np.sqrt(np.mean((acc - p.sum(axis=1)) ** 2)) / 64
    assert again == pytest.approx(n.dot_relative_error(4096, "fp16"), rel=0.35)
    assert n.dot_relative_error(4096, "bf16") < 1e-4  # fp32 accumulation


def test_phase_errors_match_the_reference():
    # the reference rounds only the product: 0.25 for arguments below 1024, 0.49 below 2048 (an argument off by
    # half an ULP, d, moves sin by up to 2 sin(d / 2))
    assert n.sin_argument_error(1023.9, "fp16") == pytest.approx(2 * math.sin(0.125), abs=0.005)
    assert n.sin_argument_error(2047.9, "fp16") == pytest.approx(2 * math.sin(0.25), abs=0.005)
    # storing inv_freq in fp16 as well can only add error
    assert n.phase_error(2048, "fp16") >= 0.45
    llama = 1.0 / 10000 ** (np.arange(0, 16, 2) / 16)
    assert n.phase_error_freqs(2047, n.freqs_key(llama), "fp16") > 0.3
    assert n.phase_error_freqs(2047, n.freqs_key(llama), "bf16") > 1.0
    assert n.phase_error_freqs(64, n.freqs_key(llama), "fp16") < 0.05


def test_phase_error_against_a_direct_numpy_fp16_table():
    pos = np.arange(2048, dtype=np.float16)
    inv = (1.0 / 10000 ** (np.arange(0, 16, 2) / 16)).astype(np.float32)
    table16 = np.sin(pos[:, None] * inv.astype(np.float16)[None, :])  # numpy float16 arithmetic
    exact = np.sin(np.arange(2048, dtype=np.float64)[:, None] * inv.astype(np.float64)[None, :])
    direct = float(np.max(np.abs(table16.astype(np.float64) - exact)))
    assert n.phase_error_freqs(2047, n.freqs_key(inv), "fp16") == pytest.approx(direct, rel=0.05)


def test_absolute_coordinates_lose_a_quarter_pixel_at_1023():
    assert n.absolute_grid_error(1023, 1024, True, "fp16", "storage") == pytest.approx(0.25, abs=1e-3)
    assert n.absolute_grid_error(1023, 1024, True, "bf16", "storage") == pytest.approx(2.0, abs=1e-2)
    assert 0.25 < n.absolute_grid_error(1023, 1024, True, "fp16") < 1.0
    assert n.absolute_grid_error(100, 128, True, "fp16") < 0.1


def test_absolute_coordinates_against_a_direct_simulation_when_the_top_is_not_representable():
    # coordinates up to 2999 in bf16 (spacing 16 above 2048): the largest is 2984 + 8 = 2992 -> error 8.  The
    # estimator also counted 3008, the value above the top, with true coordinates up to 2999 it never receives (9)
    import ml_dtypes

    c = np.linspace(0.0, 2999.0, 1 << 20)
    for align in (False, True):
        bf = c.astype(ml_dtypes.bfloat16)
        stored = bf.astype(np.float64)
        assert np.max(np.abs(stored - c)) == pytest.approx(8.0, abs=1e-3)
        assert n.absolute_grid_error(2999, 3000, align, "bf16", "storage") == 8.0
        one, size = ml_dtypes.bfloat16(1), ml_dtypes.bfloat16(3000)
        two, last = ml_dtypes.bfloat16(2), ml_dtypes.bfloat16(2999)
        g = ((bf * two) / last - one) if align else ((bf * two + one) / size - one)
        g = g.astype(np.float64)
        chain = (g + 1) / 2 * 2999 if align else ((g + 1) * 3000 - 1) / 2
        truth = np.max(np.abs(chain - c))
        assert n.absolute_grid_error(2999, 3000, align, "bf16", "chain") == pytest.approx(truth, rel=0.02)


def test_arm_estimates_have_about_8_bits():
    assert 2**-10 < n.estimate_relative_error("recip") < 2**-8
    assert 2**-10 < n.estimate_relative_error("rsqrt") < 2**-8
    assert n.frecpe(np.array([1.0]))[0] == pytest.approx(511 / 512)
    assert 1e-3 < n.sigmoid_estimate_error() < 4e-3


def test_gelu_tanh_form_differs_by_the_measured_4_7e_4():
    assert n.gelu_tanh_error() == pytest.approx(4.7e-4, abs=0.1e-4)


def test_range_limits():
    assert n.square_sum_overflow_rms(768) == pytest.approx(9.24, abs=0.01)
    assert n.square_sum_overflow_rms(4096) == pytest.approx(4.0, abs=0.01)
    assert n.power_overflow_limit(2, "fp16") == pytest.approx(255.9, abs=0.1)
    assert n.log_floor("fp16") == pytest.approx(-16.64, abs=0.01)
    assert n.variance_cancellation_ratio("fp16") == pytest.approx(10.1, abs=0.1)


def test_constant_storage_error():
    rng = np.random.default_rng(0)
    w = rng.standard_normal(10000) * 0.05
    err, lost = n.constant_storage_error(w, "fp16")
    assert err < 5e-4 and lost < 1e-3
    tiny = np.full(100, 2e-8)  # below half of fp16's smallest subnormal (5.96e-8): stored as 0
    assert n.constant_storage_error(tiny, "fp16") == (1.0, 1.0)
    assert n.constant_storage_error(np.full(10, 1e-6), "fp16", flush_subnormals=True)[1] == 1.0
    assert n.constant_storage_error(tiny, "bf16")[0] < 1e-2


def test_precomputed_tables_match_fresh_simulations():
    """data/estimates.json (tools/gen_estimator_tables.py) holds the same seeded simulations, with a larger budget."""
    for fmt, lanes, kind, acc in n.TABLE_SUM_SERIES:
        row = accumulation_tables._tables()["sum"][f"{fmt}|{lanes}|{kind}|{acc}"]
        assert len(row) == accumulation_tables._SUM_MAX_LOG2
        for b in range(1, 11):
            assert row[b - 1] == pytest.approx(
                accumulation_tables._sum_grid(b, fmt, lanes, kind, acc, accumulation_tables._TABLE_BUDGET), rel=1e-5
            )
    for fmt, acc in n.TABLE_DOT_SERIES:
        row = accumulation_tables._tables()["dot"][f"{fmt}|{acc}"]
        assert len(row) == accumulation_tables._DOT_MAX_LOG2
        for b in range(1, 10):
            assert row[b - 1] == pytest.approx(
                accumulation_tables._dot_grid(b, fmt, acc, accumulation_tables._TABLE_BUDGET), rel=1e-5
            )
    # the lint-time simulation (a smaller budget) agrees with the table within its noise
    assert accumulation_tables._sum_grid(
        12, "fp16", 8, "positive", "fp16", accumulation_tables._SIM_BUDGET
    ) == pytest.approx(n.sum_relative_error(4096, "fp16"), rel=0.3)


def test_a_sum_of_squares_that_overflows_fp16_is_inf_at_every_length_past_it():
    # The squares of N(0, 1) values sum to about n: 8 fp16 lanes of 200,000 of them (each lane stagnating, the
    # lanes then added pairwise) overflow to inf in a direct numpy fp16 simulation.  Lengths between the simulated
    # powers of two past 2**17 interpolated inf and inf to NaN, so ReduceL2 over 200,000 values and LayerNorm over
    # 131,073 reported nothing; past 2**21 the extrapolation said 1.0 where 2**21 itself says inf.
    rng = np.random.default_rng(3)
    squares = (rng.standard_normal((200_000 // 8, 8)) ** 2).astype(np.float16)
    lanes = np.add.accumulate(squares, axis=0, dtype=np.float16)[-1]
    with np.errstate(over="ignore"):
        while lanes.size > 1:
            lanes = (lanes[0::2] + lanes[1::2]).astype(np.float16)
    assert np.isinf(lanes[0])
    lengths = [65536, 131_072, 131_073, 200_000, 1 << 21, 3_000_000]
    errs = [n.sum_relative_error(k, "fp16", kind="squares") for k in lengths]
    assert not any(math.isnan(e) for e in errs), errs
    assert errs[0] < 0.5 and all(math.isinf(e) for e in errs[1:]), errs


def test_exp_argument_error_against_a_direct_simulation():
    # Two operands of magnitude up to M stored in the format, their difference (exact here: both are multiples of
    # the same spacing) fed to Exp: the RMS of exp(d) - 1 over the two roundings d.  0.408 ulp(M) is its small-ulp
    # limit (the measured softmax probe: bf16 at M = 20 gives 0.051); past it the error grows like exp(ulp / 2):
    # at M = 30000 in fp16 (spacing 16) the result is off by a factor of thousands, where ulp * 0.408 said 6.5.
    import ml_dtypes

    rng = np.random.default_rng(11)
    for fmt, dtype, top in (
        ("fp16", np.float16, 30.0),
        ("bf16", ml_dtypes.bfloat16, 20.0),
        ("bf16", ml_dtypes.bfloat16, 1000.0),
        ("fp16", np.float16, 30000.0),
    ):
        lo = 2.0 ** math.floor(math.log2(top))  # one binade: every operand has the spacing of the top
        a, b = rng.uniform(lo, top, 1 << 20), rng.uniform(lo, top, 1 << 20)
        d = (a.astype(dtype).astype(np.float64) - b.astype(dtype).astype(np.float64)) - (a - b)
        truth = float(np.sqrt(np.mean(np.expm1(d) ** 2)))
        assert n.exp_argument_error(top, fmt) == pytest.approx(truth, rel=0.1), (fmt, top, truth)
    assert n.exp_argument_error(20.0, "bf16") == pytest.approx(0.051, abs=0.001)
    assert math.isinf(n.exp_argument_error(1e6, "fp16"))  # the operand itself overflows
