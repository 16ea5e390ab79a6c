"""Batch files through the real pipeline: 5,000-record uploads with a known mix of good and bad rows, exact
counts and exact codes per row in the rejection file, a corrected rejection file going through, the upload
history, deletes from batch rows, the learner validation tool, hostile files, and `pars upload`."""

import csv
import io
import signal
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from intake.batch_files.model import FileFormat
from intake.batch_files.tests.activity_reports import activity_report_xml
from intake.batch_files.tests.hostile import hostile_tabular_files
from intake.batch_files.tests.hostile_xml import hostile_xml_files
from pars_cli.demo_files import batch_file
from tests.e2e.conftest import Stack, start_stack, stop_services

pytestmark = pytest.mark.e2e
P, Q = "0009001", "0009002"
ACTIVITY = "210000031"
DELETES_ACTIVITY = "210000032"  # its own activity: the boards' point maximum is per learner and activity
BOARD = "ABOHNS"
DIPLOMATES = [(f"3000{i:03d}", f"First{i}", f"Last{i}", f"{(i % 12) + 1:02d}/{(i % 27) + 1:02d}") for i in range(60)]
WORLD = {
    "providers": [{"id": P, "name": "Batch Medical", "email": "cme@batch.example"},
                  {"id": Q, "name": "Other Medical", "email": "cme@other.example"}],
    "activities": [{"id": activity, "provider_id": P, "title": "Head and neck update", "start_date": "2021-01-01",
                    "end_date": "2021-11-30", "cme_credits": 8, "moc_credits": 8, "moc": {BOARD: ["Self-Assessment"]}}
                   for activity in (ACTIVITY, DELETES_ACTIVITY)],
    "physicians": [{"first_name": first, "last_name": last, "dob": dob, "licenses": [{"state": "CA", "id": f"A{bid}"}],
                    "certifications": [{"board": BOARD, "id": bid}]} for bid, first, last, dob in DIPLOMATES],
}
TEMPLATE_B = ["Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID", "First Name",
              "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
              "Activity Certification (1st)"]


def expected_code(i: int) -> str | None:
    """The known mix: 30% of the rows are wrong in one way each, the rest are good."""
    return {3: "690", 5: "622", 7: "675"}.get(i % 10)


def completion_date(i: int) -> date:
    # Row i is diplomate i % 60 on a day of its own: every i (each test takes its own range) is a distinct
    # completion, with a credit ID of its own.
    return date(2021, 1, 1) + timedelta(days=i // len(DIPLOMATES))


def template_b_row(i: int, action: str = "Add", activity: str = ACTIVITY) -> list[str]:
    bid, first, last, dob = DIPLOMATES[i % len(DIPLOMATES)]
    code = expected_code(i)
    done = completion_date(i)
    return ["Learner Template B", BOARD, "999999999" if code == "690" else activity, BOARD, bid,
            "" if code == "622" else first, last, dob, f"{done.month}/{done.day}/{done.year}", action,
            "1.1" if code == "675" else "1", "Self-Assessment"]


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    return batch_file(rows, FileFormat.XLSX, TEMPLATE_B)


def txt_bytes(rows: list[list[str]]) -> bytes:
    return batch_file(rows, FileFormat.TXT, TEMPLATE_B)


def xml_bytes(count: int) -> bytes:
    reports = []
    for i in range(count):
        bid, first, last, dob = DIPLOMATES[i % len(DIPLOMATES)]
        code = expected_code(i)
        reports.append({
            "activity_id": "999999999" if code == "690" else ACTIVITY, "credit_id": f"ccid:batch.example:x{i}",
            "first_name": "" if code == "622" else first, "last_name": last, "dob": dob,
            "completion_date": completion_date(i).isoformat(), "action": "add", "board": BOARD, "board_id": bid,
            "credits": "1.1" if code == "675" else "1",
            "credit_types": {"Self-Assessment": "1.1" if code == "675" else "1"}})
    return activity_report_xml(reports)


@pytest.fixture(scope="module")
def batches(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict]]:
    tmp = tmp_path_factory.mktemp("batches")
    stack = start_stack(servers, tmp / "logs")
    try:
        stack.load_world(WORLD)
        yield stack, {p: stack.pars("provider", "key", p).stdout.strip() for p in (P, Q)}
    finally:
        stop_services(list(stack.processes.values()))


