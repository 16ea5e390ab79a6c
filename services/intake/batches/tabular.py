"""Spreadsheet batch files (.xlsx, tab-delimited .txt) in either PARS layout, read into a `ParsedBatch`.

The reader keeps every value as the text the provider meant (no judging: validation answers with PARS codes)
and refuses, with `BatchFileError`, only files that cannot be a batch at all. Uploads are untrusted: an .xlsx
is a zip of XML, so its members are measured before openpyxl sees them (bombs, entity tricks), and every
loop stops at the first row over a limit, so time and memory stay bounded whatever arrives.

Layouts (CONTRACT.md section 4) are told apart by the header's column names, matched loosely: numbering
("3. ACCME Activity ID") and notes ("8. Date of Birth (MM/DD) -") are ignored, as are unknown columns and the
`Error Code` / `Error Message` columns of a rejection file uploaded again.
"""

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, count
from pathlib import PurePath
from typing import Any
from uuid import UUID, uuid4

from defusedxml import DefusedXmlException
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from intake.batches.model import (
    MAX_CELL_CHARS,
    MAX_FILE_BYTES,
    MAX_RECORDS,
    BatchFileError,
    FileFormat,
    Layout,
    ParsedBatch,
    RowRecord,
    SourceRow,
)
from shared.boards import Board, shipped_boards
from shared.credit_ids import derived_credit_id
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, Target
from shared.states import state_code

MAX_COLUMNS = 200  # both layouts have fewer than 40; a wider row is not a learner template
MAX_PREAMBLE_CELL_CHARS = 32_767  # Excel's own cell limit: guidance text above the header may be long
HEADER_SEARCH_ROWS = 5  # the header is row 1 or 2 (under the CME/MOC template's guidance row); a little slack
MIN_HEADER_COLUMNS = 3  # fewer recognised names than this and a row is data or noise, not a header

# Zip limits, checked on each member's declared sizes before anything is inflated, then on what inflates.
# 5,000 rows of 20 columns make a sheet of about 4 MB (compressed 13:1); 200 columns, about 40 MB. openpyxl holds
# the shared strings part in memory, so no part may be much larger than the largest real sheet.
MAX_ZIP_MEMBERS = 1_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_RATIO = 100  # compression ratio refused for members larger than RATIO_FLOOR_BYTES (small XML packs well)
RATIO_FLOOR_BYTES = 10 * 1024 * 1024
_SCAN_CHUNK = 1024 * 1024
_FORBIDDEN_XML = (b"<!doctype", b"<!entity")  # xlsx parts never declare a DTD; one that does is an attack

