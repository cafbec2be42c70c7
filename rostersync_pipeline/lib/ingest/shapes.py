"""Checking an API page against the response shape an adapter speaks, before it is landed.

Each API adapter describes its pages with pydantic models (``clever_shapes``,
``oneroster_shapes``): lenient about fields rostersync does not read, strict about the envelope,
each record's ID, and the types of the fields it reads. :func:`shape_problem` validates a whole
page in one ``TypeAdapter`` call (pydantic-core, no Python loop per record) and describes what
is wrong in a few lines: where (record number and ID), what, never a record's values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter, ValidationError

Scalar = Annotated[StrictStr | StrictInt | StrictFloat | StrictBool | None, "a JSON scalar"]
"""A field rostersync reads as text: any JSON scalar, never an object or a list."""
MAX_SHOWN_ERRORS = 3


# pydantic's labels of union members in an error location (``name.str``, ``grades.list[str]``)
_UNION_LABELS = frozenset({"str", "int", "float", "bool"})


def shape_problem(
    adapter: TypeAdapter, body: Any, *, collection: str, record_id: Callable[[Any, int], str],
    expected: str, item_key: str | None = None,
) -> str | None:
    """None when ``body`` has the shape ``adapter`` describes, else what is wrong.

    ``collection`` is the envelope key holding the records (``data``, ``users``); ``item_key``
    the key that wraps each record in it, if any (Clever's ``data``);
    ``record_id(body, index)`` names a record for the message (its ID, or ``""``).
    """
    if not isinstance(body, dict):
        kind = type(body).__name__ if body is not None else "null"
        return f"the body is a JSON {kind}, not an object with a '{collection}' list ({expected})"
    try:
        adapter.validate_python(body)
    except ValidationError as exc:
        return _describe(exc, body, collection, record_id, expected, item_key)
    return None


def _describe(exc: ValidationError, body: dict, collection: str,
              record_id: Callable[[Any, int], str], expected: str, item_key: str | None) -> str:
    errors: dict[tuple, dict] = {}
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(p for p in error["loc"] if not _is_label(p))
        if item_key and len(loc) > 2 and loc[0] == collection and loc[2] == item_key:
            loc = loc[:2] + (loc[3:] or (f"'{item_key}' object",))
        if loc in errors:
            errors[loc] = {"type": "wrong_type", "msg": "wrong type (expected text, a number, "
                           "true / false or nothing)", "loc": loc}
        else:
            errors[loc] = {**error, "loc": loc}
    records = {loc[1] for loc in errors
               if len(loc) > 1 and loc[0] == collection and isinstance(loc[1], int)}
    listed = list(errors.values())
    shown = [_one(e, body, collection, record_id) for e in listed[:MAX_SHOWN_ERRORS]]
    more = len(listed) - len(shown)
    page = body.get(collection)
    head = (f"{len(records)} of {len(page)} records are not {expected}"
            if records and isinstance(page, list) else f"the page is not {expected}")
    return f"{head}: {'; '.join(shown)}" + (f"; and {more} more" if more > 0 else "")


def _one(error: dict, body: dict, collection: str, record_id: Callable[[Any, int], str]) -> str:
    loc = list(error["loc"])
    if loc == [collection] and error["type"] == "missing":
        return f"the body has no '{collection}' list"
    if loc[:1] == [collection] and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        name = record_id(body, index)
        where = f"record {index + 1}" + (f" ({name})" if name else "")
        rest = _path(loc[2:])
        return f"{where}: {rest + ': ' if rest else ''}{_message(error)}"
    return f"{_path(loc) or 'body'}: {_message(error)}"


def _is_label(part: object) -> bool:
    return isinstance(part, str) and (part in _UNION_LABELS or "[" in part)


def _path(parts: list) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_MESSAGES = {"missing": "missing", "string_type": "should be a string",
             "model_type": "should be an object", "dict_type": "should be an object",
             "model_attributes_type": "should be an object", "list_type": "should be a list",
             "too_short": "should not be empty"}


def _message(error: dict) -> str:
    return _MESSAGES.get(error["type"], str(error["msg"]))
