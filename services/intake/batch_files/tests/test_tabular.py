"""Spreadsheet batch files: both layouts, both formats, the cells providers really send, the files PARS writes
back, and files that cannot be a batch at all (hostile.py)."""

import csv
import io
import shutil
import subprocess
import tracemalloc
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import python_calamine
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from intake.batch_files.model import MAX_RECORDS, BatchFileError, FileFormat, Layout, ParsedBatch
from intake.batch_files.readers import tabular
from intake.batch_files.readers.cell_values import cell_text
from intake.batch_files.readers.columns import TEMPLATE_B_HEADER, column_key
from intake.batch_files.readers.credit_ids import derived_credit_id
from intake.batch_files.readers.tabular import read_tabular
from intake.batch_files.safety import xlsx as xlsx_safety
from intake.batch_files.tests.hostile import (
    CME_MOC,
    CME_ROW,
    GUIDANCE,
    TB_ROW,
    TEMPLATE_B,
    hostile_tabular_files,
    rezip,
    sheet_xml,
    txt_bytes,
    xlsx_bytes,
)
from intake.batch_files.writers.tabular import blank_cells, write_tabular
from shared.dates import normalize_month_day, parse_completion_date
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, Target

P = "0008001"
BATCH = UUID("7f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b")
FILES = Path(__file__).resolve().parent / "files"
SAMPLES = Path(__file__).resolve().parents[4] / "tests" / "data" / "samples-from-guide.tsv"
REMS = ["REMS Program", "Learner Local ID", "Profession", "Time in Practice", "State of Primary Practice",
        "Practice Area", "DEA Registration", "Surgical Procedures"]


@pytest.fixture(autouse=True, params=["calamine", "openpyxl"])
def xlsx_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test reads its workbooks both ways: python-calamine (any workbook whose grid is known small, the
    default) and openpyxl's streaming read (the others)."""
    if request.param == "openpyxl":
        monkeypatch.setattr(tabular, "dense_grid_fits", lambda *_args, **_kwargs: False)
    return request.param


def read(name: str, data: bytes) -> ParsedBatch:
    return read_tabular(name, data, provider_id=P, batch_id=BATCH)


def records(parsed: ParsedBatch) -> list[ReportedRecord]:
    return [rr.record for row in parsed.rows for rr in row.records]


def same(parsed: ParsedBatch) -> list[dict[str, Any]]:
    """Records as compared across files: everything but the fresh record ID."""
    return [r.model_dump(exclude={"record_id"}) for r in records(parsed)]


def meaning(parsed: ParsedBatch) -> list[dict[str, Any]]:
    """Records as validation reads them: a date cell and the text it came from are the same date."""
    out = same(parsed)
    for r in out:
        r["dob"] = normalize_month_day(r["dob"])
        r["completion_date"] = parse_completion_date(r["completion_date"] or "") or r["completion_date"]
    return out


def error(name: str, data: bytes) -> BatchFileError:
    with pytest.raises(BatchFileError) as caught:
        read(name, data)
    return caught.value


# --- header names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "key"), [
    ("ACCME Activity ID", "accme activity id"),
    ("3. ACCME Activity ID", "accme activity id"),
    ("  12)  Total Board Credits ", "total board credits"),
    ("8. Date of Birth (MM/DD) -", "date of birth"),
    ("Completion Date - MM/DD/YYYY", "completion date"),
    ("FIRST NAME*", "first name"),
    ("Learner ID #", "learner id #"),
    ("Activity Certification (1st)", "activity certification #1"),
    ("12. Activity Certification (2nd) - optional", "activity certification #2"),
    ("Activity Certification 6", "activity certification #6"),
    ("Error Message", "error message"),
])
def test_header_cells_are_matched_by_name_not_by_exact_text(written: str, key: str) -> None:
    assert column_key(written) == key


