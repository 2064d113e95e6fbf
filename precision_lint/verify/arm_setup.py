"""`precision-lint setup-arm`: an aarch64 Python with MNN, run under QEMU user-mode emulation on x86-64.

MNN's ARMv8.2 fp16 kernels (the ones an iPhone or a recent Android CPU runs at Precision_Low) can run on any x86-64
machine: Debian's ``qemu-user-static`` emulates an aarch64 CPU with FEAT_FP16 (``-cpu max``), Debian's own arm64
python3 packages give the interpreter, and PyPI's aarch64 wheels give MNN and numpy.  Everything goes under one cache
directory; nothing is installed into the host's dpkg except qemu-user-static itself.  Method and measurements:
docs/verify.md.

    cache/                      $PRECISION_LINT_ARM_CACHE, else $XDG_CACHE_HOME/precision-lint/arm82
      sysroot/                  Debian arm64 debs unpacked with ``dpkg -x`` (python3.X, libstdc++6...)
      site/                     the aarch64 wheels unzipped (MNN, numpy)
      wheels/                   the downloaded wheels, kept for an offline re-set-up
      manifest.json             what was fetched: versions, packages, the probe's "device supports" line

After set-up nothing is downloaded again: ``verify`` reads the manifest and runs offline.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..errors import PrecisionLintError

DEFAULT_MNN_VERSION = "3.6.1"  # the version data/platforms.yaml was checked against
QEMU = "qemu-aarch64-static"
DEBS = ("libstdc++6", "libgcc-s1", "libgomp1")  # besides python3.X; its own dependencies come along
WHEEL_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64")
MANIFEST = "manifest.json"


class SetupError(PrecisionLintError):
    """The ARM environment is missing or broken: the message says how to get it."""


def cache_dir() -> Path:
    env = os.environ.get("PRECISION_LINT_ARM_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).resolve() / "precision-lint" / "arm82"


MISSING_HINT = (
    "run `precision-lint setup-arm` once (needs apt's qemu-user-static and pip; about 200 MB under "
    "{cache}; set PRECISION_LINT_ARM_CACHE to put it elsewhere)"
)


def load_manifest(cache: Optional[Path] = None) -> Dict:
    """The manifest of a finished set-up; SetupError with the one-line hint when there is none."""
    cache = cache or cache_dir()
    path = cache / MANIFEST
    if not path.is_file():
        raise SetupError(f"no aarch64 MNN environment in {cache}: " + MISSING_HINT.format(cache=cache))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SetupError(f"{path}: unreadable manifest ({exc}); " + MISSING_HINT.format(cache=cache)) from None
    python = cache / manifest.get("python", "")
    if not python.is_file():
        raise SetupError(f"{path}: its Python {python} is missing; " + MISSING_HINT.format(cache=cache))
    if shutil.which(QEMU) is None:
        raise SetupError(
            f"{QEMU} not found on PATH: install Debian's qemu-user-static "
            f"(`sudo apt-get install qemu-user-static`) or run `precision-lint setup-arm`"
        )
    return manifest


def setup(
    mnn_version: str = DEFAULT_MNN_VERSION,
    cache: Optional[Path] = None,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> Dict:
    """Builds the cache (see the module docstring) and returns its manifest.  Idempotent: a finished set-up for the
    same MNN version is kept unless ``force``."""
    cache = cache or cache_dir()
    if not force and (cache / MANIFEST).is_file():
        try:
            manifest = load_manifest(cache)
        except SetupError:
            manifest = None
        if manifest and manifest.get("mnn_version") == mnn_version:
            say(f"already set up in {cache} (MNN {mnn_version}); --force rebuilds it")
            return manifest
    timings: Dict[str, float] = {}
    t0 = time.monotonic()
    _ensure_qemu(say)
    timings["qemu"] = time.monotonic() - t0
    if cache.exists():
        for sub in ("sysroot", "site", "apt", MANIFEST):
            p = cache / sub
            shutil.rmtree(p) if p.is_dir() else (p.unlink() if p.exists() else None)
    cache.mkdir(parents=True, exist_ok=True)
    say(f"cache: {cache}")

    t = time.monotonic()
    pyver, debs = _fetch_debs(cache, say)
    timings["debs"] = time.monotonic() - t
    t = time.monotonic()
    wheels = _fetch_wheels(cache, mnn_version, pyver, say)
    timings["wheels"] = time.monotonic() - t

    manifest = {
        "mnn_version": mnn_version,
        "python": f"sysroot/usr/bin/python{pyver}",
        "python_version": pyver,
        "sysroot": "sysroot",
        "site": "site",
        "debs": debs,
        "wheels": wheels,
        "qemu": _qemu_version(),
    }
    t = time.monotonic()
    say("probing: import MNN under qemu-aarch64-static -cpu max ...")
    from .arm_runner import probe

    line = probe(cache, manifest)
    timings["probe"] = time.monotonic() - t
    if "fp16:1" not in line.replace(" ", ""):
        raise SetupError(
            f"the emulated MNN did not report fp16 arithmetic ({line!r}); the set-up in {cache} "
            f"cannot measure ARMv8.2 Low"
        )
    manifest["device_line"] = line
    manifest["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    (cache / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    say(f"ready: MNN {mnn_version} for aarch64 on Python {pyver} in {cache} ({line})")
    return manifest


def _ensure_qemu(say) -> None:
    if shutil.which(QEMU):
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise SetupError(
            f"{QEMU} not found: install Debian/Ubuntu's qemu-user-static first "
            f"(`sudo apt-get install qemu-user-static`), then run `precision-lint setup-arm` again"
        )
    say("installing qemu-user-static with apt-get (the only package installed on the host)")
    for cmd in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "qemu-user-static"]):
        _run(cmd, "apt-get")
    if not shutil.which(QEMU):
        raise SetupError(f"apt-get installed qemu-user-static but {QEMU} is not on PATH")


def _fetch_debs(cache: Path, say) -> tuple:
    """Debian arm64 python3.X and the C++ runtime, downloaded by apt into a private root and unpacked with dpkg -x.

    The private root copies the host's apt sources (deb822 ``*.sources`` or one-line ``sources.list`` / ``*.list``)
    and keyrings, so it asks the same mirror for the same release, arm64 instead of amd64."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise SetupError("setup-arm needs apt-get and dpkg (Debian or Ubuntu) to fetch an arm64 Python")
    conf = apt_root(cache / "apt")
    root = conf.parent
    env = dict(os.environ, APT_CONFIG=str(conf), DEBIAN_FRONTEND="noninteractive")
    say("apt-get update for arm64 in a private apt root (the host's dpkg is not touched)")
    _run(["apt-get", "update", "-qq"], "apt-get update (arm64)", env)
    depends = _run(["apt-cache", "depends", "python3"], "apt-cache depends python3", env)
    m = re.search(r"Depends:\s*<?python3\.(\d+)>?\b", depends)
    if not m:
        raise SetupError("could not tell which python3.X the host's Debian release ships for arm64")
    pyver = f"3.{m.group(1)}"
    say(f"downloading arm64 python{pyver} {' '.join(DEBS)} and their dependencies")
    _run(["apt-get", "install", "-y", "-qq", "--download-only", f"python{pyver}", *DEBS], "apt-get download", env)
    sysroot = cache / "sysroot"
    sysroot.mkdir(exist_ok=True)
    debs = sorted(glob.glob(str(root / "var/cache/apt/archives/*.deb")))
    for deb in debs:
        _run(["dpkg", "-x", deb, str(sysroot)], f"dpkg -x {os.path.basename(deb)}")
    names = [os.path.basename(d) for d in debs]
    say(f"unpacked {len(names)} arm64 packages into {sysroot}")
    shutil.rmtree(root)  # the package lists (~170 MB) are not needed once unpacked
    return pyver, names


