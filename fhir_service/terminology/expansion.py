"""ValueSet -> Expansion: the compose rules of FHIR R4 (include/exclude, filters, imports), evaluated locally.

Each `include` is the intersection of its `system` part (the whole CodeSystem, an explicit concept list, or
filters) and its `valueSet` imports; the includes are united, then the excludes (computed the same way)
are removed. What cannot be enumerated offline (SNOMED CT, LOINC, an unknown system, an unknown imported
value set) is not guessed: it is recorded as "incomplete" for that system, so that a code from it is
reported as not checkable rather than invalid.
"""
from __future__ import annotations

from typing import Any, Protocol

from fhir_service.terminology.codesystem import CompiledCodeSystem
from fhir_service.terminology.external import system_label
from fhir_service.terminology.filters import FilterError, apply_filter
from fhir_service.terminology.model import Expansion, SyntaxCheck
from fhir_service.terminology.syntax import BCP47_SYSTEM, MIME_SYSTEM, check_bcp47, check_mime_type
from fhir_service.terminology.ucum import UCUM_SYSTEM, UcumUnavailable, ucum_dimension, validate_ucum


class Resolver(Protocol):
    """What the expander needs from the terminology service (which caches both)."""

    def code_system(self, url: str, version: str | None = None) -> CompiledCodeSystem | None: ...

    def expand(self, url: str) -> Expansion | None: ...


def _ucum_checker(code: str) -> str | None:
    try:
        return validate_ucum(code)
    except UcumUnavailable as exc:
        raise LookupError(str(exc)) from exc


SYNTAX_SYSTEMS: dict[str, SyntaxCheck] = {
    UCUM_SYSTEM: _ucum_checker,
    BCP47_SYSTEM: check_bcp47,
    MIME_SYSTEM: check_mime_type,
}


def _ucum_canonical_checker(canonical: str) -> SyntaxCheck:
    """`canonical = m`: valid UCUM units of the same dimension as `m` (all-distance-units, all-time-units)."""
    def check(code: str) -> str | None:
        error = _ucum_checker(code)
        if error is not None:
            return error
        wanted, actual = ucum_dimension(canonical), ucum_dimension(code)
        if wanted is None or actual is None:
            raise LookupError(f"the dimension of the UCUM unit '{code}' could not be determined locally")
        if wanted != actual:
            return f"The UCUM unit '{code}' is a {actual} unit, not a {wanted} unit like '{canonical}'"
        return None
    return check


