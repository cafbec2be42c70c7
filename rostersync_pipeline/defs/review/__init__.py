"""Review of held plans: the ``approve_plan`` job."""
