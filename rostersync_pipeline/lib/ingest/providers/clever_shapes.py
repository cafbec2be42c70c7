"""The Clever API v3.0 / v3.1 response shapes rostersync reads, as pydantic models.

A list page is ``{"data": [{"data": <object>, "uri": ...}, ...], "links": [...]}``; each object
needs its ``id`` (a string) and, for the fields the staging models read, the right JSON type:
text fields are scalars (never objects or lists), ID lists are lists of strings, a user has a
``roles`` object (the v3 multi-role user; Clever v1 / v2 role endpoints have none). Every other
field is ignored here and landed as received.

The fields rostersync reads have the same shape in v3.0 and v3.1 (v3.1 adds fields, such as
more demographics, that staging does not read), so both versions map to the same models;
:data:`PAGE_MODELS` is keyed by version so that a divergence is one entry.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, StrictStr, Tag, TypeAdapter

from rostersync_pipeline.lib.ingest.shapes import Scalar, shape_problem

IdList = list[StrictStr] | None


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class District(_Shape):
    id: StrictStr
    name: Scalar = None
    state: Scalar = None


class School(_Shape):
    id: StrictStr
    name: Scalar = None
    sis_id: Scalar = None
    state_id: Scalar = None
    nces_id: Scalar = None


class Name(_Shape):
    first: Scalar = None
    middle: Scalar = None
    last: Scalar = None


class Credentials(_Shape):
    district_username: Scalar = None


class StudentRelationship(_Shape):
    """One of a contact's students (``roles.contact.student_relationships``)."""

    student: Scalar = None
    relationship: Scalar = None
    type: Scalar = None


class Role(_Shape):
    """One of a user's roles (``student``, ``teacher``, ``staff``, ``district_admin``,
    ``contact``): the fields staging reads from it."""

    school: Scalar = None
    schools: IdList = None
    sis_id: Scalar = None
    state_id: Scalar = None
    student_number: Scalar = None
    email: Scalar = None
    grade: Scalar = None
    dob: Scalar = None
    credentials: Credentials | None = None
    ext: dict[str, Any] | None = None
    student_relationships: list[StudentRelationship] | None = None


class User(_Shape):
    id: StrictStr
    email: Scalar = None
    name: Name | None = None
    roles: dict[str, Role]


class Section(_Shape):
    id: StrictStr
    name: Scalar = None
    sis_id: Scalar = None
    school: Scalar = None
    course: Scalar = None
    term_id: Scalar = None
    subject: Scalar = None
    students: IdList = None
    teachers: IdList = None


class Term(_Shape):
    id: StrictStr
    name: Scalar = None
    start_date: Scalar = None
    end_date: Scalar = None


class Course(_Shape):
    id: StrictStr
    name: Scalar = None
    number: Scalar = None
    school: Scalar = None
    schools: IdList = None


OBJECT_MODELS: dict[str, type[_Shape]] = {
    "districts": District, "schools": School, "users": User, "sections": Section,
    "terms": Term, "courses": Course,
}


class _Object(_Shape):
    id: StrictStr


def _event_object(model: type[_Shape]) -> type[_Shape]:
    data = type(f"{model.__name__}EventData", (_Shape,), {"__annotations__": {"object": model}})
    return type(f"{model.__name__}Event", (_Shape,), {"__annotations__": {
        "id": StrictStr, "type": StrictStr, "created": Scalar, "data": data}, "created": None})


def _event_kind(event: Any) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    prefix = kind.split(".", 1)[0] if isinstance(kind, str) else ""
    return prefix if prefix in OBJECT_MODELS else "other"


Event = Annotated[
    Annotated[_event_object(_Object), Tag("other")]
    | Annotated[_event_object(District), Tag("districts")]
    | Annotated[_event_object(School), Tag("schools")]
    | Annotated[_event_object(User), Tag("users")]
    | Annotated[_event_object(Section), Tag("sections")]
    | Annotated[_event_object(Term), Tag("terms")]
    | Annotated[_event_object(Course), Tag("courses")],
    Discriminator(_event_kind),
]


def _page_model(name: str, record: Any) -> type[_Shape]:
    item = type(f"{name}Item", (_Shape,), {"__annotations__": {"data": record}})
    return type(f"{name}Page", (_Shape,), {"__annotations__": {"data": list[item]}})


V3_PAGES: dict[str, Any] = {
    **{endpoint: _page_model(model.__name__, model) for endpoint, model in OBJECT_MODELS.items()},
    "events": _page_model("Event", Event),
}
PAGE_MODELS: dict[str, dict[str, Any]] = {"v3.0": V3_PAGES, "v3.1": V3_PAGES}


@cache
def _adapter(version: str, endpoint: str) -> TypeAdapter:
    return TypeAdapter(PAGE_MODELS[version][endpoint])


def _record_id(body: Any, index: int) -> str:
    try:
        value = body["data"][index]["data"]["id"]
    except (KeyError, IndexError, TypeError):
        return ""
    return f"id {value}" if isinstance(value, str) and len(value) <= 64 else ""


def page_problem(endpoint: str, body: Any, version: str = "v3.0") -> str | None:
    """None when a Clever ``endpoint`` page has the v3 shape, else what is wrong with it."""
    problem = shape_problem(_adapter(version, endpoint), body, collection="data",
                            item_key="data", record_id=_record_id,
                            expected=f"Clever {version} {endpoint}")
    if problem and endpoint == "users" and "roles: missing" in problem:
        problem += (" (users without roles are the Clever v1 / v2 shape; rostersync speaks "
                    "v3.0 and v3.1)")
    return problem
