"""The REST core: request routing, the FHIR interactions, and the cross-cutting rules around them.

Routing follows the FHIR RESTful API (http.html): `[type]`, `[type]/[id]`, `[type]/[id]/_history/[vid]`,
`_history`, `_search`, `$operation`s, and the base itself for batch/transaction Bundles. Cross-cutting rules
(body limits, content negotiation, validate-on-write) run around the handlers, in `handle`, like HAPI's
interceptors, so no handler re-implements them.
"""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import parse_qsl


from fhir_service.rest import bundles
from fhir_service.rest.http import (FORM, FhirError, Request, Response, error_response, etag, media_type,
                                    outcome_of, parse_etag)
from fhir_service.rest.negotiation import is_resource_type, parse_resource, response_type
from fhir_service.rest.search_request import parse_search
from fhir_service.rest.summary import subset
from fhir_service.rest import shape
from fhir_service.rest.validation_hook import validate
from fhir_service.store import fhirjson
from fhir_service.store.repository import StoreError, StoredResource
from fhir_service.validation.outcome import has_errors, operation_outcome

log = logging.getLogger(__name__)
ID = r"[A-Za-z0-9\-.]{1,64}"
TYPE = r"[A-Z][A-Za-z]+"
WRITE_METHODS = ("POST", "PUT", "PATCH")
JSON_PATCH = "application/json-patch+json"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
RAW_OUTPUT = frozenset({"/ViewDefinition/$run"})  # operations whose answer is not a FHIR resource


@dataclass
class RestConfig:
    """Server behaviour a deployment chooses."""

    validate_on_write: str = "off"  # off | warn | enforce (against meta.profile)
    reject_malformed: bool = True  # 400 for resources a FHIR parser would reject (see rest.shape)
    max_body_bytes: int = DEFAULT_MAX_BODY
    software_name: str = "fhir-service (CAR-T toxicity)"


Handler = Callable[..., Response]


