"""Well-known code systems that FHIR packages do not enumerate, by canonical URL, for readable messages.

A value set that includes one of them without listing its codes cannot be expanded offline: codes from
these systems are reported as "could not be checked locally", never as errors.
"""
from __future__ import annotations

EXTERNAL_SYSTEMS: dict[str, str] = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://unitsofmeasure.org": "UCUM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-9-cm": "ICD-9-CM",
    "http://hl7.org/fhir/sid/icd-11": "ICD-11",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://www.whocc.no/atc": "ATC",
    "http://ncimeta.nci.nih.gov": "NCI Metathesaurus",
    "http://ncithesaurus-stage.nci.nih.gov": "NCI Thesaurus",
    "http://dicom.nema.org/resources/ontology/DCM": "DICOM",
    "urn:iso:std:iso:3166": "ISO 3166",
    "urn:iso:std:iso:4217": "ISO 4217",
    "urn:ietf:bcp:47": "BCP-47 language tags",
    "urn:ietf:bcp:13": "MIME types (BCP-13)",
    "http://www.genenames.org": "HGNC",
    "http://nucc.org/provider-taxonomy": "NUCC provider taxonomy",
    "http://unstats.un.org/unsd/methods/m49/m49.htm": "UN M49",
    "https://www.iana.org/time-zones": "IANA time zones",
}


def system_label(system: str) -> str:
    """`SNOMED CT (http://snomed.info/sct)` for a known system, else the URL alone."""
    name = EXTERNAL_SYSTEMS.get(system)
    return f"{name} ({system})" if name else f"'{system}'"
