"""Export small, realistic neural-network architectures to ONNX.

Each model is written in plain ``torch.nn`` the way real model code writes it,
so the exported graphs contain the decomposed patterns real exporters produce
(LayerNorm, hand-written attention, HF-style finfo.min masks, RoPE, sinusoidal
timestep embeddings, grid_sample warping, ...). Widths are tiny so every file
stays small; the weights are random (torch.manual_seed(0)) and embedded in the
.onnx (no external data).

Regenerate (torch==2.13.0, legacy TorchScript exporter, opset 17):

    python sample_models/architectures/export.py

All models use the exporter's default constant folding. With static input
shapes the legacy exporter turns shape-only computations into constants, so
``llama_block`` (RoPE positions, causal mask) and ``flow_warp`` (pixel mesh)
are traced with the sequence / spatial dims marked dynamic, as HF/optimum
exports are. That keeps Range / ConstantOfShape / Trilu / Sin / Cos in the
graph and keeps the 2048x2048 mask and 512x1024 mesh from becoming multi-MB
initializers. The dims are then pinned back to their static sizes, and the
remaining Shape->Gather->Unsqueeze->Concat arithmetic (tensors of <= 64
elements computed from Constants and static shapes) is folded into Constants
(_fold_shape_arithmetic), so ONNX shape inference knows every tensor shape.
The inferred value_info is stored in each file.

Note: the exporter evaluates anything that depends on no input, even with
do_constant_folding=False. In ``unet_block`` the sinusoidal frequencies
exp(arange(16) * -log(10000)/16) and in ``llama_block`` inv_freq therefore
show up as Constants [16] / [8]; no Exp node survives.
"""

from __future__ import annotations

import math
import os
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


# ---------------------------------------------------------------------------
# 1. ViT-tiny
# ---------------------------------------------------------------------------
class ViTAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class ViTMlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # erf form
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class ViTBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = ViTAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = ViTMlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class ViTTiny(nn.Module):
    def __init__(self, img_size=224, patch=16, dim=64, depth=2, num_heads=4, num_classes=10):
        super().__init__()
        num_patches = (img_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([ViTBlock(dim, num_heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.normal_(self.cls_token, std=0.02)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # B, N, C
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1)
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0])


# ---------------------------------------------------------------------------
# 2. BERT-tiny
# ---------------------------------------------------------------------------
class BertEmbeddings(nn.Module):
    def __init__(self, vocab=1000, dim=64, max_pos=128, type_vocab=2):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)
        self.position_embeddings = nn.Embedding(max_pos, dim)
        self.token_type_embeddings = nn.Embedding(type_vocab, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, input_ids):
        seq_len = input_ids.shape[1]
        position_ids = torch.arange(seq_len, dtype=torch.long).unsqueeze(0)
        token_type_ids = torch.zeros_like(input_ids)
        emb = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(position_ids)
            + self.token_type_embeddings(token_type_ids)
        )
        return self.LayerNorm(emb)


class BertSelfAttention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def split(self, x):
        B, S, _ = x.shape
        return x.view(B, S, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, hidden, ext_mask):
        q = self.split(self.query(hidden))
        k = self.split(self.key(hidden))
        v = self.split(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + ext_mask
        probs = nn.functional.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        B, S = ctx.shape[0], ctx.shape[1]
        return ctx.view(B, S, -1)


class BertLayer(nn.Module):
    def __init__(self, dim, num_heads, inter):
        super().__init__()
        self.attention = BertSelfAttention(dim, num_heads)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=1e-12)
        self.intermediate = nn.Linear(dim, inter)
        self.act = nn.GELU()
        self.output = nn.Linear(inter, dim)
        self.out_norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, hidden, ext_mask):
        a = self.attn_norm(self.attn_out(self.attention(hidden, ext_mask)) + hidden)
        return self.out_norm(self.output(self.act(self.intermediate(a))) + a)


class BertTiny(nn.Module):
    def __init__(self, vocab=1000, dim=64, layers=2, num_heads=4, inter=256, max_pos=128):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, dim, max_pos)
        self.layers = nn.ModuleList([BertLayer(dim, num_heads, inter) for _ in range(layers)])
        self.pooler = nn.Linear(dim, dim)
        self.pooler_act = nn.Tanh()

    def forward(self, input_ids, attention_mask):
        # HF transformers get_extended_attention_mask
        ext = attention_mask[:, None, None, :].float()
        ext = (1.0 - ext) * torch.finfo(torch.float32).min
        h = self.embeddings(input_ids)
        for layer in self.layers:
            h = layer(h, ext)
        pooled = self.pooler_act(self.pooler(h[:, 0]))
        return h, pooled


