"""Learner matching, activity registration and the guide's three reporting cases, through the HTTP API."""


import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

WORLD = {
    "providers": [{"id": "0008001", "name": "Western Regional Medical Center", "email": "cme@wrmc.example"},
                  {"id": "0008002", "name": "Eastern CME", "email": "cme@eastern.example"}],
    "activities": [{"id": "210016865", "provider_id": "0008001", "title": "Manual entry", "format": "Live Course",
                    "start_date": "2021-10-15", "end_date": "2021-11-15", "credit_claim_date": "2021-12-31",
                    "cme_credits": 8, "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]},
                    "rems": ["OPIOID"]}],
    "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11", "npi": "1234567893",
                    "medical_school": "Tulane University School of Medicine",
                    "licenses": [{"state": "LA", "id": "MD.205357"}],
                    "certifications": [{"board": "ABOHNS", "id": "19927"}]},
                   {"first_name": "Rebecca", "last_name": "Tester", "dob": "05/05", "npi": "1245319599",
                    "licenses": [{"state": "NC", "id": "2009-01234"}]}],
}


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    stack.load_world(WORLD)
    return {p: stack.pars("provider", "key", p).stdout.strip() for p in ("0008001", "0008002")}


def test_validation_matches_harper_benton_in_louisiana_by_licence(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["0008001"]) as api:
        answer = api.post("/v1/learners/match", json={"first_name": "harper", "last_name": "BENTON", "dob": "11/11",
                                                       "state": "Louisiana", "license_id": "MD.205357"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["matched"] is True
    learner = found["learner"]
    assert (learner["first_name"], learner["last_name"], learner["npi"], learner["state"], learner["license_id"]) == (
        "Harper", "Benton", "1234567893", "LA", "MD.205357")


def test_validation_does_not_match_rebecca_test_and_names_what_would_help(stack: Stack,
                                                                         keys: dict[str, str]) -> None:
    with stack.client(keys["0008001"]) as api:
        answer = api.post("/v1/learners/match", json={"first_name": "Rebecca", "last_name": "Test",
                                                       "state": "NC", "license_id": "999995"}).json()
    assert answer["matched"] is False
    assert "npi" in answer["need"] and "medical_school" in answer["need"]


def test_validation_registers_an_activity_and_refuses_a_bad_one(stack: Stack, keys: dict[str, str]) -> None:
    activity = {"id": "310000001", "title": "Airway update", "format": "Live Course", "start_date": "2021-09-01",
                "end_date": "2021-09-30", "cme_credits": 6, "moc_credits": 6,
                "moc": {"ABO": ["ABO MOC Part II", "Improvement in Medical Practice"]}}
    with stack.client(keys["0008001"]) as api:
        created = api.post("/v1/activities", json=activity)
        assert created.status_code == 201, created.text
        assert created.json()["moc"] == {"ABO": ["Lifelong Learning", "Improvement in Medical Practice"]}
        assert api.get("/v1/activities/310000001").json()["provider_id"] == "0008001"

        bad = api.post("/v1/activities", json={**activity, "id": "31", "end_date": "2021-08-01", "cme_credits": 0.3,
                                               "moc": {"ABO": ["Patient Safety", "Improvement in Medical Practice"]}})
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert {"id", "end_date", "cme_credits"} <= fields and any(f.startswith("moc") for f in fields)
    with stack.client(keys["0008002"]) as other:  # another provider's activity does not exist for this one
        assert other.get("/v1/activities/310000001").status_code == 404
        taken = other.post("/v1/activities", json=activity)  # refused as any registration, owner unnamed
    assert taken.status_code == 422 and taken.json()["error"]["code"] == "invalid_activity"
    assert "another provider" not in taken.text and "0008001" not in taken.text


def test_validation_of_the_guides_three_cases(stack: Stack, keys: dict[str, str]) -> None:
    learner = {"activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
               "completion_date": "2021-11-02"}
    cme = {"credits": 8, "state": "LA", "license_id": "MD.205357"}
    moc = [{"board": "ABOHNS", "board_id": "19927", "credits": 8,
            "credit_types": {"Self-Assessment": 8, "Patient Safety": 1}}]
    rems = [{"program": "OPIOID", "learner_id": "L-77", "profession": "Physician",
             "time_in_practice": "6-10 years", "practice_area": "Pain"}]
    cases: dict[str, tuple[dict[str, object], dict[str, str]]] = {"cme only": ({"cme": cme}, {"LA": "Accepted"}),
             "moc only": ({"moc": moc}, {"ABOHNS": "Submitted"}),
             "cme, moc and rems": ({"cme": cme, "moc": moc, "rems": rems},
                                   {"LA": "Accepted", "ABOHNS": "Submitted", "OPIOID": "Accepted"})}
    with stack.client(keys["0008001"]) as api:
        for name, (targets, expected) in cases.items():
            answer = api.post("/v1/completions", params={"wait": "true"}, json={**learner, **targets}).json()
            got = {r["target"]: r["status"] for r in answer["records"]}
            assert got == expected, (name, answer)
            assert len({r["record_id"] for r in answer["records"]}) == len(expected)
