"""FHIR R4 <-> R5 for Patient, MedicationAdministration, Observation, Condition (and Encounter, Procedure,
Group, which the case Bundles also hold) and Bundle.

Each resource is converted by the module of its type (r5_medadmin, r5_clinical, r5_workflow); what the target
version cannot hold goes into a cross-version extension where one can carry it (a warning naming the
element, an error with `strict`) or is reported as an error naming the element when it is lost. Then every
top-level element is checked against the target version's definition (R5: the fhir.resources R5 model, R4:
the core StructureDefinitions): an element the target does not know is dropped and named in an error.
Resource types without a converter pass through unchanged with a warning.
Bundle: the same elements in both versions except `issues` (R5): a searchset's R4 form is an
OperationOutcome entry with search.mode = outcome, which R4 -> R5 turns back into `issues`.
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Callable

from fhir_service.transform import r5_clinical, r5_medadmin, r5_workflow
from fhir_service.transform.inputs import bundle_problems
from fhir_service.transform.params import VersionParams
from fhir_service.transform.r5_common import Ctx, Json, as_list
from fhir_service.transform.result import TransformResult, warning
from fhir_service.validation.outcome import Issue

Converter = Callable[[Json, Ctx], None]
CONVERTERS: dict[str, tuple[Converter, Converter]] = {  # type -> (to R5, to R4)
    "MedicationAdministration": (r5_medadmin.to_r5, r5_medadmin.to_r4),
    "Observation": (r5_clinical.observation_to_r5, r5_clinical.observation_to_r4),
    "Condition": (r5_clinical.condition_to_r5, r5_clinical.condition_to_r4),
    "Patient": (r5_clinical.patient_to_r5, r5_clinical.patient_to_r4),
    "Encounter": (r5_workflow.encounter_to_r5, r5_workflow.encounter_to_r4),
    "Procedure": (r5_workflow.procedure_to_r5, r5_workflow.procedure_to_r4),
    "Group": (r5_workflow.group_to_r5, r5_workflow.group_to_r4),
}


@functools.lru_cache(maxsize=64)
def r5_keys(resource_type: str) -> frozenset[str] | None:
    """JSON keys the R5 resource type knows (from fhir.resources' R5 models), or None when unknown."""
    try:
        import importlib

        module = importlib.import_module(f"fhir.resources.{resource_type.lower()}")
        model = getattr(module, resource_type)
    except (ImportError, AttributeError):
        return None
    keys = {"resourceType"}
    for name, info in model.model_fields.items():
        keys.add(info.alias or name)
    return frozenset(keys)


def _known_r4(ctx: Ctx, resource_type: str, key: str) -> bool:
    return key == "resourceType" or ctx.types.child(resource_type, key.lstrip("_")) is not None


def _check_elements(resource: Json, ctx: Ctx) -> None:
    resource_type = resource.get("resourceType", "")
    if ctx.target == "R5":
        known = r5_keys(resource_type)
        unknown = [k for k in resource if known is not None and k not in known]
    else:
        unknown = [k for k in resource if not _known_r4(ctx, resource_type, k)]
    for key in unknown:
        if key.startswith("_"):
            continue
        ctx.lossy(key, f"{resource_type}.{key} does not exist in {ctx.target}", preserved=False)
        resource.pop(key)
        resource.pop("_" + key, None)


def convert_resource(resource: Json, ctx: Ctx) -> Json:
    """A converted copy of one resource (contained resources too)."""
    out = copy.deepcopy(resource)
    _convert_in_place(out, ctx)
    return out


def _convert_in_place(resource: Json, ctx: Ctx) -> None:
    resource_type = resource.get("resourceType")
    if resource_type == "Bundle":
        _bundle_in_place(resource, ctx)
        return
    converters = CONVERTERS.get(resource_type)  # type: ignore[arg-type]
    if converters is None:
        ctx.issues.append(warning("not-supported", f"{resource_type} is not converted: copied unchanged",
                                  ctx.where or None))
        return
    for index, contained in enumerate(as_list(resource.get("contained"))):
        if isinstance(contained, dict):
            _convert_in_place(contained, ctx.at(ctx.path(f"contained[{index}]")))
    converters[0 if ctx.target == "R5" else 1](resource, ctx)
    _check_elements(resource, ctx)


# IANA link relations (https://www.iana.org/assignments/link-relations), to which R5 binds Bundle.link.relation
# (required; R4 has a free string). A relation outside this list is reported, not changed.
IANA_RELATIONS = frozenset("""about acl alternate amphtml appendix apple-touch-icon apple-touch-startup-image archives
author blocked-by bookmark canonical chapter cite-as collection contents convertedfrom copyright create-form current
describedby describes disclosure dns-prefetch duplicate edit edit-form edit-media enclosure external first glossary
help hosts hub icon index intervalafter intervalbefore intervalcontains intervaldisjoint intervalduring
intervalequals intervalfinishedby intervalfinishes intervalin intervalmeets intervalmetby intervaloverlappedby
intervaloverlaps intervalstartedby intervalstarts item last latest-version license linkset lrdd manifest mask-icon
me media-feed memento micropub modulepreload monitor monitor-group next next-archive nofollow noopener noreferrer
opener openid2.local_id openid2.provider original p3pv1 payment pingback preconnect predecessor-version prefetch
preload prerender prev preview previous prev-archive privacy-policy profile publication related restconf replies
ruleinput search section self service service-desc service-doc service-meta sip-trunking-rate sponsor start status
stylesheet subsection successor-version sunset tag terms-of-service timegate timemap type ugc up version-history
via webmention working-copy working-copy-of""".split())


def _check_links(holder: Json, ctx: Ctx, where: str) -> None:
    for index, link in enumerate(as_list(holder.get("link"))):
        relation = link.get("relation") if isinstance(link, dict) else None
        if isinstance(relation, str) and relation.lower() not in IANA_RELATIONS:
            ctx.issues.append(warning("code-invalid", f"link relation {relation!r} is not an IANA link relation, "
                                      "which R5 requires (Bundle.link.relation is a required-bound code)",
                                      f"{where}.link[{index}].relation"))


def _bundle_in_place(bundle: Json, ctx: Ctx) -> None:
    entries = as_list(bundle.get("entry"))
    where = ctx.where or "Bundle"
    if ctx.target == "R5":
        _check_links(bundle, ctx, where)
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                _check_links(entry, ctx, f"{where}.entry[{index}]")
        outcomes = [e for e in entries if isinstance(e, dict) and (e.get("search") or {}).get("mode") == "outcome"
                    and (e.get("resource") or {}).get("resourceType") == "OperationOutcome"]
        if bundle.get("type") == "searchset" and len(outcomes) == 1 and set(outcomes[0]) <= {"resource", "search"} \
                and set(outcomes[0]["search"]) == {"mode"}:
            bundle["issues"] = outcomes[0]["resource"]
            entries = [e for e in entries if e is not outcomes[0]]
    else:
        issues = bundle.pop("issues", None)
        if issues is not None:
            if bundle.get("type") == "searchset":
                entries = entries + [{"resource": issues, "search": {"mode": "outcome"}}]
            else:
                ctx.lossy("issues", "an R4 Bundle carries an OperationOutcome only as a searchset entry",
                          preserved=False)
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            _convert_in_place(resource, ctx.at(f"{ctx.where or 'Bundle'}.entry[{index}].resource"))
    if entries:
        bundle["entry"] = entries
    else:  # FHIR JSON has no empty arrays
        bundle.pop("entry", None)


def _resolver(bundle: Json) -> Callable[[str], str | None]:
    """reference -> the resource type of the entry it names (fullUrl or Type/id), or its own Type/ prefix."""
    by_url: dict[str, str] = {}
    for entry in as_list(bundle.get("entry")):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(entry.get("fullUrl"), str):
            by_url[entry["fullUrl"]] = resource.get("resourceType", "")

    def resolve(reference: str) -> str | None:
        if reference in by_url:
            return by_url[reference]
        parts = reference.split("?")[0].split("/")
        for part in reversed(parts[:-1]):
            if part[:1].isupper():
                return part
        return None

    return resolve


def _convert(bundle: Any, params: VersionParams, target: str) -> TransformResult:
    problems = bundle_problems(bundle)
    if problems:
        return TransformResult(None, problems)
    issues: list[Issue] = []
    ctx = Ctx(target, issues, "", resolve=_resolver(bundle), strict=params.strict)
    out = copy.deepcopy(bundle)
    _bundle_in_place(out, ctx.at("Bundle"))
    return TransformResult(out, issues)


def to_r5(bundle: Json, params: VersionParams = VersionParams()) -> TransformResult:
    return _convert(bundle, params, "R5")


def to_r4(bundle: Json, params: VersionParams = VersionParams()) -> TransformResult:
    return _convert(bundle, params, "R4")


def validate_r5(resource: Json) -> list[str]:
    """Problems fhir.resources' R5 model finds in `resource` (empty when it parses)."""
    import importlib

    from pydantic import ValidationError

    resource_type = resource.get("resourceType", "")
    module = importlib.import_module(f"fhir.resources.{resource_type.lower()}")
    try:
        getattr(module, resource_type).model_validate(resource)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []
