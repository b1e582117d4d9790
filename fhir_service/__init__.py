"""CAR-T toxicity FHIR service: validation engine, FHIR server, case data and transforms."""

__version__ = "0.1.0"
