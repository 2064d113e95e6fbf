"""Number formats (fp32, fp16, bf16) and the error estimators rules call.

Estimators simulate the arithmetic with numpy (every operation rounded to the format) instead of quoting
worst-case bounds, so an estimate is what that computation really does for this model's sizes.  Results are cached:
a model with a hundred GridSample nodes of one size pays once.  One module per kind of error: `formats` (how values
are stored), `accumulation` (sums and dot products), `coordinates` (sampling positions, phases), `kernels` (hardware
approximations), `storage` (constants); this package re-exports what rules and platforms call.
"""

from .accumulation import (  # noqa: F401
    TABLE_DOT_SERIES,
    TABLE_SUM_SERIES,
    build_tables,
    dot_relative_error,
    square_sum_overflow_rms,
    sum_relative_error,
    variance_cancellation_ratio,
)
from .coordinates import (  # noqa: F401
    MAX_ENCODING_DIM,
    MAX_POSITIONS,
    absolute_grid_error,
    coordinate_error,
    freqs_key,
    gridsample_pixel_error,
    phase_error,
    phase_error_freqs,
    resize_coordinate_error,
    sin_argument_error,
)
from .formats import (  # noqa: F401
    ACCUMULATOR,
    BF16,
    FORMATS,
    FP16,
    FP32,
    ROUNDERS,
    FloatFormat,
    accumulator_for,
    eps_fate,
    exp_argument_error,
    exp_overflow,
    get_format,
    integer_error,
    log_floor,
    power_overflow_limit,
    relative_rounding,
    stored,
    stored_saturating,
)
from .kernels import (  # noqa: F401
    estimate_relative_error,
    frecpe,
    frsqrte,
    gelu_tanh_error,
    sigmoid_estimate_error,
)
from .storage import (  # noqa: F401
    constant_storage_error,
    constant_storage_errors,
    subnormal_share,
)
