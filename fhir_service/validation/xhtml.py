"""Narrative XHTML checks (the rules of FHIR R4 Narrative.div, as the Java validator applies them).

The div must be well-formed XHTML whose root is `div` in the XHTML namespace, using only the HTML elements and
attributes FHIR allows (no script, forms, objects, event handlers), and must not be empty (txt-2).
"""
from __future__ import annotations

import re
import xml.parsers.expat

XHTML_NS = "http://www.w3.org/1999/xhtml"
_ANCHOR = re.compile(r"""\s(?:name|id)\s*=\s*["']([^"']+)["']""")
_INTERNAL_HREF = re.compile(r"""<a\s[^>]*href\s*=\s*["']#([^"']*)["']""")
ALLOWED_ELEMENTS = frozenset("""
p br div h1 h2 h3 h4 h5 h6 a span b em i strong small big tt small dfn q var abbr acronym cite blockquote hr
address bdo kbd code img ul ol li dl dt dd pre table caption colgroup col thead tr tfoot tbody th td sub sup
u s strike center font ins del""".split())
ALLOWED_ATTRIBUTES = frozenset("""
title style class id lang xml:lang dir accesskey tabindex colspan rowspan src alt href name width height border
cellpadding cellspacing align valign span char charoff abbr axis headers scope rules summary frame start type
compact value cite datetime nowrap bgcolor color size face clear shape coords hreflang rel rev longdesc usemap
xmlns xml:space""".split())


def local_links(text: str) -> tuple[set[str], list[str]]:
    """(anchors the div defines: `name`/`id` attributes, targets of its internal `href="#..."` links)."""
    anchors = set(_ANCHOR.findall(text))
    return anchors, _INTERNAL_HREF.findall(text)


def check_xhtml(text: str) -> list[str]:
    """Problems with a narrative div, as messages (empty when fine)."""
    problems: list[str] = []
    stripped = text.lstrip()
    if not stripped.startswith("<div"):
        return ["The narrative must start with a <div> element in the XHTML namespace"]
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    depth = 0
    root_ns: list[str] = []
    has_content = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, has_content
        ns, _, local = name.rpartition(" ")
        if depth == 0:
            root_ns.append(ns)
            if local != "div":
                problems.append(f"The narrative root element must be <div>, not <{local}>")
        elif local == "img":
            has_content = True  # an image is content; empty elements are not
        depth += 1
        if ns == XHTML_NS and local not in ALLOWED_ELEMENTS:
            problems.append(f"Illegal element name in the XHTML ('{local}')")
        for attr in attrs:
            attr_local = attr.rpartition(" ")[2]
            if attr_local.lower().startswith("on") or (attr_local not in ALLOWED_ATTRIBUTES and " " not in attr):
                problems.append(f"Illegal attribute name in the XHTML ('{attr_local}' on '{local}')")
            elif attr_local in ("href", "src") and attrs[attr].strip().lower().startswith("javascript:"):
                problems.append(f"Illegal URL in the XHTML ('{attrs[attr]}')")

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    def chars(data: str) -> None:
        nonlocal has_content
        if depth >= 1 and data.strip():
            has_content = True

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(_with_entities(text), True)
    except xml.parsers.expat.ExpatError as exc:
        return [f"The narrative XHTML is not well-formed: {exc}"]
    if root_ns and root_ns[0] != XHTML_NS:
        problems.append("Wrong namespace on the XHTML div ('%s'); it must be %s" % (root_ns[0], XHTML_NS))
    if not has_content:
        problems.append("The narrative SHALL have some non-whitespace content (txt-2)")
    return problems


