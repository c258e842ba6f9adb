"""GASP ladders: from each target goalpost, lemma and lift rungs the student can learn from.

A ladder is a chain. Round r: the teacher writes a *lemma*, an easier variant of the current anchor
(round 0: the goalpost, with its grounding passages; later rounds: the previous round's lift) along
one axis (representation or algorithm); it is kept when the student's pass rate is in `lemma_band`.
Then the teacher writes a *lift* from that lemma alone (the lift prompt never contains the goalpost),
kept in `lift_band`. Each rung is one batched teacher call over all ladders still climbing, half the
`attempts` per axis; every in-band variant is kept, and the one nearest the band's centre anchors the
next rung. A ladder whose rung keeps nothing stops there. Every variant records goalpost id, parent
id, depth (1 = first lemma), axis, role and pass rate; rejected variants come back with reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.backends import Backend, Sampling, add_usage, for_role, usage
from pipeline.config import DarcConfig, GoalpostConfig, SamplingConfig
from pipeline.gasp_prompts import AXES, lemma_chat, lift_chat
from pipeline.goalposts import Goalpost
from pipeline.probe import ProbeResult, answer_type_of
from pipeline.records import Document, StepOutput, content_id
from pipeline.sandbox import SandboxPool
from pipeline.variants import Request, Row, apply_band, parse_replies, score_code, score_math

NO_PASSAGE = "(no reference passage was retrieved for this problem)"


@dataclass(slots=True)
class _Anchor:
    """Where a ladder stands: the question the next rung is written from."""

    goalpost: Goalpost
    question: str
    node_id: str
    depth: int
    doc_id: str


def build_ladders(targets: list[Goalpost], grounding: dict[str, list[Document]], teacher: Backend,
                  student: Backend, gasp_cfg: GoalpostConfig, darc_cfg: DarcConfig, seed: int,
                  pool: SandboxPool | None = None, sampling: SamplingConfig | None = None,
                  student_sampling: SamplingConfig | None = None) -> StepOutput[Row]:
    """Climb `gasp_cfg.rounds` lemma/lift rounds for every target goalpost, all ladders batched per rung.

    `sampling` is the teacher's (writing and labelling variants), `student_sampling` the student's."""
    documents = {d.doc_id: d for g in targets for d in grounding_documents(g, grounding)}
    anchors = [_Anchor(g, g.question, g.goalpost_id, 0, grounding_documents(g, grounding)[0].doc_id) for g in targets]
    out: StepOutput[Row] = StepOutput(kept=[])
    seen: set[tuple[str, str]] = set()
    own = pool is None and any(g.domain == "code" for g in targets)
    pool = SandboxPool() if own else pool
    try:
        for round_index in range(gasp_cfg.rounds):
            for role, band in (("lemma", gasp_cfg.lemma_band), ("lift", gasp_cfg.lift_band)):
                if not anchors:
                    return out
                rung_seed = seed + 1000 * round_index + (0 if role == "lemma" else 500)
                kept = _rung(anchors, role, band, grounding, documents, teacher, student, gasp_cfg, darc_cfg,
                             rung_seed, pool, (sampling, student_sampling), seen, out)
                anchors = _next_anchors(anchors, kept, band)
    finally:
        if own:
            pool.close()
    return out


def _rung(anchors, role, band, grounding, documents, teacher, student, gasp_cfg, darc_cfg, seed, pool,
          samplings, seen, out: StepOutput[Row]) -> list[Row]:
    sampling, student_sampling = samplings
    settings = sampling or SamplingConfig()
    requests, chats = [], []
    for anchor in anchors:
        goalpost = anchor.goalpost
        answer_type = answer_type_of(goalpost.answer) if goalpost.domain == "math" else "code"
        for axis in AXES:
            requests.append(Request(goalpost.goalpost_id, goalpost.domain, answer_type, anchor.node_id,
                                    anchor.depth + 1, role, axis, anchor.doc_id))
            if role == "lemma":
                passages = [d.text for d in grounding.get(goalpost.goalpost_id, [])]
                chats.append(lemma_chat(anchor.question, goalpost.domain, axis, passages))
            else:  # the lift sees the lemma only
                chats.append(lift_chat(anchor.question, goalpost.domain, axis))
    call = Sampling.of(settings, max(1, -(-gasp_cfg.attempts // len(AXES))), seed)
    generations = teacher.generate(chats, call)
    add_usage(out.usage, for_role("teacher", usage(generations)))
    questions, rejected = parse_replies(requests, generations, seen)
    out.rejected.extend(rejected)
    rows: list[Row] = []
    math = [q for q in questions if q.domain == "math"]
    code = [q for q in questions if q.domain == "code"]
    for scored in ((score_math(math, documents, teacher, student, gasp_cfg, darc_cfg, seed, sampling,
                               student_sampling) if math else None),
                   (score_code(code, student, gasp_cfg, pool, seed, student_sampling) if code else None)):
        if scored is not None:
            rows.extend(scored.kept)
            out.rejected.extend(scored.rejected)
            add_usage(out.usage, scored.usage)
    kept, outside = apply_band(rows, band)
    out.kept.extend(kept)
    out.rejected.extend(outside)
    return kept


def _next_anchors(anchors: list[_Anchor], kept: list[Row], band: tuple[float, float]) -> list[_Anchor]:
    """Per ladder, the kept variant nearest the band's centre; ladders that kept nothing stop."""
    centre = (band[0] + band[1]) / 2
    best: dict[str, Row] = {}
    for row in kept:
        current = best.get(row[0].goalpost_id)
        if current is None or abs(row[2].solve_rate - centre) < abs(current[2].solve_rate - centre):
            best[row[0].goalpost_id] = row
    return [_Anchor(a.goalpost, best[gid][0].question, best[gid][0].question_id, best[gid][0].depth, a.doc_id)
            for a in anchors if (gid := a.goalpost.goalpost_id) in best]


