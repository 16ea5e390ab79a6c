"""A batch file of any kind read into a `ParsedBatch`: its name says which reader, the reader checks the bytes."""

from pathlib import PurePath
from uuid import UUID

from intake.batch_files.model import BatchFileError, FileFormat, Keep, ParsedBatch, refuse_unkeepable

EXTENSIONS = {".xlsx": FileFormat.XLSX, ".txt": FileFormat.TXT, ".xml": FileFormat.XML}


def claimed_format(file_name: str) -> FileFormat | None:
    """The format a file's name claims (the readers check that its bytes agree)."""
    return EXTENSIONS.get(PurePath(file_name).suffix.lower())


def parse(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    """Every whole-file problem is a BatchFileError; anything else a reader raises is a bug, not the file's."""
    parsed = read_batch_file(file_name, data, provider_id, batch_id)
    refuse_unkeepable(parsed)
    return parsed


def read_batch_file(file_name: str, data: bytes, provider_id: str, batch_id: UUID,
                    keep: Keep | None = None) -> ParsedBatch:
    """The file's rows, each passed through `keep` as it is read when given (unkeepable values are not checked)."""
    kind = claimed_format(file_name)
    if kind is None:
        raise BatchFileError("unknown_type", f"'{file_name}' is not a batch file PARS reads: send an .xlsx "
                             "workbook, a tab-delimited .txt file or an Activity Report .xml file.")
    if kind is FileFormat.XML:
        from intake.batch_files.readers.activity_report import read_activity_report
        parsed = read_activity_report(data, provider_id=provider_id, batch_id=batch_id)
        if keep is not None:  # an Activity Report is read whole first (lxml); its rows are turned one by one
            parsed.rows.reverse()
            kept = []
            while parsed.rows:
                kept.append(keep(parsed.rows.pop()))
            parsed.rows = kept
        return parsed
    from intake.batch_files.readers.tabular import read_tabular
    return read_tabular(file_name, data, provider_id=provider_id, batch_id=batch_id, keep=keep)
