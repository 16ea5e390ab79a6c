"""Activity Report XML written back: rejection and success files in the upload's own format, and the web
service's per-record answer.

Rejection file: an `ActivityReports` document (the reader's namespaces, `ex` = PARS_NS) holding each ActivityReport
as it came, with its errors appended inside its `XtensibleInfo` (created at the end of the report when missing):

    <XtensibleInfo>
      <ex:learnerRecordAction>add</ex:learnerRecordAction>
      <ex:parsError code="664">The learner's date of birth does not match the board's.</ex:parsError>
    </XtensibleInfo>

The reader never looks at parsError, so a corrected rejection file uploads again as it is; parsError elements already
in a report (a rejection file uploaded again and rejected again) are replaced, not piled up. A success file is the
same document without errors. XML is not a spreadsheet: nothing needs a formula guard, and lxml escapes the text.

Each report comes with the indexes of CreditCertificate elements to leave out (0-based, document order among the
report's certificates, as the reader numbers them in `own_cells`): a rejection file leaves out the certificates of
the report's added targets and a success file those of its rejected ones, so a corrected rejection file does not
report an added target again (603).

Web-service answer (no namespace):

    <ActivityReportResults>
      <ActivityReportResult index="1" creditID="ccid:example.org:1">
        <Record target="ABIM" recordID="..." status="Rejected by PARS">
          <Error code="650">...</Error>
        </Record>
      </ActivityReportResult>
    </ActivityReportResults>
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from intake.batch_files.readers.activity_report import AR_NS, NSMAP, PARS_NS, ROOT
from intake.batch_files.readers.report_records import certificates_of

PARS_ERROR = f"{{{PARS_NS}}}parsError"
XTENSIBLE_INFO = f"{{{AR_NS}}}XtensibleInfo"
# Characters XML 1.0 cannot carry at all; a message holding one would make lxml refuse the whole file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# (ActivityReport XML as read, [(PARS code, message)], indexes of the CreditCertificates to leave out) of one report
# written back.
ReportRow = tuple[str, list[tuple[str, str]], frozenset[int] | set[int]]
# (target, record ID, status, [(PARS code, message)]) of one record an ActivityReport reported.
RecordResult = tuple[str, str, str, list[tuple[str, str]]]


@dataclass(frozen=True)
class ReportResult:
    """What became of the records of one ActivityReport of a web-service call (index: 1-based, in call order)."""

    index: int
    credit_id: str | None
    records: list[RecordResult] = field(default_factory=list)


def write_activity_reports(rows: Iterable[ReportRow]) -> bytes:
    """An ActivityReports document from (ActivityReport XML as read, [(code, message)], certificates to leave out)
    rows, in order."""
    parser = _fragment_parser()
    root = etree.Element(ROOT, nsmap=NSMAP)
    root.text = "\n"
    for fragment, errors, drop_certificates in rows:
        report = etree.fromstring(fragment, parser)
        _drop_certificates(report, drop_certificates)
        _set_errors(report, errors)
        report.tail = "\n"
        root.append(report)
    # Each fragment carries the namespace declarations it was read with; the root's serve them all.
    etree.cleanup_namespaces(root, top_nsmap=NSMAP, keep_ns_prefixes=list(NSMAP.values()))
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")  # lxml's names are untyped
    return xml


def activity_report_results_xml(results: list[ReportResult]) -> bytes:
    root = etree.Element("ActivityReportResults")
    for result in results:
        attrs = {"index": str(result.index)}
        if result.credit_id is not None:
            attrs["creditID"] = _xml_text(result.credit_id)
        report = etree.SubElement(root, "ActivityReportResult", attrs)
        for target, record_id, status, errors in result.records:
            record = etree.SubElement(report, "Record", target=_xml_text(target), recordID=record_id, status=status)
            for code, message in errors:
                etree.SubElement(record, "Error", code=code).text = _xml_text(message)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


def _fragment_parser() -> etree.XMLParser:
    # The fragments are the reader's own serialisation, but they are still provider text: parse them as safely.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True)


def _drop_certificates(report: etree._Element, indexes: frozenset[int] | set[int]) -> None:
    """Removes the report's CreditCertificates at these indexes, all numbered before any is removed."""
    for index, certificate in enumerate(certificates_of(report)):
        if index in indexes:
            certificate.getparent().remove(certificate)


def _set_errors(report: etree._Element, errors: list[tuple[str, str]]) -> None:
    for old in list(report.iter(PARS_ERROR)):
        old.getparent().remove(old)
    if not errors:
        return
    info = next((c for c in report if isinstance(c.tag, str) and etree.QName(c).localname == "XtensibleInfo"), None)
    if info is None:
        info = etree.SubElement(report, XTENSIBLE_INFO)
    for code, message in errors:
        etree.SubElement(info, PARS_ERROR, code=_xml_text(code)).text = _xml_text(message)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
