"""A TestScript `assert` evaluated against the run: returns (passed, message) or raises Unsupported.

Every check an assert carries must hold (e.g. `headerField` with `operator: notEmpty`). `operator` defaults to
`equals`; an `expression` with neither `value` nor `compareToSource*` must evaluate to true (the `eval` reading).
"""
from __future__ import annotations

from typing import Any, Callable

from fhir_service import fhirpath
from fhir_service.validation import Validator
from tests.conformance.testscripts.context import RunContext, first_value
from tests.conformance.testscripts.model import Exchange, ScriptError, Unsupported
from tests.conformance.testscripts.operations import mime
from tests.conformance.testscripts.xpath import to_fhirpath

RESPONSE_CODES = {"okay": 200, "created": 201, "noContent": 204, "notModified": 304, "bad": 400, "forbidden": 403,
                  "notFound": 404, "methodNotAllowed": 405, "conflict": 409, "gone": 410,
                  "preconditionFailed": 412, "unprocessable": 422}
CHECKS = ("contentType", "expression", "path", "headerField", "minimumId", "navigationLinks", "requestMethod",
          "requestURL", "resource", "response", "responseCode", "validateProfileId", "compareToSourceId")


def compare(operator: str, actual: str | None, expected: str | None) -> bool:
    """TestScript's assert operators on strings (numbers compared as numbers for greaterThan/lessThan)."""
    if operator == "empty":
        return not actual
    if operator == "notEmpty":
        return bool(actual)
    if actual is None:
        return operator in ("notEquals", "notIn", "notContains")
    expected = expected or ""
    if operator == "equals":
        return actual == expected
    if operator == "notEquals":
        return actual != expected
    if operator in ("in", "notIn"):
        inside = actual in [item.strip() for item in expected.split(",")]
        return inside if operator == "in" else not inside
    if operator == "contains":
        return expected in actual
    if operator == "notContains":
        return expected not in actual
    if operator in ("greaterThan", "lessThan"):
        try:
            left, right = float(actual), float(expected)
        except ValueError:
            left, right = actual, expected  # type: ignore[assignment]
        return left > right if operator == "greaterThan" else left < right  # type: ignore[operator]
    raise ScriptError(f"operator {operator!r} is not a TestScript assert operator")


