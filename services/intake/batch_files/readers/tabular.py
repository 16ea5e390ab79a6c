"""Reads a spreadsheet batch file (.xlsx, tab-delimited .txt) in either PARS layout into a `ParsedBatch`: checks
the file's format, streams its rows, finds the header and maps data rows to records, keeping every value as text
and refusing with `BatchFileError` only what cannot be a batch; each loop stops at the first row over a limit."""

import codecs
import csv
import io
import re
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import chain
from pathlib import PurePath
from typing import Any
from uuid import UUID

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook, SheetTypeEnum

from intake.batch_files.model import (
    MAX_CELL_CHARS,
    MAX_RECORDS,
    BatchFileError,
    FileFormat,
    Keep,
    Layout,
    ParsedBatch,
    SourceRow,
    check_size,
)
from intake.batch_files.readers.cell_values import cell_text
from intake.batch_files.readers.columns import TEMPLATE_B_HEADER, Columns, check_required, columns_for, recognise
from intake.batch_files.readers.template_rows import Context, Row, row_records
from intake.batch_files.safety.xlsx import OLE_MAGIC, caused_by_entities, check_zip, dense_grid_fits, is_ole
from shared.boards import Board, shipped_boards

MAX_COLUMNS = 200  # both layouts have fewer than 40; a wider row is not a learner template
MAX_PREAMBLE_CELL_CHARS = 32_767  # Excel's own cell limit: guidance text above the header may be long
HEADER_SEARCH_ROWS = 5  # the header is row 1 or 2 (under the CME/MOC template's guidance row); a little slack
MAX_DENSE_TEXT_BYTES = 256 * 1024 * 1024  # bound on the text copies of a sheet read whole (see dense_grid_fits)

