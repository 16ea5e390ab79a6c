"""Whatever is answered 202 reaches a status the provider can see (issue 11, defect 11): a record PARS itself
rejects is found by its ID, with its codes and messages, by its own provider only, and survives a rebuild."""

import uuid

import pytest
from lxml import etree

from intake.batch_files.tests.activity_reports import activity_report_xml
from shared.codes import pars_error
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
A, B = "0007301", "0007302"
ACTIVITY = "210007301"
WORLD = {
    "providers": [{"id": A, "name": "Tenant A Medical", "email": "cme@a.example"},
                  {"id": B, "name": "Tenant B Medical", "email": "cme@b.example"}],
    "activities": [{"id": ACTIVITY, "provider_id": A, "title": "Airway course", "start_date": "2021-01-01",
                    "end_date": "2021-11-30", "cme_credits": 8, "moc_credits": 8,
                    "moc": {"ABOHNS": ["Self-Assessment"]}}],
    "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                    "certifications": [{"board": "ABOHNS", "id": "19927"}]}],
}
FIELDS = ("record_id", "credit_id", "activity_id", "board", "first_name", "last_name", "dob", "learner_id",
          "completion_date", "submitted_at", "credits", "credit_types", "status", "errors", "history")


def completion(**changes: object) -> dict:
    return {"activity_id": ACTIVITY, "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
            "completion_date": "2021-11-02",
            "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 1, "credit_types": {"Self-Assessment": 1}}],
            **changes}


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    stack.load_world(WORLD)
    found = {p: stack.pars("provider", "key", p).stdout.strip() for p in (A, B)}
    found["ws"] = stack.pars("provider", "key", A, "--web-service").stdout.strip()
    assert all(found.values())
    return found


def post_without_wait(stack: Stack, key: str, body: dict) -> str:
    with stack.client(key) as api:
        answer = api.post("/v1/completions", json=body)
    assert answer.status_code == 202, answer.text
    [record] = answer.json()["records"]
    assert record["status"] == "Processing"  # answered before validation's decision
    return record["record_id"]


def seen(stack: Stack, key: str, record_id: str) -> dict:
    with stack.client(key) as api:
        def found() -> dict | None:
            answer = api.get(f"/v1/records/{record_id}")
            return answer.json() if answer.status_code == 200 else None
        return stack.wait_for(found)


@pytest.mark.parametrize(("changes", "code"), [({"activity_id": "999999999"}, "690"),
                                               ({"completion_date": "2022-06-01"}, "671")])
def test_a_record_pars_rejects_is_found_by_its_own_provider_only(stack: Stack, keys: dict[str, str],
                                                                 changes: dict, code: str) -> None:
    record_id = post_without_wait(stack, keys[A], completion(credit_id=f"ccid:a.example:{code}", **changes))
    record = seen(stack, keys[A], record_id)
    assert sorted(record) == sorted(FIELDS)
    assert record["status"] == "Rejected by PARS"
    assert record["errors"] == [pars_error(code).model_dump()]
    assert (record["record_id"], record["credit_id"], record["board"]) == (record_id, f"ccid:a.example:{code}",
                                                                           "ABOHNS")
    assert (record["first_name"], record["last_name"], record["dob"], record["learner_id"]) == (
        "Harper", "Benton", "11/11", "19927")
    assert record["activity_id"] == changes.get("activity_id", ACTIVITY)
    assert record["completion_date"] == changes.get("completion_date", "2021-11-02")
    assert (record["credits"], record["credit_types"]) == (None, None)  # PARS kept no credits
    [event] = record["history"]
    assert (event["event_type"], event["errors"]) == ("RecordRejectedByPars", record["errors"])
    with stack.client(keys[B]) as other:
        answer, unknown = other.get(f"/v1/records/{record_id}"), other.get(f"/v1/records/{uuid.uuid4()}")
    assert answer.status_code == unknown.status_code == 404
    # The same answer as for an ID no one holds: nothing says the record exists.
    assert answer.json()["error"] == {**unknown.json()["error"], "message": f"No record {record_id}."}


def test_a_web_service_record_pars_rejects_is_found_too(stack: Stack, keys: dict[str, str]) -> None:
    report = {"activity_id": ACTIVITY, "credit_id": "ccid:a.example:ws", "first_name": "Harper",
              "last_name": "Benton", "dob": "11/11", "completion_date": "2021-11-02", "action": "add",
              "board": "ABOHNS", "board_id": "", "credits": "1.1", "credit_types": {"Self-Assessment": "1"}}
    with stack.client(keys["ws"]) as api:
        answer = api.post("/v1/ws/activity-reports", content=activity_report_xml([report]),
                          headers={"Content-Type": "application/xml"})
    assert answer.status_code == 200, answer.text
    [record_id] = [r.get("recordID") for r in etree.fromstring(answer.content).iter("{*}Record", "Record")]
    record = seen(stack, keys[A], record_id)
    assert record["status"] == "Rejected by PARS" and record["credit_id"] == "ccid:a.example:ws"
    assert {"621", "675"} <= {e["code"] for e in record["errors"]}


def test_lists_keep_to_kept_records_and_a_rebuild_keeps_the_rejections(stack: Stack, keys: dict[str, str]) -> None:
    rejected = post_without_wait(stack, keys[A], completion(activity_id="999999998"))
    kept = post_without_wait(stack, keys[A], completion(credit_id="ccid:a.example:kept"))
    before = seen(stack, keys[A], rejected)
    seen(stack, keys[A], kept)
    with stack.client(keys[A]) as api:
        listed = api.get("/v1/records", params={"per_page": 1000}).json()
        assert [r["record_id"] for r in listed["items"]] == [kept]
        assert api.get("/v1/records", params={"status": "Rejected by PARS"}).json()["total"] == 0
        assert rejected not in api.get("/v1/records", params={"format": "csv"}).text

    rebuilt = stack.pars("projection", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert seen(stack, keys[A], rejected) == before
    with stack.client(keys[B]) as other:
        assert other.get(f"/v1/records/{rejected}").status_code == 404
    # The running projector keeps writing rejections into the new generation.
    after_rebuild = post_without_wait(stack, keys[A], completion(activity_id="999999997"))
    assert seen(stack, keys[A], after_rebuild)["errors"] == [pars_error("690").model_dump()]
