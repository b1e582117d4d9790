"""FHIR-specific FHIRPath functions that fhirpathpy lacks (FHIR spec §2.1.9.1 "Additional functions").

They are registered in fhirpathpy's user-invocation table (passed raw in the evaluation context, so each one
receives the engine's typed nodes and the context: the resolver and %variables live there).
Entries follow fhirpathpy's registry format: {"fn": f(ctx, inputs, *params), "arity": {n: [param kinds]}}.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fhirpathpy.engine.nodes import FP_Type, ResourceNode

from fhir_service.fhirpath.errors import FhirPathError

FunctionTable = dict[str, dict[str, Any]]


def _data(item: Any) -> Any:
    return item.data if isinstance(item, ResourceNode) else item


def _reference_of(item: Any) -> str | None:
    data = _data(item)
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping) and not isinstance(data, FP_Type):
        reference = data.get("reference")
        return reference if isinstance(reference, str) else None
    return None


def _resolve_contained(reference: str, container: Any) -> Any:
    if isinstance(container, ResourceNode):
        container = container.data
    if isinstance(container, Mapping):
        for contained in container.get("contained") or ():
            if isinstance(contained, Mapping) and contained.get("id") == reference[1:]:
                return contained
    return None


def _bundle_index(bundle: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """fullUrl and Type/id -> resource for one Bundle, built once per Bundle object (see _INDEXES)."""
    cached = _INDEXES.get(id(bundle))
    entries = bundle.get("entry") or ()
    if cached is not None and cached[0] is bundle and cached[1] == len(entries):
        return cached[2]
    index: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            continue
        resource = entry["resource"]
        full_url = entry.get("fullUrl")
        relative = f"{resource.get('resourceType')}/{resource.get('id')}"
        if isinstance(full_url, str):
            index.setdefault(full_url, resource)
        if resource.get("id") is not None:
            index.setdefault(relative, resource)
    with _INDEXES_LOCK:
        while len(_INDEXES) >= 8:  # a few recent Bundles; holding more would pin their memory
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[id(bundle)] = (bundle, len(entries), index)
    return index


#: id(bundle) -> (bundle, entry count, index); the identity and count checks guard against a reused id or a
#: Bundle that grew since.
_INDEXES: dict[int, tuple[Mapping[str, Any], int, dict[str, Mapping[str, Any]]]] = {}
_INDEXES_LOCK = threading.Lock()


def _resolve_in_bundle(reference: str, bundle: Any) -> Any:
    """A reference by fullUrl, or by Type/id (also the tail of an absolute URL), inside the Bundle."""
    if isinstance(bundle, ResourceNode):
        bundle = bundle.data
    if not (isinstance(bundle, Mapping) and bundle.get("resourceType") == "Bundle"):
        return None
    index = _bundle_index(bundle)
    found = index.get(reference)
    if found is None and "/" in reference:
        found = index.get("/".join(reference.rsplit("/", 2)[-2:]))
    return found


def resolve_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """resolve(): each Reference (or reference string) to its resource.

    Order: contained resources ("#id" against %resource); then the caller's resolver callback when there is
    one (it knows the Bundle's base URLs and the server); otherwise the enclosing Bundle (%rootResource) by
    fullUrl or Type/id. Unresolvable references yield nothing (no error).
    """
    env = ctx["vars"]
    resolver = ctx.get("resolver")
    out: list[Any] = []
    for item in inputs:
        reference = _reference_of(item)
        if not reference:
            continue
        if reference.startswith("#"):
            found = _resolve_contained(reference, env.get("resource"))
        elif resolver is not None:
            found = resolver(reference)
        else:
            found = _resolve_in_bundle(reference, env.get("rootResource"))
        if isinstance(found, Mapping) and "resourceType" in found:
            out.append(ResourceNode.create_node(found, found["resourceType"]))
    return out


def _is_primitive_node(item: Any) -> bool:
    data = _data(item)
    if isinstance(data, (str, bool, int, float)) or isinstance(data, FP_Type):
        return True
    return False


def has_value_fn(ctx: dict[str, Any], inputs: list[Any]) -> bool:
    """hasValue(): true when the input is a single primitive that has a value (not just extensions)."""
    return len(inputs) == 1 and _is_primitive_node(inputs[0])


def get_value_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """getValue(): the System value of a single primitive, else empty."""
    if len(inputs) == 1 and _is_primitive_node(inputs[0]):
        return [_data(inputs[0])]
    return []


def html_checks_fn(ctx: dict[str, Any], inputs: list[Any]) -> bool:
    """htmlChecks(): the narrative XHTML rules (txt-1/txt-2) are checked natively by the validator; here a
    string that is a well-formed `<div` element with some content passes."""
    if len(inputs) != 1:
        return False
    data = _data(inputs[0])
    return isinstance(data, str) and data.lstrip().startswith("<div") and data.rstrip().endswith("</div>")


def _callback_result(ctx: dict[str, Any], name: str, inputs: list[Any], argument: Any) -> list[Any]:
    callback = ctx["vars"].get(name) if hasattr(ctx["vars"], "get") else None
    if not callable(callback) or not inputs:
        return []
    results = [callback(_data(item), argument) for item in inputs]
    if any(result is None for result in results):
        return []
    return [all(bool(result) for result in results)]


def member_of_fn(ctx: dict[str, Any], inputs: list[Any], valueset: Any) -> list[Any]:
    """memberOf(valueset): delegated to the `memberOf` callback in the variables
    (callable(code_or_coding_or_concept, valueset_url) -> bool | None); empty when unknown."""
    return _callback_result(ctx, "memberOf", inputs, valueset)


CORE_PROFILE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def conforms_to_fn(ctx: dict[str, Any], inputs: list[Any], profile: Any) -> list[Any]:
    """conformsTo(profile): the `conformsTo` callback in the variables decides first
    (callable(resource, profile_url) -> bool | None). Without an answer, a core type's own definition
    (http://hl7.org/fhir/StructureDefinition/Patient) is checked by type; any other profile is an error,
    since we cannot tell (the validator passes a callback for its profiles)."""
    answer = _callback_result(ctx, "conformsTo", inputs, profile)
    if answer or not inputs or not isinstance(profile, str):
        return answer
    from fhir_service.fhirpath.fixes import is_subtype

    model = ctx["model"]
    name = profile[len(CORE_PROFILE_PREFIX):] if profile.startswith(CORE_PROFILE_PREFIX) else None
    if name is None or name not in model["type2Parent"]:
        raise FhirPathError(f"conformsTo(): cannot check conformance to unknown profile {profile!r}")
    results = []
    for item in inputs:
        data = _data(item)
        type_name = data.get("resourceType") if isinstance(data, Mapping) else None
        if type_name is None and isinstance(item, ResourceNode) and isinstance(item.path, str):
            type_name = model["path2Type"].get(item.path, item.path)
        results.append(bool(type_name) and is_subtype(str(type_name), name, model))
    return [all(results)]


FHIR_FUNCTIONS: FunctionTable = {
    "resolve": {"fn": resolve_fn},
    "hasValue": {"fn": has_value_fn},
    "getValue": {"fn": get_value_fn},
    "htmlChecks": {"fn": html_checks_fn},
    "htmlchecks": {"fn": html_checks_fn},
    "memberOf": {"fn": member_of_fn, "arity": {1: ["String"]}},
    "conformsTo": {"fn": conforms_to_fn, "arity": {1: ["String"]}},
}
