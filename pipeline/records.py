"""The record types of a build and their Arrow schemas: the one place for both.

Every id is a content hash of what makes the record what it is, so a rerun of the same build
produces the same ids. Rows travel as these dataclasses inside the pipeline and as Arrow tables
on disk; `to_table` and `from_table` convert with the explicit schemas below (never inferred).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, TypeVar

import pyarrow as pa

ID_HEX_CHARS = 16


def content_id(*parts: object) -> str:
    """A stable id: the first 16 hex digits of sha256 over the parts, unit-separated."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8"))
    return digest.hexdigest()[:ID_HEX_CHARS]


@dataclass(slots=True, frozen=True)
class Document:
    """A passage questions are grounded in (one chunk of a corpus document)."""

    doc_id: str
    text: str
    source: str = ""  # file and row or chunk offsets, for people reading a reject


@dataclass(slots=True)
class Question:
    """A question written by the questioner (DARC) or the teacher (GASP lemma/lift)."""

    question_id: str
    method: str  # "darc" or "gasp"
    answer_type: str  # integer, float, categorical, string, boolean, expression, code
    question: str
    reference_answer: str  # the writer's own answer (code: empty, labels come from execution)
    doc_id: str = ""
    level: int = 0  # DARC target level 1..3; 0 for GASP variants
    analysis: str = ""
    intermediate_results: str = ""  # JSON text, as the model gave it
    solving_time_estimate: str = ""
    required_concepts: list[str] = field(default_factory=list)
    potential_errors: list[str] = field(default_factory=list)
    domain: str = "math"  # "math" or "code"
    goalpost_id: str = ""
    parent_id: str = ""
    depth: int = 0
    axis: str = ""  # "representation" or "algorithm" for GASP variants
    role: str = ""  # "lemma" or "lift" for GASP variants
    program: str = ""  # code variants: the reference program
    tests: str = ""  # code variants: JSON list of test inputs (stdin strings or call args)
    raw_text: str = ""


@dataclass(slots=True)
class Label:
    """The teacher's majority-vote label for one question."""

    question_id: str
    answer: str
    support: int  # samples in the winning group
    valid: int  # samples with an extractable, well-typed answer
    n: int  # samples drawn
    majority_fraction: float  # support / n
    vote_entropy: float  # entropy (nats) of the group sizes over valid samples
    agrees_with_questioner: bool
    reasoning: str = ""  # one winning sample's full text: the assistant turn of the sft view


@dataclass(slots=True)
class Difficulty:
    """The student's measured difficulty for one question (without the document)."""

    question_id: str
    solve_rate: float
    correct: int
    n: int


@dataclass(slots=True)
class CurriculumItem:
    """One row of a published version: question, label and measured difficulty, in order."""

    position: int  # 0-based place in curriculum order
    batch: int  # curriculum batch index
    question: Question
    label: Label
    difficulty: Difficulty
    non_monotone_doc: bool = False  # its document's levels were not solved in order

    def to_row(self) -> dict[str, Any]:
        row = dataclasses.asdict(self.question)
        label = dataclasses.asdict(self.label)
        label.pop("question_id")
        row.update({f"label_{k}" if k in ("n", "reasoning") else k: v for k, v in label.items()})
        row["label_answer"] = row.pop("answer")
        row.update(solve_rate=self.difficulty.solve_rate, student_correct=self.difficulty.correct,
                   student_n=self.difficulty.n)
        row.update(position=self.position, batch=self.batch, non_monotone_doc=self.non_monotone_doc)
        return row


@dataclass(slots=True)
class Rejection:
    """A record dropped by a step, with a stable reason code and the raw model text."""

    step: str  # e.g. "questions", "dedup", "labels", "difficulty", "probe", "ladders"
    reason: str  # stable snake_case code, defined next to the check that emits it
    record_id: str = ""  # question id, or a prompt/goalpost id when no question was parsed
    detail: str = ""
    raw_text: str = ""
    doc_id: str = ""
    goalpost_id: str = ""
    rejection_id: str = ""

    def __post_init__(self) -> None:
        if not self.rejection_id:
            self.rejection_id = content_id(self.step, self.reason, self.record_id, self.raw_text)


