"""The hostile-input corpus: each case is one exact HTTP request to intake and what must hold of its answer.

A case is REFUSED (a 4xx carrying `{"error": {"message": ...}}`), ACCEPTED (a 2xx, and its `check` says what
was kept is right), or EITHER (both are legitimate answers; a 2xx must pass the check). Never a 5xx, never a
hang. Cases that carry a credit ID and are refused must have kept nothing (test_hostile_inputs sweeps the
records at the end), so a submission is all or nothing.

The 68 hostile batch files of intake's unit tests are included by import (hostile.py, hostile_xml.py); the
XML ones are also sent to the web service.
"""

import csv
import io
import json
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openpyxl

from intake.batch_files.tests.activity_reports import activity_report_xml
from intake.batch_files.tests.hostile import TEMPLATE_B, hostile_tabular_files, txt_bytes, xlsx_bytes
from intake.batch_files.tests.hostile_xml import hostile_xml_files
from tests.e2e.conftest import Stack
from tests.hostile.world import ACTIVITY_A, ACTIVITY_B, BOARD, BOARD_ID, completion, credit_id, report

REFUSED, ACCEPTED, EITHER = "refused", "accepted", "either"
BOUNDARY = "hostile-7d1f0c"
MB = 1024 * 1024


@dataclass
class Probe:
    """What a case's check can use: the stack and the keys by role (a, b, operator, ws)."""

    stack: Stack
    keys: dict[str, str]

    def client(self, role: str = "a") -> httpx.Client:
        return self.stack.client(self.keys[role])


Check = Callable[[Probe, httpx.Response], None]


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # sent as written, query string and percent-escapes included
    body: bytes | Callable[[], bytes] = b""
    headers: dict[str, str | bytes] = field(default_factory=dict)
    key: str = "a"  # whose key goes in 'Authorization: Bearer': a | b | operator | ws | none (no header)
    expect: str = REFUSED
    status: int | None = None  # the exact status, where only one is right
    says: str | None = None  # text the error message contains
    check: Check | None = None  # run on a 2xx (and on a refusal, for cases that say so with check_refusal)
    check_refusal: bool = False
    # Refused by the HTTP server before the app sees it: any 4xx without a JSON body, or the connection closed
    # (a server cannot answer a request whose head it refuses to read to the end).
    protocol_level: bool = False
    credit_id: str | None = None  # refused: nothing under this credit ID may be kept

    def content(self) -> bytes:
        return self.body() if callable(self.body) else self.body


# --- request builders ----------------------------------------------------------------------------------------


def get(case_id: str, path: str, **kw: Any) -> Case:
    return Case(case_id, "GET", path, **kw)


def post_raw(case_id: str, path: str, body: bytes | Callable[[], bytes], content_type: str = "application/json",
             **kw: Any) -> Case:
    headers = {"Content-Type": content_type, **kw.pop("headers", {})}
    return Case(case_id, "POST", path, body, headers, **kw)


def post_json(case_id: str, path: str, body: Any, **kw: Any) -> Case:
    """`body` is serialised here (a callable is called first): lone surrogates go as \\uXXXX escapes, as a
    hostile client sends them."""
    if callable(body):
        make = body
        return post_raw(case_id, path, lambda: json.dumps(make()).encode(), **kw)
    return post_raw(case_id, path, json.dumps(body).encode(), **kw)


def completion_case(case_id: str, expect: str = REFUSED, **changes: Any) -> Case:
    """A completion of provider A with `changes`; refused ones must keep nothing of their credit ID. Sent with
    wait=true, so an accepted one's answer carries each record's status once validation decided."""
    kw: dict[str, Any] = {"says": changes.pop("says", None)}
    check = changes.pop("check", None) or kept_as_sent({k: v for k, v in changes.items() if k in NAME_FIELDS})
    if expect == REFUSED:
        kw["credit_id"] = credit_id(case_id)
    else:
        kw["check"] = check
    return post_json(case_id, "/v1/completions?wait=true", completion(case_id, **changes), expect=expect, **kw)


