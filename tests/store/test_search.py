"""Search semantics (FHIR R4 3.1.1) on every backend: one rule per test, a match and a non-match each."""
from __future__ import annotations

import pytest

from fhir_service.store.repository import InvalidSearch, SearchQuery
from fhir_service.store.sql_repository import SqlRepository

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def patient(id: str, family: str, gender: str, birth: str, **extra: object) -> dict:
    return {"resourceType": "Patient", "id": id, "name": [{"family": family, "given": ["Ann"]}],
            "gender": gender, "birthDate": birth, **extra}


def observation(id: str, subject: str, code: str, value: float, when: str, unit: str = "Cel") -> dict:
    return {"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}], "text": "Body temperature"},
            "subject": {"reference": subject}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


@pytest.fixture
def data(repo: SqlRepository) -> SqlRepository:
    for resource in [
        patient("p1", "Müller", "female", "1970-05-02",
                identifier=[{"system": "urn:mrn", "value": "A1",
                             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                  "code": "MR"}]}}]),
        patient("p2", "Miller", "male", "1985-11-30"),
        patient("p3", "Smith", "male", "1985"),
        observation("o1", "Patient/p1", "8310-5", 39.2, "2024-03-01T10:00:00Z"),
        observation("o2", "Patient/p1", "8310-5", 37.0, "2024-03-02T10:00:00Z"),
        observation("o3", "Patient/p2", "8867-4", 120, "2024-03-05", unit="/min"),
    ]:
        repo.update(resource)
    return repo


def ids(repo: SqlRepository, resource_type: str, *params: tuple[str, str], **controls: object) -> list[str]:
    result = repo.search(SearchQuery(resource_type, list(params), **controls))  # type: ignore[arg-type]
    return sorted(m.id for m in result.matches)


# -- string ---------------------------------------------------------------------------------------------
def test_string_is_case_and_accent_insensitive_starts_with(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("family", "mull")) == ["p1"]
    assert ids(data, "Patient", ("family", "ller")) == []


def test_string_exact_and_contains(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("family:exact", "Müller")) == ["p1"]
    assert ids(data, "Patient", ("family:exact", "müller")) == []
    assert ids(data, "Patient", ("family:contains", "ILL")) == ["p2"]


def test_comma_is_or_and_repetition_is_and(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("family", "smith,miller")) == ["p2", "p3"]
    assert ids(data, "Patient", ("family", "smith"), ("gender", "female")) == []


# -- token ----------------------------------------------------------------------------------------------
def test_token_forms(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("code", f"{LOINC}|8310-5")) == ["o1", "o2"]
    assert ids(data, "Observation", ("code", "8867-4")) == ["o3"]
    assert ids(data, "Observation", ("code", f"{LOINC}|")) == ["o1", "o2", "o3"]
    assert ids(data, "Observation", ("code", "|8310-5")) == []  # those codes have a system
    assert ids(data, "Patient", ("identifier", "urn:mrn|A1")) == ["p1"]


def test_token_not_includes_resources_without_the_value(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("gender:not", "male")) == ["p1"]


def test_token_text_and_of_type(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("code:text", "body temp")) == ["o1", "o2", "o3"]
    assert ids(data, "Patient",
               ("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|A1")) == ["p1"]
    assert ids(data, "Patient",
               ("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|B2")) == []


def test_missing_modifier(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("identifier:missing", "true")) == ["p2", "p3"]
    assert ids(data, "Patient", ("identifier:missing", "false")) == ["p1"]


# -- date -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    ("1985", ["p2", "p3"]),          # a day inside the year, and the year itself
    ("1985-11", ["p2"]),             # the year 1985 is not within November
    ("eq1985-11-30", ["p2"]),
    ("ne1985", ["p1"]),
    ("gt1980", ["p2", "p3"]),
    ("lt1985-01-01", ["p1"]),        # the year 1985 starts that day: nothing of it lies before
    ("ge1985-11-30", ["p2", "p3"]),
    ("le1970-05-02", ["p1"]),
    ("sa1985-06-01", ["p2"]),
    ("eb1985-06-01", ["p1"]),
    ("lt1985-01-02", ["p1", "p3"]),  # the year 1985 has a part before 2 January
])
def test_date_prefixes_with_implicit_precision(data: SqlRepository, value: str, expected: list[str]) -> None:
    assert ids(data, "Patient", ("birthdate", value)) == expected