def apt_root(root: Path, etc: str = "/etc/apt") -> Path:
    """A private arm64 apt root at ``root`` using the host's sources from ``etc``; returns its apt.conf.

    Both source formats are copied: deb822 ``sources.list.d/*.sources`` (Debian 12's default) and one-line
    ``sources.list`` / ``sources.list.d/*.list``; other files there (e.g. ``*.disabled``) are not sources."""
    for sub in (
        "etc/apt/sources.list.d",
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text("", encoding="utf-8")
    n = 0
    if os.path.isfile(os.path.join(etc, "sources.list")):
        shutil.copy(os.path.join(etc, "sources.list"), root / "etc/apt/sources.list")
        n += 1
    parts = os.path.join(etc, "sources.list.d")
    for src in sorted(glob.glob(os.path.join(parts, "*.sources")) + glob.glob(os.path.join(parts, "*.list"))):
        shutil.copy(src, root / "etc/apt/sources.list.d" / os.path.basename(src))
        n += 1
    if not n:
        raise SetupError(f"no apt sources found in {etc}/sources.list or {etc}/sources.list.d/")
    conf = root / "apt.conf"
    conf.write_text(
        "\n".join(
            [
                f'Dir "{root}/";',
                f'Dir::State::status "{root}/var/lib/dpkg/status";',
                'Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d/";',
                'Dir::Etc::Trusted "/etc/apt/trusted.gpg";',
                'APT::Architecture "arm64";',
                'APT::Architectures { "arm64"; };',
                'Debug::NoLocking "true";',
                'APT::Install-Recommends "false";',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return conf


def _fetch_wheels(cache: Path, mnn_version: str, pyver: str, say) -> List[str]:
    wheels = cache / "wheels"
    wheels.mkdir(exist_ok=True)
    have = sorted(p.name.lower() for p in wheels.glob("*.whl"))
    want_mnn = f"mnn-{mnn_version}-"
    tag = "cp" + pyver.replace(".", "")
    if not (
        any(n.startswith(want_mnn) and tag in n for n in have)
        and any(n.startswith("numpy-") and tag in n for n in have)
    ):
        for p in wheels.glob("*.whl"):
            p.unlink()
        say(f"pip download MNN=={mnn_version} and numpy for aarch64 Python {pyver} into {wheels}")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            pyver,
            "-d",
            str(wheels),
        ]
        for plat in WHEEL_PLATFORMS:
            cmd += ["--platform", plat]
        _run(cmd + [f"MNN=={mnn_version}", "numpy"], "pip download")
    site = cache / "site"
    site.mkdir(exist_ok=True)
    names = sorted(p.name for p in wheels.glob("*.whl"))
    for name in names:
        with zipfile.ZipFile(wheels / name) as z:
            z.extractall(site)
    return names


def _qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (out.splitlines() or ["unknown"])[0].strip()


def _run(cmd: List[str], what: str, env=None) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(f"{what} failed: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""])[-1][:300]
        raise SetupError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


__all__ = ["cache_dir", "setup", "load_manifest", "SetupError", "DEFAULT_MNN_VERSION"]
