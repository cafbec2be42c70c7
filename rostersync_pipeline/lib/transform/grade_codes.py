"""The default grade code table ("define codes"): source grade values -> the app's grade code.

Covers CEDS codes and Clever's grade names. A district adds or overrides entries with
``grade_codes`` in its config. Keys are compared lower-cased and trimmed.
"""

from __future__ import annotations

APP_GRADE_CODES = (
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10",
    "11", "12", "13", "PS", "UG", "Other",
)

_NAMED = {
    "infanttoddler": "IT", "preschool": "PR", "prekindergarten": "PK", "pre-k": "PK",
    "transitionalkindergarten": "TK", "kindergarten": "KG", "k": "KG", "postgraduate": "PS",
    "ungraded": "UG", "other": "Other",
    # spelled-out variants seen in SIS exports
    "infant/toddler": "IT", "pre-kindergarten": "PK", "pre kindergarten": "PK",
    "transitional kindergarten": "TK", "post graduate": "PS", "post-graduate": "PS",
}


def default_grade_codes() -> dict[str, str]:
    table = {code.lower(): code for code in APP_GRADE_CODES}
    table.update(_NAMED)
    for n in range(1, 14):
        table[str(n)] = f"{n:02d}"
        table[f"{n:02d}"] = f"{n:02d}"
    return table


def grade_code_table(overrides: dict[str, str]) -> dict[str, str]:
    table = default_grade_codes()
    table.update({k.strip().lower(): v for k, v in overrides.items()})
    return table