_ENTITIES = {"nbsp": "&#160;", "copy": "&#169;", "reg": "&#174;", "deg": "&#176;", "plusmn": "&#177;",
             "micro": "&#181;", "middot": "&#183;", "times": "&#215;", "divide": "&#247;", "ge": "&#8805;",
             "le": "&#8804;", "ndash": "&#8211;", "mdash": "&#8212;", "hellip": "&#8230;", "lsquo": "&#8216;",
             "rsquo": "&#8217;", "ldquo": "&#8220;", "rdquo": "&#8221;", "bull": "&#8226;", "trade": "&#8482;",
             "euro": "&#8364;", "pound": "&#163;", "yen": "&#165;", "sect": "&#167;", "para": "&#182;",
             "laquo": "&#171;", "raquo": "&#187;", "frac12": "&#189;", "sup2": "&#178;", "alpha": "&#945;",
             "beta": "&#946;", "gamma": "&#947;", "mu": "&#956;", "larr": "&#8592;", "rarr": "&#8594;"}


def _with_entities(text: str) -> str:
    """Expat knows only XML's five entities; map the common HTML ones to character references."""
    if "&" not in text:
        return text
    for name, ref in _ENTITIES.items():
        text = text.replace(f"&{name};", ref)
    return text


LANGUAGE_CONTROL_EXT = "http://hl7.org/fhir/StructureDefinition/narrative-language-control"
SOURCE_CONTROL_EXT = "http://hl7.org/fhir/StructureDefinition/narrative-source-control"
SOURCE_CLASSES = ("boilerplate", "generated", "original")


def _top_level(text: str) -> list[tuple[dict[str, str] | None, str]] | None:
    """The nodes directly inside the root div: (attributes, text) of each child element, (None, text) of each
    non-blank text node; None when the div is not well-formed."""
    nodes: list[tuple[dict[str, str] | None, str]] = []
    depth = 0
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth == 2:
            nodes.append(({k.rpartition(" ")[2]: v for k, v in attrs.items()}, ""))

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    def chars(data: str) -> None:
        if depth == 1 and data.strip():
            nodes.append((None, data.strip()))
        elif depth >= 2 and nodes and nodes[-1][0] is not None:
            nodes[-1] = (nodes[-1][0], nodes[-1][1] + data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(_with_entities(text), True)
    except xml.parsers.expat.ExpatError:
        return None
    return nodes


def narrative_control_problems(text: str, language_control: str | None, source_control: str | None,
                               resource_language: str | None, profile: str) -> list[str]:
    """What a profile's narrative controls (extensions on the element holding the Narrative) find wrong.

    narrative-language-control: `_no` (no language sections: child divs with a lang), `_yes` (they are
    required), `_resource` (one for the resource's language is required). narrative-source-control: every node
    directly in the div says where its text comes from with a class (boilerplate, generated or original); the
    Java validator reports a missing one as an error whatever the extension's value, and so does this.
    """
    nodes = _top_level(text)
    if nodes is None:
        return []  # not well-formed: reported by check_xhtml
    problems: list[str] = []
    languages = sorted({attrs.get("lang") or attrs.get("xml:lang") or "" for attrs, _ in nodes
                        if attrs is not None and (attrs.get("lang") or attrs.get("xml:lang"))})
    if language_control == "_no" and languages:
        problems.append(f"The xhtml has some language sections ({', '.join(languages)}), but language sections "
                        f"are prohibited in this context by the profile {profile}")
    elif language_control == "_yes" and not languages:
        problems.append(f"The xhtml has no language sections, but language sections are required in this context "
                        f"by the profile {profile}")
    elif language_control == "_resource" and resource_language and resource_language not in languages:
        problems.append(f"The profile {profile} requires a section in the narrative for the resource language "
                        f"({resource_language}), but it was not found (found {', '.join(languages) or 'none'})")
    if source_control:
        for attrs, content in nodes:
            classes = (attrs or {}).get("class", "").split()
            if not any(c in SOURCE_CLASSES for c in classes):
                shown = " ".join(content.split())[:60]
                problems.append(f"The xhtml node at '{shown}' does not have a class attribute to indicate its "
                                f"source (boilerplate, generated, or original) and this is required by the "
                                f"profile {profile}")
    return problems