def multipart(file_name: bytes | None, content: bytes, field_name: bytes = b"file") -> tuple[bytes, dict[str, str]]:
    """A multipart body written by hand, so file names can be any bytes (NUL, invalid UTF-8, CRLF)."""
    disposition = b'form-data; name="' + field_name + b'"'
    if file_name is not None:
        disposition += b'; filename="' + file_name + b'"'
    body = (f"--{BOUNDARY}\r\n".encode() + b"Content-Disposition: " + disposition + b"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + content + f"\r\n--{BOUNDARY}--\r\n".encode())
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def upload(case_id: str, file_name: bytes | str | None, content: bytes | Callable[[], bytes],
           path: str = "/v1/batches", field_name: bytes = b"file", **kw: Any) -> Case:
    name = file_name.encode() if isinstance(file_name, str) else file_name
    _, headers = multipart(name, b"")

    def body() -> bytes:
        return multipart(name, content() if callable(content) else content, field_name)[0]
    return Case(case_id, "POST", path, body, dict(headers), **kw)


def ws_xml(case_id: str, body: bytes | Callable[[], bytes], **kw: Any) -> Case:
    return post_raw(case_id, "/v1/ws/activity-reports", body, "application/xml", key=kw.pop("key", "ws"), **kw)


def ws_json(case_id: str, body: Any, **kw: Any) -> Case:
    return post_json(case_id, "/v1/ws/activity-reports", body, key=kw.pop("key", "ws"), **kw)


# --- checks of what was kept ---------------------------------------------------------------------------------


def _answered_records(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("record_id"), str) and "status" in value:
            yield value
        else:
            for v in value.values():
                yield from _answered_records(v)
    elif isinstance(value, list):
        for v in value:
            yield from _answered_records(v)


def records_visible(probe: Probe, answer: httpx.Response) -> None:
    """Whatever was answered 2xx reaches a status the provider can see (no silent loss): either the answer
    itself says 'Rejected by PARS' with its codes (such records are never listed), or the record is listed."""
    records = list(_answered_records(answer.json()))
    assert records, f"a 2xx answer named no record: {answer.text[:300]}"
    with probe.client() as api:
        for record in records:
            if record["status"] == "Rejected by PARS" and record["errors"]:
                continue
            probe.stack.wait_for(lambda r=record["record_id"]: api.get(f"/v1/records/{r}").status_code == 200,
                                 timeout=30)


NAME_FIELDS = ("first_name", "last_name")


def kept_as_sent(names: dict[str, str]) -> Check:
    """records_visible, and each listed record keeps the names as sent (or as their NFC form)."""

    def check(probe: Probe, answer: httpx.Response) -> None:
        records_visible(probe, answer)
        with probe.client() as api:
            for record in _answered_records(answer.json()):
                if record["status"] == "Rejected by PARS":
                    continue
                kept = api.get(f"/v1/records/{record['record_id']}").json()
                for name, sent in names.items():
                    assert kept[name] in (sent, unicodedata.normalize("NFC", sent)), (name, kept[name], sent)
    return check


def empty_listing(_: Probe, answer: httpx.Response) -> None:
    assert answer.json()["items"] == [], answer.text[:300]


def listing_answered(_: Probe, answer: httpx.Response) -> None:
    assert isinstance(answer.json()["items"], list), answer.text[:300]


def whole_csv(_: Probe, answer: httpx.Response) -> None:
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8"))))
    assert rows and rows[0][0] == "Record ID" and all(len(r) == len(rows[0]) for r in rows), answer.text[:300]


def whole_xlsx(_: Probe, answer: httpx.Response) -> None:
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    assert next(book.active.iter_rows(values_only=True))[0] == "Record ID"


def replay_answered(_: Probe, answer: httpx.Response) -> None:
    assert isinstance(answer.json()["replayed"], int), answer.text[:300]


def match_answered(_: Probe, answer: httpx.Response) -> None:
    assert isinstance(answer.json()["matched"], bool), answer.text[:300]


def activity_kept(_: Probe, answer: httpx.Response) -> None:
    body = answer.json()
    assert body.get("id") and body.get("title") is not None, answer.text[:300]


def _settled(probe: Probe, answer: httpx.Response) -> dict[str, Any]:
    batch_id = answer.json()["batch_id"]
    with probe.client() as api:
        return probe.stack.wait_for(
            lambda: (b := api.get(f"/v1/batches/{batch_id}").json())["status"] != "processing" and b, timeout=60)


def _download_name_is_safe(response: httpx.Response) -> None:
    disposition = response.headers.get("content-disposition", "")
    assert disposition.startswith("attachment"), disposition
    for bad in ("/", "\\", "\r", "\n", "\x00", ".."):
        assert bad not in disposition, (bad, disposition)
    assert "x-injected" not in response.headers


def outcome_files_download(probe: Probe, answer: httpx.Response) -> None:
    """Both outcome files of the batch download (RFC 6266 names for any file name), named harmlessly."""
    batch = _settled(probe, answer)
    assert batch["status"] == "complete", batch
    with probe.client() as api:
        for kind in ("rejections", "successes"):
            got = api.get(f"/v1/batches/{batch['batch_id']}/{kind}")
            assert got.status_code == 200, (kind, got.status_code, got.text[:300])
            _download_name_is_safe(got)
            disposition = got.headers["content-disposition"]
            if not batch["file_name"].isascii():
                assert "filename*=UTF-8''" in disposition, disposition


FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1,1)", "=HYPERLINK(\"http://x\")"]


