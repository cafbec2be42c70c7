"""Possible duplicate by normalized name and birth date: a new record that is an app person again."""

from __future__ import annotations

import csv
from pathlib import Path

from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

PEOPLE = {
    "s1": {"givenName": "Ana", "familyName": "Lopez", "birth": "2012-03-04", "school": "sch1"},
    "s2": {"givenName": "Ben", "familyName": "Okafor", "birth": "2011-07-09", "school": "sch1"},
    # s1 deleted and re-added in the SIS at another school: new ids, accent and case differ
    "n1": {"givenName": "ANA", "familyName": "López", "birth": "2012-03-04", "school": "sch2"},
    # same name, another birth date: not a candidate
    "n2": {"givenName": "Ana", "familyName": "Lopez", "birth": "2013-01-01", "school": "sch2"},
}


def _bundle(directory: Path, ids: list[str]) -> Path:
    users = [student(i, PEOPLE[i]["school"], givenName=PEOPLE[i]["givenName"],
                     familyName=PEOPLE[i]["familyName"]) for i in ids]
    bundle = write_bundle(
        directory,
        orgs=[org("sch1", "North High"), org("sch2", "South High")],
        users=users,
        classes=[section("sec1", "sch1"), section("sec2", "sch2")],
        enrollments=[enrollment(f"e-{i}", "sec1" if PEOPLE[i]["school"] == "sch1" else "sec2",
                                i, PEOPLE[i]["school"]) for i in ids],
        manifest={"file.demographics": "bulk"},
    )
    with open(bundle / "demographics.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["sourcedId", "status", "dateLastModified", "birthDate", "sex"])
        writer.writerows([i, "active", "", PEOPLE[i]["birth"], ""] for i in ids)
    return bundle


def test_same_name_and_birth_date_raises_an_alert_with_its_evidence(tmp_path: Path) -> None:
    district = make_district(tmp_path, _bundle(tmp_path / "n0", ["s1", "s2"]),
                             schools={"create_unmatched": True})
    assert district.sync().success
    app_s1 = district.scalar("select app_id from roster.users where source_id = 's1'")

    outcome = district.sync(_bundle(tmp_path / "n1", ["s2", "n1", "n2"]))

    assert outcome.success, outcome.failure
    alerts = district.query(
        "select source_id_l, app_id_r, rules, score, gamma_birth_date from sync.match_alerts "
        "order by source_id_l")
    assert alerts == [("n1", app_s1, ["same_name_birth_date"], 0.95, True)]
    # the default policy creates the record and leaves the alert open for a decision
    assert outcome.summary.counts["students"]["create"] == 2
    assert district.scalar(
        "select status from sync.match_alerts where source_id_l = 'n1'") == "open"
