"""Hostile and malformed XML uploads: each must be refused whole (BatchFileError), quickly, reading nothing else.

`hostile_xml_files()` answers (case id, file name, bytes, a text the error message must contain); the unit tests
and the lead's e2e upload tests share it.
"""

from intake.batch_files.model import MAX_CELL_CHARS, MAX_FILE_BYTES, MAX_RECORDS
from intake.batch_files.readers.activity_report import AR_NS, HX_NS, MEMBER_NS, NAME_NS, PARS_NS

PASSWD = "file:///etc/passwd"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_OPEN = (f'<ActivityReports xmlns="{AR_NS}" xmlns:m="{MEMBER_NS}" xmlns:n="{NAME_NS}" xmlns:hx="{HX_NS}" '
         f'xmlns:ex="{PARS_NS}">\n')
_CLOSE = "</ActivityReports>\n"


def _report(given: str = "Harper", module_id: str = "210016865") -> str:
    return (f'<ActivityReport><Member><m:UniqueID domain="ABIM">123456</m:UniqueID><m:Name><n:GivenName>{given}'
            f'</n:GivenName><n:FamilyName>Benton</n:FamilyName></m:Name></Member><Activity><Module>'
            f'<ModuleName moduleID="{module_id}">M</ModuleName><CompletedDateTime>2021-11-02</CompletedDateTime>'
            "<CreditCertificate><CreditReceived><hx:activityCertification>ABIM MOC - Medical Knowledge"
            "</hx:activityCertification><hx:numberOfCredits>8</hx:numberOfCredits></CreditReceived>"
            "<CreditID>ccid:example.org:1</CreditID></CreditCertificate></Module></Activity></ActivityReport>\n")


def _document(body: str, doctype: str = "") -> bytes:
    return (_DECLARATION + doctype + _OPEN + body + _CLOSE).encode()


def _entity_attacks() -> list[tuple[str, str, bytes, str]]:
    laughs = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return [
        ("xxe_file", "xxe-file.xml", _document(_report("&xxe;"), f'<!DOCTYPE ActivityReports [<!ENTITY xxe SYSTEM '
                                                                  f'"{PASSWD}">]>\n'), "DOCTYPE"),
        ("xxe_http", "xxe-http.xml", _document(_report("&xxe;"), '<!DOCTYPE ActivityReports [<!ENTITY xxe SYSTEM '
                                                                  '"http://127.0.0.1:9/steal">]>\n'), "DOCTYPE"),
        ("billion_laughs", "laughs.xml",
         _document(_report("&lol9;"), f"<!DOCTYPE ActivityReports [{''.join(laughs)}]>\n"), "DOCTYPE"),
        ("quadratic_blowup", "quadratic.xml", _document(_report("&a;" * 20_000), '<!DOCTYPE ActivityReports '
                                                        f'[<!ENTITY a "{"a" * 50_000}">]>\n'), "DOCTYPE"),
        ("external_dtd", "external-dtd.xml", _document(_report(), '<!DOCTYPE ActivityReports SYSTEM '
                                                       '"http://127.0.0.1:9/activityreport.dtd">\n'), "DOCTYPE"),
        ("parameter_entities", "parameter-entities.xml", _document(_report(), '<!DOCTYPE ActivityReports [<!ENTITY '
                                                                   f'% p SYSTEM "{PASSWD}"> %p;]>\n'), "DOCTYPE"),
        ("xxe_utf16", "xxe-utf16.xml", ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE ActivityReports '
                                        f'[<!ENTITY xxe SYSTEM "{PASSWD}">]>\n{_OPEN}{_report("&xxe;")}{_CLOSE}')
         .encode("utf-16"), "DOCTYPE"),
        # UTF-7 hides '<!DOCTYPE' from a byte scan; libxml2 decodes it, and the parsed prolog is checked too.
        ("xxe_utf7", "xxe-utf7.xml", (b'<?xml version="1.0" encoding="UTF-7"?>' + (
            f'<!DOCTYPE ActivityReports [<!ENTITY xxe SYSTEM "{PASSWD}">]>{_OPEN}{_report("&xxe;")}{_CLOSE}')
            .encode("utf-7")), "DOCTYPE"),
    ]


def _shape_attacks() -> list[tuple[str, str, bytes, str]]:
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title></channel></rss>'
    soap = (b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<soap:Body><ActivityReports/></soap:Body></soap:Envelope>")
    reports = _report() * (MAX_RECORDS + 1)
    return [
        ("unclosed_tag", "unclosed.xml", _document(_report().replace("</n:FamilyName>", "")), "not well-formed"),
        ("truncated", "truncated.xml", _document(_report())[:-40], "not well-formed"),
        ("rss_root", "feed.xml", rss, "not a MedBiquitous Activity Report"),
        ("soap_root", "envelope.xml", soap, "not a MedBiquitous Activity Report"),
        ("no_namespace", "no-namespace.xml", b"<ActivityReports><ActivityReport/></ActivityReports>",
         f"namespace {AR_NS}"),
        ("too_many_reports", "5001.xml", _document(reports), f"more than {MAX_RECORDS:,}"),
        ("huge_text", "huge-text.xml", _document(_report("x" * (MAX_CELL_CHARS * 100))), f"at most {MAX_CELL_CHARS:,}"),
        ("huge_attribute", "huge-attribute.xml", _document(_report(module_id="9" * (MAX_CELL_CHARS + 1))),
         "attribute moduleID"),
        ("deep_nesting", "deep.xml", _document("<a>" * 10_000 + "</a>" * 10_000), "deep"),
        ("deep_in_report", "deep-report.xml", _document(_report("<b>" * 100 + "x" + "</b>" * 100)), "deep"),
        ("zero_reports", "empty-reports.xml", _document(""), "no ActivityReport"),
        ("too_large", "huge.xml", _document(" " * MAX_FILE_BYTES), "larger than"),
    ]


def _byte_attacks() -> list[tuple[str, str, bytes, str]]:
    garbage = bytes((i * 7919 + 13) % 256 for i in range(4096))  # fixed "random" bytes: the test is repeatable
    return [
        ("binary", "photo.xml", b"\x89PNG\r\n\x1a\n" + garbage, "not XML"),
        ("utf16_garbage", "utf16.xml", b'<?xml version="1.0" encoding="UTF-16"?>\n' + garbage, "not well-formed"),
        ("unknown_encoding", "klingon.xml", b'<?xml version="1.0" encoding="x-klingon"?><ActivityReports/>',
         "Unsupported encoding"),
        ("nul_in_text", "nul.xml", _document(_report("Har\x00per")), "not well-formed"),
        ("empty", "empty.xml", b"", "empty"),
        ("whitespace_only", "blank.xml", b" \r\n\t\n", "empty"),
    ]


def hostile_xml_files() -> list[tuple[str, str, bytes, str]]:
    return _entity_attacks() + _shape_attacks() + _byte_attacks()
