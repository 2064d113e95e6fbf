import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Every sample model converted to .mnn by MNN's own converter, once per test session."""
    from mnn_models import converted

    return converted(tmp_path_factory)


@pytest.fixture(scope="session")
def models_fp16(tmp_path_factory):
    """The same, converted with --fp16."""
    from mnn_models import converted

    return converted(tmp_path_factory, "fp16")
