"""schemathesis 4 over the whole OpenAPI document, in-process (``schemathesis.openapi.from_asgi``),
with its default checks: no 5xx, no response that breaks its schema, no undocumented status code,
and the others it runs by default. Positive and negative cases, a handful of examples per
operation (derandomised), so it runs in well under two minutes.

(schemathesis' lazy pytest loader, ``from_fixture``, does not work with pytest 9, so each
operation's strategy is driven by hypothesis here; ``case.call_and_validate`` runs the same checks.)

One default check is told about content the schema cannot express: a schema-valid upload is any
bytes, and the server sniffs them, so "positive data acceptance" also accepts 413 (too many bytes
or pixels), 415 (not an image or video) and 422 (an image that does not decode) as answers to
schema-valid requests. Every other status it gets is still a failure.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "415", "422", "429", "5xx"]
"""


def _run(operation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate()

    check()


def test_every_route_keeps_its_documented_contract(client) -> None:
    config = schemathesis.config.SchemathesisConfig.from_str(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    failures = []
    for operation in operations:
        for mode in EXAMPLES:
            try:
                _run(operation, mode)
            except Unsatisfiable:  # no parameters and no body: nothing to make invalid
                continue
            except (
                Exception,
                BaseExceptionGroup,
            ) as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)


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