def test_numbered_and_noted_headers_read_like_plain_ones() -> None:
    noted = ["1. Template", "2. Activity Registration", "3. ACCME Activity ID", "4) Learner ID Type", " learner id ",
             "FIRST NAME", "Last  Name", "8. Date of Birth (MM/DD) -", "Date of Completion - MM/DD/YYYY", "Action*",
             "Number of Credits:", "Activity Certification (2nd)", "Activity Certification (1st)"]
    row = [*TB_ROW[:11], "Second", "First"]
    plain_header = [*TEMPLATE_B[:11], "Activity Certification (1st)", "Activity Certification (2nd)"]
    plain = read("a.txt", txt_bytes([plain_header, [*TB_ROW[:11], "First", "Second"]]))
    parsed = read("a.txt", txt_bytes([noted, row]))
    assert same(parsed) == same(plain)
    assert [c.name for c in records(parsed)[0].credit_types] == ["First", "Second"]  # 1st before 2nd, by name


# --- Template B --------------------------------------------------------------------------------------------


def test_template_b_row_is_one_record_for_its_registration() -> None:
    parsed = read("learners.txt", txt_bytes([TEMPLATE_B, TB_ROW]))
    assert (parsed.format, parsed.layout, parsed.header, parsed.preamble) == (FileFormat.TXT, Layout.TEMPLATE_B,
                                                                              TEMPLATE_B, [])
    (row,) = parsed.rows
    assert row.number == 2 and row.cells == TB_ROW
    (rr,) = row.records
    assert rr.own_cells == frozenset()
    assert rr.record.model_dump(exclude={"record_id"}) == {
        "submission_id": BATCH, "provider_id": P, "channel": "batch", "credit_id_required": False, "action": "Add",
        "credit_id": derived_credit_id(P, "200931446", "ABO", "98989", "2/10/2019"), "activity_id": "200931446",
        "first_name": "Vincent", "last_name": "Van Gogh", "dob": "03/30", "npi": None, "medical_school": None,
        "completion_date": "2/10/2019", "target": {"kind": "moc", "code": "ABO"}, "learner_id": "98989",
        "learner_id_type": "ABO", "registration": "ABO", "credits": "0.25",
        "credit_types": [{"name": "ABO MOC Part II", "points": None}], "rems": None, "batch_id": BATCH,
        "row_number": 2}


def _tb(registration: str, id_type: str, learner_id: str) -> list[str]:
    return [TB_ROW[0], registration, TB_ROW[2], id_type, learner_id, *TB_ROW[5:11], "", "", "", "", "", ""]


def test_template_b_registration_names_a_board_a_state_or_a_rems_program() -> None:
    rows = [_tb("abpath", "ABPATH", "1000109"), _tb("LA", "License", "MD.205357"),
            _tb(" Louisiana ", "NPI", "1234567893"), _tb("OPIOID", "Local", "L-1"), _tb("TN-M", "License", "9"),
            _tb("", "ABO", "98989")]
    got = records(read("a.txt", txt_bytes([TEMPLATE_B, *rows])))
    assert [r.target for r in got] == [Target(kind="moc", code="ABPATH"), Target(kind="state", code="LA"),
                                       Target(kind="state", code="LA"), Target(kind="rems", code="OPIOID"),
                                       Target(kind="moc", code="TN-M"), Target(kind="moc", code="")]
    assert [r.registration for r in got] == ["abpath", "LA", "LA", "OPIOID", "TN-M", None]
    assert got[2].npi == "1234567893" and got[1].npi is None  # Learner ID Type NPI: the ID is an NPI
    assert got[1].credit_types == []  # no certification columns filled


