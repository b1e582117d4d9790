"""Grammar-defined systems: BCP-47 language tags (all-languages) and MIME types (mimetypes)."""
from __future__ import annotations

import pytest

from fhir_service.terminology import Terminology, check_bcp47, check_mime_type

ALL_LANGUAGES = "http://hl7.org/fhir/ValueSet/all-languages"
LANGUAGES = "http://hl7.org/fhir/ValueSet/languages"
MIMETYPES = "http://hl7.org/fhir/ValueSet/mimetypes"


@pytest.mark.parametrize("tag", ["en", "en-US", "fr-CA", "zh-Hant-TW", "de-CH-1996", "sr-Latn-RS", "es-419",
                                 "i-klingon", "x-private", "en-US-x-twain", "sgn-BE-FR", "en-a-bbb-x-a-ccc"])
def test_well_formed_language_tags(tag: str) -> None:
    assert check_bcp47(tag) is None


@pytest.mark.parametrize("tag", ["en_US", "english", "e", "en-", "-en", "en-US-", "en US", "de-1996-1996",
                                 "en-a-bb-a-cc", "toolongtag"])
def test_malformed_language_tags(tag: str) -> None:
    assert check_bcp47(tag) is not None


def test_all_languages_is_checked_by_syntax(terminology: Terminology) -> None:
    assert terminology.validate_code(ALL_LANGUAGES, "urn:ietf:bcp:47", "nl-BE").is_valid
    check = terminology.validate_code(ALL_LANGUAGES, None, "en_US")
    assert check.is_invalid and "not a valid BCP-47 language tag" in check.message


def test_languages_value_set_uses_its_list(terminology: Terminology) -> None:
    assert terminology.validate_code(LANGUAGES, None, "en-US").is_valid
    assert terminology.validate_code(LANGUAGES, None, "tlh").is_invalid  # well-formed, but not listed


@pytest.mark.parametrize("mime", ["application/fhir+json", "application/pdf", "text/plain; charset=UTF-8",
                                  "image/svg+xml", "application/fhir+json;fhirVersion=4.0",
                                  "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json",
                                  'multipart/form-data; boundary="a b"',
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document"])
def test_well_formed_mime_types(mime: str) -> None:
    assert check_mime_type(mime) is None


@pytest.mark.parametrize("mime", ["pdf", "application/", "/json", "text/plain;", "application/json extra",
                                  "foo/bar", "text/pl ain", "text/plain; charset"])
def test_malformed_mime_types(mime: str) -> None:
    assert check_mime_type(mime) is not None


def test_mimetypes_value_set_on_a_code_element(terminology: Terminology) -> None:
    # Attachment.contentType is a `code` bound to mimetypes: no system given, implied by the binding
    assert terminology.validate_code(MIMETYPES, None, "application/pdf").is_valid
    assert terminology.validate_code(MIMETYPES, None, "pdf").is_invalid


def test_malformed_tag_against_the_languages_list_says_why(terminology: Terminology) -> None:
    check = terminology.validate_code(LANGUAGES, None, "en_US")
    assert check.is_invalid and "not a valid BCP-47 language tag" in check.message
