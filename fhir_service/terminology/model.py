"""Value objects the terminology service hands out: concepts, compiled expansions and code-check results.

They are frozen (or treated as read-only once built) because one Terminology instance is shared by every
validation thread, and an Expansion is compiled once and then only read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

VALID = "valid"
INVALID = "invalid"
NOT_CHECKABLE = "not-checkable"
OUTCOMES = (VALID, INVALID, NOT_CHECKABLE)

SyntaxCheck = Callable[[str], "str | None"]
"""A checker for a grammar-defined code system (UCUM, BCP-47, MIME types): None when valid, else a message."""


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The answer to "is this code in that value set?".

    `outcome` is `valid`, `invalid` or `not-checkable` (the code system or value set is not available locally:
    the validator reports that as information, never as an error). `display_issue` is set when the code is
    valid but the display given matches none of the known displays (the validator reports a warning).
    `system` is the code system the code was found in (useful when it was implied by the binding), and
    `display` its preferred display, when known. `status_issue` is set when the concept is deprecated,
    retired or inactive in its CodeSystem (the validator reports a warning, as the HL7 validator does).
    """

    outcome: str
    message: str | None = None
    display_issue: str | None = None
    system: str | None = None
    display: str | None = None
    status_issue: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"CodeCheck outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    @property
    def is_valid(self) -> bool:
        return self.outcome == VALID

    @property
    def is_invalid(self) -> bool:
        return self.outcome == INVALID

    @property
    def is_checkable(self) -> bool:
        return self.outcome != NOT_CHECKABLE


@dataclass(frozen=True, slots=True)
class Designation:
    """An alternative display of a concept (another language, a synonym, a fully specified name)."""

    value: str
    language: str | None = None
    use: str | None = None  # the `use.code` of the designation, e.g. `900000000000013009` (synonym)


@dataclass(frozen=True, slots=True)
class Concept:
    """One concept of a code system as `$lookup` would describe it."""

    system: str
    code: str
    display: str | None = None
    definition: str | None = None
    designations: tuple[Designation, ...] = ()
    properties: tuple[tuple[str, Any], ...] = ()  # (property code, value) in definition order; may repeat
    version: str | None = None

    def property_values(self, name: str) -> list[Any]:
        return [value for key, value in self.properties if key == name]

    @property
    def abstract(self) -> bool:
        """`notSelectable`/`abstract` = true: a grouper that is not meant to be used in data."""
        return any(str(v).lower() == "true" for k, v in self.properties if k in ("notSelectable", "abstract"))

    @property
    def status(self) -> str | None:
        """`deprecated`, `retired`, `inactive` (from the `status`/`inactive` properties), or None when active."""
        for key, value in self.properties:
            if key == "status" and str(value) in ("deprecated", "retired", "inactive", "withdrawn"):
                return str(value)
            if key in ("inactive", "deprecated", "retired") and str(value).lower() == "true":
                return key
        return None

    @property
    def inactive(self) -> bool:
        for key, value in self.properties:
            if key == "status" and str(value) in ("retired", "inactive"):
                return True
            if key == "inactive" and str(value).lower() == "true":
                return True
        return False

    def displays(self) -> list[str]:
        """The display and every designation value: what a given display may match."""
        out = [self.display] if self.display else []
        out.extend(d.value for d in self.designations if d.value)
        return out


@dataclass(slots=True)
class Expansion:
    """A value set compiled once into sets, for O(1) membership tests.

    - `codes`: (system, code) -> display (or None) of every enumerated member.
    - `systems_by_code`: code -> the systems it is a member in (for codes given without a system).
    - `incomplete`: systems whose members could not be enumerated locally (SNOMED CT, LOINC ... or an
      unknown code system), with the reason. A code from such a system is "not-checkable", never invalid.
    - `excluded`: (system, code) explicitly excluded, which stay invalid even in an incomplete system.
    - `syntax`: systems whose members are every code matching a grammar (UCUM, BCP-47, MIME types).
    - `unresolved`: reasons why the value set as a whole is incomplete (an imported value set that is
      not known): then any code that is not found is "not-checkable".
    """

    url: str
    version: str | None = None
    codes: dict[tuple[str, str], str | None] = field(default_factory=dict)
    systems_by_code: dict[str, set[str]] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    syntax: dict[str, SyntaxCheck] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    case_insensitive: dict[str, dict[str, str]] = field(default_factory=dict)  # system -> lower(code) -> code

    def add(self, system: str, code: str, display: str | None) -> None:
        key = (system, code)
        if key not in self.codes or (display and not self.codes[key]):
            self.codes[key] = display
        self.systems_by_code.setdefault(code, set()).add(system)

    def remove(self, system: str, code: str) -> None:
        if self.codes.pop((system, code), ...) is not ...:
            systems = self.systems_by_code.get(code)
            if systems is not None:
                systems.discard(system)
                if not systems:
                    del self.systems_by_code[code]

    def contains(self, system: str, code: str) -> bool:
        return (system, code) in self.codes

    @property
    def systems(self) -> set[str]:
        """Every system the value set draws codes from (enumerated, incomplete or grammar-defined)."""
        out = {system for system, _ in self.codes}
        out.update(self.incomplete)
        out.update(self.syntax)
        return out

    @property
    def is_complete(self) -> bool:
        """True when every member is known locally (enumerated or decided by a grammar)."""
        return not self.incomplete and not self.unresolved

    def __len__(self) -> int:
        return len(self.codes)

    def __repr__(self) -> str:
        return (f"Expansion({self.url}, {len(self.codes)} codes, incomplete={sorted(self.incomplete)}, "
                f"syntax={sorted(self.syntax)})")
