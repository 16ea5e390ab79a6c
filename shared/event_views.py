"""Services read their hot events through msgspec structs that hold only the fields they use (a view), not through
shared.events' pydantic models, which write them: several times cheaper per event. A view must stay a subset of
its model; `unwritten_fields` is what each service's tests check that with."""

from typing import Literal

import msgspec
from pydantic import BaseModel


class Target(msgspec.Struct):
    """shared.events.Target whole, for the views that judge by its kind or write it back (board-sim, the router)."""

    kind: Literal["moc", "state", "rems"]
    code: str


def unwritten_fields(model: type[BaseModel], view: type[msgspec.Struct],
                     ignore: frozenset[str] = frozenset()) -> list[str]:
    """The fields `view` reads (nested views included, as `Struct.field`) that `model` does not write; `ignore`:
    fields of the view set otherwise than from the JSON."""
    missing = []
    for field in msgspec.structs.fields(view):
        if field.name in ignore:
            continue
        if field.encode_name not in model.model_fields:
            missing.append(f"{view.__name__}.{field.name}")
            continue
        nested = model.model_fields[field.encode_name].annotation
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
                missing.append(f"{view.__name__}.{field.name}")
                continue
            missing += unwritten_fields(nested, field.type, ignore)
    return missing
