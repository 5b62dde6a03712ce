"""schemathesis 4 over the whole OpenAPI document, in-process (``schemathesis.openapi.from_asgi``),
with its default checks: no 5xx, no response that breaks its schema, no undocumented status code,
and the others it runs by default. Positive and negative cases, a handful of examples per
operation (derandomised). Run as a script by ``test_openapi_schemathesis.py``:
``python schemathesis_run.py HOME`` prints every failing operation and exits 1 if there is one.

It runs in a process of its own, not inside pytest: pytest rewrites the modules of every plugin
distribution (schemathesis and hypothesis are ones) with ``ast.parse`` as they are first imported,
and schemathesis imports most of itself lazily. On CPython 3.11 the AST converter keeps its
recursion depth per interpreter, not per thread, so a parse in the main thread while another
thread of the test session parses too fails with "AST constructor recursion depth mismatch"
(CPython gh-106905). A plain interpreter compiles modules without building Python AST objects.

(schemathesis' lazy pytest loader, ``from_fixture``, does not work with pytest 9, so each
operation's strategy is driven by hypothesis here; ``case.call_and_validate`` runs the same checks.)

One default check is told about content the schema cannot express: a schema-valid upload is any
bytes, and the server sniffs them, so "positive data acceptance" also accepts 413 (too many bytes
or pixels), 415 (not an image or video) and 422 (an image that does not decode) as answers to
schema-valid requests. Every other status it gets is still a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "415", "422", "429", "5xx"]
"""
MIN_OPERATIONS = 17


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


def failures(app) -> list[str]:
    """Every operation's failures, each as 'LABEL [mode]: what broke'."""
    config = schemathesis.config.SchemathesisConfig.from_str(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    if len(operations) < MIN_OPERATIONS:
        return [f"the document lists {len(operations)} operations; at least {MIN_OPERATIONS} expected"]
    found = []
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
                found.append(f"{operation.label} [{mode.value}]: {exc}")
    return found


def main(home: Path) -> int:
    from fastapi.testclient import TestClient

    from fashionlens.core.settings import Settings
    from fashionlens.server.app import create_app
    from fashionlens.server.config import ServerConfig

    app = create_app(Settings(home=home), ServerConfig(load_in_background=False))
    with TestClient(app):  # runs the app's start-up, as a server would
        found = failures(app)
    print("\n\n".join(found) if found else "every operation kept its contract")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
