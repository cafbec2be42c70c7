"""Plain Python machinery (no Dagster imports): readers, SQL runner, matching, planning, export."""
