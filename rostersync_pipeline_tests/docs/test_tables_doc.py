"""``docs/tables.md`` against the live schema, so that it cannot drift.

A tiny district is synced for real (its plan held for approval, so the plan store's tables exist
too). Every column of every ``core.*``, ``sync.*`` and ``roster.*`` relation of its DuckDB file,
and of every view in ``analytics.duckdb``, must be documented; every documented column of those
must exist.

How the page is read:

- A table's section starts at a line opening with ``**`schema.table`**`` (several such names on
  one line share the section) or, for an analytics view, a ``### `view` `` heading. It ends at the
  next section or Markdown heading. Fenced code is skipped.
- Each row of a Markdown table in the section documents the backticked names of its first cell
  that holds any (so ``| A | `record_type` | ...`` documents ``record_type``).
- "every column of `other.table`" (optionally "except `a`, `b`") in the section adds that table's
  documented columns.
- A ``<placeholder>`` in a section's name matches any name part in the live schema and stands
  for the same part in its "every column of" target (``roster.<entity>_history`` ->
  ``roster.<entity>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

TABLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
CHECKED_SCHEMAS = ("core", "sync", "roster", "analytics")
_DISTRICT_HEADING = re.compile(r"^\*\*`([a-z_<>]+\.[a-z_<>]+)`\*\*")
_HEADING_NAME = re.compile(r"\*\*`([a-z_<>]+\.[a-z_<>]+)`\*\*")
_VIEW_HEADING = re.compile(r"^### `([a-z_]+)`\s*$")
_INHERIT = re.compile(r"[Ee]very column of `([a-z_<>]+\.[a-z_<>]+)`((?: except `[a-z_]+`(?:,? `[a-z_]+`)*"
                      r"(?:,? and `[a-z_]+`)?)?)")
_NAME = re.compile(r"`([a-z_][a-z0-9_]*)`")
_PLACEHOLDER = re.compile(r"<([a-z_]+)>")


@dataclass
class Section:
    names: list[str]
    columns: set[str] = field(default_factory=set)
    inherits: list[tuple[str, set[str]]] = field(default_factory=list)


def _section_lines(text: str) -> list[tuple[list[str], list[str]]]:
    """(names, lines) of each table section, fenced code left out."""
    sections: list[tuple[list[str], list[str]]] = []
    lines: list[str] | None = None
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        view = _VIEW_HEADING.match(line)
        if view or _DISTRICT_HEADING.match(line):
            lines = []
            sections.append(([f"analytics.{view.group(1)}"] if view
                             else _HEADING_NAME.findall(line), lines))
        elif line.startswith("#"):
            lines = None
            continue
        if lines is not None:
            lines.append(line)
    return sections


def parse_sections(text: str) -> list[Section]:
    """The page's table sections, as written (placeholders and inheritance unresolved)."""
    parsed = []
    for names, lines in _section_lines(text):
        section = Section(names)
        prose = " ".join(line for line in lines if not line.startswith("|"))
        for target, excepted in _INHERIT.findall(prose):
            section.inherits.append((target, set(_NAME.findall(excepted))))
        for line in lines:
            if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
                cells = [cell for cell in line.strip().strip("|").split(" | ") if "`" in cell]
                if cells:
                    section.columns |= set(_NAME.findall(cells[0]))
        parsed.append(section)
    return parsed


def _pattern(name: str) -> re.Pattern:
    parts = _PLACEHOLDER.split(name)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[a-z0-9_]+?)"
                    for i, p in enumerate(parts))
    return re.compile(regex + "$")


def _fill(name: str, parts: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], name)


