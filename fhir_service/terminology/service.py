"""The terminology service of the validator: expand, validate-code and lookup over the loaded packages only.

There is no terminology server: what the packages enumerate (core and project CodeSystems, value sets that
list their codes) is checked exactly; what they do not (SNOMED CT, LOINC, RxNorm, ICD-10-CM ...) is answered
"not-checkable" with a message, never "invalid". Grammar-defined systems (UCUM, BCP-47, MIME types) are
checked by their grammar.

One instance per Definitions (`terminology_for`), shared by all threads: code systems and expansions are
compiled once under a lock, then read without one, so checking a code against an expanded value set is a
dict lookup.
"""
from __future__ import annotations

import threading
from typing import Any, Iterable

from fhir_service.definitions import Definitions
from fhir_service.terminology.codesystem import CompiledCodeSystem
from fhir_service.terminology.expansion import SYNTAX_SYSTEMS, Expander
from fhir_service.terminology.external import system_label
from fhir_service.terminology.model import INVALID, NOT_CHECKABLE, VALID, CodeCheck, Concept, Expansion
from fhir_service.terminology.ucum import UCUM_SYSTEM, UcumUnavailable
from fhir_service.terminology.ucum import validate_ucum as _validate_ucum

_MISSING: Any = object()


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


class Terminology:
    """Local terminology operations over one Definitions registry (see the module docstring)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self._lock = threading.RLock()
        self._code_systems: dict[str, CompiledCodeSystem | None] = {}
        self._expansions: dict[str, Expansion | None] = {}
        self._expanding: set[str] = set()
        self._by_resource: dict[int, tuple[dict[str, Any], Expansion]] = {}
        self._expander = Expander(self)

    # -- compiled resources ------------------------------------------------------------------------------
    def code_system(self, url: str, version: str | None = None) -> CompiledCodeSystem | None:
        """The CodeSystem with this canonical (and version, when given), compiled once; None when unknown."""
        key = f"{url}|{version}" if version else url
        cached = self._code_systems.get(key, _MISSING)
        if cached is not _MISSING:
            return cached
        with self._lock:
            cached = self._code_systems.get(key, _MISSING)
            if cached is _MISSING:
                resource = self.definitions.code_system(key)
                if resource is None and version:
                    resource = self.definitions.code_system(url)
                cached = CompiledCodeSystem(resource) if resource is not None else None
                self._code_systems[key] = cached
        return cached

    def expand(self, valueset_url: str) -> Expansion | None:
        """The compiled expansion of a ValueSet (`url` or `url|version`); None when the value set is unknown."""
        cached = self._expansions.get(valueset_url, _MISSING)
        if cached is not _MISSING:
            return cached
        with self._lock:
            cached = self._expansions.get(valueset_url, _MISSING)
            if cached is not _MISSING:
                return cached
            if valueset_url in self._expanding:
                circular = Expansion(valueset_url)
                circular.unresolved.append(f"the value set '{valueset_url}' imports itself (circular compose)")
                return circular
            resource = self.definitions.value_set(valueset_url)
            if resource is None and "|" in valueset_url:  # another version of a known value set: use it
                resource = self.definitions.value_set(valueset_url.partition("|")[0])
            if resource is None:
                self._expansions[valueset_url] = None
                return None
            shared = self._by_resource.get(id(resource))  # `url` and `url|version` of one resource
            if shared is not None and shared[0] is resource:
                self._expansions[valueset_url] = shared[1]
                return shared[1]
            self._expanding.add(valueset_url)
            try:
                result = self._expander.expand(valueset_url, resource)
            finally:
                self._expanding.discard(valueset_url)
            self._expansions[valueset_url] = result
            self._by_resource[id(resource)] = (resource, result)
            return result

    def lookup(self, system: str, code: str) -> Concept | None:
        """The concept (display, designations, properties) when the packages define it, else None."""
        cs = self.code_system(system)
        return cs.find(code) if cs is not None else None

    # -- validate-code -----------------------------------------------------------------------------------
    def validate_code(self, valueset_url: str, system: str | None, code: str,
                      display: str | None = None) -> CodeCheck:
        """Is `code` (of `system`; for a `code` element, None: implied by the binding) in the value set?"""
        if not isinstance(code, str) or not code:
            return CodeCheck(INVALID, "No code provided")
        if system is not None and (not isinstance(system, str) or not system):
            return CodeCheck(INVALID, f"The system of the code '{code}' must be a non-empty URI string")
        expansion = self.expand(valueset_url)
        if expansion is None:
            return self._without_value_set(valueset_url, system, code, display)
        if system is None:
            return self._implied_system(expansion, valueset_url, code, display)
        return self._in_expansion(expansion, valueset_url, system, code, display)

    def validate_codings(self, valueset_url: str, codings: Iterable[dict[str, Any]]) -> CodeCheck:
        """For a CodeableConcept: valid when any coding is in the value set (FHIR binding rules)."""
        checks: list[tuple[dict[str, Any], CodeCheck]] = []
        for coding in codings:
            if not isinstance(coding, dict) or not isinstance(coding.get("code"), str) or not coding["code"]:
                continue
            system = coding.get("system")
            if not isinstance(system, str) or not system:
                checks.append((coding, CodeCheck(
                    INVALID, f"The Coding with code '{coding['code']}' has no system, so it has no defined meaning "
                             f"and cannot be in the value set '{valueset_url}'")))
                continue
            display = coding.get("display")
            check = self.validate_code(valueset_url, system, coding["code"],
                                       display if isinstance(display, str) else None)
            if check.is_valid:
                return check
            checks.append((coding, check))
        if not checks:
            return CodeCheck(INVALID, f"No code provided for the value set '{valueset_url}'")
        unsure = [check for _, check in checks if check.outcome == NOT_CHECKABLE]
        if unsure:
            return CodeCheck(NOT_CHECKABLE, " ; ".join(c.message or "" for c in unsure),
                             display_issue=next((c.display_issue for c in unsure if c.display_issue), None))
        if len(checks) == 1:
            return checks[0][1]
        listed = ", ".join(f"{c.get('system', '?')}#{c.get('code')}" for c, _ in checks)
        details = " ; ".join(check.message or "" for _, check in checks)
        return CodeCheck(INVALID, f"None of the codings provided ({listed}) are in the value set "
                                  f"'{valueset_url}' ({details})")

    def check_coding(self, system: str, code: str, display: str | None = None) -> CodeCheck:
        """Does `code` exist in `system` (no value set)? The validator checks every Coding this way."""
        if not isinstance(code, str) or not code:
            return CodeCheck(INVALID, "No code provided")
        if not isinstance(system, str) or not system:
            return CodeCheck(INVALID, f"The system of the code '{code}' must be a non-empty URI string")
        cs = self.code_system(system)
        if system in SYNTAX_SYSTEMS and (cs is None or not cs.is_complete):
            return self._by_syntax(system, code, None)
        if cs is None:
            return CodeCheck(NOT_CHECKABLE, f"The code '{code}' could not be checked locally: the code system "
                                            f"{system_label(system)} is not available locally", system=system)
        if cs.content == "supplement":
            return CodeCheck(INVALID, f"The CodeSystem '{system}' is a supplement, so it cannot be used as the "
                                      f"system of a Coding", system=system)
        concept = cs.find(code)
        if concept is not None:
            return CodeCheck(VALID, display_issue=self._display_issue(system, concept.code, display, None),
                             system=system, display=concept.display, status_issue=self._status_issue(concept))
        if cs.is_complete:
            return CodeCheck(INVALID, self._unknown_code(system, code), system=system)
        return CodeCheck(NOT_CHECKABLE, f"The code '{code}' could not be checked locally: the CodeSystem "
                                        f"'{system}' has content '{cs.content}' (not complete)", system=system)

    def validate_ucum(self, unit_code: str) -> str | None:
        """None when `unit_code` is valid UCUM, else why not (see `fhir_service.terminology.ucum`)."""
        return _validate_ucum(unit_code)

    # -- the cases ---------------------------------------------------------------------------------------
    def _in_expansion(self, expansion: Expansion, url: str, system: str, code: str,
                      display: str | None) -> CodeCheck:
        member = code
        if (system, code) not in expansion.codes and system in expansion.case_insensitive:
            member = expansion.case_insensitive[system].get(code.lower(), code)
        if (system, member) in expansion.codes:
            shown = expansion.codes[(system, member)]
            concept = self.lookup(system, member)
            return CodeCheck(VALID, display_issue=self._display_issue(system, member, display, shown),
                             system=system, display=shown or (concept.display if concept is not None else None),
                             status_issue=self._status_issue(concept))
        cs = self.code_system(system)
        if (system, code) in expansion.excluded:
            return CodeCheck(INVALID, self._not_in(code, url, system), system=system)
        if system in expansion.syntax:
            return self._by_syntax(system, code, url, expansion)
        if cs is not None and cs.is_complete and cs.find(code) is None:
            return CodeCheck(INVALID, f"{self._unknown_code(system, code)} (so it is not in the value set '{url}')",
                             system=system)
        if system in expansion.incomplete:
            return CodeCheck(NOT_CHECKABLE, self._not_checkable(code, system, url, expansion.incomplete[system]),
                             display_issue=self._display_issue(system, code, display, None), system=system)
        if expansion.unresolved or "*" in expansion.incomplete:
            reason = "; ".join(expansion.unresolved) or expansion.incomplete["*"]
            return CodeCheck(NOT_CHECKABLE, self._not_checkable(code, system, url, reason),
                             display_issue=self._display_issue(system, code, display, None), system=system)
        return CodeCheck(INVALID, self._not_in(code, url, system, expansion), system=system)

    def _implied_system(self, expansion: Expansion, url: str, code: str, display: str | None) -> CodeCheck:
        """A `code` element: the binding's value set implies the system."""
        systems = expansion.systems_by_code.get(code)
        if not systems:
            for system, mapping in expansion.case_insensitive.items():
                if code.lower() in mapping:
                    return self._in_expansion(expansion, url, system, mapping[code.lower()], display)
        if systems:
            return self._in_expansion(expansion, url, sorted(systems)[0], code, display)
        if len(expansion.syntax) == 1 and not expansion.codes:
            (system,) = expansion.syntax
            return self._by_syntax(system, code, url, expansion)
        for system in expansion.syntax:
            check = self._by_syntax(system, code, url, expansion)
            if check.is_valid:
                return check
        if expansion.incomplete or expansion.unresolved:
            reasons = list(expansion.incomplete.values()) + expansion.unresolved
            return CodeCheck(NOT_CHECKABLE, f"The code '{code}' could not be checked locally against the value set "
                                            f"'{url}': {'; '.join(reasons)}")
        systems_in = {s for s, _ in expansion.codes}
        message = (self._not_in(code, url, next(iter(systems_in)), expansion) if len(systems_in) == 1
                   else f"The code '{code}' is not in the value set '{url}'")
        if len(systems_in) == 1:
            (only,) = systems_in
            cs = self.code_system(only)
            if cs is not None and cs.is_complete and cs.find(code) is None:
                message += f" ({self._unknown_code(only, code)})"
        return CodeCheck(INVALID, message)

    def _without_value_set(self, url: str, system: str | None, code: str, display: str | None) -> CodeCheck:
        if system:
            in_system = self.check_coding(system, code, display)
            if in_system.is_invalid:
                return in_system
            return CodeCheck(NOT_CHECKABLE, f"The value set '{url}' is not known locally, so the code '{code}' "
                                            f"could not be checked against it",
                             display_issue=in_system.display_issue, system=system, display=in_system.display)
        return CodeCheck(NOT_CHECKABLE,
                         f"The value set '{url}' is not known locally, so the code '{code}' could not be checked")

    def _by_syntax(self, system: str, code: str, url: str | None, expansion: Expansion | None = None) -> CodeCheck:
        checker = expansion.syntax[system] if expansion is not None else SYNTAX_SYSTEMS[system]
        try:
            error = checker(code)
        except (LookupError, UcumUnavailable) as exc:
            where = f" against the value set '{url}'" if url else ""
            return CodeCheck(NOT_CHECKABLE, f"The code '{code}' could not be checked locally{where}: {exc}",
                             system=system)
        if error is None:
            return CodeCheck(VALID, system=system)
        suffix = f" (so it is not in the value set '{url}')" if url else ""
        return CodeCheck(INVALID, error + suffix, system=system)

    # -- messages ----------------------------------------------------------------------------------------
    @staticmethod
    def _unknown_code(system: str, code: str) -> str:
        return f"Unknown code '{code}' in the CodeSystem '{system}'"

    @staticmethod
    def _not_in(code: str, url: str, system: str, expansion: Expansion | None = None) -> str:
        message = f"The code '{code}' is not in the value set '{url}'"
        if expansion is not None and system not in expansion.systems:
            known = ", ".join(f"'{s}'" for s in sorted(expansion.systems)) or "none"
            message += f" (it has no codes from the system '{system}'; its systems: {known})"
        elif system in SYNTAX_SYSTEMS and system != UCUM_SYSTEM:
            malformed = SYNTAX_SYSTEMS[system](code)  # e.g. `en_US` against the `languages` list
            if malformed:
                message += f"; besides, {malformed}"
        return message

    @staticmethod
    def _not_checkable(code: str, system: str, url: str, reason: str) -> str:
        return (f"The code '{code}' from {system_label(system)} could not be checked locally against the "
                f"value set '{url}': {reason}")

    @staticmethod
    def _status_issue(concept: Concept | None) -> str | None:
        if concept is None or concept.status is None:
            return None
        return (f"The concept '{concept.code}' has a status of {concept.status} in the CodeSystem "
                f"'{concept.system}', and its use should be reviewed")

    def _display_issue(self, system: str, code: str, display: str | None, listed: str | None) -> str | None:
        """A message when `display` matches none of the known displays/designations (case-insensitive)."""
        if not isinstance(display, str) or not display:
            return None
        known: list[str] = []
        concept = self.lookup(system, code)
        if concept is not None:
            known.extend(concept.displays())
        if listed:
            known.append(listed)
        if not known:
            return None
        wanted = _normalise(display)
        if any(_normalise(k) == wanted for k in known):
            return None
        choices = list(dict.fromkeys(known))
        valid = f"'{choices[0]}'" if len(choices) == 1 else "one of " + ", ".join(f"'{c}'" for c in choices[:8])
        return f"Wrong display '{display}' for {system}#{code}: the valid display is {valid}"


_factory_lock = threading.Lock()


def terminology_for(definitions: Definitions) -> Terminology:
    """The Terminology of these definitions: built once and cached with them (dropped when they change)."""
    with _factory_lock:
        return definitions.memo(("terminology",), lambda: Terminology(definitions))
