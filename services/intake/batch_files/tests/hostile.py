"""Spreadsheet uploads that cannot be a batch, made in code: each must be refused with a BatchFileError, quickly
and in bounded memory. `hostile_tabular_files()` is shared with the HTTP tests (each case should answer 422).

Also the small builders the unit tests use to make real workbooks and text files.
"""

import csv
import io
import random
import struct
import zipfile
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from openpyxl import Workbook

from intake.batch_files.model import MAX_CELL_CHARS, MAX_RECORDS

TEMPLATE_B = ["Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID",
              "First Name", "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
              "Activity Certification (1st)", "Activity Certification (2nd)", "Activity Certification (3rd)",
              "Activity Certification (4th)", "Activity Certification (5th)", "Activity Certification (6th)"]
CME_MOC = ["Record Action", "ACCME Activity ID", "Completion Date", "First Name", "Last Name", "Date of Birth",
           "Licensing State", "Licensing ID or NPI", "Number of CME Credits", "Certifying Board",
           "Certifying Board ID", "Total Board Credits", "Credit Type", "Credits Awarded for Credit Type",
           "Additional Credit Type", "Credits Awarded for Additional Credit Type"]
GUIDANCE = ["Enter one learner per row. Dates of birth as MM/DD; completion dates as MM/DD/YYYY."]
TB_ROW = ["Learner Template B", "ABO", "200931446", "ABO", "98989", "Vincent", "Van Gogh", "03/30", "2/10/2019",
          "Add", "0.25", "ABO MOC Part II", "", "", "", "", ""]
CME_ROW = ["Add", "210016865", "11/2/2021", "Harper", "Benton", "11/11", "Louisiana", "MD.205357", "8", "ABOHNS",
           "19927", "8", "Self-Assessment", "8", "Patient Safety", "1"]


# --- builders ----------------------------------------------------------------------------------------------


