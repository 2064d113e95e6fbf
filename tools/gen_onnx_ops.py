"""Writes precision_lint/data/onnx_ops.txt: every operator name in the ONNX schemas of the installed onnx package and
ONNX Runtime's contrib domains (com.microsoft: exporters emit SimplifiedLayerNormalization, FastGelu...).

The rule loader checks `op:` names against it (and the MNN loader's names) without importing onnx at start-up.
Run after upgrading onnx: `python tools/gen_onnx_ops.py`; tests/test_rule_strictness.py fails when it is stale."""
from pathlib import Path

import onnx.defs

OUT = Path(__file__).resolve().parent.parent / "precision_lint" / "data" / "onnx_ops.txt"


def names():
    found = {s.name for s in onnx.defs.get_all_schemas_with_history()}
    from onnxruntime.capi import onnxruntime_pybind11_state as ort

    found |= {s.name for s in ort.get_all_operator_schema()}
    return sorted(found)


if __name__ == "__main__":
    OUT.write_text("# ONNX operator names (all domains onnx ships), made by tools/gen_onnx_ops.py\n"
                   + "\n".join(names()) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(names())} names")
