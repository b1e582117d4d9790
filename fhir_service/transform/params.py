"""Parameters of each transform as marshmallow schemas, shared by the CLI and the HTTP operation.

The names are those of the FHIR operation (`Bundle/$transform` takes a Parameters resource whose parameter
names are these keys); the CLI maps its options onto the same keys, so both reject the same things with the
same words. A rejected parameter becomes an `Issue` (code `invalid`, expression = the parameter name):
the caller turns the list into an OperationOutcome (CLI exit 2, HTTP 400).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

from fhir_service.validation.outcome import Issue

SEED_MAX = 200


@dataclass(frozen=True)
class TransactionParams:
    """`batch`: a batch Bundle (independent entries) instead of a transaction."""

    batch: bool = False


@dataclass(frozen=True)
class RedateParams:
    """`infusionDate`: the new Day 0. `keepBirthdate`: leave Patient.birthDate as it is (age at infusion then
    changes). `freshIds`: new ids/fullUrls/identifiers so the case loads again as another patient; `seed`
    makes them reproducible (None: random, a different patient each run)."""

    infusion_date: dt.date
    keep_birthdate: bool = False
    fresh_ids: bool = False
    seed: str | None = None


@dataclass(frozen=True)
class VersionParams:
    """R4 <-> R5 conversion. `strict`: issues of severity warning (lossy but preserved in an extension) are
    raised to errors, for clients that must not accept any cross-version extension."""

    strict: bool = False


class _Base(Schema):
    class Meta:
        unknown = RAISE


class TransactionSchema(_Base):
    batch = fields.Boolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TransactionParams:
        return TransactionParams(**data)


class RedateSchema(_Base):
    infusionDate = fields.Date(required=True, format="%Y-%m-%d",
                               error_messages={"invalid": "must be a date YYYY-MM-DD",
                                               "required": "is required (the new infusion date, YYYY-MM-DD)"})
    keepBirthdate = fields.Boolean(load_default=False)
    freshIds = fields.Boolean(load_default=False)
    seed = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def check_seed(self, data: dict[str, Any], **_: Any) -> None:
        seed = data.get("seed")
        if seed is not None:
            if not data.get("freshIds"):
                raise ValidationError("only meaningful with freshIds", "seed")
            if not seed.strip() or len(seed) > SEED_MAX:
                raise ValidationError(f"must be 1 to {SEED_MAX} characters, not blank", "seed")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RedateParams:
        return RedateParams(data["infusionDate"], data["keepBirthdate"], data["freshIds"], data.get("seed"))


class VersionSchema(_Base):
    strict = fields.Boolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> VersionParams:
        return VersionParams(**data)


SCHEMAS: dict[str, type[Schema]] = {
    "to-transaction": TransactionSchema,
    "redate": RedateSchema,
    "to-r5": VersionSchema,
    "to-r4": VersionSchema,
}


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(messages, dict):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(_flatten(value, name))
        return out
    if isinstance(messages, list):
        return [pair for item in messages for pair in _flatten(item, prefix)]
    return [(prefix, str(messages))]


def load_params(transform: str, raw: Mapping[str, Any]) -> tuple[Any, list[Issue]]:
    """The parameters object of `transform` from `raw` (operation parameter names), or the issues."""
    schema_class = SCHEMAS.get(transform)
    if schema_class is None:
        known = ", ".join(sorted(SCHEMAS))
        return None, [Issue("error", "not-supported", f"unknown transform {transform!r} (known: {known})",
                            "transform")]
    try:
        return schema_class().load(dict(raw)), []
    except ValidationError as exc:
        issues = []
        for name, message in _flatten(exc.messages):
            if message == "Unknown field.":
                message = f"unknown parameter (allowed: {', '.join(schema_class().fields)})"
            issues.append(Issue("error", "invalid", f"parameter {name!r}: {message}", name or None))
        return None, issues


PARAMETER_VALUE_KEYS = ("valueBoolean", "valueDate", "valueString", "valueCode", "valueInteger")


def parameters_to_raw(parameters: Any) -> tuple[dict[str, Any], list[Issue]]:
    """A FHIR `Parameters` resource as the raw mapping `load_params` takes (for the HTTP operation).

    A `resource` part is not a parameter of any transform (the Bundle travels as the `bundle` part, taken
    out by the caller), so it is rejected like an unknown name would be."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        return {}, [Issue("error", "structure", "expected a Parameters resource")]
    raw: dict[str, Any] = {}
    issues: list[Issue] = []
    for index, part in enumerate(parameters.get("parameter") or []):
        where = f"Parameters.parameter[{index}]"
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str):
            issues.append(Issue("error", "required", f"{where} has no name", where))
            continue
        values = [key for key in part if key.startswith("value")]
        if len(values) != 1 or values[0] not in PARAMETER_VALUE_KEYS:
            issues.append(Issue("error", "invalid", f"parameter {name!r} needs exactly one of "
                                f"{', '.join(PARAMETER_VALUE_KEYS)}", f"{where}.value"))
            continue
        if name in raw:
            issues.append(Issue("error", "invalid", f"parameter {name!r} is repeated", where))
            continue
        raw[name] = part[values[0]]
    return raw, issues
