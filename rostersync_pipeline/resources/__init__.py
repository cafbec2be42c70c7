"""Thin ``ConfigurableResource`` wrappers around the plain machinery in ``lib/``."""
