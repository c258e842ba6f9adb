"""Token chunking: size limits, overlap, sentence/paragraph boundaries, offsets, with the real tokenizer."""

from __future__ import annotations

import pytest

from retrieval.chunking import chunk_document, split_spans
from retrieval.embedder import HashEmbedder


def _words(text):
    return HashEmbedder().token_spans(text)


def test_chunks_respect_the_token_limit_and_cover_the_document():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    spans = split_spans(text, _words, chunk_tokens=40, overlap_tokens=8)
    assert all(len(_words(text[s:e])) <= 40 for s, e in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))  # consecutive chunks overlap


def test_chunks_end_at_sentence_boundaries_and_start_at_sentence_starts():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    spans = split_spans(text, _words, chunk_tokens=40, overlap_tokens=8)
    assert all(text[e - 1] == "." for _, e in spans)
    assert all(text[s:].startswith("Sentence") for s, _ in spans)


def test_paragraph_break_is_preferred_over_a_later_sentence_end():
    first = "Alpha beta gamma delta. " * 6  # 24 words
    text = first.strip() + "\n\n" + "Second part words here. " * 6
    spans = split_spans(text, _words, chunk_tokens=40, overlap_tokens=0)
    assert text[spans[0][0] : spans[0][1]] == first.strip()


def test_text_without_boundaries_is_cut_at_the_limit():
    text = "x" * 10 + " " + " ".join(["word"] * 100)
    spans = split_spans(text, _words, chunk_tokens=30, overlap_tokens=5)
    assert len(spans) >= 4 and all(len(_words(text[s:e])) <= 30 for s, e in spans)


def test_chunk_offsets_point_into_the_document_and_ids_are_content_hashes():
    text = "One sentence. Two sentence. Three sentence. " * 20
    chunks = chunk_document("doc", text.strip(), "f.jsonl:1", _words, chunk_tokens=16, overlap_tokens=4)
    again = chunk_document("doc", text.strip(), "f.jsonl:1", _words, chunk_tokens=16, overlap_tokens=4)
    assert all(text.strip()[c.start : c.end] == c.text for c in chunks)
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_bad_chunking_settings_are_rejected():
    with pytest.raises(ValueError, match="chunk_overlap"):
        split_spans("text", _words, chunk_tokens=16, overlap_tokens=10)


def test_real_tokenizer_chunks_fit_the_model(minilm):
    text = "Photosynthesis converts light energy into chemical energy. " * 40
    chunks = chunk_document("d", text.strip(), "s", minilm.token_spans, chunk_tokens=64, overlap_tokens=12)
    counts = [len(minilm.token_spans(c.text)) for c in chunks]
    assert len(chunks) > 3 and max(counts) <= 64
    assert all(c.text.endswith(".") for c in chunks)
