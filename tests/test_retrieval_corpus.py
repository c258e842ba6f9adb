"""Corpus readers: formats, normalisation, and every bad-input case (a clear error or a counted skip)."""

from __future__ import annotations

import json

import pytest

from retrieval import corpus
from retrieval.corpus import CorpusError, Skip, SourceDocument, normalize_text, read_corpus


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _split(items):
    docs = [i for i in items if isinstance(i, SourceDocument)]
    skips = [i for i in items if isinstance(i, Skip)]
    return docs, skips


def test_jsonl_with_custom_fields_keeps_ids_and_row_sources(tmp_path):
    path = _write_jsonl(
        tmp_path / "c.jsonl", [{"body": "First doc.", "key": "a"}, {"body": "Second.", "key": "b"}]
    )
    docs, skips = _split(list(read_corpus([path], text_field="body", id_field="key")))
    assert [(d.doc_id, d.text, d.source) for d in docs] == [
        ("a", "First doc.", f"{path}:1"),
        ("b", "Second.", f"{path}:2"),
    ]
    assert skips == []


def test_normalisation_applies_nfc_and_strips_control_characters():
    assert normalize_text("Cafe\u0301\x00 ok\x07\r\nnext\tline") == "Café ok\nnext\tline"


def test_parquet_and_text_folder_and_saved_dataset_are_read(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["parquet doc"], "id": ["p1"]}), tmp_path / "c.parquet")
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Title\n\nMarkdown body.")
    (folder / "sub" / "b.txt").write_text("Plain text.")
    (folder / "ignored.csv").write_text("x,y")
    datasets.Dataset.from_dict({"content": ["from datasets"], "id": ["h1"]}).save_to_disk(tmp_path / "saved")

    parquet_docs, _ = _split(list(read_corpus([tmp_path / "c.parquet"], id_field="id")))
    folder_docs, _ = _split(list(read_corpus([folder])))
    saved_docs, _ = _split(list(read_corpus([tmp_path / "saved"], text_field="content", id_field="id")))
    assert [(d.doc_id, d.text) for d in parquet_docs] == [("p1", "parquet doc")]
    assert [(d.doc_id, d.text) for d in folder_docs] == [
        ("a.md", "# Title\n\nMarkdown body."),
        ("sub/b.txt", "Plain text."),
    ]
    assert [(d.doc_id, d.text) for d in saved_docs] == [("h1", "from datasets")]


def test_empty_and_whitespace_documents_are_skipped_as_empty_text(tmp_path):
    path = _write_jsonl(
        tmp_path / "c.jsonl", [{"text": "   \n\t"}, {"text": ""}, {"text": None}, {"text": "real"}]
    )
    docs, skips = _split(list(read_corpus([path])))
    assert [d.text for d in docs] == ["real"]
    assert [(s.reason, s.source) for s in skips] == [(corpus.EMPTY_TEXT, f"{path}:{n}") for n in (1, 2, 3)]


def test_non_utf8_bytes_are_skipped_with_file_and_row(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "good"}\n{"text": "bad \xff\xfe"}\n')
    docs, skips = _split(list(read_corpus([path])))
    assert [d.text for d in docs] == ["good"]
    assert [(s.reason, s.source) for s in skips] == [(corpus.NOT_UTF8, f"{path}:2")]


def test_non_utf8_text_file_is_skipped(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00broken")
    (tmp_path / "good.txt").write_text("fine")
    docs, skips = _split(list(read_corpus([tmp_path])))
    assert [d.doc_id for d in docs] == ["good.txt"]
    assert [s.reason for s in skips] == [corpus.NOT_UTF8]


def test_invalid_json_line_is_skipped(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "ok"}\n{not json\n[1, 2]\n')
    _, skips = _split(list(read_corpus([path])))
    assert [(s.reason, s.source) for s in skips] == [
        (corpus.INVALID_JSON, f"{path}:2"),
        (corpus.INVALID_JSON, f"{path}:3"),
    ]


def test_non_string_text_is_skipped_as_not_text(tmp_path):
    path = _write_jsonl(tmp_path / "c.jsonl", [{"text": 42}])
    _, skips = _split(list(read_corpus([path])))
    assert [s.reason for s in skips] == [corpus.NOT_TEXT]


def test_document_far_longer_than_the_rest_is_skipped_as_too_long(tmp_path):
    path = _write_jsonl(tmp_path / "c.jsonl", [{"text": "short"}, {"text": "word " * 5000}])
    docs, skips = _split(list(read_corpus([path], max_doc_chars=1000)))
    assert [d.text for d in docs] == ["short"]
    assert [(s.reason, s.source) for s in skips] == [(corpus.TOO_LONG, f"{path}:2")]


def test_repeated_doc_id_is_skipped_as_duplicate_id(tmp_path):
    path = _write_jsonl(tmp_path / "c.jsonl", [{"text": "one", "id": "x"}, {"text": "two", "id": "x"}])
    docs, skips = _split(list(read_corpus([path], id_field="id")))
    assert [d.text for d in docs] == ["one"]
    assert [(s.reason, s.source) for s in skips] == [(corpus.DUPLICATE_ID, f"{path}:2")]


def test_missing_text_field_is_an_error_naming_file_row_and_field(tmp_path):
    path = _write_jsonl(tmp_path / "c.jsonl", [{"text": "ok"}, {"body": "wrong field"}])
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: no text field 'text' \(fields: body\)"):
        list(read_corpus([path]))


def test_missing_parquet_column_is_an_error_listing_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "c.parquet")
    with pytest.raises(CorpusError, match=r"c\.parquet: no text column 'text' \(columns: body\)"):
        list(read_corpus([tmp_path / "c.parquet"]))


def test_corrupt_parquet_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(CorpusError, match=r"broken\.parquet: not a readable Parquet file"):
        list(read_corpus([path]))


def test_missing_path_and_unknown_format_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus path not found"):
        list(read_corpus([tmp_path / "nope.jsonl"]))
    (tmp_path / "c.csv").write_text("a,b")
    with pytest.raises(CorpusError, match="unsupported corpus format"):
        list(read_corpus([tmp_path / "c.csv"]))


def test_folder_reads_each_file_by_its_format_and_counts_the_rest(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _write_jsonl(folder / "rows.jsonl", [{"text": "A row about rivers."}])
    (folder / "note.md").write_text("A note about lakes.", encoding="utf-8")
    (folder / "table.csv").write_text("text\nnot read\n", encoding="utf-8")
    docs, skips = _split(list(read_corpus([folder])))
    assert sorted(d.text for d in docs) == ["A note about lakes.", "A row about rivers."]
    assert [(s.reason, s.source.endswith("table.csv")) for s in skips] == [(corpus.UNSUPPORTED_FILE, True)]
