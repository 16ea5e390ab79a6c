"""Checks an uploaded Activity Report XML file before and while it is parsed: the bytes before any parsing, the
prolog and root once parsed up to the root, then each child of the root as it is read.

The file is refused whole (BatchFileError) when it declares a DTD or entities (XXE, entity expansion), is not
well-formed, has another root, a value over MAX_CELL_CHARS, or nesting deeper than MAX_DEPTH. Processing instructions
are dropped unread and XInclude is never processed (lxml only does when asked), so a file cannot make the parser read
anything but itself.
"""

import io
import re

from lxml import etree

from intake.batch_files.model import MAX_CELL_CHARS, BatchFileError, check_size

MAX_DEPTH = 64  # the standard nests about 7 deep; deeper is an attack or another document

_POSITION = re.compile(r", line \d+, column \d+\s*$")
# Below a child of the root (depth 2), an element MAX_DEPTH - 1 levels down is deeper than MAX_DEPTH.
_TOO_DEEP = etree.XPath("boolean(" + "/".join(["*"] * (MAX_DEPTH - 1)) + ")")
_TOO_LONG = etree.XPath(f"(.//text()[string-length(.) > {MAX_CELL_CHARS}] | "
                        f".//@*[string-length(.) > {MAX_CELL_CHARS}])[1]")
# A DTD or entity declaration in any encoding libxml2 detects by itself; others are caught once parsing starts.
_DTD_MARKERS = tuple(marker.encode(codec) for marker in ("<!DOCTYPE", "<!ENTITY")
                     for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"))
_XML_STARTS = (b"<", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00<", b"\x00\x00\x00<",
               b"\x4c\x6f\xa7\x94")  # '<' in ASCII/UTF-8, byte-order marks, UTF-16/32 without one, EBCDIC '<?xm'


def refuse_before_parsing(data: bytes) -> None:
    if not data or data.isspace():
        raise BatchFileError("empty_file", "The file is empty.")
    check_size(data)
    if not data.lstrip(b" \t\r\n").startswith(_XML_STARTS):
        raise BatchFileError("not_xml", f"The file is not XML: it starts with bytes {data[:8].hex(' ')}, not '<'.")
    found = [at for marker in _DTD_MARKERS if (at := data.find(marker)) >= 0]
    if found:
        raise _dtd_refused(data.count(b"\n", 0, min(found)) + 1)


def _dtd_refused(line: int | None = None) -> BatchFileError:
    where = f" (line {line})" if line else ""
    return BatchFileError("dtd_not_allowed", f"The file declares a DTD or entities (<!DOCTYPE ...>){where}: PARS "
                                             "does not accept them. Remove the DOCTYPE declaration and upload again.")


# No entity is substituted, no DTD or network resource loaded, libxml2's size and depth limits stay on.
_SAFE_PARSING = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
                 "remove_pis": True}
# How much of the document the root check gives the parser at a time. iterparse reads 32 KB before its first event:
# for a web service's 100-record report (75 KB) the check took 0.8-1.3 ms of CPU of the report's 6.7-7.9; in 2 KB
# steps, 0.03-0.04.
_PROLOG_STEP = 2048


def iterparse(data: bytes, **kwargs: object) -> etree.iterparse:
    return etree.iterparse(io.BytesIO(data), **_SAFE_PARSING, **kwargs)


def check_prolog_and_root(data: bytes, accepted: tuple[str, ...]) -> str:
    """The root's tag, read by parsing only up to it: another document is refused before it is read.

    `accepted` are the root tags taken; an error names the first as the one expected."""
    parser = etree.XMLPullParser(events=("start",), **_SAFE_PARSING)
    try:
        for at in range(0, len(data), _PROLOG_STEP):
            parser.feed(data[at:at + _PROLOG_STEP])
            if (tag := _root_tag(parser, accepted)) is not None:
                return tag
        parser.close()
    except etree.XMLSyntaxError as error:
        # An error past the root's start tag: the root is judged first, as if parsing had stopped there (the
        # document's own parse meets the error again).
        if (tag := _root_tag(parser, accepted)) is not None:
            return tag
        raise syntax_error(error) from None
    raise BatchFileError("not_well_formed", "The file is not well-formed XML: it has no root element.")


def _root_tag(parser: etree.XMLPullParser, accepted: tuple[str, ...]) -> str | None:
    """The root's tag once the parser has met its start tag (checked), else None."""
    started = next(iter(parser.read_events()), None)
    if started is None:
        return None
    _check_root(started[1], accepted)
    tag: str = started[1].tag  # an element's (lxml's names are untyped)
    return tag


def _check_root(root: etree._Element, accepted: tuple[str, ...]) -> None:
    # The prolog is parsed by now; a DOCTYPE that escaped the byte scan (an exotic encoding) is refused here.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _dtd_refused(root.sourceline)
    local = root.tag.rpartition("}")[2]
    if ":" in local:  # an undeclared prefix: libxml2 names the error only later, and lxml cannot make a QName of it
        prefix = local.partition(":")[0]
        raise BatchFileError("not_well_formed", f"The file is not well-formed XML (line {root.sourceline}): the "
                                                f"namespace prefix {prefix!r} of <{local}> is not declared (declare it "
                                                f"on the root: xmlns:{prefix}=\"...\").")
    if root.tag not in accepted:
        name = etree.QName(root)
        found = f"<{name.localname}>" + (f" in namespace {name.namespace}" if name.namespace else " in no namespace")
        expected = etree.QName(accepted[0])
        raise BatchFileError("wrong_root", f"The file is not a MedBiquitous Activity Report: its root is {found}; "
                                           f"expected <{expected.localname}> in namespace {expected.namespace}.")


def check_subtree(top: etree._Element, number: int | None) -> None:
    """Depth and value length of a child of the root (a report, numbered, or anything else), checked by libxml2's
    XPath engine: a Python loop over every element would cost four times the parse."""
    where = f"ActivityReport {number}" if number else "The file"
    if _TOO_DEEP(top):
        raise _too_deep(f"{where} (line {top.sourceline})")
    found = _TOO_LONG(top)
    if found:
        value = found[0]
        element = value.getparent()
        tag = etree.QName(element).localname
        name = f"attribute {value.attrname} of <{tag}>" if value.is_attribute else f"the text in <{tag}>"
        raise BatchFileError("value_too_long", f"{where}, line {element.sourceline}: {name} holds {len(value):,} "
                                               f"characters; a value may hold at most {MAX_CELL_CHARS:,}.")


def _too_deep(where: str) -> BatchFileError:
    return BatchFileError("too_deep", f"{where} nests elements more than {MAX_DEPTH} deep; an Activity Report needs "
                                      "fewer than 10.")


def syntax_error(error: etree.XMLSyntaxError) -> BatchFileError:
    line, column = error.position
    where = f" (line {line}, column {column})" if line else ""
    message = " ".join(_POSITION.sub("", error.msg or "").split())  # libxml2 repeats the position; once is enough
    if "Excessive depth" in message:  # libxml2's own limit (256), met before any of ours could look
        return _too_deep(f"The file{where}")
    return BatchFileError("not_well_formed", f"The file is not well-formed XML{where}: {message}")
