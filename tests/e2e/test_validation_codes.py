"""Every PARS-stage code (`pars` and `both` in error-codes.tsv), raised through the real pipeline.

Most records go in through POST /v1/completions?wait=true. Fields the JSON API does not carry (Template B's
Learner ID Type, an XML record's required credit ID) and a message that breaks the schema are published to
pars.submissions the way intake's batch and web-service channels will, and answered on pars.record-events.
"""

import asyncio
import csv
import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.events import CreditTypeClaim, ReportedRecord, SubmitRecord, Target, record_event_adapter
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
TSV = Path(__file__).resolve().parents[2] / "shared" / "pars" / "error-codes.tsv"
MESSAGES = {row["code"]: row["message"] for row in csv.DictReader(TSV.open(encoding="utf-8"), delimiter="\t")}
PARS_CODES = sorted(row["code"] for row in csv.DictReader(TSV.open(encoding="utf-8"), delimiter="\t")
                    if row["where"] in ("pars", "both"))

P = "0008001"
WORLD = {
    "providers": [{"id": P, "name": "Western Regional Medical Center", "email": "cme@wrmc.example"}],
    # ABO's records of a year can be deleted only until June 30 of that year (706 in December).
    "boards": [{"code": "ABO", "delete_deadline": "06-30", "latency_seconds": 0}],
    "activities": [
        {"id": "210016865", "provider_id": P, "title": "Manual entry", "format": "Live Course",
         "start_date": "2021-10-15", "end_date": "2021-11-15", "credit_claim_date": "2021-12-31",
         "cme_credits": 8, "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]},
         "rems": ["OPIOID"]},
        {"id": "210000002", "provider_id": P, "title": "Self-assessment only", "start_date": "2021-10-15",
         "end_date": "2021-11-15", "moc_credits": 4, "moc": {"ABOHNS": ["Self-Assessment"]}},
        {"id": "210000003", "provider_id": P, "title": "Medicine update", "start_date": "2021-10-15",
         "end_date": "2021-11-15", "moc_credits": 4, "moc": {"ABIM": ["Medical Knowledge"]}},
        {"id": "200608132", "provider_id": P, "title": "Pathology", "start_date": "2021-10-15",
         "end_date": "2021-11-15", "moc_credits": 12, "moc": {"ABPATH": ["Lifelong Learning"]}},
        {"id": "210000005", "provider_id": P, "title": "Surgery", "start_date": "2021-10-15",
         "end_date": "2021-11-15", "moc_credits": 4, "moc": {"ABS": ["Accredited CME"]}},
        {"id": "200000007", "provider_id": P, "title": "Last year", "start_date": "2020-01-01",
         "end_date": "2020-12-31", "moc_credits": 4, "moc": {"ABOHNS": ["Self-Assessment"]}},
        {"id": "200931446", "provider_id": P, "title": "Ophthalmology", "start_date": "2021-01-01",
         "end_date": "2021-11-15", "moc_credits": 4, "moc": {"ABO": ["Lifelong Learning"]}},
    ],
    "physicians": [
        {"first_name": "Harper", "last_name": "Benton", "dob": "11/11", "npi": "1234567893",
         "licenses": [{"state": "LA", "id": "MD.205357"}, {"state": "CA", "id": "A12345"}],
         "certifications": [{"board": "ABOHNS", "id": "19927"}, {"board": "ABO", "id": "98989"}]},
        {"first_name": "Test5", "last_name": "Account5", "dob": "06/01",
         "certifications": [{"board": "ABPATH", "id": "1000109", "roster": {"dob": "07/04"}}]},
        {"first_name": "Dana", "last_name": "Cutter", "dob": "02/02", "licenses": [{"state": "NC", "id": "1"}],
         "certifications": [{"board": "ABS", "id": "55501"}]},
        {"first_name": "Dana", "last_name": "Cutter", "dob": "02/02", "licenses": [{"state": "NC", "id": "2"}],
         "certifications": [{"board": "ABS", "id": "55502"}]},
    ],
}


