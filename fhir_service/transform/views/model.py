"""A ViewDefinition compiled for running: every FHIRPath expression parsed once, column names resolved.

The runner walks these frozen objects for each resource, so nothing is looked up in the view's JSON at run
time. `compile_view` (compiler.py) is the only producer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_service.fhirpath import CompiledPath


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: `path` evaluated on the focus; `collection` columns hold a list."""

    name: str
    path: CompiledPath
    collection: bool = False
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Select:
    """A `select` element: how it iterates (forEach / forEachOrNull / repeat, or not at all) and what it emits.

    `names` are all the column names it produces, its own first, then nested selects', then unionAll's: the
    spec's column order, and the keys of the all-null row of an empty forEachOrNull.
    """

    columns: tuple[Column, ...] = ()
    selects: tuple[Select, ...] = ()
    union_all: tuple[Select, ...] = ()
    for_each: CompiledPath | None = None
    or_null: bool = False
    repeat: tuple[CompiledPath, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledView:
    """A runnable view: rows come from `root` for each resource of type `resource` that passes `where`."""

    resource: str
    root: Select
    where: tuple[CompiledPath, ...] = ()
    constants: dict[str, Any] = field(default_factory=dict)
    name: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names of every row, in order."""
        return self.root.names


def output_columns(select: Select) -> list[Column]:
    """The Column of each output name of `select`, in output order (a unionAll's from its first branch)."""
    out = list(select.columns)
    for nested in select.selects:
        out.extend(output_columns(nested))
    if select.union_all:
        out.extend(output_columns(select.union_all[0]))
    return out