def test_the_guides_sample_rows_read_as_the_e2e_test_builds_them() -> None:
    text = "".join(line for line in SAMPLES.open(encoding="utf-8") if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    expected = []
    for number, row in enumerate(rows, start=2):
        board = row["Activity Registration"].upper()
        expected.append(ReportedRecord(
            record_id=BATCH, submission_id=BATCH, provider_id=P, channel="batch", action=row["Action"],
            activity_id=row["ACCME Activity ID"], first_name=row["First Name"], last_name=row["Last Name"],
            dob=row["Date of Birth"], completion_date=row["Date of Completion"], target=Target(kind="moc", code=board),
            learner_id=row["Learner ID"], learner_id_type=row["Learner ID Type"],
            registration=row["Activity Registration"], credits=row["Number of Credits"],
            credit_types=[CreditTypeClaim(name=row["Activity Certification (1st)"])],
            credit_id=derived_credit_id(P, row["ACCME Activity ID"], board, row["Learner ID"],
                                        row["Date of Completion"]),
            batch_id=BATCH, row_number=number).model_dump(exclude={"record_id"}))
    parsed = read("guide.txt", text.encode())  # its 'Expected Error Code' column is unknown: ignored
    assert same(parsed) == expected
    assert [r["dob"] for r in same(parsed)][:3] == ["Jun-70", "Sep-66", "1-Oct"]  # kept as text for validation

    # The same rows in Excel, where the guide's Jun-70 and 1-Oct are date cells and completions are dates.
    excel = {"Jun-70": datetime(1970, 6, 1), "Sep-66": datetime(1966, 9, 1), "1-Oct": datetime(2019, 10, 1)}
    header = list(rows[0])
    def cell(column: str, value: str) -> Any:
        if column == "Date of Birth":
            return excel.get(value, value)
        if column == "Date of Completion":
            done = parse_completion_date(value)
            assert done is not None, value
            return datetime.combine(done, time())
        return value

    sheet = [header] + [[cell(k, v) for k, v in row.items()] for row in rows]
    from_excel = read("guide.xlsx", xlsx_bytes(sheet))
    assert [r["dob"] for r in same(from_excel)] == ["06/01", "09/01", "10/01", "03/30", "11/15", "04/08"]
    assert [r["completion_date"] for r in same(from_excel)][-1] == "2021-11-01"
    assert meaning(from_excel) == meaning(parsed)


def test_a_header_less_txt_has_template_b_columns_in_order() -> None:
    parsed = read("a.txt", txt_bytes([TB_ROW, _tb("LA", "License", "MD.1")]))
    assert parsed.header == [] and parsed.layout is Layout.TEMPLATE_B
    assert [row.number for row in parsed.rows] == [1, 2]
    with_header = read("a.txt", txt_bytes([TEMPLATE_B, TB_ROW, _tb("LA", "License", "MD.1")]))
    assert [{**r, "row_number": 0} for r in same(parsed)] == [{**r, "row_number": 0} for r in same(with_header)]
    # Detected by the activity ID in the third cell, even when the Template cell is left empty.
    assert read("a.txt", txt_bytes([["", *TB_ROW[1:]]])).header == []


# --- the CME/MOC template ----------------------------------------------------------------------------------


def test_a_cme_moc_row_gives_one_record_per_target_with_its_own_cells() -> None:
    header = [*CME_MOC, *REMS]
    row = [*CME_ROW, "Opioid", "L-77", "Physician", "6-10 years", "Ohio", "Pain", "Individual", True]
    parsed = read("a.xlsx", xlsx_bytes([GUIDANCE, header, row], extra_sheets=["ValidValues", "Reference"]))
    assert parsed.layout is Layout.CME_MOC and parsed.preamble == [GUIDANCE] and parsed.header == header
    (source,) = parsed.rows
    assert source.number == 3 and source.cells[-1] == "Yes"
    state, board, rems = source.records
    common = {"action": "Add", "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton",
              "dob": "11/11", "completion_date": "11/2/2021", "channel": "batch", "row_number": 3}
    for rr in source.records:
        assert rr.record.model_dump(include=set(common)) == common
    assert state.record.target == Target(kind="state", code="LA")
    assert (state.record.learner_id, state.record.credits, state.record.npi) == ("MD.205357", "8", None)
    assert board.record.target == Target(kind="moc", code="ABOHNS")
    assert (board.record.learner_id, board.record.credits) == ("19927", "8")
    assert board.record.credit_types == [CreditTypeClaim(name="Self-Assessment", points="8"),
                                         CreditTypeClaim(name="Patient Safety", points="1")]
    assert rems.record.target == Target(kind="rems", code="OPIOID") and rems.record.learner_id == "L-77"
    assert rems.record.rems == RemsFields(profession="Physician", time_in_practice="6-10 years",
                                          practice_state="Ohio", practice_area="Pain", dea_registration="Individual",
                                          surgical_procedures=True)
    assert rems.record.credits == "8"  # as the JSON API does: the CME credits
    # Cells a record alone uses; the CME credits serve the state and REMS records both, so neither owns them.
    assert state.own_cells == {6, 7}
    assert board.own_cells == {9, 10, 11, 12, 13, 14, 15}
    assert rems.own_cells == set(range(16, 24))
    assert len({r.record.credit_id for r in source.records}) == 3  # one per target


def test_cme_moc_details_npi_header_on_row_one_and_a_row_with_no_target() -> None:
    npi_row = [*CME_ROW[:7], "1234567893", *CME_ROW[8:9], "", "", "", "", "", "", ""]
    board_only = [*CME_ROW[:6], "", "", "", *CME_ROW[9:]]
    nothing = [*CME_ROW[:6], *[""] * 10]
    parsed = read("a.xlsx", xlsx_bytes([CME_MOC, npi_row, board_only, nothing]))
    assert parsed.preamble == []
    first, second, third = parsed.rows
    (state,) = first.records
    assert (state.record.learner_id, state.record.npi) == ("1234567893", "1234567893")
    assert state.own_cells == {6, 7, 8}  # no REMS record shares the CME credits here
    assert [r.record.target for r in second.records] == [Target(kind="moc", code="ABOHNS")]
    (none,) = third.records
    assert none.record.target == Target(kind="moc", code="") and none.own_cells == frozenset()


def test_several_additional_credit_type_pairs_are_paired_by_position() -> None:
    header = [*CME_MOC, "Additional Credit Type", "Credits Awarded for Additional Credit Type", "Credit Type 4",
              "Credit Type 4 Credits"]
    row = [*CME_ROW, "Medical Knowledge", "", "Practice Assessment", "0.5"]
    (board,) = [r for r in records(read("a.xlsx", xlsx_bytes([header, row]))) if r.target.kind == "moc"]
    assert board.credit_types == [CreditTypeClaim(name="Self-Assessment", points="8"),
                                  CreditTypeClaim(name="Patient Safety", points="1"),
                                  CreditTypeClaim(name="Medical Knowledge", points=None),
                                  CreditTypeClaim(name="Practice Assessment", points="0.5")]


def test_the_sheet_named_sheet1_is_read_even_when_it_is_not_first() -> None:
    workbook = Workbook()
    workbook.active.title = "ValidValues"
    workbook.active.append(["Add", "Delete"])
    data_sheet = workbook.create_sheet("Sheet1")
    for row in (GUIDANCE, CME_MOC, CME_ROW):
        data_sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert read("a.xlsx", buffer.getvalue()).rows[0].cells == CME_ROW
    assert read("a.xlsx", xlsx_bytes([CME_MOC, CME_ROW], title="Learners")).rows[0].cells == CME_ROW


# --- cells ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "role", "text"), [
    (None, "", ""), (12.0, "", "12"), (8.5, "", "8.5"), (0.1 + 0.2, "", "0.3"), (7, "", "7"), (True, "", "Yes"),
    (False, "", "No"), ("0012345", "", "0012345"), (1234567893, "", "1234567893"), (1e-07, "", "0.0000001"),
    (datetime(2026, 6, 12), "dob", "06/12"), (date(1970, 6, 1), "dob", "06/01"),
    (datetime(2021, 11, 2), "completion", "2021-11-02"), (datetime(2021, 11, 2, 14, 30), "completion", "2021-11-02"),
    (datetime(2021, 11, 2), "", "2021-11-02"), (44501, "completion", "2021-11-01"),
    ("44502", "completion", "2021-11-02"), (44502.75, "completion", "2021-11-02"), (59, "completion", "1900-02-28"),
    (60, "completion", "1900-02-29"), (61, "completion", "1900-03-01"), (1, "completion", "1900-01-01"),
    ("11/2/2021", "completion", "11/2/2021"), ("11/02/21", "completion", "11/02/21"),
    ("2021-11-02", "completion", "2021-11-02"), ("20211102", "completion", "20211102"),
    ("Jun-70", "dob", "Jun-70"), ("1-Oct", "dob", "1-Oct"), ("44501", "", "44501"),
    ("'=SUM(A1)", "", "=SUM(A1)"), ("'-1", "", "-1"), ("'ok", "", "'ok"),
])
def test_cells_read_as_the_text_the_provider_meant(value: Any, role: str, text: str) -> None:
    assert cell_text(value, role) == text


def test_date_cells_and_serials_in_a_workbook() -> None:
    rows = [[*CME_ROW[:2], completed, *CME_ROW[3:5], born, *CME_ROW[6:]] for completed, born in [
        (datetime(2021, 11, 2), datetime(2026, 6, 12)), (44502, "06/12"), ("44502", "6/12"),
        ("11/2/2021", datetime(1970, 6, 12, 0, 0)), ("11/02/21", "Jun-70")]]
    got = [(r.completion_date, r.dob) for r in records(read("a.xlsx", xlsx_bytes([CME_MOC, *rows])))
           if r.target.kind == "state"]
    assert got == [("2021-11-02", "06/12"), ("2021-11-02", "06/12"), ("2021-11-02", "6/12"), ("11/2/2021", "06/12"),
                   ("11/02/21", "Jun-70")]


def test_formula_cells_read_their_cached_values() -> None:
    data = xlsx_bytes([CME_MOC, [*CME_ROW[:8], "FORMULA", *CME_ROW[9:]]])
    xml = sheet_xml(data).decode()
    start = xml.index('<c r="I2"')
    end = xml.index("</c>", start) + len("</c>")
    xml = xml[:start] + '<c r="I2"><f>4+4</f><v>8</v></c>' + xml[end:]
    parsed = read("a.xlsx", rezip(data, replace={"xl/worksheets/sheet1.xml": xml.encode()}))
    assert parsed.rows[0].records[0].record.credits == "8"


