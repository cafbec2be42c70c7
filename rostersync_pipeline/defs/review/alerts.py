"""The ``decide_match_alert`` job: record a decision on a possible-duplicate alert.

Partitioned by district; launch it from the UI for the district's partition with run config,
e.g.::

    ops:
      record_match_decision:
        config: {source_id: "stu-42", match_app_id: 1007}

or ``create: true`` instead of ``match_app_id``. The source id must be an incoming record of the
district's last run and the app id one of its app records; the next sync honours the decision.
"""

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.identity.decisions import DecisionError, record_decision
from rostersync_pipeline.resources.warehouse import RosterWarehouse

DECIDE_JOB_NAME = "decide_match_alert"


class MatchDecisionConfig(dg.Config):
    source_id: str
    """The incoming record's source id (column source_id_l of sync.match_alerts)."""
    match_app_id: int | None = None
    """Match the incoming record to this app record."""
    create: bool = False
    """Or: it is a different person; create a new app record."""
    decided_by: str | None = None
    note: str | None = None


@dg.op
def record_match_decision(
    context: dg.OpExecutionContext, config: MatchDecisionConfig, warehouse: RosterWarehouse
) -> None:
    """Store the decision in roster.match_decisions (the district's DuckDB file)."""
    district_id = context.partition_key
    with warehouse.connect(district_id) as con:
        try:
            decision = record_decision(
                con, config.source_id, match_app_id=config.match_app_id, create=config.create,
                decided_by=config.decided_by or f"dagster run {context.run_id}", note=config.note,
            )
        except DecisionError as exc:
            raise dg.Failure(description=str(exc)) from exc
    context.log.info(
        f"district {district_id}: {decision.entity} {decision.source_id} -> {decision.decision}"
        + (f" app record {decision.app_id}" if decision.app_id else "")
    )


@dg.job(
    name=DECIDE_JOB_NAME,
    partitions_def=districts_partitions,
    description="Record a match-or-create decision on a possible-duplicate alert of the "
    "district; the next sync of the district honours it.",
)
def decide_match_alert_job() -> None:
    record_match_decision()