_NINE_DIGITS = re.compile(r"^\s*\d{9}\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # text files carry tabs and line ends, not these

Rows = Iterable[tuple[int, Sequence[Any]]]  # (row number as the provider sees it, the row's raw values)
RowSource = Generator[tuple[int, Sequence[Any]], None, None]  # a file's rows, read as they are asked for


def _as_read(row: SourceRow) -> SourceRow:
    return row


# --- file formats ------------------------------------------------------------------------------------------

_MAGIC = (
    (OLE_MAGIC, "an old-format Excel workbook (.xls) or a password-protected workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook, perhaps)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"{\\rtf", "a Rich Text (RTF) document"),
)


def _sniff(data: bytes) -> str | None:
    return next((what for magic, what in _MAGIC if data.startswith(magic)), None)


def file_format(file_name: str, data: bytes) -> FileFormat:
    """The format the name claims, once the bytes agree; otherwise the reason the file cannot be read."""
    suffix = PurePath(file_name or "").suffix.lower()
    if suffix not in (".xlsx", ".txt"):
        raise BatchFileError("unknown_type", f"PARS reads .xlsx workbooks and tab-delimited .txt files here, "
                                             f"not '{suffix or file_name}' files.")
    if not data:
        raise BatchFileError("empty_file", "The file is empty.")
    check_size(data)
    kind = _sniff(data)
    if suffix == ".xlsx" and not data.startswith(b"PK\x03\x04"):
        ole = is_ole(data)  # Excel encrypts a protected .xlsx into this container too
        if kind is None:
            tabbed = b"\t" in data[:4096] and b"\x00" not in data[:4096]
            what = "not an Excel workbook (it is not a zip archive)" + (
                "; it looks like tab-delimited text: name it .txt" if tabbed else "")
        else:
            what = f"{kind}; save it from Excel as 'Excel Workbook (.xlsx)'" + (" without a password" if ole else "")
        raise BatchFileError("encrypted" if ole else "not_xlsx", f"The .xlsx file is {what}.")
    if suffix == ".txt" and kind is not None:
        raise BatchFileError("not_text", f"The .txt file is {kind}, not tab-delimited text.")
    return FileFormat.XLSX if suffix == ".xlsx" else FileFormat.TXT


# --- .xlsx -------------------------------------------------------------------------------------------------


def _xlsx_rows(data: bytes) -> RowSource:
    """(row number, values) of the data sheet: 'Sheet1' when there is one (the CME/MOC template keeps its lists
    on other sheets), else the first worksheet. python-calamine reads a workbook whose size is known to be
    small (any real learner file) twenty times faster than openpyxl; any other is streamed by openpyxl's
    read-only mode, which stops at the first row over a limit."""
    check_zip(data)
    if dense_grid_fits(data, max_rows=MAX_RECORDS + HEADER_SEARCH_ROWS + 1, max_columns=MAX_COLUMNS + 1,
                       max_text_bytes=MAX_DENSE_TEXT_BYTES):
        return _calamine_rows(data)
    return _openpyxl_rows(data)


def _data_sheet(names: Sequence[str]) -> str:
    if not names:
        raise BatchFileError("no_sheets", "The workbook has no worksheet.")
    return next((name for name in names if name.strip().casefold() == "sheet1"), names[0])


def _calamine_rows(data: bytes) -> RowSource:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            name = _data_sheet([m.name for m in workbook.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet])
            grid = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)  # from A1: row numbers hold
        finally:
            workbook.close()
    except (BatchFileError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine's own errors on a damaged workbook; a Rust panic is a BaseException
        raise _unreadable(exc) from exc
    return _drained(grid)


def _drained(grid: list[list[Any]]) -> RowSource:
    """The grid's rows in order, each let go once read: four files read at once need not hold four grids."""
    grid.reverse()
    number = 0
    while grid:
        number += 1
        yield number, grid.pop()[:MAX_COLUMNS + 1]


def _openpyxl_rows(data: bytes) -> RowSource:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except BatchFileError:
        raise
    except Exception as exc:  # openpyxl raises anything from KeyError to ParseError on a damaged workbook
        raise _unreadable(exc) from exc
    try:
        title = _data_sheet([s.title for s in workbook.worksheets])
        sheet = next(s for s in workbook.worksheets if s.title == title)
        sheet.reset_dimensions()  # a workbook's declared dimensions may lie (A1:XFD1048576): ignore them
        rows = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
        yield from enumerate(rows, start=1)
    except BatchFileError:
        raise
    except Exception as exc:
        raise _unreadable(exc) from exc
    finally:
        workbook.close()


def _unreadable(exc: BaseException) -> BatchFileError:
    if caused_by_entities(exc):
        return BatchFileError("unsafe_xml", "The workbook's XML declares entities, which Excel never writes; "
                                            "it is refused.")
    return BatchFileError("not_xlsx", f"The workbook could not be read ({type(exc).__name__}); open it in "
                                      f"Excel and save it again as 'Excel Workbook (.xlsx)'.")


# --- .txt --------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's 'Unicode Text'), else Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        if (nul := data.find(b"\x00")) >= 0:
            raise BatchFileError("not_text", f"The .txt file holds binary data (a NUL byte at byte {nul + 1}); "
                                             "save the sheet as 'Text (Tab delimited)'.")
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BatchFileError("not_text", "The .txt file is not text in UTF-8 or Windows-1252; save the sheet as "
                                         "'Text (Tab delimited)' or 'Unicode Text'.")
    text = text.rstrip("\x1a")  # an old DOS end-of-file mark
    if control := _CONTROL.search(text):
        line = text.count("\n", 0, control.start()) + 1
        raise BatchFileError("not_text", f"The .txt file holds binary data (a control character on line {line}); "
                                         "save the sheet as 'Text (Tab delimited)'.")
    return text


def _text_rows(data: bytes) -> RowSource:
    """(row number, cells): the csv module reads quoted cells ("..." with doubled quotes) and CRLF or LF."""
    reader = csv.reader(io.StringIO(decode_text(data), newline=""), delimiter="\t")
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as exc:
        raise BatchFileError("cell_too_long", f"Row {number + 1} cannot be read: a cell is far too long, probably "
                                              "because a quote (\") opens it and never closes.") from exc


# --- the table: preamble, header, data rows ----------------------------------------------------------------


def _trimmed(values: Sequence[Any]) -> list[Any]:
    end = len(values)
    while end and (values[end - 1] is None or values[end - 1] == ""):
        end -= 1
    return list(values[:end])


def _blank(cells: Sequence[str]) -> bool:
    return all(not c.strip() for c in cells)


def _column_name(fmt: FileFormat, header: Sequence[str], index: int) -> str:
    name = header[index].strip() if index < len(header) and header[index].strip() else ""
    where = f"column {get_column_letter(index + 1)}" if fmt is FileFormat.XLSX else f"column {index + 1}"
    return f"{where} ('{name}')" if name else where


def _check_width(number: int, values: Sequence[Any]) -> list[Any]:
    trimmed = _trimmed(values)
    if len(trimmed) > MAX_COLUMNS:
        raise BatchFileError("too_many_columns", f"Row {number} has more than {MAX_COLUMNS} columns; a learner "
                                                 "template has far fewer.")
    return trimmed


def _check_cells(fmt: FileFormat, number: int, cells: Sequence[str], header: Sequence[str], limit: int) -> None:
    if max(map(len, cells), default=0) <= limit:
        return  # the usual row: no cell to name
    for index, cell in enumerate(cells):
        if len(cell) > limit:
            why = ""
            if fmt is FileFormat.TXT and "\n" in cell:  # the csv module read on to the next quote it found
                why = f" It runs over {cell.count(chr(10)) + 1} lines: a quote (\") opens it and is never closed."
            raise BatchFileError("cell_too_long", f"Row {number}, {_column_name(fmt, header, index)}: the cell "
                                                  f"has {len(cell):,} characters; PARS takes at most {limit:,}.{why}")


def _looks_like_template_b_data(cells: Sequence[str]) -> bool:
    """A header-less .txt (the PARS instructions ask for the header to be deleted) starts with a data row."""
    first = cells[0].strip().casefold() if cells else ""
    return first.startswith("learner template") or (len(cells) > 2 and bool(_NINE_DIGITS.match(cells[2])))


@dataclass
class _Table:
    columns: Columns
    preamble: list[list[str]]
    header: list[str]  # empty for a header-less .txt


def _unknown_header(number: int, cells: Sequence[str]) -> BatchFileError:
    found = ", ".join(f"'{c.strip()[:40]}'" for c in cells[:6] if c.strip()) or "nothing"
    return BatchFileError("unknown_header", f"Row {number} is not a header PARS recognises (found {found}). A Learner "
                                            "Template B header reads 'Template, Activity Registration, ACCME Activity "
                                            "ID, ...'; the CME/MOC template's reads 'Record Action, ACCME Activity ID, "
                                            "Completion Date, ...'.")


def _find_header(fmt: FileFormat, rows: Iterator[tuple[int, Sequence[Any]]]) -> tuple[_Table, list[tuple[int, Any]]]:
    """Reads rows until the header, which may sit under a guidance row or two; answers the table and, for a
    header-less .txt, the data row already read."""
    fallback = Layout.TEMPLATE_B if fmt is FileFormat.TXT else Layout.CME_MOC
    preamble: list[list[str]] = []
    first_seen: tuple[int, list[str]] | None = None
    for number, values in rows:
        if number > HEADER_SEARCH_ROWS:
            break
        cells = [cell_text(v) for v in _check_width(number, values)]
        _check_cells(fmt, number, cells, [], MAX_PREAMBLE_CELL_CHARS)
        if _blank(cells):
            preamble.append([])
            continue
        if (columns := recognise(cells, fallback)) is not None:
            check_required(columns)
            return _Table(columns, preamble, cells), []
        if first_seen is None and fmt is FileFormat.TXT and _looks_like_template_b_data(cells):
            return _Table(columns_for(Layout.TEMPLATE_B, TEMPLATE_B_HEADER), [], []), [(number, values)]
        first_seen = first_seen or (number, cells)
        preamble.append(cells)
    if first_seen is not None:
        raise _unknown_header(*first_seen)
    if preamble:
        raise BatchFileError("unknown_header", f"The first {HEADER_SEARCH_ROWS} rows are blank; the header row "
                                               "must be row 1, or row 2 under a guidance row.")
    raise BatchFileError("no_rows", "The file has no rows: neither a header nor learner records.")


def _data_rows(fmt: FileFormat, table: _Table, source: Rows, ctx: Context, keep: Keep) -> list[Any]:
    columns, roles = table.columns, table.columns.roles
    header = table.header or list(TEMPLATE_B_HEADER)
    rows: list[Any] = []
    for number, values in source:
        trimmed = _check_width(number, values)[: columns.width]
        cells = [cell_text(v, role) for v, role in zip(trimmed, roles, strict=False)]
        if _blank(cells):
            continue
        if len(rows) == MAX_RECORDS:
            raise BatchFileError("too_many_records", f"The file has more than {MAX_RECORDS:,} learner rows (row "
                                                     f"{number} is one too many); split it into several files.")
        _check_cells(fmt, number, cells, header, MAX_CELL_CHARS)
        cells += [""] * (columns.width - len(cells))
        rows.append(keep(SourceRow(number=number, cells=cells, records=row_records(ctx, number, Row(cells, columns)))))
    return rows


def read_tabular(file_name: str, data: bytes, *, provider_id: str, batch_id: UUID,
                 boards: Mapping[str, Board] | None = None, keep: Keep | None = None) -> ParsedBatch:
    """Reads a .xlsx or tab-delimited .txt batch file; raises BatchFileError when it cannot be a batch.

    `boards` is the catalogue that tells Template B's Activity Registration codes apart (default: shipped).
    `keep` turns each data row, as soon as it is read, into what the batch's `rows` hold (default: the row): an
    upload keeps its rows' messages, not 5,000 records' models at once.
    """
    fmt = file_format(file_name, data)
    ctx = Context(provider_id, batch_id, boards if boards is not None else shipped_boards())
    source = _xlsx_rows(data) if fmt is FileFormat.XLSX else _text_rows(data)
    with closing(source):
        table, pending = _find_header(fmt, source)
        rows = _data_rows(fmt, table, chain(pending, source), ctx, keep or _as_read)
    if not rows:
        raise BatchFileError("no_rows", "The file has a header but no learner records.")
    return ParsedBatch(format=fmt, layout=table.columns.layout, preamble=table.preamble, header=table.header,
                       rows=rows)
