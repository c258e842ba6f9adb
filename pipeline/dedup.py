"""Near-duplicate questions -> `duplicate` rejections, before any teacher token is spent on them.

The detection itself (exact hashes + FAISS range search over embeddings) belongs to
`retrieval.neardup`; this step only embeds the question texts and turns its groups into rejections
that name the question kept in their place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.config import DarcConfig
from pipeline.records import Question, Rejection, StepOutput

STEP = "dedup"
DUPLICATE = "duplicate"


def dedup_questions(questions: list[Question], darc: DarcConfig,
                    embed: Callable[[list[str]], np.ndarray]) -> StepOutput[Question]:
    """Keep the first question of each near-duplicate group (cosine >= `darc.dedup_cosine`)."""
    from retrieval.neardup import find_near_duplicates

    if not questions:
        return StepOutput(kept=[])
    texts = [q.question for q in questions]
    found = find_near_duplicates(texts, embed(texts), darc.dedup_cosine)
    out: StepOutput[Question] = StepOutput(kept=[])
    for index, question in enumerate(questions):
        if index not in found.duplicate_of:
            out.kept.append(question)
            continue
        winner = questions[found.duplicate_of[index]]
        similarity = found.similarity.get(index)
        detail = f"near-duplicate of {winner.question_id}" + (
            f" (cosine {similarity:.3f})" if similarity is not None else "")
        out.rejected.append(Rejection(STEP, DUPLICATE, question.question_id, detail,
                                      question.raw_text or question.question,
                                      doc_id=question.doc_id, goalpost_id=question.goalpost_id))
    return out
