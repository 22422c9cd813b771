"""Shape-only models: the named architectures with random weights from a fixed seed (imports torch).

BERT-base/large, the long encoder ``bert-long``, GPT-2 small/medium and the long-context Llama-style ``llama-long`` are
transformers' own ``BertModel`` / ``GPT2LMHeadModel`` / ``LlamaForCausalLM`` built from a config. The MPCViT models (``vit-cifar``, ``vit-tiny``) are :class:`CCTViT`, a
re-statement of MPCViT's ViT-Lite (``src/vit.py``, ``src/utils/transformers.py``,
`docs/sources.md (MPC)` §1): a 4x4-patch convolutional tokenizer, a class token, a learnable
positional embedding, and CCT blocks ``x = x + attn(LN(x)); x = LN(x); x = x + MLP(x)``, then a final
LayerNorm and a linear classifier on the class token. Attention per head is ``softmax`` (the
baseline), ``relu_softmax`` (relu(A) / (sum relu(A) + 1e-5)) or ``scaling`` (A / N), MPCViT's variants.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hwsim.errors import HwsimError

from .bundled import MAX_POSITIONS, VIT_PATCH as PATCH, vit_image_size
from .models import ModelSpec

__all__ = ["CCTViT", "build_synthetic", "HEAD_KINDS"]

HEAD_KINDS = ("softmax", "relu_softmax", "scaling")
#: Classes of the classifier head: CIFAR-10 (vit_7_4_32) and Tiny-ImageNet (vit_9_12_64).
VIT_CLASSES = {"vit-cifar": 10, "vit-tiny": 200}
#: MPCViT's ReLU-softmax epsilon (``self.eps = 1e-5`` in ``Attention``).
RELU_SOFTMAX_EPS = 1e-5


def eager_attention_forward(module, query, key, value, attention_mask, scaling, **kwargs):
    """Attention of one layer, [1, heads, N, d] in; returns (output [1, N, heads, d], probabilities).

    Same signature as transformers' eager attention so :class:`workloads.tracer.AttentionCapture`
    traces it. ``module.head_kinds`` selects each head's form.
    """
    scores = (query @ key.transpose(-2, -1)) * scaling
    kinds = module.head_kinds
    if all(k == "softmax" for k in kinds):
        probs = scores.softmax(dim=-1)
    else:
        rows = []
        for h, kind in enumerate(kinds):
            s = scores[:, h]
            if kind == "softmax":
                rows.append(s.softmax(dim=-1))
            elif kind == "relu_softmax":
                r = F.relu(s)
                rows.append(r / (r.sum(dim=-1, keepdim=True) + RELU_SOFTMAX_EPS))
            else:
                rows.append(s / s.shape[-1])
        probs = torch.stack(rows, dim=1)
    return (probs @ value).transpose(1, 2), probs


class CCTAttention(nn.Module):
    """MPCViT's ``Attention``: a bias-free qkv projection, per-head attention form, output projection."""

    def __init__(self, dim: int, heads: int, head_kinds: Sequence[str]):
        super().__init__()
        self.heads = heads
        self.scaling = (dim // heads) ** -0.5
        self.head_kinds = tuple(head_kinds)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out, _ = eager_attention_forward(self, qkv[0], qkv[1], qkv[2], None, self.scaling)
        return self.proj(out.reshape(b, n, c))


class CCTBlock(nn.Module):
    """``x = x + attn(pre_norm(x)); x = norm1(x); x = x + linear2(gelu(linear1(x)))`` (MPCViT)."""

    def __init__(self, dim: int, heads: int, ffn: int, head_kinds: Sequence[str]):
        super().__init__()
        self.pre_norm = nn.LayerNorm(dim)
        self.self_attn = CCTAttention(dim, heads, head_kinds)
        self.norm1 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn)
        self.linear2 = nn.Linear(ffn, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.pre_norm(x))
        x = self.norm1(x)
        return x + self.linear2(F.gelu(self.linear1(x)))


