"""Numbers about a version that the manifest, card, report and `datasets show|diff` all print.

Computed from the curriculum table where the build did not supply them, so a version published
without a calibration summary still gets one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def _targets(config: dict[str, Any]) -> dict[int, float]:
    levels = (config.get("darc") or {}).get("levels") or {1: 0.8, 2: 0.5, 3: 0.2}
    return {int(level): float(rate) for level, rate in levels.items()}


def calibration_from_table(curriculum: pa.Table, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Per DARC level: count, target and measured solve rate (mean, std), label agreement."""
    targets = _targets(config)
    # Arrow group-by over whole columns: a Python loop over a million rows took seconds
    table = pa.table({"level": curriculum.column("level"), "solve_rate": curriculum.column("solve_rate"),
                      "agree": pc.cast(curriculum.column("agrees_with_questioner"), pa.float64())})
    grouped = table.group_by("level").aggregate([
        ([], "count_all"), ("solve_rate", "mean"), ("solve_rate", "stddev", pc.VarianceOptions(ddof=0)),
        ("agree", "mean")]).to_pylist()
    by_level = {row["level"]: row for row in grouped}
    rows = []
    for level in sorted(set(by_level) | set(targets)):
        found = by_level.get(level, {})
        rows.append({"level": level, "count": found.get("count_all", 0), "target_solve_rate": targets.get(level),
                     "measured_mean": found.get("solve_rate_mean"), "measured_std": found.get("solve_rate_stddev"),
                     "label_agreement": found.get("agree_mean")})
    return rows


def shares(values: list[Any]) -> dict[str, float]:
    counts = Counter(str(v) for v in values)
    total = sum(counts.values()) or 1
    return {key: count / total for key, count in sorted(counts.items())}


def column_shares(column: pa.ChunkedArray | pa.Array) -> dict[str, float]:
    """`shares` of a column's values, counted by Arrow."""
    counts = Counter()
    for entry in pc.value_counts(column).to_pylist():
        counts[str(entry["values"])] += entry["counts"]
    total = sum(counts.values()) or 1
    return {key: count / total for key, count in sorted(counts.items())}


def level_mix(curriculum: pa.Table) -> dict[str, float]:
    return column_shares(curriculum.column("level"))


def answer_type_mix(curriculum: pa.Table) -> dict[str, float]:
    return column_shares(curriculum.column("answer_type"))


def agreement(curriculum: pa.Table) -> float | None:
    if curriculum.num_rows == 0:
        return None
    return pc.mean(pc.cast(curriculum.column("agrees_with_questioner"), pa.float64())).as_py()


def format_number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def calibration_markdown(calibration: list[dict[str, Any]]) -> str:
    """The calibration table as markdown (card and `datasets show`)."""
    lines = ["| level | rows | target solve rate | measured (mean ± std) | label agreement |",
             "|---|---|---|---|---|"]
    for row in calibration:
        measured = format_number(row.get("measured_mean"))
        if row.get("measured_std") is not None:
            measured += f" ± {format_number(row['measured_std'])}"
        lines.append(f"| {row.get('level')} | {row.get('count')} | {format_number(row.get('target_solve_rate'))} "
                     f"| {measured} | {format_number(row.get('label_agreement'))} |")
    return "\n".join(lines)


def diff_tables(a: pa.Table, b: pa.Table) -> dict[str, Any]:
    """Counts, added/removed question ids, and shifts in level mix and label agreement from a to b."""
    ids_a = set(a.column("question_id").to_pylist())
    ids_b = set(b.column("question_id").to_pylist())
    mix_a, mix_b = level_mix(a), level_mix(b)
    agree_a, agree_b = agreement(a), agreement(b)
    return {
        "rows": (a.num_rows, b.num_rows),
        "added": sorted(ids_b - ids_a),
        "removed": sorted(ids_a - ids_b),
        "level_mix": {lvl: (mix_a.get(lvl, 0.0), mix_b.get(lvl, 0.0)) for lvl in sorted(set(mix_a) | set(mix_b))},
        "agreement": (agree_a, agree_b),
    }
