"""Run a ViewDefinition over resources: the SQL-on-FHIR v2 processing algorithm, one resource at a time.

`run_view(view, resources)` is a generator: it holds one resource's rows at a time, so a view over a store
or a large NDJSON file stays flat in memory. Any iterable of resource dicts will do (the entries of Bundles,
an NDJSON reader, a database cursor); resources of other types than `view.resource` are skipped.

Per resource (spec, "Processing Algorithm"):
- every `where` must be true (empty counts as false; anything but a boolean is an error);
- a select's rows are the cartesian product of its parts: its columns (one row), each nested select's rows,
  and the concatenated rows of its unionAll branches; an empty part gives no rows;
- forEach / repeat evaluate the select once per item (repeat: the items found by following its paths
  recursively, depth first); forEachOrNull with nothing to iterate gives one row of nulls;
- %rowIndex is the 0-based position of the item in the enclosing forEach / forEachOrNull / repeat (0 at the
  top and for an empty forEachOrNull); a select without iteration inherits it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import product
from typing import Any

from fhir_service.fhirpath import CompiledPath, FhirPathError, to_json
from fhir_service.transform.views.compiler import ViewDefinitionError, compile_view
from fhir_service.transform.views.evaluation import NOTHING, environment, evaluate_nodes, is_boolean_node
from fhir_service.transform.views.functions import REFERENCE_MAP
from fhir_service.transform.views.model import Column, CompiledView, Select
from fhir_service.validation.outcome import Issue

Row = dict[str, Any]
ReferenceMap = Mapping[str, tuple[str, str]]


def run_view(view: Mapping[str, Any] | CompiledView, resources: Iterable[Mapping[str, Any]], *,
             reference_map: ReferenceMap | None = None) -> Iterator[Row]:
    """The rows of `view` over `resources`, lazily, in resource order.

    `view` is a ViewDefinition (validated and compiled here; ViewDefinitionError if it is invalid) or a
    `CompiledView` from `compile_view` to reuse. `reference_map` maps Bundle fullUrls to (type, id) for
    getReferenceKey(). Raises ViewDefinitionError, naming the resource, when a resource breaks a rule that
    only data can show (a non-boolean where, several values in a column that is not a collection).
    """
    compiled = view if isinstance(view, CompiledView) else compile_view(view)
    return _rows_of(compiled, resources, reference_map)


def _rows_of(view: CompiledView, resources: Iterable[Mapping[str, Any]],
             reference_map: ReferenceMap | None) -> Iterator[Row]:
    variables: dict[str, Any] = {**view.constants, "rowIndex": 0}
    if reference_map:
        variables[REFERENCE_MAP] = reference_map
    for resource in resources:
        if not isinstance(resource, Mapping) or resource.get("resourceType") != view.resource:
            continue
        try:
            rows = _Evaluation(view, environment(resource, variables)).rows(resource)
        except (FhirPathError, _RowError) as exc:
            label = f"{resource.get('resourceType')}/{resource.get('id', '?')}"
            raise ViewDefinitionError([Issue("error", "processing", f"{label}: {exc}")]) from exc
        yield from rows


class _RowError(ValueError):
    """A rule of the view broken by one resource's data."""


class _Evaluation:
    """The evaluation of one view on one resource (`env` holds its %-variables, %rowIndex included)."""

    __slots__ = ("view", "env")

    def __init__(self, view: CompiledView, env: dict[str, Any]) -> None:
        self.view = view
        self.env = env

    def rows(self, resource: Mapping[str, Any]) -> list[Row]:
        for path in self.view.where:
            result = evaluate_nodes(path, resource, self.env)
            if not result:
                return []
            if len(result) > 1 or not is_boolean_node(result[0]):
                raise _RowError(f"where {path.expression!r} must give a boolean, got "
                                f"{[to_json(item) for item in result][:3]!r}")
            if not to_json(result[0]):
                return []
        return self.select(self.view.root, resource, 0)

    def evaluate(self, path: CompiledPath, focus: Any, row_index: int) -> list[Any]:
        self.env["rowIndex"] = row_index
        return evaluate_nodes(path, focus, self.env)

    def foci(self, select: Select, focus: Any, row_index: int) -> list[tuple[int, Any]] | None:
        """(rowIndex, item) pairs the select runs on; None for the null row of an empty forEachOrNull."""
        if select.for_each is not None:
            items = self.evaluate(select.for_each, focus, row_index)
            if not items and select.or_null:
                return None
            return list(enumerate(items))
        if select.repeat:
            found: list[Any] = []
            self.repeat(select, focus, row_index, found)
            return list(enumerate(found))
        return [(row_index, focus)]

    def repeat(self, select: Select, focus: Any, row_index: int, found: list[Any]) -> None:
        for path in select.repeat:
            for item in self.evaluate(path, focus, row_index):
                found.append(item)
                self.repeat(select, item, row_index, found)

    def select(self, select: Select, focus: Any, row_index: int) -> list[Row]:
        foci = self.foci(select, focus, row_index)
        if foci is None:
            return self.null_rows(select)
        rows: list[Row] = []
        for index, item in foci:
            parts: list[list[Row]] = []
            if select.columns:
                parts.append([{column.name: self.column(column, item, index) for column in select.columns}])
            for nested in select.selects:
                parts.append(self.select(nested, item, index))
            if select.union_all:
                parts.append([row for branch in select.union_all for row in self.select(branch, item, index)])
            rows.extend(_product(parts))
        return rows

    def null_rows(self, select: Select) -> list[Row]:
        """The rows of an empty forEachOrNull: its parts evaluated on nothing (paths give null, %rowIndex 0),
        a part without rows standing as one row of nulls, so that the select always gives a row."""
        parts: list[list[Row]] = []
        if select.columns:
            parts.append([{column.name: self.column(column, NOTHING, 0) for column in select.columns}])
        for nested in select.selects:
            parts.append(self.select(nested, NOTHING, 0) or [dict.fromkeys(nested.names)])
        if select.union_all:
            union = [row for branch in select.union_all for row in self.select(branch, NOTHING, 0)]
            parts.append(union or [dict.fromkeys(select.union_all[0].names)])
        return _product(parts)

    def column(self, column: Column, focus: Any, row_index: int) -> Any:
        values = [to_json(item) for item in self.evaluate(column.path, focus, row_index)]
        if column.collection:
            return values
        if len(values) > 1:
            raise _RowError(f"column {column.name!r} ({column.path.expression!r}) gives {len(values)} values; "
                            f"set collection: true or narrow the path")
        return values[0] if values else None


def _product(parts: list[list[Row]]) -> list[Row]:
    """The cartesian product of the parts' rows, each combination merged into one row (in part order)."""
    if len(parts) == 1:
        return parts[0]
    rows = []
    for combination in product(*parts):
        merged: Row = {}
        for part in combination:
            merged.update(part)
        rows.append(merged)
    return rows