class CCTViT(nn.Module):
    """MPCViT's ViT-Lite: conv tokenizer (patch 4), class token, positional embedding, CCT blocks."""

    def __init__(self, *, layers: int, hidden: int, heads: int, ffn: int, image_size: int, classes: int,
                 channels: int = 3, head_kinds: Sequence[str] | None = None):
        super().__init__()
        kinds = tuple(head_kinds) if head_kinds is not None else ("softmax",) * heads
        if len(kinds) != heads or any(k not in HEAD_KINDS for k in kinds):
            raise HwsimError(f"head_kinds: expected {heads} entries from {', '.join(HEAD_KINDS)}, got {list(kinds)}")
        if image_size % PATCH:
            raise HwsimError(f"image size {image_size}: expected a multiple of the patch size {PATCH}")
        self.image_size, self.channels = image_size, channels
        tokens = (image_size // PATCH) ** 2 + 1
        self.tokenizer = nn.Conv2d(channels, hidden, PATCH, stride=PATCH, bias=True)
        self.class_emb = nn.Parameter(torch.zeros(1, 1, hidden))
        self.positional_emb = nn.Parameter(torch.zeros(1, tokens, hidden))
        self.blocks = nn.ModuleList(CCTBlock(hidden, heads, ffn, kinds) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.fc = nn.Linear(hidden, classes)
        # MPCViT's initialisation (TransformerClassifier.init_weight, Tokenizer.init_weight).
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
        nn.init.trunc_normal_(self.positional_emb, std=0.2)

    @property
    def attention_form(self) -> str:
        """``softmax``, ``relu_softmax`` or ``scaling`` when every head uses it, else ``mixed``."""
        kinds = set(self.blocks[0].self_attn.head_kinds)
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.tokenizer(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_emb.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.positional_emb
        for blk in self.blocks:
            x = blk(x)
        return self.fc(self.norm(x)[:, 0])


def build_synthetic(spec: ModelSpec, *, seed: int, tokens: int | None = None,
                    head_kinds: Sequence[str] | None = None) -> nn.Module:
    """Build the shape-only model of ``spec`` with random weights drawn from ``seed``, eager attention."""
    torch.manual_seed(seed)
    if spec.family == "vit":
        return CCTViT(layers=spec.layers, hidden=spec.hidden, heads=spec.heads, ffn=spec.ffn,
                      image_size=vit_image_size(tokens or spec.tokens), classes=VIT_CLASSES.get(spec.name, 10),
                      head_kinds=head_kinds).eval()
    if spec.family == "bert":
        from transformers import BertConfig, BertModel

        cfg = BertConfig(vocab_size=spec.vocab, hidden_size=spec.hidden, num_hidden_layers=spec.layers,
                         num_attention_heads=spec.heads, intermediate_size=spec.ffn,
                         max_position_embeddings=MAX_POSITIONS.get(spec.name, 512),
                         hidden_act="gelu")
        cfg._attn_implementation = "eager"
        return BertModel(cfg).eval()
    if spec.family == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = GPT2Config(vocab_size=spec.vocab, n_embd=spec.hidden, n_layer=spec.layers, n_head=spec.heads,
                         n_inner=spec.ffn, n_positions=1024, activation_function="gelu_new")
        cfg._attn_implementation = "eager"
        return GPT2LMHeadModel(cfg).eval()
    if spec.family == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(vocab_size=spec.vocab, hidden_size=spec.hidden, intermediate_size=spec.ffn,
                          num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                          num_key_value_heads=spec.kv_heads, max_position_embeddings=MAX_POSITIONS.get(spec.name, 8192),
                          rms_norm_eps=1e-5, rope_theta=100000.0, hidden_act="silu", tie_word_embeddings=True)
        cfg._attn_implementation = "eager"
        return LlamaForCausalLM(cfg).eval()
    raise HwsimError(f"model {spec.name!r}: no shape-only builder for family {spec.family!r}")
