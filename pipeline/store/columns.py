"""Records to Arrow tables column by column: curriculum items, rejections, documents.

`pipeline.records.to_table` builds one dict per row with `dataclasses.asdict`, which is fine for a
shard but takes minutes for a million rows. These read all of a record's fields with one
`attrgetter` call and transpose with `zip`, both in C, and give the identical table (a test holds
them to equality).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any

import pyarrow as pa

from pipeline.records import CURRICULUM_SCHEMA, QUESTION_SCHEMA, CurriculumItem

# curriculum column -> attribute of Label / Difficulty; the renames mirror CurriculumItem.to_row
_LABEL_COLUMNS = {
    "label_answer": "answer", "support": "support", "valid": "valid", "label_n": "n",
    "majority_fraction": "majority_fraction", "vote_entropy": "vote_entropy",
    "agrees_with_questioner": "agrees_with_questioner", "label_reasoning": "reasoning",
}
_DIFFICULTY_COLUMNS = {"solve_rate": "solve_rate", "student_correct": "correct", "student_n": "n"}
_ITEM_COLUMNS = {"position": "position", "batch": "batch", "non_monotone_doc": "non_monotone_doc"}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # the tuples built here would trigger full collections that walk every live record (a million
    # items: seconds each time) while none of them can be garbage
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _columns(records: Sequence[Any], attributes: list[str]) -> list[list[Any]]:
    """One list per attribute, in order, read from every record."""
    with _gc_paused():
        return _transpose(records, attributes)


def _transpose(records: Sequence[Any], attributes: list[str]) -> list[list[Any]]:
    if not records:
        return [[] for _ in attributes]
    if len(attributes) == 1:
        return [list(map(attrgetter(attributes[0]), records))]
    return [list(column) for column in zip(*map(attrgetter(*attributes), records), strict=True)]


def records_to_table(records: Sequence[Any], schema: pa.Schema) -> pa.Table:
    """Dataclass records whose fields include the schema's columns -> table with that schema."""
    columns = _columns(records, schema.names)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


def items_to_table(items: Sequence[CurriculumItem]) -> pa.Table:
    """The CURRICULUM_SCHEMA table of `items`, in the order given."""
    with _gc_paused():
        return _items_to_table(items)


def _items_to_table(items: Sequence[CurriculumItem]) -> pa.Table:
    parts = [
        ([item.question for item in items], {name: name for name in QUESTION_SCHEMA.names}),
        ([item.label for item in items], _LABEL_COLUMNS),
        ([item.difficulty for item in items], _DIFFICULTY_COLUMNS),
        (items, _ITEM_COLUMNS),
    ]
    by_name: dict[str, list[Any]] = {}
    for records, mapping in parts:
        for name, column in zip(mapping, _columns(records, list(mapping.values())), strict=True):
            by_name[name] = column
    arrays = [pa.array(by_name[field.name], type=field.type) for field in CURRICULUM_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=CURRICULUM_SCHEMA)
