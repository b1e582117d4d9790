"""The single walk over a resource's JSON against compiled element trees: structure, invariants, profiles.

One `Walk` per `Validator.validate` call collects issues. `resource(...)` validates one resource (top level,
contained, or a Bundle entry) against its base definition or its profiles; `value(...)` checks one JSON value
against one ElementDef, descending into children. Everything is driven by the compiled definitions: there is no
per-resource code. The walk is depth-guarded (deeply nested JSON yields an issue, never RecursionError) and visits
each node once per profile, so time is linear in the size of the input.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Sequence

from fhir_service.definitions import Definitions
from fhir_service.validation import conformance_resources
from fhir_service.validation import contained as contained_rules
from fhir_service.validation import (
    datatypes, extensions, patterns, primitives, questionnaire, references, shortcuts, slicing, units,
)
from fhir_service.validation.elements import (
    PRIMITIVE_TYPES, CompiledStructure, Constraint, ElementDef, compiled, compiled_or_error,
)
from fhir_service.validation.fhirpath_adapter import satisfied
from fhir_service.validation.guards import any_present, is_pure, resource_reads
from fhir_service.validation.jsonshape import as_list
from fhir_service.validation.outcome import Issue, Location
from fhir_service.validation.native import NATIVE
from fhir_service.validation.primitives import HTML_TAG, REGEXES, check_primitive, json_type_name
from fhir_service.validation.xhtml import check_xhtml, local_links, narrative_control_problems

MAX_DEPTH = 120  # JSON nesting levels; real resources stay far below (Questionnaire items ~10)
FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
ID_RE = REGEXES["id"]
# core extensions of FHIR releases (and cross-version ones) that this package set may not carry
CORE_EXTENSION = re.compile(r"^http://hl7\.org/fhir/(\d+\.\d+/)?StructureDefinition/")
BundleCheck = Callable[[dict, str, Location], list[Issue]]


class ResourceFrame:
    """What invariants and references need to know about the resource being walked."""

    __slots__ = ("resource", "root", "resolver", "contained_ids", "local_context")

    def __init__(self, resource: dict, root: dict, resolver: Any, local_context: bool = False) -> None:
        self.resource = resource
        self.root = root
        self.resolver = resolver
        self.contained_ids: dict[str, dict] | None = None
        self.local_context = local_context  # inside a Bundle or Parameters: relative references resolve here

    def for_entry(self, full_url: str) -> "ResourceFrame":
        """This frame with a resolver that knows the referring Bundle entry's fullUrl."""
        base = self.resolver

        def resolve(reference: str, referrer: str | None = None) -> Any:
            try:
                return base(reference, referrer or full_url)
            except TypeError:  # a one-argument resolver
                return base(reference)

        return ResourceFrame(self.resource, self.root, resolve, self.local_context)

    def contained(self, ref_id: str) -> dict | None:
        """The contained resource `#ref_id` refers to: in the container (siblings of a contained resource)."""
        if self.contained_ids is None:
            self.contained_ids = {}
            for holder in (self.root, self.resource):
                items = holder.get("contained")
                if isinstance(items, list):
                    for item in items:
                        if isinstance(item, dict) and isinstance(item.get("id"), str):
                            self.contained_ids[item["id"]] = item
        return self.contained_ids.get(ref_id)


