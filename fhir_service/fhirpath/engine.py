"""Compiled FHIRPath expressions evaluated over plain JSON dicts, on fhirpathpy's engine with the R4 model.

Why our own evaluation entry point instead of `fhirpathpy.evaluate`: we need the focus to be a typed nested
element (`context_type`), the standard environment variables (%resource, %rootResource, %context, %ucum, %sct,
%loinc, %`vs-*`, %`ext-*`), a resolver callback for resolve(), our extra functions receiving the engine's typed
nodes (fhirpathpy's user-invocation wrapper strips them), one exception type, and no per-call setup beyond a
small context dict.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fhirpathpy.engine import do_eval
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, FP_Type, ResourceNode
from fhirpathpy.models import models

from fhir_service.fhirpath import fixes
from fhir_service.fhirpath.errors import FhirPathError, FhirPathRecursionError
from fhir_service.fhirpath.functions import FHIR_FUNCTIONS
from fhir_service.fhirpath.operators import OPERATORS
from fhir_service.fhirpath.parser import parse
from fhir_service.fhirpath.spec_functions import SPEC_FUNCTIONS

R4_MODEL: dict[str, Any] = models["r4"]

#: resolve(reference) -> the referenced resource (a JSON dict), or None when it cannot be resolved.
Resolver = Callable[[str], "Mapping[str, Any] | None"]

UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

fixes.apply()

#: fhirpathpy consults this table before its own registry: our FHIR functions and the fixed ones.
FUNCTIONS: dict[str, dict[str, Any]] = {**OPERATORS, **SPEC_FUNCTIONS, **FHIR_FUNCTIONS, **fixes.FIXED_FUNCTIONS}


class _Environment(dict):
    """The %-variables: explicit values plus the FHIR-defined families %`vs-[name]` and %`ext-[name]`.

    fhirpathpy looks variables up with `in` and `[]`; answering both here spares a patch of its evaluator.
    """

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or self._family(name) is not None

    def __missing__(self, name: str) -> Any:
        value = self._family(name)
        if value is None:
            raise KeyError(name)
        return value

    @staticmethod
    def _family(name: object) -> str | None:
        if isinstance(name, str):
            if name.startswith("vs-"):
                return "http://hl7.org/fhir/ValueSet/" + name[3:]
            if name.startswith("ext-"):
                return "http://hl7.org/fhir/StructureDefinition/" + name[4:]
        return None


_SLICE_NAME = re.compile(r":[^.]+")
_CHOICE_SLICE = re.compile(r"(\w+)\[x\]:\1([A-Z]\w*)")


def type_path(context_type: str, resource_type: str | None = None) -> str:
    """The model path fhirpathpy uses for a focus of FHIR type path `context_type`.

    "Observation.valueQuantity" -> "Quantity"; "Observation.value[x]" -> "Observation.value"; slice names of
    ElementDefinition ids are dropped ("Observation.component:systolic" -> "Observation.component"); a backbone
    element path such as "Observation.component" stays as it is (its children are looked up beneath it).
    A path through an element of type Resource (contained, Bundle.entry.resource) continues in the type of
    `resource_type`, the resource the focus is in.
    """
    path = _CHOICE_SLICE.sub(r"\1\2", context_type)  # value[x]:valueQuantity -> valueQuantity
    path = _SLICE_NAME.sub("", path).replace("[x]", "")
    if resource_type:  # "Patient.contained.name" inside a contained Practitioner -> "Practitioner.name"
        segments = path.split(".")
        for end in range(len(segments) - 1, 0, -1):
            if R4_MODEL["path2Type"].get(".".join(segments[:end])) == "Resource":
                path = ".".join([resource_type, *segments[end:]])
                break
    path = R4_MODEL["pathsDefinedElsewhere"].get(path, path)
    return R4_MODEL["path2Type"].get(path, path)


def _focus(node: Any, context_type: str | None, resource: Any = None) -> Any:
    if isinstance(node, ResourceNode):
        return node
    if context_type is None:
        return _as_resource_node(node)
    if isinstance(node, Mapping) and "resourceType" in node:
        return _as_resource_node(node)  # a resource is typed by its resourceType
    resource_type = resource.get("resourceType") if isinstance(resource, Mapping) else None
    return ResourceNode.create_node(node, type_path(context_type, resource_type))


def _as_resource_node(value: Any) -> Any:
    """A resource passed as %resource/%rootResource carries its type (`%resource.type().name` = 'Patient')."""
    if isinstance(value, Mapping) and isinstance(value.get("resourceType"), str):
        return ResourceNode.create_node(value, value["resourceType"])
    return value


def to_json(value: Any) -> Any:
    """Turn one engine result item into a plain JSON-like Python value.

    Elements come back as the very objects of the input (no copy: do not mutate them). Computed values:
    Date/DateTime/Time become their literal strings (at their own precision), a Quantity a FHIR Quantity dict,
    decimals stay `decimal.Decimal` (exact).
    """
    if isinstance(value, ResourceNode):
        value = value.data
    if isinstance(value, (FP_DateTime, FP_Time)):
        return value.asStr  # the literal form; str() re-renders through datetime and invents a day
    if isinstance(value, FP_Quantity):
        unit = value.unit
        if isinstance(unit, str) and unit.startswith("'"):
            code = unit[1:-1]
            return {"value": value.value, "unit": code, "system": UCUM, "code": code}
        return {"value": value.value, "unit": unit}
    return value


def _is_extension_only(value: Any) -> bool:
    """A primitive that has only an extension (`_birthDate` without `birthDate`) has no value to return."""
    data = value.data if isinstance(value, ResourceNode) else value
    return isinstance(data, Mapping) and not isinstance(data, FP_Type) and list(data.keys()) == ["extension"] \
        and isinstance(value, ResourceNode) and value.path is not None and value.path[:1].islower()


class CompiledPath:
    """A FHIRPath expression parsed once; evaluate it as often as needed (thread-safe: no shared state)."""

    __slots__ = ("expression", "_ast")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._ast = parse(expression)["children"][0]

    def __repr__(self) -> str:
        return f"CompiledPath({self.expression!r})"

    def evaluate_nodes(self, node: Any, *, resource: Any = None, root_resource: Any = None,
                       context_type: str | None = None, variables: Mapping[str, Any] | None = None,
                       resolver: Resolver | None = None,
                       functions: Mapping[str, dict[str, Any]] | None = None) -> list[Any]:
        """Evaluate and return the engine's typed items (ResourceNode, FP_DateTime, FP_Quantity, ...).

        For callers that need the FHIR type of each result (type checks, conformance tests); most callers
        want `evaluate`. `functions` adds caller-specific functions (fhirpathpy registry entries:
        {"name": {"fn": f(ctx, inputs, *params), "arity": {n: [kinds]}}}) for this evaluation only, e.g. the
        SQL-on-FHIR getResourceKey(); pass the same mapping object each time (its merge is cached).
        An empty list as `node` evaluates on an empty focus.
        """
        if resolver is None and variables and callable(variables.get("resolver")):
            resolver = variables["resolver"]
        focus = _focus(node, context_type, resource)
        data_root = focus if isinstance(focus, list) else [focus]
        env = _Environment()
        env["ucum"] = UCUM
        env["sct"] = SNOMED
        env["loinc"] = LOINC
        env["context"] = focus
        env["resource"] = _as_resource_node(node if resource is None else resource)
        env["rootResource"] = env["resource"] if root_resource is None else _as_resource_node(root_resource)
        if variables:
            env.update(variables)
        ctx: dict[str, Any] = {
            "dataRoot": data_root,
            "vars": env,
            "model": R4_MODEL,
            "userInvocationTable": FUNCTIONS if not functions else _with_functions(functions),
            "resolver": resolver,
            "$this": data_root,  # `$this` at the top level is the focus (fhirpathpy raised KeyError)
        }
        try:
            constants.reset()
            result = do_eval(ctx, data_root, self._ast)
        except FhirPathError:
            raise
        except RecursionError as exc:
            raise FhirPathRecursionError(f"FHIRPath evaluation too deep: {self.expression!r}",
                                         expression=self.expression) from exc
        except Exception as exc:  # fhirpathpy raises bare Exception/ValueError/TypeError/KeyError...
            detail = str(exc)
            if len(detail) > 300:  # fhirpathpy puts whole collections in its messages
                detail = detail[:300] + "..."
            raise FhirPathError(f"FHIRPath evaluation of {self.expression!r} failed: {detail}",
                                expression=self.expression) from exc
        return [item for item in result if not _is_extension_only(item)]

    def evaluate(self, node: Any, *, resource: Any = None, root_resource: Any = None,
                 context_type: str | None = None, variables: Mapping[str, Any] | None = None,
                 resolver: Resolver | None = None,
                 functions: Mapping[str, dict[str, Any]] | None = None) -> list[Any]:
        """Evaluate with `node` as the focus ($this, %context) and return plain JSON-like values.

        - `resource` / `root_resource`: %resource / %rootResource (default: `node`).
        - `context_type`: FHIR type path of the focus when it is not a resource ("Quantity",
          "Observation.component", "Observation.valueQuantity"), so that type-aware navigation works.
        - `variables`: extra %-variables (names without the %).
        - `resolver`: resolve(reference string) -> resource dict or None, used by resolve() after contained
          resources and the entries of a %rootResource Bundle (also accepted as variables["resolver"]).
        - callbacks in `variables`: "memberOf"(value, valueset_url) -> bool | None and
          "conformsTo"(resource, profile_url) -> bool | None; without them memberOf() is empty and
          conformsTo() only knows the core types.
        Raises FhirPathError on any runtime error.
        """
        return [to_json(item) for item in self.evaluate_nodes(
            node, resource=resource, root_resource=root_resource, context_type=context_type,
            variables=variables, resolver=resolver, functions=functions)]


_TABLES: dict[int, tuple[Mapping[str, Any], dict[str, dict[str, Any]]]] = {}
_TABLES_LOCK = threading.Lock()


def _with_functions(functions: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The engine's function table with `functions` on top, merged once per mapping object."""
    cached = _TABLES.get(id(functions))
    if cached is not None and cached[0] is functions:
        return cached[1]
    merged = {**FUNCTIONS, **functions}
    with _TABLES_LOCK:
        if len(_TABLES) >= 32:
            _TABLES.clear()
        _TABLES[id(functions)] = (functions, merged)
    return merged


