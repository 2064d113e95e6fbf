"""What MNN's converter does to this model and which known MNN issue reports concern it, matched once per model
(data/known_issues.yaml) so that every format gets the same list: Markdown renders it, JSON carries it as
``mnn_notes``.  Kernel bugs are matched by the recommender (they change levels); these notes change none."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

BACKEND_NAME = {"CPU": "CPU", "METAL": "Metal", "OPENCL": "OpenCL", "VULKAN": "Vulkan", "CUDA": "CUDA",
                "NN": "CoreML", "NNAPI": "NNAPI", "TRT": "TensorRT", "HIAI": "HiAI"}


def model_ops(metadata: Mapping[str, Any], findings) -> List[str]:
    """The model's canonical op names: the loader's op counts, plus the ops findings name."""
    ops = metadata.get("op_counts") or metadata.get("ops") or {}
    names = set(ops) if isinstance(ops, (dict, list, tuple)) else set()
    names |= {f.op for f in findings}
    return sorted(names)


def mnn_notes(result: Any, recommendation: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """``{"converter": [{"ops": [...], "note": ...}], "converter_always": [...], "issue_reports": [{"summary",
    "topic", "reports": [{"id", "url", "fixed_after"}]}]}``; converter notes only for a model not converted yet."""
    from .known_issues import data

    known = data()
    ops = set(model_ops(result.metadata, result.findings))
    out: Dict[str, Any] = {"converter": [], "converter_always": [], "issue_reports": []}
    if result.metadata.get("format") != "mnn":
        for c in known.get("converter", []):
            hit = sorted(ops & set(c["ops"]))
            if hit:
                out["converter"].append({"ops": hit, "note": c["note"]})
        out["converter_always"] = list(known.get("converter_always", []))
    classes = {f.failure_class for f in result.reported}
    backends = {p.get("backend") for p in (recommendation or {}).get("platforms", [])}
    fp16 = bool(result.metadata.get("fp16_converted"))
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
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
        groups.setdefault((it["summary"], topic), []).append(
            {"id": it["id"], "url": it["url"], "fixed_after": it.get("fixed_after")})
    out["issue_reports"] = [{"summary": s, "topic": t, "reports": r} for (s, t), r in groups.items()]
    return out