class Walk:
    """State of one validation: definitions, the issues found, hooks (bundle rules, terminology)."""

    def __init__(self, definitions: Definitions, *, bundle_check: BundleCheck | None = None,
                 resolver_factory: Callable[[dict], Any] | None = None, bindings: Any = None,
                 security_checks: bool = False, example_urls: bool = True,
                 check_references: bool = False) -> None:
        self.defs = definitions
        self.issues: list[Issue] = []
        self.bundle_check = bundle_check
        self.resolver_factory = resolver_factory
        self.bindings = bindings
        self._seen: set[tuple] = set()
        self.secondary = False  # a later profile's walk: nested resources were already validated
        self.too_deep = False
        self._conformance: dict[tuple[int, str], bool] = {}
        self.extension_stack: list[Any] = []  # urls of the extensions being walked (for extension contexts)
        # (element, resource frame) holding the extensions being walked: fhirpath contexts and context invariants
        self.extension_hosts: list[tuple[dict, ResourceFrame]] = []
        self.allowed_displays: list[dict[tuple[str, str], frozenset[str]]] = []  # from bound value sets
        self.entry_profiles: dict[int, list[str]] = {}  # Bundle entries given extra profiles (bundle rules)
        self.security_checks = security_checks
        self.example_urls = example_urls
        self.check_references = check_references

    def conforms(self, resource: dict, url: str) -> bool:
        """Whether `resource` has no errors against profile `url` (a separate walk; memoised per call, and a
        reference cycle counts as conforming while it is being checked)."""
        key = (id(resource), url)
        cached = self._conformance.get(key)
        if cached is not None:
            return cached
        self._conformance[key] = True  # in progress: a cycle back to it does not recurse
        probe = Walk(self.defs, resolver_factory=self.resolver_factory, bindings=self.bindings)
        probe._conformance = self._conformance
        probe.secondary = True
        probe.resource(resource, str(resource.get("resourceType", "")), (), [url], explicit_profiles=True)
        result = not any(i.is_error for i in probe.issues)
        self._conformance[key] = result
        return result

    # -- issues ------------------------------------------------------------------------------------------
    def issue(self, severity: str, code: str, message: str, expression: str, location: Location,
              rule: str | None = None) -> None:
        key = (severity, code, message, expression)
        if key in self._seen:
            return
        self._seen.add(key)
        self.issues.append(Issue(severity, code, message, expression, location, rule=rule))

    # -- resources -----------------------------------------------------------------------------------------
    def resource(self, res: Any, expr: str, loc: Location, profiles: Sequence[str] = (), *,
                 root: dict | None = None, resolver: Any = None, depth: int = 0, contained: bool = False,
                 explicit_profiles: bool = False, local_context: bool = False) -> None:
        """Validate a resource: its base type, or each of its profiles (a profile's snapshot includes the base)."""
        if not isinstance(res, dict):
            self.issue("error", "structure", f"A resource must be a JSON object, not a {json_type_name(res)}",
                       expr, loc)
            return
        rtype = res.get("resourceType")
        if rtype is None:
            self.issue("error", "structure", "The resource has no resourceType property, so it cannot be validated",
                       expr, loc)
            return
        if not isinstance(rtype, str) or rtype not in self.defs.resource_types:
            self.issue("error", "structure", f"Unknown resource type '{rtype}'", expr, loc + ("resourceType",))
            return
        base, err = compiled_or_error(self.defs, rtype)
        if base is None:
            self.issue("error", "structure", f"No definition for resource type '{rtype}' ({err or 'not loaded'})",
                       expr, loc)
            return
        if base.abstract:
            self.issue("error", "structure", f"The resource type '{rtype}' is abstract and cannot be instantiated",
                       expr, loc + ("resourceType",))
        if not expr:
            expr = rtype
        structures = self._profiles(res, rtype, expr, loc, profiles, explicit_profiles)
        if not structures:
            structures = [base]
        frame = ResourceFrame(res, root if root is not None else res, resolver, local_context)
        if rtype == "Parameters":
            frame.resolver = parameters_resolver(res, resolver)
            frame.local_context = True
        elif rtype == "Bundle" and self.resolver_factory is not None:
            frame.local_context = True
            try:
                frame.resolver = self.resolver_factory(res)
            except Exception:  # noqa: BLE001 - the bundle engineer's resolver must not break validation
                frame.resolver = resolver
        was_secondary = self.secondary
        for i, structure in enumerate(structures):
            self.secondary = was_secondary or i > 0
            self.value(res, structure.root, None, expr, loc, frame, depth, structure=structure, is_resource=True)
        self.secondary = was_secondary
        if not was_secondary and "contained" in res:
            contained_rules.check(self, res, expr, loc)
        if rtype == "QuestionnaireResponse" and not was_secondary:
            questionnaire.check(self, res, expr, loc, frame)
        elif rtype == "Questionnaire" and not was_secondary:
            questionnaire.check_definition(self, res, expr, loc)
        elif rtype == "StructureDefinition" and not was_secondary:
            conformance_resources.check_structure_definition(self, res, expr, loc)
            conformance_resources.check_fixed_values_kept(self, res, expr, loc)
            conformance_resources.check_type_profiles(self, res, expr, loc)
            conformance_resources.check_type_and_paths(self, res, expr, loc)
            conformance_resources.check_inherited_obligations(self, res, expr, loc)
            conformance_resources.check_slicing_definitions(self, res, expr, loc)
        elif rtype == "SearchParameter" and not was_secondary:
            conformance_resources.check_search_parameter(self, res, expr, loc)
        elif rtype == "Measure" and not was_secondary:
            conformance_resources.check_measure(self, res, expr, loc)
        elif rtype == "MeasureReport" and not was_secondary:
            conformance_resources.check_measure_report(self, res, expr, loc)
        if rtype == "Bundle" and self.bundle_check is not None and not was_secondary:
            try:
                for found in self.bundle_check(res, expr, loc):
                    self.issue(found.severity, found.code, found.diagnostics, found.expression or expr,
                               found.location or loc, found.rule)
            except Exception as exc:  # noqa: BLE001
                self.issue("error", "exception", f"Bundle rules could not be checked: {exc}", expr, loc)

    def _profiles(self, res: dict, rtype: str, expr: str, loc: Location, extra: Sequence[str],
                  explicit: bool) -> list[CompiledStructure]:
        urls: list[tuple[str, Location, bool]] = []
        meta = res.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("profile"), list):
            for i, url in enumerate(meta["profile"]):
                if isinstance(url, str):
                    urls.append((url, loc + ("meta", "profile", i), False))
        urls.extend((url, loc, explicit) for url in extra)
        urls.extend((url, loc, True) for url in global_profiles(self.defs).get(rtype, ()))

        result: list[CompiledStructure] = []
        seen: set[str] = set()
        for url, where, is_explicit in urls:
            if url in seen:
                continue
            seen.add(url)
            structure, err = compiled_or_error(self.defs, url)
            if structure is None and err is None and "|" in url:
                structure, err = self._partial_version(url)
            if structure is None:
                if err:
                    self.issue("error", "processing", f"Profile {url} could not be used: {err}", expr, where)
                elif is_explicit:
                    self.issue("error", "not-found", f"Profile {url} is unknown", expr, where)
                else:
                    self.issue("warning", "not-found",
                               f"Profile reference '{url}' has not been checked because it is unknown", expr, where)
                continue
            if structure.type != rtype and structure.type not in ("Resource", "DomainResource"):
                self.issue("error", "structure",
                           f"Profile {url} is for {structure.type}, but the resource is a {rtype}", expr, where)
                continue
            result.append(structure)
        return result

    def _partial_version(self, url: str) -> tuple[CompiledStructure | None, str | None]:
        """`url|0.2` names any 0.2.x version (the HL7 validator's rule for partial versions)."""
        base, _, version = url.partition("|")
        sd = self.defs.resolve(base)
        if isinstance(sd, dict) and str(sd.get("version", "")).startswith(version + "."):
            return compiled_or_error(self.defs, base)
        return None, None

    # -- values --------------------------------------------------------------------------------------------
    def value(self, val: Any, elem: ElementDef, code: str | None, expr: str, loc: Location, frame: ResourceFrame,
              depth: int, *, prim_ext: Any = None, structure: CompiledStructure | None = None,
              is_resource: bool = False, ext_owner: tuple[str, str, str] | None = None) -> None:
        """Check one JSON value (not a list) against `elem` with chosen type `code`.

        `ext_owner` (path, type, property) describes the element an extension sits on, for its context rules.
        """
        if depth > MAX_DEPTH:
            self.issue("error", "too-costly", f"The content is nested too deeply (more than {MAX_DEPTH} levels)",
                       expr, loc)
            self.too_deep = True  # the enclosing elements' FHIRPath invariants would recurse as deep: skip them
            return
        if code is None and len(elem.types) == 1:
            code = elem.types[0].code
        elif code is None and elem.types and all(t.code in self.defs.resource_types for t in elem.types):
            # a choice of resource types (a profile's slice of Bundle.entry.resource): the instance names it
            codes = [t.code for t in elem.types]
            actual = val.get("resourceType") if isinstance(val, dict) else None
            if actual not in codes:
                self.issue("error", "structure", f"This element must hold one of ({', '.join(codes)}), not "
                           f"{actual}", expr, loc)
            code = actual if actual in codes else "Resource"
        if code in PRIMITIVE_TYPES:
            self.primitive(val, elem, code, expr, loc, frame, depth, prim_ext)
            return
        if code is not None and (code == "Resource" or code in self.defs.resource_types):
            self.nested_resource(val, elem, code, expr, loc, frame, depth)
            return
        if not isinstance(val, dict):
            self.issue("error", "structure",
                       f"This property must be an object, not a {json_type_name(val)}", expr, loc)
            return
        children, type_root, type_structure = self._children(elem, code, structure, val, expr, loc, ext_owner)
        # ele-1, natively: an element has a value or children other than id.
        if not is_resource and not any(k != "id" and not k.startswith("fhir_comments") for k in val):
            self.issue("error", "invariant", "All FHIR elements must have a @value or children", expr, loc,
                       rule="ele-1")
        if code == "Extension":
            self._ext1(val, expr, loc)
        self.fixed_pattern(val, elem, expr, loc)
        if elem.min_value is not None or elem.max_value is not None:
            self.quantity_limits(val, elem, expr, loc)
        if is_resource:
            owner_path = owner_type = val.get("resourceType", "")
            self._resource_id(val, expr, loc)
        else:
            owner_type = code or elem.base_path
            owner_path = elem.base_path
        if code == "Extension":
            self.extension_stack.append(val.get("url"))
        if elem.binding_displays is not None:
            self.allowed_displays.append(elem.binding_displays)
        self.object(val, children, elem, expr, loc, frame, depth, is_resource=is_resource,
                    structure=type_structure or structure, where=(owner_path, owner_type))
        if code == "Coding" and self.bindings is not None:
            self.bindings.check_coding(self, val, expr, loc)
        if elem.binding_displays is not None:
            self.allowed_displays.pop()
        if code == "Extension":
            self.extension_stack.pop()
        if code in datatypes.CHECKS:
            datatypes.CHECKS[code](self, val, elem, expr, loc)
        if code == "Narrative" and elem.narrative_controls and isinstance(val.get("div"), str):
            language = frame.resource.get("language") if isinstance(frame.resource, dict) else None
            for message in narrative_control_problems(
                    val["div"], elem.narrative_controls.get("language"), elem.narrative_controls.get("source"),
                    language if isinstance(language, str) else None,
                    f"StructureDefinition[{structure.url}]" if structure is not None else "the profile"):
                self.issue("error", "business-rule", message, expr, loc)
        context_type = code if code and code not in ("BackboneElement", "Element") and not is_resource else \
            (val.get("resourceType") if is_resource else elem.base_path)
        self.invariants(val, elem.constraints, type_root.constraints if type_root is not None else (),
                        expr, loc, frame, context_type, is_resource)
        if code == "Reference":
            references.check(self, val, elem, expr, loc, frame)
        if self.bindings is not None:
            if elem.binding_strength and code in ("CodeableConcept", "Coding", "Quantity"):
                self.bindings.check(self, val, elem, code, expr, loc)

    def nested_resource(self, val: Any, elem: ElementDef, code: str, expr: str, loc: Location,
                        frame: ResourceFrame, depth: int) -> None:
        """A resource inside a resource (contained, Bundle.entry.resource, Parameters.parameter.resource)."""
        if not self.secondary:
            type_ref = elem.type_ref(code)
            profiles = list(type_ref.profiles) if type_ref is not None else []
            if len(profiles) > 1 and isinstance(val, dict):
                # several profiles on one type are alternatives: conforming to one of them is enough
                matching = next((url for url in profiles if self.conforms(val, url)), None)
                if matching is not None:
                    profiles = [matching]
            profiles += self.entry_profiles.get(id(val), [])  # the validator's bundle rules
            if isinstance(val, dict) and code not in ("Resource", "DomainResource") and \
                    val.get("resourceType") not in (None, code):
                self.issue("error", "structure", f"This element must hold a {code}, not a {val.get('resourceType')}",
                           expr, loc)
            self.resource(val, expr, loc, profiles, root=frame.root if elem.name == "contained" else None,
                          resolver=frame.resolver, depth=depth + 1, contained=elem.name == "contained",
                          explicit_profiles=True, local_context=frame.local_context)
        if not isinstance(val, dict):
            return
        own = [c for c in elem.constraints if c.source is None or "/StructureDefinition/Element" not in c.source]
        if own:  # the containing element's invariants: %resource is still the container
            self.invariants(val, own, (), expr, loc, frame, code, False)
        if elem.has_inline_children:
            # a profile constraining the nested resource in place: check those constraints (only them)
            inner = ResourceFrame(val, frame.root if elem.name == "contained" else val, frame.resolver)
            self.object(val, elem.children, elem, expr, loc, inner, depth + 1, is_resource=True, structure=None,
                        known_only=True)

    def _known_type_profiles(self, elem: ElementDef, code: str, expr: str, loc: Location) -> None:
        """A type profile the definitions do not hold is an error even where the profile constrains the
        element's children in place (the Java validator's "Unknown profile"): its own rules go unchecked."""
        type_ref = elem.type_ref(code)
        urls = type_ref.profiles if type_ref is not None and code != "Extension" else ()
        if urls and all(compiled_or_error(self.defs, url) == (None, None) for url in urls):
            self.issue("error", "not-found", f"Unknown profile {urls[0]} for this {code}", expr, loc)

    def _children(self, elem: ElementDef, code: str | None, structure: CompiledStructure | None, val: dict,
                  expr: str, loc: Location, ext_owner: tuple[str, str, str] | None = None) -> tuple[
                      dict[str, tuple[ElementDef, str | None]], ElementDef | None, CompiledStructure | None]:
        """The children to check `val` against, the type's root element (for its invariants), its structure."""
        type_root: ElementDef | None = None
        if elem.has_inline_children and (not elem.is_choice or len(elem.types) <= 1 or elem.slice_name):
            if code and code not in ("BackboneElement", "Element", "Resource"):
                base = compiled(self.defs, code)
                type_root = base.root if base is not None else None
                self._known_type_profiles(elem, code, expr, loc)
            return elem.children, type_root, None
        if elem.content_ref and structure is not None:
            target = structure.by_id.get(elem.content_ref)
            if target is not None:
                return target.children, None, None
        if code is None:
            return elem.children, None, None
        type_ref = elem.type_ref(code)
        profile_urls = type_ref.profiles if type_ref is not None else ()
        if code == "Extension" and not profile_urls:
            url = val.get("url")
            if isinstance(url, str) and "url" in val:
                ext_structure, err = compiled_or_error(self.defs, url)
                if ext_structure is not None and ext_structure.type == "Extension":
                    if ext_owner is not None:
                        extensions.check_use(self, ext_structure, ext_owner, expr, loc)
                    return ext_structure.root.children, ext_structure.root, ext_structure
                if ext_owner is not None and (":" in url or ext_owner[1] != "Extension"):
                    # (relative urls inside an extension name the parts of a complex extension)
                    self._unknown_extension(url, err, expr, loc)
        for url in profile_urls[:1]:
            prof, err = compiled_or_error(self.defs, url)
            if prof is not None:
                if prof.root.fixed is not None or prof.root.pattern is not None:
                    self.fixed_pattern(val, prof.root, expr, loc)
                return prof.root.children, prof.root, prof
            # an error, as in the Java validator ("Unknown profile"): what the profile requires cannot be checked
            self.issue("error", "not-found",
                       f"Unknown profile {url} for this {code}" if err is None
                       else f"Profile {url} for this {code} is unusable: {err}", expr, loc)
        base = compiled(self.defs, code)
        if base is None:
            self.issue("error", "structure", f"Unknown type '{code}'", expr, loc)
            return {}, None, None
        return base.root.children, base.root, base

    def _unknown_extension(self, url: str, err: str | None, expr: str, loc: Location) -> None:
        if err:
            self.issue("error", "processing", f"The extension {url} could not be used: {err}", expr, loc)
        elif CORE_EXTENSION.match(url):
            # Core and cross-version extensions of other FHIR releases, which this package set may not carry.
            self.issue("warning", "structure", f"The extension {url} is unknown, so it was not checked", expr,
                       loc + ("url",))
        elif _unknown_extension_allowed(url, self.example_urls):
            # the Java validator's allowUnknownExtension: example domains (when examples are allowed), DICOM's
            self.issue("information", "structure", f"The extension {url} is unknown (a domain where unknown "
                       "extensions are allowed), so it was not checked", expr, loc + ("url",))
        else:
            self.issue("error", "structure", f"The extension {url} could not be found so is not allowed here",
                       expr, loc + ("url",))
            if _is_example_url(url):
                self.issue("error", "value", f"Example URLs are not allowed in this context ({url})", f"{expr}.url",
                           loc + ("url",))

    def _resource_id(self, res: dict, expr: str, loc: Location) -> None:
        rid = res.get("id")
        if isinstance(rid, str) and rid and not ID_RE.fullmatch(rid):
            why = f"Too long ({len(rid)} chars)" if len(rid) > 64 else f"Invalid Characters ('{rid}')"
            self.issue("error", "invalid", f"Invalid Resource id: {why}", f"{expr}.id", loc + ("id",))

    def _ext1(self, val: dict, expr: str, loc: Location) -> None:
        has_ext = bool(val.get("extension"))
        has_value = any(k.startswith("value") for k in val)
        if has_ext == has_value:
            self.issue("error", "invariant", "Must have either extensions or value[x], not both", expr, loc,
                       rule="ext-1")
        if not isinstance(val.get("url"), str):
            self.issue("error", "required", "An extension must have a url", expr, loc)

    # -- objects -------------------------------------------------------------------------------------------
    def object(self, obj: dict, children: dict[str, tuple[ElementDef, str | None]], owner: ElementDef, expr: str,
               loc: Location, frame: ResourceFrame, depth: int, *, is_resource: bool,
               structure: CompiledStructure | None, where: tuple[str, str] | None = None,
               known_only: bool = False) -> None:
        """Check the properties of `obj` against `children` (of `owner`); `where` = (path, type) of `obj`."""
        present: dict[int, list[tuple[str, ElementDef, str | None]]] = {}
        for key in obj:
            if key == "resourceType" and is_resource:
                continue
            if key == "fhir_comments":
                self.issue("error", "structure", "Unrecognized property 'fhir_comments' (comments are not allowed "
                           "in FHIR R4 JSON)", expr, loc + (key,))
                continue
            if key.startswith("_"):
                name = key[1:]
                entry = children.get(name)
                if entry is None or not self._is_primitive(entry):
                    if not known_only:
                        self.issue("error", "structure", f"Unrecognized property '{key}'", expr, loc + (key,))
                elif name not in obj:
                    present.setdefault(id(entry[0]), []).append((name, entry[0], entry[1]))
                continue
            entry = children.get(key)
            if entry is None:
                if not known_only:
                    self.issue("error", "structure", _unknown_property(key, children), expr, loc + (key,))
                continue
            present.setdefault(id(entry[0]), []).append((key, entry[0], entry[1]))
        seen_defs = set(present)
        for child in owner.child_list if owner.has_inline_children else _unique(children):
            if id(child) not in seen_defs:
                if child.min > 0:
                    self.issue("error", "required",
                               f"{expr}.{child.name}: minimum required = {child.min}, but only found 0", expr, loc)
                for piece in child.slices:
                    if piece.min > 0 and "/" not in (piece.slice_name or ""):
                        self.issue("error", "required", f"{expr}.{child.name}: minimum required = {piece.min}, but "
                                   f"only found 0 (from slice {piece.slice_name})", expr, loc)
        for keys in present.values():
            if len(keys) > 1:
                names = ", ".join(k for k, _, _ in keys)
                self.issue("error", "structure", f"Only one choice of type is allowed, but found {names}",
                           expr, loc + (keys[1][0],))
            for key, child, code in keys:
                ext_owner = (where[0], where[1], key) if where is not None and key in (
                    "extension", "modifierExtension") else None
                if ext_owner is None:
                    self.child(obj, key, child, code, expr, loc, frame, depth, structure, ext_owner)
                    continue
                self.extension_hosts.append((obj, frame))
                try:
                    self.child(obj, key, child, code, expr, loc, frame, depth, structure, ext_owner)
                finally:
                    self.extension_hosts.pop()

    @staticmethod
    def _is_primitive(entry: tuple[ElementDef, str | None]) -> bool:
        child, code = entry
        if code is not None:
            return code in PRIMITIVE_TYPES
        return bool(child.types) and child.types[0].code in PRIMITIVE_TYPES

    def child(self, obj: dict, key: str, child: ElementDef, code: str | None, expr: str, loc: Location,
              frame: ResourceFrame, depth: int, structure: CompiledStructure | None,
              ext_owner: tuple[str, str, str] | None = None) -> None:
        """Check property `key` (and its `_key` twin) of `obj` against `child`: shape, cardinality, each item."""
        val = obj.get(key)
        ext = obj.get("_" + key)
        if key == "resource" and frame.resolver is not None and isinstance(obj.get("fullUrl"), str):
            frame = frame.for_entry(obj["fullUrl"])  # relative references resolve against the entry's fullUrl
        child_expr = f"{expr}.{child.name}" if code is None or not child.is_choice else \
            f"{expr}.{child.name}.ofType({code})"
        child_loc = loc + (key,)
        repeating = child.base_max > 1
        if isinstance(val, list) or isinstance(ext, list):
            if not repeating:
                self.issue("error", "structure",
                           f"This property must be a single value, not an array (property '{key}')",
                           child_expr, child_loc)
            items = val if isinstance(val, list) else []
            exts = ext if isinstance(ext, list) else []
            if val is not None and not isinstance(val, list) or ext is not None and not isinstance(ext, list):
                self.issue("error", "structure", f"The property '{key}' and '_{key}' must both be arrays",
                           child_expr, child_loc)
                return
            if items and exts and len(items) != len(exts):
                self.issue("error", "structure",
                           f"The arrays '{key}' and '_{key}' must have the same length", child_expr, child_loc)
            n = max(len(items), len(exts))
            if n == 0:
                self.issue("error", "structure", f"Arrays must not be empty (property '{key}')", child_expr,
                           child_loc)
                return
            count = 0
            pairs = []
            for i in range(n):
                item = items[i] if i < len(items) else None
                item_ext = exts[i] if i < len(exts) else None
                if item is None and item_ext is None:
                    self.issue("error", "structure", "Null values are not allowed in arrays unless the matching "
                               f"'_{key}' entry has content", f"{child_expr}[{i}]", child_loc + (i,))
                    continue
                count += 1
                pairs.append((i, item, item_ext))
            self._cardinality(child, count, child_expr, child_loc)
            if child.slicing is not None or child.slices:
                slicing.check(self, child, code, pairs, child_expr, child_loc, frame, depth, structure, key,
                              ext_owner=ext_owner)
                return
            for i, item, item_ext in pairs:
                self.value(item, child, code, f"{child_expr}[{i}]", child_loc + (i,), frame, depth + 1,
                           prim_ext=item_ext, structure=structure, ext_owner=ext_owner)
            return
        if repeating and val is not None:
            self.issue("error", "structure", f"This property must be an array, not a {json_type_name(val)} "
                       f"(property '{key}')", child_expr, child_loc)
        if val is None and ext is None:
            self.issue("error", "structure", f"The property '{key}' is null; null is not a valid value",
                       child_expr, child_loc)
            return
        self._cardinality(child, 1, child_expr, child_loc)
        if child.slices and child.is_choice:
            slicing.check(self, child, code, [(0, val, ext)], child_expr, child_loc, frame, depth, structure, key,
                          single=True)
            return
        self.value(val, child, code, child_expr, child_loc, frame, depth + 1, prim_ext=ext, structure=structure,
                   ext_owner=ext_owner)

    def _cardinality(self, child: ElementDef, count: int, expr: str, loc: Location) -> None:
        if count < child.min:
            self.issue("error", "required",
                       f"{expr}: minimum required = {child.min}, but only found {count}", expr, loc)
        if count > child.max:
            self.issue("error", "structure",
                       f"{expr}: max allowed = {child.max}, but found {count}", expr, loc)

    # -- primitives ----------------------------------------------------------------------------------------
    def primitive(self, val: Any, elem: ElementDef, code: str, expr: str, loc: Location, frame: ResourceFrame,
                  depth: int, prim_ext: Any) -> None:
        if val is not None:
            if isinstance(val, (dict, list)):
                self.issue("error", "structure", f"This property must be a primitive {code} value, not an "
                           f"{json_type_name(val)}", expr, loc)
                return
            problem = check_primitive(code, val)
            if problem is not None:
                self.issue("error", "value" if "parsing" not in problem else "structure", problem, expr, loc)
            elif code == "xhtml":
                for message in check_xhtml(val):
                    self.issue("error", "value", message, expr, loc, rule="txt-1")
                anchors, links = local_links(val)
                for target in links:
                    if target and target not in anchors and frame.contained(target) is None:
                        self.issue("error", "value", f"Hyperlink '#{target}' in the narrative does not resolve (no "
                                   "anchor of that name in the narrative, and no contained resource with that id)",
                                   expr, loc)
            else:
                if code == "markdown" and (tag := HTML_TAG.search(val)) is not None:
                    self.issue("warning", "value", "The markdown contains content that appears to be an embedded "
                               f"HTML tag starting at '{val[tag.start():tag.start() + 2]}': markdown is not HTML "
                               "(escape '<' as '&lt;')", expr, loc)
                if self.security_checks and code == "string" and HTML_TAG.search(val):
                    self.issue("error", "security", "The string value contains text that looks like embedded HTML "
                               "tags, which are not allowed for security reasons in this context", expr, loc)
                if not self.example_urls and code == "url" and _is_example_url(val):
                    self.issue("error", "value", f"Example URLs are not allowed in this context ({val})", expr, loc)
                self._primitive_facets(val, elem, code, expr, loc)
                if self.bindings is not None and elem.binding_strength and code in ("code", "string", "uri"):
                    self.bindings.check(self, val, elem, code, expr, loc)
        if prim_ext is not None:
            ext_loc = loc[:-1] + ("_" + str(loc[-1]),) if loc and isinstance(loc[-1], str) else loc
            if not isinstance(prim_ext, dict):
                self.issue("error", "structure", f"The primitive extension object must be an object, not a "
                           f"{json_type_name(prim_ext)}", expr, ext_loc)
            else:
                base = compiled(self.defs, code)
                children = {k: v for k, v in base.root.children.items() if k != "value"} if base else {}
                if val is None and not any(k != "id" for k in prim_ext):
                    self.issue("error", "invariant", "All FHIR elements must have a @value or children", expr,
                               ext_loc, rule="ele-1")
                self.object(prim_ext, children, base.root if base else elem, expr, ext_loc, frame, depth + 1,
                            is_resource=False, structure=base, where=(elem.base_path, code))
        elif val is None:
            self.issue("error", "structure", "A primitive value must not be null", expr, loc)
        if val is None and elem.must_have_value:
            self.issue("error", "required", f"The element definition {elem.path} requires that a value be present "
                       "in this element (extensions alone are not enough)", expr, loc)
        if val is None and elem.value_alternatives and isinstance(prim_ext, dict):
            present = {e.get("url") for e in as_list(prim_ext.get("extension")) if isinstance(e, dict)}
            if not present & set(elem.value_alternatives):
                shown = " or ".join(f"'{url}'" for url in elem.value_alternatives)
                self.issue("error", "required", f"The element definition {elem.path} requires that if a value is "
                           f"not present, the extension {shown} must be present", expr, loc)
        if elem.constraints:
            self.invariants(val, elem.constraints, (), expr, loc, frame, code, False)

    def _primitive_facets(self, val: Any, elem: ElementDef, code: str, expr: str, loc: Location) -> None:
        if elem.fixed is not None and not patterns.equal(val, elem.fixed):
            self.issue("error", "value", f"Value is '{val}' but must be '{elem.fixed}'", expr, loc)
        if elem.pattern is not None and not patterns.equal(val, elem.pattern):
            self.issue("error", "value", f"Value is '{val}' but must be '{elem.pattern}'", expr, loc)
        if elem.min_length and isinstance(val, str) and len(val) < elem.min_length:
            self.issue("error", "value", f"Value '{val}' is shorter than permitted minimum length of "
                       f"{elem.min_length}", expr, loc)
        if elem.max_length and isinstance(val, str) and len(val) > elem.max_length:
            self.issue("error", "too-long", f"The value is longer than the maximum length {elem.max_length}",
                       expr, loc)
        if isinstance(elem.min_value, dict) or isinstance(elem.max_value, dict):
            # minValueDuration / maxValueDuration: a date limit relative to today
            if primitives.outside_duration(val, elem.min_value, -1):
                self.issue("error", "value", f"The value '{val}' is earlier than the minimum, today minus "
                           f"{patterns.show(elem.min_value)}", expr, loc)
            if primitives.outside_duration(val, elem.max_value, 1):
                self.issue("error", "value", f"The value '{val}' is later than the maximum, today plus "
                           f"{patterns.show(elem.max_value)}", expr, loc)
            return
        if elem.min_value is not None and _lt(val, elem.min_value):
            self.issue("error", "value", f"The value '{val}' is less than the minimum {elem.min_value}", expr, loc)
        if elem.max_value is not None and _lt(elem.max_value, val):
            self.issue("error", "value", f"The value '{val}' is more than the maximum {elem.max_value}", expr, loc)

    def quantity_limits(self, val: dict, elem: ElementDef, expr: str, loc: Location) -> None:
        """minValueQuantity / maxValueQuantity (compared when the units are the same)."""
        for limit, word, sign in ((elem.min_value, "less than the specified minimum", -1),
                                  (elem.max_value, "more than the specified maximum", 1)):
            if not isinstance(limit, dict) or not isinstance(val.get("value"), (int, float)):
                continue
            if not isinstance(limit.get("value"), (int, float)):
                continue
            order: int | None = (val["value"] > limit["value"]) - (val["value"] < limit["value"])
            if limit.get("code") is not None and (limit.get("code"), limit.get("system")) != (val.get("code"),
                                                                                            val.get("system")):
                same_system = limit.get("system") == val.get("system") == "http://unitsofmeasure.org"
                order = units.compare(val["value"], str(val.get("code")), limit["value"], str(limit["code"])) \
                    if same_system and isinstance(val.get("code"), str) else None
                if order is None:
                    self.issue("warning", "business-rule", f"The value cannot be compared to the limit "
                               f"{patterns.show(limit)}: different units", expr, loc)
                    continue
            if order == sign:
                self.issue("error", "value", f"The value in the instance ({val['value']}) is {word} value "
                           f"({limit['value']})", expr, loc)

    def fixed_pattern(self, val: Any, elem: ElementDef, expr: str, loc: Location) -> None:
        if elem.fixed is not None and not patterns.fixed_matches(val, elem.fixed):
            self.issue("error", "value", f"The value does not match the fixed value {patterns.show(elem.fixed)}",
                       expr, loc)
        if elem.pattern is not None and not patterns.pattern_matches(val, elem.pattern):
            self.issue("error", "value", f"The value does not match the pattern {patterns.show(elem.pattern)}",
                       expr, loc)

    # -- invariants ----------------------------------------------------------------------------------------
    def _memoised(self, c: Constraint, val: Any, context_type: str | None,
                  frame: ResourceFrame) -> list[Any] | None:
        if c.roots is None or not isinstance(val, dict) or c.compiled is None:
            return None
        if c.pure is None:
            c.pure = "resolve" if not is_pure(c.expression) and is_pure(c.expression, allow_resolve=True) \
                else is_pure(c.expression)
        if not c.pure:
            if val is not frame.resource:
                return None
            if c.resource_roots is None:
                reads = resource_reads(c.expression)
                c.resource_roots = c.roots | reads if reads else False
            if not c.resource_roots:
                return None
            # the focus is the resource, so %resource reads are reads of the focus: keyed by those names too
            return shortcuts.memoised(c.compiled, c.resource_roots, val, context_type)
        if c.pure == "resolve":
            if frame.resolver is None:
                return None  # contained targets would need the frame: evaluate directly
            return shortcuts.memoised(c.compiled, c.roots, val, context_type, frame.resolver)
        return shortcuts.memoised(c.compiled, c.roots, val, context_type)

    @staticmethod
    def _shortcut(c: Constraint, val: Any, context_type: str | None) -> bool | None:
        p = _shortcut_plan(c)
        return shortcuts.decide(p, val, context_type) if p else None

    def invariants(self, val: Any, own: Iterable[Constraint], type_level: Iterable[Constraint], expr: str,
                   loc: Location, frame: ResourceFrame, context_type: str | None, is_resource: bool) -> None:
        if self.too_deep:
            return
        done: set[str] = set()
        for group in (own, type_level):
            for c in group:
                if c.key in done:
                    continue
                done.add(c.key)
                if c.compiled is None:
                    self.issue("information", "informational",
                               f"The constraint {c.key} could not be parsed, so was not checked: {c.expression}",
                               expr, loc, rule=c.key)
                    continue
                try:
                    if c.roots is not None and isinstance(val, dict) and not any_present(val, c.roots):
                        ok = _empty_focus(c, val, context_type, is_resource)
                    elif (native := NATIVE.get(c.expression)) is not None and \
                            (decided := native(val, frame.resource)) is not None:
                        ok = decided
                    elif (decided := self._shortcut(c, val, None if is_resource else context_type)) is not None:
                        ok = decided
                    elif (memo := self._memoised(c, val, None if is_resource else context_type, frame)) is not None:
                        ok = satisfied(memo, c.expression)
                    else:
                        ok = c.compiled.holds(val, resource=frame.resource, root_resource=frame.root,
                                              context_type=None if is_resource else context_type,
                                              resolver=frame.resolver)
                except RecursionError:
                    self.issue("error", "too-costly", f"The constraint {c.key} could not be evaluated: the "
                               "content is nested too deeply", expr, loc, rule=c.key)
                    continue
                except Exception as exc:  # noqa: BLE001 - an engine gap must not hide other issues
                    self.issue("information", "informational",
                               f"The constraint {c.key} could not be evaluated: {exc}", expr, loc, rule=c.key)
                    continue
                if not ok:
                    severity = "warning" if c.severity == "warning" else "error"
                    self.issue(severity, "invariant", f"Constraint failed: {c.key}: '{c.human}'", expr, loc,
                               rule=c.key)


