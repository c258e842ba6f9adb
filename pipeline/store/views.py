"""Trainer views of a version's curriculum table: rl (DARC/verl solver schema), sft (chat), raw.

Built with Arrow compute over whole columns, never row by row, so a million-row version gets its
views in seconds. `RL_SCHEMA` is DARC's solver dataset schema, field for field (including the list
item name `element`); a test compares it with the reference file.
"""

from __future__ import annotations

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


def user_prompts(curriculum: pa.Table) -> pa.ChunkedArray:
    """The question followed by DARC's answer-format instruction for its answer type."""
    answer_type = curriculum.column("answer_type")
    suffix = pc.if_else(pc.equal(answer_type, "categorical"), CATEGORICAL_SUFFIX,
                        pc.if_else(pc.equal(answer_type, "code"), CODE_SUFFIX, BOXED_SUFFIX))
    return pc.binary_join_element_wise(curriculum.column("question"), suffix, "\n")


def document_texts(curriculum: pa.Table, documents: pa.Table) -> pa.Array:
    """Each row's document text ('' for rows without a document, e.g. GASP variants)."""
    doc_ids = curriculum.column("doc_id").combine_chunks()
    where = pc.index_in(doc_ids, value_set=documents.column("doc_id").combine_chunks())
    texts = pc.take(documents.column("text").combine_chunks(), where)
    missing = pc.and_(pc.is_null(texts), pc.not_equal(doc_ids, ""))
    if pc.any(missing).as_py():
        ids = pc.unique(pc.filter(doc_ids, missing)).to_pylist()
        raise StoreError(f"{len(ids)} document(s) used by curriculum rows were not given to publish "
                         f"(e.g. doc_id {ids[0]!r}); pass documents=[Document, ...]")
    return pc.fill_null(texts, "")


def _one_turn(content: pa.Array, role: str) -> pa.Array:
    n = len(content)
    values = pa.StructArray.from_arrays([content, _constant(role, n)], fields=list(_MESSAGE))
    return pa.ListArray.from_arrays(_offsets(n, 1), values, type=_CHAT)


def rl_view(curriculum: pa.Table, documents: pa.Table) -> pa.Table:
    """DARC's solver rows, curriculum order kept: prompt without the document, text_prompt with it."""
    n = curriculum.num_rows
    prompts = user_prompts(curriculum).combine_chunks()
    texts = document_texts(curriculum, documents)
    # rows without a document get the bare prompt; choosing the short pieces (not whole strings)
    # per row keeps if_else cheap
    no_document = pc.equal(texts, "")
    header = pc.if_else(no_document, "", CONTEXT_HEADER)
    separator = pc.if_else(no_document, "", "\n\nQuestion: ")
    text_prompts = pc.binary_join_element_wise(header, texts, separator, prompts, "")
    reward = pa.StructArray.from_arrays(
        [curriculum.column("label_answer").combine_chunks(), _constant("rule", n)],
        fields=list(RL_SCHEMA.field("reward_model").type))
    extra = pa.StructArray.from_arrays(
        [curriculum.column("answer_type").combine_chunks(), curriculum.column("level").combine_chunks(),
         curriculum.column("position").combine_chunks(), _constant(SPLIT, n), texts],
        fields=list(RL_SCHEMA.field("extra_info").type))
    return pa.Table.from_arrays(
        [_constant(DATA_SOURCE, n), _one_turn(prompts, "user"), _one_turn(text_prompts, "user"),
         curriculum.column("domain").combine_chunks(), reward, extra], schema=RL_SCHEMA)


def assistant_turns(curriculum: pa.Table) -> pa.Array:
    """The teacher's winning reasoning; the reference program or a boxed answer where none was kept."""
    reasoning = curriculum.column("label_reasoning").combine_chunks()
    program = curriculum.column("program").combine_chunks()
    boxed = pc.binary_join_element_wise("The answer is \\boxed{", curriculum.column("label_answer"), "}.", "")
    fallback = pc.if_else(pc.equal(program, ""), boxed.combine_chunks(), program)
    return pc.if_else(pc.equal(reasoning, ""), fallback, reasoning)


def sft_view(curriculum: pa.Table) -> pa.Table:
    """One user/assistant exchange per row: the question, then the teacher's majority reasoning."""
    n = curriculum.num_rows
    users = user_prompts(curriculum).combine_chunks()
    assistants = assistant_turns(curriculum)
    order = np.empty(2 * n, dtype=np.int64)  # interleave: user 0, assistant 0, user 1, ...
    order[0::2] = np.arange(n)
    order[1::2] = np.arange(n) + n
    content = pc.take(pa.concat_arrays([users, assistants]), order)
    roles = pc.take(pa.concat_arrays([_constant("user", n), _constant("assistant", n)]), order)
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


def build_view_in_slices(view: str, curriculum: pa.Table, documents: pa.Table,
                         slice_rows: int = 200_000) -> pa.Table:
    """`build_view` over row slices, so no single string column passes Arrow's 2 GiB offset limit."""
    if curriculum.num_rows <= slice_rows:
        return build_view(view, curriculum, documents)
    return pa.concat_tables([build_view(view, curriculum.slice(start, slice_rows), documents)
                             for start in range(0, curriculum.num_rows, slice_rows)])
