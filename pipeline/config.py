"""The build config: one YAML file describes a build. Every default lives here, documented once.

Pydantic models with `extra="forbid"` so a typo fails loudly; `load_config` reads the YAML, applies
`--set a.b=c` overrides, and turns any error into a `ConfigError` that names the file and key path.
`docs/config.md` is generated from these models (`python -m pipeline.config`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

AnswerType = Literal["integer", "float", "categorical", "string", "boolean", "expression"]


class ConfigError(ValueError):
    """A config that cannot be used: the message names the file and the key path."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingConfig(Strict):
    """Sampling settings of a role; `n` for votes/samples is set by the step, not here."""

    temperature: float = Field(1.0, ge=0.0, description="Sampling temperature (DARC: 1.0).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(1024, ge=1, description="Completion token limit; longer output is truncated and rejected.")


class _ModelBase(Strict):
    model: str = Field(description="Model id or local path (sim: any label).")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)


class SimModel(_ModelBase):
    """The deterministic simulated model (tests, quickstart, CPU benchmarks)."""

    backend: Literal["sim"]
    model: str = "sim"
    accuracy_with_document: dict[int, float] = Field(
        default_factory=lambda: {1: 0.95, 2: 0.85, 3: 0.7},
        description="Chance a sample is right per level when the document is in the prompt (teacher).")
    accuracy_without_document: dict[int, float] = Field(
        default_factory=lambda: {1: 0.85, 2: 0.5, 3: 0.2},
        description="Chance a sample is right per level without the document (student).")
    malformed_rate: float = Field(0.05, ge=0.0, le=1.0, description="Share of malformed outputs (broken JSON, missing keys, truncation, no box).")
    latency_s: float = Field(0.0, ge=0.0, description="Simulated latency per call.")


class OpenAIModel(_ModelBase):
    """Any OpenAI-compatible server: `vllm serve`, SGLang, hosted APIs."""

    backend: Literal["openai"]
    base_url: str = Field("http://127.0.0.1:8000/v1", description="Server root including /v1.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (never logged).")
    max_concurrency: int = Field(64, ge=1, description=(
        "Requests in flight to the server at once for this model, across all of a build's concurrent "
        "steps (roles naming the same model share one engine and this cap); size it to the server's "
        "batch (vLLM's --max-num-seqs)."))
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(5, ge=0, description="Retries on 429/5xx/timeouts, with backoff and jitter.")


class TransformersModel(_ModelBase):
    """A small model run with transformers on CPU or one GPU."""

    backend: Literal["transformers"]
    device: str = Field("auto", description="'auto', 'cpu' or 'cuda[:i]'.")
    dtype: str = Field("auto", description="'auto', 'float32', 'bfloat16', 'float16'.")
    batch_size: int = Field(8, ge=1, description="Prompts per generate() call.")


class VLLMModel(_ModelBase):
    """vLLM's in-process offline engine (GPU)."""

    backend: Literal["vllm"]
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per engine.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory for the engine.")
    max_model_len: int | None = Field(None, description="Context length; None takes the model's.")
    dtype: str = Field("auto", description="Weights dtype.")
    enable_prefix_caching: bool = Field(True, description="Reuse KV cache across prompts sharing a document.")


ModelConfig = Annotated[SimModel | OpenAIModel | TransformersModel | VLLMModel, Field(discriminator="backend")]


class Models(Strict):
    questioner: ModelConfig
    teacher: ModelConfig
    student: ModelConfig


class CorpusConfig(Strict):
    paths: list[str] = Field(description="Corpus files or folders: JSONL, Parquet, .txt/.md folders, saved `datasets`.")
    text_field: str = Field("text", description="Field holding document text (JSONL/Parquet/datasets).")
    id_field: str | None = Field(None, description="Field holding a document id; None: the text's content hash.")
    chunk_tokens: int = Field(200, ge=16, description="Chunk size in embedding-tokenizer tokens (at most the model's limit: 254 for all-MiniLM-L6-v2).")
    chunk_overlap: int = Field(32, ge=0, description="Token overlap between chunks.")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="Sentence-transformers model: local path, hub id, or the offline default.")
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch", description="Embedding runtime: torch (default), onnx or onnx-int8 (needs the `onnx` extra).")
    index_dir: str | None = Field(None, description="FAISS index dir; default <output_root>/<dataset>/index.")
    documents_per_build: int = Field(50, ge=1, description="Documents sampled for question writing per build.")
    exclude_used: bool = Field(True, description="Skip documents used by earlier versions.")


class GoalpostConfig(Strict):
    path: str = Field(description="Goalposts JSONL or Parquet.")
    probe_k: int = Field(20, ge=1, description="Student attempts per goalpost for pass@k.")
    grounding_k: int = Field(3, ge=0, description="Documents retrieved per goalpost for the teacher.")
    rounds: int = Field(2, ge=1, description="Lemma/lift rounds per goalpost.")
    attempts: int = Field(4, ge=1, description="Candidate variants written per rung.")
    lemma_band: tuple[float, float] = Field((0.3, 0.7), description="Student pass-rate band a lemma must fall in.")
    lift_band: tuple[float, float] = Field((0.1, 0.5), description="Student pass-rate band a lift must fall in.")
    student_samples: int = Field(10, ge=1, description="Student samples per variant.")