def test_declared_dimensions_are_not_trusted() -> None:
    data = xlsx_bytes([CME_MOC, CME_ROW])
    xml = sheet_xml(data).decode()
    start = xml.index("<dimension")
    end = xml.index("/>", start) + 2
    xml = xml[:start] + '<dimension ref="A1:XFD1048576"/>' + xml[end:]
    parsed = read("a.xlsx", rezip(data, replace={"xl/worksheets/sheet1.xml": xml.encode()}))
    assert [row.cells for row in parsed.rows] == [CME_ROW]


def test_empty_rows_are_skipped_and_unknown_columns_ignored() -> None:
    header = ["Notes", *TEMPLATE_B, "Internal ref"]
    rows = [header, ["n1", *TB_ROW, "r1"], [""] * 19, [], ["   ", *[""] * 17, " "], ["n2", *TB_ROW, "r2", "beyond"]]
    parsed = read("a.txt", txt_bytes(rows))
    assert [row.number for row in parsed.rows] == [2, 6]
    assert parsed.rows[1].cells == ["n2", *TB_ROW, "r2"]  # a cell beyond the header belongs to no column
    assert [r.learner_id for r in records(parsed)] == ["98989", "98989"]
    short = read("a.txt", txt_bytes([TEMPLATE_B, TB_ROW[:11]]))
    assert short.rows[0].cells == [*TB_ROW[:11], *[""] * 6]  # padded to the header


# --- text files ----------------------------------------------------------------------------------------------


def test_text_encodings_line_ends_and_quoting() -> None:
    row = [*TB_ROW[:5], "Siobhán", "O’Keeffe-Müller", *TB_ROW[7:]]
    reference = same(read("a.txt", txt_bytes([TEMPLATE_B, row])))
    assert reference[0]["last_name"] == "O’Keeffe-Müller"
    assert same(read("a.txt", txt_bytes([TEMPLATE_B, row], encoding="utf-8-sig"))) == reference
    assert same(read("a.txt", txt_bytes([TEMPLATE_B, row], encoding="cp1252"))) == reference
    assert b"\x92" in txt_bytes([row], encoding="cp1252")  # the right quote as Windows writes it
    assert same(read("a.txt", txt_bytes([TEMPLATE_B, row], encoding="utf-16"))) == reference  # 'Unicode Text'
    lf = txt_bytes([TEMPLATE_B, row]).replace(b"\r\n", b"\n")
    assert same(read("a.txt", lf)) == reference
    quoted = "\t".join(TEMPLATE_B) + '\r\n' + "\t".join([*TB_ROW[:5], '"Vincent ""Vince"""', '"Van\tGogh"',
                                                         *TB_ROW[7:]]) + "\r\n"
    (record,) = records(read("a.txt", quoted.encode()))
    assert (record.first_name, record.last_name) == ('Vincent "Vince"', "Van\tGogh")


