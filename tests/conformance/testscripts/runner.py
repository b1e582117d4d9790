"""Runs one TestScript: autocreate fixtures, setup, each test, teardown, autodelete; one Outcome per assert.

All sections run even after a failed assert (a report should show every problem, not only the first); an
assert that follows an operation which could not be sent is not run (Unsupported) or failed (ScriptError)
with the operation's reason.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from fhir_service.validation import Validator
from tests.conformance.testscripts.asserts import AssertEvaluator
from tests.conformance.testscripts.context import RunContext
from tests.conformance.testscripts.model import (FAIL, NOT_RUN, PASS, WARNING, Outcome, ScriptError, ScriptResult,
                                                 Unsupported)
from tests.conformance.testscripts.operations import perform


class ScriptRunner:
    """Runs TestScripts against `base_url`; one requests.Session and one Validator for all of them."""

    def __init__(self, base_url: str, definitions: Any, inputs: dict[str, str] | None = None) -> None:
        """`inputs`: the values a tester would type in for variables that only carry a hint."""
        self.base_url = base_url
        self.inputs = inputs or {}
        self.definitions = definitions
        self.validator = Validator(definitions)
        self.session = requests.Session()

    def fetch(self, url: str) -> tuple[int, str | None]:
        """GET a link; (status, resourceType of the JSON body or None)."""
        response = self.session.get(url, headers={"Accept": "application/fhir+json"}, timeout=30)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body.get("resourceType") if isinstance(body, dict) else None

    def run_file(self, path: Path, name: str | None = None) -> ScriptResult:
        script = json.loads(path.read_text(encoding="utf-8-sig"))
        return self.run(script, path.parent, name or path.stem)

    def run(self, script: dict[str, Any], folder: Path, name: str) -> ScriptResult:
        ctx = RunContext(script, folder, self.base_url, self.inputs)
        result = ScriptResult(name)
        run = _ScriptRun(self, ctx, result)
        for fixture in script.get("fixture", []):
            if fixture.get("autocreate"):
                run.operation({"type": {"code": "create"}, "sourceId": fixture["id"]}, "autocreate")
        if "setup" in script:
            run.actions(script["setup"].get("action", []), "setup")
        for index, test in enumerate(script.get("test", [])):
            run.actions(test.get("action", []), test.get("name") or f"test {index + 1}")
        if "teardown" in script:
            run.actions(script["teardown"].get("action", []), "teardown")
        for fixture in script.get("fixture", []):
            if fixture.get("autodelete"):
                run.operation({"type": {"code": "delete"}, "targetId": fixture["id"]}, "autodelete")
        return result


class _ScriptRun:
    def __init__(self, runner: ScriptRunner, ctx: RunContext, result: ScriptResult) -> None:
        self.runner = runner
        self.ctx = ctx
        self.result = result
        self.asserts = AssertEvaluator(ctx, runner.validator, runner.fetch)
        self.blocked: tuple[str, str] | None = None  # (status, reason) while the last operation did not run

    def actions(self, actions: list[dict[str, Any]], section: str) -> None:
        for number, action in enumerate(actions, 1):
            if "operation" in action:
                self.operation(action["operation"], section)
            elif "assert" in action:
                self.assertion(action["assert"], section, number)

    def operation(self, operation: dict[str, Any], section: str) -> None:
        self.blocked = None
        try:
            perform(operation, self.ctx, self.runner.session, self.runner.definitions)
        except Unsupported as exc:
            self.blocked = (NOT_RUN, f"operation not run: {exc}")
        except (ScriptError, requests.RequestException) as exc:
            self.blocked = (FAIL, f"operation failed: {exc}")
            self.result.errors.append(f"{section}: {exc}")

    def assertion(self, spec: dict[str, Any], section: str, number: int) -> None:
        label = spec.get("label") or spec.get("description") or f"assert #{number}"
        if self.blocked is not None:
            status, message = self.blocked
        else:
            try:
                passed, message = self.asserts.evaluate(spec)
                status = PASS if passed else (WARNING if spec.get("warningOnly") else FAIL)
                message = "" if passed else message
            except Unsupported as exc:
                status, message = NOT_RUN, str(exc)
            except Exception as exc:  # noqa: BLE001 - a script or FHIRPath error fails this assert, not the run
                status, message = FAIL, f"{type(exc).__name__}: {exc}"
        self.result.outcomes.append(Outcome(self.result.name, section, label, status, message))
