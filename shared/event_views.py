"""Services read their hot events through msgspec structs that hold only the fields they use (a view), not through
shared.events' pydantic models, which write them: several times cheaper per event. A view must stay a subset of
its model; `unwritten_fields` is what each service's tests check that with."""

import types
from typing import Any, Literal, Union, get_args, get_origin

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
        nested, read = _required(model.model_fields[field.encode_name].annotation), _required(field.type)
        if isinstance(read, type) and issubclass(read, msgspec.Struct):
            if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
                missing.append(f"{view.__name__}.{field.name}")
                continue
            missing += unwritten_fields(nested, read, ignore)
    return missing


def _required(kind: Any) -> Any:
    """`X | None` -> X: an optional nested model or view is compared as the one it is when present."""
    if get_origin(kind) in (Union, types.UnionType):
        present = [k for k in get_args(kind) if k is not type(None)]
        return present[0] if len(present) == 1 else kind
    return kind