def grounding_documents(goalpost: Goalpost, grounding: dict[str, list[Document]]) -> list[Document]:
    """The passages the teacher labels a goalpost's math variants with (one merged document); the
    `doc_id` every variant of this goalpost carries, so the store can publish the documents rows cite."""
    passages = grounding.get(goalpost.goalpost_id, [])
    text = "\n\n".join(d.text for d in passages) or NO_PASSAGE
    doc_id = passages[0].doc_id if len(passages) == 1 else content_id("gasp-grounding", goalpost.goalpost_id,
                                                                       *(d.doc_id for d in passages))
    return [Document(doc_id, text, source=f"grounding of goalpost {goalpost.goalpost_id}")]



def goalpost_progress(probe_result: ProbeResult, ladder_rows: list[Row]) -> list[dict]:
    """Per goalpost, for the version being published: the student's pass@k and the deepest kept rung.

    Plain dicts (`goalpost_id, domain, pass_at_k, pass_at_1, k, n, correct, target, deepest_depth,
    accepted_variants`); `deepest_depth` is 0 when no rung was kept (or the goalpost was no target)."""
    depth: dict[str, int] = {}
    count: dict[str, int] = {}
    for question, _, _ in ladder_rows:
        depth[question.goalpost_id] = max(depth.get(question.goalpost_id, 0), question.depth)
        count[question.goalpost_id] = count.get(question.goalpost_id, 0) + 1
    targets = {g.goalpost_id for g in probe_result.targets}
    return [{"goalpost_id": p.goalpost_id, "domain": p.domain, "pass_at_k": p.pass_at_k, "pass_at_1": p.pass_at_1,
             "k": p.k, "n": p.n, "correct": p.correct, "target": p.goalpost_id in targets,
             "deepest_depth": depth.get(p.goalpost_id, 0), "accepted_variants": count.get(p.goalpost_id, 0)}
            for p in probe_result.probes]
