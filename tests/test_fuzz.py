"""Fuzzing both loaders and the rules behind them (issue 7): a mutated model either lints or is one
PrecisionLintError; nothing else may escape (no struct.error, IndexError, UnicodeError, RecursionError...).

Bounded to a few seconds: derandomized (the same cases in every run, so CI is reproducible), a fixed number of
examples per loader, no example database written.  For a longer local run:
``PL_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py``.
"""

import os
import pathlib
import warnings

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from precision_lint.engine.rules import load_rules
from precision_lint.engine.runner import RuleRunner
from precision_lint.errors import PrecisionLintError
from precision_lint.model.loaders import load_model

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_models")
SEEDS = {
    ext: [pathlib.Path(os.path.join(SAMPLES, f"{n}.{ext}")).read_bytes() for n in ("clean", "long_reduction")]
    for ext in ("onnx", "mnn")
}
EXAMPLES = int(os.environ.get("PL_FUZZ_EXAMPLES", "60"))
RUNNER = RuleRunner(load_rules())

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("bytes"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=24)),
    st.tuples(st.just("word"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 2**32 - 1)), min_size=1, max_size=6)),
    st.tuples(st.just("splice"), st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))),
)


def mutate(data: bytes, m) -> bytes:
    kind, arg = m
    b = bytearray(data)
    if kind == "truncate":
        return bytes(b[: int(arg * len(b))])
    if kind == "bytes":
        for pos, val in arg:
            b[min(int(pos * len(b)), len(b) - 1)] = val
    elif kind == "word":  # 32-bit words: FlatBuffer offsets and protobuf lengths/varints
        for pos, val in arg:
            p = min(int(pos * len(b)), len(b) - 4) & ~3
            b[p : p + 4] = val.to_bytes(4, "little")
    else:  # copy a slice of the file over another place
        a, c, d = (int(x * len(b)) for x in arg)
        a, c = min(a, c), max(a, c)
        chunk = b[a:c][:256]
        b[d : d + len(chunk)] = chunk
    return bytes(b)


def _lint(path: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            g = load_model(path)
            RUNNER.run(g)
    except PrecisionLintError as exc:
        msg = str(exc)
        assert msg.startswith(path) and "\n" not in msg, msg


@pytest.mark.parametrize("ext", ["onnx", "mnn"])
def test_fuzz_loader(ext, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"fuzz_{ext}")

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(seed=st.integers(0, len(SEEDS[ext]) - 1), m=mutation)
    def run(seed, m):
        path = str(d / f"case.{ext}")
        with open(path, "wb") as fh:
            fh.write(mutate(SEEDS[ext][seed], m))
        _lint(path)

    run()