class DarcConfig(Strict):
    levels: dict[int, float] = Field(default_factory=lambda: {1: 0.8, 2: 0.5, 3: 0.2},
                                     description="Difficulty level -> target student solve rate.")
    answer_types: list[AnswerType] = Field(default_factory=lambda: ["integer", "float", "categorical"],
                                           description="Answer types to ask for.")
    teacher_votes: int = Field(10, ge=1, description="Teacher samples per question (DARC: 10).")
    student_samples: int = Field(10, ge=1, description="Student samples per question.")
    majority_threshold: float = Field(0.5, ge=0, le=1, description="Keep a label when its majority fraction reaches this.")
    copy_ratio_max: float = Field(0.8, ge=0, le=1, description="Reject questions whose 6-gram copy ratio exceeds this.")
    dedup_cosine: float = Field(0.9, gt=0, le=1, description="Cosine above which questions are near-duplicates.")
    learnability_band: tuple[float, float] | None = Field(None, description="Keep only solve rates in [lo, hi].")
    monotone_margin: float = Field(0.2, ge=0, description="Flag a document when a harder level is solved more often by this margin.")
    max_question_chars: int = Field(2000, ge=20, description="Longest question accepted.")

    @field_validator("levels")
    @classmethod
    def _levels_are_rates(cls, levels: dict[int, float]) -> dict[int, float]:
        for level, rate in levels.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"level {level}: target solve rate {rate} is not in [0, 1]")
        return levels


class BuildConfig(Strict):
    dataset: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Dataset name: the folder under output_root.")
    corpus: CorpusConfig = Field(description="Where the documents come from (section `corpus`).")
    models: Models = Field(description="questioner, teacher and student, each a `models.<role>` section.")
    goalposts: GoalpostConfig | None = Field(None, description="Optional GASP goalposts (section `goalposts`).")
    darc: DarcConfig = Field(default_factory=DarcConfig, description="DARC settings (section `darc`).")
    curriculum_batch_size: int = Field(64, ge=1, description="Curriculum batch size (answer-type mix balanced within).")
    shard_size: int = Field(200, ge=1, description="Documents or goalposts per shard task.")
    output_root: str = Field("artifacts", description="Root of the versioned store (local path or fsspec URL).")
    work_dir: str | None = Field(None, description="Persisted step results for resume; default <output_root>/<dataset>/.work.")
    seed: int = Field(0, description="Seed for sampling documents and models.")
    license: str = Field("cc-by-4.0", description="Licence declared in the dataset card.")

    @model_validator(mode="after")
    def _vllm_engines_fit_one_gpu(self) -> BuildConfig:
        # Roles whose configs differ only in sampling share one engine; distinct engines share the GPU.
        engines = {json.dumps(m.model_dump(exclude={"sampling"}), sort_keys=True): m
                   for m in (self.models.questioner, self.models.teacher, self.models.student)
                   if isinstance(m, VLLMModel)}
        total = sum(m.gpu_memory_utilization for m in engines.values())
        if len(engines) > 1 and total > 0.95:
            raise ValueError(f"{len(engines)} distinct vLLM engines ask for gpu_memory_utilization {total:.2f} "
                             "in all; lower each so the sum stays <= 0.95, or use one model for all roles")
        return self

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML (so 3, true, [1,2] work)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. darc.teacher_votes=5")
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {assignment!r}: {part!r} is not a section")
        node = child
    node[leaf] = yaml.safe_load(raw)


def load_config(path: str | Path, overrides: list[str] | None = None) -> BuildConfig:
    """Read a build config; relative corpus/goalpost paths resolve against the file's folder."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    for assignment in overrides or []:
        apply_override(data, assignment)
    try:
        config = BuildConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: " + "; ".join(_describe(e) for e in error.errors())) from None
    config = _resolve_paths(config, path.parent)
    _check_inputs_exist(config, path)
    return config


def _check_inputs_exist(config: BuildConfig, path: Path) -> None:
    """Fail before any work starts when a local corpus or goalposts path is missing."""
    named = [(f"corpus.paths[{i}]", p) for i, p in enumerate(config.corpus.paths)]
    if config.goalposts is not None:
        named.append(("goalposts.path", config.goalposts.path))
    for key, value in named:
        if "://" not in value and not Path(value).exists():
            raise ConfigError(f"{path}: {key}: {value} does not exist")


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(p) for p in error["loc"] if p not in ("sim", "openai", "transformers", "vllm"))
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown key"
    return f"{location}: {error['msg']}"


def _resolve_paths(config: BuildConfig, base: Path) -> BuildConfig:
    def resolve(p: str) -> str:
        return p if "://" in p or Path(p).is_absolute() else str((base / p).resolve())

    corpus = config.corpus.model_copy(update={"paths": [resolve(p) for p in config.corpus.paths]})
    update: dict[str, Any] = {"corpus": corpus}
    if config.goalposts is not None:
        update["goalposts"] = config.goalposts.model_copy(update={"path": resolve(config.goalposts.path)})
    return config.model_copy(update=update)


def defaults_markdown() -> str:
    """Every key with its default and meaning, for docs/config.md."""
    lines = ["# Build config reference", "", "Generated by `python -m pipeline.config`; "
             "every default lives in `pipeline/config.py`.", ""]
    sections = [("(top level)", BuildConfig), ("corpus", CorpusConfig), ("goalposts", GoalpostConfig),
                ("darc", DarcConfig), ("models.<role>.sampling", SamplingConfig),
                ("models.<role> (backend: sim)", SimModel), ("models.<role> (backend: openai)", OpenAIModel),
                ("models.<role> (backend: transformers)", TransformersModel),
                ("models.<role> (backend: vllm)", VLLMModel)]
    for title, model in sections:
        lines += [f"## {title}", "", "| key | default | meaning |", "|---|---|---|"]
        for name, info in model.model_fields.items():
            value = None if info.is_required() else info.get_default(call_default_factory=True)
            default = "required" if info.is_required() else "see section" if isinstance(value, BaseModel) else repr(value)
            lines.append(f"| `{name}` | `{default}` | {info.description or ''} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(defaults_markdown())