_EXCEL_EPOCH = date(1899, 12, 30)  # serial 61 and later; Excel counts a 29 Feb 1900 that never was (serial 60)
_MAX_SERIAL = 2_958_465  # 9999-12-31
_SERIAL = re.compile(r"^\s*(\d{1,7})(?:\.\d+)?\s*$")
_TEN_DIGITS = re.compile(r"^\d{10}$")
_NINE_DIGITS = re.compile(r"^\s*\d{9}\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # text files carry tabs and line ends, not these
_FORMULA_QUOTED = re.compile(r"^'[=+\-@\t\r]")  # what shared.cells.safe_cell wrote: undone on the way back in

Rows = Iterable[tuple[int, Sequence[Any]]]  # (row number as the provider sees it, the row's raw values)

# --- column names ------------------------------------------------------------------------------------------

TEMPLATE_B_HEADER = (
    "Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID", "First Name",
    "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
    "Activity Certification (1st)", "Activity Certification (2nd)", "Activity Certification (3rd)",
    "Activity Certification (4th)", "Activity Certification (5th)", "Activity Certification (6th)",
)
_CERTS = tuple(f"cert{n}" for n in range(1, 7))

# field -> (name as the template writes it, other names seen or plausible), per layout
_TEMPLATE_B_NAMES: dict[str, tuple[str, ...]] = {
    "template": ("Template", "Template Name"),
    "registration": ("Activity Registration", "Registration"),
    "activity_id": ("ACCME Activity ID", "Activity ID"),
    "learner_id_type": ("Learner ID Type",),
    "learner_id": ("Learner ID",),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "dob": ("Date of Birth", "DOB"),
    "completion_date": ("Date of Completion", "Completion Date"),
    "action": ("Action", "Record Action"),
    "credits": ("Number of Credits", "Credits"),
} | {cert: (f"activity certification #{n}",) for n, cert in enumerate(_CERTS, start=1)}

# REMS columns: boards.md lists the fields, not the template's names for them, so these are chosen (and
# matched with a few alternatives): REMS Program, Learner Local ID, Profession, Time in Practice, State of
# Primary Practice, Practice Area, DEA Registration, Surgical Procedures.
_REMS_NAMES: dict[str, tuple[str, ...]] = {
    "rems_program": ("REMS Program", "REMS Program Name"),
    "rems_learner_id": ("Learner Local ID", "Local Learner ID", "Local ID", "REMS Learner ID",
                        "Provider Learner ID"),
    "profession": ("Profession", "Learner Profession"),
    "time_in_practice": ("Time in Practice", "Years in Practice"),
    "practice_state": ("State of Primary Practice", "Primary Practice State", "Practice State"),
    "practice_area": ("Practice Area", "Area of Practice"),
    "dea_registration": ("DEA Registration", "DEA"),
    "surgical_procedures": ("Surgical Procedures", "Performs Surgical Procedures"),
}
_CME_MOC_NAMES: dict[str, tuple[str, ...]] = {
    "action": ("Record Action", "Action"),
    "activity_id": ("ACCME Activity ID", "Activity ID"),
    "completion_date": ("Completion Date", "Date of Completion"),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "dob": ("Date of Birth", "DOB"),
    "license_state": ("Licensing State", "License State", "State of Licensure"),
    "license_id": ("Licensing ID or NPI", "License ID or NPI", "Licensing ID", "License ID", "License Number"),
    "cme_credits": ("Number of CME Credits", "CME Credits"),
    "board": ("Certifying Board",),
    "board_id": ("Certifying Board ID", "Board ID"),
    "board_credits": ("Total Board Credits", "Board Credits"),
} | _REMS_NAMES

_REQUIRED = {
    Layout.TEMPLATE_B: ("registration", "activity_id", "learner_id", "first_name", "last_name", "dob",
                        "completion_date", "action", "credits"),
    Layout.CME_MOC: ("action", "activity_id", "completion_date", "first_name", "last_name", "dob"),
}
# CME/MOC targets come in groups of columns: a group that is there at all needs these, and one group is needed.
_TARGET_GROUPS = {
    "state": ("license_state", "license_id", "cme_credits"),
    "board": ("board", "board_id", "board_credits"),
    "rems": ("rems_program", "rems_learner_id"),  # a REMS record missing the rest gets 998 from validation
}
# A rejection file's own columns: no field reads them on upload, and the writer replaces them.
ERROR_COLUMN_KEYS = frozenset({"error code", "error codes", "error message", "error messages"})
_CREDIT_TYPE = re.compile(r"^(?:additional )?credit type(?: \d+)?$")
_CREDIT_POINTS = re.compile(r"^(?:credits? awarded (?:for )?(?:additional )?credit type(?: \d+)?"
                            r"|(?:additional )?credit type(?: \d+)? credits?(?: awarded)?)$")

_NUMBERING = re.compile(r"^\s*\d+\s*[.)]?\s+|^\s*\d+\s*[.)]\s*")
_CERTIFICATION = re.compile(r"^activity certification\s*\(?\s*(\d)\s*(?:st|nd|rd|th)?\s*\)?")
_NOTE = re.compile(r"\s*(?:[(\[:*–—]|\s-|-\s*$)")
_NOT_WORD = re.compile(r"[^a-z0-9# ]+")


def column_key(name: str) -> str:
    """A header cell as a lookup key: 'Date of Birth (MM/DD) -' -> 'date of birth'; the ordinal of
    'Activity Certification (2nd)' is kept ('activity certification #2')."""
    text = " ".join(name.casefold().split())
    text = _NUMBERING.sub("", text, count=1)
    if match := _CERTIFICATION.match(text):
        return f"activity certification #{match[1]}"
    text = _NOTE.split(text, maxsplit=1)[0]
    return " ".join(_NOT_WORD.sub(" ", text).split())


def _lookup(names: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {column_key(alias): field for field, aliases in names.items() for alias in aliases}


_LOOKUPS = {Layout.TEMPLATE_B: _lookup(_TEMPLATE_B_NAMES), Layout.CME_MOC: _lookup(_CME_MOC_NAMES)}


@dataclass(frozen=True)
class Columns:
    """Where a layout's fields sit in the file (0-based column indexes)."""

    layout: Layout
    fields: Mapping[str, int]
    pairs: tuple[tuple[int, int | None], ...] = ()  # CME/MOC (credit type, credits awarded) columns
    width: int = 0

    @property
    def roles(self) -> list[str]:
        """Per column, how its date cells read: a birthday as month/day, a completion as a day, others as ISO."""
        roles = [""] * self.width
        for field, role in (("dob", "dob"), ("completion_date", "completion")):
            if field in self.fields:
                roles[self.fields[field]] = role
        return roles


def _columns_for(layout: Layout, header: Sequence[str]) -> Columns:
    lookup = _LOOKUPS[layout]
    fields: dict[str, int] = {}
    pairs: list[list[Any]] = []
    unnumbered = count(1)  # 'Activity Certification' written without its ordinal: taken in order
    for index, name in enumerate(header):
        key = column_key(name)
        if layout is Layout.TEMPLATE_B and key == "activity certification":
            key = f"activity certification #{next(unnumbered)}"
        field = lookup.get(key)
        if field is not None:
            fields.setdefault(field, index)  # a repeated column: the first one counts
        elif layout is Layout.CME_MOC and _CREDIT_TYPE.match(key):
            pairs.append([index, None])
        elif layout is Layout.CME_MOC and _CREDIT_POINTS.match(key) and pairs and pairs[-1][1] is None:
            pairs[-1][1] = index
    return Columns(layout, fields, tuple((t, p) for t, p in pairs), len(header))


def _recognise(header: Sequence[str], fallback: Layout) -> Columns | None:
    """The layout whose column names the row carries most of; None when the row is not a header."""
    candidates = [_columns_for(layout, header) for layout in (Layout.TEMPLATE_B, Layout.CME_MOC)]
    scores = [len(c.fields) + len(c.pairs) for c in candidates]
    if max(scores) < MIN_HEADER_COLUMNS:
        return None
    if scores[0] == scores[1]:  # only the columns both layouts share: the file's usual layout decides
        return candidates[0] if fallback is Layout.TEMPLATE_B else candidates[1]
    return candidates[0] if scores[0] > scores[1] else candidates[1]


def _display(layout: Layout, field: str) -> str:
    names = _TEMPLATE_B_NAMES if layout is Layout.TEMPLATE_B else _CME_MOC_NAMES
    return names[field][0]


def _check_required(columns: Columns) -> None:
    missing = [f for f in _REQUIRED[columns.layout] if f not in columns.fields]
    no_target = ""
    if columns.layout is Layout.CME_MOC:
        present = [g for g in _TARGET_GROUPS.values() if any(f in columns.fields for f in g)]
        missing += [f for group in present for f in group if f not in columns.fields]
        if not present:
            no_target = ("The header row names no target: the CME/MOC template needs the Licensing State, "
                         "Certifying Board or REMS Program columns.")
    if missing:
        names = ", ".join(_display(columns.layout, f) for f in missing)
        raise BatchFileError("missing_column", f"The header row is missing required column(s) of the "
                                               f"{columns.layout} layout: {names}. {no_target}".rstrip())
    if no_target:
        raise BatchFileError("missing_column", no_target)


# --- cells as text -----------------------------------------------------------------------------------------


def _serial_to_iso(serial: int) -> str:
    """An Excel (1900 date system) day number as an ISO date. Excel believes 1900 was a leap year, so its serial
    60 is 29 February 1900, a day that never was: kept as Excel shows it, so validation refuses it."""
    if serial == 60:
        return "1900-02-29"
    base = _EXCEL_EPOCH if serial > 60 else date(1899, 12, 31)
    return (base + timedelta(days=serial)).isoformat()


def _number_text(value: int | float) -> str:
    """12.0 -> '12', 8.5 -> '8.5': a number as the provider typed it, not as a float prints."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer():
            return str(int(value))
        text = f"{value:.15g}"  # Excel keeps 15 significant digits; more would be float noise
        return format(Decimal(text), "f") if "e" in text else text
    return str(value)


def _date_text(value: date, role: str) -> str:
    if role == "dob":  # PARS keeps month and day only; the year is whatever Excel or LibreOffice added
        return f"{value.month:02d}/{value.day:02d}"
    if isinstance(value, datetime) and (role == "completion" or value.time() == time()):
        return value.date().isoformat()
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()


def _serial_text(text: str) -> str:
    """A completion date typed or stored as an Excel serial ('44501') becomes the day it stands for."""
    match = _SERIAL.match(text)
    if match and 1 <= int(match[1]) <= _MAX_SERIAL:
        return _serial_to_iso(int(match[1]))
    return text


def cell_text(value: Any, role: str = "") -> str:
    """A spreadsheet value as the text the provider meant; `role` is 'dob', 'completion' or ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value[1:] if _FORMULA_QUOTED.match(value) else value
        return _serial_text(text) if role == "completion" else text
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        text = _number_text(value)
        return _serial_text(text) if role == "completion" else text
    if isinstance(value, date):  # datetime too
        return _date_text(value, role)
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


# --- file formats ------------------------------------------------------------------------------------------

_MAGIC = (
    (b"\xd0\xcf\x11\xe0", "an old-format Excel workbook (.xls) or a password-protected workbook"),
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
    if len(data) > MAX_FILE_BYTES:
        raise BatchFileError("file_too_large", f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    kind = _sniff(data)
    if suffix == ".xlsx" and not data.startswith(b"PK\x03\x04"):
        ole = data.startswith(b"\xd0\xcf\x11\xe0")  # Excel encrypts a protected .xlsx into this container too
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


def _refuse_bomb(info: zipfile.ZipInfo, total: int) -> None:
    if info.flag_bits & 0x1:
        raise BatchFileError("encrypted", "The workbook is password-protected; save it without a password.")
    too_big = info.file_size > MAX_MEMBER_BYTES or total > MAX_UNPACKED_BYTES
    ratio = info.file_size / max(info.compress_size, 1)
    if too_big or (info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO):
        raise BatchFileError("too_large_unpacked", f"The workbook unpacks to far more data than a learner file "
                                                   f"holds (part '{info.filename}'); it is refused unread.")


def _scan_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Reads one XML part as it inflates (its declared size may lie), looking for a DTD or entity."""
    tail, seen = b"", 0
    with archive.open(info) as part:
        while chunk := part.read(_SCAN_CHUNK):
            seen += len(chunk)
            if seen > MAX_MEMBER_BYTES:
                raise BatchFileError("too_large_unpacked", "The workbook unpacks to far more data than a "
                                                           "learner file holds; it is refused.")
            window = tail + chunk.lower().replace(b"\x00", b"")  # UTF-16 XML spelt with NULs is caught too
            if any(marker in window for marker in _FORBIDDEN_XML):
                raise BatchFileError("unsafe_xml", f"The workbook's part '{info.filename}' declares a DTD or "
                                                   f"XML entities, which Excel never writes; it is refused.")
            tail = window[-16:]


def check_zip(data: bytes) -> None:
    """Refuses what openpyxl should never open: not a zip, no workbook, bombs, encrypted parts, DTDs."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise BatchFileError("not_xlsx", "The file holds too many parts to be an Excel workbook.")
            names = {i.filename for i in infos}
            if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
                raise BatchFileError("not_xlsx", "The file is a zip archive but not an Excel workbook (it has no "
                                                 "xl/workbook.xml); save the sheet as 'Excel Workbook (.xlsx)'.")
            total = 0
            for info in infos:
                total += info.file_size
                _refuse_bomb(info, total)
            for info in infos:
                if info.filename.lower().endswith((".xml", ".rels", ".vml")):
                    _scan_xml(archive, info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError, OSError) as exc:
        raise BatchFileError("not_xlsx", "The .xlsx file is damaged or not a real Excel workbook "
                                         f"({type(exc).__name__}); save it again from Excel.") from exc


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    """(row number, values) of the data sheet: 'Sheet1' when there is one (the CME/MOC template keeps its lists
    on other sheets), else the first worksheet. Read-only mode streams the sheet XML row by row."""
    check_zip(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except BatchFileError:
        raise
    except Exception as exc:  # openpyxl raises anything from KeyError to ParseError on a damaged workbook
        raise _unreadable(exc) from exc
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise BatchFileError("no_sheets", "The workbook has no worksheet.")
        sheet = next((s for s in sheets if s.title.strip().casefold() == "sheet1"), sheets[0])
        sheet.reset_dimensions()  # a workbook's declared dimensions may lie (A1:XFD1048576): ignore them
        rows = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
        yield from enumerate(rows, start=1)
    except BatchFileError:
        raise
    except Exception as exc:
        raise _unreadable(exc) from exc
    finally:
        workbook.close()


def _caused_by_entities(exc: BaseException | None) -> bool:
    """openpyxl wraps what defusedxml raises (in a ValueError 'Unable to read workbook'): look down the chain."""
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _unreadable(exc: Exception) -> BatchFileError:
    if _caused_by_entities(exc):
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


def _text_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
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
        if (columns := _recognise(cells, fallback)) is not None:
            _check_required(columns)
            return _Table(columns, preamble, cells), []
        if first_seen is None and fmt is FileFormat.TXT and _looks_like_template_b_data(cells):
            return _Table(_columns_for(Layout.TEMPLATE_B, TEMPLATE_B_HEADER), [], []), [(number, values)]
        first_seen = first_seen or (number, cells)
        preamble.append(cells)
    if first_seen is not None:
        raise _unknown_header(*first_seen)
    if preamble:
        raise BatchFileError("unknown_header", f"The first {HEADER_SEARCH_ROWS} rows are blank; the header row "
                                               "must be row 1, or row 2 under a guidance row.")
    raise BatchFileError("no_rows", "The file has no rows: neither a header nor learner records.")


# --- rows into records -------------------------------------------------------------------------------------


class _Row:
    """One data row's cells, read by field name."""

    def __init__(self, cells: Sequence[str], columns: Columns) -> None:
        self.cells, self.columns = cells, columns

    def get(self, field: str) -> str | None:
        index = self.columns.fields.get(field)
        return self.at(index)

    def at(self, index: int | None) -> str | None:
        if index is None or index >= len(self.cells):
            return None
        return self.cells[index].strip() or None

    def used(self, *fields: str) -> set[int]:
        return {self.columns.fields[f] for f in fields if f in self.columns.fields}


@dataclass(frozen=True)
class _Context:
    provider_id: str
    batch_id: UUID
    boards: Mapping[str, Board]


def _record(ctx: _Context, number: int, row: _Row, target: Target, **fields: Any) -> ReportedRecord:
    """A record with the row's shared fields; its credit ID derived from the completion (templates have none)."""
    shared = {"action": row.get("action"), "activity_id": row.get("activity_id"), "first_name": row.get("first_name"),
              "last_name": row.get("last_name"), "dob": row.get("dob"), "completion_date": row.get("completion_date")}
    credit_id = derived_credit_id(ctx.provider_id, shared["activity_id"] or "", target.code,
                                  fields.get("learner_id") or "", shared["completion_date"] or "")
    return ReportedRecord(record_id=uuid4(), submission_id=ctx.batch_id, provider_id=ctx.provider_id, channel="batch",
                          credit_id_required=False, credit_id=credit_id, target=target, batch_id=ctx.batch_id,
                          row_number=number, **shared, **fields)


def _registration_target(registration: str | None, boards: Mapping[str, Board]) -> Target:
    """Template B's Activity Registration names the target: a board or REMS program code, a state code or name."""
    text = (registration or "").strip()
    board = boards.get(text.upper())
    if board is not None:
        return Target(kind=board.kind, code=board.code)
    if (code := state_code(text)) is not None:
        return Target(kind="state", code=code)
    return Target(kind="moc", code=text.upper())  # unknown: validation answers 713


def _template_b_records(ctx: _Context, number: int, row: _Row) -> list[tuple[ReportedRecord, set[int]]]:
    target = _registration_target(row.get("registration"), ctx.boards)
    registration = row.get("registration")
    if target.kind == "state" and registration and registration.upper() != target.code:
        registration = target.code  # a full state name registers with that state
    learner_id, id_type = row.get("learner_id"), row.get("learner_id_type")
    certs = [CreditTypeClaim(name=name) for c in _CERTS if (name := row.get(c))]
    record = _record(ctx, number, row, target, learner_id=learner_id, learner_id_type=id_type,
                     registration=registration, credits=row.get("credits"), credit_types=certs,
                     npi=learner_id if (id_type or "").upper() == "NPI" else None)
    return [(record, set())]  # one record per row: nothing to blank for another target


def _surgical(text: str | None) -> bool | None:
    answer = (text or "").strip().casefold()
    return True if answer in ("yes", "y", "true") else False if answer in ("no", "n", "false") else None


def _cme_moc_records(ctx: _Context, number: int, row: _Row) -> list[tuple[ReportedRecord, set[int]]]:
    out: list[tuple[ReportedRecord, set[int]]] = []
    if row.get("license_state") or row.get("license_id"):
        state, license_id = row.get("license_state") or "", row.get("license_id")
        target = Target(kind="state", code=state_code(state) or state.upper())
        npi = license_id if license_id and _TEN_DIGITS.match(license_id) else None
        out.append((_record(ctx, number, row, target, learner_id=license_id, npi=npi, credits=row.get("cme_credits")),
                    row.used("license_state", "license_id", "cme_credits")))
    if row.get("board") or row.get("board_id"):
        target = Target(kind="moc", code=(row.get("board") or "").upper())
        claims = [CreditTypeClaim(name=name, points=row.at(p)) for t, p in row.columns.pairs if (name := row.at(t))]
        used = row.used("board", "board_id", "board_credits") | {i for pair in row.columns.pairs for i in pair
                                                                   if i is not None}
        out.append((_record(ctx, number, row, target, learner_id=row.get("board_id"),
                            credits=row.get("board_credits"), credit_types=claims), used))
    if row.get("rems_program") or row.get("rems_learner_id"):
        target = Target(kind="rems", code=(row.get("rems_program") or "").upper())
        rems = RemsFields(profession=row.get("profession"), time_in_practice=row.get("time_in_practice"),
                          practice_state=row.get("practice_state"), practice_area=row.get("practice_area"),
                          dea_registration=row.get("dea_registration"),
                          surgical_procedures=_surgical(row.get("surgical_procedures")))
        out.append((_record(ctx, number, row, target, learner_id=row.get("rems_learner_id"),
                            credits=row.get("cme_credits"), rems=rems), row.used(*_REMS_NAMES, "cme_credits")))
    if not out:  # no target at all: one record, which validation rejects (713)
        out.append((_record(ctx, number, row, Target(kind="moc", code="")), set()))
    return out


def _row_records(ctx: _Context, number: int, row: _Row) -> list[RowRecord]:
    build = _template_b_records if row.columns.layout is Layout.TEMPLATE_B else _cme_moc_records
    built = build(ctx, number, row)
    records = []
    for i, (record, used) in enumerate(built):
        others = set().union(*(u for j, (_, u) in enumerate(built) if j != i))
        records.append(RowRecord(record=record, own_cells=frozenset(used - others)))  # shared cells stay
    return records


def _data_rows(fmt: FileFormat, table: _Table, source: Rows, ctx: _Context) -> list[SourceRow]:
    columns, roles = table.columns, table.columns.roles
    header = table.header or list(TEMPLATE_B_HEADER)
    rows: list[SourceRow] = []
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
        rows.append(SourceRow(number=number, cells=cells, records=_row_records(ctx, number, _Row(cells, columns))))
    return rows


def read_tabular(file_name: str, data: bytes, *, provider_id: str, batch_id: UUID,
                 boards: Mapping[str, Board] | None = None) -> ParsedBatch:
    """Reads a .xlsx or tab-delimited .txt batch file; raises BatchFileError when it cannot be a batch.

    `boards` is the catalogue that tells Template B's Activity Registration codes apart (default: shipped).
    """
    fmt = file_format(file_name, data)
    ctx = _Context(provider_id, batch_id, boards if boards is not None else shipped_boards())
    source = _xlsx_rows(data) if fmt is FileFormat.XLSX else _text_rows(data)
    with closing(source):
        table, pending = _find_header(fmt, source)
        rows = _data_rows(fmt, table, chain(pending, source), ctx)
    if not rows:
        raise BatchFileError("no_rows", "The file has a header but no learner records.")
    return ParsedBatch(format=fmt, layout=table.columns.layout, preamble=table.preamble, header=table.header,
                       rows=rows)
