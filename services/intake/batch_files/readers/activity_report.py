"""MedBiquitous Activity Report XML (ANSI/MEDBIQ AR.10.1) read into a `ParsedBatch`, one row per ActivityReport.

The document
    `ar:ActivityReports` (namespace `http://ns.medbiq.org/activityreport/v1/`) is the root; a lone `ar:ActivityReport`
    root is taken too, as a one-report document (what a web-service call sends). Any other root is refused. Below
    the root, elements are found by local name whatever their namespace (report_records.py).

Each ActivityReport is read as it ends, checked (safety/xml.py), mapped to its records (report_records.py), kept as
its row's one cell, then freed, with whatever came before it. The file is refused whole (BatchFileError) when it
holds more than MAX_RECORDS reports or none, and for what safety/xml.py refuses: a DTD or entities, XML that is not
well-formed, another root, a value over MAX_CELL_CHARS or nesting deeper than MAX_DEPTH.
"""

from collections.abc import Iterator
from typing import Literal
from uuid import UUID

from lxml import etree

from intake.batch_files.model import MAX_RECORDS, BatchFileError, FileFormat, Layout, ParsedBatch, RowRecord, SourceRow
from intake.batch_files.readers.report_records import report_records
from intake.batch_files.safety.xml import (
    check_prolog_and_root,
    check_subtree,
    iterparse,
    refuse_before_parsing,
    syntax_error,
)

AR_NS = "http://ns.medbiq.org/activityreport/v1/"
MEMBER_NS = "http://ns.medbiq.org/member/v1/"
NAME_NS = "http://ns.medbiq.org/name/v1/"
HX_NS = "http://ns.medbiq.org/lom/extend/v1/"
# PARS's own extension namespace (the `ex` prefix): learnerRecordAction, the REMS fields, and the parsError elements
# rejection files carry. The reader finds learnerRecordAction in any namespace and never reads parsError.
PARS_NS = "http://ns.accme.org/pars/activityreport/extension/v1/"
NSMAP = {None: AR_NS, "m": MEMBER_NS, "n": NAME_NS, "hx": HX_NS, "ex": PARS_NS}

ROOT = f"{{{AR_NS}}}ActivityReports"
REPORT = f"{{{AR_NS}}}ActivityReport"


def read_activity_report(data: bytes, *, provider_id: str, batch_id: UUID,
                         channel: Literal["batch", "ws"] = "batch") -> ParsedBatch:
    """Every ActivityReport of the document as a row with one record per target, or BatchFileError."""
    refuse_before_parsing(data)
    batch = ParsedBatch(format=FileFormat.XML, layout=Layout.ACTIVITY_REPORT)
    for number, report in _reports(data):
        records = [RowRecord(record=r, own_cells=frozenset(certificates))
                   for r, certificates in report_records(report, number, provider_id, batch_id, channel)]
        xml = etree.tostring(report, encoding="unicode", with_tail=False)
        batch.rows.append(SourceRow(number=number, cells=[xml], records=records))
    if not batch.rows:
        raise BatchFileError("no_records", "The file holds no ActivityReport: there is no learner record to report.")
    return batch


# Streaming --------------------------------------------------------------------------------------------------------


def _reports(data: bytes) -> Iterator[tuple[int, etree._Element]]:
    """(1-based number, element) per ActivityReport, each freed once the caller is done with it.

    Only ActivityReport elements make events; one nested inside another is content, not a report."""
    lone = check_prolog_and_root(data, accepted=(ROOT, REPORT)) == REPORT
    count = 0
    try:
        events = iterparse(data, events=("start", "end"), tag=REPORT)
        for event, element in events:
            parent = element.getparent()
            if not (parent is None if lone else parent is not None and parent.getparent() is None):
                continue
            if event == "start":
                count += 1
                _check_count(count, element)
                continue
            check_subtree(element, count)
            yield count, element
            _release(element)
        if not lone and (root := events.root) is not None:
            for rest in root.iterchildren(tag=etree.Element):  # after the last report, so never released
                check_subtree(rest, None)
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None


def _check_count(count: int, element: etree._Element) -> None:
    if count > MAX_RECORDS:
        raise BatchFileError("too_many_records", f"The file holds more than {MAX_RECORDS:,} ActivityReports "
                                                 f"(number {MAX_RECORDS + 1:,} starts on line {element.sourceline}); "
                                                 "split it into several files.")


def _release(report: etree._Element) -> None:
    """Frees a report once read, and whatever came before it (other elements are checked first)."""
    report.clear(keep_tail=False)
    parent = report.getparent()
    while parent is not None and (previous := report.getprevious()) is not None:
        if isinstance(previous.tag, str) and previous.tag != REPORT:
            check_subtree(previous, None)
        parent.remove(previous)

