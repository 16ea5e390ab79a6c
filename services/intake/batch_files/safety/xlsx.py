"""Checks an uploaded .xlsx before openpyxl opens it: an .xlsx is an untrusted zip of XML, so its members are
counted and measured (declared sizes, compression ratios, then what really inflates), its XML parts are scanned
for a DTD or entity declaration, and encrypted or OLE-wrapped workbooks are recognised."""

import io
import re
import zipfile

from defusedxml import DefusedXmlException
from python_calamine import XmlError

from intake.batch_files.model import BatchFileError

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

OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an OLE compound file: an old .xls, or the container Excel encrypts a .xlsx into


def is_ole(data: bytes) -> bool:
    """An OLE compound file, not a zip: an old .xls, or a .xlsx that Excel encrypted with a password."""
    return data.startswith(OLE_MAGIC)


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


def caused_by_entities(exc: BaseException | None) -> bool:
    """Whether a reader refused an XML entity: calamine names it in an XmlError; openpyxl wraps what defusedxml
    raises (in a ValueError 'Unable to read workbook'), so look down the chain."""
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, DefusedXmlException) or (isinstance(exc, XmlError) and "entity" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# python-calamine reads a whole sheet at once into one dense grid, each string cell holding its own copy of its
# text: far faster than openpyxl, and safe only when that grid is known to be small. A grid's size is bounded
# from the XML before calamine reads it; a workbook outside the bounds is streamed by openpyxl instead.
# Every cell's start tag, with its reference's column and row when it has one ((b"", b"") when not): one pass over
# the sheet. Counting the tags in a pass of their own took a third of the check (docs/PERFORMANCE.md).
_CELL = re.compile(rb"<(?:[\w.-]+:)?c(?=[\s/>])(?:\s[^>]*?\br\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})[\"'])?")
_SHARED_STRING = re.compile(rb"<((?:[\w.-]+:)?si)\b.*?</\1>", re.DOTALL)
_SHARED_STRINGS_ROOT = re.compile(rb"<(?:[\w.-]+:)?sst[\s>]")


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def dense_grid_fits(data: bytes, max_rows: int, max_columns: int, max_text_bytes: int) -> bool:
    """Whether every worksheet spans at most `max_rows` x `max_columns` and its cells' text copies fit in
    `max_text_bytes`. Call after `check_zip`, which has bounded every part's size. Every part is looked at, not
    only xl/worksheets/: a workbook's relationships may name any part as a sheet. Cells without a reference
    (calamine would place them by counting) leave the grid unbounded: not fit."""
    cells, longest_text = 0, 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            part = archive.read(info)
            if b"sheetData" in part and (refs := _CELL.findall(part)):
                columns, rows = zip(*refs, strict=True)
                if b"" in rows:
                    return False
                if max(map(int, set(rows))) > max_rows or max(map(_column_number, set(columns))) > max_columns:
                    return False
                cells += len(refs)
            if _SHARED_STRINGS_ROOT.search(part[:4096]):
                longest = max((len(m.group(0)) for m in _SHARED_STRING.finditer(part)), default=0)
                longest_text = max(longest_text, longest)
    return cells * longest_text <= max_text_bytes