def moc(board: str = "ABOHNS", board_id: str | None = "19927", credits: object = 8,
        types: dict | None = None) -> dict:
    return {"board": board, "board_id": board_id, "credits": credits,
            "credit_types": {"Self-Assessment": 8} if types is None else types}


def body(**changes: object) -> dict:
    base: dict[str, object] = {
        "activity_id": "210016865", "action": "Add", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": "2021-11-02", "moc": [moc()]}
    base.update(changes)
    return base


# code -> a completion that raises it (and, for most, nothing else)
VIA_API: dict[str, dict] = {
    "601": body(action=""),
    "602": body(action="Update"),
    "605": body(action="Delete", credit_id="ccid:nowhere:1"),
    "621": body(moc=[moc(board_id=None)]),
    "622": body(first_name=None),
    "623": body(last_name=" "),
    "624": body(dob=None),
    "630": body(activity_id=None),
    "631": body(completion_date=""),
    "632": body(moc=[moc(credits=None)]),
    "661": body(activity_id="200608132", first_name="Test5", last_name="Account5", dob="06/01",
                moc=[moc("ABPATH", "999999", 12, {"ABPath MOC Part II": 12})]),
    "664": body(activity_id="200608132", first_name="Test5", last_name="Account5", dob="06/01",
                moc=[moc("ABPATH", "1000109", 12, {"ABPath MOC Part II": 12})]),
    "665": body(activity_id="200608132", first_name="Tess", last_name="Account5", dob="07/04",
                moc=[moc("ABPATH", "1000109", 12, {"ABPath MOC Part II": 12})]),
    "670": body(moc=[moc("ABA", "1", 1, {"MOCA": 1})]),
    "671": body(completion_date="2022-01-05"),
    "672": body(completion_date="2021-10-01"),
    "673": body(moc=[moc(credits="eight")]),
    "674": body(moc=[moc(credits=9, types={"Self-Assessment": 9})]),
    "675": body(moc=[moc(credits=1.3, types={"Self-Assessment": 1})]),
    "676": body(moc=[moc(types={"Bedside Manner": 8})]),
    "677": body(moc=[moc(types={})]),
    "680": body(activity_id="210000002", moc=[moc(credits=4, types={"Patient Safety": 4})]),
    "681": body(activity_id="210000003", moc=[moc("ABIM", "1", 4, {"Practice Assessment": 4})]),
    "690": body(activity_id="999999999"),
    "705": body(activity_id="200000007", completion_date="2020-05-01",
                moc=[moc(credits=4, types={"Self-Assessment": 4})]),
    "713": body(moc=[moc("ABXYZ", "1", 1, {"Lifelong Learning": 1})]),
    "718": body(moc=[], cme={"credits": 8, "state": "CA", "license_id": "Z99999"}),
    "998": body(moc=[], rems=[{"program": "OPIOID", "learner_id": "L-1", "time_in_practice": "6-10 years"}],
                cme={"credits": 8, "state": "CA", "license_id": "A12345"}),
}


def errors_of(stack: Stack, key: str, completion: dict) -> list[dict]:
    with stack.client(key) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=completion)
    assert answer.status_code == 202, answer.text
    records = answer.json()["records"]
    return [e for r in records for e in r["errors"]]


async def publish_and_await(stack: Stack, command: bytes, record_id: uuid.UUID, key: bytes) -> dict:
    """Put a SubmitRecord on pars.submissions; answer validation's event for that record."""
    servers = stack.settings.kafka_bootstrap_servers
    consumer = AIOKafkaConsumer(stack.settings.topic("pars.record-events"), bootstrap_servers=servers,
                                auto_offset_reset="earliest")
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(stack.settings.topic("pars.submissions"), command, key=key)
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        event = json.loads(record.value)
                        if str(record_id) in (event.get("record_id"), event.get("reported_as")):
                            return event
    finally:
        await producer.stop()
        await consumer.stop()