# ---------------------------------------------------------------------------
# 3. Diffusion UNet block
# ---------------------------------------------------------------------------
def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(max_period) / half))
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, ch, temb_ch):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, ch, eps=1e-5)
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.temb_proj = nn.Linear(temb_ch, ch)
        self.norm2 = nn.GroupNorm(8, ch, eps=1e-5)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.norm = nn.GroupNorm(8, ch, eps=1e-5)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        b, c, hh, ww = q.shape
        q = q.reshape(b, c, hh * ww).permute(0, 2, 1)  # b, hw, c
        k = k.reshape(b, c, hh * ww)  # b, c, hw
        w = torch.bmm(q, k) * (int(c) ** (-0.5))  # b, hw, hw
        w = F.softmax(w, dim=2)  # softmax over 4096 keys
        v = v.reshape(b, c, hh * ww)
        h = torch.bmm(v, w.permute(0, 2, 1)).reshape(b, c, hh, ww)
        return x + self.proj_out(h)


class UNetBlock(nn.Module):
    def __init__(self, ch=32, temb_dim=32):
        super().__init__()
        self.temb_dim = temb_dim
        self.time_embed = nn.Sequential(nn.Linear(temb_dim, temb_dim * 4), nn.SiLU())
        self.res = ResBlock(ch, temb_dim * 4)
        self.attn = AttnBlock(ch)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, latent, timestep):
        temb = self.time_embed(timestep_embedding(timestep, self.temb_dim))
        h = self.res(latent, temb)
        h = self.attn(h)
        return self.up_conv(self.upsample(h))


# ---------------------------------------------------------------------------
# 4. Optical-flow warp (RAFT / PWC-Net style backward warp)
# ---------------------------------------------------------------------------
class FlowWarp(nn.Module):
    def __init__(self, ch=3, hidden=16):
        super().__init__()
        self.refine1 = nn.Conv2d(ch, hidden, 3, padding=1)
        self.refine2 = nn.Conv2d(hidden, ch, 3, padding=1)

    def forward(self, image, flow):
        B, _, H, W = image.shape
        ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        grid = torch.stack((xs, ys), dim=0).float()[None].repeat(B, 1, 1, 1)  # B,2,H,W (x,y)
        vgrid = grid + flow
        vx = 2.0 * vgrid[:, 0, :, :] / max(W - 1, 1) - 1.0
        vy = 2.0 * vgrid[:, 1, :, :] / max(H - 1, 1) - 1.0
        vgrid = torch.stack((vx, vy), dim=1).permute(0, 2, 3, 1)  # B,H,W,2
        warped = F.grid_sample(image, vgrid, mode="bilinear", padding_mode="zeros", align_corners=True)
        return warped + self.refine2(F.relu(self.refine1(warped)))


