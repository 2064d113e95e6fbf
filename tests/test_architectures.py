"""The catalogue on real exported architectures (sample_models/architectures): the traps each model has, found on
the right nodes at the right levels, with estimates checked against direct numpy simulations of the same arithmetic
on the models' own shapes and constants -- and nothing else (no findings on the plain conv stack).

Only the catalogue's own families are asserted here (R, A, C, X, T, S); M rules are about .mnn files.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from precision_lint.api import Linter, Options
from precision_lint.model.loaders import load_model

HERE = os.path.dirname(os.path.abspath(__file__))
ARCH = os.path.join(HERE, os.pardir, "sample_models", "architectures")
FAMILIES = ("R", "A", "C", "X", "T", "S")

EXPECTED = {
    "vit_tiny": {
        ("S002", "/blocks.0/norm1/LayerNormalization", "info"),  # LayerNorm has no Vulkan (image) kernel
        ("X001", "/blocks.0/mlp/act/Erf", "info"),  # erf GELU -> tanh form in MNN
    },
    "bert_tiny": {
        ("R001", "/Mul", "error"),  # (1 - mask) * float32 min -> -inf, feeding Softmax
        ("R003", "/embeddings/LayerNorm/LayerNormalization", "warning"),  # epsilon 1e-12 is 0 in fp16
        ("R003", "/layers.0/attn_norm/LayerNormalization", "warning"),
        ("R003", "/layers.0/out_norm/LayerNormalization", "warning"),
        ("R003", "/layers.1/attn_norm/LayerNormalization", "warning"),
        ("R003", "/layers.1/out_norm/LayerNormalization", "warning"),
        ("S002", "/embeddings/LayerNorm/LayerNormalization", "info"),
        ("X001", "/layers.0/act/Erf", "info"),
    },
    "unet_block": {
        ("A005", "/res/norm1/InstanceNormalization", "error"),  # GroupNorm over 8 x 16384
        ("A005", "/res/norm2/InstanceNormalization", "error"),
        ("A005", "/attn/norm/InstanceNormalization", "error"),
        ("C005", "/Sin", "warning"),  # timestep embedding, timestep not bounded: conditional
        ("C005", "/Cos", "warning"),
        ("A001", "/attn/Softmax", "info"),  # 4096 keys
        ("S002", "/res/norm1/InstanceNormalization", "info"),
        ("X002", "/time_embed/time_embed.1/Sigmoid", "info"),
    },
    "flow_warp": {
        ("C001", "/GridSample", "error"),  # 1024-wide input, fp16 grid and arithmetic
        ("C002", "/Add", "error"),  # mesh + flow in absolute pixels up to 1023
    },
    "mobilenet_tiny": {  # the pool's one fp16 running sum per channel: measured 0.054 rel-L2 there on ARMv8.2 Low
        ("A002", "/pool/GlobalAveragePool", "warning"),
    },
    "llama_block": {
        ("C005", "/self_attn/Cos", "error"),  # RoPE over positions up to 2047
        ("C005", "/self_attn/Sin", "error"),
        ("R002", "/input_layernorm/Add", "info"),  # eps 1e-6 subnormal (conditional: flush-to-zero hardware)
        ("R002", "/post_attention_layernorm/Add", "info"),
        ("R006", "/input_layernorm/Pow", "warning"),  # sum of 64 squares of an unbounded residual stream
        ("R006", "/post_attention_layernorm/Pow", "warning"),
        ("A001", "/self_attn/Softmax", "info"),  # 2048 keys
        ("X002", "/mlp/Sigmoid", "info"),
    },
}


@pytest.fixture(scope="module")
def linter():
    return Linter(Options())


def lint(linter, name, **options):
    path = os.path.join(ARCH, f"{name}.onnx")
    result = (Linter(Options(**options)) if options else linter).lint_file(path)
    assert result.error is None, result.error
    return result


def ours(result):
    return [f for f in result.reported if f.rule_id.startswith(FAMILIES)]


def by_key(result):
    return {(f.rule_id, f.node): f for f in ours(result)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_findings_on_each_architecture(linter, name):
    result = lint(linter, name)
    got = {(f.rule_id, f.node, f.level) for f in ours(result)}
    assert got == EXPECTED[name], "\n".join(f"{f.rule_id} [{f.level}] {f.node}: {f.message}" for f in ours(result))
    assert not [n for n in result.notes if n.startswith("rule ")], result.notes
    for f in ours(result):  # every finding names its node and gives a message; quantified rules give numbers
        assert f.node and f.message


def test_mobilenet_is_clean_for_bf16_too():
    result = lint(None, "mobilenet_tiny", judged_formats=("fp16", "bf16"))
    assert [f for f in ours(result) if f.level_for("bf16") != "none"] == []
    assert [(f.rule_id, f.level) for f in ours(result)] == [("A002", "warning")]  # fp16 accumulation in the pool


def test_conditional_findings_say_what_they_assume(linter):
    unet = by_key(lint(linter, "unet_block"))
    assert unet[("C005", "/Sin")].conditional and "1000" in unet[("C005", "/Sin")].assumptions[0]
    llama = by_key(lint(linter, "llama_block"))
    assert llama[("R006", "/input_layernorm/Pow")].conditional
    assert not llama[("C005", "/self_attn/Cos")].conditional  # positions proven by the Range: 0..2047
    flow = by_key(lint(linter, "flow_warp"))
    assert not flow[("C002", "/Add")].conditional and not flow[("C001", "/GridSample")].conditional


def test_declared_ranges_prove_or_clear(linter):
    # the timestep's declared range makes the phase finding proven (error, not conditional)
    unet = by_key(lint(linter, "unet_block", input_ranges={"timestep": (0.0, 1000.0)}))
    assert unet[("C005", "/Sin")].level == "error" and not unet[("C005", "/Sin")].conditional
    # a residual stream declared within +-4 cannot overflow a sum of 64 squares (limit: RMS 32)
    llama = by_key(lint(linter, "llama_block", input_ranges={"hidden_states": (-4.0, 4.0)}))
    assert ("R006", "/input_layernorm/Pow") not in llama


# ----- numeric checks: the estimates against numpy running the same arithmetic on the models' shapes ------------


def test_flow_warp_coordinates_in_fp16(linter):
    """/Add -> Gather -> Mul(2) -> Div(1023) -> Sub(1) in fp16, as the model computes its x grid."""
    flow = by_key(lint(linter, "flow_warp"))
    est = flow[("C002", "/Add")].estimates["fp16"].value
    rng = np.random.default_rng(0)
    mesh = np.tile(np.arange(1024, dtype=np.float64), (512, 1))
    coords = mesh + rng.uniform(-3, 3, mesh.shape)
    c16 = coords.astype(np.float16)
    g16 = (c16 * np.float16(2)) / np.float16(1023) - np.float16(1)
    pos = (g16.astype(np.float64) + 1) / 2 * 1023  # GridSample unnormalising exactly (an fp32 GridSample)
    inside = (coords >= 0) & (coords <= 1023)
    err = np.max(np.abs(pos - coords)[inside])
    assert 0.25 <= err <= est + 1e-9  # the storage alone is 0.25 px; the estimate is the worst case
    assert est / 2 < err


def test_llama_rope_table_in_fp16(linter):
    """The model's own inv_freq constant and positions 0..2047, the table computed with numpy float16."""
    g = load_model(os.path.join(ARCH, "llama_block.onnx"))
    einsum = g.ops["/self_attn/Einsum"]
    inv_freq = g.tensors[einsum.inputs[1]].value.astype(np.float32)
    pos = np.arange(2048, dtype=np.float16)
    table16 = np.cos(pos[:, None] * inv_freq.astype(np.float16)[None, :])
    exact = np.cos(np.arange(2048, dtype=np.float64)[:, None] * inv_freq.astype(np.float64)[None, :])
    direct = float(np.max(np.abs(table16.astype(np.float64) - exact)))
    est = by_key(lint(linter, "llama_block"))[("C005", "/self_attn/Cos")].estimates["fp16"].value
    assert direct == pytest.approx(est, rel=0.1)