def formula_rows() -> list[list[str]]:
    """Template B rows that PARS rejects (unknown activity 999999999), their cells starting like formulas."""
    base = ["Learner Template B", BOARD, "999999999", BOARD, BOARD_ID, "Harper", "Benton", "11/11", "11/2/2021",
            "Add", "1", "Self-Assessment", "", "", "", "", ""]
    rows = []
    for formula in FORMULAS:
        row = list(base)
        row[5], row[6], row[13] = formula, formula, formula
        rows.append(row)
    return rows


def formulas_neutralised(probe: Probe, answer: httpx.Response) -> None:
    """Every cell of the rejection file that starts like a formula is shown, not run: a leading apostrophe
    (CSV/TSV injection), and no formula cells in a workbook."""
    batch = _settled(probe, answer)
    assert batch["rejected"] >= len(FORMULAS), batch
    with probe.client() as api:
        got = api.get(f"/v1/batches/{batch['batch_id']}/rejections")
    assert got.status_code == 200, got.text[:300]
    if batch["format"] == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(got.content))
        cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
        assert not [c.coordinate for c in cells if c.data_type == "f"], "formula cells in a rejection file"
        values = [str(c.value) for c in cells]
    else:
        values = [v for row in csv.reader(io.StringIO(got.content.decode("utf-8-sig")), delimiter="\t") for v in row]
        for formula in FORMULAS:
            assert "'" + formula in values, (formula, values)
    assert not [v for v in values if v[:1] in ("=", "+", "-", "@", "\t", "\r")], values


def download_neutralised(probe: Probe, answer: httpx.Response) -> None:
    """A record whose names start like formulas comes back neutralised in the CSV download."""
    records_visible(probe, answer)
    with probe.client() as api:
        got = api.get("/v1/records", params={"format": "csv", "activity_id": ACTIVITY_A})
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8"))))
    mine = [r for r in rows if credit_id("formula-names-completion") in r]
    assert mine, "the record is not in the download"
    assert all(v[:1] not in ("=", "+", "-", "@") for r in rows for v in r), mine


def activity_not_revealed(probe: Probe, answer: httpx.Response) -> None:
    """Registering another provider's activity ID answers as for an ID nobody holds: nothing confirms it exists,
    and the activity stays its owner's, unchanged."""
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["code"] != "activity_taken" and "another provider" not in error["message"], error
    with probe.client("b") as api:
        theirs = api.get(f"/v1/activities/{ACTIVITY_B}")
    assert theirs.status_code == 200 and theirs.json()["title"] == "Airway course", theirs.text[:300]


# --- the corpus ------------------------------------------------------------------------------------------------

HUGE_PAGE = "99999999999999999999"
NUL = "%00"


def paging() -> list[Case]:
    listings = ("/v1/records", "/v1/activities", "/v1/batches")
    cases = [get(f"page-huge{p.replace('/', '-')}", f"{p}?page={HUGE_PAGE}", expect=EITHER, check=empty_listing)
             for p in listings]
    cases += [get(f"page-bigint-max{p.replace('/', '-')}", f"{p}?page=9223372036854775807", expect=EITHER,
                  check=empty_listing) for p in listings]
    cases += [
        get("page-offset-overflow", "/v1/records?page=9223372036854775&per_page=1000", expect=EITHER,
            check=empty_listing),
        get("page-zero", "/v1/records?page=0", status=422),
        get("page-negative", "/v1/activities?page=-1", status=422),
        get("page-float", "/v1/batches?page=1e3", status=422),
        get("page-nan", "/v1/records?page=NaN", status=422),
        get("per-page-huge", f"/v1/records?per_page={HUGE_PAGE}", status=422),
        get("ops-limit-huge", f"/v1/ops/dead-letters?limit={HUGE_PAGE}", key="operator", status=422),
    ]
    return cases


