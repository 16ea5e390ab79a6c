"""Issue 11's input defects through the real stack: each request that answered 500 (or 202 and then lost the record)
now answers a clear 4xx naming the field or parameter, nothing of it is kept, and nothing reaches a dead-letter
topic."""

import json
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest

from intake.batch_files.tests.activity_reports import activity_report_xml
from shared.limits import COMPLETION_BODY_BYTES, MAX_MOC_ENTRIES
from tests.e2e.conftest import Stack
from tests.e2e.worlds import one_activity_world

pytestmark = pytest.mark.e2e
P = "0009301"
ACTIVITY = "210009301"
WORLD = one_activity_world(P, "Hostile Input Medical", "cme@hostile.example", ACTIVITY)
TEMPLATE_B = ["Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID", "First Name",
              "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
              "Activity Certification (1st)"]
PREFIXED = b"<ar:ActivityReports><ar:ActivityReport/></ar:ActivityReports>"


@pytest.fixture(scope="module")
def keys(stack: Stack) -> Iterator[dict[str, str]]:
    stack.load_world(WORLD)
    found = {"provider": stack.pars("provider", "key", P).stdout.strip(),
             "ws": stack.pars("provider", "key", P, "--web-service").stdout.strip(),
             "operator": stack.pars("operator", "key").stdout.strip()}
    assert all(found.values())
    yield found
    # Whatever was refused was refused before anything was kept: no service dead-lettered any of it.
    with stack.client(found["operator"]) as ops:
        assert ops.get("/v1/ops/dead-letters").json()["dead_letters"] == []
        assert ops.get("/readyz").status_code == 200


def completion(**changes: object) -> dict:
    return {"activity_id": ACTIVITY, "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
            "completion_date": "2021-11-02", "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 1,
                                                       "credit_types": {"Self-Assessment": 1}}], **changes}


def refused(answer: httpx.Response, status: int, *names: str) -> dict:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] and all(name in error["message"] for name in names), error
    return error


def txt_file(rows: list[list[str]]) -> bytes:
    return "\n".join("\t".join(row) for row in [TEMPLATE_B, *rows]).encode()


def template_row(last_name: str = "Benton", activity: str = ACTIVITY) -> list[str]:
    return ["Learner Template B", "ABOHNS", activity, "ABOHNS", "19927", "Harper", last_name, "11/11", "11/2/2021",
            "Add", "1", "Self-Assessment"]


def test_pages_past_the_limit_are_a_422_naming_the_parameter(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["provider"]) as api:
        for path in ("/v1/records", "/v1/activities", "/v1/batches"):
            refused(api.get(path, params={"page": "99999999999999999999"}), 422, "page", "1000000")
            refused(api.get(path, params={"per_page": "99999999999999999999"}), 422, "per_page")
            assert api.get(path, params={"page": 1_000_000}).json()["items"] == []


@pytest.mark.parametrize(("path", "params", "parameter"), [
    ("/v1/records", {"name": "\x00"}, "name"), ("/v1/records", {"status": "\x00"}, "status"),
    ("/v1/records", {"activity_id": "\x00"}, "activity_id"), ("/v1/records", {"learner_id": "\x00"}, "learner_id"),
    ("/v1/records", {"board": "\x00"}, "board"), ("/v1/records", {"format": "csv", "name": "\x00"}, "name"),
    ("/v1/records", {"format": "xlsx", "board": "AB\x00"}, "board"), ("/v1/activities", {"q": "\x00"}, "q"),
    ("/v1/activities", {"name": "\x00"}, "name"), ("/v1/activities/%00", {}, "activity_id"),
])
def test_a_nul_in_a_parameter_is_a_422_naming_it_and_no_download_starts(stack: Stack, keys: dict[str, str],
                                                                       path: str, params: dict, parameter: str) -> None:
    with stack.client(keys["provider"]) as api:
        answer = api.get(path, params=params)
        error = refused(answer, 422, parameter, "NUL")
        assert answer.headers["content-type"] == "application/json" and error["details"][0]["field"] == parameter


def test_a_completion_with_what_cannot_be_kept_is_refused_before_the_202(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["provider"]) as api:
        def post_raw(body: bytes) -> httpx.Response:
            return api.post("/v1/completions", content=body, headers={"Content-Type": "application/json"})

        refused(post_raw(json.dumps(completion()).replace('"Harper"', '"\\ud800"').encode()), 422, "first_name")
        refused(api.post("/v1/completions", json=completion(first_name="Har\x00per")), 422, "first_name", "NUL")
        refused(api.post("/v1/completions", json=completion(dob="\x00")), 422, "dob", "NUL")
        refused(api.post("/v1/completions", json=completion(last_name="B" * 3000)), 422, "last_name", "100")
        refused(api.post("/v1/completions", json=completion(moc=completion()["moc"] * (MAX_MOC_ENTRIES + 1))),
                422, "moc")
        refused(post_raw(json.dumps(completion()).replace('"credits": 1', '"credits": 1e309').encode()), 422,
                "moc.0.credits", "finite")
        refused(api.post("/v1/completions", json=completion(medical_school="x" * COMPLETION_BODY_BYTES)), 413,
                f"{COMPLETION_BODY_BYTES:,}")
        streamed = api.post("/v1/completions", content=iter([b'{"first_name": "', b"x" * COMPLETION_BODY_BYTES]),
                            headers={"Content-Type": "application/json"})
        refused(streamed, 413, "bytes")
        kept = api.post("/v1/completions", json=completion(), params={"wait": "true"})
        assert kept.status_code == 202, kept.text
        # Only the good one exists (the refused ones were never published: no dead letters, checked at the end).
        record_id = kept.json()["records"][0]["record_id"]
        assert [r["record_id"] for r in api.get("/v1/records").json()["items"]] in ([], [record_id])


