"""MedBiquitous Activity Report XML: reading, writing back, and refusing hostile files. Pure code, no servers."""

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from lxml import etree

from intake.batch_files.model import BatchFileError, FileFormat, Layout, ParsedBatch, RowOutcome, RowRecord
from intake.batch_files.readers.activity_report import AR_NS, PARS_NS, REPORT, ROOT, _reports, read_activity_report
from intake.batch_files.safety.xml import check_prolog_and_root, iterparse
from intake.batch_files.tests.activity_reports import activity_report_xml
from intake.batch_files.tests.hostile_xml import hostile_xml_files
from intake.batch_files.writers.activity_report import ReportResult, activity_report_results_xml, write_activity_reports
from intake.batch_files.writers.outcome_files import outcome_file
from shared.events import CreditTypeClaim, ReportedRecord, Target

BATCH = UUID("00000000-0000-4000-8000-000000000001")
PROVIDER = "0008001"

HARPER: dict[str, Any] = {
    "activity_id": "210016865", "credit_id": "ccid:example.org:42", "first_name": "Harper", "last_name": "Benton",
    "dob": "11/11", "completion_date": "2021-11-02", "action": "Add", "npi": "1234567893", "provider_id": PROVIDER,
    "board": "ABOHNS", "board_id": "19927", "credits": 8, "credit_types": {"Self-Assessment": 8, "Patient Safety": 1},
    "state": "LA", "license_id": "MD.205357", "cme_credits": 8,
}


def read(data: bytes, channel: str = "batch") -> ParsedBatch:
    return read_activity_report(data, provider_id=PROVIDER, batch_id=BATCH, channel=channel)  # type: ignore[arg-type]


def records(batch: ParsedBatch) -> list[ReportedRecord]:
    return [rr.record for row in batch.rows for rr in row.records]


def by_target(batch: ParsedBatch) -> dict[str, ReportedRecord]:
    return {r.target.code: r for r in records(batch)}


# Reading -----------------------------------------------------------------------------------------------------------


def test_a_report_splits_into_one_record_per_target() -> None:
    batch = read(activity_report_xml([HARPER]))

    assert (batch.format, batch.layout, batch.header) == (FileFormat.XML, Layout.ACTIVITY_REPORT, [])
    assert len(batch.rows) == 1 and batch.rows[0].number == 1
    found = by_target(batch)
    assert list(found) == ["LA", "ABOHNS"]
    moc, cme = found["ABOHNS"], found["LA"]
    assert moc.target == Target(kind="moc", code="ABOHNS")
    assert moc.learner_id == "19927"
    assert moc.credits == "8"
    assert moc.credit_types == [CreditTypeClaim(name="Self-Assessment", points="8"),
                                CreditTypeClaim(name="Patient Safety", points="1")]
    assert cme.target == Target(kind="state", code="LA")
    assert (cme.learner_id, cme.credits, cme.credit_types) == ("MD.205357", "8", [])
    for record in (moc, cme):
        assert (record.channel, record.credit_id_required, record.action) == ("batch", True, "Add")
        assert (record.credit_id, record.activity_id) == ("ccid:example.org:42", "210016865")
        assert (record.first_name, record.last_name, record.dob, record.npi) == ("Harper", "Benton", "11/11",
                                                                                 "1234567893")
        assert record.completion_date == "2021-11-02"
        assert (record.provider_id, record.batch_id, record.submission_id, record.row_number) == (PROVIDER, BATCH,
                                                                                                  BATCH, 1)
    assert moc.record_id != cme.record_id


# ABIM first, then the state's AMA PRA certificate: ABIM MOC - Medical Knowledge (0), AMA PRA (1).
ABIM_AND_LA: dict[str, Any] = {
    "activity_id": "210016865", "credit_id": "ccid:example.org:7", "first_name": "Ann", "last_name": "Lee",
    "dob": "02/03", "completion_date": "2021-11-02", "npi": "1234567893",
    "moc": [{"board": "ABIM", "board_id": "I-1", "credits": 10, "credit_types": {"Medical Knowledge": 10}}],
    "certificates": [("AMA PRA Category 1 Credit", "4")],
}
ABIM_AND_LA_XML = activity_report_xml([ABIM_AND_LA]).replace(
    b'<m:UniqueID domain="ABIM">', b'<m:UniqueID domain="LA">MD.9</m:UniqueID><m:UniqueID domain="ABIM">', 1)


