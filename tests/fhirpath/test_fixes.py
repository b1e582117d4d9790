"""Each correction of fhirpathpy in fhir_service/fhirpath/fixes.py, as a failing and a passing case."""
from __future__ import annotations

import pytest

from fhir_service import fhirpath
from fhir_service.fhirpath import FhirPathError


def test_single_of_many_is_an_error_and_of_one_is_the_item() -> None:
    with pytest.raises(FhirPathError, match="single"):
        fhirpath.evaluate({}, "(1 | 2).single()")
    assert fhirpath.evaluate({}, "(1).single()") == [1]
    assert fhirpath.evaluate({}, "{}.single()") == []
