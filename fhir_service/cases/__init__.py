"""Published CAR-T toxicity cases as data: timelines (YAML, checked by marshmallow schemas) built into FHIR R4
Bundles through the fhir.resources models. `schema` reads and checks a timeline, `terminology` resolves its
concept keys to verified codes, `build` makes the Bundle."""
