"""Shared test setup: everything runs offline, on CPU, with tiny inline data."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry writes offline
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # loaded CI machines


def make_curriculum_build(n_docs: int = 3, per_doc: int = 3, seed: int = 0, gasp: bool = False):
    """A tiny published-build input for store tests: (items, rejects, documents, build_info).

    Inline records only: `n_docs` documents with `per_doc` questions each (levels 1..3), optional GASP
    variants of one goalpost, and two rejections.
    """
    from pipeline.records import CurriculumItem, Difficulty, Document, Label, Question, Rejection, content_id

    documents = [Document(doc_id=content_id("doc", seed, d), text=f"Document {d}: {d} apples cost {d * 3} coins.")
                 for d in range(n_docs)]
    types = ["integer", "float", "categorical"]
    rows = []
    for d, doc in enumerate(documents):
        for q in range(per_doc):
            level = q % 3 + 1
            qid = content_id("q", seed, d, q)
            kind = types[(d + q) % 3]
            answer = "B" if kind == "categorical" else str(d * 3 + q)
            rows.append((Question(question_id=qid, method="darc", answer_type=kind, doc_id=doc.doc_id, level=level,
                                  question=f"How many coins for item {d}-{q}?" + ("\nA. 1\nB. 2" if kind == "categorical" else ""),
                                  reference_answer=answer, required_concepts=["counting"]),
                         Label(question_id=qid, answer=answer, support=8, valid=10, n=10, majority_fraction=0.8 - 0.1 * q % 3,
                               vote_entropy=0.5, agrees_with_questioner=q != 1,
                               reasoning=f"Reasoning for {qid}. \\boxed{{{answer}}}"),
                         Difficulty(question_id=qid, solve_rate={1: 0.8, 2: 0.5, 3: 0.2}[level], correct=5, n=10)))
    if gasp:
        parent = ""
        for depth, role in ((1, "lemma"), (2, "lift")):
            qid = content_id("gasp", seed, depth)
            rows.append((Question(question_id=qid, method="gasp", answer_type="integer", question=f"Variant {depth}?",
                                  reference_answer="7", goalpost_id="gp1", parent_id=parent, depth=depth,
                                  axis="algorithm", role=role),
                         Label(question_id=qid, answer="7", support=10, valid=10, n=10, majority_fraction=1.0,
                               vote_entropy=0.0, agrees_with_questioner=True),
                         Difficulty(question_id=qid, solve_rate=0.5 if role == "lemma" else 0.3, correct=4, n=10)))
            parent = qid
    rows.sort(key=lambda r: r[0].level)
    items = [CurriculumItem(position=i, batch=i // 4, question=q, label=lab, difficulty=dif)
             for i, (q, lab, dif) in enumerate(rows)]
    rejects = [Rejection(step="questions", reason="schema_mismatch", record_id="p1", raw_text="{broken"),
               Rejection(step="labels", reason="no_majority", record_id="q9", raw_text="\\boxed{1} \\boxed{2}")]
    build_info = {"config": {"dataset": "toy", "seed": seed, "license": "cc-by-4.0",
                             "darc": {"levels": {1: 0.8, 2: 0.5, 3: 0.2}},
                             "models": {"student": {"backend": "sim", "model": "sim", "sampling": {"temperature": 1.0}}}},
                  "config_hash": "abc123", "seeds": {"seed": seed}, "step_counts": {"questions": len(items) + 1},
                  "token_usage": {"student": {"prompt": 10, "completion": 20}}, "wall_time_s": {"questions": 0.1},
                  "goalposts": [{"goalpost_id": "gp1", "pass_at_k": 0.0, "k": 4, "deepest_depth": 2}] if gasp else []}
    return items, rejects, documents, build_info


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 embedder, loaded offline from the installed package once per session."""
    from retrieval.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """Prefect against a temporary database and home, started once per session (flows tests)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random-weight Qwen2 chat model + BPE tokenizer, built offline once per session (tests/tiny_model.py).

    Load it by path with the `transformers` backend: `TransformersModel(backend="transformers", model=str(dir))`.
    Its output is noise.
    """
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
