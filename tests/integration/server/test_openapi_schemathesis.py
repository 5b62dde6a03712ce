"""The OpenAPI document as a contract. schemathesis drives every operation with positive and
negative cases in a process of its own (``schemathesis_run.py`` says why); the document itself is
checked here for the error statuses each kind of route must declare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).with_name("schemathesis_run.py")


def test_every_route_keeps_its_documented_contract(server_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(server_home)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
    assert "every operation kept its contract" in done.stdout


def test_every_route_documents_its_errors(client) -> None:
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            if op.get("requestBody") or op.get("parameters"):
                assert "422" in codes, f"{method.upper()} {path} does not document 422"
            if "422" in codes:
                ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), f"{method.upper()} {path}: 422 is not the error body"
            if "requestBody" in op:
                assert "400" in codes, f"{method.upper()} {path} takes a body: document 400 (unparsable)"
            if "requestBody" in op and "multipart/form-data" in op["requestBody"]["content"]:
                assert {"413", "415"} <= codes, f"{method.upper()} {path} takes an upload: document 413/415"