def test_date_time_search_with_time_zone(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("date", "2024-03-01")) == ["o1"]
    assert ids(data, "Observation", ("date", "ge2024-03-01T11:00:00%2B02:00".replace("%2B", "+"))) == ["o1", "o2", "o3"]
    assert ids(data, "Observation", ("date", "gt2024-03-01T10:00:00Z")) == ["o2", "o3"]


def test_invalid_date_is_an_invalid_search(data: SqlRepository) -> None:
    with pytest.raises(InvalidSearch):
        ids(data, "Patient", ("birthdate", "1985-13"))


# -- quantity / number ------------------------------------------------------------------------------------
def test_quantity_with_prefixes_and_units(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("value-quantity", f"gt38|{UCUM}|Cel")) == ["o1"]
    assert ids(data, "Observation", ("value-quantity", "le37||Cel")) == ["o2"]
    assert ids(data, "Observation", ("value-quantity", "39.2")) == ["o1"]
    assert ids(data, "Observation", ("value-quantity", "39")) == ["o1"]  # 39 means [38.5, 39.5)
    assert ids(data, "Observation", ("value-quantity", "39.0")) == []    # 39.0 means [38.95, 39.05)
    assert ids(data, "Observation", ("value-quantity", "120||/min")) == ["o3"]
    assert ids(data, "Observation", ("value-quantity", "120||Cel")) == []


def test_number_with_implicit_precision(repo: SqlRepository) -> None:
    repo.update({"resourceType": "RiskAssessment", "id": "r1", "status": "final",
                 "subject": {"reference": "Patient/x"}, "prediction": [{"probabilityDecimal": 0.25}]})
    assert ids(repo, "RiskAssessment", ("probability", "0.25")) == ["r1"]
    assert ids(repo, "RiskAssessment", ("probability", "0.3")) == ["r1"]   # [0.25, 0.35)
    assert ids(repo, "RiskAssessment", ("probability", "0.30")) == []      # [0.295, 0.305)
    assert ids(repo, "RiskAssessment", ("probability", "lt0.3")) == ["r1"]
    with pytest.raises(InvalidSearch):
        ids(repo, "RiskAssessment", ("probability", "many"))


# -- reference, chains, _has -----------------------------------------------------------------------------
def test_reference_forms(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("subject", "Patient/p1")) == ["o1", "o2"]
    assert ids(data, "Observation", ("subject", "p2")) == ["o3"]
    assert ids(data, "Observation", ("subject:Patient", "p2")) == ["o3"]
    assert ids(data, "Observation", ("subject:Group", "p2")) == []
    assert ids(data, "Observation", ("patient", "Patient/unknown")) == []


def test_chained_search(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("subject:Patient.family", "miller")) == ["o3"]
    assert ids(data, "Observation", ("patient.gender", "female")) == ["o1", "o2"]
    assert ids(data, "Observation", ("subject:Patient._id", "p1")) == ["o1", "o2"]


def test_reverse_chaining(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("_has:Observation:patient:code", "8867-4")) == ["p2"]
    assert ids(data, "Patient", ("_has:Observation:patient:_id", "o1")) == ["p1"]
    assert ids(data, "Patient", ("_has:Observation:patient:code", "none")) == []


# -- _id, _lastUpdated, unknown parameters ------------------------------------------------------------------
def test_id_and_not(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("_id", "p1,p3")) == ["p1", "p3"]
    assert ids(data, "Patient", ("_id:not", "p1")) == ["p2", "p3"]


def test_last_updated(data: SqlRepository) -> None:
    assert ids(data, "Patient", ("_lastUpdated", "gt2000-01-01")) == ["p1", "p2", "p3"]
    assert ids(data, "Patient", ("_lastUpdated", "lt2000-01-01")) == []


def test_unknown_parameters_are_ignored_unless_strict(data: SqlRepository) -> None:
    result = data.search(SearchQuery("Patient", [("shoe-size", "42")]))
    assert len(result.matches) == 3 and result.ignored
    with pytest.raises(InvalidSearch):
        data.search(SearchQuery("Patient", [("shoe-size", "42")], strict=True))