def nul_in_filters() -> list[Case]:
    cases = [get(f"nul-records-{name}", f"/v1/records?{name}={NUL}", expect=EITHER, check=empty_listing)
             for name in ("name", "status", "activity_id", "learner_id", "board", "sort")]
    cases += [
        get("nul-activities-q", f"/v1/activities?q={NUL}", expect=EITHER, check=empty_listing),
        get("nul-activities-name", f"/v1/activities?name=Har{NUL}per", expect=EITHER, check=empty_listing),
        get("nul-activities-board", f"/v1/activities?board={NUL}", expect=EITHER, check=empty_listing),
        get("nul-activity-path", f"/v1/activities/{NUL}"),
        get("nul-activity-path-inside", f"/v1/activities/2100{NUL}07101"),
        get("nul-records-csv", f"/v1/records?format=csv&name={NUL}", expect=EITHER, check=whole_csv),
        get("nul-records-xlsx", f"/v1/records?format=xlsx&name={NUL}", expect=EITHER, check=whole_xlsx),
        get("nul-record-path", f"/v1/records/{NUL}", status=422),
        get("invalid-utf8-filter", "/v1/records?name=%FF%FE", expect=EITHER, check=empty_listing),
        get("overlong-utf8-filter", "/v1/records?name=%C0%AF", expect=EITHER, check=empty_listing),
        get("lone-surrogate-filter", "/v1/records?name=%ED%A0%80", expect=EITHER, check=empty_listing),
        get("nul-ops-tail", f"/v1/ops/streams/{NUL}/tail", key="operator"),
        get("dot-dot-ops-tail", "/v1/ops/streams/..%2F..%2Fetc%2Fpasswd/tail", key="operator"),
        get("nul-ops-dead-letters", f"/v1/ops/dead-letters?service={NUL}", key="operator", status=422),
    ]
    return cases


def sizes_and_limits() -> list[Case]:
    big = "x" * (MB + 100 * 1024)  # over Kafka's 1 MB message size
    return [
        completion_case("first-name-1mb", first_name=big),
        completion_case("moc-100000-credit-types", moc=[
            {"board": BOARD, "board_id": BOARD_ID, "credits": 8,
             "credit_types": {f"Type {n}": 1 for n in range(100_000)}}]),
        completion_case("moc-5000-entries", moc=[{"board": BOARD, "board_id": BOARD_ID, "credits": 1}] * 5000),
        completion_case("rems-1000-entries", rems=[{"program": "OPIOID", "profession": "MD",
                                                    "time_in_practice": "1"}] * 1000),
        completion_case("last-name-3000", last_name="B" * 3000, says="last_name"),
        completion_case("first-name-10000", first_name="H" * 10_000, says="first_name"),
        completion_case("activity-id-10000", activity_id="2" * 10_000),
        completion_case("credit-id-100000", credit_id="c" * 100_000),
        completion_case("npi-10000", npi="1" * 10_000),
        completion_case("license-id-10000", cme={"credits": 8, "state": "CA", "license_id": "A" * 10_000}),
        completion_case("board-10000", moc=[{"board": "B" * 10_000, "board_id": BOARD_ID, "credits": 8}]),
        completion_case("credit-type-name-10000", moc=[{"board": BOARD, "board_id": BOARD_ID, "credits": 8,
                                                        "credit_types": {"S" * 10_000: 8}}]),
        post_json("body-21mb", "/v1/completions", lambda: completion("body-21mb", medical_school="m" * (21 * MB)),
                  credit_id=credit_id("body-21mb")),
        ws_json("ws-first-name-1mb", {"activity_reports": [completion("ws-first-name-1mb", first_name=big)]},
                credit_id=credit_id("ws-first-name-1mb")),
        ws_json("ws-6000-reports", lambda: {"activity_reports": [completion(f"ws6k-{n}") for n in range(6000)]}),
        post_json("activity-title-1mb", "/v1/activities", {"id": "210007199", "title": big,
                                                            "start_date": "2021-01-01", "end_date": "2021-11-30"}),
        post_json("activity-100000-boards", "/v1/activities", {
            "id": "210007198", "title": "Many boards", "start_date": "2021-01-01", "end_date": "2021-11-30",
            "moc": {f"B{n}": ["Self-Assessment"] for n in range(100_000)}}),
        post_json("match-name-1mb", "/v1/learners/match", {"first_name": big, "last_name": "Benton"},
                  expect=EITHER, check=match_answered),
    ]


LONE_SURROGATES = {"high": "\ud800", "low": "\udfff", "high-emoji-half": "\ud83d"}