def parameters_resolver(parameters: dict, outer: Any) -> Any:
    """Resolve `Type/id` references between the resources a Parameters carries (then through `outer`)."""
    by_ref: dict[str, dict] = {}
    stack = list(parameters.get("parameter", []) or []) if isinstance(parameters.get("parameter"), list) else []
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        res = item.get("resource")
        if isinstance(res, dict) and isinstance(res.get("resourceType"), str) and isinstance(res.get("id"), str):
            by_ref[f"{res['resourceType']}/{res['id']}"] = res
        if isinstance(item.get("part"), list):
            stack.extend(item["part"])

    def resolve(reference: str, referrer: str | None = None) -> Any:
        found = by_ref.get(reference.split("/_history/", 1)[0])
        if found is None and outer is not None:
            try:
                return outer(reference, referrer)
            except TypeError:
                return outer(reference)
        return found

    return resolve


def global_profiles(definitions: Definitions) -> dict[str, tuple[str, ...]]:
    """Profiles that loaded ImplementationGuides declare `global`: every resource of the type must conform."""
    def build() -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for guide in definitions.resources_of_type("ImplementationGuide"):
            for item in as_list(guide.get("global")):
                if isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("profile"), str):
                    found.setdefault(item["type"], []).append(item["profile"])
        return {k: tuple(v) for k, v in found.items()}

    return definitions.memo(("validation.global_profiles",), build)


