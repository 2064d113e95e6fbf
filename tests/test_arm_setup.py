"""setup-arm's private arm64 apt root: both apt source formats, checked with apt itself (no download)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from precision_lint.verify.arm_setup import SetupError, apt_root, cache_dir

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian/Ubuntu)")

DEB822 = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
ONE_LINE = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n"


def _uris(conf) -> str:
    proc = subprocess.run(
        ["apt-get", "update", "--print-uris"],
        capture_output=True,
        text=True,
        env=dict(os.environ, APT_CONFIG=str(conf)),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("layout", ["deb822", "one-line"])
def test_private_root_asks_for_arm64_packages_with_either_source_format(tmp_path, layout):
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if layout == "deb822":
        (etc / "sources.list.d" / "debian.sources").write_text(DEB822)
    else:
        (etc / "sources.list").write_text(ONE_LINE)
    (etc / "sources.list.d" / "other.list.disabled-by-admin").write_text("deb http://example.invalid/ x main\n")
    uris = _uris(apt_root(tmp_path / "root", str(etc)))
    assert "deb.debian.org/debian/dists/bookworm" in uris
    assert "binary-arm64" in uris and "binary-amd64" not in uris
    assert "example.invalid" not in uris


def test_no_sources_is_one_clear_error(tmp_path):
    (tmp_path / "etc-apt").mkdir()
    with pytest.raises(SetupError, match="no apt sources"):
        apt_root(tmp_path / "root", str(tmp_path / "etc-apt"))


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("PRECISION_LINT_ARM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == (tmp_path / "xdg" / "precision-lint" / "arm82").resolve()
    monkeypatch.setenv("PRECISION_LINT_ARM_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == (tmp_path / "mine").resolve()
