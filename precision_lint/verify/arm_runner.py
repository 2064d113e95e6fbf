"""Runs MNN models in one worker process, on the host or under QEMU's aarch64 emulation (see arm_setup.py).

A session holds the runs of one verify; :func:`execute` writes their inputs as .npz files, starts
``mnn_worker.py`` once (``import MNN`` costs about 4 s emulated), and reads the outputs back.  MNN's own
"The device supports: ..." line, printed to fd 1, is kept: ``fp16:1`` in it is the proof that ARMv8.2 fp16
arithmetic was available to the run.  Without it, Precision_Low computes fp32 and nothing was measured.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import PrecisionLintError

WORKER = Path(__file__).resolve().parent / "mnn_worker.py"
PRECISION = {"normal": 0, "high": 1, "low": 2, "low_bf16": 3}  # MNN's BackendConfig::PrecisionMode
_DEVICE_LINE = re.compile(r"The device supports:[^\n]*")


class RunError(PrecisionLintError):
    """The worker failed: the message names the model and what went wrong."""


@dataclass
class Run:
    id: str
    model: str
    precision: str  # a key of PRECISION
    inputs: Dict[str, "object"]  # name -> numpy array
    outputs: Sequence[str]
    intermediates: Sequence[str] = ()


@dataclass
class Emulation:
    """Where and how the aarch64 Python runs: the set-up's cache and the QEMU CPU model."""

    cache: Path
    manifest: Dict
    cpu: str = "max"  # has FEAT_FP16; "cortex-a72" has none (a control: Low falls back to fp32)

    def command(self) -> List[str]:
        sysroot = self.cache / self.manifest["sysroot"]
        return ["qemu-aarch64-static", "-cpu", self.cpu, "-L", str(sysroot), str(self.cache / self.manifest["python"])]

    def env(self) -> Dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        return dict(
            keep,
            PYTHONPATH=str(self.cache / self.manifest["site"]),
            PYTHONNOUSERSITE="1",
            PYTHONDONTWRITEBYTECODE="1",
            OMP_NUM_THREADS="1",
        )

    def describe(self) -> str:
        return (
            f"MNN {self.manifest.get('mnn_version')} aarch64 under {self.manifest.get('qemu', 'QEMU')} "
            f"(-cpu {self.cpu})"
        )


@dataclass
class Outcome:
    device_line: str
    seconds: float  # wall time of the worker, start-up and import included
    import_seconds: float
    mnn_version: str
    results: Dict[str, Dict] = field(default_factory=dict)  # run id -> {"seconds", "tensors", "note"} or {"error"}
    arrays: Dict[str, Dict[str, "object"]] = field(default_factory=dict)  # run id -> tensor name -> array

    @property
    def fp16(self) -> bool:
        return "fp16:1" in self.device_line.replace(" ", "")


def execute(
    runs: Sequence[Run],
    emulation: Optional[Emulation] = None,
    timeout: float = 1800.0,
    progress: Optional[Callable[[str], None]] = None,
) -> Outcome:
    """Runs ``runs`` in one worker: on the host's Python when ``emulation`` is None, else under QEMU.
    ``progress`` receives a line as each run starts ("run 2/3: low")."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="precision-lint-run-") as tmp:
        tmpdir = Path(tmp)
        job = {"report": str(tmpdir / "report.json"), "runs": []}
        for i, r in enumerate(runs):
            inp, out = tmpdir / f"in{i}.npz", tmpdir / f"out{i}.npz"
            np.savez(inp, **r.inputs)
            job["runs"].append(
                {
                    "id": r.id,
                    "model": str(Path(r.model).resolve()),
                    "precision": PRECISION[r.precision],
                    "inputs": str(inp),
                    "input_names": list(r.inputs),
                    "outputs": list(r.outputs),
                    "intermediates": list(r.intermediates),
                    "out": str(out),
                }
            )
        (tmpdir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        if emulation is None:
            import importlib.util

            if importlib.util.find_spec("MNN") is None:  # an optional dependency: say which, not a worker traceback
                raise RunError(
                    "running the model on this machine needs the MNN package (pip install 'precision-lint[mnn]')"
                )
            cmd, env = [sys.executable, str(WORKER)], None
        else:
            cmd, env = emulation.command() + [str(WORKER)], emulation.env()
        t = time.monotonic()
        stdout, stderr, returncode = _run_worker(cmd + [str(tmpdir / "job.json")], env, timeout, tmpdir, progress)
        seconds = time.monotonic() - t
        report_path = tmpdir / "report.json"
        if returncode != 0 or not report_path.is_file():
            tail = [ln for ln in stderr.strip().splitlines() if not ln.startswith("progress: ")] or ["no message"]
            raise RunError(f"the MNN worker failed (exit {returncode}): {tail[-1][:300]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
        m = _DEVICE_LINE.search(stdout)
        outcome = Outcome(
            device_line=m.group(0).strip() if m else "",
            seconds=seconds,
            import_seconds=report.get("import_seconds", 0.0),
            mnn_version=report.get("mnn_version", ""),
        )
        for i, res in enumerate(report["runs"]):
            outcome.results[res["id"]] = res
            if "error" not in res:
                with np.load(job["runs"][i]["out"]) as z:
                    outcome.arrays[res["id"]] = {k: z[k] for k in z.files}
        return outcome


def _run_worker(cmd: List[str], env, timeout: float, tmpdir: Path, progress) -> Tuple[str, str, int]:
    """(stdout, stderr, exit code); stdout goes to a file (MNN writes to fd 1), stderr is read line by line so that
    ``progress`` sees each run start."""
    import threading

    out_path = tmpdir / "stdout.txt"
    lines: List[str] = []
    try:
        with open(out_path, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                for line in proc.stderr:
                    lines.append(line)
                    if progress is not None and line.startswith("progress: "):
                        progress(line[len("progress: ") :].strip())
                returncode = proc.wait()
            finally:
                timer.cancel()
    except OSError as exc:
        raise RunError(f"cannot start the MNN worker ({cmd[0]}): {exc}") from None
    if returncode < 0 and not (tmpdir / "report.json").is_file():
        raise RunError(f"the MNN worker did not finish within {timeout:.0f} s (or was killed)")
    return out_path.read_text(errors="replace"), "".join(lines), returncode


def probe(cache: Path, manifest: Dict, cpu: str = "max") -> str:
    """The "device supports" line of ``import MNN`` in the emulated Python (set-up's self-test)."""
    emu = Emulation(cache, manifest, cpu)
    try:
        proc = subprocess.run(
            emu.command()
            + ["-c", "import MNN, numpy; MNN.nn.create_runtime_manager(({'backend': 'CPU', 'precision': 2},))"],
            capture_output=True,
            text=True,
            env=emu.env(),
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RunError(f"cannot run the emulated Python: {exc}") from None
    m = _DEVICE_LINE.search(proc.stdout)
    if proc.returncode != 0 or not m:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise RunError(f"the emulated Python could not import MNN (exit {proc.returncode}): {tail}")
    return m.group(0).strip()


__all__ = ["Run", "Emulation", "Outcome", "execute", "probe", "PRECISION", "RunError"]