def documented_columns(text: str, live_names: set[str]) -> dict[str, set[str]]:
    """Documented columns by relation, placeholders matched against ``live_names``."""
    sections = parse_sections(text)
    concrete = {name: s for s in sections for name in s.names if "<" not in name}
    for pattern in sections:
        for name in (n for n in pattern.names if "<" in n):
            for live in sorted(live_names - set(concrete)):
                found = _pattern(name).match(live)
                if found:
                    inherits = [(_fill(target, found.groupdict()), excepted)
                                for target, excepted in pattern.inherits]
                    concrete[live] = Section([live], pattern.columns, inherits)
    resolved: dict[str, set[str]] = {}

    def columns_of(name: str, seen: tuple[str, ...] = ()) -> set[str]:
        if name in seen:
            raise AssertionError(f"docs/tables.md: {' -> '.join((*seen, name))} is circular")
        if name not in resolved:
            if name not in concrete:
                raise AssertionError(f"docs/tables.md: 'every column of `{name}`', which is "
                                     "not documented")
            section = concrete[name]
            found = set(section.columns)
            for target, excepted in section.inherits:
                found |= columns_of(target, (*seen, name)) - excepted
            resolved[name] = found
        return resolved[name]

    return {name: columns_of(name) for name in concrete
            if name.split(".")[0] in CHECKED_SCHEMAS}


def _relations(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    marks = ", ".join("?" for _ in schemas)
    for schema, table, column in con.execute(
        f"select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in ({marks})", list(schemas)
    ).fetchall():
        found.setdefault(f"{schema}.{table}", set()).add(column)
    return found


def _tiny_bundle(directory: Path) -> Path:
    users = [student("s1", "sch1"), student("s2", "sch1", grades=""), teacher("t1", "sch1")]
    return write_bundle(
        directory, orgs=[org("sch1", "Lincoln Elementary")], users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role=u["role"]) for u in users])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Columns by relation of a real district file and analytics.duckdb after one held run."""
    tmp = tmp_path_factory.mktemp("tables-doc")
    district = make_district(tmp, _tiny_bundle(tmp / "bundle"), "lincoln-usd",
                             schools={"create_unmatched": True}, require_approval=True)
    outcome = district.sync()
    assert outcome.status == "requires_review", outcome.failure
    with district_connection(district.warehouse_dir, district.district_id) as con:
        relations = _relations(con, ("core", "sync", "roster"))
    with duckdb.connect(str(district.warehouse_dir / "analytics.duckdb"), read_only=True) as con:
        views = _relations(con, ("main",))
    relations.update({f"analytics.{name.split('.')[1]}": cols for name, cols in views.items()})
    assert "analytics.runs" in relations and "sync.stored_plans" in relations
    return relations


@pytest.fixture(scope="module")
def documented(live: dict[str, set[str]]) -> dict[str, set[str]]:
    return documented_columns(TABLES_DOC.read_text(encoding="utf-8"), set(live))


def test_every_live_column_is_documented(
    live: dict[str, set[str]], documented: dict[str, set[str]]
) -> None:
    missing = {name: sorted(columns - documented.get(name, set()))
               for name, columns in sorted(live.items()) if columns - documented.get(name, set())}
    assert missing == {}, f"docs/tables.md lacks these live columns: {missing}"


def test_every_documented_column_exists(
    live: dict[str, set[str]], documented: dict[str, set[str]]
) -> None:
    absent_tables = sorted(set(documented) - set(live))
    assert absent_tables == [], f"docs/tables.md documents tables the schema lacks: {absent_tables}"
    extra = {name: sorted(columns - live[name])
             for name, columns in sorted(documented.items()) if columns - live[name]}
    assert extra == {}, f"docs/tables.md documents columns the schema lacks: {extra}"


PAGE = """
**`sync.base`**: the base table.

| column | type | meaning |
|---|---|---|
| `a`, `b` | VARCHAR | two columns (`not_a_column` is a value) |
| A | `c` | a column behind an export letter |

```sql
**`sync.in_code`**
```

**`sync.child`** and **`sync.twin`**: every column of
`sync.base` except `b`, then:

| `d` | BIGINT | |

### `view`

Every column of `sync.base`.

**`roster.<entity>_history`**: every column of `roster.<entity>`, and `valid_from`.

| `valid_from` | TIMESTAMP | |

**`roster.users`**

| `app_id` | BIGINT | |

## Other
| `not_documented` | | |
"""


def test_the_page_reader_follows_headings_tables_inheritance_and_placeholders() -> None:
    documented = documented_columns(PAGE, {"roster.users_history", "roster.users"})
    assert documented == {
        "sync.base": {"a", "b", "c"},
        "sync.child": {"a", "c", "d"},
        "sync.twin": {"a", "c", "d"},
        "analytics.view": {"a", "b", "c"},
        "roster.users_history": {"app_id", "valid_from"},
        "roster.users": {"app_id"},
    }
