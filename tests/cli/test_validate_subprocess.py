"""`fhir-service validate` as a real process (`python -m fhir_service.cli.main validate ...`): what a shell, a CI
job or another program sees: exit status, stdout that is only the report, stderr that is one line, no traceback."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import PROFILE_URL, clean_patient

REPO = Path(__file__).resolve().parents[2]


def validate(*args: str, stdin: bytes | None = None, user: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [*(user or []), sys.executable, "-m", "fhir_service.cli.main", "validate", *args]
    return subprocess.run(cmd, input=stdin or b"", capture_output=True, cwd=REPO, env=env, timeout=120)


def test_clean_and_invalid_files_exit_0_and_1(write) -> None:
    good = write("good.json", clean_patient())
    bad = write("bad.json", clean_patient(active="yes"))
    ok = validate(str(good))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.decode() == f"{good}: 0 errors, 0 warnings, 0 information\n"
    failed = validate(str(bad))
    assert failed.returncode == 1
    assert failed.stdout.decode().splitlines()[0].startswith(f"{bad}:")


def test_json_output_with_several_files_is_one_bundle_on_stdout(write) -> None:
    first, second = write("a.json", clean_patient()), write("b.json", b"\xff")
    proc = validate("--output", "json", str(first), str(second))
    assert proc.returncode == 1 and proc.stderr == b""
    bundle = json.loads(proc.stdout)
    assert [e["fullUrl"] for e in bundle["entry"]] == [first.resolve().as_uri(), second.resolve().as_uri()]


def test_stdin(write) -> None:
    proc = validate("--output", "json", "-", stdin=json.dumps(clean_patient()).encode())
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["resourceType"] == "OperationOutcome"


def test_missing_file_exits_2_with_a_one_line_message(tmp_path: Path) -> None:
    proc = validate(str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr


def test_deep_nesting_is_a_fatal_issue_not_a_crash(write) -> None:
    proc = validate(str(write("deep.json", "[" * 10_000 + "]" * 10_000)))
    assert proc.returncode == 1 and b"nesting is too deep" in proc.stdout and b"Traceback" not in proc.stderr


def test_ig_and_profile(write, ig_dir: Path) -> None:
    patient = clean_patient()
    del patient["birthDate"]
    proc = validate("--ig", str(ig_dir), "--profile", PROFILE_URL, str(write("p.json", patient)))
    assert proc.returncode == 1 and b"birthDate" in proc.stdout
    unknown = validate("--profile", "https://example.org/unknown", str(write("q.json", clean_patient())))
    assert unknown.returncode == 2 and b"unknown profile" in unknown.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_permission_denied_exits_2_for_a_user_who_cannot_read(write) -> None:
    path = write("secret.json", clean_patient())
    path.chmod(0o600)  # readable by root only (pytest tmp folders are private to root too)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*nobody, sys.executable, "-c", "import fhir_service.cli.main"], capture_output=True,
                           cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this checkout's Python here")
    proc = validate(str(path), user=nobody)
    assert proc.returncode == 2, proc.stderr
    assert b"permission denied" in proc.stderr and b"Traceback" not in proc.stderr
