"""Split a normalised document into token-bounded chunks with overlap, at paragraph or sentence breaks.

A chunk is at most `chunk_tokens` tokens of the embedding model's tokenizer (special tokens
excluded). It ends at the last paragraph break, else sentence end, else word break found in the
second half of its window, so passages read as whole sentences. The next chunk starts about
`overlap_tokens` earlier, moved forward to a sentence or word start so it never begins mid-word.
Offsets are character positions in the normalised document text.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

TokenSpans = Callable[[str], list[tuple[int, int]]]  # text -> (start, end) character span per token

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+")


@dataclass(slots=True, frozen=True)
class Chunk:
    """A passage of a corpus document: the unit that is embedded, searched and sampled."""

    chunk_id: str  # content hash of doc_id, start and text
    doc_id: str
    text: str
    source: str  # "file:row" or the file path, for people reading an error or a reject
    start: int  # character offsets into the normalised document text
    end: int


def chunk_id_for(doc_id: str, start: int, text: str) -> str:
    """The stable id of a chunk: 16 hex digits of sha256 over what makes it that chunk."""
    return hashlib.sha256(f"{doc_id}\x1f{start}\x1f{text}".encode()).hexdigest()[:16]


class ChunkingError(ValueError):
    """Chunking settings that cannot work (too small, overlap too large, longer than the model reads)."""


def validate_chunking(chunk_tokens: int, overlap_tokens: int) -> None:
    if chunk_tokens < 8:
        raise ChunkingError(f"chunk_tokens must be at least 8, got {chunk_tokens}")
    if not 0 <= overlap_tokens < chunk_tokens // 2:
        raise ChunkingError(f"chunk_overlap must be >= 0 and < chunk_tokens/2, got {overlap_tokens}")


def _boundary_tokens(text: str, starts: list[int], pattern: re.Pattern[str]) -> list[int]:
    """Token indices at which a new paragraph/sentence begins (the first token after each match)."""
    found = []
    for match in pattern.finditer(text):
        index = bisect.bisect_left(starts, match.end())
        if 0 < index < len(starts):
            found.append(index)
    return sorted(set(found))


def _word_starts(spans: list[tuple[int, int]]) -> list[int]:
    # A token starting after a gap begins a new word (word pieces and punctuation abut their word).
    return [i for i in range(1, len(spans)) if spans[i][0] > spans[i - 1][1]]


def _last_in(sorted_values: list[int], low: int, high: int) -> int | None:
    """The largest value v with low <= v <= high, if any."""
    position = bisect.bisect_right(sorted_values, high) - 1
    if position >= 0 and sorted_values[position] >= low:
        return sorted_values[position]
    return None


def _first_in(sorted_values: list[int], low: int, high: int) -> int | None:
    position = bisect.bisect_left(sorted_values, low)
    if position < len(sorted_values) and sorted_values[position] <= high:
        return sorted_values[position]
    return None


def split_spans(
    text: str, token_spans: TokenSpans, chunk_tokens: int, overlap_tokens: int
) -> list[tuple[int, int]]:
    """Character (start, end) of each chunk of `text`; empty text gives no chunks."""
    validate_chunking(chunk_tokens, overlap_tokens)
    spans = [span for span in token_spans(text) if span[1] > span[0]]
    if not spans:
        return []
    starts = [span[0] for span in spans]
    paragraphs = _boundary_tokens(text, starts, _PARAGRAPH_BREAK)
    sentences = sorted(set(paragraphs) | set(_boundary_tokens(text, starts, _SENTENCE_END)))
    words = _word_starts(spans)
    count = len(spans)
    result: list[tuple[int, int]] = []
    begin = 0
    while begin < count:
        limit = min(begin + chunk_tokens, count)
        end = limit
        if limit < count:
            low = begin + chunk_tokens // 2
            for candidates in (paragraphs, sentences, words):
                found = _last_in(candidates, low, limit)
                if found is not None:
                    end = found
                    break
        result.append((spans[begin][0], spans[end - 1][1]))
        if end >= count:
            break
        # Step back by the overlap, then forward to a sentence or word start, always making progress.
        back = max(end - overlap_tokens, begin + 1)
        following = _first_in(sentences, back, end) if overlap_tokens else None
        if following is None:
            following = _first_in(words, back, end) if overlap_tokens else None
        begin = following if following is not None else end
    return result


def chunk_document(
    doc_id: str, text: str, source: str, token_spans: TokenSpans, chunk_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Chunks of one normalised document, in order."""
    chunks = []
    for start, end in split_spans(text, token_spans, chunk_tokens, overlap_tokens):
        piece = text[start:end]
        chunks.append(Chunk(chunk_id_for(doc_id, start, piece), doc_id, piece, source, start, end))
    return chunks