def txt_bytes(rows: Iterable[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: Iterable[Sequence[Any]], title: str = "Sheet1", extra_sheets: Sequence[str] = (),
               write_only: bool = False) -> bytes:
    """A real workbook, as Excel's openpyxl-written cousin: values keep their Python types (dates, numbers)."""
    workbook = Workbook(write_only=write_only)
    sheet = workbook.create_sheet(title) if write_only else workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for name in extra_sheets:
        workbook.create_sheet(name).append(["Valid values"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, replace: dict[str, bytes] | None = None, drop: Sequence[str] = (),
          add: dict[str, bytes] | None = None) -> bytes:
    """The zip with some members replaced, dropped or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            dst.writestr(info.filename, (replace or {}).get(info.filename, src.read(info)))
        for name, content in (add or {}).items():
            dst.writestr(name, content)
    return out.getvalue()


def patch_member(data: bytes, name: str, *, file_size: int | None = None, flags: int | None = None) -> bytes:
    """Rewrites a member's declared uncompressed size and/or flag bits in its local and central headers, as an
    attacker would (zipfile never writes such lies)."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
        central = archive.start_dir
    local = info.header_offset
    while buf[central:central + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", buf, central + 28)
        if bytes(buf[central + 46:central + 46 + name_len]).decode() == name:
            break
        central += 46 + name_len + extra_len + comment_len
    if file_size is not None:
        struct.pack_into("<I", buf, local + 22, file_size)
        struct.pack_into("<I", buf, central + 24, file_size)
    if flags is not None:
        struct.pack_into("<H", buf, local + 6, flags)
        struct.pack_into("<H", buf, central + 8, flags)
    return bytes(buf)


def sheet_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


# --- the hostile files -------------------------------------------------------------------------------------


def _small_xlsx() -> bytes:
    return xlsx_bytes([TEMPLATE_B, TB_ROW])


def _with_doctype(entity: str) -> bytes:
    """A workbook whose sheet XML declares an entity (billion laughs, external file) and uses it in a cell."""
    data = xlsx_bytes([TEMPLATE_B, [*TB_ROW[:5], "NAME", *TB_ROW[6:]]])
    xml = sheet_xml(data).decode().replace("NAME", "&e;")
    doctype = f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE worksheet [{entity}]>'
    return rezip(data, replace={"xl/worksheets/sheet1.xml": (doctype + xml).encode()})


_LAUGHS = '<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY e "&b;&b;&b;&b;&b;&b;&b;&b;">'


def _bomb(size: int, name: str = "xl/worksheets/sheet1.xml") -> bytes:
    """A workbook whose sheet inflates to `size` bytes of blank XML: tiny on the wire, huge unpacked."""
    base = _small_xlsx()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info.filename, src.read(info))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as member:
            chunk = b" " * (1024 * 1024)
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def _lying_size() -> bytes:
    """The sheet declares 1,000 bytes and inflates to 20 MB: the reader must not trust the declaration."""
    data = _bomb(20 * 1024 * 1024)
    return patch_member(data, "xl/worksheets/sheet1.xml", file_size=1000)


def _zero_sheets() -> bytes:
    data = _small_xlsx()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
    start, end = workbook.index("<sheets>"), workbook.index("</sheets>") + len("</sheets>")
    return rezip(data, replace={"xl/workbook.xml": (workbook[:start] + "<sheets/>" + workbook[end:]).encode()},
                 drop=["xl/worksheets/sheet1.xml"])


def _ole(stream_names: Sequence[str]) -> bytes:
    """An OLE compound file header (what .xls files and password-protected .xlsx files are)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
    names = b"".join(n.encode("utf-16-le") for n in stream_names)
    return header.ljust(512, b"\xff") + names.ljust(1536, b"\x00")


def _plain_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _many_rows_xlsx() -> bytes:
    rows = ([*TB_ROW[:4], str(10000 + i), *TB_ROW[5:]] for i in range(MAX_RECORDS + 1))
    return xlsx_bytes([TEMPLATE_B, *rows], write_only=True)


def _many_rows_txt() -> bytes:
    return txt_bytes([TEMPLATE_B, *([*TB_ROW[:4], str(10000 + i), *TB_ROW[5:]] for i in range(MAX_RECORDS + 1))])


def _raw_lines(rows: Iterable[Sequence[str]]) -> bytes:
    """Tab-joined lines without the csv module's quoting: how a hand-made file with a stray quote looks."""
    return "".join("\t".join(row) + "\r\n" for row in rows).encode()


def _long(row: list[str], index: int) -> list[str]:
    return [*row[:index], "x" * (2 * MAX_CELL_CHARS), *row[index + 1:]]


def _wide(header: list[str]) -> list[str]:
    return header + [f"Column {n}" for n in range(300 - len(header))]


Case = tuple[str, str, Callable[[], bytes], str]
_CASES: tuple[Case, ...] = (
    ("empty-xlsx", "learners.xlsx", lambda: b"", "empty"),
    ("empty-txt", "learners.txt", lambda: b"", "empty"),
    ("unknown-extension-csv", "learners.csv", lambda: b"a,b,c\r\n", ".csv"),
    ("xls-renamed", "learners.xlsx", lambda: _ole(["Workbook", "SummaryInformation"]), ".xls"),
    ("password-protected-xlsx", "learners.xlsx", lambda: _ole(["EncryptionInfo", "EncryptedPackage"]),
     "password"),
    ("pdf-renamed", "learners.xlsx", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    ("png-renamed", "learners.xlsx", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
    ("random-binary-xlsx", "learners.xlsx", lambda: random.Random(1).randbytes(8192), "not a zip"),
    ("truncated-zip", "learners.xlsx", lambda: _small_xlsx()[: len(_small_xlsx()) // 2], "damaged"),
    ("zip-without-workbook", "learners.xlsx", lambda: _plain_zip({"learners.txt": b"\t".join(
        t.encode() for t in TEMPLATE_B)}), "not an Excel workbook"),
    ("docx-renamed", "learners.xlsx", lambda: _plain_zip({"[Content_Types].xml": b"<Types/>",
                                                          "word/document.xml": b"<document/>"}), "xl/workbook.xml"),
    ("nested-zip", "learners.xlsx", lambda: _plain_zip({"inner.xlsx": _small_xlsx()}), "not an Excel workbook"),
    ("zero-sheets", "learners.xlsx", _zero_sheets, "no worksheet"),
    ("entity-billion-laughs", "learners.xlsx", lambda: _with_doctype(_LAUGHS), "DTD"),
    ("entity-external-file", "learners.xlsx", lambda: _with_doctype('<!ENTITY e SYSTEM "file:///etc/passwd">'),
     "DTD"),
    ("bomb-ratio", "learners.xlsx", lambda: _bomb(64 * 1024 * 1024), "unpacks to far more"),
    ("bomb-declared-size", "learners.xlsx",
     lambda: patch_member(_small_xlsx(), "xl/worksheets/sheet1.xml", file_size=3 * 1024**3), "unpacks to far more"),
    ("bomb-lying-size", "learners.xlsx", _lying_size, "damaged"),
    ("bomb-in-media-part", "learners.xlsx", lambda: _bomb(32 * 1024 * 1024, "xl/media/image1.png"),
     "unpacks to far more"),
    ("encrypted-zip-member", "learners.xlsx",
     lambda: patch_member(_small_xlsx(), "xl/worksheets/sheet1.xml", flags=0x1), "password"),
    ("too-many-zip-parts", "learners.xlsx",
     lambda: rezip(_small_xlsx(), add={f"xl/extra/part{n}.bin": b"x" for n in range(1001)}), "too many parts"),
    ("rows-5001-xlsx", "learners.xlsx", _many_rows_xlsx, "more than 5,000"),
    ("rows-5001-txt", "learners.txt", _many_rows_txt, "more than 5,000"),
    ("missing-columns-txt", "learners.txt",
     lambda: txt_bytes([[c for c in TEMPLATE_B if c not in ("Date of Completion", "Number of Credits")],
                        TB_ROW[:8] + TB_ROW[9:10] + TB_ROW[11:]]), "Date of Completion, Number of Credits"),
    ("missing-columns-xlsx", "learners.xlsx",
     lambda: xlsx_bytes([GUIDANCE, [c for c in CME_MOC if c != "Completion Date"], CME_ROW]), "Completion Date"),
    ("no-target-columns-xlsx", "learners.xlsx", lambda: xlsx_bytes([CME_MOC[:6], CME_ROW[:6]]), "names no target"),
    ("long-cell-txt", "learners.txt", lambda: txt_bytes([TEMPLATE_B, _long(TB_ROW, 5)]), "Row 2, column 6"),
    ("long-cell-xlsx", "learners.xlsx", lambda: xlsx_bytes([GUIDANCE, CME_MOC, _long(CME_ROW, 3)]),
     "Row 3, column D ('First Name')"),
    ("unclosed-quote-txt", "learners.txt",
     lambda: _raw_lines([TEMPLATE_B, [*TB_ROW[:5], '"Vincent', *TB_ROW[6:]], *[TB_ROW] * 40]), "never closed"),
    ("columns-300-txt", "learners.txt", lambda: txt_bytes([_wide(TEMPLATE_B), TB_ROW]), "more than 200 columns"),
    ("columns-300-xlsx", "learners.xlsx", lambda: xlsx_bytes([_wide(CME_MOC), CME_ROW]), "more than 200 columns"),
    ("nul-bytes-txt", "learners.txt", lambda: txt_bytes([TEMPLATE_B, TB_ROW]) + b"\x00\x00garbage", "NUL byte"),
    ("control-chars-txt", "learners.txt", lambda: txt_bytes([TEMPLATE_B, TB_ROW]) + b"\x01\x02\x03\x1b[2J",
     "control character"),
    ("random-binary-txt", "learners.txt", lambda: random.Random(2).randbytes(8192), "binary data"),
    ("undecodable-txt", "learners.txt", lambda: txt_bytes([TEMPLATE_B]) + bytes([0x81, 0x8d, 0x8f, 0x90, 0x9d]),
     "not text in UTF-8"),
    ("xlsx-renamed-txt", "learners.txt", _small_xlsx, "zip archive"),
    ("pdf-renamed-txt", "learners.txt", lambda: b"%PDF-1.4\nnot really\n", "PDF"),
    ("unknown-header-txt", "learners.txt", lambda: txt_bytes([["Name", "Email", "Phone"], ["A", "a@b.c", "1"]]),
     "not a header PARS recognises"),
    ("unknown-header-xlsx", "learners.xlsx",
     lambda: xlsx_bytes([["Employee", "Department", "Salary"], ["A", "B", 1]]), "not a header PARS recognises"),
    ("header-only-txt", "learners.txt", lambda: txt_bytes([TEMPLATE_B, [""] * 17, []]), "no learner records"),
    ("header-only-xlsx", "learners.xlsx", lambda: xlsx_bytes([GUIDANCE, CME_MOC]), "no learner records"),
    ("blank-sheet1-beside-lists", "learners.xlsx", lambda: xlsx_bytes([], extra_sheets=["ValidValues"]),
     "no rows"),
)


@lru_cache(maxsize=1)
def _built() -> tuple[tuple[str, str, bytes, str], ...]:
    return tuple((case_id, name, make(), expected) for case_id, name, make, expected in _CASES)


def hostile_tabular_files() -> list[tuple[str, str, bytes, str]]:
    """(case id, file name, bytes, text the error message contains) for every hostile or malformed file."""
    return list(_built())
