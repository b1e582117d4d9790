"""One Terminology per Definitions, shared by threads; caches built once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fhir_service.definitions import Definitions
from fhir_service.terminology import Terminology, terminology_for
from tests.terminology.resources import TOX, TOX_VS, toxicity_code_system, value_set


def test_one_terminology_per_definitions(definitions: Definitions, terminology: Terminology) -> None:
    assert terminology_for(definitions) is terminology
    assert terminology_for(definitions.copy()) is not terminology


def test_adding_a_resource_gives_a_fresh_terminology(definitions: Definitions) -> None:
    clone = definitions.copy()
    before = terminology_for(clone)
    assert before.expand(TOX_VS + "all") is None
    clone.add(toxicity_code_system())
    clone.add(value_set("all", {"include": [{"system": TOX}]}))
    after = terminology_for(clone)
    assert after is not before
    assert after.validate_code(TOX_VS + "all", TOX, "icans").is_valid


def test_concurrent_expansion_builds_one_expansion(local_terminology: Any) -> None:
    terminology = local_terminology(toxicity_code_system(), value_set("all", {"include": [{"system": TOX}]}))
    with ThreadPoolExecutor(max_workers=8) as pool:
        expansions = list(pool.map(lambda _: terminology.expand(TOX_VS + "all"), range(32)))
    assert all(e is expansions[0] for e in expansions)
    with ThreadPoolExecutor(max_workers=8) as pool:
        checks = list(pool.map(lambda code: terminology.validate_code(TOX_VS + "all", TOX, code),
                               ["crs", "nope"] * 16))
    assert [c.outcome for c in checks[:2]] == ["valid", "invalid"]
    assert len({c.outcome for c in checks[::2]}) == 1