def submit_command(stack: Stack, **changes: object) -> tuple[SubmitRecord, ReportedRecord]:
    record = ReportedRecord(
        record_id=uuid.uuid4(), submission_id=uuid.uuid4(), provider_id=P, channel="ws", credit_id="ccid:ws:1",
        activity_id="210016865", first_name="Harper", last_name="Benton", dob="11/11", completion_date="11/2/2021",
        target=Target(kind="moc", code="ABOHNS"), learner_id="19927", credits="8",
        credit_types=[CreditTypeClaim(name="Self-Assessment", points="8")],
    ).model_copy(update=changes)
    command = SubmitRecord(record=record, correlation_id=str(record.submission_id), provider_id=P,
                           record_id=record.record_id, submission_id=record.submission_id)
    return command, record


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    stack.load_world(WORLD)
    return stack.pars("provider", "key", P).stdout.strip()


def test_validation_cases_cover_every_pars_code() -> None:
    assert sorted({*VIA_API, *VIA_KAFKA, "603", "678", "706", "999"}) == PARS_CODES


@pytest.mark.parametrize("code", sorted(VIA_API))
def test_validation_code_through_the_api(stack: Stack, key: str, code: str) -> None:
    errors = errors_of(stack, key, VIA_API[code])
    assert {"code": code, "message": MESSAGES[code]} in errors, errors


def test_validation_code_603_duplicate_credit_id(stack: Stack, key: str) -> None:
    first = errors_of(stack, key, body(credit_id="ccid:e2e:dup"))
    again = errors_of(stack, key, body(credit_id="ccid:e2e:dup"))
    assert first == [] and again == [{"code": "603", "message": MESSAGES["603"]}]


def test_validation_code_678_names_the_certificate(stack: Stack, key: str) -> None:
    twice = body(moc=[moc(types={"Self-Assessment": 4, "self-assessment": 4})])
    [error] = errors_of(stack, key, twice)
    assert error["message"] == ("Invalid activity credit certificate. Activity certificate self-assessment "
                                "allowed once per learner submission record.")


def test_validation_code_706_delete_after_the_boards_deadline(stack: Stack, key: str) -> None:
    added = body(activity_id="200931446", credit_id="ccid:e2e:abo", completion_date="2021-11-01",
                 moc=[moc("ABO", "98989", 1, {"ABO MOC Part II": 1})])
    assert errors_of(stack, key, added) == []
    deleted = {**added, "action": "Delete"}
    # Until validation hears the board accepted the record, it is still with the board (998): ask again.
    errors = stack.wait_for(lambda: [e for e in errors_of(stack, key, deleted) if e["code"] != "998"] or None)
    assert errors == [{"code": "706", "message": MESSAGES["706"]}]


def test_validation_code_718_several_abs_learners_share_name_and_birthday(stack: Stack, key: str) -> None:
    ambiguous = body(activity_id="210000005", first_name="Dana", last_name="Cutter", dob="02/02",
                     moc=[moc("ABS", None, 4, {"Accredited CME": 4})])
    assert errors_of(stack, key, ambiguous) == [{"code": "718", "message": MESSAGES["718"]}]


VIA_KAFKA: dict[str, dict[str, object]] = {
    "650": {"credit_id_required": True, "credit_id": None}, "712": {"learner_id_type": "NPI"},
    "713": {"registration": "ABIM"}}


@pytest.mark.parametrize("code", sorted(VIA_KAFKA))
async def test_validation_code_of_batch_and_web_service_fields(stack: Stack, key: str, code: str) -> None:
    command, record = submit_command(stack, **VIA_KAFKA[code])
    event = await publish_and_await(stack, command.to_bytes(), record.record_id, b"k")
    assert event["event_type"] == "RecordRejectedByPars"
    assert {"code": code, "message": MESSAGES[code]} in event["errors"], event["errors"]


async def test_validation_code_999_for_a_record_it_cannot_read(stack: Stack, key: str) -> None:
    command, record = submit_command(stack)
    broken = json.loads(command.to_bytes())
    broken["record"]["credit_types"] = "not a list"  # a producer bug, not a provider's mistake
    event = await publish_and_await(stack, json.dumps(broken).encode(), record.record_id, b"k")
    parsed = record_event_adapter.validate_python(event)
    assert parsed.event_type == "RecordRejectedByPars"
    assert [(e.code, e.message) for e in parsed.errors] == [("999", MESSAGES["999"])]