def test_activities_and_learner_matching_refuse_infinite_numbers_and_nul(stack: Stack, keys: dict[str, str]) -> None:
    activity = b'{"id": "210009302", "title": "Course", "start_date": "2021-01-01", "end_date": "2021-02-01", ' \
               b'"cme_credits": 1e309}'
    with stack.client(keys["provider"]) as api:
        refused(api.post("/v1/activities", content=activity, headers={"Content-Type": "application/json"}), 422,
                "cme_credits", "finite")
        refused(api.post("/v1/activities", json={"id": "210009302", "title": "Co\x00urse"}), 422, "title", "NUL")
        refused(api.post("/v1/learners/match", json={"first_name": "Har\x00per", "last_name": "Benton"}), 422,
                "first_name")
        refused(api.post("/v1/learners/match", content=b'{"last_name": "Benton", "dob": 1e309}',
                         headers={"Content-Type": "application/json"}), 422, "dob", "finite")
        # A body of the wrong shape is validation's own 422, given in the API's shape without echoing the input.
        shape = refused(api.post("/v1/learners/match", json={"dob": [1, 2]}), 422, "dob")
        assert shape["code"] == "invalid_request" and "[1, 2]" not in json.dumps(shape)
        refused(api.post("/v1/activities", json={"id": "210009302", "moc": [1, 2]}), 422, "moc")
        assert api.post("/v1/learners/match", json={"first_name": "Harper", "last_name": "Benton",
                                                     "dob": "11/11"}).json()["matched"] is True


def test_xml_with_an_undeclared_prefix_is_a_422_on_every_channel(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["provider"]) as api:
        upload = api.post("/v1/batches", files={"file": ("prefixed.xml", PREFIXED)})
        error = refused(upload, 422, "prefix 'ar'", "not declared")
        history = api.get(f"/v1/batches/{upload.json()['batch_id']}").json()
        assert history["status"] == "failed" and "prefix 'ar'" in history["reason"]
        assert error["code"] == "not_well_formed"
        refused(api.post("/v1/batches", files={"file": ("prefixed.xml", PREFIXED)}, params={"dry_run": "true"}), 422,
                "prefix 'ar'")
    with stack.client(keys["ws"]) as ws:
        refused(ws.post("/v1/ws/activity-reports", content=PREFIXED, headers={"Content-Type": "application/xml"}),
                422, "prefix 'ar'")


def test_batch_files_and_web_services_refuse_values_that_cannot_be_kept_naming_row_and_field(
        stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["provider"]) as api:
        upload = api.post("/v1/batches", files={"file": ("long.txt", txt_file([template_row(),
                                                                              template_row("B" * 300)]))})
        refused(upload, 422, "Row 3", "last_name", "300 characters")
        assert api.get(f"/v1/batches/{upload.json()['batch_id']}").json()["status"] == "failed"
    report = {"activity_id": ACTIVITY, "credit_id": "ccid:hostile.example:1", "first_name": "Harper",
              "last_name": "B" * 300, "dob": "11/11", "completion_date": "2021-11-02", "board": "ABOHNS",
              "board_id": "19927", "credits": "1", "credit_types": {"Self-Assessment": "1"}}
    with stack.client(keys["ws"]) as ws:
        refused(ws.post("/v1/ws/activity-reports", content=activity_report_xml([report]),
                        headers={"Content-Type": "application/xml"}), 422, "ActivityReport 1", "last_name")
        as_json = {"activity_reports": [{**completion(credit_id="ccid:hostile.example:2"), "first_name": "Har\x00"}]}
        refused(ws.post("/v1/ws/activity-reports", json=as_json), 422, "activity_reports.0.first_name", "NUL")


def test_a_replay_before_1970_is_a_422_naming_since(stack: Stack, keys: dict[str, str]) -> None:
    with stack.client(keys["operator"]) as ops:
        refused(ops.post("/v1/ops/replay/board-responses", json={"since": "1969-12-31T00:00:00Z"}), 422, "since",
                "1970")


def test_downloads_of_a_file_named_in_cyrillic_carry_its_name_in_rfc_6266_form(stack: Stack,
                                                                               keys: dict[str, str]) -> None:
    with stack.client(keys["provider"]) as api:
        upload = api.post("/v1/batches", files={"file": ("тест.txt", txt_file([template_row(),
                                                                              template_row(activity="999999999")]))})
        assert upload.status_code == 202, upload.text
        batch_id = upload.json()["batch_id"]
        stack.wait_for(lambda: api.get(f"/v1/batches/{batch_id}").json()["status"] == "complete", timeout=60)
        for kind in ("rejections", "successes"):
            answer = api.get(f"/v1/batches/{batch_id}/{kind}")
            assert answer.status_code == 200, answer.text
            disposition = answer.headers["content-disposition"]
            assert disposition.startswith(f'attachment; filename="{kind}.txt"'), disposition
            assert urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1]) == f"тест-{kind}.txt"
        assert len(answer.content.splitlines()) == 2  # the header and the one good row
        download = api.get("/v1/records", params={"format": "csv"})
        assert download.headers["content-disposition"] == 'attachment; filename="records.csv"'