class AssertEvaluator:
    """Evaluates asserts for one run; the Validator (for validateProfileId) is shared by all runs."""

    def __init__(self, ctx: RunContext, validator: Validator,
                 fetch: Callable[[str], tuple[int, str | None]] | None = None) -> None:
        """`fetch(url) -> (status, resourceType)` follows a navigation link (None: links are not followed)."""
        self.ctx = ctx
        self.validator = validator
        self.fetch = fetch

    def evaluate(self, spec: dict[str, Any]) -> tuple[bool, str]:
        checks = [name for name in CHECKS if name in spec]
        if not checks:
            raise ScriptError("assert carries no check")
        if "expression" in spec or "path" in spec:
            checks = [name for name in checks if name != "compareToSourceId"]
        messages = []
        ok = True
        for name in checks:
            passed, message = getattr(self, "_" + name)(spec)
            ok = ok and passed
            if not passed:
                messages.append(message)
        return ok, "; ".join(messages)

    # -- helpers -------------------------------------------------------------------------------------------
    def _exchange(self, spec: dict[str, Any]) -> Exchange:
        return self.ctx.exchange_of(spec.get("sourceId"))

    def _is_request(self, spec: dict[str, Any]) -> bool:
        return spec.get("direction") == "request"

    def _operator(self, spec: dict[str, Any]) -> str:
        return spec.get("operator") or "equals"

    def _value(self, spec: dict[str, Any]) -> str | None:
        return self.ctx.substitute(spec["value"]) if "value" in spec else None

    # -- checks --------------------------------------------------------------------------------------------
    def _response(self, spec: dict[str, Any]) -> tuple[bool, str]:
        expected = RESPONSE_CODES.get(spec["response"])
        if expected is None:
            raise ScriptError(f"response code {spec['response']!r} is unknown")
        status = self._exchange(spec).status
        return status == expected, f"expected HTTP {expected} ({spec['response']}), got {status}"

    def _responseCode(self, spec: dict[str, Any]) -> tuple[bool, str]:
        status = str(self._exchange(spec).status)
        operator = self._operator(spec)
        return compare(operator, status, spec["responseCode"]), \
            f"expected HTTP status {operator} {spec['responseCode']}, got {status}"

    def _resource(self, spec: dict[str, Any]) -> tuple[bool, str]:
        body = self._body(spec)
        found = body.get("resourceType") if isinstance(body, dict) else None
        return found == spec["resource"], f"expected a {spec['resource']}, got {found or 'no resource'}"

    def _contentType(self, spec: dict[str, Any]) -> tuple[bool, str]:
        exchange = self._exchange(spec)
        header = (exchange.request_headers.get("Content-Type") if self._is_request(spec)
                  else exchange.header("Content-Type")) or ""
        found = header.split(";")[0].strip()
        expected = mime(spec["contentType"]) or ""
        operator = spec.get("operator") or "equals"
        return compare(operator, found, expected), f"expected Content-Type {operator} {expected}, got {found!r}"

    def _headerField(self, spec: dict[str, Any]) -> tuple[bool, str]:
        exchange = self._exchange(spec)
        name = spec["headerField"]
        if self._is_request(spec):
            found = next((v for k, v in exchange.request_headers.items() if k.lower() == name.lower()), None)
        else:
            found = exchange.header(name)
        operator = self._operator(spec)
        expected = self._value(spec)
        return compare(operator, found, expected), \
            f"expected header {name} {operator}{' ' + expected if expected else ''}, got {found!r}"

    def _requestURL(self, spec: dict[str, Any]) -> tuple[bool, str]:
        url = self._exchange(spec).url
        operator = self._operator(spec)
        expected = self.ctx.substitute(spec["requestURL"])
        return compare(operator, url, expected), f"expected request URL {operator} {expected!r}, got {url!r}"

    def _requestMethod(self, spec: dict[str, Any]) -> tuple[bool, str]:
        method = self._exchange(spec).method.lower()
        operator = self._operator(spec)
        return compare(operator, method, spec["requestMethod"].lower()), \
            f"expected request method {operator} {spec['requestMethod']}, got {method}"

    def _body(self, spec: dict[str, Any]) -> Any:
        if spec.get("sourceId"):
            return self.ctx.body_of(spec["sourceId"])
        exchange = self._exchange(spec)
        return exchange.request_body if self._is_request(spec) else exchange.body

    def _expression(self, spec: dict[str, Any]) -> tuple[bool, str]:
        return self._fhirpath(spec, spec["expression"])

    def _path(self, spec: dict[str, Any]) -> tuple[bool, str]:
        return self._fhirpath(spec, to_fhirpath(spec["path"]), f" (XPath {spec['path']})")

    def _fhirpath(self, spec: dict[str, Any], expression: str, note: str = "") -> tuple[bool, str]:
        body = self._body(spec)
        if body is None:
            return False, f"no resource to evaluate {expression}{note} on"
        result = fhirpath.evaluate(body, expression)
        operator = self._operator(spec)
        if operator == "eval":
            return fhirpath.is_true(result), \
                f"expected {expression}{note} to evaluate to true, got {result!r}"
        if "compareToSourceId" in spec:
            expected = self._compare_to(spec)
        elif "value" in spec:
            expected = self._value(spec)
        else:
            if operator in ("empty", "notEmpty"):
                actual = first_value(result)
                return compare(operator, actual, None), f"expected {expression}{note} {operator}, got {actual!r}"
            return fhirpath.is_true(result), \
                f"expected {expression}{note} to be true, got {result!r}"
        actual = first_value(result)
        return compare(operator, actual, expected), \
            f"expected {expression}{note} {operator} {expected!r}, got {actual!r}"

    def _compare_to(self, spec: dict[str, Any]) -> str | None:
        source = self.ctx.body_of(spec["compareToSourceId"])
        if "compareToSourceExpression" in spec:
            expression = spec["compareToSourceExpression"]
        elif "compareToSourcePath" in spec:
            expression = to_fhirpath(spec["compareToSourcePath"])
        else:
            raise ScriptError("compareToSourceId needs compareToSourceExpression or compareToSourcePath")
        return first_value(fhirpath.evaluate(source, expression))

    def _compareToSourceId(self, spec: dict[str, Any]) -> tuple[bool, str]:
        raise ScriptError("compareToSourceId without expression or path")

    def _minimumId(self, spec: dict[str, Any]) -> tuple[bool, str]:
        minimum = self.ctx.body_of(spec["minimumId"])
        body = self._body(spec)
        missing = missing_content(minimum, body, minimum.get("resourceType", "") if isinstance(minimum, dict) else "")
        return not missing, "missing: " + ", ".join(missing[:5])

    def _navigationLinks(self, spec: dict[str, Any]) -> tuple[bool, str]:
        """The Bundle's navigation links are valid: a `self` link, and every link given (self, first, previous,
        next, last) an absolute URL on this server that answers 200 with a Bundle. Paging links are only
        required when there is somewhere to page to, so their absence is not a failure."""
        body = self._body(spec)
        links = body.get("link", []) if isinstance(body, dict) else []
        problems = []
        if not any(link.get("relation") == "self" for link in links):
            problems.append("no self link")
        for link in links:
            url = link.get("url", "")
            if not url.startswith(self.ctx.base_url + "/"):
                problems.append(f"{link.get('relation')} link {url!r} is not an absolute URL on {self.ctx.base_url}")
            elif self.fetch is not None:
                status, found = self.fetch(url)
                if status != 200 or found != "Bundle":
                    problems.append(f"{link.get('relation')} link {url} answered {status} {found or ''}".strip())
        valid = not problems
        expected = bool(spec["navigationLinks"])
        return valid == expected, "; ".join(problems) if problems else "navigation links are valid"

    def _validateProfileId(self, spec: dict[str, Any]) -> tuple[bool, str]:
        url = self.ctx.profiles.get(spec["validateProfileId"])
        if not url:
            raise ScriptError(f"profile {spec['validateProfileId']!r} is not declared by the script")
        if self.validator.definitions.structure_definition(url) is None:
            raise Unsupported(f"profile {url} is not available offline")
        body = self._body(spec)
        if not isinstance(body, dict):
            return False, "no resource to validate"
        read_issues = [] if spec.get("sourceId") or self._is_request(spec) else self._exchange(spec).format_issues
        errors = [issue for issue in [*read_issues, *self.validator.validate(body, [url])] if issue.is_error]
        return not errors, f"{len(errors)} error(s) against {url}: " + "; ".join(
            f"{issue.expression}: {issue.diagnostics}" for issue in errors[:3])


def missing_content(minimum: Any, actual: Any, path: str) -> list[str]:
    """The paths of `minimum` (a minimumId fixture) that `actual` lacks: objects must hold every key, lists must
    hold a match for every item, primitives must be equal."""
    if isinstance(minimum, dict):
        if not isinstance(actual, dict):
            return [path]
        found: list[str] = []
        for key, value in minimum.items():
            found += missing_content(value, actual.get(key), f"{path}.{key}")
        return found
    if isinstance(minimum, list):
        if not isinstance(actual, list):
            return [path]
        return [f"{path}[{index}]" for index, item in enumerate(minimum)
                if all(missing_content(item, candidate, path) for candidate in actual)]
    return [] if minimum == actual else [path]
