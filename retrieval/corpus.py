"""Read corpus documents from JSONL, Parquet, folders of .txt/.md files or a saved `datasets` dataset.

Text is normalised (Unicode NFC, control characters other than newline and tab removed, Windows
line ends unified). A row that cannot be a document is either a counted `Skip` with a reason code
(empty text, bytes that are not UTF-8, an unparsable JSON line, a duplicate id, a huge document) or,
when the input as a whole is wrong (missing text field, corrupt Parquet), a `CorpusError` naming the
file, row and field. Without an id field, a document's id is a hash of its text (file documents use
their path relative to the folder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Skip reason codes: stable strings, recorded in the index manifest.
EMPTY_TEXT = "empty_text"
NOT_UTF8 = "not_utf8"
INVALID_JSON = "invalid_json"
NOT_TEXT = "not_text"
DUPLICATE_ID = "duplicate_id"
TOO_LONG = "too_long"
UNSUPPORTED_FILE = "unsupported_file"  # a file inside a corpus folder that no reader takes

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
DEFAULT_MAX_DOC_CHARS = 2_000_000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff]")


class CorpusError(ValueError):
    """The corpus input is wrong as a whole (missing field, corrupt file): fix it and rerun."""


@dataclass(slots=True, frozen=True)
class SourceDocument:
    """A normalised corpus document before chunking."""

    doc_id: str
    text: str
    source: str  # "file:row" (1-based row) or the file path


@dataclass(slots=True, frozen=True)
class Skip:
    """A row that was not indexed, and why."""

    source: str
    reason: str
    detail: str = ""


def normalize_text(text: str) -> str:
    """NFC, unified line ends, control characters removed (newlines and tabs kept)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _document(raw: object, doc_id: object, source: str, max_chars: int) -> SourceDocument | Skip:
    if raw is None:
        return Skip(source, EMPTY_TEXT, "text is null")
    if not isinstance(raw, str):
        return Skip(source, NOT_TEXT, f"text is {type(raw).__name__}, not a string")
    text = normalize_text(raw).strip()
    if not text:
        return Skip(source, EMPTY_TEXT, "empty or whitespace-only text")
    if len(text) > max_chars:
        return Skip(source, TOO_LONG, f"{len(text)} characters > max_doc_chars={max_chars}")
    return SourceDocument(str(doc_id) if doc_id is not None else text_hash(text), text, source)


def _field(row: dict, name: str, source: str, what: str) -> object:
    if name not in row:
        fields = ", ".join(sorted(map(str, row))[:20]) or "none"
        raise CorpusError(f"{source}: no {what} field {name!r} (fields: {fields}); set --{what}-field")
    return row[name]


def _read_jsonl(path: Path, text_field: str, id_field: str | None, max_chars: int):
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            source = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                decoded = line.decode("utf-8")
            except UnicodeDecodeError as error:
                yield Skip(source, NOT_UTF8, str(error))
                continue
            try:
                row = json.loads(decoded)
            except json.JSONDecodeError as error:
                yield Skip(source, INVALID_JSON, str(error))
                continue
            if not isinstance(row, dict):
                yield Skip(source, INVALID_JSON, f"line is a JSON {type(row).__name__}, not an object")
                continue
            text = _field(row, text_field, source, "text")
            doc_id = _field(row, id_field, source, "id") if id_field else None
            yield _document(text, doc_id, source, max_chars)


def _read_rows(rows: Iterator[dict], label: str, text_field: str, id_field: str | None, max_chars: int):
    for number, row in enumerate(rows, start=1):
        source = f"{label}:{number}"
        doc_id = row.get(id_field) if id_field else None
        yield _document(row.get(text_field), doc_id, source, max_chars)


def _check_columns(columns: list[str], label: str, text_field: str, id_field: str | None) -> None:
    for name, what in ((text_field, "text"), (id_field, "id")):
        if name and name not in columns:
            raise CorpusError(f"{label}: no {what} column {name!r} (columns: {', '.join(columns)})")


def _read_parquet(path: Path, text_field: str, id_field: str | None, max_chars: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise CorpusError(f"{path}: not a readable Parquet file ({error})") from error
    _check_columns(parquet.schema_arrow.names, str(path), text_field, id_field)
    columns = [text_field] + ([id_field] if id_field else [])

    def rows() -> Iterator[dict]:
        try:
            for batch in parquet.iter_batches(columns=columns, batch_size=4096):
                yield from batch.to_pylist()
        except (pa.ArrowException, OSError) as error:
            raise CorpusError(f"{path}: corrupt Parquet data ({error})") from error

    yield from _read_rows(rows(), str(path), text_field, id_field, max_chars)


def _read_saved_dataset(path: Path, text_field: str, id_field: str | None, max_chars: int):
    import datasets

    loaded = datasets.load_from_disk(str(path))
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    for split, dataset in splits:
        label = f"{path}[{split}]" if split else str(path)
        _check_columns(list(dataset.column_names), label, text_field, id_field)
        yield from _read_rows(iter(dataset), label, text_field, id_field, max_chars)


def _read_folder(folder: Path, text_field: str, id_field: str | None, max_chars: int):
    """Every file below a folder, each by its own format; files no reader takes are counted skips."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        items = _read_file(path, path.relative_to(folder).as_posix(), text_field, id_field, max_chars)
        if items is None:
            yield Skip(str(path), UNSUPPORTED_FILE, f"no reader for {path.suffix or 'files without a suffix'}")
        else:
            yield from items


def _read_file(path: Path, name: str, text_field: str, id_field: str | None, max_chars: int):
    """The reader for one file by its suffix, or None when there is none."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path, text_field, id_field, max_chars)
    if suffix == ".parquet":
        return _read_parquet(path, text_field, id_field, max_chars)
    if suffix in TEXT_SUFFIXES:
        return _read_text_file(path, name, max_chars)
    return None


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "dataset_info.json").exists() or (folder / "dataset_dict.json").exists()


def read_corpus(
    paths: list[str | Path],
    text_field: str = "text",
    id_field: str | None = None,
    max_doc_chars: int = DEFAULT_MAX_DOC_CHARS,
) -> Iterator[SourceDocument | Skip]:
    """Documents (and skips) from every path, in order; a repeated doc id is skipped after the first."""
    seen: set[str] = set()
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise FileNotFoundError(f"corpus path not found: {path}")
        if path.is_dir():
            items = (
                _read_saved_dataset(path, text_field, id_field, max_doc_chars)
                if _is_saved_dataset(path)
                else _read_folder(path, text_field, id_field, max_doc_chars)
            )
        else:
            items = _read_file(path, path.name, text_field, id_field, max_doc_chars)
            if items is None:
                raise CorpusError(
                    f"{path}: unsupported corpus format (use .jsonl, .parquet, .txt/.md or a folder)"
                )
        for item in items:
            if isinstance(item, SourceDocument):
                if item.doc_id in seen:
                    yield Skip(item.source, DUPLICATE_ID, f"doc id {item.doc_id!r} seen earlier")
                    continue
                seen.add(item.doc_id)
            yield item


def _read_text_file(path: Path, name: str, max_chars: int):
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        yield Skip(str(path), NOT_UTF8, str(error))
        return
    yield _document(raw, name, str(path), max_chars)
