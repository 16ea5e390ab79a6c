"""What a batch file reads into: its rows as the provider wrote them, each with the learner records it reports.

The readers (readers/tabular.py for .xlsx and tab-delimited .txt, readers/activity_report.py for MedBiquitous XML)
produce a `ParsedBatch`; the writers turn its rows back into the upload's own format for the rejection and success
files. Nothing here touches Kafka or SQL.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol

from typing_extensions import TypeVar  # with a default (PEP 696), as typing's from Python 3.13

from shared.events import ReportedRecord
from shared.limits import all_keepable, completion_problems, text_problem

MAX_RECORDS = 5_000  # rows (learner completions) in one file; one more and the whole file is refused
MAX_FILE_BYTES = 20 * 1024 * 1024  # an upload larger than this is refused before it is read
# Multipart framing around the file; a body much larger than the file limit is refused (413) before it is read.
FRAMING_BYTES = 64 * 1024
MAX_CELL_CHARS = 1_000  # a longer cell is not a value any PARS field takes: the file is refused, naming it


class FileFormat(StrEnum):
    XLSX = "xlsx"
    TXT = "txt"
    XML = "xml"


class Layout(StrEnum):
    TEMPLATE_B = "Learner Template B"
    CME_MOC = "CME/MOC template"
    ACTIVITY_REPORT = "MedBiquitous Activity Report"


class BatchFileError(Exception):
    """The file cannot be a batch at all: the upload answers 422 and the history lists it as failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # short machine name: unknown_type, not_xlsx, too_many_records, missing_column, ...
        self.message = message


def too_large() -> BatchFileError:
    return BatchFileError("file_too_large", f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the "
                                            "most a batch file may be; split it into several files.")


def check_size(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise too_large()


@dataclass(frozen=True)
class RowRecord:
    """One learner record a row reports, and the cells that belong to its target alone.

    A CME/MOC template row can report a state licence, a board and a REMS program at once. When some of its
    records are added and others rejected, the rejection file blanks the cells of the added ones (and the
    success file those of the rejected ones), so a corrected rejection file uploads again without duplicates.
    """

    record: ReportedRecord
    own_cells: frozenset[int] = frozenset()  # column indexes (tabular); CreditCertificate indexes (XML)


@dataclass
class SourceRow:
    number: int  # as the provider sees it: the spreadsheet row, the text line, the nth ActivityReport
    cells: list[str]  # tabular: the row's cells as text, in file order; XML: [the ActivityReport element's XML]
    records: list[RowRecord]  # at least one: a row with no target still gets a record, which validation rejects


@dataclass
class RowOutcome:
    """A row as it came and what became of the records it reported: what its rejection or success file is
    written from (writers/outcome_files.py)."""

    number: int
    cells: list[str]
    added_cells: set[int]  # cells of the row's added records alone
    rejected_cells: set[int]
    added: bool
    errors: list[dict[str, str]]  # of its rejected records, in target order


class _Row(Protocol):
    @property
    def records(self) -> Sequence[object]: ...


# What a batch's rows hold: each row as read, or what a reader's `keep` made of it (an upload's QueuedRow).
R = TypeVar("R", bound=_Row, default=SourceRow)


@dataclass
class ParsedBatch(Generic[R]):
    format: FileFormat
    layout: Layout
    preamble: list[list[str]] = field(default_factory=list)  # rows above the header (the CME/MOC guidance row)
    header: list[str] = field(default_factory=list)  # as written in the file; empty for XML and headerless .txt
    rows: list[R] = field(default_factory=list)

    @property
    def record_count(self) -> int:
        return sum(len(r.records) for r in self.rows)


Keep = Callable[[SourceRow], Any]  # a data row as read -> what the parsed batch holds of it (readers' `keep`)


def refuse_unkeepable(batch: ParsedBatch) -> None:
    """A value no service downstream could keep (a NUL, an over-long name, too many targets: shared/limits.py)
    refuses the whole file, naming the row and the field, like the other whole-file errors: once a batch is
    answered 202, every record of it must reach a status its provider can see. A spreadsheet's other cells are
    kept too (the rejection file gives them back), so none may hold a NUL or a control character either; an
    xlsx cell can, spelt `_x0000_`."""
    if problem := shape_problem(batch):
        raise problem
    for row in batch.rows:
        if problem := row_problem(batch.format, row):
            raise problem


def shape_problem(batch: ParsedBatch) -> BatchFileError | None:
    """The first unkeepable cell above the data rows (the preamble, then the header): checked before any row's."""
    if batch.format is FileFormat.XML:
        return None
    for number, cells in enumerate(batch.preamble, start=1):
        if problem := _cells_problem(f"Row {number} (above the header)", cells):
            return problem
    return _cells_problem("The header", batch.header)


def row_problem(file_format: FileFormat, row: SourceRow) -> BatchFileError | None:
    """Why one data row cannot be kept (its records' values first, then its cells), or None."""
    row_word = "ActivityReport" if file_format is FileFormat.XML else "Row"
    if problems := completion_problems([r.record for r in row.records]):
        first = problems[0]
        more = f" (and {len(problems) - 1} more in that row)" if len(problems) > 1 else ""
        return BatchFileError("value_not_kept", f"{row_word} {row.number}: {first.field} {first.reason}{more}; "
                                                "correct it and send it again.")
    if file_format is not FileFormat.XML:
        return _cells_problem(f"Row {row.number}", row.cells)
    return None


def _cells_problem(where: str, cells: list[str]) -> BatchFileError | None:
    if all_keepable(cell for cell in cells if isinstance(cell, str)):
        return None  # one search for the row; the column is looked for only in a row that has something
    for column, cell in enumerate(cells, start=1):
        if isinstance(cell, str) and (problem := text_problem(cell)):
            return BatchFileError("value_not_kept", f"{where}, column {column}: the cell {problem}; correct it and "
                                                    "send it again.")
    return None
