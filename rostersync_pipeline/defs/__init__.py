"""Dagster objects, by stage: ingest, transform, checks, sync, reports, and orchestration."""
