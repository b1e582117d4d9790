"""Validate a SQL-on-FHIR v2 ViewDefinition and compile it into a runnable `CompiledView`.

Validation and compilation are one walk: every problem becomes an `Issue` (the validator's contract, with the
FHIRPath-style location of the element in `expression`), and a view with an error is never run. What is
checked before any resource is read:
- the shape: `resource` (a type name), a non-empty `select`, known keys in select/column/where/constant,
  the JSON types of each field;
- names: the view's, column and constant names are SQL-friendly identifiers (`^[A-Za-z][A-Za-z0-9_]*$`), column names
  are unique in the view, constants are unique and carry exactly one `value[x]`;
- expressions: each FHIRPath expression parses, and every `%name` it uses is a constant of the view or a
  variable the runner provides (%resource, %rootResource, %context, %ucum, %sct, %loinc, %rowIndex, %`vs-*`,
  %`ext-*`);
- structure: at most one of forEach / forEachOrNull / repeat in a select; the branches of a unionAll
  produce the same column names in the same order.
What can only be known per resource (a where that is not boolean, several values in a non-collection column)
is checked by the runner.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fhirpathpy.engine.nodes import ResourceNode

from fhir_service import fhirpath
from fhir_service.fhirpath import CompiledPath, FhirPathError
from fhir_service.transform.views.model import Column, CompiledView, Select
from fhir_service.validation.outcome import Issue, has_errors

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
#: %-variables the runner (or the FHIRPath engine) always provides.
BUILTIN_VARIABLES = frozenset({"resource", "rootResource", "context", "ucum", "sct", "loinc", "rowIndex"})
SELECT_KEYS = frozenset({"column", "select", "forEach", "forEachOrNull", "repeat", "unionAll",
                         "id", "extension", "modifierExtension", "description"})
COLUMN_KEYS = frozenset({"name", "path", "description", "collection", "type", "tag",
                         "id", "extension", "modifierExtension"})
WHERE_KEYS = frozenset({"path", "description", "id", "extension", "modifierExtension"})
CONSTANT_KEYS = frozenset({"name", "id", "extension", "modifierExtension"})
#: value[x] types of ViewDefinition.constant whose values the engine compares as dates/times.
_TEMPORAL = frozenset({"date", "dateTime", "instant", "time"})


class ViewDefinitionError(ValueError):
    """The ViewDefinition cannot be run (or stopped running on a resource); `issues` say why and where."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(issue.diagnostics for issue in issues if issue.is_error) or "invalid view")


def validate_view(view: Any) -> list[Issue]:
    """All the problems of `view` found without data (empty when it can be run)."""
    compiler = _Compiler()
    compiler.view(view)
    return compiler.issues


def compile_view(view: Any) -> CompiledView:
    """The runnable form of `view`; raises ViewDefinitionError with every problem when it has errors."""
    compiler = _Compiler()
    compiled = compiler.view(view)
    if compiled is None or has_errors(compiler.issues):
        raise ViewDefinitionError(compiler.issues)
    return compiled


def constant_value(value_key: str, value: Any) -> Any:
    """The engine value of a constant `value[x]`: typed so that `birthDate = %bd` compares as dates."""
    fhir_type = value_key[len("value"):]
    fhir_type = fhir_type[:1].lower() + fhir_type[1:]
    if fhir_type == "decimal" and isinstance(value, float):
        value = Decimal(str(value))
    if fhir_type in _TEMPORAL or fhir_type not in ("boolean", "integer", "decimal"):
        return ResourceNode.create_node(value, fhir_type)
    return value


def _variables_used(node: Mapping[str, Any], found: set[str]) -> set[str]:
    """The %names an expression's syntax tree refers to."""
    if node.get("type") == "ExternalConstant":
        for child in node.get("children") or ():
            text = child.get("text")
            if isinstance(text, str):
                found.add(text.strip("`"))
        if isinstance(node.get("text"), str) and not node.get("children"):
            found.add(node["text"].lstrip("%").strip("`"))
    for child in node.get("children") or ():
        if isinstance(child, Mapping):
            _variables_used(child, found)
    return found