def unicode_in_fields() -> list[Case]:
    cases = [completion_case(f"surrogate-{name}-first-name", first_name=f"Har{char}per")
             for name, char in LONE_SURROGATES.items()]
    cases += [
        completion_case("surrogate-last-name", last_name="\udfffBenton"),
        completion_case("surrogate-dob", dob="\ud800"),
        completion_case("surrogate-activity-id", activity_id="\ud800"),
        completion_case("surrogate-credit-type", moc=[{"board": BOARD, "board_id": BOARD_ID, "credits": 8,
                                                       "credit_types": {"\ud800": 8}}]),
        completion_case("nul-first-name", first_name="Har\u0000per", says="first_name"),
        completion_case("nul-dob", dob="\u0000", says="dob"),
        completion_case("nul-last-name", last_name="Ben\u0000ton", says="last_name"),
        completion_case("nul-credit-id", credit_id="ccid:\u0000"),
        completion_case("nul-npi", npi="\u0000"),
        completion_case("nul-completion-date", completion_date="2021-11-02\u0000"),
        completion_case("nul-action", action="Add\u0000"),
        completion_case("nul-license-id", cme={"credits": 8, "state": "CA", "license_id": "A1\u00002345"}),
        completion_case("nul-board-id", moc=[{"board": BOARD, "board_id": "199\u000027", "credits": 8}]),
        completion_case("nul-credit-type", moc=[{"board": BOARD, "board_id": BOARD_ID, "credits": 8,
                                                 "credit_types": {"Self\u0000Assessment": 8}}]),
        completion_case("nul-rems-learner-id", rems=[{"program": "OPIOID", "learner_id": "\u0000",
                                                      "profession": "MD", "time_in_practice": "1"}]),
        # Odd but printable text is a name a provider may send: kept, and then visible with its status.
        completion_case("rtl-override-name", EITHER, first_name="\u202eHarper"),
        completion_case("zero-width-name", EITHER, first_name="Har\u200b\u200c\u200dper\ufeff"),
        completion_case("combining-flood-name", EITHER, last_name="B" + "\u0301" * 5000),
        completion_case("non-characters-name", EITHER, first_name="Harper\ufffe\uffff\U0010ffff"),
        completion_case("control-chars-name", EITHER, first_name="Harper\x07\x1b[31m\x7f"),
        completion_case("emoji-name", EITHER, first_name="Harper \U0001f469\u200d\u2695\ufe0f"),
        completion_case("decomposed-name", EITHER, last_name="Ben\u0301ton"),
        post_raw("invalid-utf8-body", "/v1/completions",
                 json.dumps(completion("invalid-utf8-body")).encode().replace(b"Harper", b"Har\xff\xfeper"),
                 credit_id=credit_id("invalid-utf8-body")),
        post_raw("overlong-utf8-body", "/v1/completions",
                 json.dumps(completion("overlong-utf8-body")).encode().replace(b"Harper", b"Har\xc0\xafper"),
                 credit_id=credit_id("overlong-utf8-body")),
        post_raw("cesu-surrogate-bytes-body", "/v1/completions",
                 json.dumps(completion("cesu-surrogate-bytes-body")).encode().replace(b"Harper", b"Har\xed\xa0\x80"),
                 credit_id=credit_id("cesu-surrogate-bytes-body")),
        ws_json("ws-surrogate-name", {"activity_reports": [completion("ws-surrogate-name", first_name="\ud800")]},
                credit_id=credit_id("ws-surrogate-name")),
        ws_json("ws-nul-name", {"activity_reports": [completion("ws-nul-name", first_name="Har\u0000per")]},
                credit_id=credit_id("ws-nul-name")),
        ws_xml("ws-xml-nul-char-ref", activity_report_xml([report("ws-xml-nul-char-ref", first_name="Harper")])
               .replace(b"Harper", b"Har&#0;per"), credit_id=credit_id("ws-xml-nul-char-ref")),
        ws_xml("ws-xml-surrogate-char-ref", activity_report_xml([report("ws-xml-surrogate-char-ref")])
               .replace(b"Harper", b"Har&#xD800;per"), credit_id=credit_id("ws-xml-surrogate-char-ref")),
        post_json("activity-surrogate-title", "/v1/activities",
                  {"id": "210007197", "title": "\ud800", "start_date": "2021-01-01", "end_date": "2021-11-30"}),
        post_json("activity-nul-id", "/v1/activities",
                  {"id": "2100\u000007196", "title": "T", "start_date": "2021-01-01", "end_date": "2021-11-30"}),
        post_json("match-nul-name", "/v1/learners/match", {"first_name": "Har\u0000per", "last_name": "Benton"}),
        post_json("match-surrogate-name", "/v1/learners/match", {"first_name": "\ud800", "last_name": "Benton"}),
    ]
    return cases


