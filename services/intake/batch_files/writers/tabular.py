"""Rejection and success files for spreadsheet uploads, in the upload's own format and layout.

Rows go back as they came (the reader's `SourceRow.cells`), under the upload's own preamble and header, so a
corrected rejection file uploads again as it is. Rejection files end with `Error Code` and `Error Message`;
an upload that already had them (a rejection file sent again) gets them replaced, never repeated. A header-less
.txt upload gets Template B's header written: a file PARS hands out should say what its columns are.

Every cell passes through `intake.cells.safe_cell`, so a value that starts like a formula is shown, not run.
Cells are written as text: IDs keep their leading zeros and a month/day birthday is not turned into a date.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Protocol

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from intake.batch_files.model import FileFormat, Layout
from intake.batch_files.readers.columns import ERROR_COLUMN_KEYS, TEMPLATE_B_HEADER, column_key
from intake.cells import safe_cell

ERROR_HEADER = ("Error Code", "Error Message")
SHEET_TITLE = "Sheet1"  # the CME/MOC template's data sheet; the reader looks for it first


class TabularShape(Protocol):
    """What the writer needs of the upload (a `ParsedBatch` has it)."""

    format: FileFormat
    layout: Layout
    preamble: list[list[str]]
    header: list[str]


def blank_cells(cells: Sequence[str], indexes: Iterable[int]) -> list[str]:
    """The row with the given cells emptied: a record added elsewhere is not reported twice on upload."""
    out = list(cells)
    for index in indexes:
        if 0 <= index < len(out):
            out[index] = ""
    return out


def _kept_columns(header: Sequence[str]) -> list[int]:
    """Columns written back: all but an earlier upload's Error Code / Error Message."""
    return [i for i, name in enumerate(header) if column_key(name) not in ERROR_COLUMN_KEYS]


def _layout_rows(shape: TabularShape, rows: Iterable[tuple[list[str], str, str]],
                 with_errors: bool) -> Iterable[list[str]]:
    """Preamble, header and rows as plain lists of text, error columns replaced (or dropped)."""
    header = list(shape.header) or list(TEMPLATE_B_HEADER)
    kept = _kept_columns(header)
    extra = list(ERROR_HEADER) if with_errors else []
    yield from (list(row) for row in shape.preamble)
    yield [header[i] for i in kept] + extra
    for cells, code, message in rows:
        padded = list(cells) + [""] * (len(header) - len(cells))
        yield [padded[i] for i in kept] + ([code, message] if with_errors else [])


def _xlsx_value(text: str) -> str | None:
    if not text:
        return None  # an empty cell, not an empty string
    cell: str = safe_cell(ILLEGAL_CHARACTERS_RE.sub("", text))
    return cell


def _write_xlsx(lines: Iterable[list[str]]) -> bytes:
    workbook = Workbook(write_only=True)  # streams rows to a temporary file: memory stays flat
    sheet = workbook.create_sheet(SHEET_TITLE)
    for line in lines:
        sheet.append([_xlsx_value(cell) for cell in line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_txt(lines: Iterable[list[str]]) -> bytes:
    """Tab-delimited UTF-8 with a BOM (so Excel opens it as UTF-8, and PARS reads it back either way), CRLF."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\r\n")
    for line in lines:
        writer.writerow([safe_cell(cell) for cell in line])
    return text.getvalue().encode("utf-8-sig")


def write_tabular(shape: TabularShape, rows: Iterable[tuple[list[str], str, str]], *,
                  with_errors: bool = True) -> bytes:
    """The file of `rows` ((cells, error code, error message) each) in the upload's own format.

    Rejection files: `with_errors=True` (codes joined by '; ' in one cell). Success files: pass False, and
    the rows go back without error columns (an earlier upload's are dropped).
    """
    lines = _layout_rows(shape, rows, with_errors)
    if shape.format is FileFormat.XLSX:
        return _write_xlsx(lines)
    if shape.format is FileFormat.TXT:
        return _write_txt(lines)
    raise ValueError(f"write_tabular writes .xlsx and .txt files, not {shape.format}")
