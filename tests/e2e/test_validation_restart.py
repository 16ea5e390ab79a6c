"""Killing the validation service while records flow, then starting it again, loses nothing."""

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_walking_skeleton import WORLD, completion

pytestmark = pytest.mark.e2e

RECORDS = 600


def test_validation_killed_mid_stream_loses_and_duplicates_nothing(fresh_stack: Stack) -> None:
    stack = fresh_stack
    # A learner each: the board grants an activity's points to a learner only once (710 after that).
    learners = [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                 "certifications": [{"board": "ABOHNS", "id": f"5{i:05d}"}]} for i in range(RECORDS)]
    stack.load_world({**WORLD, "physicians": WORLD["physicians"] + learners})
    key = stack.pars("provider", "key", "0008001").stdout.strip()
    operator = stack.pars("operator", "key").stdout.strip()

    # Every third learner has a board ID the roster lacks; every tenth names an unknown activity.
    def body(i: int) -> dict:
        changes = {"activity_id": "999999999"} if i % 10 == 0 else {}
        return completion(board_id="99999" if i % 3 == 0 else f"5{i:05d}", credit_id=f"ccid:e2e:{i}", **changes)

    answers: dict[int, str] = {}
    submitting = threading.Event()

    def submit_all() -> None:
        with stack.client(key) as api, ThreadPoolExecutor(4) as pool:
            def one(i: int) -> None:
                reply = api.post("/v1/completions", json=body(i))
                assert reply.status_code == 202, reply.text
                answers[i] = reply.json()["records"][0]["record_id"]
                submitting.set()
                time.sleep(0.01)  # a steady stream over a few seconds, not one burst
            list(pool.map(one, range(RECORDS)))

    feeder = threading.Thread(target=submit_all)
    feeder.start()
    submitting.wait(10)
    time.sleep(0.8)
    stack.processes["validation"].signal(signal.SIGKILL)  # no chance to finish, commit or drain
    stack.processes["validation"].wait(10)
    time.sleep(1.5)  # records keep arriving at intake while validation is down
    stack.restart("validation")
    feeder.join(120)
    assert len(answers) == RECORDS

    kept = {i: rid for i, rid in answers.items() if i % 10 != 0}
    with stack.client(operator) as api:
        def all_settled() -> dict | None:
            page = api.get("/v1/records", params={"per_page": 1000}).json()
            done = [r for r in page["items"] if r["status"] in ("Accepted", "Rejected")]
            return page if len(done) == len(kept) else None
        page = stack.wait_for(all_settled, timeout=90, every=1.0)

        assert page["total"] == len(kept)
        by_id = {r["record_id"]: r for r in page["items"]}
        assert set(by_id) == set(kept.values())
        for i, record_id in kept.items():
            expected = "Rejected" if i % 3 == 0 else "Accepted"
            assert by_id[record_id]["status"] == expected, (i, by_id[record_id])
        for record_id in list(kept.values())[::7]:  # each timeline holds each event once
            history = [h["event_type"] for h in api.get(f"/v1/records/{record_id}").json()["history"]]
            assert history[0] == "RecordSubmitted" and len(history) == 2, history
    # The kill really landed mid-stream: the first process validated records, and so did the second.
    runs = stack.log("validation").split('"event": "service started"')
    assert len(runs) == 3 and all('"batch validated"' in run for run in runs[1:])
    rejected_by_pars = [rid for i, rid in answers.items() if i % 10 == 0]
    with stack.client(key) as api:  # PARS's own rejections leave the lists but are found by their IDs, once each
        def rejection(rid: str) -> list[str] | None:
            answer = api.get(f"/v1/records/{rid}")
            return [h["event_type"] for h in answer.json()["history"]] if answer.status_code == 200 else None
        for rid in rejected_by_pars:
            assert stack.wait_for(lambda rid=rid: rejection(rid)) == ["RecordRejectedByPars"], rid