def test_exactly_five_thousand_rows_pass() -> None:
    rows = ([*TB_ROW[:4], str(10000 + i), *TB_ROW[5:]] for i in range(MAX_RECORDS))
    parsed = read("a.txt", txt_bytes([TEMPLATE_B, *rows]))
    assert len(parsed.rows) == parsed.record_count == MAX_RECORDS


# --- files PARS writes ---------------------------------------------------------------------------------------


def text_xlsx(rows: list[list[str]]) -> bytes:
    """A workbook whose cells are all text, even '=...' (openpyxl would otherwise store a formula)."""
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    for line in workbook.active.iter_rows():
        for cell in line:
            cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rejections(parsed: ParsedBatch) -> list[tuple[list[str], str, str]]:
    return [(row.cells, "690; 713", "Activity not found; Unknown board") for row in parsed.rows]


@pytest.mark.parametrize("name", ["a.xlsx", "a.txt"])
def test_a_rejection_file_uploads_again_as_the_same_records(name: str) -> None:
    header = [*CME_MOC, *REMS]
    rows = [[*CME_ROW, *[""] * 8], [*CME_ROW[:6], "", "", "", *CME_ROW[9:], "OPIOID", "L-1", "Nurse", "Trainee",
                                    "", "", "", "No"]]
    made = xlsx_bytes([GUIDANCE, header, *rows]) if name.endswith("xlsx") else txt_bytes([GUIDANCE, header, *rows])
    parsed = read(name, made)
    rejection = write_tabular(parsed, _rejections(parsed))
    again = read(name, rejection)
    assert same(again) == same(parsed)
    assert again.header == [*header, "Error Code", "Error Message"] and again.preamble == parsed.preamble
    assert again.rows[0].cells[-2:] == ["690; 713", "Activity not found; Unknown board"]
    # Uploaded and rejected again: the error columns are replaced, not repeated.
    twice = read(name, write_tabular(again, [(row.cells, "671", "Date") for row in again.rows]))
    assert twice.header == again.header and twice.rows[0].cells[-2:] == ["671", "Date"]
    assert same(twice) == same(parsed)


def test_success_files_carry_no_error_columns() -> None:
    parsed = read("a.xlsx", xlsx_bytes([GUIDANCE, [*CME_MOC, "Error Code", "Error Message"],
                                        [*CME_ROW, "690", "old"]]))
    success = write_tabular(parsed, [(row.cells, "", "") for row in parsed.rows], with_errors=False)
    sheet = load_workbook(io.BytesIO(success), read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[1] == CME_MOC and values[2] == CME_ROW and sheet.title == "Sheet1"


def test_a_header_less_upload_gets_template_bs_header_back() -> None:
    parsed = read("a.txt", txt_bytes([TB_ROW]))
    written = write_tabular(parsed, _rejections(parsed)).decode("utf-8-sig")
    assert written.splitlines()[0].split("\t") == [*TEMPLATE_B_HEADER, "Error Code", "Error Message"]
    assert same(read("a.txt", written.encode()))[0]["learner_id"] == "98989"


@pytest.mark.parametrize("name", ["a.xlsx", "a.txt"])
def test_cells_that_look_like_formulas_are_neutralised_in_written_files(name: str) -> None:
    evil = ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)"]
    row = [*TB_ROW[:5], *evil, *TB_ROW[9:]]
    parsed = read(name, text_xlsx([TEMPLATE_B, row]) if name.endswith("xlsx") else txt_bytes([TEMPLATE_B, row]))
    written = write_tabular(parsed, [(parsed.rows[0].cells, "=1+1", "-bad")])
    if name.endswith("xlsx"):
        written_row = load_workbook(io.BytesIO(written)).active[2]
        assert all(c.data_type == "s" for c in written_row if c.value)  # text, never a formula
        cells = [c.value for c in written_row]
    else:
        cells = list(csv.reader(io.StringIO(written.decode("utf-8-sig")), delimiter="\t"))[1]
    assert list(cells[5:9]) == [f"'{v}" for v in evil] and list(cells[-2:]) == ["'=1+1", "'-bad"]
    assert [r["first_name"] for r in same(read(name, written))] == [evil[0]]  # read back as written by the provider


def test_blank_cells_empties_the_cells_of_another_target() -> None:
    parsed = read("a.xlsx", xlsx_bytes([CME_MOC, CME_ROW]))
    state, _ = parsed.rows[0].records
    rejected_board_only = blank_cells(parsed.rows[0].cells, state.own_cells)
    assert rejected_board_only[6:9] == ["", "", ""] and blank_cells(["a"], [5]) == ["a"]
    again = read("a.xlsx", write_tabular(parsed, [(rejected_board_only, "661", "Board ID not found")]))
    assert [r.target.kind for r in records(again)] == ["moc"]


# --- LibreOffice-made workbooks ------------------------------------------------------------------------------


def _csv_rows(name: str) -> list[list[str]]:
    with (FILES / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def _check_libreoffice(name: str, data: bytes) -> None:
    from_text = read(f"{name}.xlsx", xlsx_bytes(_csv_rows(name)))
    from_libreoffice = read(f"{name}.xlsx", data)
    assert len(from_libreoffice.rows) == 20 and from_libreoffice.layout is from_text.layout
    assert meaning(from_libreoffice) == meaning(from_text)


@pytest.mark.parametrize("name", ["libreoffice_template_b", "libreoffice_cme_moc"])
def test_libreoffice_workbooks_read_as_the_text_they_came_from(name: str, tmp_path: Path) -> None:
    committed = (FILES / f"{name}.xlsx").read_bytes()
    _check_libreoffice(name, committed)
    sheet = load_workbook(io.BytesIO(committed), read_only=True).worksheets[0]
    typed = {type(v) for row in sheet.iter_rows(values_only=True) for v in row}
    assert datetime in typed and int in typed  # LibreOffice did turn dates and numbers into typed cells
    if shutil.which("soffice") and name == "libreoffice_cme_moc":  # once is enough: LibreOffice starts slowly
        script = FILES / "make_libreoffice_fixture.sh"
        subprocess.run(["bash", str(script), str(tmp_path)], check=True, capture_output=True, timeout=120)
        _check_libreoffice(name, (tmp_path / f"{name}.xlsx").read_bytes())


# --- hostile files -------------------------------------------------------------------------------------------

HOSTILE = hostile_tabular_files()


def test_there_are_many_hostile_files() -> None:
    assert len(HOSTILE) >= 22 and len({case for case, *_ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("name", "data", "expected"), [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_files_are_refused_with_a_reason(name: str, data: bytes, expected: str) -> None:
    assert expected in error(name, data).message


@pytest.mark.parametrize(("name", "data"), [case[1:3] for case in HOSTILE if case[0].startswith(("bomb", "entity"))],
                         ids=[case[0] for case in HOSTILE if case[0].startswith(("bomb", "entity"))])
def test_bombs_are_refused_in_bounded_memory(name: str, data: bytes) -> None:
    tracemalloc.start()
    try:
        error(name, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_each_reader_refuses_entities_itself_and_that_is_a_batch_file_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind the reader's own scan: calamine knows no entity but XML's own, and openpyxl parses sheets with
    defusedxml: an entity never expands."""
    data = next(d for case, _, d, _ in HOSTILE if case == "entity-billion-laughs")
    monkeypatch.setattr(tabular, "check_zip", lambda _data: None)
    assert error("a.xlsx", data).code == "unsafe_xml"


def _grid_fits(data: bytes) -> bool:
    return xlsx_safety.dense_grid_fits(data, max_rows=MAX_RECORDS + 6, max_columns=201,
                                       max_text_bytes=tabular.MAX_DENSE_TEXT_BYTES)


COLUMNS = [get_column_letter(n) for n in range(1, 201)]


def test_a_workbook_is_read_whole_only_when_its_grid_is_known_to_be_small() -> None:
    header, row = TEMPLATE_B, TB_ROW
    assert _grid_fits(xlsx_bytes([header, row]))
    assert _grid_fits(xlsx_bytes([header, *[row] * MAX_RECORDS]))
    assert _grid_fits(xlsx_bytes([GUIDANCE, CME_MOC, CME_ROW]))

    def patched(data: bytes, old: str, new: str) -> bytes:
        xml = sheet_xml(data).decode()
        assert old in xml
        return rezip(data, replace={"xl/worksheets/sheet1.xml": xml.replace(old, new, 1).encode()})

    small = xlsx_bytes([header, row])
    far = patched(small, "</sheetData>", '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c>'
                                         "</row></sheetData>")
    assert not _grid_fits(far)  # two cells, a grid of 17 billion: streamed instead

    def moved(data: bytes) -> bytes:  # the same sheet, where a workbook's relationships may just as well put it
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            rels, types = archive.read("xl/_rels/workbook.xml.rels"), archive.read("[Content_Types].xml")
            return rezip(data, drop=["xl/worksheets/sheet1.xml"], replace={
                "xl/_rels/workbook.xml.rels": rels.replace(b"worksheets/sheet1.xml", b"elsewhere/data.xml"),
                "[Content_Types].xml": types.replace(b"/xl/worksheets/sheet1.xml", b"/xl/elsewhere/data.xml")},
                add={"xl/elsewhere/data.xml": archive.read("xl/worksheets/sheet1.xml")})

    assert read("moved.xlsx", moved(small)).rows[0].cells[0] == "Learner Template B"
    assert _grid_fits(moved(small)) and not _grid_fits(moved(far))
    assert not _grid_fits(patched(small, "</sheetData>", '<row r="5007"><c r="A5007" t="inlineStr"><is><t>x</t>'
                                                         "</is></c></row></sheetData>"))
    assert not _grid_fits(patched(small, 'r="A2"', ""))  # a cell calamine would place by counting
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    for cell, fits in ((f'<x:c xmlns:x="{main}" r="B3"/>', True), (f'<x:c xmlns:x="{main}"/>', False),
                       ('<c r="B3"/>', True), ("<c/>", False), ("<c>", False)):  # prefixed, empty, bare tags
        closed = "" if cell.endswith("/>") else "</c>"
        assert _grid_fits(patched(small, "</sheetData>", f'<row r="3">{cell}{closed}</row></sheetData>')) is fits, cell
    assert not _grid_fits(patched(small, 'r="A1"', 'r="GT1"'))  # column 202

    def shared_text(text: str, rows: int) -> bytes:  # every cell of `rows` x 200 shows shared string 0
        cells = "".join(f'<row r="{r}">' + "".join(f'<c r="{column}{r}" t="s"><v>0</v></c>' for column in COLUMNS)
                        + "</row>" for r in range(1, rows + 1))
        xml = sheet_xml(small).decode()
        xml = xml[:xml.index("<sheetData>")] + f"<sheetData>{cells}</sheetData>" + xml[xml.index("</sheetData>") + 12:]
        strings = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>{text}</t></si></sst>'
        return rezip(small, replace={"xl/worksheets/sheet1.xml": xml.encode()},
                     add={"xl/sharedStrings.xml": strings.encode()})

    assert _grid_fits(shared_text("x" * 1000, 100))  # 20,000 cells of 1,000 characters: 20 MB of copies
    assert not _grid_fits(shared_text("y" * 30_000, 100))  # 20,000 of 30,000 characters: 600 MB of copies


def test_a_two_cell_workbook_reaching_the_last_cell_is_streamed_and_read(xlsx_reader: str) -> None:
    if xlsx_reader == "openpyxl":
        pytest.skip("streamed whichever way: the guard sends it to openpyxl")
    data = xlsx_bytes([TEMPLATE_B, TB_ROW])
    xml = sheet_xml(data).decode().replace(
        "</sheetData>", '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    far = rezip(data, replace={"xl/worksheets/sheet1.xml": xml.encode()})
    assert [row.number for row in read("far.xlsx", far).rows] == [2]  # XFD is past the columns PARS reads


def test_a_zip_member_count_and_sizes_are_checked_before_parsing() -> None:
    data = xlsx_bytes([CME_MOC, CME_ROW])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(i.file_size < xlsx_safety.MAX_MEMBER_BYTES for i in archive.infolist())
    xlsx_safety.check_zip(data)  # a real workbook passes


def test_a_panic_inside_calamine_is_a_damaged_workbook_not_a_crash(xlsx_reader: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if xlsx_reader != "calamine":
        pytest.skip("calamine's own case")

    class PanicException(BaseException):  # what pyo3 raises when the Rust side panics
        pass

    def panics(_file: Any) -> None:
        raise PanicException("index out of bounds")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", panics)  # the class tabular reads with
    assert error("a.xlsx", xlsx_bytes([TEMPLATE_B, TB_ROW])).code == "not_xlsx"
