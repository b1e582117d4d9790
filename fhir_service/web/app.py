"""Flask app factory: one blueprint mounts the REST core at /fhir; Flask only moves bytes.

The blueprint hands (method, path, query, headers, body) to `FhirRest.handle` and serialises its Response.
Content negotiation and the FHIR error statuses live in the core; here we only make sure that what Flask
itself rejects (body too large, unknown URL outside /fhir, a crash) also comes back as an OperationOutcome.
"""
from __future__ import annotations

import logging
from typing import Any

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


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": ", ".join(ALL_METHODS),
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, If-Match, If-None-Exist, If-None-Match, "
                                    "If-Modified-Since, Prefer",
    "Access-Control-Expose-Headers": "Content-Location, ETag, Last-Modified, Location",
    "Access-Control-Max-Age": "600",
}


def _cors(response: FlaskResponse) -> FlaskResponse:
    """Open data, open to browser apps: every answer (errors too) carries the CORS headers."""
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def create_app(repository: Any = None, *, db_url: str | None = None, config: RestConfig | None = None,
               definitions: Any = None, cors: bool = True) -> Flask:
    """A Flask app serving `repository` (or a new SqlRepository on `db_url`) at /fhir; `cors` lets
    browser apps of any origin call it (the data are published case reports)."""
    if repository is None:
        from fhir_service.store.sql_repository import SqlRepository

        repository = SqlRepository(db_url or "sqlite://", definitions=definitions)
    config = config or RestConfig()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["fhir_rest"] = FhirRest(repository, definitions=definitions, config=config)
    app.register_blueprint(blueprint, url_prefix=FHIR_PREFIX)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _crash)
    if cors:
        app.after_request(_cors)
    return app
