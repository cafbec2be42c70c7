"""The landing codes of issue #10 are documented with their meaning and the exact remediation
text the export carries, and the bad-input section of providers.md exists."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from rostersync_pipeline.lib.report.error_codes import ERROR_CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"
LANDING_CODES = ("INVALID_ENCODING", "UNKNOWN_COLUMN", "MISSING_COLUMN", "UNSUPPORTED_RESPONSE")


@pytest.mark.parametrize("code", LANDING_CODES)
def test_a_landing_code_is_documented_with_its_remediation(code: str) -> None:
    text = (DOCS / "error-codes.md").read_text(encoding="utf-8")
    rows = re.findall(rf"^\| `{code}` \| (.+?) \|(?: .+ \|)?$", text, flags=re.MULTILINE)
    assert len(rows) == 2, rows  # the meaning row and the remediation row
    assert html.unescape(rows[1]) == ERROR_CODES[code].remediation


def test_providers_doc_says_what_happens_with_bad_input() -> None:
    text = (DOCS / "providers.md").read_text(encoding="utf-8")
    for heading in ("## What rostersync does with bad input", "### Encodings", "### Columns",
                    "### Response shapes", "### Passwords"):
        assert heading in text