class Rejected(Exception):
    """A bad sample: carries the reason code; the caller turns it into a `Rejection`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_STR, _INT, _F64, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()

QUESTION_SCHEMA = pa.schema([
    ("question_id", _STR), ("method", _STR), ("answer_type", _STR), ("question", _STR),
    ("reference_answer", _STR), ("doc_id", _STR), ("level", _INT), ("analysis", _STR),
    ("intermediate_results", _STR), ("solving_time_estimate", _STR),
    ("required_concepts", pa.list_(_STR)), ("potential_errors", pa.list_(_STR)),
    ("domain", _STR), ("goalpost_id", _STR), ("parent_id", _STR), ("depth", _INT), ("axis", _STR),
    ("role", _STR), ("program", _STR), ("tests", _STR), ("raw_text", _STR),
])

LABEL_SCHEMA = pa.schema([
    ("question_id", _STR), ("answer", _STR), ("support", _INT), ("valid", _INT), ("n", _INT),
    ("majority_fraction", _F64), ("vote_entropy", _F64), ("agrees_with_questioner", _BOOL),
    ("reasoning", _STR),
])

DIFFICULTY_SCHEMA = pa.schema([
    ("question_id", _STR), ("solve_rate", _F64), ("correct", _INT), ("n", _INT),
])

DOCUMENT_SCHEMA = pa.schema([("doc_id", _STR), ("text", _STR), ("source", _STR)])

REJECTION_SCHEMA = pa.schema([
    ("step", _STR), ("reason", _STR), ("record_id", _STR), ("detail", _STR), ("raw_text", _STR),
    ("doc_id", _STR), ("goalpost_id", _STR), ("rejection_id", _STR),
])

CURRICULUM_SCHEMA = pa.schema(
    list(QUESTION_SCHEMA)
    + [
        ("label_answer", _STR), ("support", _INT), ("valid", _INT), ("label_n", _INT),
        ("majority_fraction", _F64), ("vote_entropy", _F64), ("agrees_with_questioner", _BOOL),
        ("label_reasoning", _STR), ("solve_rate", _F64), ("student_correct", _INT),
        ("student_n", _INT), ("position", _INT), ("batch", _INT), ("non_monotone_doc", _BOOL),
    ]
)

SCHEMAS: dict[type, pa.Schema] = {
    Document: DOCUMENT_SCHEMA, Question: QUESTION_SCHEMA, Label: LABEL_SCHEMA,
    Difficulty: DIFFICULTY_SCHEMA, Rejection: REJECTION_SCHEMA,
}

R = TypeVar("R")


# curriculum column -> (CurriculumItem part, attribute; "" is the item itself); the renames mirror
# CurriculumItem.to_row, which stays the row-at-a-time statement of this contract (a test holds the two equal)
_CURRICULUM_SOURCES: dict[str, tuple[str, str]] = {
    **{name: ("question", name) for name in QUESTION_SCHEMA.names},
    "label_answer": ("label", "answer"), "support": ("label", "support"), "valid": ("label", "valid"),
    "label_n": ("label", "n"), "majority_fraction": ("label", "majority_fraction"),
    "vote_entropy": ("label", "vote_entropy"), "agrees_with_questioner": ("label", "agrees_with_questioner"),
    "label_reasoning": ("label", "reasoning"), "solve_rate": ("difficulty", "solve_rate"),
    "student_correct": ("difficulty", "correct"), "student_n": ("difficulty", "n"),
    "position": ("", "position"), "batch": ("", "batch"), "non_monotone_doc": ("", "non_monotone_doc"),
}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # the lists built here would trigger full collections that walk every live record (a million
    # items: seconds each time) while none of them can be garbage
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sources(records: list[Any], schema: pa.Schema) -> dict[str, tuple[list[Any], str]]:
    """Schema column -> (the objects that carry it, their attribute); columns none of them have are left out."""
    kinds = set(map(type, records))
    if CurriculumItem in kinds:
        if len(kinds) > 1:
            raise TypeError(f"to_table got CurriculumItems mixed with {sorted(k.__name__ for k in kinds)}")
        parts = {part: records if not part else list(map(attrgetter(part), records))
                 for part in ("", "question", "label", "difficulty")}
        return {name: (parts[part], attribute) for name, (part, attribute) in _CURRICULUM_SOURCES.items()
                if name in schema.names}
    shared = set.intersection(*({f.name for f in dataclasses.fields(kind)} for kind in kinds))
    return {name: (records, name) for name in schema.names if name in shared}


def to_table(records: Iterable[Any], schema: pa.Schema | None = None) -> pa.Table:
    """Records (dataclasses, or CurriculumItems) to an Arrow table with the explicit schema.

    Column by column: one C-level pass (`attrgetter`) per field, then one Arrow conversion per
    column. A dict per row (`dataclasses.asdict`) was 12x slower, minutes for a million rows. A
    schema column the records do not have comes out null, as it would from row dicts.
    """
    records = records if isinstance(records, list) else list(records)
    if schema is None:
        if not records:
            raise ValueError("to_table needs a schema when there are no records")
        schema = CURRICULUM_SCHEMA if isinstance(records[0], CurriculumItem) else SCHEMAS[type(records[0])]
    if not records:
        return schema.empty_table()
    with _gc_paused():
        sources = _sources(records, schema)
        columns = []
        for f in schema:
            if f.name not in sources:
                columns.append(pa.nulls(len(records), f.type))
                continue
            objects, attribute = sources[f.name]
            columns.append(pa.array(list(map(attrgetter(attribute), objects)), type=f.type))
        return pa.Table.from_arrays(columns, schema=schema)


def from_table(table: pa.Table, record_type: type[R]) -> list[R]:
    """Arrow table back to records of one type (not CurriculumItem: read those as rows)."""
    names = [f.name for f in dataclasses.fields(record_type) if f.name in table.column_names]
    if not names:
        return [record_type() for _ in range(table.num_rows)]
    columns = table.select(names).to_pydict()
    return [record_type(**dict(zip(names, values, strict=True))) for values in zip(*columns.values(), strict=True)]


T = TypeVar("T")


@dataclass(slots=True)
class StepOutput(Generic[T]):
    """What a step returns for a batch: the records kept, those rejected, and the tokens it spent."""

    kept: list[T]
    rejected: list[Rejection] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