def test_unsupported_modifier_is_an_error(data: SqlRepository) -> None:
    with pytest.raises(InvalidSearch):
        ids(data, "Patient", ("gender:below", "male"))


# -- sort, paging, total, include ---------------------------------------------------------------------------
def test_sort_ascending_and_descending(data: SqlRepository) -> None:
    order = lambda *sort: [m.id for m in data.search(SearchQuery("Patient", sort=list(sort))).matches]  # noqa: E731
    assert order("birthdate") == ["p1", "p3", "p2"]
    assert order("-birthdate") == ["p3", "p2", "p1"]  # descending sorts by the end of each range: 1985 ends last
    assert order("gender", "-_id") == ["p1", "p3", "p2"]


def test_keyset_paging_visits_every_match_once(data: SqlRepository) -> None:
    for sort in ([], ["-family"], ["birthdate", "_id"]):
        seen, cursor = [], None
        while True:
            page = data.search(SearchQuery("Patient", count=1, sort=sort, cursor=cursor))
            seen += [m.id for m in page.matches]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == ["p1", "p2", "p3"] and len(seen) == 3


def test_total_is_opt_in_when_paging(data: SqlRepository) -> None:
    assert data.search(SearchQuery("Patient", count=1)).total is None
    assert data.search(SearchQuery("Patient", count=1, total="accurate")).total == 3
    assert data.search(SearchQuery("Patient", count=10)).total == 3  # one page: known for free


def test_bad_cursor_is_an_invalid_search(data: SqlRepository) -> None:
    with pytest.raises(InvalidSearch):
        data.search(SearchQuery("Patient", cursor="garbage"))


def test_include_and_revinclude(data: SqlRepository) -> None:
    result = data.search(SearchQuery("Observation", [("_id", "o3")], include=["Observation:subject"]))
    assert [m.id for m in result.matches] == ["o3"] and [i.id for i in result.included] == ["p2"]
    result = data.search(SearchQuery("Patient", [("_id", "p1")], revinclude=["Observation:subject"]))
    assert sorted(i.id for i in result.included) == ["o1", "o2"]
    with pytest.raises(InvalidSearch):
        data.search(SearchQuery("Patient", revinclude=["Observation:code"]))


def test_deleted_resources_are_not_found(data: SqlRepository) -> None:
    data.delete("Patient", "p3")
    assert ids(data, "Patient", ("gender", "male")) == ["p2"]


def test_custom_search_parameter_indexes_existing_resources(data: SqlRepository) -> None:
    data.update({"resourceType": "SearchParameter", "id": "name-use", "url": "http://example.org/sp/name-use",
                 "name": "name-use", "status": "active", "code": "name-use", "base": ["Patient"],
                 "type": "token", "expression": "Patient.name.given"})
    assert ids(data, "Patient", ("name-use", "Ann")) == ["p1", "p2", "p3"]


# -- composite, contact points, compartments ---------------------------------------------------------------
def test_composite_components_must_match_in_the_same_group(repo: SqlRepository) -> None:
    repo.update({"resourceType": "Observation", "id": "bp", "status": "final",
                 "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
                 "component": [
                     {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                      "valueQuantity": {"value": 140, "system": UCUM, "code": "mm[Hg]"}},
                     {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                      "valueQuantity": {"value": 90, "system": UCUM, "code": "mm[Hg]"}}]})
    assert ids(repo, "Observation", ("component-code-value-quantity", f"{LOINC}|8480-6$gt130")) == ["bp"]
    # systolic is 140, diastolic 90: "diastolic above 130" must not pair 8462-4 with systolic's 140
    assert ids(repo, "Observation", ("component-code-value-quantity", f"{LOINC}|8462-4$gt130")) == []


def test_composite_on_the_resource_itself(data: SqlRepository) -> None:
    assert ids(data, "Observation", ("code-value-quantity", f"{LOINC}|8310-5$gt38")) == ["o1"]
    assert ids(data, "Observation", ("code-value-quantity", f"{LOINC}|8867-4$gt38")) == ["o3"]
    assert ids(data, "Observation", ("code-value-quantity", f"8310-5$lt30,8867-4$gt100")) == ["o3"]
    with pytest.raises(InvalidSearch):
        ids(data, "Observation", ("code-value-quantity", "a$b$c"))


