"""Units of shared/: the code catalogue, events, names, settings, topics, boards, the world file, logging."""

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
import structlog

from shared.boards import BoardOverride, apply_overrides, shipped_boards
from shared.codes import catalogue, pars_error
from shared.events import (
    CreditTypeClaim,
    DeleteSubmitted,
    Envelope,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordRejectedByPars,
    RecordSubmitted,
    ReportedRecord,
    Target,
    record_event_adapter,
)
from shared.logging import configure_logging, get_logger
from shared.names import same_name
from shared.service_registry import SERVICE_NAMES, VALIDATION
from shared.settings import Settings
from shared.topics import (
    BOARD_RESPONSES,
    RECORD_EVENTS,
    RECORD_PARTITIONS,
    SUBMISSIONS,
    TopicSpec,
    all_topics,
    board_requests,
    dead_letters,
)
from shared.world import World

TSV = Path(__file__).resolve().parents[1] / "pars" / "error-codes.tsv"

# codes --------------------------------------------------------------------------------------------------


def test_678_names_the_repeated_certificate() -> None:
    error = pars_error("678", certificate="Patient Safety")
    assert error.code == "678"
    assert error.message == ("Invalid activity credit certificate. Activity certificate Patient Safety allowed "
                             "once per learner submission record.")


def test_678_without_a_certificate_keeps_the_placeholder() -> None:
    assert "[Activity Certificate Name]" in pars_error("678").message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("601", "Learner record action was not specified."),
        ("665", "Diplomate name does not batch Board record."),
        ("672", "Activity completion date proceeds activity start date."),
        ("999", "General learner record processing error."),
    ],
)
def test_pars_error_uses_the_message_as_pars_words_it(code: str, message: str) -> None:
    assert pars_error(code).model_dump() == {"code": code, "message": message}


def test_every_code_of_the_tsv_is_in_the_catalogue() -> None:
    rows = list(csv.DictReader(TSV.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    assert len(rows) >= 30
    assert set(catalogue()) == {row["code"] for row in rows}
    for row in rows:
        info = catalogue()[row["code"]]
        assert (info.message, info.where, info.condition) == (row["message"], row["where"], row["condition"])
        assert info.where in {"pars", "board", "both"}


def test_an_unknown_code_is_an_error() -> None:
    with pytest.raises(KeyError):
        pars_error("000")


# record events ------------------------------------------------------------------------------------------

TARGET = Target(kind="moc", code="ABOHNS")
RECORD_ID = uuid4()
COMMON = {"record_id": RECORD_ID, "submission_id": uuid4(), "provider_id": "0008001", "correlation_id": "c-1",
          "occurred_at": datetime(2022, 1, 10, 9, 30, tzinfo=UTC)}
LEARNER_RECORD = LearnerRecord(
    record_id=RECORD_ID, submission_id=COMMON["submission_id"], provider_id="0008001", credit_id="ccid-1",
    activity_id="210016865", first_name="Harper", last_name="Benton", dob="11/11",
    completion_date=date(2021, 11, 2), target=TARGET, learner_id="19927", credits=Decimal("6.25"),
    credit_types={"Self-Assessment": Decimal("5.25"), "Patient Safety": Decimal(1)},
    activity_max_credits=Decimal(8),
)
REPORTED = ReportedRecord(record_id=RECORD_ID, submission_id=COMMON["submission_id"], provider_id="0008001",
                          target=TARGET, credits="abc",
                          credit_types=[CreditTypeClaim(name="Self-Assessment", points="5")])

RECORD_EVENTS_OF_EVERY_TYPE: list[Envelope] = [
    RecordRejectedByPars(record=REPORTED, errors=[pars_error("673"), pars_error("690")], **COMMON),
    RecordSubmitted(record=LEARNER_RECORD, needs_board=False, **COMMON),
    RecordAccepted(target=TARGET, **COMMON),
    RecordAccepted(target=TARGET, response_id=uuid4(), **COMMON),
    RecordRejected(target=TARGET, response_id=uuid4(), errors=[pars_error("661")], **COMMON),
    DeleteSubmitted(target=TARGET, **COMMON),
    RecordDeleted(target=TARGET, response_id=uuid4(), **COMMON),
]


@pytest.mark.parametrize("event", RECORD_EVENTS_OF_EVERY_TYPE, ids=lambda e: e.event_type)
def test_record_events_round_trip_through_json(event: Envelope) -> None:
    wire = event.to_bytes()
    assert json.loads(wire)["event_type"] == event.event_type
    back = record_event_adapter.validate_json(wire)
    assert type(back) is type(event)
    assert back == event


def test_record_event_types_are_all_covered() -> None:
    assert {e.event_type for e in RECORD_EVENTS_OF_EVERY_TYPE} == {
        "RecordRejectedByPars", "RecordSubmitted", "RecordAccepted", "RecordRejected", "DeleteSubmitted",
        "RecordDeleted"}


def test_an_unknown_event_type_is_refused() -> None:
    wire = json.loads(RecordAccepted(target=TARGET, **COMMON).to_bytes())
    wire["event_type"] = "RecordVanished"
    with pytest.raises(ValueError, match="RecordVanished"):
        record_event_adapter.validate_python(wire)


# names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("García-López", "garcia lopez", True),
        ("O'Keeffe", "OKeeffe", True),
        ("O’Keeffe", "O'Keeffe", True),
        ("St. John", "st john", True),
        ("Zoë", "ZOE", True),
        ("Straße", "STRASSE", True),
        (" Benton ", "Benton", True),
        (None, "", True),
        ("Benton", "Brenton", False),
        ("Ann", "Anne", False),
        ("Harper", None, False),
    ],
)
def test_same_name(a: str | None, b: str | None, same: bool) -> None:
    assert same_name(a, b) is same
    assert same_name(b, a) is same


