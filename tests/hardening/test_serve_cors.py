"""`fhir-service serve --cors-origin ORIGIN` lets that browser origin write; other origins may only read."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fhir_service.cli.main", "serve", "--dev", "--port", str(port),
         "--db", f"sqlite:///{tmp_path / 'cors.sqlite3'}", "--cors-origin", "https://app.example"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/metadata", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def preflight(base: str, origin: str) -> requests.Response:
    return requests.options(f"{base}/Patient", headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
                            timeout=5)


def test_the_configured_origin_may_write_and_another_may_only_read(server: str) -> None:
    allowed = preflight(server, "https://app.example")
    assert "POST" in allowed.headers.get("Access-Control-Allow-Methods", "")
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://app.example"
    other = preflight(server, "https://elsewhere.example")
    assert "POST" not in other.headers.get("Access-Control-Allow-Methods", "")
    write = requests.post(f"{server}/Patient", json={"resourceType": "Patient"}, timeout=5,
                          headers={"Origin": "https://elsewhere.example", "Content-Type": "application/fhir+json"})
    assert write.status_code == 403 and write.json()["resourceType"] == "OperationOutcome"
    read = requests.get(f"{server}/Patient", headers={"Origin": "https://elsewhere.example"}, timeout=5)
    assert read.status_code == 200
