"""The Validator: the public entry point of validation (CLI, HTTP server, loaders and tests all call it).

    issues = Validator(definitions).validate(resource_json, profiles=["https://fhir.cart-tox.org/..."])

It runs, in one walk per profile, the structural checks, invariants, profile constraints and bindings (see
walker.py), the Bundle rules of bundle.py for every Bundle met, and then the extra `rules` layers (the project's
clinical rules) on the top-level resource. A Validator holds no per-call state, so one instance serves many threads;
compiled definitions live in `definitions.memo`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from fhir_service.definitions import Definitions, default_definitions
from fhir_service.validation.bindings import BindingChecker
from fhir_service.validation.bundle import check_bundle, make_resolver
from fhir_service.validation.outcome import Issue
from fhir_service.validation.walker import Walk

Rule = Callable[[dict, Definitions], list[Issue]]
log = logging.getLogger(__name__)


def _bindings(definitions: Definitions) -> BindingChecker:
    return definitions.memo(("validation.bindings",), lambda: BindingChecker.create(definitions))


class Validator:
    """Validates FHIR R4 JSON against the base specification, profiles and extra rule layers."""

    def __init__(self, definitions: Definitions | None = None, *, rules: Sequence[Rule] = (),
                 security_checks: bool = False, example_urls: bool = True, check_references: bool = False,
                 bundle_rules: Sequence[tuple[str | None, str]] = ()) -> None:
        """`security_checks`: strings that look like HTML are errors (content to be shown unescaped);
        `example_urls`: whether example.org / example.com URLs are acceptable (False for production content);
        `check_references`: relative references inside a Bundle or Parameters must resolve to one of its
        resources (the Bundle rules report unresolved Bundle references anyway);
        `bundle_rules`: (rule, profile URL) pairs validating entries of a Bundle against a profile, as the Java
        validator's `-bundle` option: rule `Patient` (every Patient entry), `Patient:0` (the first Patient),
        `2` (entry 2), or None (every entry)."""
        self.definitions = definitions if definitions is not None else default_definitions()
        self.rules = tuple(rules)
        self.security_checks = security_checks
        self.example_urls = example_urls
        self.check_references = check_references
        self.bundle_rules = tuple(bundle_rules)
        self._bundle_check, self._make_resolver = check_bundle, make_resolver

    def validate(self, resource: Any, profiles: Sequence[str] = ()) -> list[Issue]:
        """Every issue found in `resource` (parsed JSON of any shape), in document order of discovery."""
        walk = Walk(self.definitions, bundle_check=self._bundle_check, resolver_factory=self._make_resolver,
                    bindings=_bindings(self.definitions), security_checks=self.security_checks,
                    example_urls=self.example_urls, check_references=self.check_references)
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        expr = rtype if isinstance(rtype, str) and rtype else ""
        if not isinstance(resource, dict):
            walk.issue("fatal", "structure", "The content is not a FHIR resource: a JSON object with a "
                       f"resourceType was expected, not {_describe(resource)}", "", ())
            return walk.issues
        if self.bundle_rules and rtype == "Bundle":
            walk.entry_profiles = entry_profiles(resource, self.bundle_rules)
        try:
            walk.resource(resource, expr, (), list(profiles), explicit_profiles=True)
        except RecursionError:
            walk.issue("fatal", "too-costly", "The resource is nested too deeply to be validated", expr, ())
        except Exception as exc:  # noqa: BLE001 - a validator bug: say so in an issue, never a traceback
            log.exception("validation failed on %s", expr or "content")
            walk.issue("error", "exception", f"The validator failed while checking this content ({type(exc).__name__}: "
                       f"{exc}); the issues found before are listed", expr, ())
        if isinstance(rtype, str):
            for rule in self.rules:
                try:
                    walk.issues.extend(rule(resource, self.definitions))
                except Exception as exc:  # noqa: BLE001 - a rule layer's bug must not hide the other issues
                    walk.issue("error", "exception", f"Rule {getattr(rule, '__name__', rule)} failed: {exc}",
                               expr, ())
        return walk.issues


def entry_profiles(bundle: dict[str, Any], rules: Sequence[tuple[str | None, str]]) -> dict[int, list[str]]:
    """id(entry resource) -> the profiles the bundle rules add to it (see Validator's `bundle_rules`)."""
    found: dict[int, list[str]] = {}
    per_type: dict[str, int] = {}
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        rtype = str(resource.get("resourceType", ""))
        nth = per_type.get(rtype, 0)
        per_type[rtype] = nth + 1
        for rule, profile in rules:
            if _meets(rule, rtype, nth, index):
                found.setdefault(id(resource), []).append(profile)
    return found


def _meets(rule: str | None, rtype: str, nth_of_type: int, index: int) -> bool:
    if not rule:
        return True
    kind, _, number = rule.partition(":")
    kind, number = kind.strip(), number.strip()
    if kind.isdigit() and not number:
        return int(kind) == index
    if kind and kind != rtype:
        return False
    return not number or (number.isdigit() and int(number) == nth_of_type)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def validate_resource(resource: Any, definitions: Definitions | None = None,
                      profiles: Sequence[str] = ()) -> list[Issue]:
    """Validate one resource with a fresh Validator (convenience for callers without one to reuse)."""
    return Validator(definitions).validate(resource, profiles)