_cache: dict[str, CompiledPath] = {}
_cache_lock = threading.Lock()


def compile(expression: str) -> CompiledPath:  # noqa: A001 (mirrors re.compile)
    """Parse `expression` once (cached by its text); raise FhirPathError on a syntax error."""
    compiled = _cache.get(expression)
    if compiled is not None:
        return compiled
    compiled = CompiledPath(expression)  # parse outside the lock: parsing is the slow part
    with _cache_lock:
        return _cache.setdefault(expression, compiled)


def evaluate(node: Any, expression: str, **kw: Any) -> list[Any]:
    """Compile (cached) and evaluate `expression` on `node`; keywords as for CompiledPath.evaluate."""
    return compile(expression).evaluate(node, **kw)


def is_true(result: list[Any]) -> bool:
    """Whether an invariant's result counts as satisfied, following the HL7 Java validator's convertToBoolean.

    - `[True]` -> True, `[False]` -> False (also for boolean elements of the resource);
    - empty -> False: an invariant must evaluate to true, so an empty result is a violation;
    - a single non-boolean item -> True (FHIRPath singleton evaluation of collections);
    - several items -> True (the Java validator's rule; the spec would call it an error).
    """
    if not result:
        return False
    if len(result) == 1:
        item = result[0]
        if isinstance(item, ResourceNode):
            item = item.data
        if isinstance(item, bool):
            return item
        return True
    return True
