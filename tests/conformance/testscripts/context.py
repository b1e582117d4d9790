"""The state of one TestScript run: fixtures, kept responses, server ids and `${variable}` substitution."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fhir_service import fhirpath
from tests.conformance.testscripts.model import Exchange, ScriptError, Unsupported
from tests.conformance.testscripts.xpath import to_fhirpath

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def first_value(values: list[Any]) -> str | None:
    """The string a TestScript compares: the first item of a FHIRPath result (None when empty)."""
    if not values:
        return None
    value = values[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


class RunContext:
    """Fixtures by id (files next to the script), responses by responseId, the last exchange, and the ids the
    server gave to fixtures it created (a `targetId` names the fixture; the URL needs the server's id)."""

    def __init__(self, script: dict[str, Any], folder: Path, base_url: str,
                 inputs: dict[str, str] | None = None) -> None:
        """`inputs`: values a tester types in for variables, by name (they win over every other source)."""
        self.script = script
        self.inputs = inputs or {}
        self.base_url = base_url.rstrip("/")
        self.fixtures: dict[str, dict[str, Any]] = {}
        self.missing_fixtures: dict[str, str] = {}
        for fixture in script.get("fixture", []):
            reference = (fixture.get("resource") or {}).get("reference", "")
            path = folder / reference
            if reference.startswith(("http:", "https:")) or not path.is_file():
                self.missing_fixtures[fixture["id"]] = f"fixture {fixture['id']} ({reference}) is not a local file"
            else:
                self.fixtures[fixture["id"]] = json.loads(path.read_text(encoding="utf-8-sig"))
        self.responses: dict[str, Exchange] = {}
        self.server_ids: dict[str, tuple[str, str]] = {}
        self.last: Exchange | None = None
        self.variables = {variable["name"]: variable for variable in script.get("variable", [])}
        self.profiles = {profile["id"]: profile.get("reference", "") for profile in script.get("profile", [])}

    # -- sources -------------------------------------------------------------------------------------------
    def body_of(self, source_id: str | None) -> Any:
        """The resource a sourceId names (a fixture, or the body of a kept response); the last response when
        no sourceId is given."""
        if source_id is None:
            if self.last is None:
                raise ScriptError("no operation has been performed yet")
            return self.last.body
        if source_id in self.responses:
            return self.responses[source_id].body
        if source_id in self.fixtures:
            return self.fixtures[source_id]
        if source_id in self.missing_fixtures:
            raise Unsupported(self.missing_fixtures[source_id])
        raise Unsupported(f"sourceId {source_id!r} is neither a fixture of the script nor a kept response")

    def exchange_of(self, source_id: str | None) -> Exchange:
        if source_id is None:
            if self.last is None:
                raise ScriptError("no operation has been performed yet")
            return self.last
        if source_id in self.responses:
            return self.responses[source_id]
        raise Unsupported(f"sourceId {source_id!r} names no response kept by this run")

    def target_of(self, target_id: str) -> tuple[str, str]:
        """(type, id) on the server of what a targetId names: a fixture the run created, a kept response's
        resource (or its Location), or the fixture's own id."""
        if target_id in self.server_ids:
            return self.server_ids[target_id]
        if target_id in self.responses:
            exchange = self.responses[target_id]
            found = location_target(exchange.header("Location") or exchange.header("Content-Location") or "")
            if found:
                return found
            body = exchange.body if isinstance(exchange.body, dict) else {}
            if body.get("resourceType") and body.get("id"):
                return body["resourceType"], body["id"]
        resource = self.body_of(target_id)
        if isinstance(resource, dict) and resource.get("resourceType") and resource.get("id"):
            return resource["resourceType"], resource["id"]
        raise ScriptError(f"targetId {target_id!r} names no resource with an id")

    # -- variables -----------------------------------------------------------------------------------------
    def substitute(self, text: str) -> str:
        return _VARIABLE.sub(lambda match: self.variable(match.group(1)), text)

    def variable(self, name: str) -> str:
        """A variable's value, computed when it is used (TestScript variables are late-bound)."""
        variable = self.variables.get(name)
        if variable is not None and name in self.inputs:
            return self.inputs[name]
        if variable is None:
            raise ScriptError(f"variable ${{{name}}} is not declared by the script")
        source = variable.get("sourceId")
        value: str | None = None
        if "headerField" in variable:
            value = self.exchange_of(source).header(variable["headerField"])
        elif "expression" in variable:
            value = first_value(fhirpath.evaluate(self.body_of(source), variable["expression"]))
        elif "path" in variable:
            value = first_value(fhirpath.evaluate(self.body_of(source), to_fhirpath(variable["path"])))
        if value is None:
            value = variable.get("defaultValue")
        if value is None:
            if not any(key in variable for key in ("headerField", "expression", "path")):
                hint = f" (hint: {variable['hint']})" if "hint" in variable else ""
                raise Unsupported(f"variable ${{{name}}} has no value: the tester must supply it{hint}")
            raise ScriptError(f"variable ${{{name}}} evaluated to nothing")
        return value


def location_target(location: str) -> tuple[str, str] | None:
    """(type, id) from a Location such as `http://host/fhir/Patient/123/_history/1`."""
    parts = [part for part in location.split("?")[0].split("/") if part]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return None
