"""One learner record end to end, driven only through the HTTP API and the `pars` command, like a user."""

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.worlds import GUIDE_WORLD

pytestmark = pytest.mark.e2e

WORLD = GUIDE_WORLD
MSG_661 = "Diplomate ID not found in Board records."


def completion(board_id: str = "19927", **changes: object) -> dict:
    body: dict[str, object] = {
        "activity_id": "210016865", "action": "Add", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": "2021-11-02",
        "moc": [{"board": "ABOHNS", "board_id": board_id, "credits": 8,
                 "credit_types": {"Self-Assessment": 8, "Patient Safety": 1}}]}
    body.update(changes)
    return body


@pytest.fixture(scope="module")
def keys(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    world = Path(tmp_path_factory.mktemp("world")) / "world.json"
    world.write_text(json.dumps(WORLD))
    loaded = stack.pars("world", "load", str(world))
    assert loaded.returncode == 0, loaded.stderr
    again = stack.pars("world", "load", str(world))  # loading twice changes nothing
    assert again.returncode == 0, again.stderr
    out = {}
    for provider in ("0008001", "0008002"):
        issued = stack.pars("provider", "key", provider)
        assert issued.returncode == 0, issued.stderr
        lines = issued.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pars_")  # the key, alone on its line
        out[provider] = lines[0]
    unknown = stack.pars("provider", "key", "0000000")
    assert unknown.returncode != 0 and "0000000" in unknown.stderr and unknown.stdout == ""
    return out


def final_record(stack: Stack, key: str, record_id: str) -> dict:
    with stack.client(key) as api:
        def settled() -> dict | None:
            answer = api.get(f"/v1/records/{record_id}")
            return answer.json() if answer.status_code == 200 and answer.json()["status"] != "Submitted" else None
        return stack.wait_for(settled, timeout=30)


def test_roster_id_is_accepted_by_the_board(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["0008001"]) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=completion())
    assert answer.status_code == 202, answer.text
    [record] = answer.json()["records"]
    assert (record["target"], record["status"], record["errors"]) == ("ABOHNS", "Submitted", [])

    row = final_record(stack, keys["0008001"], record["record_id"])
    assert row["status"] == "Accepted" and row["errors"] == []
    assert (row["first_name"], row["last_name"], row["learner_id"], row["board"]) == (
        "Harper", "Benton", "19927", "ABOHNS")
    assert row["credit_types"] == {"Self-Assessment": 8, "Patient Safety": 1}
    assert [h["event_type"] for h in row["history"]] == ["RecordSubmitted", "RecordAccepted"]


def test_unknown_board_id_is_rejected_with_661(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["0008001"]) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=completion(board_id="99999"))
    record_id = answer.json()["records"][0]["record_id"]

    row = final_record(stack, keys["0008001"], record_id)
    assert row["status"] == "Rejected"
    assert row["errors"] == [{"code": "661", "message": MSG_661}]
    assert [h["event_type"] for h in row["history"]] == ["RecordSubmitted", "RecordRejected"]
    with stack.client(keys["0008001"]) as api:
        listed = api.get("/v1/records", params={"status": "Rejected"}).json()
    assert record_id in {item["record_id"] for item in listed["items"]}
    # The notifier consumed the rejection, with the submission's correlation id on its log line.
    stack.wait_for(lambda: record_id in stack.log("notifier"))
    [line] = [json.loads(x) for x in stack.log("notifier").splitlines() if record_id in x]
    assert line["codes"] == ["661"] and line["correlation_id"] == answer.json()["submission_id"]


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({"activity_id": "999999999"}, ["690"]),
        ({"moc": [{"board": "ABA", "board_id": "1", "credits": 1,
                   "credit_types": {"MOCA (Lifelong Learning)": 1}}]}, ["670"]),
        ({"activity_id": None}, ["630"]),
        ({"completion_date": None}, ["631"]),
        ({"moc": [{"board": "ABOHNS", "board_id": "19927", "credit_types": {"Self-Assessment": 8}}]}, ["632"]),
    ],
)
def test_pars_rejects_at_once_with_the_exact_code(stack: Stack, keys: dict[str, str], changes: dict,
                                                  codes: list[str]) -> None:
    messages = {"690": "ACCME activity ID does not exist",
                "670": "Activity ID does not match with a registered MOC activity.",
                "630": "Missing ACCME activity ID.", "631": "Missing activity completion date.",
                "632": "Missing MOC points."}
    with stack.client(keys["0008001"]) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=completion(**changes))
    [record] = answer.json()["records"]
    assert record["status"] == "Rejected by PARS"
    assert record["errors"] == [{"code": c, "message": messages[c]} for c in codes]
    # PARS keeps no record of it, but its provider finds it by its ID, with the same codes (issue 11).
    with stack.client(keys["0008001"]) as api:
        def found() -> dict | None:
            answer = api.get(f"/v1/records/{record['record_id']}")
            return answer.json() if answer.status_code == 200 else None
        row = stack.wait_for(found)
        assert (row["status"], row["errors"]) == ("Rejected by PARS", record["errors"])
        assert record["record_id"] not in {r["record_id"] for r in api.get("/v1/records").json()["items"]}


def test_a_provider_sees_only_its_own_records(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["0008001"]) as api:
        record_id = api.post("/v1/completions", params={"wait": "true"}, json=completion()).json()[
            "records"][0]["record_id"]
    final_record(stack, keys["0008001"], record_id)
    with stack.client(keys["0008002"]) as other:
        assert other.get(f"/v1/records/{record_id}").status_code == 404
        assert record_id not in {i["record_id"] for i in other.get("/v1/records").json()["items"]}


def test_requests_without_a_valid_key_or_body(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client("pars_nope_nope") as api:
        answer = api.get("/v1/records")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    with stack.client(keys["0008001"]) as api:
        not_a_completion = api.post("/v1/completions", json=["a", "list"])
        no_target = api.post("/v1/completions", json={"activity_id": "210016865"})
    assert not_a_completion.status_code == 422 and no_target.status_code == 422
    assert no_target.json()["error"]["code"] == "invalid_request"
