"""What PARS cannot keep is refused before anything is kept: the limits (shared/limits.py), the request checks that
need no servers (parameters, body sizes, the OpenAPI document), downloads' file names and the XML root's prefix."""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import ValidationError

from intake.activities.registration import as_provider_sees_it
from intake.app import build
from intake.attachments import content_disposition, safe_file_name
from intake.batch_files.model import (
    BatchFileError,
    FileFormat,
    Layout,
    ParsedBatch,
    RowRecord,
    SourceRow,
    refuse_unkeepable,
)
from intake.batch_files.readers.activity_report import read_activity_report
from intake.body_limit import BodyLimit
from intake.completions.schemas import Completion
from intake.ops.router import ReplayRequest
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, Target
from shared.limits import (
    COMPLETION_BODY_BYTES,
    MAX_CREDIT_TYPES,
    MAX_MOC_ENTRIES,
    MAX_TARGETS,
    completion_problems,
    json_problems,
    record_problems,
    text_problem,
)
from shared.settings import Settings

SUBMISSION = UUID("5a1d7d0e-9a8c-4f4f-8a57-1f6c2b8e3c11")


def record(**fields: Any) -> ReportedRecord:
    return ReportedRecord(record_id=uuid4(), submission_id=SUBMISSION, provider_id="0008001",
                          target=Target(kind="moc", code="ABOHNS"), **fields)


# shared/limits.py -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "says"), [
    ("Har\x00per", "NUL character (U+0000) at character 4"),
    ("\ud800", "lone surrogate (U+D800)"),
    ("a\x1bb", "control character U+001B"),
    ("x" * 101, "holds 101 characters; at most 100"),
])
def test_text_pars_cannot_keep_is_named_with_its_reason(text: str, says: str) -> None:
    assert says in (text_problem(text, 100) or "")


@pytest.mark.parametrize("text", ["Harper", "D'Ávila", "O'Brien-Smith\tJr", "x" * 100, "名前", ""])
def test_ordinary_text_is_kept(text: str) -> None:
    assert text_problem(text, 100) is None


def test_a_records_unkeepable_fields_are_each_named() -> None:
    problems = record_problems(record(first_name="Har\x00per", last_name="x" * 3000, dob="\x00", credits="1",
                                      credit_types=[CreditTypeClaim(name="Self-Assessment", points="\x00")],
                                      rems=RemsFields(profession="p" * 201)))
    assert [p.field for p in problems] == ["first_name", "last_name", "dob", "credit_types.Self-Assessment",
                                           "rems.profession"]
    assert "3,000 characters" in problems[1].reason


def test_too_many_credit_types_and_targets_are_refused() -> None:
    many = [CreditTypeClaim(name=f"type {i}") for i in range(MAX_CREDIT_TYPES + 1)]
    assert [p.field for p in record_problems(record(credit_types=many))] == ["credit_types"]
    records = [record(first_name="Harper") for _ in range(MAX_TARGETS + 1)]
    assert [p.field for p in completion_problems(records)] == ["targets"]
    assert completion_problems(records[:MAX_TARGETS]) == []


def test_a_field_every_target_shares_is_named_once() -> None:
    assert [p.field for p in completion_problems([record(last_name="\x00"), record(last_name="\x00")])] == [
        "last_name"]


def test_json_problems_name_infinite_numbers_and_unkeepable_text_and_keys() -> None:
    document = json.loads('{"cme_credits": 1e309, "moc": {"AB\\u0000O": ["ok", NaN]}, "title": "ok"}')
    assert [(p.field, p.reason[:8]) for p in json_problems(document)] == [
        ("cme_credits", "is inf, "), ("moc.AB\\u0000O", "the name"), ("moc.AB\\u0000O.1", "is nan, ")]


def test_json_problems_walk_any_depth_without_recursion() -> None:
    deep: Any = "\x00"
    for _ in range(5000):
        deep = [deep]
    [problem] = json_problems(deep)
    assert problem.field.count(".") == 4999


# The completion body ------------------------------------------------------------------------------------------------


