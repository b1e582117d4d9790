"""A Validator is shared by threads (the HTTP server validates requests concurrently): same answers as alone."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fhir_service.validation import Validator

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}


def resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(40):
        out.append({"resourceType": "Patient", "text": NARRATIVE, "birthDate": f"2023-02-{28 + i % 3:02d}",
                    "gender": ["female", "robot"][i % 2]})
        out.append({"resourceType": "Observation", "text": NARRATIVE, "status": "final", "code": {"text": "x"},
                    "referenceRange": [{"low": {"value": i}} if i % 2 else {"text": ""}]})
    return out


def signature(issues: list) -> list[tuple[str, str | None, str]]:
    return [(i.severity, i.expression, i.diagnostics) for i in issues]


def test_threads_get_the_same_issues_as_a_single_thread(validator: Validator) -> None:
    inputs = resources()
    alone = [signature(validator.validate(r)) for r in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda r: signature(validator.validate(r)), inputs))
    assert together == alone
    assert any(alone) and not all(alone)