def _shortcut_plan(c: Constraint) -> Any:
    if c.shortcut is None:
        c.shortcut = shortcuts.plan(c.expression) or False
    return c.shortcut


def _empty_focus(c: Constraint, val: dict, context_type: str | None, is_resource: bool) -> bool:
    """An invariant's result on an element without any of the names it reads: the same for every such element."""
    key = (val.get("resourceType") if is_resource else context_type) or ""
    cached = c.when_absent.get(key)
    if cached is None:
        focus: dict = {"resourceType": key} if is_resource else {}
        assert c.compiled is not None
        cached = c.compiled.holds(focus, resource=focus, root_resource=focus,
                                  context_type=None if is_resource else context_type)
        c.when_absent[key] = cached
    return cached


def _unknown_property(key: str, children: dict[str, tuple[ElementDef, str | None]]) -> str:
    """'Unrecognized property', or, for a choice element given a type it does not allow, which types it allows."""
    for child, _ in children.values():
        if child.is_choice and key.startswith(child.name) and key[len(child.name):len(child.name) + 1].isupper():
            allowed = ", ".join(t.code for t in child.types)
            return (f"Unrecognized property '{key}': the type {key[len(child.name):]} is not allowed for "
                    f"{child.name}[x] here (allowed: {allowed})")
    return f"Unrecognized property '{key}'"