def numbers() -> list[Case]:
    activity = '{"id": "210007190", "title": "Numbers", "start_date": "2021-01-01", "end_date": "2021-11-30", '
    cases = [post_raw(f"activity-credits-{name}", "/v1/activities", (activity + f'"cme_credits": {literal}}}').encode())
             for name, literal in (("1e309", "1e309"), ("minus-1e309", "-1e309"), ("nan", "NaN"),
                                   ("infinity", "Infinity"), ("minus-infinity", "-Infinity"),
                                   ("10-pow-400", str(10**400)), ("string-1e309", '"1e309"'))]
    cases.append(post_raw("activity-credits-minus-zero", "/v1/activities",
                          (activity.replace("210007190", "210007191") + '"cme_credits": -0}').encode(),
                          expect=EITHER, check=activity_kept))

    def completion_with(case_id: str, literal: str) -> bytes:
        body = json.dumps(completion(case_id, cme={"credits": "CREDITS", "state": "CA", "license_id": "A12345"}))
        return body.replace('"CREDITS"', literal).encode()

    for name, literal in (("1e309", "1e309"), ("nan", "NaN"), ("infinity", "Infinity"), ("10-pow-400", str(10**400)),
                          ("1e-400", "1e-400")):
        case_id = f"completion-credits-{name}"
        cases.append(post_raw(case_id, "/v1/completions?wait=true", completion_with(case_id, literal), expect=EITHER,
                              check=records_visible))
    cases += [
        post_raw("match-dob-1e309", "/v1/learners/match", b'{"last_name": "Benton", "dob": 1e309}'),
        post_raw("match-dob-nan", "/v1/learners/match", b'{"last_name": "Benton", "dob": NaN}'),
        post_raw("match-npi-10-pow-400", "/v1/learners/match", f'{{"npi": {10**400}}}'.encode(), expect=EITHER,
                 check=match_answered),
        post_raw("ws-credits-infinity", "/v1/ws/activity-reports",
                 json.dumps({"activity_reports": [completion("ws-credits-infinity")]}).encode()
                 .replace(b'"credits": 8,', b'"credits": Infinity,', 1), key="ws", expect=EITHER,
                 check=records_visible),
    ]
    return cases


def json_shapes() -> list[Case]:
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    cases = [post_raw(f"deep-json{path.replace('/', '-')}", path, deep,
                      key="ws" if path.startswith("/v1/ws") else "a")
             for path in ("/v1/completions", "/v1/activities", "/v1/learners/match", "/v1/ws/activity-reports")]
    cases += [
        post_raw("deep-json-object-completions", "/v1/completions", deep_object),
        post_raw("deep-json-in-field", "/v1/completions",
                 b'{"activity_id": ' + deep + b', "cme": {"credits": 1}}'),
        post_raw("json-string-body", "/v1/completions", b'"a completion"', status=422),
        post_raw("json-array-body", "/v1/completions", b"[]", status=422),
        post_raw("json-null-body", "/v1/completions", b"null", status=422),
        post_raw("json-number-body", "/v1/completions", b"1e309", status=422),
        post_raw("truncated-json", "/v1/completions", b'{"activity_id": "2100', status=422),
        post_raw("no-target", "/v1/completions", b'{"activity_id": "210007101"}', status=422),
        post_raw("empty-body-completions", "/v1/completions", b"", status=422),
        post_raw("empty-body-activities", "/v1/activities", b"", status=422),
        post_raw("empty-body-match", "/v1/learners/match", b"", status=422),
        post_raw("empty-body-ws-json", "/v1/ws/activity-reports", b"", key="ws"),
        post_raw("empty-body-ws-xml", "/v1/ws/activity-reports", b"", "application/xml", key="ws"),
        post_raw("empty-body-replay", "/v1/ops/replay/board-responses", b"", key="operator", status=422),
        post_raw("match-array-body", "/v1/learners/match", b"[]", status=422),
        post_raw("activities-array-body", "/v1/activities", b"[]", status=422),
        ws_json("ws-zero-reports", {"activity_reports": []}, status=422),
        ws_json("ws-reports-not-list", {"activity_reports": {"a": 1}}, status=422),
    ]
    return cases


UNDECLARED_PREFIX = b"<ar:ActivityReports><ar:ActivityReport/></ar:ActivityReports>"


def xml_cases() -> list[Case]:
    cases = [
        upload("xml-undeclared-prefix-batch", "reports.xml", UNDECLARED_PREFIX),
        upload("xml-undeclared-prefix-dry-run", "reports.xml", UNDECLARED_PREFIX, path="/v1/batches?dry_run=true"),
        ws_xml("xml-undeclared-prefix-ws", UNDECLARED_PREFIX),
        ws_xml("xml-undeclared-attribute-prefix-ws", b'<ActivityReports xmlns="urn:x" q:a="1"/>'),
    ]
    # Every hostile Activity Report file of the unit tests, as a web-service body too.
    cases += [ws_xml(f"ws-{case_id}", content) for case_id, _, content, _ in hostile_xml_files()]
    return cases


