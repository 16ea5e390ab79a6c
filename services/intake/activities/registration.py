"""Validation's answer to an activity registration, as the provider may see it.

An ID another provider registered is refused like any registration that cannot be made (422 `invalid_activity`,
the problem on `id`), never with validation's 409 `activity_taken`, which told the caller the activity exists and
belongs to someone else. For this provider the ID holds no activity, as GET /v1/activities/{id} (404) and a record
reported under it (690) say too; what it cannot do is take the ID, which stays its owner's, untouched.
"""

import json
from typing import Any

from fastapi.responses import JSONResponse

from intake.errors import error_body


def unavailable_id(activity_id: Any) -> JSONResponse:
    reason = (f"id {activity_id} cannot be registered by this provider: an ACCME activity ID is given once. Register "
              "the activity under the ID ACCME gave it.")
    return JSONResponse(error_body("invalid_activity", "The activity cannot be registered.",
                                   [{"field": "id", "reason": reason}]), status_code=422)


def as_provider_sees_it(answer: JSONResponse, activity_id: Any) -> JSONResponse:
    if answer.status_code != 409:
        return answer
    body = json.loads(bytes(answer.body))
    if body.get("error", {}).get("code") == "activity_taken":
        return unavailable_id(activity_id)
    return answer
