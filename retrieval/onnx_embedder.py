"""The same sentence model run by ONNX Runtime, optionally with int8 dynamic quantization (CPU speed-up).

sentence-transformers' own ONNX backend needs `optimum`, which here would downgrade transformers
(5.x -> 4.57), so we export the model's transformer with `torch.onnx.export` once, cache it, and do
the pooling ourselves: mean over non-padding tokens, then L2 normalisation, as all-MiniLM-L6-v2's
pipeline does. Needs the `onnxruntime` and `onnx` packages (neither pulls torch).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from retrieval.embedder import EmbedderError, _plain_tokenizer, _spans, resolve_model

logger = logging.getLogger(__name__)


class BackendMissing(EmbedderError):
    """An optional package this backend needs is not installed."""


def cache_root() -> Path:
    return Path(os.environ.get("CURRICULUM_CACHE", Path.home() / ".cache" / "curriculum"))


def _model_key(name: str, location: str) -> str:
    weights = sorted(Path(location).glob("*.safetensors")) + sorted(Path(location).glob("*.bin"))
    stamp = ";".join(f"{p.name}:{p.stat().st_size}" for p in weights)
    return hashlib.sha256(f"{name}|{stamp}".encode()).hexdigest()[:16]


def export_onnx(location: str, path: Path) -> None:
    """Export the transformer (token embeddings out) to ONNX with dynamic batch and length."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(location).eval()
    tokenizer = AutoTokenizer.from_pretrained(location)

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = tokenizer(["an example sentence", "another"], return_tensors="pt", padding=True)
    axes = {0: "batch", 1: "tokens"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            Wrapped(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "token_embeddings": axes,
            },
            opset_version=17,
            dynamo=False,
        )


def prepared_model(name: str, location: str, quantized: bool) -> Path:
    """Path of the cached ONNX file for this model (exported and quantized on first use)."""
    folder = cache_root() / "onnx" / _model_key(name, location)
    plain = folder / "model.onnx"
    if not plain.exists():
        logger.info("exporting %s to ONNX at %s", name, plain)
        staging = folder / f"model.onnx.tmp-{os.getpid()}"
        export_onnx(location, staging)
        staging.rename(plain)
    if not quantized:
        return plain
    int8 = folder / "model-int8-per-channel.onnx"
    if not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        staging = folder / f"model-int8.onnx.tmp-{os.getpid()}"
        # Per-channel weights on MatMuls only: per-tensor int8 moved vectors far more (min cosine
        # to torch 0.90 vs 0.99 on real text), and quantizing the embedding lookup buys no speed.
        quantize_dynamic(
            str(plain),
            str(staging),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        staging.rename(int8)
    return int8


class OnnxEmbedder:
    """Sentence embeddings from an ONNX Runtime session (fp32 or int8), mean pooled and normalised."""

    def __init__(self, model: str, quantized: bool = True) -> None:
        try:
            import onnxruntime
        except ImportError as error:
            raise BackendMissing("backend onnx needs `pip install onnxruntime onnx`") from error
        from transformers import AutoTokenizer

        self.name, location = resolve_model(model)
        if not Path(location).exists():
            raise BackendMissing(f"backend onnx needs a local model folder; {model!r} is not one")
        self.backend = "onnx-int8" if quantized else "onnx"
        self.tokenizer = AutoTokenizer.from_pretrained(location)
        self.max_tokens = min(int(self._max_length(location)), 512) - 2
        path = prepared_model(self.name, location, quantized)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._plain = _plain_tokenizer(self.tokenizer)
        self.dim = int(self.encode(["dimension probe"]).shape[1])

    @staticmethod
    def _max_length(location: str) -> int:
        import json

        config = Path(location) / "sentence_bert_config.json"
        if config.exists():
            return json.loads(config.read_text()).get("max_seq_length", 256)
        return 256

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batch texts of similar length together so little time goes to padding.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        results: list[np.ndarray] = [np.empty(0)] * len(texts)
        batches = range(0, len(texts), batch_size)
        for begin in tqdm(batches, desc="Batches", disable=not show_progress):
            rows = order[begin : begin + batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_tokens + 2,
                return_tensors="np",
            )
            feed = {k: encoded[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            tokens = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for row, vector in zip(rows, pooled, strict=True):
                results[row] = vector
        return np.stack(results).astype(np.float32)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return _spans(self._plain, text)
