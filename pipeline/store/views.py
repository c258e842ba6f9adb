"""Trainer views of a version's curriculum table: rl (DARC/verl solver schema), sft (chat), raw.

Built with Arrow compute over whole columns, never row by row, so a million-row version gets its
views in seconds. `RL_SCHEMA` is DARC's solver dataset schema, field for field (including the list
item name `element`); a test compares it with the reference file.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.store.layout import StoreError

VIEWS = ("rl", "sft", "raw")
DATA_SOURCE = "solver"  # DARC's value; verl picks the reward function by data_source
SPLIT = "train"
CATEGORICAL_SUFFIX = ("Please reason step by step, and put your final answer option within \\boxed{}. "
                      "Only put the letter in the box, e.g. \\boxed{A}. There is only one correct answer.")
BOXED_SUFFIX = "Please reason step by step, and put your final answer within \\boxed{}."
CODE_SUFFIX = "Write a complete Python program that solves the task, in one ```python code block."
CONTEXT_HEADER = "Read the following context and answer the question.\n\nContext:\n"

_S, _I = pa.string(), pa.int64()
_MESSAGE = pa.struct([("content", _S), ("role", _S)])
_CHAT = pa.list_(pa.field("element", _MESSAGE))
RL_SCHEMA = pa.schema([
    ("data_source", _S), ("prompt", _CHAT), ("text_prompt", _CHAT), ("ability", _S),
    ("reward_model", pa.struct([("ground_truth", _S), ("style", _S)])),
    ("extra_info", pa.struct([("answer_type", _S), ("difficulty_id", _I), ("index", _I), ("split", _S),
                              ("text", _S)])),
])
# TRL reads conversational data from a `messages` column of {role, content} dicts
_SFT_MESSAGE = pa.struct([("role", _S), ("content", _S)])
SFT_SCHEMA = pa.schema([("messages", pa.list_(_SFT_MESSAGE))])


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, _S), n)


def _offsets(n: int, step: int) -> pa.Array:
    return pa.array(np.arange(0, step * n + 1, step, dtype=np.int32))


def _strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One non-null string array (null strings read as '')."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return pc.fill_null(array, "") if array.null_count else array


def _mask(condition: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(condition, False).to_numpy(zero_copy_only=False), dtype=bool)


def _concatenated(pool: pa.Array, pieces: np.ndarray) -> pa.Array:
    """Row i is the concatenation of the pool strings at pieces[i, 0], pieces[i, 1], ...

    One `take` lays every row's pieces out back to back; keeping every k-th offset of the result
    makes each row's pieces one string, without copying again. Arrow's element-wise join did the
    same work 10x slower, and `take` with no null indices runs at memory speed.
    """
    n, k = pieces.shape
    if n == 0:
        return pa.array([], _S)
    laid_out = pc.take(pool, pa.array(pieces.reshape(-1)))
    _, offsets_buffer, data = laid_out.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=n * k + 1, offset=laid_out.offset * 4)
    return pa.Array.from_buffers(_S, n, [None, pa.py_buffer(np.ascontiguousarray(offsets[::k])),
                                         data if data is not None else pa.py_buffer(b"")])


def _rows(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


def user_prompts(curriculum: pa.Table) -> pa.Array:
    """The question followed by DARC's answer-format instruction for its answer type."""
    n = curriculum.num_rows
    answer_type = curriculum.column("answer_type")
    suffix = np.full(n, 3, dtype=np.int64)  # pool: questions, then "\n" and the three suffixes
    suffix[_mask(pc.equal(answer_type, "categorical"))] = 1
    suffix[_mask(pc.equal(answer_type, "code"))] = 2
    pool = pa.concat_arrays([_strings(curriculum.column("question")),
                             pa.array(["\n", CATEGORICAL_SUFFIX, CODE_SUFFIX, BOXED_SUFFIX], _S)])
    return _concatenated(pool, np.stack([_rows(n), np.full(n, n), n + suffix], axis=1))


def document_texts(curriculum: pa.Table, documents: pa.Table) -> pa.Array:
    """Each row's document text ('' for rows without a document, e.g. GASP variants)."""
    doc_ids = _strings(curriculum.column("doc_id"))
    where = pc.index_in(doc_ids, value_set=_strings(documents.column("doc_id")))
    missing = pc.and_(pc.is_null(where), pc.not_equal(doc_ids, ""))
    if pc.any(missing).as_py():
        ids = pc.unique(pc.filter(doc_ids, missing)).to_pylist()
        raise StoreError(f"{len(ids)} document(s) used by curriculum rows were not given to publish "
                         f"(e.g. doc_id {ids[0]!r}); pass documents=[Document, ...]")
    # rows without a document point at an appended ''; take with null indices is 10x slower
    texts = pa.concat_arrays([_strings(documents.column("text")), pa.array([""], _S)])
    return pc.take(texts, pc.fill_null(where, documents.num_rows))


def _one_turn(content: pa.Array, role: str) -> pa.Array:
    n = len(content)
    values = pa.StructArray.from_arrays([content, _constant(role, n)], fields=list(_MESSAGE))
    return pa.ListArray.from_arrays(_offsets(n, 1), values, type=_CHAT)


