"""Comparing learner names the way PARS forgives them: case, accents, spacing, hyphens, apostrophes."""

import unicodedata

_IGNORED = str.maketrans("", "", " -'’`.")


def name_key(name: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.casefold().translate(_IGNORED)


def same_name(a: str | None, b: str | None) -> bool:
    return name_key(a) == name_key(b)