def own_cells(batch: ParsedBatch, row: int = 0) -> dict[str, frozenset[int]]:
    return {rr.record.target.code: rr.own_cells for rr in batch.rows[row].records}


def certifications(report: etree._Element) -> list[str | None]:
    return [c.findtext(".//{*}activityCertification") for c in report.iter("{*}CreditCertificate")]


def test_own_cells_are_the_indexes_of_each_targets_certificates() -> None:
    # HARPER: AMA PRA (0), ABOHNS MOC - Self-Assessment (1), ABOHNS MOC - Patient Safety (2)
    assert own_cells(read(activity_report_xml([HARPER]))) == {"LA": {0}, "ABOHNS": {1, 2}}
    assert own_cells(read(ABIM_AND_LA_XML)) == {"ABIM": {0}, "LA": {1}}
    # A certificate naming nothing PARS forwards belongs to no record; one AMA PRA certificate counts for each state.
    extra = dict(HARPER, certificates=[("AMA PRA Category 2 Credit", "3"), ("ABOHNS MOC", "9")])
    la = b'<m:UniqueID domain="LA">'
    two_states = activity_report_xml([extra]).replace(la, b'<m:UniqueID domain="TX">T-1</m:UniqueID>' + la, 1)
    assert own_cells(read(two_states)) == {"TX": {0}, "LA": {0}, "ABOHNS": {1, 2, 4}}


def test_a_report_with_no_known_target_has_no_own_cells() -> None:
    nothing = dict(HARPER, board=None, state=None, cme_credits=None, certificates=[("Bowling League Points", "3")])
    [record] = read(activity_report_xml([nothing])).rows[0].records

    assert record.own_cells == frozenset() and isinstance(record, RowRecord)


def test_the_row_keeps_the_report_as_xml_with_its_namespaces() -> None:
    row = read(activity_report_xml([HARPER, dict(HARPER, credit_id="ccid:example.org:43")])).rows[1]

    element = etree.fromstring(row.cells[0])
    assert element.tag == REPORT and row.number == 2
    assert element.findtext(".//{*}CreditID") == "ccid:example.org:43"


def test_delete_action_and_missing_action() -> None:
    batch = read(activity_report_xml([dict(HARPER, action="delete"), dict(HARPER, action=None),
                                      dict(HARPER, action="Remove")]))

    assert [rows.records[0].record.action for rows in batch.rows] == ["Delete", "Add", "Remove"]


def test_a_missing_credit_id_is_kept_as_none_for_validation_to_reject() -> None:
    record = records(read(activity_report_xml([dict(HARPER, credit_id=None)])))[0]

    assert record.credit_id is None and record.credit_id_required  # validation answers 650


def test_certification_conventions() -> None:
    report = {
        "activity_id": "210016865", "credit_id": "ccid:x:1", "first_name": "A", "last_name": "B", "dob": "01/02",
        "completion_date": "2021-11-02",
        "moc": [{"board": "ABPATH", "board_id": "P1", "credit_types": {"ABPath MOC Part II": 4}},
                {"board": "ABIM", "board_id": "I1", "credits": 10, "credit_types": {"Medical Knowledge": 6}}],
        "certificates": [("ABS: Self-Assessment", "2"), ("AMA PRA Category 2 Credit", "3"), ("XYZB MOC - Stuff", "1")],
    }
    found = by_target(read(activity_report_xml([report])))

    assert list(found) == ["ABPATH", "ABIM", "ABS", "XYZB"]  # Category 2 goes nowhere; XYZB is left to validation
    assert found["ABPATH"].credit_types == [CreditTypeClaim(name="ABPath MOC Part II", points="4")]
    assert (found["ABPATH"].credits, found["ABPATH"].learner_id) == ("4", "P1")
    assert (found["ABIM"].credits, found["ABIM"].credit_types) == ("10", [CreditTypeClaim(name="Medical Knowledge",
                                                                                          points="6")])
    assert found["ABS"].learner_id is None and found["ABS"].credit_types[0].name == "Self-Assessment"
    assert found["XYZB"].target == Target(kind="moc", code="XYZB")
    assert found["ABIM"].dob == "01/02"