def test_bert_mask_makes_nan_rows_in_fp16():
    g = load_model(os.path.join(ARCH, "bert_tiny.onnx"))
    mul = g.ops["/Mul"]
    lowest = float(g.tensors[mul.inputs[1]].value)
    with np.errstate(over="ignore"):
        mask = (np.float16(1.0) - np.float16(0.0)) * np.float16(lowest)  # a masked position
    assert np.isneginf(mask)
    row = np.full(128, mask, dtype=np.float16)  # a fully masked row (all padding)
    with np.errstate(invalid="ignore"):
        p = np.exp(row - row.max())
        assert np.isnan(p / p.sum()).all()


def test_unet_groupnorm_variance_sum_in_fp16(linter):
    """8 fp16 lanes summing 16384 squares, as the A005 estimate assumes, on N(0,1) activations."""
    est = by_key(lint(linter, "unet_block"))[("A005", "/res/norm1/InstanceNormalization")].estimates["fp16"].value
    rng = np.random.default_rng(1)
    sq = (rng.standard_normal((8, 16384)) ** 2).astype(np.float16)
    lanes = np.add.accumulate(sq.reshape(8, -1, 8), axis=1, dtype=np.float16)[:, -1, :]
    got = lanes.astype(np.float64).sum(axis=1)
    rel = np.abs(got - sq.astype(np.float64).sum(axis=1)) / sq.astype(np.float64).sum(axis=1)
    assert est / 3 < float(np.sqrt(np.mean(rel**2))) < est * 3
    # and the overflow limit the message states: RMS 2.0 over 16384 squares
    x = np.full(16384, 2.01, dtype=np.float16)
    with np.errstate(over="ignore"):
        assert np.isinf(np.add.reduce((x * x).astype(np.float16), dtype=np.float16))


