"""The operators' interface on a running stack: /v1/ops (streams, lag, dead letters, tails, replay, browsing, stories,
dead-letter actions, live tickets, health, batches) and /console (in a browser: tests/e2e/test_console_browser.py)."""

import asyncio
import hashlib
import json
import threading
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.topics import GROUPS
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
P = "0008001"
WORLD = {
    "providers": [{"id": P, "name": "Western Regional Medical Center", "email": "cme@wrmc.example"}],
    "activities": [{"id": "210016865", "provider_id": P, "title": "Otolaryngology update",
                    "start_date": "2021-10-15", "end_date": "2021-11-15", "cme_credits": 8, "moc_credits": 8,
                    "moc": {"ABOHNS": ["Self-Assessment"]}}],
    "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                    "licenses": [{"state": "LA", "id": "MD.205357"}],
                    "certifications": [{"board": "ABOHNS", "id": "19927"}]}],
}
PERSONAL = ("11/11", "MD.205357")


def completion(board_id: str = "19927") -> dict:
    return {"activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
            "completion_date": "2021-11-02",
            "moc": [{"board": "ABOHNS", "board_id": board_id, "credits": 8, "credit_types": {"Self-Assessment": 8}}]}


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    stack.load_world(WORLD)
    issued = {"provider": stack.pars("provider", "key", P), "operator": stack.pars("operator", "key")}
    assert all(r.returncode == 0 for r in issued.values()), {k: r.stderr for k, r in issued.items()}
    return {who: r.stdout.strip() for who, r in issued.items()}


def submit_and_settle(stack: Stack, key: str, board_id: str = "19927") -> dict:
    with stack.client(key) as api:
        [record] = api.post("/v1/completions", params={"wait": "true"}, json=completion(board_id)).json()["records"]

        def settled() -> dict | None:
            answer = api.get(f"/v1/records/{record['record_id']}")
            return answer.json() if answer.status_code == 200 and answer.json()["status"] != "Submitted" else None
        return stack.wait_for(settled, timeout=30)


def record_events(ops: httpx.Client) -> int:
    streams = {s["name"]: s for s in ops.get("/v1/ops/streams").json()["streams"]}
    return streams["pars.record-events"]["messages"]


def test_ops_answers_operators_only(stack: Stack, keys: dict[str, str]) -> None:
    with httpx.Client(base_url=stack.api) as anonymous:
        answer = anonymous.get("/v1/ops/streams")
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    with stack.client(keys["provider"]) as provider:
        for call in (provider.get("/v1/ops/streams"), provider.get("/v1/ops/lag"),
                     provider.get("/v1/ops/dead-letters"), provider.get("/v1/ops/streams/pars.record-events/tail"),
                     provider.post("/v1/ops/replay/board-responses", json={"since": "2000-01-01T00:00:00"})):
            assert call.status_code == 403 and call.json()["error"]["code"] == "forbidden", call.text
    with stack.client(keys["operator"]) as ops:
        assert ops.get("/v1/ops/streams").status_code == 200


def test_streams_grow_and_lag_shows_every_pipeline_group(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["operator"]) as ops:
        body = ops.get("/v1/ops/streams").json()
        names = {s["name"] for s in body["streams"]}
        assert {"pars.submissions", "pars.record-events", "pars.board-responses", "pars.board.ABOHNS.requests",
                "pars.dlq.projector"} <= names
        assert all(s["topic"].startswith(stack.settings.namespace + ".") for s in body["streams"])
        before = record_events(ops)
        assert submit_and_settle(stack, keys["provider"])["status"] == "Accepted"
        assert record_events(ops) >= before + 2  # RecordSubmitted, then RecordAccepted

        def projector_caught_up() -> dict | None:
            groups = {g["group"]: g for g in ops.get("/v1/ops/lag").json()["groups"]}
            projector = groups["pars.projector"]
            return groups if projector["exists"] and projector["lag"] == 0 else None
        groups = stack.wait_for(projector_caught_up, timeout=30)
    assert groups["pars.projector"]["topics"] == ["pars.record-events"]
    assert len(groups["pars.projector"]["partitions"]) == stack.settings.kafka_partitions
    assert {g.name for g in GROUPS} <= set(groups)  # every group the registry knows, pars.notifier.activities too
    assert "pars.board.ABOHNS.requests" in groups["pars.board-sim"]["topics"]  # one group reads every board's