def _unknown_extension_allowed(url: str, examples: bool) -> bool:
    """Unknown extensions the HL7 Java validator lets pass: at example.org / acme.com (when examples are allowed),
    at nema.org (DICOM), and the FHIR tooling extensions."""
    return (examples and ("example.org" in url or "acme.com" in url)) or "nema.org" in url \
        or url.startswith("http://hl7.org/fhir/tools/StructureDefinition/")


def _is_example_url(url: str) -> bool:
    """URLs in the example.org / example.com domains (RFC 2606) do not belong in real, non-example content."""
    host = url.split("://", 1)[1].split("/", 1)[0].lower() if "://" in url else ""
    return host in ("example.org", "example.com") or host.endswith((".example.org", ".example.com"))


_UNIQUE: dict[int, tuple[dict, list[ElementDef]]] = {}


def _unique(children: dict[str, tuple[ElementDef, str | None]]) -> list[ElementDef]:
    """The distinct element definitions of a children map (choice names share one). Children maps come from
    compiled structures and live as long as they do, so the answer is kept per map (with the map itself, so a
    reused id cannot answer for another map); bounded for the maps built on the fly."""
    cached = _UNIQUE.get(id(children))
    if cached is not None and cached[0] is children:
        return cached[1]
    seen: dict[int, ElementDef] = {}
    for child, _ in children.values():
        seen.setdefault(id(child), child)
    found = list(seen.values())
    if len(_UNIQUE) > 2048:
        _UNIQUE.clear()
    _UNIQUE[id(children)] = (children, found)
    return found


def _lt(a: Any, b: Any) -> bool:
    try:
        return a < b
    except TypeError:
        return False
