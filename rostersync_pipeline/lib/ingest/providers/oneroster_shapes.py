"""The OneRoster REST 1.1 / 1.2 response shapes rostersync reads, as pydantic models.

A collection page is ``{"<collection>": [<object>, ...]}`` (``users``, ``academicSessions``…);
each object needs its ``sourcedId`` (a string) and, for the fields :func:`oneroster_rest.flatten`
reads, the right JSON type: text fields are scalars, references are objects with a
``sourcedId``, lists are lists. Every other field is ignored here and kept in ``_ext``.

Where the versions differ in what rostersync reads, so do the models: a 1.1 user carries
``role`` (a string) and ``orgs``; a 1.2 user carries ``roles`` (at least one, each with its
``role`` and ``org``) and ``primaryOrg``. A 1.1 answer to a 1.2 client (or the reverse) is
therefore refused instead of landing users without roles or schools.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, create_model

from rostersync_pipeline.lib.ingest.shapes import Scalar, shape_problem

ScalarOrList = list[Scalar] | Scalar


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=False)


class Ref(_Shape):
    sourcedId: StrictStr  # noqa: N815 (the spec's field names)


class _Record(_Shape):
    sourcedId: StrictStr  # noqa: N815
    status: Scalar = None
    dateLastModified: Scalar = None  # noqa: N815


class Org(_Record):
    name: Scalar = None
    type: Scalar = None
    identifier: Scalar = None
    parent: Ref | None = None


class UserId(_Shape):
    type: Scalar = None
    identifier: Scalar = None


class _User(_Record):
    enabledUser: Scalar = None  # noqa: N815
    username: Scalar = None
    userIds: list[UserId] | None = None  # noqa: N815
    givenName: Scalar = None  # noqa: N815
    familyName: Scalar = None  # noqa: N815
    middleName: Scalar = None  # noqa: N815
    identifier: Scalar = None
    email: Scalar = None
    sms: Scalar = None
    phone: Scalar = None
    agents: list[Ref] | None = None
    grades: ScalarOrList = None
    preferredFirstName: Scalar = None  # noqa: N815
    preferredLastName: Scalar = None  # noqa: N815


class UserV11(_User):
    role: StrictStr
    orgs: list[Ref] | None = None


class RoleV12(_Shape):
    roleType: Scalar = None  # noqa: N815
    role: StrictStr
    org: Ref
    userProfile: Ref | None = None  # noqa: N815
    beginDate: Scalar = None  # noqa: N815
    endDate: Scalar = None  # noqa: N815


class UserV12(_User):
    roles: list[RoleV12] = Field(min_length=1)
    primaryOrg: Ref | None = None  # noqa: N815


class Class(_Record):
    title: Scalar = None
    classCode: Scalar = None  # noqa: N815
    classType: Scalar = None  # noqa: N815
    location: Scalar = None
    grades: ScalarOrList = None
    subjects: ScalarOrList = None
    subjectCodes: ScalarOrList = None  # noqa: N815
    periods: ScalarOrList = None
    course: Ref | None = None
    school: Ref | None = None
    terms: list[Ref] | None = None


class Course(_Record):
    title: Scalar = None
    courseCode: Scalar = None  # noqa: N815
    grades: ScalarOrList = None
    subjects: ScalarOrList = None
    subjectCodes: ScalarOrList = None  # noqa: N815
    schoolYear: Ref | None = None  # noqa: N815
    org: Ref | None = None


class Enrollment(_Record):
    role: Scalar = None
    primary: Scalar = None
    beginDate: Scalar = None  # noqa: N815
    endDate: Scalar = None  # noqa: N815
    class_: Ref | None = Field(default=None, alias="class")
    school: Ref | None = None
    user: Ref | None = None


class AcademicSession(_Record):
    title: Scalar = None
    type: Scalar = None
    startDate: Scalar = None  # noqa: N815
    endDate: Scalar = None  # noqa: N815
    schoolYear: Scalar = None  # noqa: N815
    parent: Ref | None = None


class Demographics(_Record):
    birthDate: Scalar = None  # noqa: N815
    sex: Scalar = None


_COMMON = {"orgs": Org, "classes": Class, "courses": Course, "enrollments": Enrollment,
           "academicSessions": AcademicSession, "demographics": Demographics}
RECORD_MODELS: dict[str, dict[str, type[_Shape]]] = {
    "1.1": {**_COMMON, "users": UserV11},
    "1.2": {**_COMMON, "users": UserV12},
}


@cache
def _adapter(version: str, collection: str) -> TypeAdapter:
    record = RECORD_MODELS[version][collection]
    page = create_model(f"{record.__name__}Page", __base__=_Shape,
                        **{collection: (list[record], ...)})
    return TypeAdapter(page)


def page_problem(collection: str, body: Any, version: str) -> str | None:
    """None when a OneRoster ``collection`` page has the ``version`` shape, else what is wrong."""

    def record_id(page: Any, index: int) -> str:
        try:
            value = page[collection][index]["sourcedId"]
        except (KeyError, IndexError, TypeError):
            return ""
        return f"sourcedId {value}" if isinstance(value, str) and len(value) <= 64 else ""

    return shape_problem(_adapter(version, collection), body, collection=collection,
                         record_id=record_id, expected=f"OneRoster {version} {collection}")
