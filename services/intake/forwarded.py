"""Validation's answers to forwarded bodies, in the API's error shape.

Validation reads a forwarded body with its own model; a body of the wrong shape (a list where it wants an object)
gets FastAPI's default 422, `{"detail": [...]}`, which also echoes the input back. The caller gets the API's
`{"error": {...}}` instead, naming each field and its reason, without the input.
"""

import json
from typing import Any

from fastapi.responses import JSONResponse

from intake.errors import error_body
from shared.limits import printable


def in_api_shape(answer: JSONResponse, what: str) -> JSONResponse:
    if answer.status_code != 422:
        return answer
    body: Any = json.loads(bytes(answer.body))
    if not (isinstance(body, dict) and isinstance(body.get("detail"), list)):
        return answer
    details = [{"field": printable(".".join(str(p) for p in e.get("loc", []) if p != "body")),
                "reason": str(e.get("msg", "not valid"))} for e in body["detail"] if isinstance(e, dict)]
    first = details[0] if details else {"field": "", "reason": "not valid"}
    message = f"The body is not {what}: {first['field'] or 'the body'}: {first['reason']}."
    return JSONResponse(error_body("invalid_request", message, details), status_code=422)
