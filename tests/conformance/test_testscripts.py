"""Ten sample R4 TestScripts (fhir-crucible/testscript-engine, data/rest-testscripts-r4) run against the real
server: the Flask app on a fresh SQLite file, served on loopback by werkzeug, called with `requests`.

The scripts run once per session, in file order, against one server, as testscript-engine runs a folder of
scripts against one endpoint (the read scripts expect `Patient/example`, which the earlier scripts leave
behind). Each script is then a test case, and the score `REST TestScripts (R4 samples)` counts asserts passed
(warningOnly asserts that fail and asserts the runner cannot run offline are not passed). Floors only rise.

What the scripts themselves get wrong (so a correct server fails those asserts; see KNOWN_SCRIPT_DEFECTS) is
kept apart from what the server gets wrong, and the runner's own rules are unit-tested at the end.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_service.web.app import create_app
from fhir_service.web.server import LoopbackServer
from tests.conformance.testscripts.asserts import compare, missing_content
from tests.conformance.testscripts.context import RunContext, location_target
from tests.conformance.testscripts.model import FAIL, NOT_RUN, PASS, ScriptResult, Unsupported
from tests.conformance.testscripts.operations import encode_params, request_url
from tests.conformance.testscripts.report import TestScriptReport
from tests.conformance.testscripts.runner import ScriptRunner
from tests.conftest import CONFORMANCE_DATA

SUITE = CONFORMANCE_DATA / "rest-testscripts-r4"
SCRIPTS = sorted(SUITE.glob("*/*.json"))
TITLE = "REST TestScripts (R4 samples)"
TOTAL_FLOOR = 0  # asserts that must pass (raised to the current count; only ever raised)
SCRIPT_FLOORS: dict[str, int] = {}


def script_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.fixture(scope="session")
def testscript_results(definitions: Any, tmp_path_factory: pytest.TempPathFactory,
                       pytestconfig: pytest.Config) -> dict[str, ScriptResult]:
    db = tmp_path_factory.mktemp("testscripts") / "x.sqlite3"
    app = create_app(db_url=f"sqlite:///{db}", definitions=definitions)
    report = TestScriptReport(TITLE)
    with LoopbackServer(app) as server:
        runner = ScriptRunner(server.base_url, definitions)
        for path in SCRIPTS:
            report.results.append(runner.run_file(path, script_name(path)))
    pytestconfig.pluginmanager.register(report, "testscript-report")
    return {result.name: result for result in report.results}


@pytest.mark.parametrize("path", SCRIPTS, ids=script_name)
def test_testscript(path: Path, testscript_results: dict[str, ScriptResult]) -> None:
    result = testscript_results[script_name(path)]
    assert result.total > 0, "every sample script has asserts"
    assert result.passed >= SCRIPT_FLOORS.get(result.name, 0), [o.describe() for o in result.outcomes
                                                                  if o.status != PASS]


def test_testscripts_score(testscript_results: dict[str, ScriptResult], report_score: Any) -> None:
    passed = sum(result.passed for result in testscript_results.values())
    total = sum(result.total for result in testscript_results.values())
    report_score(f"{TITLE} asserts", passed, total)
    assert len(testscript_results) == 10
    assert passed >= TOTAL_FLOOR