def test_tail_shows_the_newest_record_events_without_personal_fields(stack: Stack, keys: dict[str, str]) -> None:
    record = submit_and_settle(stack, keys["provider"])
    with stack.client(keys["operator"]) as ops:
        answer = ops.get("/v1/ops/streams/pars.record-events/tail", params={"limit": 5})
        missing = ops.get("/v1/ops/streams/pars.nothing-here/tail")
        foreign = ops.get("/v1/ops/streams/another.pars.record-events/tail")
    assert answer.status_code == 200 and answer.json()["topic"] == "pars.record-events"
    messages = answer.json()["messages"]
    assert 0 < len(messages) <= 5
    mine = [m for m in messages if m["key"] == record["record_id"]]
    assert [m["event_type"] for m in mine] == ["RecordSubmitted", f"Record{record['status']}"]
    assert mine[0]["value"]["record"]["dob"] == "[redacted]" and mine[0]["value"]["record"]["first_name"] == "Harper"
    assert not any(p in answer.text for p in PERSONAL)
    assert (missing.status_code, foreign.status_code) == (404, 404)


async def publish_malformed_event(stack: Stack) -> None:
    """An event no consumer can read, carrying a birthday and a licence number, on pars.record-events: a board's
    rejection, which the projector, validation's status tracking and the notifier read (and dead-letter)."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        value = {"event_type": "RecordRejected", "record": {"first_name": "Poison", "dob": "11/11",
                                                            "license_id": "MD.205357"}}
        await producer.send_and_wait(stack.settings.topic("pars.record-events"), json.dumps(value).encode(),
                                     key=str(uuid.uuid4()).encode(), headers=[("event_type", b"RecordRejected")])
    finally:
        await producer.stop()


def test_a_poison_event_shows_in_dead_letters_without_its_dob(stack: Stack, keys: dict[str, str]) -> None:
    asyncio.run(publish_malformed_event(stack))
    with stack.client(keys["operator"]) as ops:
        def dead_lettered() -> httpx.Response | None:
            answer = ops.get("/v1/ops/dead-letters", params={"service": "projector", "limit": 10})
            return answer if answer.json()["dead_letters"] else None
        answer = stack.wait_for(dead_lettered, timeout=30)
        unknown = ops.get("/v1/ops/dead-letters", params={"service": "nobody"})
    [letter] = answer.json()["dead_letters"]
    assert letter["service"] == "projector" and letter["topic"] == "pars.dlq.projector"
    assert letter["source"]["topic"] == "pars.record-events" and letter["error"].startswith("ValidationError")
    assert letter["value"]["record"] == {"first_name": "Poison", "dob": "[redacted]", "license_id": "[redacted]"}
    assert not any(p in answer.text for p in PERSONAL)
    assert unknown.status_code == 422


def records_checksum(stack: Stack, key: str) -> str:
    with stack.client(key) as api:
        items = api.get("/v1/records", params={"per_page": 1000, "sort": "submission"}).json()["items"]
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()


def test_replay_answers_its_count_and_changes_no_record(stack: Stack, keys: dict[str, str]) -> None:
    submit_and_settle(stack, keys["provider"], board_id="99999")  # a board rejection (661) among the verdicts
    before = records_checksum(stack, keys["provider"])
    with stack.client(keys["operator"]) as ops:
        streams = {s["name"]: s for s in ops.get("/v1/ops/streams").json()["streams"]}
        board_responses = streams["pars.board-responses"]["messages"]
        answer = ops.post("/v1/ops/replay/board-responses", json={"since": "2000-01-01T00:00:00"})
        bad = ops.post("/v1/ops/replay/board-responses", json={"since": "yesterday"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"replayed": answer.json()["replayed"], "since": "2000-01-01T00:00:00+00:00"}
    assert answer.json()["replayed"] == board_responses  # every board answer so far, each settled already
    assert bad.status_code == 422
    time.sleep(3)  # the projector applies whatever the replay appended
    assert records_checksum(stack, keys["provider"]) == before


def test_live_streams_new_record_events(stack: Stack, keys: dict[str, str]) -> None:
    seen: list[dict] = []
    with stack.client(keys["operator"]) as ops, ops.stream("GET", "/v1/ops/streams/pars.record-events/live") as live:
        assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
        lines = live.iter_lines()
        assert next(lines).startswith(": following pars.record-events")  # its consumer is at the end now
        submitter = threading.Thread(target=submit_and_settle, args=(stack, keys["provider"]))
        submitter.start()
        deadline = time.monotonic() + 30  # a keep-alive comment comes at least every 15 s
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):]))
            if len(seen) == 2 or time.monotonic() > deadline:
                break
        submitter.join()
    assert len(seen) == 2 and seen[0]["event_type"] == "RecordSubmitted"  # then the board's verdict
    assert seen[1]["event_type"] in ("RecordAccepted", "RecordRejected")
    assert seen[0]["value"]["record"]["dob"] == "[redacted]"


def test_console_page_needs_no_key_and_carries_none(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as anonymous:
        page = anonymous.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>PARS operations console</title>" in page.text
    assert "/v1/ops/live-tickets" in page.text and "EventSource" in page.text and "sessionStorage" in page.text
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'nonce-" in policy and "unsafe-inline" not in policy
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")  # nothing from elsewhere


def test_a_record_story_spans_its_topics(stack: Stack, keys: dict[str, str]) -> None:
    record = submit_and_settle(stack, keys["provider"])
    with stack.client(keys["operator"]) as ops:
        story = ops.get(f"/v1/ops/records/{record['record_id']}/story")
        bad = ops.get("/v1/ops/records/not-a-uuid/story")
        too_early = ops.get("/v1/ops/streams/pars.record-events/messages", params={"since": "1960-01-01T00:00:00"})
        browsed = ops.get("/v1/ops/streams/pars.record-events/messages",
                          params={"record_id": record["record_id"], "since": "2000-01-01T00:00:00"})
    assert story.status_code == 200, story.text
    topics = [m["topic"] for m in story.json()["messages"]]
    assert topics[0] == "pars.submissions" and "pars.record-events" in topics and "pars.board-responses" in topics
    assert "pars.board.ABOHNS.requests" in topics
    assert not any(p in story.text for p in PERSONAL)
    assert bad.status_code == 422 and too_early.status_code == 422
    assert [m["event_type"] for m in browsed.json()["messages"]] == ["RecordSubmitted", f"Record{record['status']}"]


def test_a_dead_letter_is_redriven_once_and_the_action_is_recorded(stack: Stack, keys: dict[str, str]) -> None:
    asyncio.run(publish_malformed_event(stack))
    with stack.client(keys["operator"]) as ops:
        def pending() -> dict | None:
            letters = ops.get("/v1/ops/dead-letters", params={"service": "notifier"}).json()["dead_letters"]
            return next((d for d in letters if d["action"] is None), None)
        letter = stack.wait_for(pending, timeout=30)
        path = f"/v1/ops/dead-letters/{letter['topic']}/{letter['partition']}/{letter['offset']}"
        first, second = ops.post(path + "/redrive"), ops.post(path + "/redrive")
        actions = ops.get("/v1/ops/dead-letters/actions").json()["actions"]
        shown = ops.get("/v1/ops/dead-letters", params={"service": "notifier"}).json()["dead_letters"]
        missing = ops.post(f"/v1/ops/dead-letters/{letter['topic']}/0/999999/skip")
        beyond = ops.post(f"/v1/ops/dead-letters/{letter['topic']}/0/{2**63}/skip")  # past Kafka's int64 offsets
    with stack.client(keys["provider"]) as provider:
        refused = provider.post(path + "/skip")
    key_id = keys["operator"].split("_")[1]
    assert first.status_code == 200 and first.json()["done"], first.text
    assert second.status_code == 200 and not second.json()["done"]  # a double click re-drives nothing
    assert first.json()["action"]["operator"] == f"key {key_id}" and first.json()["action"]["redriven_to"]
    mine = [a for a in actions if (a["dlq_partition"], a["dlq_offset"]) == (letter["partition"], letter["offset"])
            and a["dlq_topic"] == letter["topic"]]
    assert [a["action"] for a in mine] == ["redrive"]
    assert next(d for d in shown if d["offset"] == letter["offset"])["action"]["action"] == "redrive"
    assert missing.status_code == 404 and refused.status_code == 403 and beyond.status_code == 422


def test_live_tickets_open_the_stream_and_nothing_else_does(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["operator"]) as ops:
        ticket = ops.post("/v1/ops/live-tickets").json()["ticket"]
        assert keys["operator"].split("_", 2)[2] not in ticket  # the key's secret never goes in a URL
        with httpx.Client(base_url=stack.api, timeout=15) as anonymous:
            with anonymous.stream("GET", "/v1/ops/live", params={"ticket": ticket}) as live:
                assert live.status_code == 200
                lines = live.iter_lines()
                assert next(lines).startswith(": following pars.record-events")
                assert [next(lines), next(lines)] == ["", "event: following"]  # once at the end, for the page
                assert json.loads(next(lines)[len("data: "):]) == {"topic": "pars.record-events"}
                next(line for line in lines if line == "event: rates")
                assert "pars.record-events" in json.loads(next(lines)[len("data: "):])  # messages/s per topic
            forged = anonymous.get("/v1/ops/live", params={"ticket": ticket[:-2] + "xx"})
            none = anonymous.get("/v1/ops/live")
    with stack.client(keys["provider"]) as provider:
        assert provider.post("/v1/ops/live-tickets").status_code == 403
    assert forged.status_code == 401 and none.status_code == 422


def test_health_and_batches_in_progress(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["operator"]) as ops:
        health = ops.get("/v1/ops/health").json()["services"]
        batches = ops.get("/v1/ops/batches")
    assert {s["service"]: s["ready"] for s in health} == dict.fromkeys(
        ["intake", "validation", "board-router", "board-sim", "projector", "notifier"], True)
    assert batches.status_code == 200 and isinstance(batches.json()["batches"], list)
