"""Deleting records: 409 while Submitted, Delete Submitted while the board works, gone once it confirms;
rejected records and records no board processes go at once; 706 past the board's delete deadline."""

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, start_stack, stop_services

pytestmark = pytest.mark.e2e
A, B = "0008001", "0008002"
LATENCY = 6  # seconds ABOHNS takes to answer, adds and deletes alike
WORLD = {
    "providers": [
        {"id": A, "name": "Western", "email": "a@a.example"},
        {"id": B, "name": "Eastern", "email": "b@b.example"},
    ],
    "boards": [
        {"code": "ABOHNS", "latency_seconds": LATENCY},
        {"code": "ABO", "latency_seconds": 0, "delete_deadline": "06-30"},
    ],
    "activities": [
        {
            "id": "210000021",
            "provider_id": A,
            "title": "Course",
            "start_date": "2021-10-01",
            "end_date": "2021-11-30",
            "cme_credits": 8,
            "moc_credits": 8,
            "moc": {"ABOHNS": ["Self-Assessment"], "ABO": ["Lifelong Learning"]},
        }
    ],
    "physicians": [
        {
            "first_name": "Harper",
            "last_name": "Benton",
            "dob": "11/11",
            "licenses": [{"state": "CA", "id": "A12345"}],
            "certifications": [{"board": "ABOHNS", "id": "19927"}, {"board": "ABO", "id": "98989"}],
        }
    ],
}


def completion(**targets: object) -> dict:
    return {
        "activity_id": "210000021",
        "first_name": "Harper",
        "last_name": "Benton",
        "dob": "11/11",
        "completion_date": "2021-11-02",
        **targets,
    }


def moc(board: str = "ABOHNS", board_id: str = "19927") -> dict:
    kind = "Self-Assessment" if board == "ABOHNS" else "Lifelong Learning"
    return {"moc": [{"board": board, "board_id": board_id, "credits": 1, "credit_types": {kind: 1}}]}


@pytest.fixture(scope="module")
def deletes(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict]]:
    tmp = tmp_path_factory.mktemp("deletes")
    stack = start_stack(servers, tmp / "logs", PARS_BOARD_LATENCY_SCALE="1")
    try:
        stack.load_world(WORLD)
        yield stack, {p: stack.pars("provider", "key", p).stdout.strip() for p in (A, B)}
    finally:
        stop_services(list(stack.processes.values()))


def add(stack: Stack, key: str, body: dict) -> str:
    with stack.client(key) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=body).json()
    return answer["records"][0]["record_id"]


def status(stack: Stack, key: str, record_id: str) -> str | None:
    with stack.client(key) as api:
        answer = api.get(f"/v1/records/{record_id}")
    return answer.json()["status"] if answer.status_code == 200 else None


def delete_when_settled(stack: Stack, key: str, record_id: str, settled: str) -> dict:
    stack.wait_for(lambda: status(stack, key, record_id) == settled, timeout=30)
    with stack.client(key) as api:
        for _ in range(20):  # validation may hear of the board's answer a moment after the projection
            answer = api.delete(f"/v1/records/{record_id}")
            if answer.status_code != 409:
                return {"code": answer.status_code, **answer.json()}
            time.sleep(0.5)
    raise AssertionError("still with its board")


def test_an_accepted_record_is_delete_submitted_until_its_board_confirms(deletes: tuple[Stack, dict]) -> None:
    stack, keys = deletes
    record_id = add(stack, keys[A], completion(**moc()))
    stack.wait_for(lambda: status(stack, keys[A], record_id) == "Submitted", timeout=10)
    with stack.client(keys[A]) as api:  # Submitted: its board has not answered yet
        early = api.delete(f"/v1/records/{record_id}")
    assert early.status_code == 409 and early.json()["error"]["code"] == "record_with_board"
    answer = delete_when_settled(stack, keys[A], record_id, "Accepted")
    assert answer["code"] == 202 and answer["status"] == "Delete Submitted"
    # Visible while the board works (the projection shows it a moment after validation answered).
    stack.wait_for(lambda: status(stack, keys[A], record_id) == "Delete Submitted", timeout=LATENCY)
    with stack.client(keys[A]) as api:
        assert api.delete(f"/v1/records/{record_id}").status_code == 409
    stack.wait_for(lambda: status(stack, keys[A], record_id) is None, timeout=30)  # gone once confirmed
    with stack.client(keys[A]) as api:
        assert record_id not in {r["record_id"] for r in api.get("/v1/records").json()["items"]}


def test_a_rejected_record_goes_at_once(deletes: tuple[Stack, dict]) -> None:
    stack, keys = deletes
    record_id = add(stack, keys[A], completion(**moc(board_id="55555")))
    answer = delete_when_settled(stack, keys[A], record_id, "Rejected")
    assert answer["code"] == 202 and answer["status"] == "Deleted"
    stack.wait_for(lambda: status(stack, keys[A], record_id) is None, timeout=10)


def test_a_record_no_board_processes_goes_at_once(deletes: tuple[Stack, dict]) -> None:
    stack, keys = deletes
    record_id = add(stack, keys[A], completion(cme={"credits": 1, "state": "CA", "license_id": "A12345"}))
    answer = delete_when_settled(stack, keys[A], record_id, "Accepted")
    assert answer["code"] == 202 and answer["status"] == "Deleted"


def test_past_the_delete_deadline_answers_706(deletes: tuple[Stack, dict]) -> None:
    stack, keys = deletes
    record_id = add(stack, keys[A], completion(**moc("ABO", "98989")))
    answer = delete_when_settled(stack, keys[A], record_id, "Accepted")
    assert answer["code"] == 422 and answer["error"]["code"] == "706"
    assert answer["error"]["message"].startswith("Deadline for deleting participant data has passed.")
    assert status(stack, keys[A], record_id) == "Accepted"


def test_several_at_once_and_only_ones_own(deletes: tuple[Stack, dict]) -> None:
    stack, keys = deletes
    rejected = [add(stack, keys[A], completion(**moc(board_id=f"6666{i}"))) for i in range(3)]
    for record_id in rejected:
        stack.wait_for(lambda r=record_id: status(stack, keys[A], r) == "Rejected", timeout=30)
    with stack.client(keys[B]) as other:
        assert other.delete(f"/v1/records/{rejected[0]}").status_code == 404
    with stack.client(keys[A]) as api:
        answer = api.delete("/v1/records", params={"record_id": rejected})
    assert answer.status_code == 207
    assert [(r["record_id"], r["http_status"], r.get("status")) for r in answer.json()["results"]] == [
        (r, 202, "Deleted") for r in rejected
    ]