def rl_view(curriculum: pa.Table, documents: pa.Table) -> pa.Table:
    """DARC's solver rows, curriculum order kept: prompt without the document, text_prompt with it."""
    n = curriculum.num_rows
    prompts = user_prompts(curriculum)
    texts = document_texts(curriculum, documents)
    # text_prompt = header + text + separator + prompt; rows without a document use '' for the
    # header and separator, which leaves the bare prompt
    pool = pa.concat_arrays([texts, prompts, pa.array(["", CONTEXT_HEADER, "\n\nQuestion: "], _S)])
    with_document = _mask(pc.not_equal(texts, ""))
    empty = 2 * n
    pieces = np.stack([np.where(with_document, empty + 1, empty), _rows(n),
                       np.where(with_document, empty + 2, empty), n + _rows(n)], axis=1)
    text_prompts = _concatenated(pool, pieces)
    reward = pa.StructArray.from_arrays(
        [_strings(curriculum.column("label_answer")), _constant("rule", n)],
        fields=list(RL_SCHEMA.field("reward_model").type))
    extra = pa.StructArray.from_arrays(
        [curriculum.column("answer_type").combine_chunks(), curriculum.column("level").combine_chunks(),
         curriculum.column("position").combine_chunks(), _constant(SPLIT, n), texts],
        fields=list(RL_SCHEMA.field("extra_info").type))
    return pa.Table.from_arrays(
        [_constant(DATA_SOURCE, n), _one_turn(prompts, "user"), _one_turn(text_prompts, "user"),
         curriculum.column("domain").combine_chunks(), reward, extra], schema=RL_SCHEMA)


_BOXED_OPEN, _BOXED_CLOSE = "The answer is \\boxed{", "}."


def _assistant_pieces(curriculum: pa.Table, start: int) -> tuple[list[pa.Array], np.ndarray]:
    """Pool arrays (placed from index `start`) and three pieces per row for the assistant turn:
    the teacher's reasoning; else the reference program; else a boxed label answer."""
    n = curriculum.num_rows
    reasoning = _strings(curriculum.column("label_reasoning"))
    program = _strings(curriculum.column("program"))
    answer = _strings(curriculum.column("label_answer"))
    empty, opening, closing = start + 3 * n, start + 3 * n + 1, start + 3 * n + 2
    has_reasoning = _mask(pc.not_equal(reasoning, ""))
    has_program = _mask(pc.not_equal(program, "")) & ~has_reasoning
    boxed = ~has_reasoning & ~has_program
    rows = _rows(n)
    first = np.where(has_reasoning, start + rows, np.where(has_program, start + n + rows, opening))
    second = np.where(boxed, start + 2 * n + rows, empty)
    third = np.where(boxed, closing, empty)
    pool = [reasoning, program, answer, pa.array(["", _BOXED_OPEN, _BOXED_CLOSE], _S)]
    return pool, np.stack([first, second, third], axis=1)


def assistant_turns(curriculum: pa.Table) -> pa.Array:
    """The teacher's winning reasoning; the reference program or a boxed answer where none was kept."""
    pool, pieces = _assistant_pieces(curriculum, 0)
    return _concatenated(pa.concat_arrays(pool), pieces)


def sft_view(curriculum: pa.Table) -> pa.Table:
    """One user/assistant exchange per row: the question, then the teacher's majority reasoning."""
    n = curriculum.num_rows
    users = user_prompts(curriculum)
    pool, assistant = _assistant_pieces(curriculum, n)
    # messages interleave user 0, assistant 0, user 1, ...: three pieces each, the user's prompt whole
    user = np.stack([_rows(n), np.full(n, 4 * n), np.full(n, 4 * n)], axis=1)  # 4n: the pool's ''
    content = _concatenated(pa.concat_arrays([users, *pool]), np.stack([user, assistant], axis=1).reshape(2 * n, 3))
    roles = pc.take(pa.array(["user", "assistant"], _S), pa.array(np.tile(np.array([0, 1]), n)))
    values = pa.StructArray.from_arrays([roles, content], fields=list(_SFT_MESSAGE))
    messages = pa.ListArray.from_arrays(_offsets(n, 2), values,
                                        type=SFT_SCHEMA.field("messages").type)
    return pa.Table.from_arrays([messages], schema=SFT_SCHEMA)


def build_view(view: str, curriculum: pa.Table, documents: pa.Table) -> pa.Table:
    if view == "rl":
        return rl_view(curriculum, documents)
    if view == "sft":
        return sft_view(curriculum)
    if view == "raw":
        return curriculum
    raise StoreError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")


VIEW_SCHEMAS = {"rl": RL_SCHEMA, "sft": SFT_SCHEMA}
# small slices (an rl slice of 50k rows is ~85 MB) let each reuse the memory the last one freed; fresh
# memory is slow to first touch on this kind of VM (200k-row slices made the views 2x slower)
SLICE_ROWS = 50_000


def view_slices(view: str, curriculum: pa.Table, documents: pa.Table,
                slice_rows: int = SLICE_ROWS) -> Iterator[pa.Table]:
    """`build_view` over row slices, in order, so no single string column passes Arrow's 2 GiB offset
    limit and a writer can drop each slice before the next is built."""
    if curriculum.num_rows <= slice_rows:
        yield build_view(view, curriculum, documents)
        return
    for start in range(0, curriculum.num_rows, slice_rows):
        yield build_view(view, curriculum.slice(start, slice_rows), documents)


def view_nbytes(view: str, curriculum: pa.Table, documents: pa.Table) -> int:
    """The in-memory size of the whole view (what its Parquet files are sized by), one slice at a
    time; also raises any error the view would (e.g. missing documents) before anything is written."""
    return sum(table.nbytes for table in view_slices(view, curriculum, documents))
