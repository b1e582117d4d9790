"""Every case Bundle validates against base R4 and the project profiles it claims (meta.profile), with the
project's validator, with zero errors; the clinical rules layer finds nothing to warn about.

Report-faithful data is never bent to fit a profile: where a report treats an event as a toxicity without calling
it CRS/ICANS/IEC-HS (seed 004 Case 1, tocilizumab "for febrile hypotension"), the profiles say so
(cart-other-toxicity), and the Bundle validates as it is.
"""
from __future__ import annotations

import pytest

from fhir_service.validation import Validator
from fhir_service.validation.clinical import clinical_issues
from tests.cases.conftest import BUNDLES

CASES = sorted(p.stem for p in BUNDLES.glob("*.json"))


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(rules=[clinical_issues])


@pytest.mark.parametrize("name", CASES)
def test_bundle_has_no_validation_error(name: str, bundles: dict, validator: Validator) -> None:
    issues = validator.validate(bundles[name])
    assert [f"{i.expression}: {i.diagnostics}" for i in issues if i.is_error] == []
    assert not [i for i in issues if (i.rule or "").startswith("cart-clinical")]


def test_the_validator_really_checks_the_case_profiles(bundles: dict, validator: Validator) -> None:
    """A broken copy of a case fails: proof that the profiles are loaded and applied, not skipped."""
    broken = {**bundles["002-psca-cart-mcrpc"]}
    broken["entry"] = [dict(e) for e in broken["entry"]]
    for entry in broken["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            entry["resource"] = {k: v for k, v in resource.items() if k != "extension"}  # no source-publication
    messages = [i.diagnostics for i in validator.validate(broken) if i.is_error]
    assert any("sourcePublication" in m or "source-publication" in m for m in messages), messages