class _Compiler:
    """One walk over the view JSON; collects issues and builds the compiled form where it can."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.constant_names: set[str] = set()

    # ---------------------------------------------------------------------------------------------- helpers
    def error(self, code: str, message: str, where: str) -> None:
        self.issues.append(Issue("error", code, message, expression=where))

    def expression(self, text: Any, where: str) -> CompiledPath | None:
        if not isinstance(text, str):
            self.error("structure", f"{where} must be a FHIRPath expression (a string), got "
                                    f"{type(text).__name__}", where)
            return None
        if not text.strip():
            self.error("required", f"{where} is empty", where)
            return None
        try:
            compiled = fhirpath.compile(text)
        except FhirPathError as exc:
            self.error("invalid", f"{where}: invalid FHIRPath {text!r}: {exc}", where)
            return None
        unknown = sorted(name for name in _variables_used(compiled._ast, set())  # noqa: SLF001
                         if name not in self.constant_names and name not in BUILTIN_VARIABLES
                         and not name.startswith(("vs-", "ext-")))
        for name in unknown:
            self.error("invalid", f"{where}: %{name} is not a constant of this view", where)
        return None if unknown else compiled

    def array(self, value: Any, where: str, required: bool = False) -> list[Any]:
        if value is None:
            if required:
                self.error("required", f"{where} is required", where)
            return []
        if not isinstance(value, list):
            self.error("structure", f"{where} must be an array, got {type(value).__name__}", where)
            return []
        if required and not value:
            self.error("required", f"{where} must not be empty", where)
        return value

    def unknown_keys(self, element: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in element:
            if key not in allowed:
                self.error("structure", f"{where}: unknown element {key!r}", f"{where}.{key}")

    # ------------------------------------------------------------------------------------------------- view
    def view(self, view: Any) -> CompiledView | None:
        where = "ViewDefinition"
        if not isinstance(view, Mapping):
            self.error("structure", f"a ViewDefinition must be a JSON object, got {type(view).__name__}", where)
            return None
        kind = view.get("resourceType")
        if kind is not None and kind != "ViewDefinition":
            self.error("structure", f"expected resourceType ViewDefinition, got {kind!r}", f"{where}.resourceType")
        resource = view.get("resource")
        if resource is None:
            self.error("required", "ViewDefinition.resource is required: the FHIR resource type the view reads",
                       f"{where}.resource")
        elif not isinstance(resource, str) or not RESOURCE_TYPE.match(resource):
            self.error("value", f"ViewDefinition.resource must be a FHIR resource type name, got {resource!r}",
                       f"{where}.resource")
        constants = self.constants(view.get("constant"), f"{where}.constant")
        wheres = []
        for index, item in enumerate(self.array(view.get("where"), f"{where}.where")):
            at = f"{where}.where[{index}]"
            if not isinstance(item, Mapping):
                self.error("structure", f"{at} must be an object with a path", at)
                continue
            self.unknown_keys(item, WHERE_KEYS, at)
            if "path" not in item:
                self.error("required", f"{at}.path is required", f"{at}.path")
                continue
            compiled = self.expression(item["path"], f"{at}.path")
            if compiled is not None:
                wheres.append(compiled)
        selects = self.selects(view.get("select"), f"{where}.select", required=True)
        root = Select(selects=tuple(selects), names=tuple(n for s in selects for n in s.names))
        seen: set[str] = set()
        for name in root.names:
            if name in seen:
                self.error("value", f"column name {name!r} is used more than once in the view", f"{where}.select")
            seen.add(name)
        name = view.get("name")
        if name is not None and (not isinstance(name, str) or not NAME.match(name)):
            self.error("value", f"ViewDefinition.name must be a SQL-friendly identifier ([A-Za-z][A-Za-z0-9_]*), "
                                f"got {name!r}", f"{where}.name")
        return CompiledView(resource=resource if isinstance(resource, str) else "", root=root,
                            where=tuple(wheres), constants=constants,
                            name=name if isinstance(name, str) else None)

    def constants(self, value: Any, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for index, item in enumerate(self.array(value, where)):
            at = f"{where}[{index}]"
            if not isinstance(item, Mapping):
                self.error("structure", f"{at} must be an object with a name and a value[x]", at)
                continue
            name = item.get("name")
            if not isinstance(name, str) or not NAME.match(name):
                self.error("value", f"{at}.name must be an identifier ([A-Za-z][A-Za-z0-9_]*), got {name!r}",
                           f"{at}.name")
                continue
            if name in out:
                self.error("value", f"constant {name!r} is defined more than once", f"{at}.name")
            values = [key for key in item if key.startswith("value") and len(key) > 5]
            self.unknown_keys({k: v for k, v in item.items() if k not in values}, CONSTANT_KEYS, at)
            if len(values) != 1:
                self.error("required", f"constant {name!r} must have exactly one value[x], found "
                                       f"{len(values)}", at)
                continue
            out[name] = constant_value(values[0], item[values[0]])
            self.constant_names.add(name)
        return out

    # ---------------------------------------------------------------------------------------------- selects
    def selects(self, value: Any, where: str, required: bool = False) -> list[Select]:
        out = []
        for index, item in enumerate(self.array(value, where, required)):
            compiled = self.select(item, f"{where}[{index}]")
            if compiled is not None:
                out.append(compiled)
        return out

    def select(self, item: Any, where: str) -> Select | None:
        if not isinstance(item, Mapping):
            self.error("structure", f"{where} must be an object", where)
            return None
        self.unknown_keys(item, SELECT_KEYS, where)
        iterations = [key for key in ("forEach", "forEachOrNull", "repeat") if key in item]
        if len(iterations) > 1:
            self.error("structure", f"{where}: {' and '.join(iterations)} cannot be used together", where)
        for_each = None
        if "forEach" in item:
            for_each = self.expression(item["forEach"], f"{where}.forEach")
        elif "forEachOrNull" in item:
            for_each = self.expression(item["forEachOrNull"], f"{where}.forEachOrNull")
        repeat = []
        if "repeat" in item:
            for index, text in enumerate(self.array(item["repeat"], f"{where}.repeat", required=True)):
                compiled = self.expression(text, f"{where}.repeat[{index}]")
                if compiled is not None:
                    repeat.append(compiled)
        columns = [column for index, raw in enumerate(self.array(item.get("column"), f"{where}.column"))
                   if (column := self.column(raw, f"{where}.column[{index}]")) is not None]
        nested = self.selects(item.get("select"), f"{where}.select")
        union = self.union_all(item.get("unionAll"), f"{where}.unionAll")
        if not columns and not nested and not union and "column" not in item and "select" not in item \
                and "unionAll" not in item:
            self.error("required", f"{where} needs a column, select or unionAll", where)
        names = tuple(c.name for c in columns) + tuple(n for s in nested for n in s.names) \
            + (union[0].names if union else ())
        return Select(columns=tuple(columns), selects=tuple(nested), union_all=tuple(union), for_each=for_each,
                      or_null="forEachOrNull" in item, repeat=tuple(repeat), names=names)

    def union_all(self, value: Any, where: str) -> list[Select]:
        if value is None:
            return []
        branches = self.selects(value, where, required=True)
        if branches:
            first = branches[0].names
            for index, branch in enumerate(branches[1:], start=1):
                if branch.names != first:
                    self.error("structure", f"{where}: every branch must have the same columns in the same "
                                            f"order; branch 0 has {list(first)}, branch {index} has "
                                            f"{list(branch.names)}", f"{where}[{index}]")
        return branches

    def column(self, item: Any, where: str) -> Column | None:
        if not isinstance(item, Mapping):
            self.error("structure", f"{where} must be an object with a name and a path", where)
            return None
        self.unknown_keys(item, COLUMN_KEYS, where)
        name = item.get("name")
        ok = True
        if not isinstance(name, str) or not NAME.match(name):
            self.error("value" if name is not None else "required",
                       f"{where}.name must be an identifier ([A-Za-z][A-Za-z0-9_]*), got {name!r}", f"{where}.name")
            ok = False
        collection = item.get("collection", False)
        if not isinstance(collection, bool):
            self.error("structure", f"{where}.collection must be true or false, got {collection!r}",
                       f"{where}.collection")
            ok = False
        column_type = item.get("type")
        if column_type is not None and not isinstance(column_type, str):
            self.error("structure", f"{where}.type must be a string", f"{where}.type")
            ok = False
        if "path" not in item:
            self.error("required", f"{where}.path is required", f"{where}.path")
            return None
        path = self.expression(item["path"], f"{where}.path")
        if path is None or not ok:
            return None
        return Column(name=name, path=path, collection=collection, type=column_type)
