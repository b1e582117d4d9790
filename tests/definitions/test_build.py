"""Building and checking a package's snapshots (`fhir-service profiles build|check`), on a two-profile
package (tests/definitions/data/mini-package: an extension and an Observation profile that uses it)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fhir_service.cli.main import main
from fhir_service.definitions.build import PackageBuildError, build_package, check_package
from fhir_service.definitions.package import FhirPackage

MINI_PACKAGE = Path(__file__).parent / "data" / "mini-package"
PROFILE = "StructureDefinition-study-observation.json"
EXTENSION = "StructureDefinition-study-day.json"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    folder = tmp_path / "pkg"
    shutil.copytree(MINI_PACKAGE, folder)
    return folder


def read(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def snapshot_by_id(folder: Path, name: str) -> dict[str, dict]:
    return {e["id"]: e for e in read(folder, name)["snapshot"]["element"]}


def test_a_package_without_snapshots_is_out_of_sync(package: Path) -> None:
    problems = check_package(package)
    assert f"{PROFILE}: no snapshot" in problems and f"{EXTENSION}: no snapshot" in problems
    assert ".index.json: missing" in problems


def test_build_writes_snapshots_and_index_then_check_is_clean(package: Path) -> None:
    written = build_package(package)
    assert sorted(written) == [EXTENSION, PROFILE]
    assert check_package(package) == []
    snap = snapshot_by_id(package, PROFILE)
    # the profile's extension slice unfolds the package's own extension definition
    assert snap["Observation.extension:day.url"]["fixedUri"] == "http://example.org/mini/StructureDefinition/study-day"
    assert snap["Observation.extension:day.value[x]"]["type"] == [{"code": "integer"}]
    assert snap["Observation.extension:day.value[x]"]["minValueInteger"] == -30
    assert snap["Observation.value[x]:valueQuantity.system"]["fixedUri"] == "http://unitsofmeasure.org"
    assert snap["Observation.code.coding.system"]["min"] == 1
    index = FhirPackage(package)
    assert {e.filename for e in index.entries} == {EXTENSION, PROFILE}


def test_build_is_stable_and_formatted(package: Path) -> None:
    build_package(package)
    text = (package / PROFILE).read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "resourceType"')
    assert build_package(package) == []  # nothing changes the second time
    assert (package / PROFILE).read_text(encoding="utf-8") == text
    keys = list(read(package, PROFILE))
    assert keys.index("snapshot") == keys.index("differential") - 1


def test_an_edited_differential_makes_its_snapshot_stale(package: Path) -> None:
    build_package(package)
    sd = read(package, PROFILE)
    sd["differential"]["element"].append({"id": "Observation.subject", "path": "Observation.subject", "min": 1})
    (package / PROFILE).write_text(json.dumps(sd, indent=2) + "\n", encoding="utf-8")
    problems = check_package(package)
    assert len(problems) == 1 and problems[0].startswith(f"{PROFILE}: snapshot out of sync")
    assert "Observation.subject: min differ" in problems[0]
    assert build_package(package) == [PROFILE]
    assert check_package(package) == []


def test_an_edited_extension_makes_the_profile_using_it_stale(package: Path) -> None:
    build_package(package)
    ext = read(package, EXTENSION)
    ext["differential"]["element"][3]["type"] = [{"code": "decimal"}]
    (package / EXTENSION).write_text(json.dumps(ext, indent=2) + "\n", encoding="utf-8")
    problems = check_package(package)
    # the profile unfolds the extension (it constrains day.value[x]), so both are stale
    assert sorted(p.split(":", 1)[0] for p in problems) == [EXTENSION, PROFILE]
    build_package(package)
    assert snapshot_by_id(package, PROFILE)["Observation.extension:day.value[x]"]["type"] == [{"code": "decimal"}]


def test_a_broken_differential_is_reported_and_the_rest_still_built(package: Path) -> None:
    sd = read(package, PROFILE)
    sd["differential"]["element"].append({"id": "Observation.dateOfBirth", "path": "Observation.dateOfBirth"})
    (package / PROFILE).write_text(json.dumps(sd, indent=2) + "\n", encoding="utf-8")
    with pytest.raises(PackageBuildError) as caught:
        build_package(package)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{PROFILE}: ")
    assert "Observation.dateOfBirth matches no element" in caught.value.problems[0]
    assert "snapshot" in read(package, EXTENSION) and "snapshot" not in read(package, PROFILE)
    assert any(p.startswith(f"{PROFILE}: ") for p in check_package(package))


def test_an_unreadable_file_is_reported(package: Path) -> None:
    (package / "StructureDefinition-broken.json").write_text("{not json", encoding="utf-8")
    assert any(p.startswith("StructureDefinition-broken.json: cannot be read") for p in check_package(package))


def test_cli_check_and_build_exit_codes(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "check", str(package)]) == 1
    assert "out of sync: " + PROFILE in capsys.readouterr().out
    assert main(["profiles", "build", str(package)]) == 0
    assert f"wrote {PROFILE}" in capsys.readouterr().out
    assert main(["profiles", "check", str(package)]) == 0
    assert "in sync" in capsys.readouterr().out


def test_cli_build_failure_exits_1(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sd = read(package, PROFILE)
    sd["differential"]["element"].append({"path": "Observation.component:x", "sliceName": "x"})
    (package / PROFILE).write_text(json.dumps(sd), encoding="utf-8")
    assert main(["profiles", "build", str(package)]) == 1
    assert f"error: {PROFILE}:" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "check", str(tmp_path / "absent")]) == 2
    assert "not a readable directory" in capsys.readouterr().err
    assert main(["profiles"]) == 2
    assert main(["profiles", "frobnicate"]) == 2
