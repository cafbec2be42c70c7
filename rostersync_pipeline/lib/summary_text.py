"""A run summary as Markdown (Dagster UI metadata) and as plain text (the CLI)."""

from __future__ import annotations

from rostersync_pipeline.lib.run_record import RunSummary

ACTIONS = ("create", "update", "reactivate", "deactivate", "unchanged")


def summary_markdown(summary: RunSummary) -> str:
    lines = [
        f"**{summary.district_id}** run `{summary.run_id[:8]}`: **{summary.status}**"
        f" (fetch {'complete' if summary.fetch_complete else 'INCOMPLETE'}, {summary.fetch_mode})",
        "",
        "| entity | " + " | ".join(ACTIONS) + " |",
        "|---" * (len(ACTIONS) + 1) + "|",
    ]
    for entity, actions in sorted(summary.counts.items()):
        lines.append(f"| {entity} | " + " | ".join(str(actions.get(a, 0)) for a in ACTIONS) + " |")
    if summary.error_counts:
        lines += ["", "| error code | rows |", "|---|---|"]
        lines += [f"| {code} | {n} |" for code, n in sorted(
            summary.error_counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if summary.reasons:
        lines += ["", "Held / not applied because:"] + [f"- {r}" for r in summary.reasons]
    return "\n".join(lines)


def summary_text(summary: RunSummary) -> str:
    width = max([len(e) for e in summary.counts] + [8])
    lines = [
        f"district {summary.district_id}  run {summary.run_id}  status: {summary.status}",
        f"fetch: {'complete' if summary.fetch_complete else 'INCOMPLETE'} ({summary.fetch_mode})",
        "",
        f"{'entity':<{width}}  " + "  ".join(f"{a:>10}" for a in ACTIONS),
    ]
    for entity, actions in sorted(summary.counts.items()):
        lines.append(f"{entity:<{width}}  " + "  ".join(f"{actions.get(a, 0):>10}" for a in ACTIONS))
    lines.append("")
    if summary.error_counts:
        lines.append("errors by code:")
        lines += [f"  {code:<26} {n:>8}" for code, n in sorted(
            summary.error_counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    else:
        lines.append("errors: none")
    for reason in summary.reasons:
        lines.append(f"note: {reason}")
    return "\n".join(lines)
