"""What the batch routes answer (CONTRACT.md, Batches)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from intake.errors import ErrorBody


class BatchLinks(BaseModel):
    self: str
    rejections: str = Field(description="The rejected rows, in the upload's own format, with Error Code and Error "
                                        "Message.")
    successes: str = Field(description="The rows added, in the upload's own format.")


class Batch(BaseModel):
    file_name: str
    format: str = Field(description="xlsx, txt or xml (unknown for a file refused as a whole).")
    layout: str | None
    status: Literal["processing", "complete", "failed"]
    reason: str | None = Field(description="Why a failed file was refused as a whole.")
    records: int
    added: int
    rejected: int
    uploaded_at: datetime
    completed_at: datetime | None
    batch_id: UUID
    links: BatchLinks


class BatchPage(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[Batch] = Field(description="Newest first.")


class BatchAccepted(BaseModel):
    batch_id: UUID
    file_name: str
    format: str
    layout: str
    status: Literal["processing"]
    records: int


class CheckedRow(BaseModel):
    row: int = Field(description="The row's number in the file.")
    target: str
    status: str
    errors: list[dict[str, str]] = Field(description="Each with `code` and `message`.")


class BatchDryRun(BaseModel):
    """dry_run=true: every record's codes; nothing kept, nothing in the history."""

    dry_run: Literal[True]
    file_name: str
    format: str
    layout: str
    records: int
    added: int
    rejected: int
    rows: list[CheckedRow]


class BatchRefusal(ErrorBody):
    """A file refused as a whole: the error, and the batch it is listed as in the history (null on a dry run or when
    no file was sent)."""

    batch_id: UUID | None = None
