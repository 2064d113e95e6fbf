"""Writes precision_lint/data/ort_contrib_ops.txt: the operator names of ONNX Runtime's contrib domains
(com.microsoft..., and some registered in the default domain), which exporters emit (SimplifiedLayerNormalization, FastGelu, ...).

The rule loader accepts these names in `op:` besides ONNX's own (data/onnx_ops.txt, tools/gen_onnx_ops.py) and the
MNN loader's.  Regenerate after upgrading onnxruntime: `python tools/gen_contrib_ops.py`."""

from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "precision_lint" / "data" / "ort_contrib_ops.txt"


def names():
    from onnxruntime.capi import onnxruntime_pybind11_state as ort

    return sorted({s.name for s in ort.get_all_operator_schema()})  # some contrib ops sit in the default domain


if __name__ == "__main__":
    OUT.write_text(
        "# ONNX Runtime contrib operator names, made by tools/gen_contrib_ops.py\n" + "\n".join(names()) + "\n",
        encoding="utf-8",
    )
    print(f"{OUT}: {len(names())} names")
