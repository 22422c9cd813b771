"""Trace your own model: a local transformers checkpoint folder, or an ``nn.Module`` in memory (imports torch).

Families the tracer captures (:data:`FAMILIES`, by the config's ``model_type``): BERT-like encoders
(``bert``), GPT-2 (``gpt2``), Llama-style decoders with grouped-query attention (``llama``) and ViT
(``vit``). They all run transformers' module-level eager attention, which
:class:`workloads.tracer.AttentionCapture` records (the one tracer; a model loaded with ``sdpa``
is switched to eager attention for the pass and back). Any other module class is refused in one
line naming it.

* :func:`trace_model` ``(model, tokenizer_or_ids, ...)``: a model object. Inputs: a tokenizer (it
  reads ``text``: ``pydoc``, ``shakespeare`` or a file, as the bundled models do), token ids, a
  pixel tensor (ViT), or None (random ids or a random image from ``seed``; the trace is then
  labelled synthetic). Decoders generate ``generate`` tokens greedily after the prompt.
* :func:`trace_checkpoint` ``(folder, ...)``: a folder with ``config.json`` and weights
  (``model.safetensors``, ``pytorch_model.bin`` or a sharded index), loaded with
  ``local_files_only=True`` and the hub offline; a folder holding one ``.gguf`` file and no
  ``config.json`` loads that file. A tokenizer in the folder is used when present, random token
  ids otherwise.
* :func:`get_checkpoint`: :func:`trace_checkpoint` through the trace cache, keyed by the folder's
  file contents (``workloads.resolve`` and ``hwsim simulate --workload FOLDER`` use it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.errors import HwsimError
from hwsim.version import __version__

from .bundled import SYNTHETIC_SEED, _pkg_version, _quiet_transformers, _Status, _tokenize, cache_dir, cached, read_text
from .models import ModelSpec
from .trace import VERSION, Trace

__all__ = ["FAMILIES", "DEFAULT_TOKENS", "trace_model", "trace_checkpoint", "get_checkpoint", "checkpoint_cache_path",
           "load_checkpoint", "spec_for_model"]

#: Config ``model_type`` -> what the tracer captures of it.
FAMILIES = {
    "bert": "BERT-like encoder",
    "gpt2": "GPT-2 decoder",
    "llama": "Llama-style decoder (grouped-query attention)",
    "vit": "ViT encoder",
}
#: Prompt tokens when none are asked for (text models).
DEFAULT_TOKENS = 128
#: Text a tokenizer reads unless told otherwise: CPython's docs for encoders, Hamlet for decoders.
DEFAULT_TEXT = {"encoder": "pydoc", "decoder": "shakespeare"}
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model")
_RANDOM_NOTE = ("random inputs (token ids or an image from a fixed seed) on the model's own weights; tensor shapes "
                "and op graph are the model's, its attention patterns on real inputs may differ")


def _supported_list() -> str:
    return ", ".join(f"{t} ({d})" for t, d in FAMILIES.items())


def _refuse(model: Any, why: str) -> HwsimError:
    return HwsimError(f"{type(model).__name__}: cannot trace this module class ({why}); expected a transformers "
                      f"model of type {_supported_list()}")


def spec_for_model(model: Any, *, name: str, tokens: int, generate: int = 0, real: bool, source: str) -> ModelSpec:
    """The :class:`ModelSpec` of a supported transformers model; refuse any other module in one line."""
    config = getattr(model, "config", None)
    mt = getattr(config, "model_type", None)
    if mt is None:
        raise _refuse(model, "no transformers config")
    if mt not in FAMILIES:
        raise _refuse(model, f"model_type {mt!r}")
    if mt == "vit":
        if getattr(config, "hidden_act", "gelu") != "gelu":
            raise _refuse(model, f"ViT activation {config.hidden_act!r}, expected gelu")
        spec = ModelSpec(name=name, family="vit", mode="encoder", layers=config.num_hidden_layers,
                         hidden=config.hidden_size, heads=config.num_attention_heads,
                         kv_heads=config.num_attention_heads, ffn=config.intermediate_size, tokens=tokens,
                         activation="gelu", norm="layernorm", block="pre_ln")
    else:
        from .tracer import spec_from_config  # lazy: the tracer imports torch

        spec = spec_from_config(config, name=name, tokens=tokens, generate_tokens=generate)
    return dataclasses.replace(spec, real=real, source=source)


@contextlib.contextmanager
def _eager(model):
    """Run the block with eager attention (the capture needs it), then restore the model's own."""
    config = model.config
    before = getattr(config, "_attn_implementation", None)
    if before in (None, "eager"):
        yield
        return
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def _max_positions(config) -> int | None:
    return next((getattr(config, k) for k in ("max_position_embeddings", "n_positions")
                 if getattr(config, k, None)), None)


