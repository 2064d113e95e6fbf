"""What MNN's converter does to this model and which known MNN issue reports concern it, matched once per model
(data/known_issues.yaml) so that every format gets the same list (a typed :class:`~precision_lint.results.MnnNotes`):
Markdown renders it, JSON carries it as ``mnn_notes``, SARIF in the run's ``properties.mnnNotes``.  Kernel bugs are matched by the recommender (they change levels); these notes change none."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..results import ConverterNote, IssueGroup, IssueReport, MnnNotes, Recommendation

BACKEND_NAME = {
    "CPU": "CPU",
    "METAL": "Metal",
    "OPENCL": "OpenCL",
    "VULKAN": "Vulkan",
    "CUDA": "CUDA",
    "NN": "CoreML",
    "NNAPI": "NNAPI",
    "TRT": "TensorRT",
    "HIAI": "HiAI",
}


def model_ops(metadata: Mapping[str, Any], findings) -> List[str]:
    """The model's canonical op names: the loader's op counts, plus the ops findings name."""
    ops = metadata.get("op_counts") or metadata.get("ops") or {}
    names = set(ops) if isinstance(ops, (dict, list, tuple)) else set()
    names |= {f.op for f in findings}
    return sorted(names)


def mnn_notes(result: Any, recommendation: Optional[Recommendation]) -> MnnNotes:
    """The converter notes (only for a model not converted yet) and the MNN issue reports that concern the model:
    its ops, the failure classes reported, its fp16 conversion, the backends under review."""
    from .known_issues import data

    known = data()
    ops = set(model_ops(result.metadata, result.findings))
    converter: List[ConverterNote] = []
    always: Tuple[str, ...] = ()
    if result.metadata.get("format") != "mnn":
        for c in known.get("converter", []):
            hit = sorted(ops & set(c["ops"]))
            if hit:
                converter.append(ConverterNote(tuple(hit), c["note"]))
        always = tuple(known.get("converter_always", []))
    classes = {f.failure_class for f in result.reported}
    backends = {p.backend for p in recommendation.platforms} if recommendation is not None else set()
    fp16 = bool(result.metadata.get("fp16_converted"))
    groups: Dict[tuple, List[IssueReport]] = {}
    for it in known.get("issues", []):
        if it.get("ops"):
            hit = ops & set(it["ops"])
            if not hit:
                continue
            topic = ", ".join(sorted(hit))
        elif it.get("classes"):
            if not classes & set(it["classes"]):
                continue
            topic = "fp16 " + "/".join(sorted(classes & set(it["classes"])))
        elif it.get("when") == "fp16_converted":
            if not fp16:
                continue
            topic = "--fp16 conversion"
        else:  # backend-wide reports: only for backends under review
            if not backends & set(it.get("backends", [])):
                continue
            shown = [b for b in it["backends"] if b in backends]
            topic = " and ".join(BACKEND_NAME.get(b, b) for b in shown) + " backend"
        groups.setdefault((it["summary"], topic), []).append(IssueReport(it["id"], it["url"], it.get("fixed_after")))
    return MnnNotes(tuple(converter), always, tuple(IssueGroup(s, t, tuple(r)) for (s, t), r in groups.items()))