def batch_files() -> list[Case]:
    """The unit tests' hostile files (included by import), uploaded as batches: each refused naming why."""
    return [upload(f"file-{case_id}", name, content, says=says)
            for case_id, name, content, says in hostile_tabular_files() + hostile_xml_files()]


def _good_txt() -> bytes:
    good = ["Learner Template B", BOARD, ACTIVITY_A, BOARD, BOARD_ID, "Harper", "Benton", "11/11", "11/2/2021",
            "Add", "1", "Self-Assessment", "", "", "", "", ""]
    return txt_bytes([TEMPLATE_B, good, formula_rows()[0]])


def file_names() -> list[Case]:
    accepted: dict[str, Any] = {"expect": ACCEPTED, "check": outcome_files_download}
    return [
        upload("name-cyrillic", "тест.txt", _good_txt, **accepted),
        upload("name-dot-dot", "../../etc/passwd.txt", _good_txt, **accepted),
        upload("name-absolute", "/etc/passwd.txt", _good_txt, **accepted),
        upload("name-windows-path", "C:\\Windows\\system32\\learners.txt", _good_txt, **accepted),
        upload("name-crlf-header-injection", 'a"\r\nX-Injected: 1\r\n.txt', _good_txt, expect=EITHER,
               check=outcome_files_download),
        upload("name-rtl-override", "learners\u202etxt.exe.txt", _good_txt, **accepted),
        upload("name-very-long", "n" * 5000 + ".txt", _good_txt, expect=EITHER, check=outcome_files_download),
        upload("name-nul", b"learners\x00.txt", _good_txt, expect=EITHER, check=outcome_files_download),
        upload("name-invalid-utf8", b"learners\xff\xfe.txt", _good_txt, expect=EITHER, check=outcome_files_download),
        upload("name-overlong-utf8", b"\xc0\xae\xc0\xae\xc0\xafpasswd.txt", _good_txt, expect=EITHER,
               check=outcome_files_download),
        upload("name-no-extension", "../../etc/passwd", _good_txt, says="file"),
        upload("name-empty", "", _good_txt),
        upload("no-file-name", None, _good_txt),
        upload("wrong-field-name", "learners.txt", _good_txt, field_name=b"upload"),
        post_raw("batch-json-body", "/v1/batches", b'{"file": "learners.txt"}'),
        post_raw("batch-empty-multipart", "/v1/batches", b"",
                 f"multipart/form-data; boundary={BOUNDARY}"),
        post_raw("batch-multipart-no-boundary", "/v1/batches", _good_txt, "multipart/form-data"),
        post_raw("batch-broken-multipart", "/v1/batches", f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
                 'name="file"; filename="a.txt"\r\n\r\nabc'.encode(), f"multipart/form-data; boundary={BOUNDARY}"),
        upload("formula-cells-txt", "formulas.txt", lambda: txt_bytes([TEMPLATE_B, *formula_rows()]),
               expect=ACCEPTED, check=formulas_neutralised),
        upload("formula-cells-xlsx", "formulas.xlsx", lambda: xlsx_bytes([TEMPLATE_B, *formula_rows()]),
               expect=ACCEPTED, check=formulas_neutralised),
        completion_case("formula-names-completion", ACCEPTED, first_name="=cmd|' /C calc'!A0",
                        last_name="@SUM(1,1)", check=download_neutralised),
    ]


def ops_cases() -> list[Case]:
    replay = "/v1/ops/replay/board-responses"
    return [
        post_json("replay-1969", replay, {"since": "1969-12-31T00:00:00Z"}, key="operator", expect=EITHER,
                  check=replay_answered),
        post_json("replay-year-1", replay, {"since": "0001-01-01T00:00:00Z"}, key="operator", expect=EITHER,
                  check=replay_answered),
        post_json("replay-year-9999", replay, {"since": "9999-12-31T23:59:59Z"}, key="operator", expect=EITHER,
                  check=replay_answered),
        post_raw("replay-1e309", replay, b'{"since": 1e309}', key="operator", status=422),
        post_raw("replay-10-pow-400", replay, f'{{"since": {10**400}}}'.encode(), key="operator", status=422),
        post_json("replay-nul", replay, {"since": "\u0000"}, key="operator", status=422),
        post_json("replay-provider-key", replay, {"since": "2021-01-01T00:00:00Z"}, status=403),
    ]


