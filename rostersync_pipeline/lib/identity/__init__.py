"""Identity resolution helpers outside the SQL models: hand-made app records, match decisions
on possible-duplicate alerts, and the explain report for one person.

The matching itself is SQL (``dbt_like_sql/marts/sync/matching/matches.sql``, ``match_alerts.sql``,
``id_changes.sql``, ``explain_matches.sql``); see ``docs/identity.md``.
"""
