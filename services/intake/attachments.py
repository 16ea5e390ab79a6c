"""The Content-Disposition of every download: RFC 6266 `filename*` for the real name, an ASCII `filename` beside it.

HTTP header values are Latin-1 at most, so a name such as `тест-rejections.txt` cannot go in `filename="..."` as it
is (the server could not even encode the header). Clients that read `filename*` get the name exactly; older ones get
the ASCII fallback. Path separators, quotes and control characters never reach either: a name is a name, not a path.
"""

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9._\- ()\[\]+,;=@&#$!~]')
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|\ud800-\udfff]')
MAX_NAME_CHARS = 150


def safe_file_name(name: str, default: str = "download") -> str:
    """The last path part of `name`, without characters a file name or a header cannot hold."""
    base = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    return cleaned[-MAX_NAME_CHARS:] or default


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _UNSAFE_ASCII.sub("_", folded)


def _ascii_fallback(name: str) -> str:
    """Accents folded (Café -> Cafe), other letters dropped (тест-rejections -> rejections); a stem with nothing
    left becomes `download`."""
    path = PurePosixPath(name)
    stem = _ascii(path.stem).strip(" ._-")
    return (stem or "download") + _ascii(path.suffix)


def content_disposition(file_name: str) -> str:
    name = safe_file_name(file_name)
    fallback = _ascii_fallback(name)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header