class FhirRest:
    """The FHIR interactions against one repository."""

    def __init__(self, repository: Any, *, definitions: Any = None, config: RestConfig | None = None) -> None:
        self.repo = repository
        self.definitions = definitions if definitions is not None else repository.definitions
        self.config = config or RestConfig()
        self._capabilities: tuple[Any, dict[str, Any]] | None = None  # (registry it reflects, statement)
        self.routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"^/?$"), {"POST": self.bundle, "GET": self.system_search}),
            (re.compile(r"^/metadata$"), {"GET": self.metadata}),
            (re.compile(r"^/_history$"), {"GET": self.history}),
            (re.compile(r"^/_search$"), {"POST": self.system_search}),
            (re.compile(rf"^/(?P<type>{TYPE})$"), {"GET": self.search, "POST": self.create,
                                                    "PUT": self.conditional_update,
                                                    "DELETE": self.conditional_delete}),
            (re.compile(rf"^/(?P<type>{TYPE})/_search$"), {"POST": self.search}),
            (re.compile(rf"^/(?P<type>{TYPE})/_history$"), {"GET": self.history}),
            (re.compile(rf"^/(?P<type>{TYPE})/\$validate$"), {"POST": self.validate_op}),
            (re.compile(r"^/Bundle/\$transform$"), {"POST": self.transform_op}),
            (re.compile(r"^/ViewDefinition/\$run$"), {"POST": self.view_run}),
            (re.compile(rf"^/(?P<type>Patient)/(?P<id>{ID})/\$everything$"), {"GET": self.everything}),
            (re.compile(rf"^/(?P<type>{TYPE})/(?P<id>{ID})/\$validate$"), {"POST": self.validate_op,
                                                                            "GET": self.validate_op}),
            (re.compile(rf"^/(?P<type>{TYPE})/(?P<id>{ID})$"), {"GET": self.read, "PUT": self.update,
                                                                 "DELETE": self.delete, "PATCH": self.patch}),
            (re.compile(rf"^/(?P<type>{TYPE})/(?P<id>{ID})/_history$"), {"GET": self.history}),
            (re.compile(rf"^/(?P<compartment>{TYPE})/(?P<cid>{ID})/(?P<target>{TYPE}|\*)$"),
             {"GET": self.compartment_search}),
            (re.compile(rf"^/(?P<compartment>{TYPE})/(?P<cid>{ID})(?:/(?P<target>{TYPE}))?/_search$"),
             {"POST": self.compartment_search}),
            (re.compile(rf"^/(?P<type>{TYPE})/(?P<id>{ID})/_history/(?P<vid>[^/]+)$"), {"GET": self.vread}),
        ]

    # -- entry point -----------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str | list[tuple[str, str]] = "",
               headers: Mapping[str, str] | None = None, body: bytes | str | None = b"", *,
               base: str = "http://localhost/fhir") -> Response:
        """One HTTP request in, one Response out; never raises (errors become OperationOutcomes)."""
        if isinstance(body, str):
            body = body.encode()
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query)
        request = Request(method.upper(), path, pairs, {k.lower(): v for k, v in (headers or {}).items()},
                          body or b"", base.rstrip("/"))
        response = self._handle(request)
        if response.stream is not None:
            return response  # raw rows in the format the operation chose
        try:
            response.media_type = response_type(request)
        except FhirError:
            pass  # a 406 is itself answered in JSON
        return response

    def _handle(self, request: Request) -> Response:
        try:
            return self.dispatch(request, self.repo)
        except FhirError as error:
            return error_response(error)
        except StoreError as error:
            return Response(error.status, {}, outcome_of("error", error.code, str(error), error.expression))
        except Exception:  # a bug: logged with its traceback, answered without it
            log.exception("unhandled error in %s %s", request.method, request.path)
            return Response(500, {}, outcome_of("fatal", "exception", "internal server error (logged)"))

    def dispatch(self, request: Request, repo: Any) -> Response:
        """Route, then apply the format rules (a PATCH is 405 whatever its Content-Type), then handle."""
        if len(request.body) > self.config.max_body_bytes:
            raise FhirError(413, f"request body exceeds {self.config.max_body_bytes} bytes", "too-costly")
        for pattern, handlers in self.routes:
            match = pattern.match(request.path)
            if not match:
                continue
            params = match.groupdict()
            if "type" in params:
                self._check_type(params["type"])
            handler = handlers.get(request.method)
            if handler is None:
                raise FhirError(405, f"{request.method} is not supported on {request.path or '/'}", "not-supported",
                                headers={"Allow": ", ".join(sorted(handlers))})
            self._check_format(request)
            return handler(request, repo, **params)
        raise FhirError(404, f"no FHIR endpoint at {request.path!r}", "not-found")

    # -- cross-cutting rules ---------------------------------------------------------------------------------
    def _check_format(self, request: Request) -> None:
        if request.path not in RAW_OUTPUT:  # those answer in a format of their own (_format=csv ...)
            response_type(request)  # 406 before doing anything
        if request.method in WRITE_METHODS and request.body:
            kind = media_type(request.header("content-type"))
            if request.method == "PATCH":
                if kind != JSON_PATCH:
                    raise FhirError(415, f"PATCH takes {JSON_PATCH}, not {kind or '(none)'}", "not-supported")
            elif request.path.endswith("_search"):
                if kind != FORM:
                    raise FhirError(415, f"Content-Type {kind or '(none)'} is not supported here; send {FORM}",
                                    "not-supported")
            elif not is_resource_type(kind):
                raise FhirError(415, f"Content-Type {kind or '(none)'} is not supported here; send "
                                     "application/fhir+json or application/fhir+xml", "not-supported")

    def _check_type(self, resource_type: str) -> None:
        if resource_type not in self.repo.resource_types:
            raise FhirError(404, f"resource type {resource_type!r} is not supported", "not-supported")

    def _resource_body(self, request: Request, resource_type: str | None,
                       findings: list[Any] | None = None) -> dict[str, Any]:
        """The body as a resource of `resource_type`; what the XML reader found besides (element order,
        undefined attributes) is appended to `findings` (see negotiation.parse_resource)."""
        if not request.body.strip():
            raise FhirError(400, "the request has no body: a FHIR resource is required", "required")
        resource = parse_resource(request, self.definitions, findings)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FhirError(400, "the body is not a FHIR resource (a JSON object with resourceType)", "structure")
        if resource_type and resource["resourceType"] != resource_type:
            raise FhirError(400, f"resourceType {resource['resourceType']} does not match the URL ({resource_type})",
                            "invalid", "resourceType")
        return resource

    def _validate_on_write(self, resource: dict[str, Any], findings: Sequence[Any] = ()) -> list[Any]:
        """The write interceptor. A resource that is not parseable FHIR is a 400 (always, unless
        configured off); then, when configured, validation against base R4 and its meta.profile: enforce -> 422,
        warn -> logged and returned to a client asking for Prefer: return=OperationOutcome. `findings` are
        what the format reader reported (XML element order, undefined attributes): they count as validation
        issues whenever validate-on-write is on, with or without a meta.profile."""
        if self.config.reject_malformed:
            problems = shape.check(resource, self.definitions)
            if problems:
                raise _Malformed(problems)
        mode = self.config.validate_on_write
        meta = resource.get("meta")
        profiles = [p for p in (meta.get("profile") or [] if isinstance(meta, dict) else []) if isinstance(p, str)]
        if mode == "off":
            return []
        issues = list(findings) + validate(resource, self.definitions, profiles)  # base R4, then its profiles
        if mode == "enforce" and has_errors(issues):
            raise _Unprocessable(issues)
        if has_errors(issues):
            log.warning("%s does not conform to %s: %d error(s) (validate-on-write=warn)",
                        resource.get("resourceType"), ", ".join(map(str, profiles)),
                        sum(i.is_error for i in issues))
        return issues

    def _written(self, request: Request, stored: StoredResource, status: int,
                 issues: list[Any] | None = None) -> Response:
        headers = bundles.resource_headers(request.base, stored)
        headers["Location"] = bundles.version_location(request.base, stored)
        return Response(status, headers, self._prefer_body(request, stored.resource, issues, status))

    def _prefer_body(self, request: Request, resource: dict[str, Any] | None, issues: list[Any] | None,
                     status: int) -> dict[str, Any] | None:
        prefer = request.prefer("return")
        if prefer == "minimal":
            return None
        if prefer == "OperationOutcome":
            if issues:
                return operation_outcome(issues)
            return outcome_of("information", "informational", f"done ({status})")
        return resource

    # -- instance level ------------------------------------------------------------------------------------
    def read(self, request: Request, repo: Any, type: str, id: str) -> Response:
        stored = repo.read(type, id)
        headers = bundles.resource_headers(request.base, stored)
        if_none_match = request.header("if-none-match")
        if if_none_match and parse_etag(if_none_match, "If-None-Match") == stored.version_id:
            return Response(304, headers, None)
        since = _http_date(request.header("if-modified-since"))
        if if_none_match is None and since is not None and stored.updated_us // 1_000_000 <= since:
            return Response(304, headers, None)
        return Response(200, headers, self._shape(request, stored.resource))

    def vread(self, request: Request, repo: Any, type: str, id: str, vid: str) -> Response:
        if not vid.isdigit() or len(vid) > 9:
            raise FhirError(404, f"{type}/{id} has no version {vid!r}", "not-found")
        stored = repo.vread(type, id, int(vid))
        return Response(200, bundles.resource_headers(request.base, stored), stored.resource)

    def update(self, request: Request, repo: Any, type: str, id: str) -> Response:
        findings: list[Any] = []
        resource = self._resource_body(request, type, findings)
        if resource.get("id") != id:
            raise FhirError(400, f"the resource id ({resource.get('id')!r}) must match the URL id ({id!r})",
                            "invalid", "id")
        if_match = parse_etag(request.header("if-match"), "If-Match")
        issues = self._validate_on_write(resource, findings)
        stored, created = repo.update(resource, if_match=if_match)
        return self._written(request, stored, 201 if created else 200, issues)

    def patch(self, request: Request, repo: Any, type: str, id: str) -> Response:
        """JSON Patch on the current version, in one transaction (If-Match honoured)."""
        from fhir_service.rest.json_patch import PatchError, PatchFormatError, apply_patch

        try:
            operations = fhirjson.loads(request.body) if request.body.strip() else None
        except ValueError as exc:
            raise FhirError(400, f"the body is not valid JSON: {exc}", "structure") from None
        if_match = parse_etag(request.header("if-match"), "If-Match")

        def work(tx: Any) -> tuple[StoredResource, list[Any]]:
            current = tx.read(type, id)
            if if_match is not None and if_match != current.version_id:
                raise FhirError(412, f"If-Match version {if_match} is not the current version "
                                     f"{current.version_id}", "conflict")
            try:
                patched = apply_patch(current.resource or {}, operations, max_bytes=self.config.max_body_bytes)
            except PatchFormatError as exc:
                raise FhirError(400, f"not a JSON Patch: {exc}", "structure") from None
            except PatchError as exc:
                raise FhirError(422, f"the patch cannot be applied: {exc}", "processing") from None
            if patched.get("resourceType") != type or patched.get("id") != id:
                raise FhirError(422, "a patch may not change resourceType or id", "processing")
            issues = self._validate_on_write(patched)
            stored, _ = tx.update(patched, if_match=current.version_id)
            return stored, issues

        stored, issues = repo.atomic(work)
        return self._written(request, stored, 200, issues)

    def delete(self, request: Request, repo: Any, type: str, id: str) -> Response:
        if_match = parse_etag(request.header("if-match"), "If-Match")
        deleted = repo.delete(type, id, if_match=if_match)
        headers = {"ETag": etag(deleted.version_id)} if deleted else {}
        return Response(204, headers, None)

    # -- type level --------------------------------------------------------------------------------------------
    def create(self, request: Request, repo: Any, type: str) -> Response:
        findings: list[Any] = []
        resource = self._resource_body(request, type, findings)
        resource.pop("id", None)
        issues = self._validate_on_write(resource, findings)
        if_none_exist = request.header("if-none-exist")
        stored, created = repo.create(resource, if_none_exist=if_none_exist or None)
        if not created:  # If-None-Exist matched: 200 with the existing resource
            return self._written(request, stored, 200)
        return self._written(request, stored, 201, issues)

    def conditional_update(self, request: Request, repo: Any, type: str) -> Response:
        if not request.query:
            raise FhirError(405, "PUT on a type needs search criteria (conditional update)", "not-supported",
                            headers={"Allow": "GET, POST, PUT, DELETE"})
        findings: list[Any] = []
        resource = self._resource_body(request, type, findings)
        criteria = bundles.query_string(request.query)

        def work(tx: Any) -> tuple[StoredResource, bool]:
            tx.lock_condition(type, criteria)
            matches = tx.find(type, criteria)
            if len(matches) > 1:
                raise FhirError(412, f"conditional update matched {len(matches)} resources", "multiple-matches")
            if matches:
                if resource.get("id") not in (None, matches[0].id):
                    raise FhirError(400, "the resource id does not match the resource the criteria found",
                                    "invalid", "id")
                return tx.update({**resource, "id": matches[0].id})
            if resource.get("id"):
                return tx.update(resource)
            return tx.create(resource)

        issues = self._validate_on_write(resource, findings)
        stored, created = repo.atomic(work)
        return self._written(request, stored, 201 if created else 200, issues)

    def conditional_delete(self, request: Request, repo: Any, type: str) -> Response:
        if not request.query:
            raise FhirError(405, "DELETE on a type needs search criteria (conditional delete)", "not-supported",
                            headers={"Allow": "GET, POST, PUT, DELETE"})
        criteria = bundles.query_string(request.query)

        def work(tx: Any) -> None:
            tx.lock_condition(type, criteria)
            matches = tx.find(type, criteria)
            if len(matches) > 1:
                raise FhirError(412, f"conditional delete matched {len(matches)} resources", "multiple-matches")
            for match in matches:
                tx.delete(type, match.id)

        repo.atomic(work)
        return Response(204, {}, None)

    def search(self, request: Request, repo: Any, type: str) -> Response:
        return self._search(request, repo, type, f"/{type}")

    def system_search(self, request: Request, repo: Any) -> Response:
        return self._search(request, repo, None, "")

    def _search_params(self, request: Request) -> list[tuple[str, str]]:
        params = list(request.query)
        if request.method == "POST":
            try:
                params += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise FhirError(400, "the form body is not UTF-8", "structure") from None
        return params

    def compartment_search(self, request: Request, repo: Any, compartment: str, cid: str,
                           target: str | None = None) -> Response:
        """`[compartment]/[id]/[type]` (or `/*`): a search restricted to the resources in that compartment."""
        self._check_type(compartment)
        resource_type = None if target in (None, "*") else target
        if resource_type:
            self._check_type(resource_type)
        path = f"/{compartment}/{cid}/{target or '*'}"
        return self._search(request, repo, resource_type, path, compartment=(compartment, cid))

    def _search(self, request: Request, repo: Any, resource_type: str | None, path: str,
                compartment: tuple[str, str] | None = None) -> Response:
        params = self._search_params(request)
        query = parse_search(resource_type, params, request)
        query.compartment = compartment
        own = request.base + "/"  # `subject=<this server>/Patient/1` means the local Patient/1
        query.params = [(k, v.replace(own, "") if own in v else v) for k, v in query.params]
        result = repo.search(query)
        summary = next((v for k, v in params if k == "_summary"), None)
        elements = [e.strip() for k, v in params if k == "_elements" for e in v.split(",") if e.strip()]
        entries = []
        for stored, mode in [*[(m, "match") for m in result.matches], *[(i, "include") for i in result.included]]:
            entries.append({"fullUrl": bundles.full_url(request.base, stored),
                            "resource": subset(stored.resource or {}, summary, elements or None, self.definitions),
                            "search": {"mode": mode}})
        if result.ignored:
            entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}",  # R4: every searchset entry has a fullUrl
                            "resource": operation_outcome(
                                [_issue("warning", "not-supported", message) for message in result.ignored]),
                            "search": {"mode": "outcome"}})
        visible = [(k, v) for k, v in params if k != "_cursor"]
        links = [("self", bundles.link(request.base, path, list(params)))]
        if result.next_cursor or query.cursor:
            links.append(("first", bundles.link(request.base, path, visible)))
        if result.next_cursor:
            links.append(("next", bundles.link(request.base, path, [*visible, ("_cursor", result.next_cursor)])))
        return Response(200, {}, bundles.searchset(request.base, entries, result.total, links))

    def history(self, request: Request, repo: Any, type: str | None = None, id: str | None = None) -> Response:
        params = dict(request.query)
        count = parse_search(None, [("_count", params["_count"])], request).count if "_count" in params else 20
        items, cursor = repo.history(type, id, count=count, since=params.get("_since"), cursor=params.get("_cursor"))
        path = "".join(f"/{p}" for p in (type, id) if p) + "/_history"
        links = [("self", bundles.link(request.base, path, list(request.query)))]
        if cursor:
            visible = [(k, v) for k, v in request.query if k != "_cursor"]
            links.append(("next", bundles.link(request.base, path, [*visible, ("_cursor", cursor)])))
        bundle = {"resourceType": "Bundle", "type": "history",
                  "link": [{"relation": rel, "url": url} for rel, url in links],
                  "entry": [bundles.history_entry(request.base, item) for item in items]}
        return Response(200, {}, bundle)

    # -- operations ----------------------------------------------------------------------------------------------
    def validate_op(self, request: Request, repo: Any, type: str, id: str | None = None) -> Response:
        """`$validate` of a posted resource (or Parameters), or by GET of the stored instance."""
        if request.method == "GET":
            resource = repo.read(type, id).resource
            profiles = [v for k, v in request.query if k == "profile" and v]
            return Response(200, {}, operation_outcome(validate(resource, self.definitions, profiles)))
        findings: list[Any] = []
        body = self._resource_body(request, None, findings)
        profiles: list[str] = [v for k, v in request.query if k == "profile" and v]
        mode = None
        resource: Any = body
        if body.get("resourceType") == "Parameters":
            resource = None
            parameters = body.get("parameter") or []
            if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
                raise FhirError(400, "Parameters.parameter must be an array of objects", "structure",
                                "Parameters.parameter")
            for parameter in parameters:
                name = parameter.get("name")
                if name == "resource":
                    resource = parameter.get("resource")
                elif name == "profile":
                    profiles.append(parameter.get("valueUri") or parameter.get("valueCanonical") or "")
                elif name == "mode":
                    mode = parameter.get("valueCode") or parameter.get("valueString")
        mode = mode or next((v for k, v in request.query if k == "mode"), None)
        if mode is not None and mode not in VALIDATE_MODES:
            raise FhirError(400, f"$validate mode must be one of {', '.join(VALIDATE_MODES)}, not {mode!r}",
                            "code-invalid", "Parameters.parameter.where(name='mode')")
        if mode == "delete":
            if id is None:
                raise FhirError(400, "$validate mode=delete needs an instance", "required")
            repo.read(type, id)
            return Response(200, {}, outcome_of("information", "informational", "All OK"))
        if resource is None and id is not None:
            resource = repo.read(type, id).resource
        if not isinstance(resource, dict):
            raise FhirError(400, "$validate needs a resource (the body, or a Parameters 'resource')", "required")
        if resource.get("resourceType") != type:
            raise FhirError(400, f"$validate on {type} was given a {resource.get('resourceType')}", "invalid")
        if id is not None and mode == "update" and resource.get("id") != id:
            raise FhirError(400, "mode=update: the resource id must match the URL", "invalid", "id")
        issues = findings + validate(resource, self.definitions, [p for p in profiles if p])
        return Response(200, {}, operation_outcome(issues))

    def transform_op(self, request: Request, repo: Any) -> Response:
        from fhir_service.rest.operations import transform

        return transform(self, request)

    def view_run(self, request: Request, repo: Any) -> Response:
        from fhir_service.rest.view_run import run

        return run(self, request)

    def everything(self, request: Request, repo: Any, type: str, id: str) -> Response:
        """`Patient/[id]/$everything`, paged (`_count`, default 100) with keyset cursors in the next link;
        the total is given when everything fits one page."""
        params = dict(request.query)
        count = parse_search(None, [("_count", params["_count"])], request).count if "_count" in params else 100
        cursor = params.get("_cursor")
        items, next_cursor = repo.everything_page(id, count=count, cursor=cursor)
        entries = [{"fullUrl": bundles.full_url(request.base, s), "resource": s.resource,
                    "search": {"mode": "match"}} for s in items]
        path = f"/Patient/{id}/$everything"
        visible = [(k, v) for k, v in request.query if k != "_cursor"]
        links = [("self", bundles.link(request.base, path, list(request.query)))]
        if next_cursor or cursor:
            links.append(("first", bundles.link(request.base, path, visible)))
        if next_cursor:
            links.append(("next", bundles.link(request.base, path, [*visible, ("_cursor", next_cursor)])))
        total = len(entries) if next_cursor is None and cursor is None else None
        return Response(200, {}, bundles.searchset(request.base, entries, total, links))

    def metadata(self, request: Request, repo: Any) -> Response:
        from fhir_service.rest.capabilities import capability_statement

        registry = getattr(self.repo, "registry", None)
        if self._capabilities is None or self._capabilities[0] is not registry:
            self._capabilities = (registry, capability_statement(self))
        return Response(200, {}, self._capabilities[1])

    def bundle(self, request: Request, repo: Any) -> Response:
        from fhir_service.rest.transaction import process_bundle

        return process_bundle(self, request, self._resource_body(request, "Bundle"))

    def _shape(self, request: Request, resource: dict[str, Any] | None) -> dict[str, Any] | None:
        summary = next((v for k, v in request.query if k == "_summary"), None)
        elements = [e.strip() for k, v in request.query if k == "_elements" for e in v.split(",") if e.strip()]
        if resource is None or (summary is None and not elements):
            return resource
        return subset(resource, summary, elements or None, self.definitions)


VALIDATE_MODES = ("create", "update", "delete")  # R4 ValueSet resource-validation-mode


class _Malformed(FhirError):
    """A resource a FHIR parser would reject: 400 with the validator's issues."""

    def __init__(self, issues: list[Any]) -> None:
        super().__init__(400, "the resource is not valid FHIR R4 JSON", "structure")
        self.issues = issues

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class _Unprocessable(FhirError):
    """Validate-on-write (enforce) found errors: 422 with the validator's own issues."""

    def __init__(self, issues: list[Any]) -> None:
        super().__init__(422, "the resource does not conform to FHIR R4 or its declared profile(s)", "processing")
        self.issues = issues

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


def _issue(severity: str, code: str, diagnostics: str) -> Any:
    from fhir_service.validation.outcome import Issue

    return Issue(severity, code, diagnostics)


def _http_date(value: str | None) -> int | None:
    """Seconds since the epoch of an HTTP date header; None when absent or unreadable (then ignored,
    as RFC 9110 says for If-Modified-Since)."""
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        return None
