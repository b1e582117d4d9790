"""A small runner of FHIR R4 TestScript resources against a live FHIR server (used by the conformance tests).

Modules, one job each:
- model.py: what a run produces (Exchange = one HTTP request/response, Outcome = one assert's result) and the
  Unsupported exception (a feature a runner cannot provide offline: the assert is "not run", never "passed").
- context.py: the state of one script run: fixtures read from the files next to the script, responses kept by
  responseId, server ids of created fixtures, `${variable}` substitution (defaultValue/expression/path/
  headerField/sourceId).
- xpath.py: the XPath subset that maps to FHIRPath one-for-one (`fhir:A/fhir:b/@value` -> `A.b`).
- operations.py: an `operation` -> an HTTP request (method, URL, headers, JSON or XML body) and its Exchange.
- asserts.py: an `assert` -> an Outcome (response/responseCode/resource/contentType/headerField/expression/path/
  compareToSource*/minimumId/validateProfileId/navigationLinks/requestURL/requestMethod, with operators).
- runner.py: a whole script: autocreate fixtures, setup, tests, teardown, autodelete.
- report.py: the terminal summary (per-script results, not-run asserts by reason).
"""
