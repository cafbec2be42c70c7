"""Error codes a district admin sees in ``sync_errors`` and the export, each with its remediation.

The remediation is a plain instruction to fix the problem at the source (the SIS or Clever),
since the next sync would otherwise bring the problem back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    meaning: str
    remediation: str


ERROR_CODES: dict[str, ErrorCode] = {
    e.code: e
    for e in (
        ErrorCode(
            "VALUE_NOT_SPECIFIED",
            "A field the district requires is empty (column B names it).",
            "Fill in the field named in column B for this record in the SIS, then let the next "
            "sync run.",
        ),
        ErrorCode(
            "EXACT_MATCH_MULTIPLE",
            "One match key of the incoming record matches several app records.",
            "Several app records share the value in column C. Merge or deactivate the duplicate "
            "app records (IDs in the message), or correct the value in the SIS.",
        ),
        ErrorCode(
            "DUPLICATE_USERNAME",
            "The incoming username is already held by another record.",
            "Give this person a unique username in the SIS, or fix the app record in column F if "
            "it is the same person under another ID.",
        ),
        ErrorCode(
            "DUPLICATE_EMAIL_ADDRESS",
            "The incoming email is already held by another record.",
            "Give this person a unique email in the SIS. If the app record in column F is the "
            "same person, correct its IDs so that they match.",
        ),
        ErrorCode(
            "DUPLICATE_RECORD",
            "Two incoming records match the same app record.",
            "The SIS lists this person twice. Remove or merge the duplicate in the SIS.",
        ),
        ErrorCode(
            "EMAIL_CHANGED_IN_SIS",
            "The person's email changed in the SIS but not in the app: matching on email found "
            "no app record, while the app record in column F holds this person's source or SIS "
            "ID with the old email. Not imported (it would create a duplicate).",
            "Change the email of the app record in column F to the SIS email in column C (or "
            "correct the email in the SIS); the next sync then matches it.",
        ),
        ErrorCode(
            "POSSIBLE_DUPLICATE",
            "The incoming record matches no app record but looks like the one in column F "
            "(evidence in column C); held because alerts.open_alert_policy is 'hold'.",
            "Decide: rostersync alerts decide DISTRICT SOURCE_ID --match APP_ID (same person) or "
            "--create (a different person), or the decide_match_alert job; the next sync "
            "honours it.",
        ),
        ErrorCode(
            "SCHOOL_NOT_MATCHED",
            "The incoming school matches no school in the app; its people, sections and "
            "enrollments were held back.",
            "Add the school in the app with the name shown, map the SIS school to an existing "
            "app school (schools.custom_names in the district config), or correct its ID.",
        ),
        ErrorCode(
            "INVALID_GRADE",
            "The grade value has no entry in the district's grade code table.",
            "Use a standard grade value in the SIS, or add the value in column C to the "
            "district's grade_codes.",
        ),
        ErrorCode(
            "INVALID_PROGRAM_NAME",
            "The program name is not in the district's program list.",
            "Add the program in column C to the district's program list, or correct it in the "
            "SIS. The record itself is imported, without that program.",
        ),
        ErrorCode(
            "ORPHAN_ENROLLMENT",
            "The enrollment refers to a section or person that exists nowhere.",
            "Include the section or person named in column C in the export, or remove the "
            "enrollment in the SIS.",
        ),
        ErrorCode(
            "INVALID_VALUE",
            "A value of the record (column C, field in column B) cannot be read: a date that is "
            "not a date or is out of range, a status, role or yes/no flag outside the format's "
            "values. A status, role or ID field keeps the record from being imported (its app "
            "record is left as it is); a birth date, term date, program flag or primary flag "
            "is left out and the record imported without it. The message says which.",
            "Correct the value in column B in the SIS (dates as YYYY-MM-DD or M/D/YYYY), then "
            "let the next sync run.",
        ),
        ErrorCode(
            "REFERENCE_NOT_FOUND",
            "The record points at an org, course, term or school year (column B) whose ID "
            "(column C) is neither in this landing nor in the app; it was not imported, so that "
            "nothing is imported half-linked.",
            "Include the record named in column C in the export (orgs, courses, academic "
            "sessions), or correct the reference in the SIS.",
        ),
        ErrorCode(
            "RELATIONSHIP_NOT_FOUND",
            "The student or guardian (column E) lists a guardian or student (column C) who is "
            "not in this landing (or is marked deleted); the person was imported, that "
            "relationship was not.",
            "Include the related person in the export (OneRoster users, Clever contacts), or "
            "remove the stale relationship in the SIS.",
        ),
        ErrorCode(
            "INVALID_REFERENCE",
            "The section's school (column C) is an org of another type (a district, a "
            "department); the section was not imported.",
            "Give the section its school (an org of type school) in the SIS.",
        ),
        ErrorCode(
            "SCHOOL_INACTIVE",
            "The record's school (column C, named in the message) cannot take records: the app "
            "has deactivated it, or the source marks it deleted and the app does not have it. "
            "The record was held back.",
            "Reactivate the school in the app (or send it in the landing again), or move the "
            "person or section to an active school in the SIS.",
        ),
        ErrorCode(
            "ROLE_MISMATCH",
            "The enrollment's role contradicts the person's: a student in a teacher "
            "enrollment, an educator in a student enrollment, or a person rostersync does not "
            "import (a guardian) in either. The enrollment was not imported.",
            "Correct the enrollment's role, or the person's role, in the SIS.",
        ),
        ErrorCode(
            "DUPLICATE_SOURCE_ID",
            "The landing lists this source ID more than once with different data (one row per "
            "copy, source_file / source_row name it). None of the copies was imported and the "
            "app record was left as it is.",
            "Remove or merge the duplicate rows in the SIS export so that the ID appears once.",
        ),
        ErrorCode(
            "MULTIPLE_GRADES",
            "The person lists several different grades (column C); the first was stored.",
            "List one grade for the person in the SIS if the first is not the right one.",
        ),
        ErrorCode(
            "MALFORMED_ROW",
            "A row of the file could not be read (wrong number of columns, broken quoting).",
            "Fix the row named in source_file / source_row of the export and send the file "
            "again. No deactivations were made this run.",
        ),
        ErrorCode(
            "MALFORMED_FILE",
            "A file's layout is not as the header describes.",
            "Export the file again from the SIS with one value per header column.",
        ),
        ErrorCode(
            "PROVIDER_NOT_HEALTHY",
            "The provider reports the district as not syncing (e.g. Clever state paused or "
            "error); nothing was fetched and nothing changed.",
            "Resume sharing or fix the district's state at the provider (Clever dashboard), then "
            "run the sync again.",
        ),
        ErrorCode(
            "ENDPOINT_NOT_OFFERED",
            "The provider does not offer an endpoint the sync asked for; that entity was not "
            "fetched and is not deactivated.",
            "Ask the provider (or SIS vendor) to enable the endpoint, or ignore this if the "
            "district does not use that entity.",
        ),
        ErrorCode(
            "UNSAFE_VALUE",
            "A value of the record holds a control character (NUL or another code below "
            "U+0020; in an ID also a tab or line break) or is longer than the district's "
            "max_field_bytes. The record was not imported and its app record was left as it "
            "is; a refused ID also stops that entity's deactivations this run.",
            "Remove the control characters from the field in column B (or shorten it) in the "
            "SIS, then let the next sync run.",
        ),
        ErrorCode(
            "MISSING_SOURCE_ID",
            "A record of the file has no ID (sourcedId, Clever id, Student_id...: column B). It "
            "was not imported, and since it cannot be told apart from the other records, "
            "nothing was deactivated this run.",
            "Give the record its ID in the SIS export (the row is named in source_file / "
            "source_row), then send the file again.",
        ),
        ErrorCode(
            "BUNDLE_REFUSED",
            "The bundle (or the file or zip member named) was refused before anything of it was "
            "landed: it is not where the district's config says, is or holds a symbolic link, "
            "or is a zip over the size, ratio or member limits or with unsafe member names. "
            "The run landed nothing and changed nothing in the roster.",
            "Send the bundle again as a plain .zip or folder of CSV files, without a password, "
            "into the district's configured path or drop folder, with no links and no two files "
            "of the same name. A real bundle over the size limit: the operator raises "
            "ROSTERSYNC_BUNDLE_MAX_BYTES.",
        ),
        ErrorCode(
            "INVALID_ENCODING",
            "A file of the bundle holds a byte that is not valid in its character encoding "
            "(source_row = the line; the message names the byte offset and the encoding "
            "tried). The file was not landed, and nothing was deactivated this run.",
            "Declare the file's encoding as source.encoding in the district config (e.g. "
            "cp1252, shift_jis), or export the file as UTF-8, then send the bundle again.",
        ),
        ErrorCode(
            "UNKNOWN_COLUMN",
            "A column of the file (column B) is neither a spec column nor a known legacy name, "
            "or repeats one the file already has; its values were not imported (they are kept "
            "in the raw table's _ext).",
            "Rename the column in the SIS export to the spec name it stands for, name a vendor "
            "extension column as the format allows (OneRoster metadata.<name>, Clever "
            "ext.<name>), or remove it.",
        ),
        ErrorCode(
            "MISSING_COLUMN",
            "A spec column (column B) is missing while the file has a column whose name differs "
            "from it only in case, spaces, '_' or '-' (the message names both). That column "
            "was read as the spec column.",
            "Rename the column in the SIS export to the spec name in column B.",
        ),
        ErrorCode(
            "UNSUPPORTED_RESPONSE",
            "An API page is not in the response shape of the API version rostersync speaks (an "
            "older version, an HTML page, no list of records, a record without its ID or with "
            "a field of the wrong type); source_file names endpoint and page, the message what "
            "was wrong. Nothing of that page or the endpoint's later pages was landed, and "
            "nothing was deactivated this run.",
            "Check the source's base_url and API version (Clever v3.0 / v3.1, OneRoster 1.1 / "
            "1.2) and that the service answers with its API rather than an error or sign-in "
            "page; if it does, send the message to the provider's support.",
        ),
        ErrorCode(
            "FETCH_INCOMPLETE",
            "Part of the roster could not be fetched (a missing file, a failed page).",
            "Send the complete bundle (every file the manifest lists) or retry the fetch. No "
            "deactivations were made this run.",
        ),
    )
}
