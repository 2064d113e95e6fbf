"""Runs MNN models for `precision-lint verify`: ``python mnn_worker.py JOB.json``.

A standalone script (standard library, numpy and MNN only): arm_runner starts it once per verify, either on the host
or under qemu-aarch64-static with the aarch64 Python of `setup-arm`, so ``import MNN`` (4 s emulated) is paid once.
The job lists runs; each loads the model with the requested outputs (intermediate tensors included) on a CPU
runtime at the requested precision, reads the inputs from an .npz and writes the outputs to another .npz.
MNN prints its "The device supports: ..." line to fd 1; the caller keeps that stream as the proof of what ran, so
this script writes its own report to the job's ``report`` file, never to stdout.
"""

import json
import sys
import time


def _to_numpy(var, np, F):
    if var.data_format == F.NC4HW4:  # MNN's packed layout: back to NCHW before reading
        var = F.convert(var, F.NCHW)
    try:
        return np.array(var.read(), copy=True)
    except SystemError:
        # a zero-size tensor: MNN's read() fails on it, but there is nothing to read.  Its shape is asked only
        # here: asking before the read changes the heap layout the GridSample bug's result depends on
        if 0 in var.shape:
            return np.zeros(var.shape, "int32" if var.dtype == F.int else "float32")
        raise


def _load(nn, path, inputs, outputs, rt):
    return nn.load_module_from_file(path, inputs, outputs, runtime_manager=rt)


def run_one(run, nn, F, np):
    rt = nn.create_runtime_manager(({"backend": "CPU", "precision": int(run["precision"]), "numThread": 1},))
    feeds = np.load(run["inputs"])
    names = list(run["input_names"])
    wanted = list(run["outputs"]) + [n for n in run.get("intermediates", []) if n not in run["outputs"]]
    note = ""
    try:
        module = _load(nn, run["model"], names, wanted, rt)
    except Exception as exc:  # an intermediate MNN cannot expose: fall back to the model's outputs
        note = "intermediate tensors unavailable (%s)" % (str(exc).splitlines() or [""])[0][:120]
        wanted = list(run["outputs"])
        module = _load(nn, run["model"], names, wanted, rt)
    args = []
    for name in names:
        a = feeds[name]
        dtype = F.int if a.dtype.kind in "iu" else F.float
        a = a.astype("int32" if dtype == F.int else "float32")
        args.append(F.const(a, list(a.shape), F.NCHW, dtype))
    t = time.time()
    outs = module.forward(args)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    arrays = {}
    for name, var in zip(wanted, outs):
        try:
            arrays[name] = _to_numpy(var, np, F)
        except Exception:  # noqa: BLE001 - a tensor without data (e.g. a shape-only output) is skipped
            continue
    elapsed = time.time() - t
    np.savez(run["out"], **arrays)
    return {"id": run["id"], "seconds": round(elapsed, 3), "tensors": len(arrays), "note": note}


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    t0 = time.time()
    import numpy as np
    import MNN

    nn, F = MNN.nn, MNN.expr
    report = {"import_seconds": round(time.time() - t0, 3), "mnn_version": MNN.version(), "runs": []}
    total = len(job["runs"])
    for i, run in enumerate(job["runs"]):
        sys.stderr.write("progress: run %d/%d: %s\n" % (i + 1, total, run["id"]))
        sys.stderr.flush()
        try:
            report["runs"].append(run_one(run, nn, F, np))
        except Exception as exc:  # noqa: BLE001 - reported per run; the caller turns it into one line
            report["runs"].append({"id": run["id"], "error": "%s: %s" % (type(exc).__name__, str(exc)[:300])})
    with open(job["report"], "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
