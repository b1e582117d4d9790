"""The project's data folders are found the same way by every part: override, checkout, installed copy."""
from __future__ import annotations

from pathlib import Path

import pytest

from fhir_service import paths


def test_the_checkout_folders_are_used_in_a_source_tree() -> None:
    assert paths.profiles_dir() == paths.CHECKOUT / "profiles"
    assert (paths.profiles_dir() / "package.json").is_file()
    assert any(paths.bundles_dir().glob("*.json"))


def test_an_environment_variable_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FHIR_SERVICE_BUNDLES", str(tmp_path))
    assert paths.bundles_dir() == tmp_path


def test_an_installed_copy_is_used_when_there_is_no_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "share" / "fhir-service" / "profiles").mkdir(parents=True)
    monkeypatch.setattr(paths, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(paths, "INSTALLED", tmp_path / "share" / "fhir-service")
    assert paths.profiles_dir() == tmp_path / "share" / "fhir-service" / "profiles"
    # nothing installed either: the checkout path, so the error names where the data was expected
    assert paths.bundles_dir() == tmp_path / "site-packages" / "bundles"
