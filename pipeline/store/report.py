"""report.html of a version: one self-contained page (PNG plots embedded as base64, inline CSS).

Plots: calibration (target vs. measured solve rate per level), answer-type mix, majority-fraction
histogram, rejection reasons, and one GASP ladder per goalpost when the version has any.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.store.summary import answer_type_mix, format_number

MAX_LADDERS = 12
_CSS = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "img{max-width:100%}h2{border-bottom:1px solid #ddd}")


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _calibration_plot(calibration: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    rows = [r for r in calibration if r.get("count") and r.get("target_solve_rate") is not None]  # GASP (level 0) has no target
    figure, axes = plt.subplots(figsize=(5, 3.5))
    levels = [str(r["level"]) for r in rows]
    axes.plot(levels, [r.get("target_solve_rate") for r in rows], "s--", label="target", color="gray")
    axes.errorbar(levels, [r["measured_mean"] for r in rows], yerr=[r.get("measured_std") or 0 for r in rows],
                  fmt="o-", capsize=4, label="measured")
    axes.set(xlabel="difficulty level", ylabel="student solve rate", ylim=(0, 1.05), title="Calibration")
    axes.legend()
    return _png(figure)


def _bar_plot(counts: dict[str, float], title: str, xlabel: str) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 0.4 * max(3, len(counts)) + 1))
    names = list(counts)
    axes.barh(names, [counts[n] for n in names])
    axes.invert_yaxis()
    axes.set(title=title, xlabel=xlabel)
    return _png(figure)


def _histogram(values, title: str, xlabel: str) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.hist(values, bins=20, range=(0, 1))
    axes.set(title=title, xlabel=xlabel, ylabel="questions")
    return _png(figure)


def _ladder_plots(curriculum: pa.Table) -> list[tuple[str, str]]:
    """One plot per goalpost: each variant at its depth and solve rate, joined to its parent."""
    import matplotlib.pyplot as plt

    columns = ["question_id", "goalpost_id", "parent_id", "depth", "role", "solve_rate"]
    gasp = curriculum.select(columns).filter(pc.not_equal(curriculum.column("goalpost_id"), ""))
    rows = gasp.to_pylist()
    by_goalpost: dict[str, list[dict]] = {}
    for row in rows:
        by_goalpost.setdefault(row["goalpost_id"], []).append(row)
    plots = []
    for goalpost, variants in sorted(by_goalpost.items())[:MAX_LADDERS]:
        figure, axes = plt.subplots(figsize=(5, 3))
        by_id = {v["question_id"]: v for v in variants}
        for v in variants:
            parent = by_id.get(v["parent_id"])
            if parent:
                axes.plot([parent["depth"], v["depth"]], [parent["solve_rate"], v["solve_rate"]], "-", color="#bbb")
            marker = "o" if v["role"] == "lemma" else "^"
            axes.plot(v["depth"], v["solve_rate"], marker, color="C0" if v["role"] == "lemma" else "C3")
        axes.set(title=f"goalpost {goalpost}", xlabel="depth (o lemma, ^ lift)", ylabel="solve rate", ylim=(-0.05, 1.05))
        plots.append((goalpost, _png(figure)))
    return plots


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_number(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_report(manifest: dict[str, Any], curriculum: pa.Table) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    counts = manifest["counts"]
    calibration = manifest.get("calibration") or []
    reasons = Counter(counts.get("rejection_reasons", {}))
    title = html.escape(f"{manifest['dataset']} {manifest['version']}")
    sections = [
        f"<h1>{title}</h1><p>{counts['rows']} questions, {counts['rejects']} rejected, "
        f"{counts.get('documents', 0)} documents. Created {html.escape(manifest['created'])}; parent "
        f"{html.escape(str(manifest.get('parent') or 'none'))}; curriculum {html.escape(manifest['package_version'])}.</p>",
        "<h2>Calibration</h2>" + _table(calibration, ["level", "count", "target_solve_rate", "measured_mean", "measured_std", "label_agreement"]),
    ]
    if any(r.get("count") and r.get("target_solve_rate") is not None for r in calibration):
        sections.append(_calibration_plot(calibration))
    if curriculum.num_rows:
        sections.append("<h2>Answer types</h2>" + _bar_plot(answer_type_mix(curriculum), "Answer-type mix", "share"))
        sections.append("<h2>Label confidence</h2>" + _histogram(
            curriculum.column("majority_fraction").to_numpy(), "Majority fraction", "teacher majority fraction"))
    sections.append("<h2>Rejections</h2>" + (_bar_plot(dict(reasons.most_common()), "Rejection reasons", "count")
                                             if reasons else "<p>No rejections.</p>"))
    ladders = _ladder_plots(curriculum)
    if ladders or manifest.get("goalposts"):
        sections.append("<h2>GASP ladders</h2>" + _table(manifest.get("goalposts") or [],
                                                         ["goalpost_id", "pass_at_k", "k", "deepest_depth"]))
        sections += [plot for _, plot in ladders]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style>"
            f"</head><body>{''.join(sections)}</body></html>\n")
