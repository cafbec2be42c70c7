"""A first load into empty destination tables: secondary indexes and constraints built once.

Maintaining a unique index, foreign keys and secondary indexes row by row is most of the cost of
inserting millions of rows; building them after the insert is a sort and one set-based check.
So when an apply is about to insert at least :data:`BULK_LOAD_ROWS` rows into a table that is
still empty (a district's first sync into a new destination), that table's indexes and
constraints other than its primary key are dropped inside the apply transaction and re-created,
with the same names and definitions, before it commits. A crash rolls the drop back with
everything else. The tables are locked (``ACCESS EXCLUSIVE``) until the commit, which an empty
table's readers can afford. A table whose unique constraint another table's foreign key relies
on is loaded the ordinary way.
"""

from __future__ import annotations

from psycopg2 import sql

BULK_LOAD_ROWS = 50_000

CONSTRAINTS_SQL = """
select c.conname, pg_get_constraintdef(c.oid), c.contype,
    c.contype = 'u' and exists (select 1 from pg_constraint as f
                                where f.contype = 'f' and f.conindid = c.conindid)
from pg_constraint as c
where c.conrelid = %(table)s::regclass and c.contype in ('u', 'f')
order by c.contype desc, c.conname
"""

INDEXES_SQL = """
select format('%%I.%%I', n.nspname, ci.relname), pg_get_indexdef(i.indexrelid)
from pg_index as i
join pg_class as ci on ci.oid = i.indexrelid
join pg_namespace as n on n.oid = ci.relnamespace
where i.indrelid = %(table)s::regclass
    and not i.indisprimary
    and not exists (select 1 from pg_constraint as c where c.conindid = i.indexrelid)
order by ci.relname
"""


def defer_secondary_objects(cursor, schema: str, expected_rows: dict[str, int]) -> list[sql.Composed]:
    """Drop the secondary indexes and constraints of every table about to receive at least
    ``BULK_LOAD_ROWS`` rows while empty; returns the statements that re-create them and
    analyze the loaded tables (run them, in order, after the inserts, before the commit)."""
    rebuild: list[sql.Composed] = []
    loaded: list[sql.Composed] = []
    for table, rows in expected_rows.items():
        if rows < BULK_LOAD_ROWS:
            continue
        target = sql.Identifier(schema, table)
        cursor.execute(sql.SQL("select not exists (select 1 from {})").format(target))
        if not cursor.fetchone()[0]:
            continue
        name = f'"{schema}"."{table}"'
        cursor.execute(CONSTRAINTS_SQL, {"table": name})
        constraints = cursor.fetchall()
        if any(referenced for *_, referenced in constraints):
            continue
        cursor.execute(INDEXES_SQL, {"table": name})
        indexes = cursor.fetchall()
        for index, _ in indexes:
            cursor.execute(sql.SQL("drop index {}").format(sql.SQL(index)))
        for constraint, _, _, _ in constraints:
            cursor.execute(sql.SQL("alter table {} drop constraint {}").format(
                target, sql.Identifier(constraint)))
        loaded.append(sql.SQL("analyze {}").format(target))
        rebuild += [sql.SQL(definition) for _, definition in indexes]
        rebuild += [sql.SQL("alter table {} add constraint {} {}").format(
            target, sql.Identifier(constraint), sql.SQL(definition))
            for constraint, definition, _, _ in constraints]
    # unique constraints first (a foreign key may reference one), then the foreign keys; then
    # fresh statistics, so that the next run's statements are planned for the loaded tables
    return [*sorted(rebuild, key=lambda s: " foreign key " in s.as_string(cursor).lower()),
            *loaded]