def completion_errors(body: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        Completion.model_validate(body)
    return [(e["loc"], e["msg"]) for e in raised.value.errors()]


def test_the_completion_refuses_what_cannot_be_kept_naming_the_field() -> None:
    assert completion_errors({"cme": {"credits": float("inf")}}) == [
        (("cme", "credits"), "Value error, is not a finite number")]
    [(where, why)] = completion_errors({"first_name": "Har\x00per", "cme": {}})
    assert where == ("first_name",) and "NUL" in why
    [(where, why)] = completion_errors({"last_name": "x" * 3000, "cme": {}})
    assert where == ("last_name",) and "at most 100" in why
    [(where, _)] = completion_errors({"moc": [{"board": "ABIM"}] * (MAX_MOC_ENTRIES + 1)})
    assert where == ("moc",)
    types = {f"type {i}": 1 for i in range(MAX_CREDIT_TYPES + 1)}
    [(where, _)] = completion_errors({"moc": [{"board": "ABIM", "credit_types": types}]})
    assert where == ("moc", 0, "credit_types")


def test_the_completion_still_takes_wrong_but_keepable_values_for_validation_to_judge() -> None:
    body = Completion.model_validate({"dob": "not a date", "cme": {"credits": "lots", "state": "Atlantis"},
                                      "moc": [{"board": "XYZ", "credits": 1e300}]})
    assert body.cme is not None
    assert (body.dob, body.cme.credits) == ("not a date", "lots")


# Requests answered without servers: parameters, bodies, the OpenAPI document ----------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # No lifespan: nothing here may reach the pool or Kafka, since every check runs before them.
    yield TestClient(build(Settings(_env_file=None)), raise_server_exceptions=False)


@pytest.mark.parametrize(("path", "parameter"), [
    ("/v1/records?name=%00", "name"), ("/v1/records?status=%00", "status"),
    ("/v1/records?activity_id=a%00", "activity_id"), ("/v1/records?learner_id=%00", "learner_id"),
    ("/v1/records?board=%00", "board"), ("/v1/records?format=csv&name=%00", "name"),
    ("/v1/records?format=xlsx&name=%00", "name"), ("/v1/activities?q=%00", "q"), ("/v1/activities/%00", "activity_id"),
    ("/v1/ops/streams/%00/tail", "topic"), ("/v1/records?name=%1b", "name"),
])
def test_a_parameter_postgresql_cannot_keep_is_a_422_naming_it(client: TestClient, path: str, parameter: str) -> None:
    answer = client.get(path, headers={"Authorization": "Bearer whatever"})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and parameter in error["message"]
    assert error["details"][0]["field"] == parameter


def test_a_body_over_the_routes_limit_is_a_413_declared_or_streamed(client: TestClient) -> None:
    body = b'{"first_name": "' + b"x" * COMPLETION_BODY_BYTES + b'"}'
    declared = client.post("/v1/completions", content=body, headers={"Content-Type": "application/json"})
    streamed = client.post("/v1/completions", content=iter([body[:1000], body[1000:]]),
                           headers={"Content-Type": "application/json"})
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "body_too_large"
        assert f"{COMPLETION_BODY_BYTES:,} bytes" in answer.json()["error"]["message"]


def test_a_streamed_body_within_the_limit_reaches_the_route_whole() -> None:
    echo = FastAPI()
    echo.add_middleware(BodyLimit)

    @echo.post("/v1/completions")
    async def count(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    chunks = [b"x" * 1000] * (COMPLETION_BODY_BYTES // 1000)
    answer = TestClient(echo).post("/v1/completions", content=iter(chunks))
    assert answer.json() == {"bytes": len(chunks) * 1000}


def test_the_openapi_document_states_the_limits(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "64 KiB" in document["info"]["description"] and "413" in document["paths"]["/v1/activities"]["post"][
        "responses"]
    schemas = document["components"]["schemas"]
    completion = schemas["Completion"]["properties"]
    assert completion["last_name"]["anyOf"][0]["maxLength"] == 100
    assert completion["moc"]["maxItems"] == MAX_MOC_ENTRIES
    assert schemas["MocClaim"]["properties"]["credit_types"]["maxProperties"] == MAX_CREDIT_TYPES
    page = next(p for p in client.get("/openapi.json").json()["paths"]["/v1/records"]["get"]["parameters"]
                if p["name"] == "page")
    assert page["schema"]["maximum"] == 1_000_000


# Operators, activities, downloads, XML ---------------------------------------------------------------------------


def test_a_replay_before_the_epoch_is_refused_naming_since() -> None:
    with pytest.raises(ValidationError) as raised:
        ReplayRequest.model_validate({"since": "1969-12-31T00:00:00Z"})
    assert raised.value.errors()[0]["loc"] == ("since",)
    assert ReplayRequest.model_validate({"since": "1970-01-01T00:00:00"}).since.year == 1970


def test_another_providers_activity_id_is_refused_without_naming_its_owner() -> None:
    from fastapi.responses import JSONResponse
    taken = JSONResponse({"error": {"code": "activity_taken", "message": "Activity ID 310000001 is registered by "
                                    "another provider.", "details": []}}, status_code=409)
    answer = as_provider_sees_it(taken, "310000001")
    body = json.loads(bytes(answer.body))
    assert answer.status_code == 422 and body["error"]["code"] == "invalid_activity"
    assert body["error"]["details"][0]["field"] == "id" and "another provider" not in bytes(answer.body).decode()


@pytest.mark.parametrize(("upload", "fallback", "real"), [
    ("тест-rejections.txt", "rejections.txt", "тест-rejections.txt"),
    ("тест.txt", "download.txt", "тест.txt"),
    ("Café résumé.xlsx", "Cafe resume.xlsx", "Café résumé.xlsx"),
    ("../../etc/passwd-rejections.txt", "passwd-rejections.txt", None),
    ('C:\\Users\\me\\a"b;\r\nX-Evil: 1.txt', "a_b;__X-Evil_ 1.txt", 'a_b;__X-Evil_ 1.txt'),
    ("records.csv", "records.csv", None),
])
def test_a_download_names_its_file_in_ascii_and_in_rfc_6266_utf_8(upload: str, fallback: str,
                                                                 real: str | None) -> None:
    header = content_disposition(upload)
    header.encode("latin-1")  # a header the server can send
    assert header.startswith(f'attachment; filename="{fallback}"')
    if real is None:
        assert "filename*" not in header
    elif real != fallback:
        assert unquote(header.split("filename*=UTF-8''")[1]) == real
    assert "\r" not in header and "\n" not in header and "/" not in unquote(header)


def test_a_file_name_is_a_name_not_a_path() -> None:
    assert safe_file_name("..\\..\\x.txt") == "x.txt"
    assert safe_file_name("\x00\x01", default="upload") == "__"
    assert safe_file_name("..", default="upload") == "upload"


def test_an_undeclared_namespace_prefix_on_the_root_is_a_whole_file_error() -> None:
    with pytest.raises(BatchFileError) as raised:
        read_activity_report(b"<ar:ActivityReports><ar:ActivityReport/></ar:ActivityReports>",
                             provider_id="0008001", batch_id=uuid4())
    assert raised.value.code == "not_well_formed" and "prefix 'ar'" in raised.value.message


def test_a_batch_row_with_an_unkeepable_value_refuses_the_file_naming_row_and_field() -> None:
    rows = [SourceRow(number=n, cells=[], records=[RowRecord(record(last_name=name))])
            for n, name in ((2, "Benton"), (3, "x" * 3000))]
    with pytest.raises(BatchFileError) as raised:
        refuse_unkeepable(ParsedBatch(format=FileFormat.TXT, layout=Layout.TEMPLATE_B, rows=rows))
    assert raised.value.message.startswith("Row 3: last_name holds 3,000 characters")


def test_an_xlsx_cell_spelt_with_an_escaped_control_character_refuses_the_file() -> None:
    from intake.batch_files.read import parse
    from intake.batch_files.tests.hostile import xlsx_bytes
    header = ["Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID", "First Name",
              "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
              "Activity Certification (1st)", "Notes"]
    row = ["Learner Template B", "ABOHNS", "210000041", "ABOHNS", "1", "Harper", "Benton", "11/11", "11/2/2021", "Add",
           "1", "Self-Assessment", "note_x0001_"]  # OOXML's escape: readers give back U+0001
    with pytest.raises(BatchFileError) as raised:
        parse("learners.xlsx", xlsx_bytes([header, row]), "0008001", uuid4())
    assert raised.value.message.startswith("Row 2, column 13: the cell holds the control character U+0001")


@pytest.mark.parametrize(("body", "says"), [
    (b"[" * 30_000 + b"]" * 30_000, "nests"), (b'{"cme": {"credits": ' + b"9" * 5000 + b"}}", "4,300 digits"),
    (b'{"cme": {}, "first_name": "\xff\xfe"}', "not UTF-8"),
])
def test_a_body_json_cannot_read_is_a_400_saying_why(client: TestClient, body: bytes, says: str) -> None:
    answer = client.post("/v1/completions", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unreadable_body" and says in answer.json()["error"]["message"]
