"""The `page` parameter of every list: bounded, so that its offset is always one PostgreSQL can take."""

from typing import Annotated

from fastapi import Query

from shared.limits import MAX_PAGE

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number, at most {MAX_PAGE:,}.")]
