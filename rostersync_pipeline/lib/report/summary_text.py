"""A run summary as Markdown (Dagster UI metadata) and as plain text (the CLI).

Both show counts per entity and action, errors per code, ID changes, match alerts and a sample
of plan rows per action: IDs and changed field names only, never names, emails or birth dates.
"""

from __future__ import annotations

from rostersync_pipeline.lib.report.run_record import RunSummary

ACTIONS = ("create", "update", "reactivate", "deactivate", "unchanged")


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _fetch(summary: RunSummary) -> str:
    if summary.fetch_complete is None:
        return summary.fetch_mode or "no fetch"
    state = "complete" if summary.fetch_complete else "INCOMPLETE"
    return f"fetch {state}, {summary.fetch_mode}"


def _sample_cells(row: dict) -> list[str]:
    changed = ", ".join(row.get("changed_fields") or []) or "-"
    return [row["entity"], row["action"], str(row["app_id"]), str(row.get("source_id") or "-"),
            changed, str(row.get("matched_rule") or "-")]


SAMPLE_HEADER = ["entity", "action", "app_id", "source_id", "changed fields", "matched rule"]


def summary_markdown(summary: RunSummary) -> str:
    lines = [
        f"**{summary.district_id}** run `{summary.run_id[:8]}`: **{summary.status}**"
        f" ({_fetch(summary)})",
        "",
        "| entity | " + " | ".join(ACTIONS) + " |",
        "|---" * (len(ACTIONS) + 1) + "|",
    ]
    for entity, actions in sorted(summary.counts.items()):
        lines.append(f"| {entity} | " + " | ".join(str(actions.get(a, 0)) for a in ACTIONS) + " |")
    if summary.error_counts:
        lines += ["", "| error code | rows |", "|---|---|"]
        lines += [f"| {code} | {n} |" for code, n in _by_count(summary.error_counts)]
    else:
        lines += ["", "Errors: none."]
    id_changes = ", ".join(f"{e} {n}" for e, n in sorted(summary.id_changes.items()))
    lines += ["", f"ID changes: {id_changes or 'none'}."]
    if summary.alerts is not None:
        alerts = ", ".join(f"{k} {n}" for k, n in sorted(summary.alerts.items()))
        lines.append(f"Match alerts: {alerts or 'none'}.")
    if summary.samples:
        lines += ["", "Sample rows per action:", "",
                  "| " + " | ".join(SAMPLE_HEADER) + " |", "|---" * len(SAMPLE_HEADER) + "|"]
        lines += ["| " + " | ".join(_sample_cells(row)) + " |" for row in summary.samples]
    if summary.reasons:
        lines += ["", "Held / not applied because:"] + [f"- {r}" for r in summary.reasons]
    return "\n".join(lines)


def summary_text(summary: RunSummary) -> str:
    width = max([len(e) for e in summary.counts] + [8])
    lines = [
        f"district {summary.district_id}  run {summary.run_id}  status: {summary.status}",
        _fetch(summary),
        "",
        f"{'entity':<{width}}  " + "  ".join(f"{a:>10}" for a in ACTIONS),
    ]
    for entity, actions in sorted(summary.counts.items()):
        lines.append(f"{entity:<{width}}  " + "  ".join(f"{actions.get(a, 0):>10}" for a in ACTIONS))
    lines.append("")
    if summary.error_counts:
        lines.append("errors by code:")
        lines += [f"  {code:<26} {n:>8}" for code, n in _by_count(summary.error_counts)]
    else:
        lines.append("errors: none")
    id_changes = ", ".join(f"{e} {n}" for e, n in sorted(summary.id_changes.items()))
    lines.append(f"ID changes: {id_changes or 'none'}")
    if summary.alerts is not None:
        alerts = ", ".join(f"{k} {n}" for k, n in sorted(summary.alerts.items()))
        lines.append(f"match alerts: {alerts or 'none'}")
    if summary.samples:
        lines += ["", "sample rows per action (IDs and changed fields only):"]
        cells = [SAMPLE_HEADER] + [_sample_cells(row) for row in summary.samples]
        widths = [max(len(row[i]) for row in cells) for i in range(len(SAMPLE_HEADER))]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in cells]
    for reason in summary.reasons:
        lines.append(f"note: {reason}")
    return "\n".join(lines)