def upload(stack: Stack, key: str, name: str, content: bytes, **params: str) -> dict:
    with stack.client(key) as api:
        answer = api.post("/v1/batches", files={"file": (name, content)}, params=params, timeout=120)
    return {"http": answer.status_code, **answer.json()}


def settled(stack: Stack, key: str, batch_id: str, timeout: float = 120) -> dict:
    def done() -> dict | None:
        with stack.client(key) as api:
            batch = api.get(f"/v1/batches/{batch_id}").json()
        return batch if batch["status"] != "processing" else None
    return stack.wait_for(done, timeout=timeout, every=0.5)


def rejection_rows(stack: Stack, key: str, batch_id: str) -> tuple[list[str], list[list[str]], bytes]:
    with stack.client(key) as api:
        answer = api.get(f"/v1/batches/{batch_id}/rejections")
    assert answer.status_code == 200
    if answer.headers["content-type"].startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        values = [["" if v is None else str(v) for v in row] for row in book.active.iter_rows(values_only=True)]
    else:
        values = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter="\t"))
    return values[0], values[1:], answer.content


def codes_by_row(header: list[str], rows: list[list[str]]) -> dict[tuple[str, str], str]:
    at = {name: header.index(name) for name in ("Learner ID", "Date of Completion", "Error Code")}
    return {(r[at["Learner ID"]], r[at["Date of Completion"]]): r[at["Error Code"]] for r in rows}


def expected_codes(indexes: range) -> dict[tuple[str, str], str]:
    return {(r[4], r[8]): code for i in indexes if (code := expected_code(i)) for r in [template_b_row(i)]}


@pytest.mark.parametrize("kind", ["xlsx", "txt"])
def test_5000_rows_give_exact_counts_and_codes_per_row(batches: tuple[Stack, dict], kind: str) -> None:
    stack, keys = batches
    first = 0 if kind == "xlsx" else 5000
    rows = [template_b_row(i) for i in range(first, first + 5000)]
    content = xlsx_bytes(rows) if kind == "xlsx" else txt_bytes(rows)
    accepted = upload(stack, keys[P], f"learners.{kind}", content)
    assert accepted["http"] == 202 and accepted["status"] == "processing" and accepted["records"] == 5000
    batch = settled(stack, keys[P], accepted["batch_id"])
    assert (batch["status"], batch["records"], batch["added"], batch["rejected"]) == ("complete", 5000, 3500, 1500)
    header, rejected, _ = rejection_rows(stack, keys[P], accepted["batch_id"])
    assert header[-2:] == ["Error Code", "Error Message"] and len(rejected) == 1500
    assert codes_by_row(header, rejected) == expected_codes(range(first, first + 5000))