def test_contact_point_system_is_the_token_system(repo: SqlRepository) -> None:
    repo.update({"resourceType": "Patient", "id": "t", "telecom": [{"system": "phone", "value": "555"}]})
    assert ids(repo, "Patient", ("telecom", "phone|555")) == ["t"]
    assert ids(repo, "Patient", ("telecom", "email|555")) == []
    assert ids(repo, "Patient", ("phone", "555")) == ["t"]


def test_compartment_search(data: SqlRepository) -> None:
    found = data.search(SearchQuery("Observation", compartment=("Patient", "p1")))
    assert sorted(m.id for m in found.matches) == ["o1", "o2"]
    everything = data.search(SearchQuery(None, compartment=("Patient", "p2")))
    assert sorted(m.id for m in everything.matches) == ["o3"]
    assert data.search(SearchQuery("Observation", compartment=("Patient", "nobody"))).matches == []


def test_search_parameters_written_by_another_process_are_seen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    reader, writer = SqlRepository(url), SqlRepository(url)  # two gunicorn workers, say
    reader.update({"resourceType": "Patient", "id": "a", "name": [{"given": ["Zed"]}]})
    writer.update({"resourceType": "SearchParameter", "id": "first-given", "url": "http://example.org/sp/fg",
                   "name": "first-given", "status": "active", "code": "first-given", "base": ["Patient"],
                   "type": "string", "expression": "Patient.name.given"})
    assert ids(reader, "Patient", ("first-given", "zed")) == ["a"]
    writer.delete("SearchParameter", "first-given")
    with pytest.raises(InvalidSearch):
        reader.search(SearchQuery("Patient", [("first-given", "zed")], strict=True))
    reader.close()
    writer.close()


def test_token_in_and_not_in_a_value_set(data: SqlRepository) -> None:
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert ids(data, "Patient", ("gender:in", gender)) == ["p1", "p2", "p3"]
    assert ids(data, "Patient", ("gender:not-in", gender)) == []
    data.update({"resourceType": "MedicationAdministration", "id": "toci", "status": "completed",
                 "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-03-02",
                 "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                           "code": "612865"}]}})
    drugs = "https://fhir.cart-tox.org/ValueSet/toxicity-drugs"
    assert ids(data, "MedicationAdministration", ("code:in", drugs)) == ["toci"]
    assert ids(data, "MedicationAdministration", ("code:not-in", drugs)) == []
    with pytest.raises(InvalidSearch):  # not known here
        ids(data, "Patient", ("gender:in", "http://example.org/ValueSet/none"))
    with pytest.raises(InvalidSearch):  # LOINC members cannot be enumerated locally
        ids(data, "Observation", ("code:in", "http://hl7.org/fhir/ValueSet/observation-codes"))


def test_reference_by_identifier(repo: SqlRepository) -> None:
    repo.update({"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "t"},
                 "subject": {"identifier": {"system": "urn:mrn", "value": "42"}}})
    assert ids(repo, "Observation", ("subject:identifier", "urn:mrn|42")) == ["x"]
    assert ids(repo, "Observation", ("subject:identifier", "urn:mrn|43")) == []


def test_text_and_content_search(repo: SqlRepository) -> None:
    repo.update({"resourceType": "Condition", "id": "crs", "subject": {"reference": "Patient/p1"},
                 "code": {"text": "Cytokine release syndrome"},
                 "text": {"status": "generated",
                          "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Grade 2 CRS on <b>day 3</b>, '
                                 'treated with tocilizumab &amp; dexaméthasone</p></div>'}})
    repo.update({"resourceType": "Condition", "id": "icans", "subject": {"reference": "Patient/p1"},
                 "code": {"text": "ICANS"}})
    assert ids(repo, "Condition", ("_text", "tocilizumab")) == ["crs"]
    assert ids(repo, "Condition", ("_text", "day 3 dexamethasone")) == ["crs"]  # every word, accents aside
    assert ids(repo, "Condition", ("_text", "day 4")) == []
    assert ids(repo, "Condition", ("_text", "<b>")) == []                      # markup is not text
    assert ids(repo, "Condition", ("_content", "cytokine")) == ["crs"]
    assert ids(repo, "Condition", ("_content", "icans,cytokine")) == ["crs", "icans"]
    with pytest.raises(InvalidSearch):
        ids(repo, "Condition", ("_content", " "))