# settings -----------------------------------------------------------------------------------------------


def test_settings_without_a_namespace_use_the_plain_names() -> None:
    s = Settings(namespace="")
    assert s.topic("pars.submissions") == "pars.submissions"
    assert s.schema(VALIDATION.schema) == "validation"
    assert s.group("projector") == "projector"


def test_settings_with_a_namespace_prefix_every_name() -> None:
    s = Settings(namespace="T42")
    assert s.topic("pars.submissions") == "T42.pars.submissions"
    assert s.schema("Validation") == "t42_validation"
    assert s.group("projector") == "T42.projector"


# topics -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES, board_requests("ABOHNS")],
                         ids=lambda s: s.name)
def test_topics_of_record_data_have_at_least_six_partitions(spec: TopicSpec) -> None:
    assert spec.partitions >= 6
    assert RECORD_PARTITIONS >= 6


def test_topic_names() -> None:
    assert (SUBMISSIONS.name, RECORD_EVENTS.name, BOARD_RESPONSES.name) == (
        "pars.submissions", "pars.record-events", "pars.board-responses")
    assert board_requests("abohns").name == "pars.board.ABOHNS.requests"
    assert dead_letters("validation").name == "pars.dlq.validation"
    assert dead_letters("validation").writers == ("validation",)


def test_all_topics_lists_each_topic_once() -> None:
    names = [t.name for t in all_topics(["ABOHNS", "ABA"])]
    assert len(names) == len(set(names))
    assert {"pars.submissions", "pars.record-events", "pars.board-responses", "pars.board.ABOHNS.requests",
            "pars.board.ABA.requests"} <= set(names)
    assert {f"pars.dlq.{s}" for s in SERVICE_NAMES} <= set(names)


# boards -------------------------------------------------------------------------------------------------


def test_an_override_replaces_only_the_fields_it_names() -> None:
    shipped = shipped_boards()["ABOHNS"]
    boards = apply_overrides([BoardOverride(code="ABOHNS", latency_seconds=5, processing="realtime")])
    changed = boards["ABOHNS"]
    assert (changed.latency_seconds, changed.processing) == (5.0, "realtime")
    assert changed.model_dump(exclude={"latency_seconds", "processing"}) == shipped.model_dump(
        exclude={"latency_seconds", "processing"})
    # The shipped catalogue itself is untouched, and other boards are as shipped.
    assert shipped_boards()["ABOHNS"].latency_seconds == 86400.0
    assert boards["ABA"] == shipped_boards()["ABA"]
    assert set(boards) == set(shipped_boards())


def test_an_override_can_add_a_board() -> None:
    boards = apply_overrides([BoardOverride(code="ABXX", credit_types=["Lifelong Learning"]),
                              BoardOverride(code="TX", kind="state", name="Texas Medical Board")])
    new = boards["ABXX"]
    assert (new.kind, new.name, new.credit_types) == ("moc", "ABXX", ["Lifelong Learning"])
    assert new.requires_board_id and new.requires_dob and new.needs_board
    assert (boards["TX"].kind, boards["TX"].name) == ("state", "Texas Medical Board")
    assert "ABXX" not in shipped_boards()


# world ------------------------------------------------------------------------------------------------

