"""Curriculum order, batches, monotonicity flags and the per-level calibration summary.

Order is easy to hard: by target level (stable), then by measured solve rate, highest first. GASP
variants have no target level (level 0): each joins the level whose target solve rate is nearest its
measured one, so a ladder's rungs sit among DARC questions of like difficulty. Within a
level, answer types are interleaved so that each batch's type mix stays close to the whole set's:
at every position the type furthest behind its share goes next (each type keeps its own order). Level
order always wins over type balance, since a curriculum that jumps back to easy questions is worse
than a batch with a slightly uneven mix.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from pipeline.config import DarcConfig
from pipeline.records import CurriculumItem, Difficulty, Label, Question

Row = tuple[Question, Label, Difficulty]


def order_curriculum(rows: list[Row], darc: DarcConfig, batch_size: int) -> list[CurriculumItem]:
    """Rows in curriculum order, with positions, batch indices and non-monotone document flags."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    shares = {t: c / len(rows) for t, c in Counter(q.answer_type for q, _, _ in rows).items()} if rows else {}
    flagged = non_monotone_documents(rows, darc.monotone_margin)
    ordered: list[Row] = []
    taken: Counter[str] = Counter()
    by_level: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_level[curriculum_level(row[0], row[2], darc)].append(row)
    for level in sorted(by_level):
        queues: dict[str, list[Row]] = defaultdict(list)
        for row in sorted(by_level[level], key=lambda r: -r[2].solve_rate):  # stable
            queues[row[0].answer_type].append(row)
        heads = {t: 0 for t in queues}
        for _ in range(len(by_level[level])):
            placed = len(ordered) + 1
            # The type most behind its share goes next; ties go to the easier head, then the name.
            answer_type = max((t for t in queues if heads[t] < len(queues[t])),
                              key=lambda t: (shares[t] * placed - taken[t],
                                             queues[t][heads[t]][2].solve_rate, -ord(t[0])))
            ordered.append(queues[answer_type][heads[answer_type]])
            heads[answer_type] += 1
            taken[answer_type] += 1
    return [CurriculumItem(position=i, batch=i // batch_size, question=q, label=lab, difficulty=d,
                           non_monotone_doc=q.doc_id in flagged)
            for i, (q, lab, d) in enumerate(ordered)]


def curriculum_level(question: Question, difficulty: Difficulty, darc: DarcConfig) -> int:
    """The level a row is ordered with: its target level, or for a GASP variant the nearest by solve rate."""
    if question.level in darc.levels or not darc.levels:
        return question.level
    return min(darc.levels, key=lambda level: (abs(darc.levels[level] - difficulty.solve_rate), level))


def non_monotone_documents(rows: list[Row], margin: float) -> set[str]:
    """Documents where a harder level's mean solve rate beats an easier one's by more than margin."""
    rates: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for question, _, difficulty in rows:
        if question.doc_id and question.method == "darc":
            rates[question.doc_id][question.level].append(difficulty.solve_rate)
    flagged = set()
    for doc_id, levels in rates.items():
        means = [statistics.fmean(levels[level]) for level in sorted(levels)]
        # Compare every easier level with every harder one, not only neighbours.
        if any(means[j] > means[i] + margin for i in range(len(means)) for j in range(i + 1, len(means))):
            flagged.add(doc_id)
    return flagged


def calibration_summary(items: list[CurriculumItem], darc: DarcConfig) -> list[dict]:
    """Per level: count, target solve rate, measured mean/std/min/max, agreement with the questioner."""
    by_level: dict[int, list[CurriculumItem]] = defaultdict(list)
    for item in items:
        by_level[item.question.level].append(item)
    summary = []
    for level in sorted(set(darc.levels) | set(by_level)):
        group = by_level.get(level, [])
        rates = [item.difficulty.solve_rate for item in group]
        summary.append({
            "level": level,
            "count": len(group),
            "target_solve_rate": darc.levels.get(level),
            "measured_mean": statistics.fmean(rates) if rates else None,
            "measured_std": statistics.pstdev(rates) if rates else None,
            "measured_min": min(rates) if rates else None,
            "measured_max": max(rates) if rates else None,
            "label_agreement": (statistics.fmean(item.label.agrees_with_questioner for item in group)
                                if group else None),
            "non_monotone_docs": len({i.question.doc_id for i in group if i.non_monotone_doc}),
        })
    return summary