def test_5000_activity_reports_give_exact_counts_and_codes(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    accepted = upload(stack, keys[P], "reports.xml", xml_bytes(5000))
    assert accepted["http"] == 202 and accepted["records"] == 5000
    batch = settled(stack, keys[P], accepted["batch_id"])
    assert (batch["status"], batch["added"], batch["rejected"]) == ("complete", 3500, 1500)
    with stack.client(keys[P]) as api:
        answer = api.get(f"/v1/batches/{accepted['batch_id']}/rejections")
    from lxml import etree
    document = etree.fromstring(answer.content)
    found = {}
    for report in document.iter("{*}ActivityReport"):
        credit_id = report.findtext(".//{*}CreditID")
        found[int(credit_id.rsplit("x", 1)[1])] = [e.get("code") for e in report.iter("{*}parsError")]
    assert found == {i: [code] for i in range(5000) if (code := expected_code(i))}


def test_a_corrected_rejection_file_goes_through(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    rows = [template_b_row(i) for i in range(10000, 10200)]
    first = settled(stack, keys[P], upload(stack, keys[P], "fix-me.xlsx", xlsx_bytes(rows))["batch_id"])
    assert (first["added"], first["rejected"]) == (140, 60)
    _, _, content = rejection_rows(stack, keys[P], first["batch_id"])
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in ("ACCME Activity ID", "First Name", "Learner ID",
                                                     "Number of Credits")}
    first_names = {bid: first for bid, first, _, _ in DIPLOMATES}
    for r in range(2, sheet.max_row + 1):  # the provider fixes each row and leaves the error columns as they are
        sheet.cell(r, col["ACCME Activity ID"], ACTIVITY)
        sheet.cell(r, col["First Name"], first_names[str(sheet.cell(r, col["Learner ID"]).value)])
        sheet.cell(r, col["Number of Credits"], "1")
    fixed = io.BytesIO()
    book.save(fixed)
    again = settled(stack, keys[P], upload(stack, keys[P], "fix-me-rejections.xlsx", fixed.getvalue())["batch_id"])
    assert (again["status"], again["records"], again["added"], again["rejected"]) == ("complete", 60, 60, 0)


def test_5001_rows_are_refused_whole_and_listed_as_failed(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    refused = upload(stack, keys[Q], "too-many.txt", txt_bytes([template_b_row(i) for i in range(5001)]))
    assert refused["http"] == 422 and refused["error"]["code"] == "too_many_records"
    assert "5,000" in refused["error"]["message"] or "5000" in refused["error"]["message"]
    with stack.client(keys[Q]) as api:
        history = api.get("/v1/batches").json()["items"]
    assert history[0]["batch_id"] == refused["batch_id"] and history[0]["status"] == "failed"
    assert history[0]["reason"] == refused["error"]["message"]


def test_the_upload_history_is_newest_first_with_links(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    names = ["one.txt", "two.txt"]
    ids = [upload(stack, keys[Q], name, txt_bytes([template_b_row(10500 + n)]))["batch_id"]
           for n, name in enumerate(names)]
    with stack.client(keys[Q]) as api:
        items = api.get("/v1/batches").json()["items"]
        other = api.get(f"/v1/batches/{ids[0]}").json()
    assert [i["file_name"] for i in items[:2]] == ["two.txt", "one.txt"]
    assert items[0]["links"]["rejections"] == f"/v1/batches/{ids[1]}/rejections"
    assert other["batch_id"] == ids[0] and other["uploaded_at"]
    with stack.client(keys[P]) as api:  # another provider's batch does not exist for this one
        assert api.get(f"/v1/batches/{ids[0]}").status_code == 404


def test_dry_run_answers_codes_and_keeps_nothing(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    rows = [template_b_row(i) for i in range(10200, 10210)]
    with stack.client(keys[Q]) as api:
        before = api.get("/v1/batches").json()["total"]
    answer = upload(stack, keys[P], "check.txt", txt_bytes(rows), dry_run="true")
    assert answer["http"] == 200 and answer["dry_run"] and (answer["added"], answer["rejected"]) == (7, 3)
    assert {r["row"]: [e["code"] for e in r["errors"]] for r in answer["rows"] if r["errors"]} == {5: ["690"],
                                                                                                   7: ["622"],
                                                                                                   9: ["675"]}
    with stack.client(keys[P]) as api:
        kept = api.get("/v1/records", params={"per_page": 1000, "completed_from": completion_date(10200).isoformat(),
                                              "completed_to": completion_date(10209).isoformat()}).json()["items"]
    assert not {(r["learner_id"], r["completion_date"]) for r in kept} & {
        (DIPLOMATES[i % 60][0], completion_date(i).isoformat()) for i in range(10200, 10210)}
    with stack.client(keys[Q]) as api:
        assert api.get("/v1/batches").json()["total"] == before
        single = api.post("/v1/completions", params={"dry_run": "true"}, json={
            "activity_id": ACTIVITY, "first_name": "First1", "last_name": "Last1", "dob": "02/02",
            "completion_date": "2021-11-02", "moc": [{"board": BOARD, "board_id": "3000001", "credits": 1,
                                                        "credit_types": {"Self-Assessment": 1}}]})
    assert single.status_code == 200 and single.json()["dry_run"] is True
    assert [e["code"] for e in single.json()["records"][0]["errors"]] == ["690"]  # Q does not own the activity


DELETE_DAYS = {"activity_id": DELETES_ACTIVITY, "completed_from": completion_date(10300).isoformat(),
               "completed_to": completion_date(10309).isoformat()}


def test_delete_rows_withdraw_accepted_records(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    rows = [template_b_row(i, activity=DELETES_ACTIVITY) for i in range(10300, 10310) if not expected_code(i)]
    ours = {row[4] for row in rows}
    added = settled(stack, keys[P], upload(stack, keys[P], "adds.txt", txt_bytes(rows))["batch_id"])
    assert added["added"] == len(rows)

    def accepted() -> bool:
        with stack.client(keys[P]) as api:
            items = api.get("/v1/records", params={"per_page": 1000, **DELETE_DAYS}).json()["items"]
        return sum(1 for r in items if r["status"] == "Accepted" and r["learner_id"] in ours) == len(rows)
    stack.wait_for(accepted, timeout=60)
    deletes = [[*row[:9], "Delete", *row[10:]] for row in rows]
    for _ in range(20):  # validation hears of the board's answers a moment after the projection: 998 until then
        deleted = settled(stack, keys[P], upload(stack, keys[P], "deletes.txt", txt_bytes(deletes))["batch_id"])
        header, rejected, _ = rejection_rows(stack, keys[P], deleted["batch_id"])
        if not rejected or {r[header.index("Error Code")] for r in rejected} != {"998"}:
            break
        deletes = [r[:len(TEMPLATE_B)] for r in rejected]  # the rows still with their board, as the file has them
        time.sleep(0.5)
    assert (deleted["added"], deleted["rejected"]) == (len(deletes), 0)

    def gone() -> bool:
        with stack.client(keys[P]) as api:
            items = api.get("/v1/records", params={"per_page": 1000, **DELETE_DAYS}).json()["items"]
        return not [r for r in items if r["learner_id"] in ours]
    stack.wait_for(gone, timeout=60)


def test_hostile_files_get_a_clear_4xx_and_the_service_stays_ready(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    cases = hostile_tabular_files() + hostile_xml_files()
    assert len(cases) >= 30
    for case, name, content, says in cases:
        answer = upload(stack, keys[Q], name, content)
        assert 400 <= answer["http"] < 500, (case, answer)
        assert says.lower() in answer["error"]["message"].lower(), (case, answer["error"])
    with stack.client(keys[Q]) as api:
        assert api.get("/readyz").status_code == 200
        history = api.get("/v1/batches", params={"per_page": 500}).json()["items"]
    failed = [b for b in history if b["status"] == "failed"]
    assert len(failed) >= len(cases)


def test_pars_upload_shows_progress_then_counts_and_saves_rejections(batches: tuple[Stack, dict],
                                                                    tmp_path: Path) -> None:
    stack, _ = batches
    file = tmp_path / "cli.xlsx"
    file.write_bytes(xlsx_bytes([template_b_row(i) for i in range(10400, 10500)]))
    done = stack.pars("upload", str(file), "--provider", P)
    assert done.returncode == 0, done.stderr
    assert "100 records, 70 added, 30 rejected" in done.stderr
    saved = Path(done.stdout.strip())
    assert saved.parent == tmp_path and saved.name == "cli-rejections.xlsx"
    rows = list(openpyxl.load_workbook(saved, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 31 and rows[0][-2:] == ("Error Code", "Error Message")


def test_a_batch_survives_intake_being_killed_right_after_the_upload(batches: tuple[Stack, dict]) -> None:
    stack, keys = batches
    rows = [template_b_row(i) for i in range(10600, 12600)]
    accepted = upload(stack, keys[Q], "crash.txt", txt_bytes(rows))  # Q: every row is 690 (P owns the activity)
    assert accepted["http"] == 202
    intake = stack.processes["intake"]
    intake.signal(signal.SIGKILL)  # no clean stop: whatever was queued or half-noted must still come through
    intake.wait(10)
    stack.restart("intake")
    batch = settled(stack, keys[Q], accepted["batch_id"])
    assert (batch["status"], batch["records"], batch["added"] + batch["rejected"]) == ("complete", 2000, 2000)
    _, rejected, _ = rejection_rows(stack, keys[Q], accepted["batch_id"])
    assert len(rejected) == batch["rejected"] == 2000


CME_MOC = ["Record Action", "ACCME Activity ID", "Completion Date", "First Name", "Last Name", "Date of Birth",
           "Licensing State", "Licensing ID or NPI", "Number of CME Credits", "Certifying Board",
           "Certifying Board ID", "Total Board Credits", "Credit Type", "Credits Awarded for Credit Type"]


def test_the_cme_moc_template_reports_a_licence_and_a_board_per_row(batches: tuple[Stack, dict]) -> None:
    """Rows of the current Excel template (guidance row above the header, full state names, dates as cells): a
    row's state record can be added while its board record is rejected; the rejection file then holds the row
    with the state's cells blanked, and the corrected file adds the board record alone."""
    stack, keys = batches
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(["Enter one learner completion per row. Dates as MM/DD/YYYY; date of birth as MM/DD."])
    sheet.append([f"{n}. {name}" for n, name in enumerate(CME_MOC, start=1)])
    rows = range(12700, 12710)
    for i in rows:
        bid, first, last, dob = DIPLOMATES[i % len(DIPLOMATES)]
        sheet.append(["Add", int(ACTIVITY), datetime.combine(completion_date(i), datetime.min.time()), first, last,
                      dob, "California", f"A{bid}", 1, BOARD, bid, "1.1" if i % 2 else "1", "Self-Assessment",
                      "1.1" if i % 2 else "1"])
    book.create_sheet("ValidValues").append(["California", "Louisiana"])
    content = io.BytesIO()
    book.save(content)
    batch = settled(stack, keys[P], upload(stack, keys[P], "cme-moc.xlsx", content.getvalue())["batch_id"])
    assert (batch["layout"], batch["records"], batch["added"], batch["rejected"]) == ("CME/MOC template", 20, 15, 5)
    with stack.client(keys[P]) as api:
        answer = api.get(f"/v1/batches/{batch['batch_id']}/rejections")
    rejection = openpyxl.load_workbook(io.BytesIO(answer.content))
    sheet = rejection.active
    header = [c.value for c in sheet[2]]
    assert sheet.cell(1, 1).value.startswith("Enter one learner completion")  # the guidance row kept
    col = {name: header.index(name) + 1 for name in header if name}
    data = list(range(3, sheet.max_row + 1))
    assert len(data) == 5
    for r in data:  # the state record was added: its cells are blank; the board's are there, with its code
        assert sheet.cell(r, col["7. Licensing State"]).value is None
        assert sheet.cell(r, col["12. Total Board Credits"]).value == "1.1"
        assert sheet.cell(r, col["Error Code"]).value == "675"
        sheet.cell(r, col["12. Total Board Credits"], "1")
        sheet.cell(r, col["14. Credits Awarded for Credit Type"], "1")
    fixed = io.BytesIO()
    rejection.save(fixed)
    again = settled(stack, keys[P], upload(stack, keys[P], "cme-moc-rejections.xlsx", fixed.getvalue())["batch_id"])
    assert (again["records"], again["added"], again["rejected"]) == (5, 5, 0)
