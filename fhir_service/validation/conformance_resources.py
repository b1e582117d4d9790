"""Checks of conformance resources given as instances (StructureDefinition, SearchParameter) and of reports
against their definitions (MeasureReport), beyond what their StructureDefinitions express.

As the HL7 validator does when it validates a profile: a differential the snapshot generator rejects (an element
that is not in the base, a choice renamed to a type it does not have, a base that cannot be found) is an error
in the profile itself, reported at the StructureDefinition.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_service.validation.jsonshape import as_list, dicts
from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import Walk


def check_structure_definition(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    differential = sd.get("differential")
    if not isinstance(differential, dict) or not differential.get("element") or not sd.get("baseDefinition") \
            or sd.get("derivation") != "constraint":
        return  # specializations (new types, logical models) are not generated from their base
    try:
        from fhir_service.definitions.snapshot import generate_snapshot
    except ImportError:  # no snapshot generator: nothing to check against
        return
    candidate = {k: v for k, v in sd.items() if k != "snapshot"}
    try:
        generate_snapshot(candidate, walk.defs)
    except RecursionError:
        walk.issue("error", "processing", "Error generating Snapshot: the definition derives from itself", expr, loc)
    except Exception as exc:  # noqa: BLE001 - SnapshotError and whatever a broken differential provokes
        walk.issue("error", "processing", f"Error generating Snapshot: {exc}", expr, loc)


OPEN_TYPE_CODES = {"Resource", "DomainResource", "Element", "BackboneElement"}
INHERIT_OBLIGATIONS = "http://hl7.org/fhir/StructureDefinition/inherit-obligations"
OBLIGATION_PROFILE = "http://hl7.org/fhir/StructureDefinition/obligation-profile"


def check_inherited_obligations(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    """A profile inheriting the obligations of another (`inherit-obligations`) names an obligation profile
    (one flagged `obligation-profile`) on the same base, as the Java validator requires."""
    for i, ext in enumerate(as_list(sd.get("extension"))):
        if not isinstance(ext, dict) or ext.get("url") != INHERIT_OBLIGATIONS:
            continue
        url = ext.get("valueCanonical")
        source = walk.defs.resolve(url) if isinstance(url, str) else None
        if not isinstance(source, dict) or source.get("resourceType") != "StructureDefinition":
            continue
        where = (f"{expr}.extension[{i}]", loc + ("extension", i))
        flagged = any(isinstance(e, dict) and e.get("url") == OBLIGATION_PROFILE and e.get("valueBoolean") is True
                      for e in as_list(source.get("extension")))
        if not flagged:
            walk.issue("error", "business-rule", f"The profile '{url}' is not marked as an obligation profile",
                       *where)
        elif source.get("baseDefinition") != sd.get("baseDefinition"):
            walk.issue("error", "business-rule", f"The profile '{url}' has a different base "
                       f"'{source.get('baseDefinition')}' from that expected '{sd.get('baseDefinition')}'", *where)


def check_type_and_paths(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    """The type a StructureDefinition defines, and the paths of its elements (the Java validator's rules):
    a type that FHIR does not define must be a URL (a namespace: logical models); a specialization defines a
    type other than its base's; and every element path starts with the name of the type (the last segment
    of a type URL)."""
    sd_type = sd.get("type")
    if not isinstance(sd_type, str) or not sd_type:
        return
    is_url = ":" in sd_type
    if sd.get("kind") == "logical" and not is_url and walk.defs.structure_definition(sd_type) is None:
        walk.issue("error", "invalid", f"The type {sd_type} is not legal because it is not defined in the FHIR "
                   "specification. Other types must have a namespace on them", f"{expr}.type", loc + ("type",))
    base_url = sd.get("baseDefinition")
    if sd.get("derivation") == "specialization" and isinstance(base_url, str):
        base = walk.defs.resolve(base_url)
        if isinstance(base, dict) and base.get("type") == sd_type and base.get("url") != sd.get("url"):
            walk.issue("error", "invalid", f"The type {sd_type} must not be the same as the type in the base "
                       f"structure {base_url} that is being specialised", expr, loc)
    name = sd_type.rstrip("/").rsplit("/", 1)[-1] if is_url else sd_type
    for part in ("differential", "snapshot"):
        elements = (sd.get(part) or {}).get("element") if isinstance(sd.get(part), dict) else None
        for i, element in enumerate(dicts(elements)):
            path = element.get("path")
            if isinstance(path, str) and path.split(".", 1)[0] != name:
                walk.issue("error", "invalid", f"The path {path} must start with the type of the structure {name}",
                           f"{expr}.{part}.element[{i}]", loc + (part, "element", i))


def check_type_profiles(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    """A type profile in a differential is a profile of that very type (`Quantity` profiled by SimpleQuantity,
    not by Count, whose type is Count), as the Java validator requires."""
    elements = (sd.get("differential") or {}).get("element") if isinstance(sd.get("differential"), dict) else None
    for i, element in enumerate(dicts(elements)):
        for j, type_ref in enumerate(dicts(element.get("type"))):
            code = type_ref.get("code")
            if not isinstance(code, str) or code in OPEN_TYPE_CODES:
                continue
            for k, url in enumerate(as_list(type_ref.get("profile"))):
                target = walk.defs.resolve(url) if isinstance(url, str) else None
                if not isinstance(target, dict) or target.get("resourceType") != "StructureDefinition" \
                        or target.get("kind") == "logical" or target.get("type") in (None, code):
                    continue
                walk.issue("error", "invalid", f"Profile {url} is for type {target.get('type')}, but the "
                           f"{element.get('path')} element has type {code}",
                           f"{expr}.differential.element[{i}].type[{j}].profile[{k}]",
                           loc + ("differential", "element", i, "type", j, "profile", k))


def check_fixed_values_kept(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    """A profile may not change a fixed value of the profile it derives from (e.g. an extension's fixed url)."""
    base_url = sd.get("baseDefinition")
    elements = (sd.get("differential") or {}).get("element") if isinstance(sd.get("differential"), dict) else None
    if not isinstance(base_url, str) or not isinstance(elements, list) or base_url == sd.get("url"):
        return
    try:
        base = walk.defs.structure_definition(base_url)
    except Exception:  # noqa: BLE001 - an unusable base is reported by check_structure_definition
        return
    if not isinstance(base, dict):
        return
    base_elements = {e.get("id") or e.get("path"): e for e in dicts((base.get("snapshot") or {}).get("element"))}
    for i, element in enumerate(elements):
        if not isinstance(element, dict):
            continue
        key_id = element.get("id") or element.get("path")
        original = base_elements.get(key_id) if isinstance(key_id, str) else None
        if not original:
            continue
        for key, value in element.items():
            if key.startswith("fixed") and key in original and original[key] != value:
                walk.issue("error", "value", f"Value is '{value}' but is fixed to '{original[key]}' in the profile "
                           f"{base_url}, because the value must match the fixed value defined there",
                           f"{expr}.differential.element[{i}]", loc + ("differential", "element", i, key))


def check_search_parameter(walk: "Walk", sp: dict[str, Any], expr: str, loc: Location) -> None:
    """A SearchParameter derived from another keeps its type and applies to (a subset of) its base types."""
    derived_from = sp.get("derivedFrom")
    if not isinstance(derived_from, str):
        return
    parent = walk.defs.resolve(derived_from)
    if not isinstance(parent, dict) or parent.get("resourceType") != "SearchParameter":
        return
    if isinstance(sp.get("type"), str) and isinstance(parent.get("type"), str) and sp["type"] != parent["type"]:
        walk.issue("error", "business-rule", f"The type {sp['type']} is different to the type {parent['type']} in "
                   f"the derivedFrom SearchParameter {derived_from}", expr, loc)
    parent_bases = {b for b in as_list(parent.get("base")) if isinstance(b, str)}
    for i, base in enumerate(as_list(sp.get("base"))):
        if isinstance(base, str) and parent_bases and base not in parent_bases \
                and not parent_bases & {"Resource", "DomainResource"}:
            walk.issue("error", "business-rule", f"The resource type {base} is not listed as a base in the "
                       f"SearchParameter this is derived from ({derived_from})", f"{expr}.base[{i}]",
                       loc + ("base", i))


CQL_LANGUAGES = ("text/cql", "text/cql.identifier")


def check_measure(walk: "Walk", measure: dict[str, Any], expr: str, loc: Location) -> None:
    """CQL criteria of a Measure's stratifiers name a definition of one of its libraries (`Library.Name`, or
    `Name` when it has one library), and that library's ELM defines it (the Java validator's MeasureValidator)."""
    libraries = [lib for url in as_list(measure.get("library")) if isinstance(url, str)
                 for lib in [walk.defs.resolve(url)] if isinstance(lib, dict) and lib.get("resourceType") == "Library"]
    for i, group in enumerate(dicts(measure.get("group"))):
        for j, stratifier in enumerate(dicts(group.get("stratifier"))):
            criteria = stratifier.get("criteria")
            if not isinstance(criteria, dict) or criteria.get("language") not in CQL_LANGUAGES \
                    or not isinstance(criteria.get("expression"), str):
                continue
            where = (f"{expr}.group[{i}].stratifier[{j}].criteria", loc + ("group", i, "stratifier", j, "criteria"))
            _check_cql_reference(walk, criteria["expression"], libraries, where)


def _check_cql_reference(walk: "Walk", reference: str, libraries: list[dict[str, Any]],
                         where: tuple[str, Location]) -> None:
    if not libraries:
        walk.issue("error", "business-rule", "No CQL Libraries found on this Measure", *where)
        return
    name, dot, target = reference.partition(".")
    if dot:
        matching = [lib for lib in libraries if lib.get("name") == name]
        if not matching:
            walk.issue("error", "business-rule", f"No matching Library found for the namespace {name}", *where)
            return
        library = matching[0]
    elif len(libraries) == 1:
        library, target = libraries[0], reference
    else:
        walk.issue("error", "business-rule", "There is more than one CQL library, so the expression must name "
                   "the library it refers to", *where)
        return
    definitions = elm_definitions(library)
    if definitions is None:
        return  # no ELM to check against (the Java validator says so as information)
    if target.strip().strip('"') not in definitions:
        walk.issue("error", "business-rule", f"The function {target} does not exist in the library "
                   f"{library.get('url')}", *where)


def elm_definitions(library: dict[str, Any]) -> set[str] | None:
    """The names an ELM translation in the Library's content defines (expression and function definitions);
    None when it carries no readable ELM. The XML form is read with the DTD refused (no entity expansion)."""
    import base64
    import json
    import xml.parsers.expat

    for content in dicts(library.get("content")):
        kind, data = content.get("contentType"), content.get("data")
        if kind not in ("application/elm+xml", "application/elm+json") or not isinstance(data, str):
            continue
        try:
            text = base64.b64decode(data)
        except ValueError:
            continue
        names: set[str] = set()
        if kind == "application/elm+json":
            try:
                statements = json.loads(text).get("library", {}).get("statements", {}).get("def", [])
            except (ValueError, AttributeError):
                continue
            names.update(d.get("name") for d in statements if isinstance(d, dict) and isinstance(d.get("name"), str))
            return names
        parser = xml.parsers.expat.ParserCreate(namespace_separator="|")

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag.rpartition("|")[2] == "def" and isinstance(attrs.get("name"), str):
                names.add(attrs["name"])

        def refuse(*_: Any) -> None:
            raise ValueError("a DTD is not accepted in ELM")

        parser.StartElementHandler = start
        parser.StartDoctypeDeclHandler = refuse
        try:
            parser.Parse(text, True)
        except (ValueError, xml.parsers.expat.ExpatError):
            continue
        return names
    return None


def check_measure_report(walk: "Walk", report: dict[str, Any], expr: str, loc: Location) -> None:
    """A MeasureReport for a cohort measure has no measureScore (the Measure's scoring says what it reports)."""
    url = report.get("measure")
    measure = walk.defs.resolve(url) if isinstance(url, str) else None
    if not isinstance(measure, dict) or measure.get("resourceType") != "Measure":
        return
    _check_groups(walk, report, measure, expr, loc)
    _check_stratifiers(walk, report, measure, expr, loc)
    scoring_concept = measure.get("scoring")
    scoring = {c.get("code") for c in dicts(scoring_concept.get("coding") if isinstance(scoring_concept, dict)
                                            else None)}
    if "cohort" not in scoring:
        return
    for i, group in enumerate(as_list(report.get("group"))):
        if isinstance(group, dict) and "measureScore" in group:
            walk.issue("error", "business-rule", "No measureScore when the scoring of the message is 'cohort'",
                       f"{expr}.group[{i}].measureScore", loc + ("group", i, "measureScore"))


def check_slicing_definitions(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    """Slicing in a differential: discriminator paths must name an element of the sliced element's type, and a
    slice may not redefine the slicing of the element it belongs to."""
    from fhir_service.validation.elements import compiled

    elements = (sd.get("differential") or {}).get("element") if isinstance(sd.get("differential"), dict) else None
    if not isinstance(elements, list):
        return
    base_type = sd.get("type")
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, element in enumerate(elements):
        if not isinstance(element, dict) or not isinstance(element.get("slicing"), dict):
            continue
        path = element.get("path")
        if not isinstance(path, str):
            continue
        slicing = element["slicing"]
        where = f"{expr}.differential.element[{i}]"
        if element.get("sliceName") and path in first and "/" not in str(element.get("sliceName")):
            _, earlier = first[path]
            if _discriminators(earlier) != _discriminators(slicing):
                walk.issue("error", "structure", f"The element at {path} defines the slicing "
                           f"[{_discriminators(earlier)}] but then an element in the slicing "
                           f"{element.get('id', path)} tries to redefine the slicing to [{_discriminators(slicing)}]",
                           expr, loc)
        first.setdefault(path, (i, slicing))
        types = element.get("type")
        type_codes = [t.get("code") for t in (types if isinstance(types, list) else []) if isinstance(t, dict)]
        if not type_codes:
            type_codes = _base_types(walk, base_type, path)
        if len(type_codes) != 1 or not isinstance(type_codes[0], str):
            continue
        structure = compiled(walk.defs, type_codes[0])
        if structure is None:
            continue
        names = {child.name for child, _ in structure.root.children.values()}
        discriminators = slicing.get("discriminator")
        for j, disc in enumerate(discriminators if isinstance(discriminators, list) else []):
            head = str(disc.get("path", "")).split(".", 1)[0] if isinstance(disc, dict) else ""
            if not head or head.startswith("$") or "(" in head or head in names:
                continue
            walk.issue("error", "structure", f"The discriminator path '{disc.get('path')}' does not appear to be "
                       f"valid for the element that is being sliced '{path}'",
                       f"{where}.slicing.discriminator[{j}]", loc + ("differential", "element", i, "slicing",
                                                                    "discriminator", j))


def _discriminators(slicing: dict[str, Any]) -> str:
    found = slicing.get("discriminator")
    return ",".join(f"{d.get('type')}={d.get('path')}" for d in (found if isinstance(found, list) else [])
                    if isinstance(d, dict))


def _base_types(walk: "Walk", base_type: Any, path: str) -> list[str]:
    from fhir_service.validation.elements import compiled

    if not isinstance(base_type, str):
        return []
    structure = compiled(walk.defs, base_type)
    element = structure.by_id.get(path) if structure is not None else None
    if element is None and path.endswith((".extension", ".modifierExtension")):
        return ["Extension"]
    return element.type_codes if element is not None else []


def _codes(concept: Any) -> set[tuple[Any, Any]]:
    """The codings of a CodeableConcept as (system, code); its text when it has no coding."""
    if not isinstance(concept, dict):
        return set()
    found = {(c.get("system"), c.get("code")) for c in dicts(concept.get("coding")) if c.get("code")}
    if not found and isinstance(concept.get("text"), str) and concept["text"].strip():
        found.add(("text", concept["text"].strip()))
    return found


def _stratifier_codes(stratifier: dict[str, Any]) -> set[tuple[Any, Any]]:
    found: set[tuple[Any, Any]] = set()
    for concept in as_list(stratifier.get("code")) if isinstance(stratifier.get("code"), list) \
            else [stratifier.get("code")]:
        found |= _codes(concept)
    return found


MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"


def _coded(concept: Any) -> set[tuple[Any, Any]]:
    """(system, code) of the codings of a CodeableConcept, for matching as the Java validator does."""
    return {(c.get("system"), c.get("code")) for c in dicts(concept.get("coding") if isinstance(concept, dict)
                                                            else None) if c.get("code")}


def _shown(concept: Any) -> str:
    return ", ".join(f"{s}#{c}" for s, c in sorted(_coded(concept), key=str)) or "''"


def _check_groups(walk: "Walk", report: dict[str, Any], measure: dict[str, Any], expr: str, loc: Location) -> None:
    """The report's groups against the Measure's (the Java validator's MeasureValidator): one group of each may
    be anonymous; otherwise every reported group carries the code of a Measure group, once, and every Measure
    group is reported (unless the report is a data collection). Each group's populations likewise."""
    measure_groups = dicts(measure.get("group"))
    if not measure_groups:
        return
    groups = dicts(report.get("group"))
    if len(groups) == 1 and len(measure_groups) == 1:
        group, defined = groups[0], measure_groups[0]
        if "code" in defined and "code" in group and not (_coded(group.get("code")) & _coded(defined.get("code"))):
            walk.issue("error", "business-rule", f"The code for this group ({_shown(group.get('code'))}) does not "
                       f"match the code of the group in the measure ({_shown(defined.get('code'))})",
                       f"{expr}.group[0]", loc + ("group", 0))
        _check_populations(walk, report, group, defined, f"{expr}.group[0]", loc + ("group", 0))
        return
    reported: list[int] = []
    for i, group in enumerate(groups):
        where = (f"{expr}.group[{i}]", loc + ("group", i))
        codes = _coded(group.get("code"))
        match = next((k for k, g in enumerate(measure_groups) if codes & _coded(g.get("code"))), None)
        if not codes or match is None:
            walk.issue("error", "business-rule", "Group should have a code that matches the group definition in "
                       "the measure", *where)
            continue
        if match in reported:
            walk.issue("error", "business-rule", "The code for this group is duplicated in the report", *where)
            continue
        reported.append(match)
        _check_populations(walk, report, group, measure_groups[match], *where)
    if report.get("type") != "data-collection":
        for k, defined in enumerate(measure_groups):
            if k not in reported:
                walk.issue("error", "business-rule", f"The MeasureReport does not include a group for the group "
                           f"with code {_shown(defined.get('code'))}", expr, loc)


def _check_populations(walk: "Walk", report: dict[str, Any], group: dict[str, Any], defined: dict[str, Any],
                       expr: str, loc: Location) -> None:
    definitions = dicts(defined.get("population"))
    seen: list[int] = []
    subject_list = report.get("type") == "subject-list"
    for i, population in enumerate(dicts(group.get("population"))):
        where = (f"{expr}.population[{i}]", loc + ("population", i))
        codes = _coded(population.get("code"))
        if not codes:
            walk.issue("error", "business-rule", "The group population has no code", *where)
            continue
        match = next((k for k, p in enumerate(definitions) if codes & _coded(p.get("code"))), None)
        if match is None:
            walk.issue("error", "business-rule", "The code for this group population has no match in the measure "
                       "definition", *where)
            continue
        if match in seen:
            walk.issue("error", "business-rule", "The code for this group population is duplicated", *where)
            continue
        seen.append(match)
        subjects = population.get("subjectResults")
        count_of_subjects = len(subjects) if isinstance(subjects, list) else int(subjects is not None)
        if subject_list:
            count = population.get("count")
            if isinstance(count, int) and not isinstance(count, bool) and count != count_of_subjects:
                walk.issue("error", "business-rule", f"The count ({count}) does not match the number of subject "
                           f"results ({count_of_subjects})", *where)
        elif count_of_subjects:
            walk.issue("error", "business-rule", "Reports where type is not 'subject-list' don't have subjects "
                       "listed", *where)
    for k, definition in enumerate(definitions):
        if k not in seen and (MEASURE_POPULATION, "measure-observation") not in _coded(definition.get("code")):
            walk.issue("error", "business-rule", f"The MeasureReport does not include a population for the "
                       f"population with code {_shown(definition.get('code'))}", expr, loc)


def _check_stratifiers(walk: "Walk", report: dict[str, Any], measure: dict[str, Any], expr: str,
                       loc: Location) -> None:
    """R4 links a report's stratifiers to the Measure's by their codes: each reported stratifier carries the code
    of a stratifier of the matching Measure group, and each of those is reported."""
    measure_groups = dicts(measure.get("group"))
    for i, group in enumerate(dicts(report.get("group"))):
        stratifiers = dicts(group.get("stratifier"))
        if not stratifiers:
            continue
        codes = _codes(group.get("code"))
        defined = next((g for g in measure_groups if codes and _codes(g.get("code")) & codes), None)
        if defined is None and len(measure_groups) == 1:
            defined = measure_groups[0]
        if defined is None:
            continue
        definitions = dicts(defined.get("stratifier"))
        matched: set[int] = set()
        for j, stratifier in enumerate(stratifiers):
            reported = _stratifier_codes(stratifier)
            hits = [k for k, d in enumerate(definitions) if reported and _codes(d.get("code")) & reported]
            if not hits:
                walk.issue("error", "business-rule", "Group should have a code that matches the group stratifier "
                           "definition in the measure", f"{expr}.group[{i}].stratifier[{j}]",
                           loc + ("group", i, "stratifier", j))
            matched.update(hits)
        for k, definition in enumerate(definitions):
            if k not in matched:
                shown = ", ".join(f"{s}#{c}" for s, c in sorted(_codes(definition.get("code")), key=str)) or "''"
                walk.issue("error", "business-rule", f"The MeasureReport does not include a stratifier for the "
                           f"stratifier with code {shown} (id = '{definition.get('id')}')", f"{expr}.group[{i}]",
                           loc + ("group", i))
