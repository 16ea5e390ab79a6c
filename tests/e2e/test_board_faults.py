"""With faults on (10% of answers dropped, 10% duplicated, answers reordered, batches crashing), a 10,000-record
run ends with every record in exactly one final state, and the same state as the same run without faults.

Two stacks run side by side on the same servers, each in a namespace of its own, one with the board's faults
on; the same two 5,000-row batch files go to both, and the final states are compared learner by learner.
"""

from pathlib import Path

import pytest

from intake.batch_files.model import FileFormat
from pars_cli.demo_files import batch_file
from tests.e2e.conftest import Stack, start_stack, stop_services

pytestmark = pytest.mark.e2e
RECORDS = 10_000
FILE_ROWS = 5_000
P = "0008001"
FAULTS = {"drop": 0.1, "duplicate": 0.1, "reorder_seconds": 2, "delay": 0.05, "max_delay_seconds": 5, "crash": 0.02,
          "seed": 5}


def world(faults: dict | None) -> dict:
    board: dict = {"code": "ABOHNS", "latency_seconds": 0}
    if faults:
        board["faults"] = faults
    return {
        "providers": [{"id": P, "name": "Western", "email": "cme@wrmc.example"}],
        "boards": [board],
        "activities": [{"id": "210000031", "provider_id": P, "title": "Course", "start_date": "2021-10-01",
                        "end_date": "2021-11-30", "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment"]}}],
        # Every record has a learner of its own, so no record's outcome depends on another's (710/711/717).
        "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                        "certifications": [{"board": "ABOHNS", "id": f"6{i:05d}"}]} for i in range(RECORDS)],
    }


def board_id(i: int) -> str:
    return f"9{i:05d}" if i % 4 == 0 else f"6{i:05d}"  # every fourth is not on the board's roster: 661


def rows(first: int) -> list[list[str]]:
    return [["Learner Template B", "ABOHNS", "210000031", "ABOHNS", board_id(i), "Harper", "Benton", "11/11",
             "11/2/2021", "Add", "1", "Self-Assessment"] for i in range(first, first + FILE_ROWS)]


def start(servers: dict[str, str], tmp: Path, name: str, faults: dict | None) -> tuple[Stack, str, str]:
    stack = start_stack(servers, tmp / name, PARS_BOARD_ANSWER_GRACE_SECONDS="3")
    stack.load_world(world(faults))
    return stack, stack.pars("provider", "key", P).stdout.strip(), stack.pars("operator", "key").stdout.strip()


def final_states(stack: Stack, operator: str) -> dict[str, str] | None:
    """Each learner's record status, once every record is Accepted or Rejected; None before."""
    states: dict[str, str] = {}
    with stack.client(operator) as api:
        for page in range(1, RECORDS // 1000 + 1):
            items = api.get("/v1/records", params={"per_page": 1000, "page": page, "sort": "submission"}).json()
            states |= {r["learner_id"]: r["status"] for r in items["items"]}
    settled = sum(s in ("Accepted", "Rejected") for s in states.values())
    return states if settled == RECORDS == items["total"] else None


@pytest.mark.timeout(900)
def test_every_record_settles_once_and_as_without_faults(servers: dict[str, str], tmp_path: Path) -> None:
    runs = {"faults": start(servers, tmp_path, "faults", FAULTS)}
    try:
        runs["clean"] = start(servers, tmp_path, "clean", None)
        for stack, key, _ in runs.values():
            for first in range(0, RECORDS, FILE_ROWS):
                with stack.client(key) as api:
                    content = batch_file(rows(first), FileFormat.TXT)
                    answer = api.post("/v1/batches", files={"file": (f"run-{first}.txt", content)})
                assert answer.status_code == 202 and answer.json()["records"] == FILE_ROWS
        states = {name: stack.wait_for(lambda s=stack, o=operator: final_states(s, o), timeout=600, every=5)
                  for name, (stack, _, operator) in runs.items()}
        assert states["faults"] == states["clean"]
        assert states["clean"] == {f"6{i:05d}" if i % 4 else f"9{i:05d}": "Rejected" if i % 4 == 0 else "Accepted"
                                   for i in range(RECORDS)}
        stack, _, operator = runs["faults"]
        with stack.client(operator) as api:
            items = api.get("/v1/records", params={"per_page": 40, "sort": "submission"}).json()["items"]
            for item in items:  # each timeline holds exactly one verdict, however often the board sent it
                history = [h["event_type"] for h in api.get(f"/v1/records/{item['record_id']}").json()["history"]]
                assert history in (["RecordSubmitted", "RecordAccepted"], ["RecordSubmitted", "RecordRejected"])
        # The faults really happened: the router had to ask again for answers the board dropped.
        assert "asked boards again" in stack.log("board-router")
    finally:
        for stack, _, _ in runs.values():
            stop_services(list(stack.processes.values()))
