"""Persisted step results: one file per shard-and-step, addressed by a content key.

A build's work is saved here as it finishes, so that a build killed at any point and started again
repeats no model call whose result was saved. The key of a shard-and-step is a hash of the shard's
content, the part of the config the step reads, the identity of the model(s) it calls and the seed:
a changed config changes only the keys of the steps that read what changed, and the other steps'
results are reused. Files are JSON (readable when debugging a reject) written aside and renamed, so
a file that exists is whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

from pipeline.records import StepOutput
from pipeline.store.files import write_atomic

# Bump when the encoding or a step's meaning changes: old results then miss instead of misleading.
CACHE_FORMAT = 1

# Model settings that change how fast a model answers, never what it answers: left out of keys.
_TRANSPORT_FIELDS = {"latency_s", "max_concurrency", "timeout_s", "max_retries", "api_key_env",
                     "gpu_memory_utilization", "base_url"}


def digest(value: Any) -> str:
    """A stable hash of any JSON-encodable value (records included), 24 hex digits."""
    text = json.dumps(encode(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def model_identity(model_config: Any) -> dict[str, Any]:
    """What a model config contributes to a key: the model and its sampling, not its transport."""
    data = model_config.model_dump(mode="json")
    return {k: v for k, v in data.items() if k not in _TRANSPORT_FIELDS}


def build_identity(config: Any) -> str:
    """The config hash that names a build for resume: transport settings left out, so a rerun
    with another timeout, concurrency or simulated latency still resumes the same build."""
    data = config.model_dump(mode="json")
    for role in ("questioner", "teacher", "student"):
        data["models"][role] = model_identity(getattr(config.models, role))
    return digest(data)[:16]


def step_key(step: str, inputs: Any, settings: dict[str, Any], seed: int) -> str:
    """The cache key of one shard-and-step."""
    return digest({"format": CACHE_FORMAT, "step": step, "inputs": digest(inputs),
                   "settings": settings, "seed": seed})


class StepCache:
    """`<root>/<step>/<key>.json`: saved StepOutputs plus a little metadata (model calls, seconds)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, step: str, key: str) -> Path:
        return self.root / step / f"{key}.json"

    def load(self, step: str, key: str) -> tuple[StepOutput, dict[str, Any]] | None:
        path = self.path(step, key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            # Cannot happen with atomic writes unless the disk lied; recompute rather than trust it.
            return None
        return decode(data["output"]), data.get("meta", {})

    def save(self, step: str, key: str, output: StepOutput, meta: dict[str, Any]) -> None:
        write_atomic(self.path(step, key), json.dumps({"output": encode(output), "meta": meta}))

    def keys(self, step: str) -> set[str]:
        folder = self.root / step
        return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()


def encode(value: Any) -> Any:
    """Records and containers to plain JSON values, dataclasses tagged with their type."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        kind = type(value)
        return {"__type__": f"{kind.__module__}:{kind.__qualname__}", "fields": fields}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(encode(v) for v in value)
    if hasattr(value, "model_dump"):  # pydantic configs inside settings
        return value.model_dump(mode="json")
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__type__" in value:
            return _construct(value["__type__"], value["fields"])
        return {k: decode(v) for k, v in value.items()}
    return value


def _construct(type_name: str, fields: dict[str, Any]) -> Any:
    module_name, _, qualname = type_name.partition(":")
    if module_name.split(".")[0] not in ("pipeline", "retrieval", "flows"):
        raise ValueError(f"step cache names an unexpected type {type_name!r}")
    kind: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        kind = getattr(kind, part)
    names = {f.name for f in dataclasses.fields(kind) if f.init}
    return kind(**{k: decode(v) for k, v in fields.items() if k in names})