# CONTRACT.md section 2, as written there.
CONTRACT_WORLD = """
{
  "providers": [{"id": "0008001", "name": "Western Regional Medical Center", "email": "cme@wrmc.example"}],
  "boards": [{"code": "ABOHNS", "kind": "moc", "name": "American Board of Otolaryngology - Head and Neck Surgery",
              "credit_types": ["Self-Assessment", "Patient Safety"], "requires_board_id": true,
              "requires_dob": true, "processing": "async", "latency_seconds": 86400,
              "one_completion_per_day": false, "report_deadline": "03-31", "delete_deadline": "12-31"}],
  "activities": [{"id": "210016865", "provider_id": "0008001", "title": "Testing adding learners via manual entry",
                  "format": "Live Course", "internal_id": "manuallyaddinglearnersDE01",
                  "start_date": "2021-10-15", "end_date": "2021-11-15", "credit_claim_date": "2021-12-31",
                  "cme_credits": 8, "moc_credits": 8,
                  "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]}, "rems": []}],
  "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11", "npi": "1234567893",
                  "medical_school": "Tulane University School of Medicine",
                  "licenses": [{"state": "LA", "id": "MD.205357"}],
                  "certifications": [{"board": "ABOHNS", "id": "19927"}]}]
}
"""


def test_the_contract_world_example_parses(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(CONTRACT_WORLD, encoding="utf-8")
    world = World.read(path)
    assert [p.id for p in world.providers] == ["0008001"]
    assert world.boards[0].code == "ABOHNS" and world.boards[0].latency_seconds == 86400
    [activity] = world.activities
    assert (activity.start_date, activity.end_date, activity.credit_claim_date) == (
        date(2021, 10, 15), date(2021, 11, 15), date(2021, 12, 31))
    assert activity.cme_credits == activity.moc_credits == Decimal(8)
    assert activity.moc == {"ABOHNS": ["Self-Assessment", "Patient Safety"]}
    [physician] = world.physicians
    assert (physician.dob, physician.licenses[0].id, physician.certifications[0].id) == ("11/11", "MD.205357", "19927")
    assert apply_overrides(world.boards)["ABOHNS"] == shipped_boards()["ABOHNS"]


def test_the_world_writes_credits_as_json_numbers() -> None:
    world = World.model_validate_json(CONTRACT_WORLD)
    world.physicians[0].certifications[0].prior_credits = []
    written = json.loads(world.model_dump_json())
    activity = written["activities"][0]
    for field in ("cme_credits", "moc_credits"):
        assert isinstance(activity[field], int | float) and not isinstance(activity[field], bool)
        assert activity[field] == 8
    assert World.model_validate(written) == world


def test_prior_credit_points_are_json_numbers() -> None:
    data = json.loads(CONTRACT_WORLD)
    data["physicians"][0]["certifications"][0]["prior_credits"] = [
        {"activity_id": "210016865", "completion_date": "2021-11-02", "points": 2.25}]
    written = json.loads(World.model_validate(data).model_dump_json())
    assert written["physicians"][0]["certifications"][0]["prior_credits"][0]["points"] == 2.25


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [("providers", "id", "8001"), ("activities", "id", "21001686"), ("physicians", "dob", "1970-11-11")],
)
def test_the_world_refuses_malformed_ids_and_dates_of_birth(section: str, field: str, value: str) -> None:
    data = json.loads(CONTRACT_WORLD)
    data[section][0][field] = value
    with pytest.raises(ValueError, match=field):
        World.model_validate(data)


# logging ------------------------------------------------------------------------------------------------


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buf = io.StringIO()
    configure_logging("t", stream=buf)
    yield buf
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    for handler in set(root.handlers) - set(handlers):  # configure_logging's basicConfig handler
        root.removeHandler(handler)
    root.setLevel(level)


def test_logging_redacts_personal_data_and_keys(log_buffer: io.StringIO) -> None:
    get_logger("test").info("learner matched", dob="11/11", license_id="MD.205357", api_key="pars_abc_secret",
                            record_id="r-1")
    [line] = log_buffer.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "learner matched"
    assert entry["service"] == "t"
    assert entry["level"] == "info"
    assert entry["record_id"] == "r-1"
    assert entry["dob"] == entry["license_id"] == entry["api_key"] == "[redacted]"
    for secret in ("11/11", "MD.205357", "pars_abc_secret"):
        assert secret not in line


def test_logging_redacts_bound_context_too(log_buffer: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(dob="11/11")
    get_logger().warning("bound")
    entry = json.loads(log_buffer.getvalue().splitlines()[-1])
    assert entry["dob"] == "[redacted]"
