"""The rejection and success files of a batch, in the upload's own format."""

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from intake.batch_files.model import FileFormat, Layout, ParsedBatch, RowOutcome

MEDIA_TYPES = {FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               FileFormat.TXT: "text/tab-separated-values; charset=utf-8", FileFormat.XML: "application/xml"}


@dataclass(frozen=True)
class WrittenFile:
    file_name: str
    media_type: str
    content: bytes


def _name(upload: str, kind: str, file_format: FileFormat) -> str:
    stem = PurePath(upload).stem or "batch"
    return f"{stem}-{kind}.{file_format.value}"


def _codes(errors: list[dict[str, str]]) -> tuple[str, str]:
    """Several codes joined by '; ' (CONTRACT.md), each once, in the order the row's records got them."""
    seen: dict[str, str] = {}
    for e in errors:
        seen.setdefault(e["code"], e["message"])
    return "; ".join(seen), "; ".join(seen.values())


def _left_out(o: RowOutcome, rejected: bool) -> set[int]:
    """The cells of the row's records that belong in the other file."""
    return (o.added_cells - o.rejected_cells) if rejected else (o.rejected_cells - o.added_cells)


def outcome_file(batch: Any, outcomes: list[RowOutcome], *, rejected: bool) -> WrittenFile:
    """Rejections: every row with a rejected record, the cells of its added records blanked, and the codes.
    Successes: every row with an added record, the cells of its rejected records blanked.
    XML: a row's cells are its CreditCertificates (readers/report_records.py), left out instead of blanked."""
    file_format = FileFormat(batch["format"])
    chosen = [o for o in outcomes if (o.errors if rejected else o.added)]
    kind = "rejections" if rejected else "successes"
    if file_format is FileFormat.XML:
        from intake.batch_files.writers.activity_report import write_activity_reports
        content = write_activity_reports(  # cells[0] is the report's XML; its cell indexes are certificate indexes
            (o.cells[0], [(e["code"], e["message"]) for e in o.errors] if rejected else [], _left_out(o, rejected))
            for o in chosen)
    else:
        from intake.batch_files.writers.tabular import blank_cells, write_tabular
        shape = ParsedBatch(format=file_format, layout=Layout(batch["layout"]), preamble=batch["preamble"],
                            header=batch["header"])
        rows = [(blank_cells(o.cells, _left_out(o, rejected)), *(_codes(o.errors) if rejected else ("", "")))
                for o in chosen]
        content = write_tabular(shape, rows, with_errors=rejected)
    return WrittenFile(_name(batch["file_name"], kind, file_format), MEDIA_TYPES[file_format], content)
