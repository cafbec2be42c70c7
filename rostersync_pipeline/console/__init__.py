"""``rostersync console``: the district staff's web console (see docs/console.md).

A small server-rendered Starlette app over the same warehouse as the CLI and the Dagster jobs:
runs and import summaries, held plans with Approve / Discard, possible-duplicate alerts with
Match / Create record, the error export, a manual upload that starts a test import, and the
roster history. Every change goes through the same Dagster jobs (:mod:`.launch`); accounts,
sessions and the audit log are the console's own (:mod:`.auth`, :mod:`.audit`, :mod:`.store`).
"""
