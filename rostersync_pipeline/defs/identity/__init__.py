"""Dagster objects for identity resolution: recording match decisions on duplicate alerts."""