def test_a_report_with_no_known_target_still_gives_one_record() -> None:
    unknown = dict(HARPER, board=None, state=None, cme_credits=None, certificates=[("Bowling League Points", "3")])
    nothing = dict(HARPER, board=None, state=None, cme_credits=None)
    first, second = (records(read(activity_report_xml([r])))[0] for r in (unknown, nothing))

    assert first.target == Target(kind="moc", code="Bowling League Points") and first.credits is None
    assert second.target == Target(kind="moc", code="")


def test_hand_written_report_with_layout_marks_and_rems() -> None:
    xml = f"""<?xml version="1.0"?>
    <ar:ActivityReport xmlns:ar="{AR_NS}" xmlns:m="http://ns.medbiq.org/member/v1/"
        xmlns:hx="http://ns.medbiq.org/lom/extend/v1/" xmlns:x="urn:some-vendor">
      <ar:Member>
        <m:UniqueID domain=" Louisiana ">MD.1</m:UniqueID>
        <m:UniqueID domain="opioid">L-77</m:UniqueID>
        <m:Name><GivenName>  Ann </GivenName><FamilyName>Lee</FamilyName></m:Name>
        <m:BirthDate>1970-02-29T00:00:00</m:BirthDate>
      </ar:Member>
      <ar:Activity><ar:ActivityID>210000001</ar:ActivityID><ar:Module>
        <?vendor do-something?>
        <ar:CompletedDateTime>2021-06-30T23:59:59-05:00</ar:CompletedDateTime>
        <ar:CreditCertificate><ar:CreditReceived>
          <hx:activityCertification>AMA PRA Category 1 Credit™</hx:activityCertification>
          <hx:numberOfCredits> 2.5 </hx:numberOfCredits></ar:CreditReceived>
          <ar:CreditID>  </ar:CreditID></ar:CreditCertificate>
        <ar:CreditCertificate><ar:CreditReceived>
          <hx:activityCertification>Opioid Analgesic REMS</hx:activityCertification></ar:CreditReceived>
          <ar:CreditID>ccid:x:9</ar:CreditID></ar:CreditCertificate>
      </ar:Module></ar:Activity>
      <ar:XtensibleInfo><x:learnerRecordAction> DELETE </x:learnerRecordAction>
        <x:profession>Physician</x:profession><x:timeInPractice>6-10 years</x:timeInPractice>
        <x:surgicalProcedures>no</x:surgicalProcedures></ar:XtensibleInfo>
    </ar:ActivityReport>""".encode()
    batch = read(xml, channel="ws")
    found = by_target(batch)

    assert list(found) == ["LA", "OPIOID"]
    state, rems = found["LA"], found["OPIOID"]
    assert (state.learner_id, state.credits, state.credit_id) == ("MD.1", "2.5", "ccid:x:9")
    assert (rems.target.kind, rems.learner_id, rems.credits) == ("rems", "L-77", None)
    assert rems.rems is not None and (rems.rems.profession, rems.rems.surgical_procedures) == ("Physician", False)
    assert state.rems is None
    assert (state.first_name, state.dob, state.activity_id) == ("Ann", "02/29", "210000001")
    assert (state.completion_date, state.action, state.channel) == ("2021-06-30", "Delete", "ws")
    assert "do-something" not in batch.rows[0].cells[0]  # processing instructions are dropped unread


def test_reports_are_freed_as_they_are_read() -> None:
    data = activity_report_xml([dict(HARPER, credit_id=f"ccid:x:{i}") for i in range(50)])
    for _, report in _reports(data):
        # At most the previous report is left, emptied; those before it are gone: memory stays bounded.
        previous = report.getprevious()
        assert previous is None or (len(previous) == 0 and previous.getprevious() is None)


