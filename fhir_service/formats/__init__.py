"""Wire formats other than FHIR JSON (the native form of every part): FHIR XML, read into FHIR JSON."""
