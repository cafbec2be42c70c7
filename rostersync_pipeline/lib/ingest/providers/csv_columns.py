"""Which header of a CSV file feeds which spec column, and what is reported about the rest.

Shared by the OneRoster and Clever-format CSV adapters; each passes its format's rules
(:class:`ColumnRules`). Per file, in this order:

1. a header equal to a spec column (case-insensitive, spaces around it ignored) is that column;
   a second header for the same column is ``UNKNOWN_COLUMN`` (it repeats one already used);
2. a known legacy alias feeds its spec column only when the file lacks the spec column itself,
   whatever their order; an alias beside its spec column is ``UNKNOWN_COLUMN`` (not used);
3. a spec column still missing while exactly one header *normalises* to it (case, ``_``, ``-``
   and spaces ignored: ``given_name`` / ``Given Name`` for ``givenName``, ``Student ID`` for
   ``Student_id``) is read from that header and reported once as ``MISSING_COLUMN`` naming
   both; several such headers are all reported and none is used;
4. a password column (any header whose name holds "password") is dropped unless the district
   keeps passwords (``source.keep_passwords``): not landed, not in ``_ext``;
5. every other header keeps its values in ``_ext``. Extension columns the format allows
   (OneRoster ``metadata.*``, Clever ``ext.*``) and spec columns rostersync does not land as
   their own column are expected; any other header is one ``UNKNOWN_COLUMN`` per file.

Column problems never block deactivation: every row was read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rostersync_pipeline.lib.ingest.landing import FetchProblem

_SEPARATORS = re.compile(r"[\s_\-]+")
KEPT = "(its values are kept in the raw table's _ext)"


def normalized(name: str) -> str:
    """``Given Name`` / ``given_name`` / ``GIVEN-NAME`` -> ``givenname``."""
    return _SEPARATORS.sub("", name).lower()


def is_password_column(name: str) -> bool:
    return "password" in normalized(name)


@dataclass(frozen=True)
class ColumnRules:
    """A CSV format's columns for one file."""

    spec_columns: Sequence[str]
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Lower-cased legacy header -> spec column."""
    extension_prefixes: Sequence[str] = ()
    """Lower-cased prefixes of the extension columns the format allows (``metadata.``)."""
    other_spec_columns: Sequence[str] = ()
    """Spec columns kept in ``_ext`` rather than landed as their own column (not reported)."""
    format_name: str = "CSV"


@dataclass
class ColumnMap:
    spec: dict[str, int] = field(default_factory=dict)
    """Spec column -> header position."""
    ext: dict[str, int] = field(default_factory=dict)
    """Extension column name -> header position (kept in ``_ext``)."""
    dropped: list[str] = field(default_factory=list)
    """Password headers not landed."""
    problems: list[FetchProblem] = field(default_factory=list)


def map_columns(file_name: str, header: Sequence[str], rules: ColumnRules, *,
                keep_passwords: bool = False) -> ColumnMap:
    """Map one file's header onto ``rules`` (see the module docstring for the order)."""
    by_lower = {c.lower(): c for c in rules.spec_columns}
    result = ColumnMap()
    names = [h.strip() for h in header]
    free = [pos for pos, name in enumerate(names) if name]

    def report(pos: int, reason: str) -> None:
        result.problems.append(FetchProblem(
            file_name, reason, row=1, field=names[pos], error_code="UNKNOWN_COLUMN",
            blocks_deactivation=False))

    def set_aside(pos: int, reason: str) -> None:
        """A header not used for its spec column: into ``_ext`` and reported (or dropped)."""
        if is_password_column(names[pos]) and not keep_passwords:
            result.dropped.append(names[pos])
            return
        result.ext.setdefault(names[pos], pos)
        report(pos, reason)

    for pos in list(free):
        column = by_lower.get(names[pos].lower())
        if column is None:
            continue
        free.remove(pos)
        if column in result.spec:
            set_aside(pos, f"repeats the column {column}, which the file already has; the "
                           f"first one was used and this one was not imported {KEPT}")
        else:
            result.spec[column] = pos
    for pos in list(free):
        column = rules.aliases.get(names[pos].lower())
        if column is None:
            continue
        free.remove(pos)
        if column in result.spec:
            set_aside(pos, f"is a legacy name of {column}, which the file also has; {column} "
                           f"was used and this column was not imported {KEPT}")
        else:
            result.spec[column] = pos
    _near_matches(file_name, names, free, rules, result, keep_passwords)
    for column in [c for c in result.spec if is_password_column(c) and not keep_passwords]:
        result.dropped.append(names[result.spec.pop(column)])
    other_spec = {normalized(c) for c in rules.other_spec_columns}
    for pos in free:
        name = names[pos]
        if is_password_column(name) and not keep_passwords:
            result.dropped.append(name)
            continue
        if name in result.ext:
            report(pos, f"repeats the column {name}; only the first one's values are kept in "
                        "the raw table's _ext")
            continue
        result.ext[name] = pos
        if name.lower().startswith(tuple(rules.extension_prefixes)) \
                or normalized(name) in other_spec:
            continue
        report(pos, _unknown_reason(rules))
    return result


def _unknown_reason(rules: ColumnRules) -> str:
    allowed = " or ".join(f"{p}<name>" for p in rules.extension_prefixes)
    reason = (f"is neither a {rules.format_name} column nor a known legacy name: it was not "
              f"imported {KEPT}")
    if allowed:
        reason += f"; an extension column is named {allowed}"
    return reason


def _near_matches(file_name: str, names: list[str], free: list[int], rules: ColumnRules,
                  result: ColumnMap, keep_passwords: bool) -> None:
    """Step 3: headers that normalise to a spec column the file lacks (or to its alias)."""
    targets = {normalized(c): c for c in rules.spec_columns}
    targets |= {normalized(a): c for a, c in rules.aliases.items()
                if normalized(a) not in targets}
    candidates: dict[str, list[int]] = {}
    for pos in free:
        column = targets.get(normalized(names[pos]))
        if column is not None and column not in result.spec:
            candidates.setdefault(column, []).append(pos)
    for column, positions in candidates.items():
        for pos in positions:
            free.remove(pos)
        shown = " and ".join(f"`{names[p]}`" for p in positions)
        if len(positions) == 1:
            result.spec[column] = positions[0]
            reason = (f"the file has {shown}; the spec column is `{column}`. Its values were "
                      f"read as {column}: rename the column in the export")
        else:
            reason = (f"the file has {shown}, each close to the spec column `{column}`; none "
                      f"was used, so {column} is empty: keep one and name it {column}")
            for pos in positions:
                if keep_passwords or not is_password_column(names[pos]):
                    result.ext.setdefault(names[pos], pos)
                else:
                    result.dropped.append(names[pos])
        if is_password_column(column):
            continue
        result.problems.append(FetchProblem(
            file_name, reason, row=1, field=column, error_code="MISSING_COLUMN",
            blocks_deactivation=False))