def test_unet_attention_value_matmul_depth():
    """/attn/MatMul_1 sums K = 4096 softmax-weighted values: fp16 accumulation stays below 1% (no finding)."""
    from precision_lint import numerics

    rng = np.random.default_rng(2)
    logits = rng.standard_normal((32, 4096)) * 2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    v = rng.standard_normal((32, 4096))
    prod = (p.astype(np.float16) * v.astype(np.float16)).astype(np.float16)
    acc = np.add.accumulate(prod, axis=1, dtype=np.float16)[:, -1].astype(np.float64)
    exact = prod.astype(np.float64).sum(axis=1)
    rel = float(np.sqrt(np.mean((acc - exact) ** 2)) / np.sqrt(np.mean(exact**2)))
    assert rel < 0.01 and numerics.dot_relative_error(4096, "fp16") < 0.01


def test_llama_rmsnorm_overflow_limit():
    """RMS 32 over the 64 hidden units: just above it the fp16 sum of squares is inf."""
    x = np.full(64, 32.1, dtype=np.float16)
    with np.errstate(over="ignore"):
        assert np.isinf(np.add.reduce(x * x, dtype=np.float16))
        assert np.isfinite(np.add.reduce(np.full(64, 31.9, dtype=np.float16) ** 2, dtype=np.float16))
        assert math.isinf(float(np.exp(np.float16(11.1))))  # and R004's limit


def test_rules_scale_to_a_large_graph(tmp_path):
    """4500 operators (500 decomposed RMSNorm + SiLU blocks): every rule runs to the end (no budget notes) and
    finds each block's trap once (anchors are indexed by op, walks are bounded, bounds are computed once)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from precision_lint.engine.rules import load_rules
    from precision_lint.workflow.selectors import select_rules
    from precision_lint.engine.runner import RuleRunner

    nodes, inits, x, d, blocks = [], [], "x", 16, 500
    inits += [
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
        numpy_helper.from_array((np.eye(d) * 0.5).astype(np.float32), "w"),
    ]
    for i in range(blocks):
        nodes += [
            helper.make_node("Pow", [x, "two"], [f"p{i}"], name=f"pow{i}"),
            helper.make_node("ReduceMean", [f"p{i}"], [f"m{i}"], name=f"rm{i}", axes=[-1]),
            helper.make_node("Add", [f"m{i}", "eps"], [f"a{i}"], name=f"add{i}"),
            helper.make_node("Sqrt", [f"a{i}"], [f"s{i}"], name=f"sqrt{i}"),
            helper.make_node("Div", [x, f"s{i}"], [f"n{i}"], name=f"div{i}"),
            helper.make_node("MatMul", [f"n{i}", "w"], [f"mm{i}"], name=f"mm{i}"),
            helper.make_node("Sigmoid", [f"mm{i}"], [f"sg{i}"], name=f"sg{i}"),
            helper.make_node("Mul", [f"mm{i}", f"sg{i}"], [f"silu{i}"], name=f"silu{i}"),
            helper.make_node("Add", [x, f"silu{i}"], [f"r{i}"], name=f"res{i}"),
        ]
        x = f"r{i}"
    graph = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, d])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 8, d])],
        inits,
    )
    path = str(tmp_path / "big.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    findings, notes = RuleRunner(select_rules(load_rules(), FAMILIES)).run(load_model(path))
    assert not notes, notes[:3]
    counts = {}
    for f in findings:
        if f.level != "none":
            counts[f.rule_id] = counts.get(f.rule_id, 0) + 1
    assert counts == {"R002": blocks, "R006": blocks, "X002": 1}


# ----- the same models converted by MNN's converter: equivalent findings, minus what the converter fuses ----------

EXPECTED_MNN = {
    "vit_tiny": {("S002", "info"): 1},  # erf GELU fused into MNN's tanh GELU (rule M003 reports that)
    "bert_tiny": {("R001", "error"): 1, ("R003", "warning"): 5, ("S002", "info"): 1},
    "unet_block": {
        ("A005", "error"): 3,
        ("C005", "warning"): 2,
        ("A001", "info"): 1,
        ("S002", "info"): 1,
        ("X002", "info"): 1,
    },  # GroupNorm becomes LayerNorm; SiLU becomes Swish
    "flow_warp": {("C001", "error"): 1, ("C002", "error"): 1},  # the mesh is folded into a constant
    "mobilenet_tiny": {("A002", "warning"): 1},
    "llama_block": {("A001", "info"): 1, ("S002", "info"): 1, ("X002", "info"): 1},  # RoPE folded, RMSNorm fused
}


@pytest.mark.parametrize("name", sorted(EXPECTED_MNN))
def test_findings_on_the_mnn_conversions(linter, tmp_path_factory, name):
    from mnn_models import converted

    mnn_path = converted(tmp_path_factory)[name][1]
    result = linter.lint_file(mnn_path)
    assert result.error is None, result.error
    counts = {}
    for f in ours(result):
        counts[(f.rule_id, f.level)] = counts.get((f.rule_id, f.level), 0) + 1
    assert counts == EXPECTED_MNN[name], "\n".join(
        f"{f.rule_id} [{f.level}] {f.node}: {f.message}" for f in ours(result)
    )
