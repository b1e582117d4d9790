"""Code systems defined by a grammar rather than a list: BCP-47 language tags and MIME types.

Their value sets (`all-languages`, `mimetypes`) include the whole system, so membership is decided by
syntax, exactly as a terminology server without the registries would do. Each checker returns None when
the code is well-formed, else a message that says what is wrong.
"""
from __future__ import annotations

import re

BCP47_SYSTEM = "urn:ietf:bcp:47"
MIME_SYSTEM = "urn:ietf:bcp:13"

# RFC 5646 section 2.1 (langtag / privateuse / grandfathered), case-insensitive.
_ALNUM = "[a-z0-9]"
_LANGTAG = re.compile(
    r"""
    (?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})
    (?:-(?P<script>[a-z]{4}))?
    (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
    (?P<variants>(?:-(?:ALNUM{5,8}|[0-9]ALNUM{3}))*)
    (?P<extensions>(?:-[0-9a-wyz](?:-ALNUM{2,8})+)*)
    (?:-x(?:-ALNUM{1,8})+)?
    """.replace("ALNUM", _ALNUM),
    re.IGNORECASE | re.VERBOSE,
)
_PRIVATE = re.compile(r"x(?:-[a-z0-9]{1,8})+", re.IGNORECASE)
_GRANDFATHERED = frozenset(t.lower() for t in (
    "en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux", "i-mingo",
    "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE", "art-lojban",
    "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan", "zh-xiang",
))


def check_bcp47(tag: str) -> str | None:
    """None when `tag` is a well-formed BCP-47 (RFC 5646) language tag, else why it is not."""
    if not tag or tag != tag.strip() or " " in tag or "_" in tag:
        hint = " (subtags are separated by '-', not '_')" if "_" in tag else ""
        return f"'{tag}' is not a valid BCP-47 language tag{hint}"
    lowered = tag.lower()
    if lowered in _GRANDFATHERED or _PRIVATE.fullmatch(tag):
        return None
    match = _LANGTAG.fullmatch(tag)
    if match is None:
        return f"'{tag}' is not a valid BCP-47 language tag (expected language[-script][-region][-variant]...)"
    if len(match.group("language").split("-")[0]) > 3:
        # RFC 5646 reserves 4-letter and 5-8-letter primary subtags; the IANA registry assigns none
        return (f"'{tag}' is not a valid BCP-47 language tag: the primary language subtag must be a 2- or "
                f"3-letter ISO 639 code")
    variants = [v.lower() for v in match.group("variants").split("-") if v]
    if len(variants) != len(set(variants)):
        return f"'{tag}' is not a valid BCP-47 language tag: a variant subtag is repeated"
    singletons = re.findall(r"-([0-9a-wyz])(?=-)", match.group("extensions").lower())
    if len(singletons) != len(set(singletons)):
        return f"'{tag}' is not a valid BCP-47 language tag: an extension singleton is repeated"
    return None


# RFC 6838 section 4.2 (restricted-name) and RFC 2045 parameters.
MIME_TOP_LEVEL = frozenset(("application", "audio", "example", "font", "haptics", "image", "message", "model",
                            "multipart", "text", "video"))
_RESTRICTED_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&\-^_.+]{0,126}"
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# Parameter values: an RFC 2045 token or quoted string, or (as FHIR itself writes them, e.g.
# `application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json`) any unquoted run of
# visible characters other than `;`.
_MIME = re.compile(
    rf"(?P<type>{_RESTRICTED_NAME})/(?P<subtype>{_RESTRICTED_NAME})"
    rf"(?:\s*;\s*{_TOKEN}=(?:\"(?:[^\"\\]|\\.)*\"|[^;\s\"]+))*"
)


def check_mime_type(code: str) -> str | None:
    """None when `code` is a well-formed MIME type with a registered top-level type, else why not."""
    match = _MIME.fullmatch(code.strip()) if code == code.strip() else None
    if match is None:
        return f"'{code}' is not a valid MIME type (expected type/subtype, e.g. 'application/pdf')"
    top = match.group("type").lower()
    if top not in MIME_TOP_LEVEL and not top.startswith("x-"):
        return f"'{code}' is not a valid MIME type: '{match.group('type')}' is not a registered top-level type"
    return None