# ---------------------------------------------------------------------------
# 5. MobileNetV2-tiny (the "clean" model)
# ---------------------------------------------------------------------------
def conv_bn_relu6(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            conv_bn_relu6(cin, hidden, 1),
            conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu6(3, 16, 3, stride=2),
            InvertedResidual(16, 16, 1, 4),
            InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(x)


# ---------------------------------------------------------------------------
# 6. LLaMA decoder block
# ---------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, dim, num_heads, rope_theta=10000.0):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.rope_theta = rope_theta
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def rope(self, seq_len):
        d = self.head_dim
        inv_freq = 1.0 / (self.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        pos = torch.arange(seq_len, dtype=torch.float32)
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def forward(self, x):
        B, S, _ = x.shape
        q = self.q_proj(x).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        cos, sin = self.rope(S)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        mask = torch.full((S, S), float("-inf")).triu(1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        scores = scores + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(B, S, -1)
        return self.o_proj(out)


class LlamaMLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, dim=64, num_heads=4, hidden=172):
        super().__init__()
        self.input_layernorm = RMSNorm(dim, eps=1e-6)
        self.self_attn = LlamaAttention(dim, num_heads)
        self.post_attention_layernorm = RMSNorm(dim, eps=1e-6)
        self.mlp = LlamaMLP(dim, hidden)

    def forward(self, hidden_states):
        h = hidden_states + self.self_attn(self.input_layernorm(hidden_states))
        return h + self.mlp(self.post_attention_layernorm(h))


# ---------------------------------------------------------------------------
# Export driver
# ---------------------------------------------------------------------------
def _specs():
    torch.manual_seed(0)
    specs = []
    specs.append(
        dict(
            name="vit_tiny",
            model=ViTTiny(),
            args=(torch.randn(1, 3, 224, 224),),
            inputs=["pixel_values"],
            outputs=["logits"],
        )
    )
    ids = torch.randint(0, 1000, (1, 128), dtype=torch.long)
    mask = torch.ones(1, 128, dtype=torch.long)
    mask[:, 100:] = 0
    specs.append(
        dict(
            name="bert_tiny",
            model=BertTiny(),
            args=(ids, mask),
            inputs=["input_ids", "attention_mask"],
            outputs=["last_hidden_state", "pooler_output"],
        )
    )
    specs.append(
        dict(
            name="unet_block",
            model=UNetBlock(),
            args=(torch.randn(1, 32, 64, 64), torch.tensor([500.0])),
            inputs=["latent", "timestep"],
            outputs=["out"],
        )
    )
    specs.append(
        dict(
            name="flow_warp",
            model=FlowWarp(),
            dynamic={"image": {2: 512, 3: 1024}, "flow": {2: 512, 3: 1024}, "warped": {2: 512, 3: 1024}},
            args=(torch.randn(1, 3, 512, 1024), torch.randn(1, 2, 512, 1024) * 4.0),
            inputs=["image", "flow"],
            outputs=["warped"],
        )
    )
    specs.append(
        dict(
            name="mobilenet_tiny",
            model=MobileNetTiny(),
            args=(torch.randn(1, 3, 224, 224),),
            inputs=["input"],
            outputs=["logits"],
        )
    )
    specs.append(
        dict(
            name="llama_block",
            model=LlamaBlock(),
            dynamic={"hidden_states": {1: 2048}, "out_hidden_states": {1: 2048}},
            args=(torch.randn(1, 2048, 64),),
            inputs=["hidden_states"],
            outputs=["out_hidden_states"],
        )
    )
    return specs


def _pin_dims(model, dynamic):
    """Replace the symbolic dims introduced by dynamic_axes with static sizes."""
    for vi in list(model.graph.input) + list(model.graph.output):
        for axis, size in dynamic.get(vi.name, {}).items():
            dim = vi.type.tensor_type.shape.dim[axis]
            dim.Clear()
            dim.dim_value = size
    del model.graph.value_info[:]


# Ops that carry the arithmetic the sample models exist to show; never folded.
_KEEP_OPS = {"Range", "Trilu", "Exp", "Sin", "Cos", "Einsum", "Erf", "Softmax", "Identity"}
_MAX_FOLD_ELEMS = 64  # only fold shape-sized tensors, never real data


def _static_shapes(model):
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[vi.name] = [d.dim_value for d in t.shape.dim]
    return shapes


def _fold_shape_arithmetic(model):
    """Fold Shape-of-static-tensor chains (Shape/Gather/Unsqueeze/Concat/Cast...)
    into Constants, as the exporter does for fully static models.

    Only tiny integer/scalar tensors (<= _MAX_FOLD_ELEMS elements) are folded and
    _KEEP_OPS are left alone, so Range / ConstantOfShape(mask) / Trilu / Sin / Cos
    stay in the graph while every tensor shape becomes inferable.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    changed = True
    while changed:
        changed = False
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
        shapes = _static_shapes(model)
        consts = {}  # Constant-node outputs only: weights (initializers) stay as they are
        for n in model.graph.node:
            if n.op_type == "Constant" and n.attribute[0].name == "value":
                consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        new_nodes = []
        for n in model.graph.node:
            vals = None
            if n.op_type == "Shape" and n.input[0] in shapes:
                attrs = {a.name: a.i for a in n.attribute}
                shp = shapes[n.input[0]]
                vals = [np.array(shp[attrs.get("start", 0) : attrs.get("end", len(shp))], dtype=np.int64)]
            elif (
                n.op_type not in _KEEP_OPS
                and n.op_type != "Constant"
                and n.input
                and all(i == "" or i in consts for i in n.input)
                and all(consts[i].size <= _MAX_FOLD_ELEMS for i in n.input if i)
            ):
                feeds = {i: consts[i] for i in n.input if i}
                vals = ReferenceEvaluator(n).run(None, feeds)
                if any(np.asarray(v).size > _MAX_FOLD_ELEMS for v in vals):
                    vals = None
            if vals is None:
                new_nodes.append(n)
                continue
            for k, (out, v) in enumerate(zip(n.output, vals)):
                new_nodes.append(
                    helper.make_node(
                        "Constant",
                        [],
                        [out],
                        name=f"{n.name}_folded{k if k else ''}",
                        value=numpy_helper.from_array(np.asarray(v), out),
                    )
                )
            changed = True
        del model.graph.node[:]
        model.graph.node.extend(new_nodes)
    # Drop nodes whose outputs are no longer used.
    while True:
        used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
        keep = [n for n in model.graph.node if any(o in used for o in n.output)]
        if len(keep) == len(model.graph.node):
            break
        del model.graph.node[:]
        model.graph.node.extend(keep)
    del model.graph.value_info[:]
    return model


def export_all(out_dir: str = OUT_DIR, only=None):
    import onnx

    paths = []
    for spec in _specs():
        if only and spec["name"] not in only:
            continue
        model = spec["model"].eval()
        path = os.path.join(out_dir, spec["name"] + ".onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                spec["args"],
                path,
                dynamo=False,
                opset_version=OPSET,
                input_names=spec["inputs"],
                output_names=spec["outputs"],
                dynamic_axes=(
                    {k: {a: f"{k}_dim{a}" for a in v} for k, v in spec["dynamic"].items()}
                    if spec.get("dynamic")
                    else None
                ),
            )
        m = onnx.load(path)
        if spec.get("dynamic"):
            _pin_dims(m, spec["dynamic"])
        m = _fold_shape_arithmetic(m)
        onnx.checker.check_model(m, full_check=True)
        # Store the shape-inferred graph so value_info is populated.
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)
        print(f"{spec['name']}: {os.path.getsize(path)} bytes -> {path}")
        paths.append(path)
    return paths


if __name__ == "__main__":
    export_all(only=sys.argv[1:] or None)