class Expander:
    """Compiles one ValueSet resource; imported value sets come back through the resolver (and its cache)."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def expand(self, url: str, resource: dict[str, Any]) -> Expansion:
        expansion = resource.get("expansion")
        compose = resource.get("compose")
        if isinstance(expansion, dict) and (self._expansion_is_whole(expansion) or not compose):
            return self._from_expansion(url, resource, expansion)
        result = Expansion(url, resource.get("version"))
        if not isinstance(compose, dict):
            result.unresolved.append(f"the value set '{url}' has neither an expansion nor a compose")
            return result
        active_only = compose.get("inactive") is False  # `inactive: false`: retired concepts are left out
        for include in _dicts(compose.get("include")):
            _unite(result, self._part(url, include, active_only))
        for exclude in _dicts(compose.get("exclude")):
            _subtract(result, self._part(url, exclude, False))
        return result

    # -- expansion ---------------------------------------------------------------------------------------
    @staticmethod
    def _expansion_is_whole(expansion: dict[str, Any]) -> bool:
        total = expansion.get("total")
        count = _count_contains(_dicts(expansion.get("contains")))
        return not expansion.get("offset") and (total is None or total <= count)

    def _from_expansion(self, url: str, resource: dict[str, Any], expansion: dict[str, Any]) -> Expansion:
        result = Expansion(url, resource.get("version"))

        def walk(items: list[dict[str, Any]]) -> None:
            for item in items:
                system, code = item.get("system"), item.get("code")
                if isinstance(system, str) and isinstance(code, str) and not item.get("abstract"):
                    result.add(system, code, item.get("display"))
                walk(_dicts(item.get("contains")))

        walk(_dicts(expansion.get("contains")))
        if not self._expansion_is_whole(expansion):
            for system in {s for s, _ in result.codes} or {"*"}:
                result.incomplete[system] = f"the stored expansion of '{url}' is only partial"
        return result

    # -- compose -----------------------------------------------------------------------------------------
    def _part(self, url: str, include: dict[str, Any], active_only: bool) -> Expansion:
        parts: list[Expansion] = []
        system = include.get("system")
        if isinstance(system, str):
            parts.append(self._system_part(url, system, include, active_only))
        for imported in include.get("valueSet") or []:
            if not isinstance(imported, str):
                continue
            sub = self.resolver.expand(imported)
            if sub is None:
                missing = Expansion(imported)
                missing.unresolved.append(f"the imported value set '{imported}' is not known")
                parts.append(missing)
            else:
                parts.append(sub)
        if not parts:
            return Expansion(url)
        result = _copy(parts[0], url)
        for other in parts[1:]:
            result = _intersect(result, other, url)
        return result

    def _system_part(self, url: str, system: str, include: dict[str, Any], active_only: bool) -> Expansion:
        part = Expansion(url)
        version = include.get("version")
        if "|" in system and not version:  # `system|version` written into the system (seen in the R4 core)
            system, _, version = system.partition("|")
        cs = self.resolver.code_system(system, version)
        concepts = _dicts(include.get("concept"))
        filters = _dicts(include.get("filter"))
        if concepts:
            for item in concepts:
                code = item.get("code")
                if not isinstance(code, str):
                    continue
                known = cs.find(code) if cs is not None else None
                if known is None and cs is not None and cs.is_complete:
                    continue  # a code the CodeSystem does not define cannot be a member
                if active_only and known is not None and known.inactive:
                    continue
                display = item.get("display") or (known.display if known is not None else None)
                part.add(system, known.code if known is not None else code, display)
            self._note_case(part, cs)
            return part
        if system in SYNTAX_SYSTEMS and (cs is None or not cs.is_complete):
            if not filters:
                part.syntax[system] = SYNTAX_SYSTEMS[system]
                return part
            if system == UCUM_SYSTEM and len(filters) == 1 and filters[0].get("property") == "canonical" \
                    and filters[0].get("op") == "=" and isinstance(filters[0].get("value"), str):
                part.syntax[system] = _ucum_canonical_checker(filters[0]["value"])
                return part
        if cs is None or not cs.is_complete:
            part.incomplete[system] = _why_incomplete(system, cs, bool(filters))
            if cs is not None and not filters:  # an example/fragment CodeSystem: what it lists is in
                for code, concept in cs.concepts.items():
                    part.add(system, code, concept.display)
            return part
        try:
            codes: set[str] | None = None
            for flt in filters:
                selected = apply_filter(cs, flt)
                codes = selected if codes is None else codes & selected
        except FilterError as exc:
            part.incomplete[system] = f"{exc}"
            return part
        for code in (cs.order if codes is None else [c for c in cs.order if c in codes]):
            concept = cs.concepts[code]
            if not (active_only and concept.inactive):
                part.add(system, code, concept.display)
        self._note_case(part, cs)
        return part

    @staticmethod
    def _note_case(part: Expansion, cs: CompiledCodeSystem | None) -> None:
        if cs is not None and not cs.case_sensitive:
            part.case_insensitive[cs.url] = {code.lower(): code for s, code in part.codes if s == cs.url}


def _why_incomplete(system: str, cs: CompiledCodeSystem | None, filtered: bool) -> str:
    how = "selects codes of" if filtered else "includes all of"
    label = system_label(system)
    if cs is None or cs.content == "not-present":
        return f"the value set {how} {label}, which is not available locally"
    return f"the value set {how} {label}, whose local CodeSystem is only '{cs.content}' (not complete)"


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (a malformed definition must not crash the validator)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _count_contains(items: list[dict[str, Any]]) -> int:
    return sum(1 + _count_contains(_dicts(item.get("contains"))) for item in items)


def _copy(source: Expansion, url: str) -> Expansion:
    result = Expansion(url)
    _unite(result, source)
    return result


def _unite(target: Expansion, part: Expansion) -> None:
    for (system, code), display in part.codes.items():
        target.add(system, code, display)
    for system, reason in part.incomplete.items():
        target.incomplete.setdefault(system, reason)
    for system, check in part.syntax.items():
        existing = target.syntax.get(system)
        target.syntax[system] = check if existing is None else _either(existing, check)
    target.unresolved.extend(r for r in part.unresolved if r not in target.unresolved)
    target.excluded.update(part.excluded)
    for system, mapping in part.case_insensitive.items():
        target.case_insensitive.setdefault(system, {}).update(mapping)


def _either(first: SyntaxCheck, second: SyntaxCheck) -> SyntaxCheck:
    def check(code: str) -> str | None:
        error = first(code)
        return None if error is None or second(code) is None else error
    return check


def _both(first: SyntaxCheck, second: SyntaxCheck) -> SyntaxCheck:
    def check(code: str) -> str | None:
        return first(code) or second(code)
    return check


def _member(part: Expansion, system: str, code: str) -> bool | None:
    """True/False when `part` decides membership of (system, code), None when it cannot tell."""
    if (system, code) in part.codes:
        return True
    if (system, code) in part.excluded:
        return False
    if system in part.syntax:
        try:
            return part.syntax[system](code) is None
        except LookupError:
            return None
    if system in part.incomplete or part.unresolved:
        return None
    return False


def _intersect(left: Expansion, right: Expansion, url: str) -> Expansion:
    """Members of both (an include with a system and value sets, or with several value sets)."""
    result = Expansion(url)
    for (system, code), display in left.codes.items():
        inside = _member(right, system, code)
        if inside:
            result.add(system, code, display or right.codes.get((system, code)))
        elif inside is None:
            result.incomplete.setdefault(system, right.incomplete.get(system) or "; ".join(right.unresolved))
    for (system, code), display in right.codes.items():
        if (system, code) not in left.codes and system in left.syntax | left.incomplete:
            inside = _member(left, system, code)
            if inside:
                result.add(system, code, display)
            elif inside is None:
                result.incomplete.setdefault(system, left.incomplete.get(system) or "; ".join(left.unresolved))
    for system, check in left.syntax.items():
        if system in right.syntax:
            result.syntax[system] = _both(check, right.syntax[system])
        elif system in right.incomplete:
            result.incomplete.setdefault(system, right.incomplete[system])
    for system, reason in left.incomplete.items():
        if system in {s for s, _ in right.codes} or system in right.incomplete or system in right.syntax:
            result.incomplete.setdefault(system, reason)
    for system, reason in right.incomplete.items():
        if system in left.incomplete or system in left.syntax:
            result.incomplete.setdefault(system, reason)
    if left.unresolved or right.unresolved:
        result.unresolved.extend(left.unresolved + [r for r in right.unresolved if r not in left.unresolved])
    result.excluded = left.excluded | right.excluded
    return result


def _subtract(target: Expansion, part: Expansion) -> None:
    """Remove an `exclude`: enumerated codes go; grammar-defined exclusions filter the members."""
    for system, code in list(part.codes):
        target.remove(system, code)
        target.excluded.add((system, code))
    for system, check in part.syntax.items():
        for key in [k for k in target.codes if k[0] == system]:
            try:
                if check(key[1]) is None:
                    target.remove(*key)
                    target.excluded.add(key)
            except LookupError:
                target.incomplete.setdefault(system, "an exclusion could not be evaluated locally")
        if system in target.syntax:
            target.syntax[system] = _without(target.syntax[system], check)
    for system, reason in part.incomplete.items():
        if any(s == system for s, _ in target.codes) or system in target.syntax or system in target.incomplete:
            target.incomplete.setdefault(system, f"an exclusion cannot be evaluated locally: {reason}")
    for reason in part.unresolved:
        target.unresolved.append(f"an exclusion cannot be evaluated locally: {reason}")


def _without(keep: SyntaxCheck, drop: SyntaxCheck) -> SyntaxCheck:
    def check(code: str) -> str | None:
        error = keep(code)
        if error is None and drop(code) is None:
            return f"'{code}' is excluded from the value set"
        return error
    return check

