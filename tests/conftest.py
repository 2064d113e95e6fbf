import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import shutil  # noqa: E402

import pytest  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_models")


@pytest.fixture
def project(tmp_path):
    """A project with the GridSample seed model (models/warp.onnx) and the clean model (models/clean.onnx)."""
    (tmp_path / "models").mkdir()
    shutil.copy(os.path.join(SAMPLES, "gridsample_large.onnx"), tmp_path / "models" / "warp.onnx")
    shutil.copy(os.path.join(SAMPLES, "clean.onnx"), tmp_path / "models" / "clean.onnx")
    return tmp_path


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


@pytest.fixture(scope="session")
def arm82():
    """(cache, manifest) of the aarch64 MNN set-up (tests marked qemu): checked once per session."""
    from arm82 import environment

    return environment()
