"""Versioned migrations of a PostgreSQL destination schema: numbered SQL files, in order.

``migrations/NNNN_<name>.sql`` are applied in version order, each in its own transaction with
``search_path`` set to the destination schema alone, so a migration can only name that schema's
tables (it never touches the rest of the app's database). Applied versions are recorded in
``<schema>.schema_migrations`` with the SHA-256 of the file. The runner refuses to go on, and
changes nothing, when:

- an applied migration's file has changed since (its checksum differs): migrations are never
  edited once released; add a new one;
- the schema records a version this code has no file for (the schema is newer than this code).

Two processes migrating the same schema at once take turns on a transaction-level advisory lock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LEDGER_DDL = """create table if not exists {schema}.schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)"""


class MigrationRefused(RuntimeError):
    """The destination schema's recorded migrations do not agree with this code's files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of ``directory`` in version order (1, 2, ... with no gap)."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationRefused(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2),
                               path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationRefused(f"{directory}: migration versions must run 1, 2, ... without "
                               f"gaps or repeats, found {versions}")
    return found


def _lock(cursor, schema: str) -> None:
    cursor.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                   [f"rostersync/migrate/{schema}"])


def _recorded(cursor, schema: str) -> dict[int, tuple[str, str]]:
    cursor.execute(sql.SQL("select version, name, checksum from {}.schema_migrations").format(
        sql.Identifier(schema)))
    return {version: (name, checksum) for version, name, checksum in cursor.fetchall()}


def _check(recorded: dict[int, tuple[str, str]], migrations: list[Migration], schema: str) -> None:
    known = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(recorded.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationRefused(
                f"schema {schema} has migration {version:04d}_{name} applied, which this "
                "version of rostersync does not know: the schema is newer than this code")
        if migration.checksum != checksum:
            raise MigrationRefused(
                f"schema {schema}: migration {version:04d}_{name} was applied with checksum "
                f"{checksum[:12]}…, its file now has {migration.checksum[:12]}…: applied "
                "migrations must not be edited (add a new migration instead)")


def migrate(conn, schema: str, migrations: list[Migration] | None = None) -> list[int]:
    """Bring ``schema`` up to the newest migration; returns the versions applied now.

    ``conn`` is a psycopg2 connection not in a transaction; it is left the same way."""
    migrations = load_migrations() if migrations is None else migrations
    schema_id = sql.Identifier(schema)
    with conn, conn.cursor() as cursor:
        _lock(cursor, schema)
        cursor.execute(sql.SQL("create schema if not exists {}").format(schema_id))
        cursor.execute(sql.SQL(LEDGER_DDL).format(schema=schema_id))
        _check(_recorded(cursor, schema), migrations, schema)
    applied = []
    for migration in migrations:
        with conn, conn.cursor() as cursor:
            _lock(cursor, schema)
            recorded = _recorded(cursor, schema)
            _check(recorded, migrations, schema)
            if migration.version in recorded:
                continue
            cursor.execute(sql.SQL("set local search_path to {}").format(schema_id))
            cursor.execute(migration.sql)
            cursor.execute(
                sql.SQL("insert into {}.schema_migrations (version, name, checksum) "
                        "values (%s, %s, %s)").format(schema_id),
                [migration.version, migration.name, migration.checksum],
            )
            applied.append(migration.version)
    return applied
