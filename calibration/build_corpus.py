"""Builds the calibration corpus and measures its ground truth; writes calibration/ground_truth.json.

    PYTHONPATH=. python calibration/build_corpus.py                 # probes + emulation (+ ARM if set up)
    PYTHONPATH=. python calibration/build_corpus.py --no-arm        # storage emulation only

The corpus: the probe models of calibration/probes.py (written to calibration/corpus/, our own, the project's
licence), the bundled sample models (sample_models/*.onnx, ours) and the torch-exported architectures
(sample_models/architectures/, exported by us from plain torch.nn code with random weights: see their README).

Per model and per node, three measurements (see calibration/emulate.py for the storage method):
- ``fp16-storage`` / ``bf16-storage``: ONNX Runtime, fp32 compute, every tensor rounded to the format;
- ``arm82-low``: MNN's real ARMv8.2 fp16 kernels (Precision_Low) against Precision_High on the same emulated build,
  through ``precision_lint.verify.run`` (needs ``precision-lint setup-arm``; MNN printed ``fp16:1``).
Inputs are verify's generated ones: uniform in each model's declared ranges (else what verify implies), seed 0,
except the images that a sampling op (GridSample, Resize, RoiAlign) reads: those hold a photograph
(precision_lint/verify/natural_image.py), because uniform noise is the steepest possible image and makes any
sub-pixel position error look breaking.  For those models the measurement on noise is kept too, as
``fp16-storage-noise`` / ``arm82-low-noise`` (not used as truth).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from calibration.probes import build, probes  # noqa: E402

CORPUS_DIR = ROOT / "calibration" / "corpus"
GROUND_TRUTH = ROOT / "calibration" / "ground_truth.json"
TOLERANCE = 1e-2  # rel-L2 at an output above which a model "breaks" (verify's default tolerance)

OURS = "Apache-2.0 (this project's licence): our own probe"
SAMPLE = "Apache-2.0 (this project's licence): built by sample_models/build.py"
TORCH = (
    "Apache-2.0 (this project's licence): our own plain torch.nn code with random weights, exported with "
    "torch's ONNX exporter (sample_models/architectures/export.py); no third-party weights"
)

# (name, file relative to the repository, kind, input ranges, measure on the ARM kernels?, licence)
EXISTING = (
    ("clean", "sample_models/clean.onnx", "sample", {}, True, SAMPLE),
    ("gridsample_large", "sample_models/gridsample_large.onnx", "sample", {}, True, SAMPLE),
    ("long_reduction", "sample_models/long_reduction.onnx", "sample", {}, True, SAMPLE),
    ("mobilenet_tiny", "sample_models/architectures/mobilenet_tiny.onnx", "architecture", {}, True, TORCH),
    ("bert_tiny", "sample_models/architectures/bert_tiny.onnx", "architecture", {}, True, TORCH),
    ("vit_tiny", "sample_models/architectures/vit_tiny.onnx", "architecture", {}, True, TORCH),
    # minutes each under QEMU (a 4096-token softmax, 2048-token attention, a 512x1024 warp): emulation only
    (
        "unet_block",
        "sample_models/architectures/unet_block.onnx",
        "architecture",
        {"timestep": (0.0, 999.0)},
        False,
        TORCH,
    ),
    ("llama_block", "sample_models/architectures/llama_block.onnx", "architecture", {}, False, TORCH),
    ("flow_warp", "sample_models/architectures/flow_warp.onnx", "architecture", {"flow": (-2.0, 2.0)}, False, TORCH),
)


def corpus() -> List[Dict]:
    """Every corpus model: name, file, kind, cause, input ranges, whether ARM is measured, licence."""
    out = [
        dict(
            name=p.name,
            file=f"calibration/corpus/{p.name}.onnx",
            kind="probe",
            cause=p.cause,
            ranges={k: list(v) for k, v in p.ranges.items()},
            arm=True,
            licence=OURS,
        )
        for p in probes()
    ]
    out += [
        dict(name=n, file=f, kind=k, cause="", ranges={a: list(b) for a, b in r.items()}, arm=arm, licence=lic)
        for n, f, k, r, arm, lic in EXISTING
    ]
    return out


def write_probes() -> None:
    import onnx

    CORPUS_DIR.mkdir(exist_ok=True)
    for p in probes():
        onnx.save(build(p), str(CORPUS_DIR / f"{p.name}.onnx"))


def _num(v: float):
    return str(v) if v != v or v in (float("inf"), float("-inf")) else float(f"{v:.4g}")


def _summary(errors, outputs, graph, ran_on: str) -> Dict:
    """Per node: the worst rel-L2 of its outputs ("nonfinite" when it produced inf/NaN the reference has not)."""
    from precision_lint.verify.metrics import origins

    def value(e):
        return "nonfinite" if (e.nan + e.inf) > e.ref_nonfinite else _num(e.rel_l2)

    def rank(v):
        return float("inf") if v == "nonfinite" else float(v)

    nodes: Dict[str, object] = {}
    for e in errors.values():
        if e.node:
            v = value(e)
            if e.node not in nodes or rank(v) > rank(nodes[e.node]):
                nodes[e.node] = v
    outs = {o: value(errors[o]) for o in outputs if o in errors}
    return {
        "ran_on": ran_on,
        "breaking": any(errors[o].over for o in outputs if o in errors),
        "outputs": dict(sorted(outs.items())),
        "origins": sorted({e.node for e in origins(graph, errors) if e.node}),
        "nodes": dict(sorted(nodes.items())),
    }


def measure_model(entry: Dict, arm: bool) -> Dict:
    import onnx
    import onnxruntime as ort

    from calibration.emulate import measure
    from precision_lint.model.loaders import load_model
    from precision_lint.verify.inputs import describe, generate, specs

    path = str(ROOT / entry["file"])
    graph = load_model(path)
    ranges = {k: tuple(v) for k, v in entry["ranges"].items()}
    input_specs = specs(graph, ranges)
    feeds = generate(input_specs, path)  # verify's inputs: the photograph where a sampling op reads an image
    noise = generate(input_specs, path, natural=False)
    model = onnx.load(path)
    described = describe(input_specs, None)
    photo = {s.name: described[s.name] for s in input_specs if s.image is not None}
    runs = [("", feeds)] + ([("-noise", noise)] if photo else [])
    storage = {}
    for suffix, inputs in runs:
        per_fmt, outputs = measure(
            model, inputs, formats=("fp16", "bf16") if not suffix else ("fp16",), tolerance=TOLERANCE
        )
        for fmt, errors in per_fmt.items():
            storage[f"{fmt}-storage{suffix}"] = _summary(
                errors,
                outputs,
                graph,
                f"onnxruntime {ort.__version__} CPU: fp32 compute, every tensor stored in "
                f"{fmt} (Cast pairs)" + _inputs_note(photo, suffix),
            )
        if arm and entry["arm"]:
            storage[f"arm82-low{suffix}"] = _arm(path, inputs, ranges)
            storage[f"arm82-low{suffix}"]["ran_on"] += _inputs_note(photo, suffix)
    return storage


def _inputs_note(photo: Dict[str, str], suffix: str) -> str:
    if not photo:
        return ""
    if suffix:
        return "; inputs: uniform noise (seed 0) in every input, for comparison only"
    return "; inputs: " + "; ".join(f"{k}: {v}" for k, v in sorted(photo.items()))


def _arm(path: str, feeds, ranges) -> Dict:
    from precision_lint.verify.run import verify

    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "inputs.npz")
        np.savez(npz, **feeds)
        res = verify(path, ("ios-cpu:low",), inputs=npz, lint=False)
    t = res.targets[0]
    errors = {e.name: e for e in t.outputs + t.nodes}
    out = {
        "ran_on": f"{t.ran_on}; {t.device_line}; Precision_Low vs Precision_High",
        "breaking": any(e.over for e in t.outputs),
        "outputs": {
            e.name: ("nonfinite" if e.nan + e.inf > e.ref_nonfinite else _num(e.rel_l2))
            for e in sorted(t.outputs, key=lambda e: e.name)
        },
        "origins": sorted({e.node for e in t.origins if e.node}),
        "nodes": {},
    }
    for e in errors.values():
        v = "nonfinite" if e.nan + e.inf > e.ref_nonfinite else _num(e.rel_l2)
        if e.node:
            old = out["nodes"].get(e.node)
            if old is None or old != "nonfinite" and (v == "nonfinite" or v > old):
                out["nodes"][e.node] = v
    out["nodes"] = dict(sorted(out["nodes"].items()))
    cross = res.cross_runtime or {}
    out["converter"] = {
        "status": cross.get("status"),
        "exceeded": cross.get("exceeded"),
        "outputs": {o["tensor"]: o["rel_l2"] for o in cross.get("outputs", [])},
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-arm", action="store_true", help="skip the real ARMv8.2 kernels (storage emulation only)")
    ap.add_argument("--only", nargs="*", help="re-measure only these models (others keep their stored results)")
    args = ap.parse_args(argv)
    write_probes()
    old = json.loads(GROUND_TRUTH.read_text()) if GROUND_TRUTH.exists() else {"models": {}}
    doc = {
        "about": (
            "Measured ground truth of the calibration corpus, written by calibration/build_corpus.py. "
            "Per node: the worst rel-L2 of its outputs against fp32 ('nonfinite': inf/NaN the reference "
            f"has not). 'breaking': an output over rel-L2 {TOLERANCE} or non-finite. 'origins': nodes "
            "over that tolerance whose measured inputs are within it."
        ),
        "tolerance": TOLERANCE,
        "models": {},
    }
    for entry in corpus():
        name = entry["name"]
        if args.only and name not in args.only and name in old["models"]:
            doc["models"][name] = old["models"][name]
            continue
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        meas = measure_model(entry, arm=not args.no_arm)
        if args.no_arm and "arm82-low" in old["models"].get(name, {}).get("measured", {}):
            meas["arm82-low"] = old["models"][name]["measured"]["arm82-low"]
        doc["models"][name] = {k: entry[k] for k in ("file", "kind", "cause", "ranges", "licence")}
        doc["models"][name]["measured"] = meas
    from calibration.gridsample_sweep import sweep

    print("measuring the GridSample position-error sweep ...", file=sys.stderr, flush=True)
    doc["gridsample_sweep"] = {
        "about": "calibration/gridsample_sweep.py: fp16 storage emulation, output rel-L2 of "
        "GridSample against fp32, on the photograph and on uniform noise",
        "rows": sweep(),
    }
    GROUND_TRUTH.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GROUND_TRUTH.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
