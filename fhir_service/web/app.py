"""Flask app factory: one blueprint mounts the REST core at /fhir; Flask only moves bytes.

The blueprint hands (method, path, query, headers, body) to `FhirRest.handle` and serialises its Response.
Content negotiation and the FHIR error statuses live in the core; here we only make sure that what Flask
itself rejects (body too large, unknown URL outside /fhir, a crash) also comes back as an OperationOutcome.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Sequence

from flask import Blueprint, Flask, Response as FlaskResponse, current_app, request
from werkzeug.exceptions import HTTPException

from fhir_service.rest import FhirRest, RestConfig
from fhir_service.rest.http import Response, outcome_of
from fhir_service.rest.negotiation import render

log = logging.getLogger(__name__)
FHIR_PREFIX = "/fhir"
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
ISSUE_CODES = {400: "invalid", 404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}

blueprint = Blueprint("fhir", __name__)


def _render(result: Response, definitions: Any = None, pretty: bool = False) -> FlaskResponse:
    data, content_type = render(result, definitions, pretty)
    response = FlaskResponse(data, status=result.status, headers=result.headers)
    if content_type:
        response.headers["Content-Type"] = content_type
    return response


@blueprint.route("", defaults={"path": ""}, methods=ALL_METHODS, strict_slashes=False)
@blueprint.route("/<path:path>", methods=ALL_METHODS)
def fhir(path: str) -> FlaskResponse:
    rest: FhirRest = current_app.extensions["fhir_rest"]
    if request.method == "OPTIONS":
        return _render(Response(200, {"Allow": ", ".join(ALL_METHODS)}, None))
    method = "GET" if request.method == "HEAD" else request.method
    body = request.get_data(cache=False)
    result = rest.handle(method, "/" + path if path else "", list(request.args.items(multi=True)),
                         dict(request.headers.items()), body, base=request.host_url.rstrip("/") + FHIR_PREFIX)
    return _render(result, rest.definitions, request.args.get("_pretty") == "true")


def _http_error(error: HTTPException) -> FlaskResponse:
    status = error.code or 500
    return _render(Response(status, {}, outcome_of("error", ISSUE_CODES.get(status, "processing"),
                                                    error.description or error.name)))


def _crash(error: Exception) -> FlaskResponse:
    log.exception("unhandled error")
    return _render(Response(500, {}, outcome_of("fatal", "exception", "internal server error (logged)")))


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CORS_ORIGINS_ENV = "FHIR_SERVICE_CORS_ORIGINS"  # space/comma separated origins allowed to write from a browser
CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, If-Match, If-None-Exist, If-None-Match, "
                                    "If-Modified-Since, Prefer",
    "Access-Control-Expose-Headers": "Content-Location, ETag, Last-Modified, Location",
    "Access-Control-Max-Age": "600",
}


def cors_origins_from_env() -> tuple[str, ...]:
    """The browser origins the operator allows to write (FHIR_SERVICE_CORS_ORIGINS), normalised."""
    return tuple(_origin(o) for o in os.environ.get(CORS_ORIGINS_ENV, "").replace(",", " ").split() if o)


def _origin(value: str) -> str:
    return value.strip().rstrip("/").lower()


def _is_search(method: str, path: str) -> bool:
    """POST .../_search reads (FHIR search by form post); it changes nothing."""
    return method == "POST" and path.rstrip("/").endswith("/_search")


def _writes_allowed(origin: str | None) -> bool:
    allowed: tuple[str, ...] = current_app.config["CORS_WRITE_ORIGINS"]
    return origin is not None and ("*" in allowed or _origin(origin) in allowed)


def _refuse_foreign_writes() -> FlaskResponse | None:
    """A browser write from another origin needs that origin to be configured. Preflighted requests are
    already stopped by the Allow-Methods answer; this also stops the "simple" cross-site requests that
    browsers send without asking (a form POST), which would otherwise reach an unauthenticated localhost
    server. Requests without Origin (curl, servers, the CLI) and same-origin requests are unaffected."""
    origin = request.headers.get("Origin")
    if (origin is None or request.method not in WRITE_METHODS or _is_search(request.method, request.path)
            or _origin(origin) == _origin(request.host_url) or _writes_allowed(origin)):
        return None
    return _render(Response(403, {}, outcome_of(
        "error", "security", f"browser writes from origin {origin} are not allowed; the server operator can "
                             f"allow them with serve --cors-origin or {CORS_ORIGINS_ENV}")))


def _cors(response: FlaskResponse) -> FlaskResponse:
    """Open data, open to browser apps for reading: every answer (errors too) allows any origin to GET/HEAD.
    Write methods are offered (and the origin echoed instead of `*`) only to configured origins: the server
    has no authentication, so any web page a user opens could otherwise change a server on their machine."""
    origin = request.headers.get("Origin")
    if _writes_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin  # type: ignore[assignment]
        response.headers["Access-Control-Allow-Methods"] = ", ".join(ALL_METHODS)
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = ", ".join(SAFE_METHODS)
    response.vary.add("Origin")
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def create_app(repository: Any = None, *, db_url: str | None = None, config: RestConfig | None = None,
               definitions: Any = None, cors: bool = True, cors_origins: Sequence[str] | None = None) -> Flask:
    """A Flask app serving `repository` (or a new SqlRepository on `db_url`) at /fhir. With `cors`, browser
    apps of any origin may read (the data are published case reports); only `cors_origins` (default: the
    FHIR_SERVICE_CORS_ORIGINS environment variable; "*" for any) may write from a browser."""
    if repository is None:
        from fhir_service.store.sql_repository import SqlRepository

        repository = SqlRepository(db_url or "sqlite://", definitions=definitions)
    config = config or RestConfig()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["CORS_WRITE_ORIGINS"] = (tuple(_origin(o) for o in cors_origins) if cors_origins is not None
                                        else cors_origins_from_env())
    app.extensions["fhir_rest"] = FhirRest(repository, definitions=definitions, config=config)
    app.register_blueprint(blueprint, url_prefix=FHIR_PREFIX)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _crash)
    app.before_request(_refuse_foreign_writes)
    if cors:
        app.after_request(_cors)
    return app
