"""Shared machinery of the R4 <-> R5 conversion: issue context, renames, cross-version extensions.

Cross-version extensions follow FHIR's convention (http://hl7.org/fhir/versions.html#extensions):
`http://hl7.org/fhir/4.0/StructureDefinition/extension-<R4 path>` carries an R4 element inside an R5
resource, `http://hl7.org/fhir/5.0/StructureDefinition/extension-<R5 path>` an R5 element inside an R4
one. A datatype value travels as `value[x]`; a backbone element as nested extensions named after its
children (`preserve_r4` / `restore_r4` do that generically from the R4 definitions). The converter of the
other direction reads them back, so R4 -> R5 -> R4 (and R5 -> R4 -> R5) gives the input again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from fhir_service.transform.element_types import Child, ElementTypes, shared_element_types
from fhir_service.validation.outcome import Issue

R4_EXT = "http://hl7.org/fhir/4.0/StructureDefinition/extension-"
R5_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

Json = dict[str, Any]


@dataclass
class Ctx:
    """Where we are (the FHIRPath of the input element being converted) and the issues found so far.
    `types` gives R4 element types; `resolve` maps a reference to the resource type it points at."""

    target: str  # "R5" or "R4"
    issues: list[Issue] = field(default_factory=list)
    where: str = ""
    types: ElementTypes = field(default_factory=shared_element_types)
    resolve: Callable[[str], str | None] = lambda reference: None
    strict: bool = False

    def at(self, where: str) -> "Ctx":
        return Ctx(self.target, self.issues, where, self.types, self.resolve, self.strict)

    def path(self, element: str) -> str:
        return f"{self.where}.{element}" if self.where else element

    def lossy(self, element: str, why: str, preserved: bool) -> None:
        """An element the target version cannot hold as such: warning when an extension keeps it (an
        error with `strict`), error when it is lost."""
        severity = "error" if (self.strict or not preserved) else "warning"
        tail = "kept in a cross-version extension" if preserved else "dropped"
        self.issues.append(Issue(severity, "not-supported" if not preserved else "informational",
                                 f"not representable in {self.target}: {why}; {tail}", self.path(element)))

    def note(self, element: str, what: str) -> None:
        self.issues.append(Issue("information", "informational", what, self.path(element)))


def rename(resource: Json, old: str, new: str) -> None:
    """Move `old` to `new`, with its primitive companion `_old` (ids/extensions of a primitive)."""
    for prefix in ("", "_"):
        if prefix + old in resource:
            resource[prefix + new] = resource.pop(prefix + old)


def rename_choice(resource: Json, old_stem: str, new_stem: str, types: tuple[str, ...]) -> None:
    for type_name in types:
        rename(resource, old_stem + type_name, new_stem + type_name)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def add_extension(element: Json, url: str, value_key: str | None, value: Any,
                  nested: list[Json] | None = None) -> None:
    extension: Json = {"url": url}
    if nested is not None:
        extension["extension"] = nested
    else:
        extension[value_key] = value  # type: ignore[index]
    element.setdefault("extension", []).append(extension)


def take_extensions(element: Json, url: str) -> list[Json]:
    """Remove and return the extensions of `element` with this url (the `extension` key goes when empty)."""
    extensions = element.get("extension")
    if not isinstance(extensions, list):
        return []
    taken = [e for e in extensions if isinstance(e, dict) and e.get("url") == url]
    if taken:
        rest = [e for e in extensions if not (isinstance(e, dict) and e.get("url") == url)]
        if rest:
            element["extension"] = rest
        else:
            del element["extension"]
    return taken


def extension_value(extension: Json) -> tuple[str | None, Any]:
    for key, value in extension.items():
        if key.startswith("value"):
            return key, value
    return None, None


# ---- generic carrying of R4 elements (typed by the R4 definitions) --------------------------------------

def _value_key(child: Child) -> str:
    return "value" + child.type[0].upper() + child.type[1:]


def encode_r4(value: Any, child: Child, types: ElementTypes) -> Json:
    """One R4 element value as the body of an extension (value[x], or nested extensions for a backbone)."""
    if child.type in ("BackboneElement", "Element") and isinstance(value, dict):
        nested = []
        for key, item in value.items():
            if key.startswith("_"):
                continue
            sub = types.child(child.context, key)
            if sub is None:
                continue
            for one in as_list(item):
                nested.append({"url": key, **encode_r4(one, sub, types)})
        return {"extension": nested}
    return {_value_key(child): value}


def decode_r4(extension: Json, child: Child, types: ElementTypes) -> Any:
    if child.type in ("BackboneElement", "Element"):
        out: Json = {}
        for nested in extension.get("extension") or []:
            key = nested.get("url")
            sub = types.child(child.context, key) if isinstance(key, str) else None
            if sub is None:
                continue
            value = decode_r4(nested, sub, types)
            if sub.many:
                out.setdefault(key, []).append(value)
            else:
                out[key] = value
        return out
    return extension.get(_value_key(child))


def preserve_r4(ctx: Ctx, holder: Json, r4_path: str, key: str, value: Any, why: str) -> None:
    """Carry the R4 element `r4_path`.`key` (value as found) on `holder` in the R5 output."""
    parent_context = r4_path
    child = ctx.types.child(parent_context, key)
    if child is None:
        ctx.lossy(key, why, preserved=False)
        return
    for one in as_list(value):
        encoded = encode_r4(one, child, ctx.types)
        holder.setdefault("extension", []).append({"url": f"{R4_EXT}{r4_path}.{key}", **encoded})
    ctx.lossy(key, why, preserved=True)


def restore_r4(ctx: Ctx, holder: Json, r4_path: str, key: str) -> Any:
    """The R4 element carried by `preserve_r4` (removed from `holder`), or None."""
    taken = take_extensions(holder, f"{R4_EXT}{r4_path}.{key}")
    if not taken:
        return None
    child = ctx.types.child(r4_path, key)
    if child is None:
        return None
    values = [decode_r4(extension, child, ctx.types) for extension in taken]
    return values if child.many else values[0]


# ---- R5-only elements carried in R4 (value types known per element) -------------------------------------

def preserve_r5(ctx: Ctx, holder: Json, r5_path: str, value_key: str, value: Any, why: str,
                element: str | None = None) -> None:
    for one in as_list(value):
        add_extension(holder, f"{R5_EXT}{r5_path}", value_key, one)
    ctx.lossy(element or r5_path.rsplit(".", 1)[-1], why, preserved=True)


def restore_r5(holder: Json, r5_path: str) -> list[Any]:
    return [extension_value(e)[1] for e in take_extensions(holder, f"{R5_EXT}{r5_path}")]


def restore_r5_nested(holder: Json, r5_path: str) -> list[Json]:
    """Backbone R5 elements carried as nested extensions: each as {child name: [values]}."""
    out = []
    for extension in take_extensions(holder, f"{R5_EXT}{r5_path}"):
        parts: dict[str, list[Any]] = {}
        for nested in extension.get("extension") or []:
            parts.setdefault(nested.get("url"), []).append(extension_value(nested)[1])
        out.append(parts)
    return out


# ---- datatypes whose shape changed ---------------------------------------------------------------------

def attachment_to_r5(attachment: Any) -> None:
    """Attachment.size: unsignedInt in R4, integer64 (a JSON string) in R5."""
    if isinstance(attachment, dict) and isinstance(attachment.get("size"), int):
        attachment["size"] = str(attachment["size"])


def attachment_to_r4(attachment: Any, ctx: Ctx, element: str) -> None:
    if isinstance(attachment, dict) and isinstance(attachment.get("size"), str):
        try:
            size = int(attachment["size"])
        except ValueError:
            size = -1
        if 0 <= size < 2**31:
            attachment["size"] = size
        else:
            ctx.lossy(f"{element}.size", f"size {attachment['size']} does not fit R4 unsignedInt", preserved=False)
            del attachment["size"]


# ---- CodeableReference --------------------------------------------------------------------------------

def concepts_and_references(concepts: Any, references: Any) -> list[Json]:
    """R4 pairs (xxxCode, xxxReference) as R5 CodeableReferences, concepts first."""
    return [{"concept": c} for c in as_list(concepts)] + [{"reference": r} for r in as_list(references)]


def split_codeable_references(ctx: Ctx, items: Any, element: str) -> tuple[list[Json], list[Json]]:
    """R5 CodeableReferences as R4 (concepts, references). One holding both loses the pairing (reported)."""
    concepts, references = [], []
    for index, item in enumerate(as_list(items)):
        if not isinstance(item, dict):
            continue
        if "concept" in item:
            concepts.append(item["concept"])
        if "reference" in item:
            references.append(item["reference"])
        if "concept" in item and "reference" in item:
            ctx.lossy(f"{element}[{index}]", "a CodeableReference with both concept and reference becomes two "
                      "unrelated R4 elements (their pairing is lost)", preserved=False)
        extra = [k for k in item if k not in ("concept", "reference")]
        if extra:
            ctx.lossy(f"{element}[{index}]", f"{', '.join(extra)} of a CodeableReference", preserved=False)
    return concepts, references