def test_five_thousand_reports(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    data = activity_report_xml([dict(HARPER, credit_id=f"ccid:x:{i}") for i in range(5_000)])
    generated = time.perf_counter()
    batch = read(data)
    parsed = time.perf_counter()

    assert len(batch.rows) == 5_000 and batch.record_count == 10_000
    assert batch.rows[-1].number == 5_000 and batch.rows[-1].records[0].record.credit_id == "ccid:x:4999"
    with capsys.disabled():
        print(f"\n5,000 reports ({len(data) / 1e6:.1f} MB): generated in {generated - started:.2f} s, "
              f"parsed in {parsed - generated:.2f} s")


# Writing back ------------------------------------------------------------------------------------------------------


def comparable(batch: ParsedBatch) -> list[dict[str, Any]]:
    return [r.model_dump(exclude={"record_id"}) for r in records(batch)]


def test_rejection_file_round_trip() -> None:
    original = read(activity_report_xml([HARPER, dict(HARPER, credit_id=None, action="Delete")]))
    errors = [[("664", "Date of birth does not match <the board's>")], [("650", "Credit ID missing"), ("605", "x")]]
    rejection = write_activity_reports((row.cells[0], e, set()) for row, e in zip(original.rows, errors, strict=True))

    tree = etree.fromstring(rejection)
    assert tree.tag == f"{{{AR_NS}}}ActivityReports"
    written = [[(e.get("code"), e.text) for e in report.iter(f"{{{PARS_NS}}}parsError")] for report in tree]
    assert written == errors
    assert all(e.getparent().tag == f"{{{AR_NS}}}XtensibleInfo" for e in tree.iter(f"{{{PARS_NS}}}parsError"))
    again = read(rejection)
    assert comparable(again) == comparable(original)
    # Rejected once more: the old errors are replaced, not piled up.
    twice = write_activity_reports([(again.rows[1].cells[0], [("650", "still missing")], set())])
    assert [e.text for e in etree.fromstring(twice).iter(f"{{{PARS_NS}}}parsError")] == ["still missing"]


def test_errors_go_into_a_new_xtensible_info_when_the_report_has_none() -> None:
    row = read(activity_report_xml([dict(HARPER, action=None)])).rows[0]
    report = etree.fromstring(write_activity_reports([(row.cells[0], [("631", "Completion date missing")],
                                                       frozenset())]))[0]

    info = report[-1]
    assert info.tag == f"{{{AR_NS}}}XtensibleInfo" and info[0].get("code") == "631"


def test_success_file_has_the_reports_as_they_came() -> None:
    original = read(activity_report_xml([HARPER]))
    success = write_activity_reports([(original.rows[0].cells[0], [], set())])

    assert b"parsError" not in success
    assert comparable(read(success)) == comparable(original)


def test_the_writer_leaves_out_the_certificates_it_is_given() -> None:
    row = read(activity_report_xml([HARPER])).rows[0]

    written = etree.fromstring(write_activity_reports([(row.cells[0], [("664", "no match")], frozenset({0, 2})),
                                                       (row.cells[0], [], set())]))

    assert certifications(written[0]) == ["ABOHNS MOC - Self-Assessment"]
    assert [e.get("code") for e in written[0].iter(f"{{{PARS_NS}}}parsError")] == ["664"]
    assert certifications(written[1]) == ["AMA PRA Category 1 Credit", "ABOHNS MOC - Self-Assessment",
                                          "ABOHNS MOC - Patient Safety"]
    assert not list(written[1].iter(f"{{{PARS_NS}}}parsError"))


def test_a_rejection_without_the_added_abim_certificate_reads_back_as_the_state_record_alone() -> None:
    original = read(ABIM_AND_LA_XML)
    row = original.rows[0]
    abim = next(rr for rr in row.records if rr.record.target.code == "ABIM")

    again = read(write_activity_reports([(row.cells[0], [("718", "No licence match")], abim.own_cells)]))

    assert [r.target for r in records(again)] == [Target(kind="state", code="LA")]
    assert own_cells(again) == {"LA": {0}}
    assert comparable(again) == [r for r in comparable(original) if r["target"]["code"] == "LA"]


def test_outcome_files_leave_out_the_other_outcomes_certificates() -> None:
    rows = read(activity_report_xml([HARPER, dict(HARPER, credit_id="ccid:x:2"), dict(HARPER, credit_id="ccid:x:3")]))
    cells = [row.cells for row in rows.rows]
    state, board = {0}, {1, 2}  # HARPER's LA and ABOHNS certificates
    error = {"code": "664", "message": "Date of birth does not match the board's"}
    outcomes = [RowOutcome(1, cells[0], added_cells=state, rejected_cells=board, added=True, errors=[error]),
                RowOutcome(2, cells[1], added_cells=state | board, rejected_cells=set(), added=True, errors=[]),
                RowOutcome(3, cells[2], added_cells=set(), rejected_cells=state | board, added=False,
                           errors=[error, {"code": "718", "message": "No licence match"}])]
    batch = {"format": "xml", "file_name": "uploads/a.xml", "layout": Layout.ACTIVITY_REPORT.value, "preamble": [],
             "header": []}

    rejections = outcome_file(batch, outcomes, rejected=True)
    successes = outcome_file(batch, outcomes, rejected=False)

    assert (rejections.file_name, rejections.media_type) == ("a-rejections.xml", "application/xml")
    assert successes.file_name == "a-successes.xml"
    rejected, added = etree.fromstring(rejections.content), etree.fromstring(successes.content)
    assert [r.findtext(".//{*}CreditID") for r in rejected] == ["ccid:example.org:42", "ccid:x:3"]
    assert [certifications(r) for r in rejected] == [
        ["ABOHNS MOC - Self-Assessment", "ABOHNS MOC - Patient Safety"],
        ["AMA PRA Category 1 Credit", "ABOHNS MOC - Self-Assessment", "ABOHNS MOC - Patient Safety"]]
    assert [[e.get("code") for e in r.iter(f"{{{PARS_NS}}}parsError")] for r in rejected] == [["664"], ["664", "718"]]
    assert [r.findtext(".//{*}CreditID") for r in added] == ["ccid:example.org:42", "ccid:x:2"]
    assert [certifications(r) for r in added] == [
        ["AMA PRA Category 1 Credit"],
        ["AMA PRA Category 1 Credit", "ABOHNS MOC - Self-Assessment", "ABOHNS MOC - Patient Safety"]]
    assert b"parsError" not in successes.content
    # The corrected rejection file reports only what was rejected: no 603 for what was added.
    again = read(rejections.content)
    assert [[rr.record.target.code for rr in row.records] for row in again.rows] == [["ABOHNS"], ["LA", "ABOHNS"]]


def test_results_xml() -> None:
    results = [ReportResult(1, "ccid:x:1", [("ABIM", "r-1", "Accepted", []),
                                            ("LA", "r-2", "Rejected by PARS", [("718", "No match & <no> luck")])]),
               ReportResult(2, None, [("ABIM", "r-3", "Rejected by PARS", [("650", "Credit ID missing")])])]
    root = etree.fromstring(activity_report_results_xml(results))

    assert root.tag == "ActivityReportResults"
    first, second = root
    assert (first.tag, first.get("index"), first.get("creditID")) == ("ActivityReportResult", "1", "ccid:x:1")
    assert second.get("creditID") is None
    assert [(r.get("target"), r.get("recordID"), r.get("status")) for r in first] == [
        ("ABIM", "r-1", "Accepted"), ("LA", "r-2", "Rejected by PARS")]
    error = first[1][0]
    assert (error.tag, error.get("code"), error.text) == ("Error", "718", "No match & <no> luck")


# Hostile files -----------------------------------------------------------------------------------------------------


def test_there_are_enough_hostile_cases() -> None:
    ids = [case[0] for case in HOSTILE]
    assert len(ids) >= 12 and len(ids) == len(set(ids))


_ROOT = f'<ActivityReports xmlns="{AR_NS}">'


@pytest.mark.parametrize("before", [0, 2030, 2047, 9000], ids=["at once", "across the first step", "at its end",
                                                               "several steps in"])
def test_the_root_is_found_wherever_its_start_tag_falls(before: int) -> None:
    """The root check hands the parser 2 KB at a time (safety.xml): a start tag split between two of them, or
    behind a long prolog, is the root all the same."""
    prolog = '<?xml version="1.0"?>' + (f"<!--{'x' * (before - 28)}-->" if before else "")
    assert check_prolog_and_root(f"{prolog}{_ROOT}</ActivityReports>".encode(), (ROOT, REPORT)) == ROOT


def test_the_root_is_judged_before_an_error_past_its_start_tag() -> None:
    """As when the parser read up to the root and stopped: another document is refused for its root, and an Activity
    Report's own error is left to the parse of its reports, which names it."""
    with pytest.raises(BatchFileError) as refused:
        check_prolog_and_root(b"<rss><channel></rss>", (ROOT, REPORT))
    assert refused.value.code == "wrong_root"
    malformed = f"{_ROOT}<ActivityReport></ActivityReports>".encode()
    assert check_prolog_and_root(malformed, (ROOT, REPORT)) == ROOT
    with pytest.raises(BatchFileError) as refused:
        read(malformed)
    assert refused.value.code == "not_well_formed"


HOSTILE = hostile_xml_files()


@pytest.mark.parametrize(("case", "name", "data", "expected"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_files_are_refused(case: str, name: str, data: bytes, expected: str) -> None:
    passwd = Path("/etc/passwd").read_text(errors="replace").splitlines()[:1]
    started = time.process_time()  # CPU, not wall time: a busy machine (tests in parallel) must not fail the case
    with pytest.raises(BatchFileError) as refused:
        read(data)

    assert expected in refused.value.message
    assert time.process_time() - started < 5  # generous: each takes milliseconds; only a real blow-up takes longer
    assert not any(line and line in refused.value.message for line in passwd)
    assert refused.value.code and name.endswith(".xml")


@pytest.fixture
def listener() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP port that records every connection made to it: the parser must never call out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            seen.append(conn.recv(1024))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    stop.set()
    thread.join()
    server.close()


def test_the_parser_itself_resolves_nothing(tmp_path: Path, listener: tuple[str, list[bytes]]) -> None:
    """Below the DOCTYPE refusal, the parser settings alone keep entities, DTDs and parameter entities unread."""
    url, seen = listener
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    doc = (f'<!DOCTYPE r SYSTEM "{url}/dtd" [<!ENTITY f SYSTEM "{secret.as_uri()}"><!ENTITY h SYSTEM "{url}/e">'
           f'<!ENTITY % p SYSTEM "{url}/p"> %p;]><r><a>&f;</a><b>&h;</b></r>').encode()

    texts = [etree.tostring(el) for _, el in iterparse(doc, events=("end",))]

    assert not any(b"TOP-SECRET-MARKER" in text for text in texts)
    time.sleep(0.3)
    assert seen == []
    # The control: a parser told to resolve entities does read the file, so the check above can fail.
    unsafe = etree.XMLParser(resolve_entities=True, no_network=True)
    control = f'<!DOCTYPE r [<!ENTITY f SYSTEM "{secret.as_uri()}">]><r>&f;</r>'.encode()
    assert b"TOP-SECRET-MARKER" in etree.tostring(etree.fromstring(control, unsafe))


def test_xinclude_is_never_processed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    include = (f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret.as_uri()}" parse="text"/>')
    data = activity_report_xml([dict(HARPER, first_name="Harper")]).replace(b"Harper", include.encode(), 1)

    batch = read(data)

    assert "TOP-SECRET-MARKER" not in batch.rows[0].cells[0] and "xi:include" in batch.rows[0].cells[0]
    assert all(r.first_name is None for r in records(batch))  # the include is an unknown element, not text


def test_a_long_value_outside_any_report_is_refused_too() -> None:
    data = activity_report_xml([HARPER]).replace(b"</ActivityReports>", b"<Note>" + b"x" * 2_000 + b"</Note>"
                                                 b"</ActivityReports>")
    with pytest.raises(BatchFileError, match="at most 1,000"):
        read(data)


def test_a_single_ActivityReport_root_is_one_report() -> None:
    data = activity_report_xml([HARPER])
    report = etree.fromstring(data)[0]

    batch = read(etree.tostring(report), channel="ws")

    assert len(batch.rows) == 1 and {r.channel for r in records(batch)} == {"ws"}


def test_generator_output_is_bytes_of_valid_xml() -> None:
    data = activity_report_xml([HARPER, {"first_name": "Only & <escaped>"}])
    tree = etree.parse(io.BytesIO(data))

    assert tree.getroot().tag == f"{{{AR_NS}}}ActivityReports" and len(tree.getroot()) == 2
    assert uuid4() != BATCH