def _is_tokenizer(x: Any) -> bool:
    import torch

    return x is not None and not isinstance(x, (torch.Tensor, np.ndarray, list, tuple)) and callable(
        getattr(x, "decode", None))


def _count(flag: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise HwsimError(f"{flag} {v!r}: expected an integer >= {lo}")
    return int(v)


def trace_model(
    model: Any,
    tokenizer_or_ids: Any = None,
    *,
    tokens: int | None = None,
    generate: int = 0,
    text: str | dict | None = None,
    seed: int = SYNTHETIC_SEED,
    name: str | None = None,
    spec: ModelSpec | None = None,
    prompt_tokens: int | None = None,
    attention: str | None = None,
    real: bool | None = None,
    provenance: dict | None = None,
    workload: str | None = None,
) -> Trace:
    """Trace one forward pass of a model object; return the :class:`~workloads.trace.Trace`.

    ``tokenizer_or_ids``: a tokenizer (reads ``tokens`` tokens of ``text``: ``pydoc``,
    ``shakespeare`` or a text file; default pydoc for an encoder, shakespeare for a decoder), token
    ids ([T] or [1, T]), pixels [1, C, H, W] (ViT), or None (random ids or image from ``seed``).
    ``generate``: tokens a decoder generates greedily after the prompt (the trace covers prompt +
    continuation, ``prompt_tokens`` = the prompt). ``real``: whether the manifest calls it real
    (default: True unless the inputs are random). With ``spec`` any eager-attention module is
    traced as that shape (e.g. :class:`workloads.synthetic.CCTViT`); otherwise the model must be
    one of :data:`FAMILIES`, and anything else is refused naming its class. ``text`` may also be
    the manifest's text entry (a dict) for ids the caller made.
    """
    import torch

    from . import tracer  # lazy: the tracer imports torch

    tracer.configure_threads()
    generate = _count("generate", generate, 0)
    config = getattr(model, "config", None)
    if spec is None:
        spec_for_model(model, name="-", tokens=1, real=False, source="")  # refuse early, before any work
        vit = config.model_type == "vit"
        if generate and config.model_type not in ("gpt2", "llama"):
            raise HwsimError(f"generate={generate}: {type(model).__name__} is an encoder; only decoders generate")
    else:
        vit = spec.family == "vit"
    text_info = dict(text) if isinstance(text, dict) else None
    source = text if isinstance(text, str) else None
    random_inputs = False
    if _is_tokenizer(tokenizer_or_ids):
        if vit:
            raise HwsimError(f"{type(model).__name__}: a ViT takes pixels, not a tokenizer")
        p = DEFAULT_TOKENS if tokens is None else _count("tokens", tokens, 1)
        mode = spec.mode if spec is not None else ("decoder" if config.model_type in ("gpt2", "llama") else "encoder")
        source = source or DEFAULT_TEXT[mode]
        body, text_info = read_text(source)
        ids = _tokenize(tokenizer_or_ids, body, p, encoder=mode == "encoder",
                        where=f"{type(model).__name__} on text {source}")
        inputs = torch.tensor([ids], dtype=torch.long)
        text_info["preview"] = tokenizer_or_ids.decode(ids[:48])
    else:
        if source is not None:
            raise HwsimError(f"text={source!r} needs a tokenizer; pass one instead of token ids")
        if tokenizer_or_ids is None:
            if spec is not None:
                raise HwsimError(f"{type(model).__name__}: with spec= pass the inputs (token ids or pixels)")
            random_inputs = True
            rng = np.random.default_rng(seed)
            if vit:
                side = config.image_size
                inputs = torch.from_numpy(rng.standard_normal((1, config.num_channels, side, side), dtype=np.float32))
                text_info = {"source": "random-image", "seed": seed, "shape": list(inputs.shape)}
            else:
                p = DEFAULT_TOKENS if tokens is None else _count("tokens", tokens, 1)
                vocab = config.vocab_size
                inputs = torch.from_numpy(rng.integers(0, vocab, size=(1, p), dtype=np.int64))
                text_info = {"source": "random-token-ids", "seed": seed}
        else:
            inputs = torch.as_tensor(np.asarray(tokenizer_or_ids) if isinstance(tokenizer_or_ids, (list, tuple))
                                     else tokenizer_or_ids)
            if vit != inputs.is_floating_point():
                want = "pixels [1, C, H, W] (floating point)" if vit else "integer token ids"
                raise HwsimError(f"{type(model).__name__}: inputs of dtype {inputs.dtype}; expected {want}")
            text_info = text_info or {"source": "custom"}
        if not vit:
            inputs = inputs.reshape(1, -1).to(torch.long)
            if tokens is not None and tokens != inputs.shape[1]:
                raise HwsimError(f"tokens={tokens}: the ids given hold {inputs.shape[1]} tokens")
    if not vit:
        p = inputs.shape[1]
        limit = _max_positions(config) if config is not None else None
        if limit is not None and p + generate > limit:
            raise HwsimError(f"tokens {p} + generate {generate} = {p + generate} exceeds {type(model).__name__}'s "
                             f"{limit} positions")
    real = (not random_inputs) if real is None else real
    with _eager(model) if config is not None else contextlib.nullcontext():
        if generate:
            if spec is not None and spec.mode != "decoder":
                raise HwsimError(f"generate={generate}: {spec.name} is an encoder; only decoders generate")
            inputs = tracer.greedy_generate(model.eval(), inputs, generate)
            text_info["continuation"] = "greedy"
            prompt_tokens = p
        if spec is None:
            t = (config.image_size // config.patch_size) ** 2 + 1 if vit else p
            own = os.path.basename(str(getattr(config, "_name_or_path", "") or "").rstrip("/"))
            spec = spec_for_model(model, name=name or own or type(model).__name__,
                                  tokens=t, generate=generate, real=real,
                                  source=f"{type(model).__name__} ({config.model_type}), own weights")
        trace = tracer.trace_model(model, inputs, spec=spec, workload=workload or name, prompt_tokens=prompt_tokens,
                                   text=text_info, attention=attention, seed=seed if random_inputs else None,
                                   provenance=provenance)
    if not spec.real and spec.source.endswith("own weights"):
        trace = Trace({**trace.manifest, "synthetic_note": _RANDOM_NOTE}, trace._arrays)
    return trace


# checkpoint folders -------------------------------------------------------------------------------------
def _files(folder: Path) -> tuple[list[Path], str | None]:
    """The files that define the model (config + weights, or the one GGUF file) and the GGUF name if any."""
    if not folder.is_dir():
        raise HwsimError(f"--model {folder}: no such folder; expected a transformers checkpoint folder "
                         f"(config.json + weights) or a bundled name")
    if not (folder / "config.json").is_file():
        ggufs = sorted(folder.glob("*.gguf"))
        if len(ggufs) == 1:
            return ggufs, ggufs[0].name
        extra = f" ({len(ggufs)} .gguf files: pass a folder with one)" if ggufs else ""
        raise HwsimError(f"{folder}: not a transformers checkpoint folder (no config.json){extra}")
    weights = [folder / f for f in _WEIGHT_FILES if (folder / f).is_file()]
    if not weights:
        raise HwsimError(f"{folder}: config.json but no weights; expected one of {', '.join(_WEIGHT_FILES)}")
    for index in [w for w in weights if w.name.endswith(".index.json")]:
        shards = sorted(set(json.loads(index.read_text()).get("weight_map", {}).values()))
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise HwsimError(f"{folder}: weights missing: {index.name} names {len(missing)} absent shard(s), "
                             f"first {missing[0]}")
        weights += [folder / s for s in shards]
    return [folder / "config.json", *weights], None


def _folder_config(folder: Path):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HwsimError(f"{folder}/config.json: not a transformers config ({msg})") from None


@contextlib.contextmanager
def _offline():
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_checkpoint(folder: str | os.PathLike):
    """Load a checkpoint folder offline with eager attention: ``(model, tokenizer or None)``."""
    folder = Path(folder)
    _, gguf = _files(folder)
    import transformers

    kw: dict[str, Any] = {"local_files_only": True}
    if gguf:
        kw["gguf_file"] = gguf
    with _offline(), _quiet_transformers():
        if gguf:
            config = transformers.AutoConfig.from_pretrained(folder, **kw)
        else:
            config = _folder_config(folder)
        mt = getattr(config, "model_type", None)
        if mt not in FAMILIES:
            arch = (getattr(config, "architectures", None) or [type(config).__name__])[0]
            raise HwsimError(f"{arch}: cannot trace this module class (model_type {mt!r} in {folder}); expected a "
                             f"transformers model of type {_supported_list()}")
        arch = (getattr(config, "architectures", None) or [None])[0]
        cls = getattr(transformers, arch, None) if arch else None
        if cls is None:
            cls = transformers.AutoModelForCausalLM if mt in ("gpt2", "llama") else transformers.AutoModel
        try:
            model = cls.from_pretrained(folder, attn_implementation="eager", **kw).eval()
        except (OSError, ValueError, RuntimeError) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise HwsimError(f"{folder}: cannot load the checkpoint's weights ({msg})") from None
        tokenizer = None
        if gguf or any((folder / f).is_file() for f in _TOKENIZER_FILES):
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kw)
            except (OSError, ValueError) as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise HwsimError(f"{folder}: cannot load its tokenizer ({msg})") from None
    return model, tokenizer


def _digest_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def trace_checkpoint(folder: str | os.PathLike, *, tokens: int | None = None, generate: int | None = None,
                     text: str | None = None, seed: int = SYNTHETIC_SEED, progress: bool = False) -> Trace:
    """Load a local checkpoint folder (offline) and trace it (no cache); see :func:`trace_model`.

    With a tokenizer in the folder, ``tokens`` tokens of ``text`` (default pydoc for an encoder,
    shakespeare for a decoder); without one, random token ids from ``seed`` (``text`` is then an
    error). A ViT gets a random image of its configured size. ``generate`` (decoders, default 0).
    """
    folder = Path(folder)
    files, _ = _files(folder)
    status = _Status(folder.name, progress)
    status("loading the checkpoint (local files only)")
    model, tokenizer = load_checkpoint(folder)
    if tokenizer is None and text is not None:
        raise HwsimError(f"--text {text}: {folder} has no tokenizer, so hwsim traces it on random token ids")
    if model.config.model_type == "vit" and tokens is not None:
        raise HwsimError(f"--tokens {tokens}: {folder} is a ViT; its tokens follow from config image_size and "
                         f"patch_size")
    status("tracing")
    trace = trace_model(model, tokenizer, tokens=tokens, generate=generate or 0, text=text, seed=seed,
                        name=folder.name, provenance={"checkpoint": folder.name,
                                                      "checkpoint_sha256": _digest_files(files)})
    status("traced")
    return trace


def checkpoint_cache_path(folder: str | os.PathLike, *, tokens: int | None = None, generate: int | None = None,
                          text: str | None = None) -> Path:
    """Where the cached trace of a checkpoint folder with these settings lives (keyed by its files' contents)."""
    folder = Path(folder)
    files, _ = _files(folder)

    text_id = text if text is None or text in ("pydoc", "shakespeare") else f"file:{read_text(text)[1]['sha256']}"
    key = {"checkpoint": _digest_files(files), "tokens": tokens, "generate": generate or 0, "text": text_id,
           "seed": SYNTHETIC_SEED, "format": VERSION, "hwsim": __version__, "torch": _pkg_version("torch"),
           "transformers": _pkg_version("transformers")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"checkpoint-{folder.resolve().name}-{digest}.safetensors"


def get_checkpoint(folder: str | os.PathLike, *, tokens: int | None = None, generate: int | None = None,
                   text: str | None = None, progress: bool = True) -> Trace:
    """:func:`trace_checkpoint` through the trace cache (traced once per folder contents and settings)."""
    path = checkpoint_cache_path(folder, tokens=tokens, generate=generate, text=text)
    return cached(path, lambda: trace_checkpoint(folder, tokens=tokens, generate=generate, text=text,
                                                 progress=progress), progress=progress)