def headers_and_methods() -> list[Case]:
    key_of = "Bearer pars_000000000000_" + "x" * 43
    return [
        get("no-authorization", "/v1/records", key="none", status=401),
        get("auth-basic", "/v1/records", key="none", headers={"Authorization": "Basic dXNlcjpwYXNz"}, status=401),
        get("auth-bearer-blank-key", "/v1/records", key="none", headers={"Authorization": "Bearer  pars__"},
            status=401),
        get("auth-bearer-unknown", "/v1/records", key="none", headers={"Authorization": key_of}, status=401),
        get("auth-bearer-sql", "/v1/records", key="none",
            headers={"Authorization": "Bearer pars_' OR '1'='1_x"}, status=401),
        get("auth-bearer-nul-escape", "/v1/records", key="none", headers={"Authorization": "Bearer pars_%00_x"},
            status=401),
        get("auth-bearer-invalid-utf8", "/v1/records", key="none",
            headers={"Authorization": b"Bearer pars_\xff\xfe_x"}, status=401),
        # Refused either way: by the app (401) when its 60 KB head arrives in one read, by the HTTP server when it
        # arrives in pieces (an incomplete head over 16 KiB, shared/http_protocol.py, as h11): a loaded CI split it.
        get("auth-bearer-64kb", "/v1/records", key="none", headers={"Authorization": "Bearer " + "k" * 60_000},
            protocol_level=True),
        get("auth-scheme-only", "/v1/records", key="none", headers={"Authorization": "Bearer"}, status=401),
        get("ws-key-on-records", "/v1/records", key="ws", status=403),
        get("provider-key-on-ops", "/v1/ops/streams", status=403),
        post_raw("provider-key-on-ws", "/v1/ws/activity-reports", activity_report_xml([report("pk-on-ws")]),
                 "application/xml", status=403),
        get("huge-header", "/v1/records", headers={"X-Padding": "p" * 200_000}, protocol_level=True),
        get("huge-header-40kb", "/v1/records", headers={"X-Padding": "p" * 40_000}, protocol_level=True,
            expect=EITHER, check=listing_answered),
        get("many-headers", "/v1/records", headers={f"X-H{n}": "v" for n in range(2000)}, protocol_level=True,
            expect=EITHER, check=listing_answered),
        get("huge-url", "/v1/records?name=" + "n" * 60_000, protocol_level=True, expect=EITHER,
            check=empty_listing),
        Case("put-completions", "PUT", "/v1/completions", b"{}", status=405),
        Case("delete-batches", "DELETE", "/v1/batches", status=405),
        Case("patch-record", "PATCH", f"/v1/records/{uuid.uuid4()}", b"{}", status=405),
        Case("trace-records", "TRACE", "/v1/records", status=405),
        Case("made-up-method", "BREW", "/v1/records", status=405),
        get("unknown-route", "/v1/secrets", status=404),
        get("encoded-dot-dot", "/v1/%2e%2e/%2e%2e/etc/passwd", status=404),
        get("record-not-uuid", "/v1/records/not-a-uuid", status=422),
        get("batch-not-uuid", "/v1/batches/..%2F..%2Fetc"),
        post_raw("completion-as-text-plain", "/v1/completions", json.dumps(completion("text-plain")).encode(),
                 "text/plain", credit_id=credit_id("text-plain")),
        post_raw("completion-as-xml", "/v1/completions", activity_report_xml([report("as-xml")]), "application/xml",
                 status=422),
        post_raw("completion-as-form", "/v1/completions", b"activity_id=210007101", "application/x-www-form-urlencoded",
                 status=422),
        post_raw("completion-utf16-json", "/v1/completions?wait=true",
                 json.dumps(completion("utf16-json")).encode("utf-16"), "application/json; charset=utf-16",
                 expect=EITHER, check=records_visible),
        post_raw("ws-xml-body-as-json", "/v1/ws/activity-reports", activity_report_xml([report("xml-as-json")]),
                 key="ws", status=422),
        post_raw("ws-json-body-as-xml", "/v1/ws/activity-reports",
                 json.dumps({"activity_reports": [completion("json-as-xml")]}).encode(), "application/xml",
                 key="ws", status=422),
        post_raw("ws-text-plain", "/v1/ws/activity-reports", b"hello", "text/plain", key="ws", status=422),
    ]


def tenancy_writes() -> list[Case]:
    return [
        post_json("activity-taken", "/v1/activities", {"id": ACTIVITY_B, "title": "Taken over",
                                                       "start_date": "2021-01-01", "end_date": "2021-11-30"},
                  check=activity_not_revealed, check_refusal=True),
    ]


def all_cases() -> list[Case]:
    cases = (paging() + nul_in_filters() + sizes_and_limits() + unicode_in_fields() + numbers() + json_shapes()
             + xml_cases() + batch_files() + file_names() + ops_cases() + headers_and_methods() + tenancy_writes())
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return cases
